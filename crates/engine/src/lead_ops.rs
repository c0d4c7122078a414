//! Lead scoring and lifecycle stages in the committer; the rules and the arithmetic are pure
//! (`kairos_segment::lead`), this only applies them.
//!
//! - An event earns its points as it is applied ([`State::score_event`], from the one event path).
//! - Every evaluation of a contact first derives its `lead.score` and `lifecycle.stage` again at `now`
//!   ([`State::refresh_lead`]) and keeps them on the profile, so segments, flow conditions, templates and the
//!   API all read the same values.
//! - Time alone changes them (points fade, a customer's last order ages): each contact has one timer at the
//!   next instant either changes ([`crate::lead::LeadTimers`]); when it fires the contact is evaluated again, segments
//!   included, exactly as after an event. Nothing scans all contacts, except when the workspace's rules change.
//! - A stage change is written into the timeline as `Lifecycle Stage Changed` (`from`, `to`), which flows can
//!   be triggered by (`"where": "to = \"vip\""`).

use kairos_domain::{ContactId, Event, JsonMap, Lead, SystemEvent, Timestamp, WorkspaceId};
use serde_json::json;

use crate::EngineError;
use crate::state::State;
use crate::work::Reach;

impl State {
    /// The points `ev` earns the contact under its workspace's rules.
    pub(crate) fn score_event(
        &mut self,
        ws: WorkspaceId,
        id: ContactId,
        ev: &Event,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let id = self.follow(id);
        let scoring = &self.settings.of(ws).lead.scoring;
        if !scoring.scores(ev) {
            return Ok(());
        }
        let changed = match self.identity.contacts.get_mut(&id) {
            Some(c) if c.erased_at.is_none() => scoring.score_event(&mut c.lead, ev, now),
            _ => false,
        };
        if changed && ev.is_system() {
            self.mark_dirty(id);
        } else if changed {
            // A start's replay scores the customer's own events again (`crate::row_wait`).
            self.identity.mark_folded(id);
        }
        Ok(())
    }

    /// Derives the contact's score and stage at `now`, keeps them on the profile, announces a stage change and
    /// plans the next instant time alone changes either. Erased profiles keep what they had, with no timer.
    pub(crate) fn refresh_lead(&mut self, ws: WorkspaceId, id: ContactId, now: Timestamp) -> Result<(), EngineError> {
        let d = derive_lead(&self.settings, &self.identity.contacts, ws, id, now);
        self.apply_lead(ws, id, d, now)
    }

    /// Keeps a derived score and stage on the profile (changed only when either moves, so a packed profile
    /// stays packed otherwise), announces a stage change and plans the contact's lead timer.
    fn apply_lead(
        &mut self,
        ws: WorkspaceId,
        id: ContactId,
        d: Option<LeadNow>,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let Some(LeadNow { derived: d, from, changed }) = d else { return Ok(()) };
        self.lead.plan(id, d.next_change);
        if !changed {
            return Ok(());
        }
        if let Some(c) = self.identity.contacts.get_mut(&id) {
            c.lead.score = d.score;
            if d.stage != from {
                c.lead.stage = d.stage;
                c.lead.stage_at = Some(now);
            }
        }
        if d.stage != from {
            self.mark_dirty(id);
        } else {
            // The score alone is derived again by every evaluation, a start's included (`crate::row_wait`).
            self.identity.mark_folded(id);
        }
        if d.stage != from {
            let mut props = JsonMap::new();
            props.insert("from".into(), json!(from));
            props.insert("to".into(), json!(d.stage));
            props.insert("score".into(), json!(d.score));
            let message_id = format!("kairos-lifecycle-{id}-{}", self.next_seq);
            let ev = Event::emitted(SystemEvent::LifecycleStageChanged, message_id, props, now);
            self.emit(ws, id, ev, Reach::Everything);
        }
        Ok(())
    }

    /// Contacts whose score or stage time alone changes by `now`: evaluated again (values, then segments).
    pub(crate) fn lead_tick(&mut self, now: Timestamp) -> Result<(), EngineError> {
        for id in self.lead.take_due(now) {
            let id = self.follow(id);
            if let Some(ws) = self.identity.contacts.workspace_of(&id) {
                self.evaluate_contact(ws, id, now)?;
            }
        }
        Ok(())
    }

    /// After the workspace's rules or thresholds changed: every contact of it is evaluated again. Points already
    /// earned stay (new event rules count from now on); trait points and stages follow the new settings at once.
    pub(crate) fn lead_settings_changed(&mut self, ws: WorkspaceId, now: Timestamp) -> Result<(), EngineError> {
        let ids: Vec<ContactId> = self.identity.contacts.ids_in(ws);
        for id in ids {
            self.evaluate_contact(ws, id, now)?;
        }
        Ok(())
    }

    /// Every contact of `ids` evaluated as [`State::evaluate_contact`] does (a start: time passed while the
    /// node was down). The lead derivations are pure reads of the profiles, so each chunk's are computed over
    /// both cores first, then applied in order (issue 17 item 4: half of a start's evaluation); chunks bound what
    /// is held at once.
    pub(crate) fn evaluate_all_at_start(
        &mut self,
        ids: &[(WorkspaceId, ContactId)],
        now: Timestamp,
    ) -> Result<(), EngineError> {
        for chunk in ids.chunks(START_DERIVATIONS_CHUNK) {
            let derived = derive_leads_beside(&self.settings, &self.identity.contacts, chunk, now);
            for (&(ws, id), d) in chunk.iter().zip(derived) {
                self.apply_lead(ws, id, d, now)?;
                self.evaluate_segments(ws, id, now)?;
            }
        }
        Ok(())
    }

    /// After a merge: the survivor's points are those of the combined history, scored again.
    pub(crate) fn rescore_lead(&mut self, ws: WorkspaceId, id: ContactId, history: &[Event], now: Timestamp) {
        let scoring = &self.settings.of(ws).lead.scoring;
        let Some(c) = self.identity.contacts.get_mut(&id) else { return };
        let mut lead = Lead { score: c.lead.score, stage: c.lead.stage, stage_at: c.lead.stage_at, ..Lead::default() };
        for ev in history {
            scoring.score_event(&mut lead, ev, now);
        }
        if lead != c.lead {
            c.lead = lead;
            self.mark_dirty(id);
        }
    }
}

/// Contacts whose lead derivations a start holds at once (~40 bytes each).
const START_DERIVATIONS_CHUNK: usize = 65_536;

/// [`derive_lead`] for each of `ids`, in order: the first half on a second thread, the rest on this one. The
/// results go into memory of this thread's (a second thread's allocations still alive when it ends would keep
/// its heap's pages resident).
fn derive_leads_beside(
    settings: &crate::settings::WorkspaceSettings,
    contacts: &crate::profiles::ProfileMap,
    ids: &[(WorkspaceId, ContactId)],
    now: Timestamp,
) -> Vec<Option<LeadNow>> {
    let derive = |part: &[(WorkspaceId, ContactId)], out: &mut [Option<LeadNow>]| {
        // The rules' trait names once per workspace met, not once per contact.
        let mut keys: Vec<(WorkspaceId, Vec<String>)> = Vec::new();
        for (&(ws, id), slot) in part.iter().zip(out) {
            let at = keys.iter().position(|(w, _)| *w == ws).unwrap_or_else(|| {
                keys.push((ws, settings.of(ws).lead.scoring.trait_keys()));
                keys.len() - 1
            });
            *slot = derive_lead_with(settings, &keys[at].1, contacts, ws, id, now);
        }
    };
    let mut out: Vec<Option<LeadNow>> = Vec::with_capacity(ids.len());
    out.resize_with(ids.len(), || None);
    let half = ids.len() / 2;
    let ((first, rest), (first_out, rest_out)) = (ids.split_at(half), out.split_at_mut(half));
    std::thread::scope(|scope| {
        let beside = scope.spawn(|| derive(first, first_out));
        derive(rest, rest_out);
        // A panic on the second thread is a bug in pure code: the same panic on this one fails the group.
        beside.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
    });
    out
}

/// A contact's score and stage derived at an instant, beside the stage it had.
struct LeadNow {
    derived: kairos_segment::lead::Derived,
    from: Option<kairos_domain::LifecycleStage>,
    changed: bool,
}

/// The contact's score and stage at `now` under its workspace's rules; None when it is not held. An erased
/// profile keeps what it had, with no timer. Reads the profile lite: its scalars and the traits the rules read.
fn derive_lead(
    settings: &crate::settings::WorkspaceSettings,
    contacts: &crate::profiles::ProfileMap,
    ws: WorkspaceId,
    id: ContactId,
    now: Timestamp,
) -> Option<LeadNow> {
    // A profile in use (every event's) is read as it is; only a packed one needs the rules' trait names.
    match contacts.in_use(&id) {
        Some(c) => Some(lead_now(&settings.of(ws).lead, c, now)),
        None => derive_lead_with(settings, &settings.of(ws).lead.scoring.trait_keys(), contacts, ws, id, now),
    }
}

/// [`derive_lead`] with the rules' trait names (`LeadScoring::trait_keys`) given.
fn derive_lead_with(
    settings: &crate::settings::WorkspaceSettings,
    trait_keys: &[String],
    contacts: &crate::profiles::ProfileMap,
    ws: WorkspaceId,
    id: ContactId,
    now: Timestamp,
) -> Option<LeadNow> {
    let c = match contacts.in_use(&id) {
        Some(c) => std::borrow::Cow::Borrowed(c),
        None => contacts.get_lite(&id, trait_keys, false)?,
    };
    Some(lead_now(&settings.of(ws).lead, &c, now))
}

/// The derivation itself, over a profile already found.
fn lead_now(lead: &kairos_segment::lead::LeadSettings, c: &kairos_domain::Contact, now: Timestamp) -> LeadNow {
    if c.erased_at.is_some() {
        let kept = kairos_segment::lead::Derived { score: c.lead.score, stage: c.lead.stage, next_change: None };
        return LeadNow { derived: kept, from: c.lead.stage, changed: false };
    }
    let derived = lead.derive(c, now);
    let changed = derived.score != c.lead.score || derived.stage != c.lead.stage;
    LeadNow { derived, from: c.lead.stage, changed }
}

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
        let changed = match self.identity.contacts.get_mut(&id) {
            Some(c) if c.erased_at.is_none() => scoring.score_event(&mut c.lead, ev, now),
            _ => false,
        };
        if changed {
            self.mark_dirty(id);
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
        self.mark_dirty(id);
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
    let lead = &settings.of(ws).lead;
    // A profile in use (every event's) is read as it is; only a packed one needs the rules' trait names.
    let c = match contacts.in_use(&id) {
        Some(c) => std::borrow::Cow::Borrowed(c),
        None => contacts.get_lite(&id, &lead.scoring.trait_keys(), false)?,
    };
    if c.erased_at.is_some() {
        let kept = kairos_segment::lead::Derived { score: c.lead.score, stage: c.lead.stage, next_change: None };
        return Some(LeadNow { derived: kept, from: c.lead.stage, changed: false });
    }
    let derived = lead.derive(&c, now);
    let changed = derived.score != c.lead.score || derived.stage != c.lead.stage;
    Some(LeadNow { derived, from: c.lead.stage, changed })
}

//! A campaign's lifecycle (SPEC 16 "Campaign lifecycle"): `draft` → `scheduled` → `sending` → `sent`, with edits
//! while draft or scheduled, cancel while scheduled, pause and resume while sending, duplicates of any campaign and
//! deletion of drafts. A schedule in the past is refused wherever a schedule is given.
//!
//! Editing a scheduled campaign takes its audience again (its recipients were a snapshot of the old definition):
//! nobody was sent to yet, since a campaign with a recipient done is `sending`.

use kairos_domain::{CampaignStatus, Channel, Duration, Timestamp, WorkspaceId};
use kairos_store::StoredCampaign;
use serde_json::Value;

use crate::EngineError;
use crate::campaigns::{CampaignDef, CampaignState, Schedule, invalid, parse};
use crate::state::State;

/// How far in the past an `at` schedule may be and still count as "now" (a form submitted a little late).
pub const SCHEDULE_GRACE: Duration = Duration::from_secs(60);
/// Longest campaign name (bytes), also for the name of a copy.
const NAME_BYTES_MAX: usize = 200;

/// What to do with a campaign.
#[derive(Debug, Clone)]
pub enum CampaignAction {
    /// Top-level fields replacing those of the definition (`null` removes an optional one).
    Edit(Value),
    Cancel,
    Pause,
    Resume,
    Duplicate,
    Delete,
}

/// Who a campaign would reach if scheduled now, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Audience {
    /// Members of its segments, less the excluded ones.
    pub people: u64,
    /// Of those, how many may receive it now (an address and consent on its channel).
    pub reachable: u64,
    /// When it goes out (a schedule in each contact's local time: that time in the store's zone); None for "now".
    pub send_at: Option<Timestamp>,
    /// The store's time zone.
    pub timezone: String,
}

impl State {
    fn stored_campaign(&mut self, ws: WorkspaceId, id: &str) -> Result<StoredCampaign, EngineError> {
        self.w.campaign_tx().campaign_by_id(ws, id)?.ok_or_else(|| EngineError::NotFound(format!("no campaign {id:?}")))
    }

    /// Refuses a schedule in the past: an `at` time more than [`SCHEDULE_GRACE`] ago, or a local-time date
    /// before today in the workspace's time zone.
    pub(crate) fn check_schedule(&self, ws: WorkspaceId, def: &CampaignDef, now: Timestamp) -> Result<(), EngineError> {
        let tz = jiff::tz::db().get(&self.settings.of(ws).timezone).unwrap_or(jiff::tz::TimeZone::UTC);
        let today = now.to_jiff().to_zoned_datetime(tz).date();
        match &def.schedule {
            Schedule::Now => Ok(()),
            Schedule::At(t) if *t < now.saturating_sub(SCHEDULE_GRACE) => {
                Err(invalid("schedule.at", format!("{t} is in the past: choose a later time, or send now")))
            }
            Schedule::LocalTime { date, .. } | Schedule::BestHour { date } if *date < today => {
                Err(invalid("schedule.date", format!("{date} is in the past: choose today or a later day")))
            }
            _ => Ok(()),
        }
    }

    /// Carries out `action` on campaign `id`; answers the campaign as it is now (the new one for a duplicate),
    /// None once deleted.
    pub(crate) fn campaign_action(
        &mut self,
        ws: WorkspaceId,
        id: &str,
        action: CampaignAction,
        now: Timestamp,
    ) -> Result<Option<StoredCampaign>, EngineError> {
        let mut c = self.stored_campaign(ws, id)?;
        let refuse = |c: &StoredCampaign, what: &str| {
            Err(EngineError::Conflict(format!("a {} campaign cannot be {what}", c.status)))
        };
        match action {
            CampaignAction::Edit(patch) => {
                if !matches!(c.status, CampaignStatus::Draft | CampaignStatus::Scheduled) {
                    return refuse(&c, "edited (only drafts and scheduled campaigns can)");
                }
                self.edit_campaign(ws, c, &patch, now).map(Some)
            }
            CampaignAction::Cancel => {
                if c.status != CampaignStatus::Scheduled {
                    return refuse(&c, "cancelled (only a scheduled one can; pause one that is sending)");
                }
                self.w.campaign_tx().drop_pending_recipients(c.row)?;
                self.campaigns.running.remove(&c.row);
                self.set_status(&mut c, CampaignStatus::Cancelled, now)?;
                Ok(Some(c))
            }
            CampaignAction::Pause => {
                if c.status != CampaignStatus::Sending {
                    return refuse(&c, "paused (only one that is sending can)");
                }
                self.campaigns.running.remove(&c.row);
                self.set_status(&mut c, CampaignStatus::Paused, now)?;
                Ok(Some(c))
            }
            CampaignAction::Resume => {
                if c.status != CampaignStatus::Paused {
                    return refuse(&c, "resumed (only a paused one can)");
                }
                let def = parse(&serde_json::from_str(&c.definition).unwrap_or_default())?;
                self.set_status(&mut c, CampaignStatus::Sending, now)?;
                self.track_campaign(&c, def, now);
                Ok(Some(c))
            }
            CampaignAction::Duplicate => self.duplicate_campaign(ws, &c, now).map(Some),
            CampaignAction::Delete => {
                if c.status != CampaignStatus::Draft {
                    return refuse(&c, "deleted (only drafts can; cancel a scheduled one)");
                }
                self.w.campaign_tx().delete_campaign(c.row)?;
                Ok(None)
            }
        }
    }

    fn set_status(
        &mut self,
        c: &mut StoredCampaign,
        status: CampaignStatus,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let mut state = CampaignState::parse(&c.state);
        match status {
            CampaignStatus::Cancelled => state.cancelled_at = Some(now),
            CampaignStatus::Paused => state.paused_at = Some(now),
            CampaignStatus::Sending => state.paused_at = None,
            _ => {}
        }
        c.status = status;
        c.state = state.to_json();
        c.updated_at = now;
        self.w.campaign_tx().save_campaign(c)?;
        Ok(())
    }

    fn edit_campaign(
        &mut self,
        ws: WorkspaceId,
        mut c: StoredCampaign,
        patch: &Value,
        now: Timestamp,
    ) -> Result<StoredCampaign, EngineError> {
        let Value::Object(fields) = patch else { return Err(invalid("body", "the body must be a JSON object")) };
        let mut v: Value = serde_json::from_str(&c.definition).unwrap_or_default();
        let Some(o) = v.as_object_mut() else { return Err(invalid("body", "the stored definition is unreadable")) };
        for (k, value) in fields {
            if k == "id" {
                continue; // the id is the campaign's; it never changes
            }
            match value {
                Value::Null => o.remove(k),
                other => o.insert(k.clone(), other.clone()),
            };
        }
        let def = parse(&v)?;
        self.check_campaign_refs(ws, &def)?;
        self.check_schedule(ws, &def, now)?;
        let rescheduling = c.status == CampaignStatus::Scheduled;
        if rescheduling {
            self.w.campaign_tx().drop_pending_recipients(c.row)?;
            self.campaigns.running.remove(&c.row);
        }
        c.name = def.name;
        c.definition = v.to_string();
        c.status = CampaignStatus::Draft;
        c.state = CampaignState::default().to_json();
        c.updated_at = now;
        self.w.campaign_tx().save_campaign(&c)?;
        if rescheduling {
            return self.schedule_campaign(ws, &c.public_id, now);
        }
        Ok(c)
    }

    fn duplicate_campaign(
        &mut self,
        ws: WorkspaceId,
        c: &StoredCampaign,
        now: Timestamp,
    ) -> Result<StoredCampaign, EngineError> {
        let mut v: Value = serde_json::from_str(&c.definition).unwrap_or_default();
        let Some(o) = v.as_object_mut() else { return Err(invalid("body", "the stored definition is unreadable")) };
        o.remove("id");
        let mut name = format!("{} (copy)", c.name);
        while name.len() > NAME_BYTES_MAX {
            // Shorten the original name, not the suffix, on a character boundary.
            let cut = c.name.char_indices().map(|(i, _)| i).take_while(|i| *i + 7 <= NAME_BYTES_MAX).last();
            name = format!("{} (copy)", &c.name[..cut.unwrap_or(0)]);
        }
        o.insert("name".into(), Value::from(name));
        // A copy is a draft to edit: a schedule already past is dropped (the copy would be refused otherwise).
        if let Ok(def) = parse(&v)
            && self.check_schedule(ws, &def, now).is_err()
            && let Some(o) = v.as_object_mut()
        {
            o.remove("schedule");
        }
        let doc = crate::campaigns::CampaignDocument::parse(v)?;
        self.create_campaign(ws, &doc, now)
    }

    /// Who a campaign would reach if scheduled now (the confirmation step states it).
    pub(crate) fn campaign_audience(
        &mut self,
        ws: WorkspaceId,
        id: &str,
        now: Timestamp,
    ) -> Result<Audience, EngineError> {
        let c = self.stored_campaign(ws, id)?;
        let def = parse(&serde_json::from_str(&c.definition).unwrap_or_default())?;
        let people = self.audience_of(ws, &def);
        let settings = self.settings.of(ws);
        let reachable = people
            .iter()
            .filter_map(|id| self.identity.contacts.get(id))
            .filter(|ct| match def.channel {
                Channel::Email => ct.email.is_some() && settings.marketing_allowed(ct.consent.email.status),
                Channel::Sms => ct.phone.is_some() && settings.marketing_allowed(ct.consent.sms.status),
                _ => true,
            })
            .count() as u64;
        let send_at = match &def.schedule {
            Schedule::Now => None,
            Schedule::At(t) => Some((*t).max(now)),
            // In the store's zone: the first hour of the day for a best-hour schedule.
            Schedule::LocalTime { date, minutes } => local_instant(&settings.timezone, *date, *minutes),
            Schedule::BestHour { date } => local_instant(&settings.timezone, *date, 0),
        };
        let timezone = settings.timezone.clone();
        Ok(Audience { people: people.len() as u64, reachable, send_at, timezone })
    }
}

/// `date` at `minutes` past midnight in time zone `tz` (UTC when unknown).
fn local_instant(tz: &str, date: jiff::civil::Date, minutes: u32) -> Option<Timestamp> {
    let zone = jiff::tz::db().get(tz).unwrap_or(jiff::tz::TimeZone::UTC);
    let at = date.at((minutes / 60) as i8, (minutes % 60) as i8, 0, 0);
    zone.to_ambiguous_timestamp(at).compatible().ok().map(|t| Timestamp::from_micros(t.as_microsecond()))
}

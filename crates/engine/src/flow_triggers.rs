//! Catalog and date triggers: back in stock and price drops for contacts who showed interest in the product,
//! and yearly dates (birthdays) at 09:00 in the contact's time zone.

use std::cmp::Reverse;
use std::sync::Arc;

use kairos_domain::{ContactId, Duration, Event, JsonMap, Product, Timestamp, WorkspaceId};
use kairos_flow::Trigger;
use serde_json::{Value, json};

use crate::EngineError;
use crate::flows::CompiledFlow;
use crate::state::State;

/// How long viewing or carting a product counts as interest in it.
pub const INTEREST_WINDOW: Duration = Duration::from_secs(30 * 86_400);
/// Local time at which date triggers fire.
const DATE_TRIGGER_HOUR: i8 = 9;
/// Event names that show interest in a product (`Back In Stock Requested` is the "notify me" button).
const INTEREST_EVENTS: &[&str] = &["Product Viewed", "Product Added", "Back In Stock Requested"];

/// The next 09:00 local on `month-day` minus `days_before`, strictly after `now`.
fn next_date(birthday: &str, days_before: i64, tz: &jiff::tz::TimeZone, now: Timestamp) -> Option<Timestamp> {
    // Accept YYYY-MM-DD and MM-DD (and an ISO date-time: its date part).
    let s = birthday.get(..10).unwrap_or(birthday);
    let (month, day) = match s.len() {
        10 => (s[5..7].parse::<i8>().ok()?, s[8..10].parse::<i8>().ok()?),
        5 => (s[0..2].parse::<i8>().ok()?, s[3..5].parse::<i8>().ok()?),
        _ => return None,
    };
    let today = now.to_jiff().to_zoned_datetime(tz.clone()).date();
    for year in [today.year(), today.year() + 1, today.year() + 2] {
        // 29 February falls on 28 February in other years.
        let date =
            jiff::civil::Date::new(year, month, day).or_else(|_| jiff::civil::Date::new(year, month, day - 1)).ok()?;
        let fire = date.checked_sub(jiff::SignedDuration::from_hours(24 * days_before)).ok()?;
        let at = tz.to_ambiguous_timestamp(fire.at(DATE_TRIGGER_HOUR, 0, 0, 0)).compatible().ok()?;
        let at = Timestamp::from_micros(at.as_microsecond());
        if at > now {
            return Some(at);
        }
    }
    None
}

impl State {
    /// Remembers that a contact looked at or carted a product (for back-in-stock and price-drop flows).
    pub(crate) fn note_interest(&mut self, ws: WorkspaceId, contact: ContactId, ev: &Event) {
        if !ev.name.as_deref().is_some_and(|n| INTEREST_EVENTS.contains(&n)) || !self.catalog_flows_in(ws) {
            return;
        }
        if let Some(id) = kairos_domain::contact::product_id(&ev.properties) {
            let seen = self.triggers.interest.entry((ws, id)).or_default();
            let t = seen.entry(contact).or_insert(ev.timestamp);
            *t = (*t).max(ev.timestamp);
        }
    }

    /// Whether the workspace has an active back-in-stock or price-drop flow (interest is tracked only then).
    pub(crate) fn catalog_flows_in(&self, ws: WorkspaceId) -> bool {
        self.has_active_flow(ws, |t| matches!(t, Trigger::BackInStock | Trigger::PriceDrop { .. }))
    }

    /// Rebuilds interest from recent history (at start, and when a catalog flow is activated).
    pub(crate) fn load_interest(&mut self, workspaces: Vec<WorkspaceId>, now: Timestamp) -> Result<(), EngineError> {
        for ws in workspaces {
            if !self.catalog_flows_in(ws) {
                continue;
            }
            self.triggers.interest.retain(|(w, _), _| *w != ws);
            for name in INTEREST_EVENTS {
                let mut seen = Vec::new();
                self.w.event_tx().events_named(ws, name, &mut |contact, data| {
                    if let Ok(ev) = serde_json::from_str::<Event>(data)
                        && ev.timestamp > now.saturating_sub(INTEREST_WINDOW)
                    {
                        seen.push((contact, ev));
                    }
                })?;
                for (contact, ev) in seen {
                    let contact = self.follow(contact);
                    self.note_interest(ws, contact, &ev);
                }
            }
        }
        Ok(())
    }

    /// A catalog change: back in stock, or a price drop, enters interested contacts into matching flows.
    pub(crate) fn flows_on_catalog(
        &mut self,
        ws: WorkspaceId,
        before: &Product,
        after: &Product,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let restocked = !before.available && after.available;
        let drop_percent = match (before.price, after.price) {
            (Some(old), Some(new)) if new < old && old.cents() > 0 => {
                (old.cents() - new.cents()) as f64 * 100.0 / old.cents() as f64
            }
            _ => 0.0,
        };
        if !restocked && drop_percent <= 0.0 {
            return Ok(());
        }
        let flows: Vec<Arc<CompiledFlow>> = self
            .active_flows_of(ws)
            .into_iter()
            .filter(|f| match f.trigger() {
                Trigger::BackInStock => restocked,
                Trigger::PriceDrop { min_percent } => drop_percent > 0.0 && drop_percent >= *min_percent,
                _ => false,
            })
            .collect();
        if flows.is_empty() {
            return Ok(());
        }
        let cutoff = now.saturating_sub(INTEREST_WINDOW);
        let mut contacts: Vec<ContactId> = self
            .triggers
            .interest
            .get(&(ws, after.id.clone()))
            .map(|m| m.iter().filter(|(_, t)| **t > cutoff).map(|(c, _)| *c).collect())
            .unwrap_or_default();
        contacts.sort();
        let mut props = JsonMap::new();
        props.insert("product_id".into(), json!(after.id));
        props.insert("title".into(), json!(after.title));
        props.insert("url".into(), json!(after.url));
        props.insert("image_url".into(), json!(after.image_url));
        props.insert("price".into(), json!(after.price.map(|m| m.as_major())));
        props.insert("previous_price".into(), json!(before.price.map(|m| m.as_major())));
        props.insert("drop_percent".into(), json!((drop_percent * 10.0).round() / 10.0));
        for f in flows {
            // What the flow announces, so that the message can be checked again when it goes (`render`).
            let mut props = props.clone();
            let alert = if matches!(f.trigger(), Trigger::PriceDrop { .. }) { "price_drop" } else { "back_in_stock" };
            props.insert("alert".into(), json!(alert));
            for &c in &contacts {
                let c = self.follow(c);
                self.enter(ws, &f, c, props.clone(), now)?;
            }
        }
        Ok(())
    }

    /// Schedules the date triggers of one contact (after its traits changed or a date flow was activated).
    pub(crate) fn schedule_dates(&mut self, ws: WorkspaceId, contact: ContactId, now: Timestamp) {
        // Checked without cloning the list: this runs on every identify.
        if !self.has_active_flow(ws, |t| matches!(t, Trigger::Date { .. })) {
            return;
        }
        for f in self.active_flows_of(ws) {
            self.schedule_one(contact, &f, now);
        }
    }

    /// Schedules date triggers of every contact of a workspace (a date flow was just activated).
    pub(crate) fn schedule_all_dates(&mut self, ws: WorkspaceId, now: Timestamp) {
        let ids: Vec<ContactId> = self.identity.contacts.ids_in(ws);
        for id in ids {
            self.schedule_dates(ws, id, now);
        }
    }

    /// Fires the date triggers that are due.
    pub(crate) fn date_tick(&mut self, now: Timestamp) -> Result<(), EngineError> {
        while let Some(&Reverse((t, contact, flow_row))) = self.triggers.dates.peek() {
            if t > now.as_micros() {
                break;
            }
            self.triggers.dates.pop();
            let contact = self.follow(contact);
            let Some(ws) = self.identity.contacts.workspace_of(&contact) else { continue };
            let Some(f) = self.active_flows_of(ws).into_iter().find(|f| f.row() == flow_row) else { continue };
            let mut props = JsonMap::new();
            if let Trigger::Date { trait_name, .. } = f.trigger() {
                props.insert("trait".into(), json!(trait_name));
                let value =
                    self.identity.contacts.get(&contact).and_then(|c| c.traits.get(trait_name.as_str()).cloned());
                props.insert("date".into(), value.unwrap_or(Value::Null));
            }
            self.enter(ws, &f, contact, props, now)?;
            // Next year's occurrence (a stale duplicate entry is harmless: re-entry rules refuse it).
            self.schedule_one(contact, &f, now.saturating_add(Duration::from_secs(86_400)));
        }
        Ok(())
    }

    /// Schedules the next occurrence after `after` of one date flow for one contact (if it has the trait).
    fn schedule_one(&mut self, contact: ContactId, f: &Arc<CompiledFlow>, after: Timestamp) {
        if let Trigger::Date { trait_name, days_before } = f.trigger()
            && let Some(c) = self.identity.contacts.get(&contact)
            && let Some(Value::String(date)) = c.traits.get(trait_name.as_str())
        {
            let tz = c.timezone.as_deref().and_then(|z| jiff::tz::db().get(z).ok()).unwrap_or(jiff::tz::TimeZone::UTC);
            if let Some(at) = next_date(date, *days_before, &tz, after) {
                self.triggers.dates.push(Reverse((at.as_micros(), contact, f.row())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn birthdays_fire_at_nine_local_time_each_year() {
        let tz = jiff::tz::db().get("Europe/Helsinki").unwrap();
        let now = Timestamp::parse("2026-11-23T12:00:00Z").unwrap();
        assert_eq!(next_date("1990-12-01", 0, &tz, now), Timestamp::parse("2026-12-01T07:00:00Z"));
        assert_eq!(next_date("12-01", 7, &tz, now), Timestamp::parse("2026-11-24T07:00:00Z"));
        // Already passed this year: next year (summer time, UTC+3).
        assert_eq!(next_date("1985-06-15", 0, &tz, now), Timestamp::parse("2027-06-15T06:00:00Z"));
        assert_eq!(next_date("2000-02-29", 0, &tz, now), Timestamp::parse("2027-02-28T07:00:00Z"));
        assert_eq!(next_date("not a date", 0, &tz, now), None);
    }
}

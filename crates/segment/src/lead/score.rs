//! Scoring: the points an event earns, their decay, the score at an instant and the next instant the (rounded)
//! score changes with no new event.

use kairos_domain::event::EventKind;
use kairos_domain::{Event, JsonMap, Lead, Timestamp};

use super::rules::{EventRule, LeadScoring, PAGE_VIEWED};
use crate::eval::matches_filter;

/// Event points are kept within ± this (rules without a cap could otherwise add up without end).
pub const LEAD_POINTS_ABS_MAX: f64 = 1e9;
/// A capped rule's share smaller than this is forgotten (it would round to nothing long before).
const SHARE_NEGLIGIBLE: f64 = 1e-3;

/// ½^(elapsed / half-life): what one point is worth `elapsed_micros` later.
pub fn decay(half_life: Option<kairos_domain::Duration>, elapsed_micros: i64) -> f64 {
    match half_life {
        Some(h) if elapsed_micros > 0 => 0.5f64.powf(elapsed_micros as f64 / h.as_micros() as f64),
        _ => 1.0,
    }
}

/// Rounded to the nearest whole point (halves up), within i64.
fn round(x: f64) -> i64 {
    (x + 0.5).floor().clamp(i64::MIN as f64, i64::MAX as f64) as i64
}

impl EventRule {
    /// Whether this rule scores `ev`: same name (page calls count as `Page Viewed`), properties matching.
    pub fn matches(&self, ev: &Event) -> bool {
        let named = match ev.kind {
            EventKind::Track => ev.name.as_deref() == Some(self.event.as_str()),
            EventKind::Page => self.event == PAGE_VIEWED,
            _ => false,
        };
        named && self.node.as_ref().is_none_or(|f| matches_filter(f, &ev.properties))
    }
}

impl LeadScoring {
    /// Whether `ev` earns points under these rules at all: a machine's open or click never does, and most
    /// events match no rule (so the caller need not open, and decode, the profile for nothing).
    pub fn scores(&self, ev: &Event) -> bool {
        ev.properties.get("machine").and_then(serde_json::Value::as_bool) != Some(true)
            && self.events.iter().any(|r| r.matches(ev))
    }

    /// Adds the points `ev` earns to `lead`; true when they changed. An event stamped after `now` counts as of
    /// `now`. Opens and clicks flagged `machine` (scanners, privacy proxies) earn nothing: nobody showed interest.
    pub fn score_event(&self, lead: &mut Lead, ev: &Event, now: Timestamp) -> bool {
        if !self.scores(ev) {
            return false;
        }
        let at = ev.timestamp.min(now);
        let mut changed = false;
        for rule in self.events.iter().filter(|r| r.matches(ev)) {
            changed |= self.add(lead, rule, at);
        }
        changed
    }

    /// Values `lead` at `t` when `t` is later than its instant (every share decays alike).
    fn move_to(&self, lead: &mut Lead, t: Timestamp) {
        match lead.at {
            Some(a) if t > a => {
                let f = decay(self.half_life, t.as_micros() - a.as_micros());
                lead.points *= f;
                for (_, share) in &mut lead.capped {
                    *share *= f;
                }
                lead.capped.retain(|(_, s)| s.abs() >= SHARE_NEGLIGIBLE);
                lead.at = Some(t);
            }
            Some(_) => {}
            None => lead.at = Some(t),
        }
    }

    /// Adds one rule's points for an occurrence at `t`; a late occurrence (before the state's instant) adds
    /// what its points are worth by then.
    fn add(&self, lead: &mut Lead, rule: &EventRule, t: Timestamp) -> bool {
        self.move_to(lead, t);
        let a = lead.at.unwrap_or(t);
        let worth = rule.points as f64 * decay(self.half_life, a.as_micros() - t.as_micros());
        let added = match rule.max_times {
            None => worth,
            Some(n) => {
                let cap = rule.points as f64 * n as f64;
                let slot = match lead.capped.iter().position(|(k, _)| *k == rule.key) {
                    Some(i) => i,
                    None => {
                        lead.capped.push((rule.key, 0.0));
                        lead.capped.len() - 1
                    }
                };
                let held = lead.capped[slot].1;
                // Room left under the cap, in the rule's direction (none when a lowered cap is already passed).
                let added =
                    if rule.points > 0 { worth.min((cap - held).max(0.0)) } else { worth.max((cap - held).min(0.0)) };
                lead.capped[slot].1 += added;
                if lead.capped[slot].1 == 0.0 {
                    lead.capped.swap_remove(slot);
                }
                added
            }
        };
        if added == 0.0 {
            return false;
        }
        lead.points = (lead.points + added).clamp(-LEAD_POINTS_ABS_MAX, LEAD_POINTS_ABS_MAX);
        true
    }

    /// Event points at `t` (not before the state's instant).
    pub fn event_points_at(&self, lead: &Lead, t: Timestamp) -> f64 {
        match lead.at {
            Some(a) => lead.points * decay(self.half_life, t.as_micros() - a.as_micros()),
            None => 0.0,
        }
    }

    /// Points of the trait rules the profile's traits meet now (they do not decay).
    pub fn trait_points(&self, traits: &JsonMap) -> i64 {
        self.traits.iter().filter(|r| matches_filter(&r.node, traits)).map(|r| r.points).sum()
    }

    /// `lead.score` at `t`: event points then plus trait points, rounded.
    pub fn score_at(&self, lead: &Lead, trait_points: i64, t: Timestamp) -> i64 {
        round(trait_points as f64 + self.event_points_at(lead, t))
    }

    /// The first instant after `now` at which the score differs from its value at `now` with no new event and
    /// the same traits, or None when it never will (no decay, or nothing left to fade).
    pub fn next_score_change(&self, lead: &Lead, trait_points: i64, now: Timestamp) -> Option<Timestamp> {
        let h = self.half_life?.as_micros() as f64;
        lead.at?;
        let e = self.event_points_at(lead, now);
        let v0 = self.score_at(lead, trait_points, now);
        if v0 == trait_points || e == 0.0 {
            return None; // decay only moves the score towards the trait points: there already
        }
        // The score steps when the event points cross the next half-point boundary towards zero.
        let boundary =
            if e > 0.0 { v0 as f64 - 0.5 - trait_points as f64 } else { v0 as f64 + 0.5 - trait_points as f64 };
        let guess = h * (e / boundary).log2();
        let changed = |t: i64| self.score_at(lead, trait_points, Timestamp(t)) != v0;
        let n = now.as_micros();
        let guess = if guess.is_finite() && guess > 0.0 { n.saturating_add(guess.ceil() as i64) } else { n + 1 };
        first_true(n, guess.max(n + 1), &changed).map(Timestamp)
    }
}

/// The first instant after `lo` where `f` holds, for an `f` false at `lo` that stays true once true (the
/// rounded score moves one way between events); `guess` is where to look first. The formula's guess can be
/// off by float rounding either way, so the answer is searched exactly around it.
fn first_true(lo: i64, guess: i64, f: &dyn Fn(i64) -> bool) -> Option<i64> {
    let mut lo = lo;
    let mut hi = guess;
    let mut step = 1i64;
    while !f(hi) {
        lo = hi;
        hi = hi.checked_add(step)?;
        step = step.checked_mul(2)?;
    }
    // Just before the guess, when the guess was late.
    let mut back = 1i64;
    while hi - back > lo {
        if f(hi - back) {
            hi -= back;
            back = back.saturating_mul(2);
        } else {
            lo = hi - back;
            break;
        }
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if f(mid) { hi = mid } else { lo = mid }
    }
    Some(hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lead::rules::TraitRule;
    use crate::lead::rules::TraitTest;
    use kairos_domain::Duration;
    use serde_json::json;

    const DAY: i64 = 86_400_000_000;

    pub(crate) fn ev(name: &str, props: serde_json::Value, at: i64) -> Event {
        let mut e = Event::system(name, format!("{name}{at}"), JsonMap::new(), Timestamp(at));
        e.properties = props.as_object().cloned().unwrap_or_default();
        e
    }

    fn scoring(half_life_days: Option<i64>, rules: Vec<EventRule>) -> LeadScoring {
        LeadScoring {
            half_life: half_life_days.map(|d| Duration::from_secs(d * 86_400)),
            events: rules,
            traits: vec![],
        }
    }

    #[test]
    fn points_halve_every_half_life_and_caps_make_room_as_they_fade() {
        let s = scoring(Some(10), vec![EventRule::new("View".into(), None, 10, Some(2))]);
        let mut l = Lead::default();
        for i in 0..5 {
            s.score_event(&mut l, &ev("View", json!({}), i), Timestamp(i));
        }
        assert_eq!(s.score_at(&l, 0, Timestamp(5)), 20, "capped at 2 × 10");
        assert_eq!(s.score_at(&l, 0, Timestamp(10 * DAY)), 10, "half after one half-life");
        assert_eq!(s.score_at(&l, 3, Timestamp(20 * DAY)), 8, "5 + 3 trait points");
        assert!(s.score_event(&mut l, &ev("View", json!({}), 10 * DAY), Timestamp(10 * DAY)));
        assert_eq!(s.score_at(&l, 0, Timestamp(10 * DAY)), 20, "the faded half is earned again");
        assert!(!s.score_event(&mut l, &ev("Other", json!({}), 10 * DAY), Timestamp(10 * DAY)));
    }

    #[test]
    fn filters_machines_pages_and_late_events() {
        let filter = crate::parse::parse("price > 100").unwrap();
        let s = scoring(
            Some(10),
            vec![
                EventRule::new("Product Viewed".into(), Some(filter), 5, None),
                EventRule::new(PAGE_VIEWED.into(), None, 1, None),
                EventRule::new("Email Clicked".into(), None, 4, None),
            ],
        );
        let mut l = Lead::default();
        s.score_event(&mut l, &ev("Product Viewed", json!({"price": 50}), 0), Timestamp(0));
        s.score_event(&mut l, &ev("Email Clicked", json!({"machine": true}), 0), Timestamp(0));
        assert_eq!(l, Lead::default(), "a cheap product and a scanner's click earn nothing");
        let mut page = ev("Home", json!({}), 0);
        page.kind = EventKind::Page;
        s.score_event(&mut l, &page, Timestamp(0));
        s.score_event(&mut l, &ev("Product Viewed", json!({"price": 500}), 20 * DAY), Timestamp(20 * DAY));
        assert_eq!(s.score_at(&l, 0, Timestamp(20 * DAY)), 5, "1 point twenty days ago is a quarter");
        // An event arriving late counts for what it is worth by the state's instant.
        s.score_event(&mut l, &ev("Product Viewed", json!({"price": 500}), 10 * DAY), Timestamp(20 * DAY));
        assert_eq!(s.event_points_at(&l, Timestamp(20 * DAY)), 5.0 + 2.5 + 0.25);
        // One stamped ahead of the clock counts as now.
        let mut m = Lead::default();
        s.score_event(&mut m, &ev("Email Clicked", json!({}), 5 * DAY), Timestamp(DAY));
        assert_eq!(m.at, Some(Timestamp(DAY)));
    }

    #[test]
    fn trait_points_follow_the_segment_comparisons() {
        let s = LeadScoring {
            half_life: None,
            events: vec![],
            traits: vec![
                TraitRule::new("plan".into(), TraitTest::Equals(json!("pro")), 10),
                TraitRule::new("seats".into(), TraitTest::Equals(json!(5)), 3),
                TraitRule::new("company.name".into(), TraitTest::Exists, 2),
            ],
        };
        let t = json!({"plan": "pro", "seats": "5", "company": {"name": "Velo"}});
        assert_eq!(s.trait_points(t.as_object().unwrap()), 15);
        assert_eq!(s.trait_points(json!({"plan": "free"}).as_object().unwrap()), 0);
    }

    #[test]
    fn the_next_change_is_the_first_microsecond_of_another_score() {
        let s = scoring(
            Some(30),
            vec![EventRule::new("X".into(), None, 7, None), EventRule::new("N".into(), None, -9, None)],
        );
        let mut l = Lead::default();
        s.score_event(&mut l, &ev("X", json!({}), 0), Timestamp(0));
        let mut now = Timestamp(0);
        let mut seen = vec![s.score_at(&l, 2, now)];
        while let Some(t) = s.next_score_change(&l, 2, now) {
            assert_eq!(s.score_at(&l, 2, Timestamp(t.0 - 1)), *seen.last().unwrap());
            seen.push(s.score_at(&l, 2, t));
            now = t;
        }
        assert_eq!(seen, vec![9, 8, 7, 6, 5, 4, 3, 2]);
        // Negative points climb back towards the trait points.
        let mut n = Lead::default();
        s.score_event(&mut n, &ev("N", json!({}), 0), Timestamp(0));
        let t = s.next_score_change(&n, 0, Timestamp(0)).unwrap();
        assert_eq!((s.score_at(&n, 0, Timestamp(t.0 - 1)), s.score_at(&n, 0, t)), (-9, -8));
        assert_eq!(scoring(None, vec![]).next_score_change(&l, 0, Timestamp(0)), None, "no decay, no change");
    }
}

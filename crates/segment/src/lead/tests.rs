//! Lead scoring against simple oracles: the incremental, anchored points against a plain sum over every
//! occurrence, and the planned changes against a brute-force scan of time.

use kairos_domain::{ConsentStatus, Contact, ContactId, Duration, Event, JsonMap, Lead, Money, Timestamp, WorkspaceId};
use proptest::prelude::*;
use serde_json::json;

use super::*;

const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;
const NAMES: [&str; 3] = ["A", "B", "C"];

fn ev(name: &str, at: i64) -> Event {
    Event::system(name, format!("{name}-{at}"), JsonMap::new(), Timestamp(at))
}

/// One optional rule per event name: (points, max_times).
fn rules_strategy() -> impl Strategy<Value = Vec<Option<(i64, Option<u64>)>>> {
    let rule = (prop_oneof![-20i64..=-1, 1i64..=20], proptest::option::of(1u64..5));
    proptest::collection::vec(proptest::option::of(rule), 3)
}

fn scoring(half_life_hours: Option<i64>, rules: &[Option<(i64, Option<u64>)>]) -> LeadScoring {
    let events = rules
        .iter()
        .zip(NAMES)
        .filter_map(|(r, name)| r.map(|(p, n)| EventRule::new(name.into(), None, p, n)))
        .collect();
    LeadScoring { half_life: half_life_hours.map(|h| Duration(h * HOUR)), events, traits: vec![] }
}

/// The plain definition: every occurrence adds its points (capped by what the rule holds at that instant, summed
/// over its earlier occurrences, each decayed), and the value at `t` is every addition decayed to `t`.
fn oracle_points(s: &LeadScoring, events: &[(usize, i64)], t: i64) -> f64 {
    let mut added: Vec<(usize, i64, f64)> = Vec::new();
    let worth_at = |a: &[(usize, i64, f64)], rule: Option<usize>, at: i64| -> f64 {
        a.iter()
            .filter(|(r, _, _)| rule.is_none_or(|x| x == *r))
            .map(|(_, t0, p)| p * decay(s.half_life, at - t0))
            .sum()
    };
    for &(name, at) in events {
        for (ri, rule) in s.events.iter().enumerate().filter(|(_, r)| r.event == NAMES[name]) {
            let p = rule.points as f64;
            let add = match rule.max_times {
                None => p,
                Some(n) => {
                    let room = p * n as f64 - worth_at(&added, Some(ri), at);
                    if p > 0.0 { p.min(room.max(0.0)) } else { p.max(room.min(0.0)) }
                }
            };
            added.push((ri, at, add));
        }
    }
    worth_at(&added, None, t)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn anchored_points_equal_the_plain_sum(
        half_life in proptest::option::of(1i64..2_000),
        rules in rules_strategy(),
        mut events in proptest::collection::vec((0usize..3, 0i64..200 * DAY), 0..40),
        later in 0i64..400 * DAY,
    ) {
        events.sort_by_key(|(_, t)| *t);
        let s = scoring(half_life, &rules);
        let mut lead = Lead::default();
        for &(name, at) in &events {
            s.score_event(&mut lead, &ev(NAMES[name], at), Timestamp(at));
        }
        let t = events.last().map_or(0, |(_, at)| *at) + later;
        let got = s.event_points_at(&lead, Timestamp(t));
        let want = oracle_points(&s, &events, t);
        // Shares below a thousandth are forgotten; each can leave a cap that much more room.
        prop_assert!((got - want).abs() <= 0.01 + 1e-9 * want.abs(), "got {got}, want {want}");
    }

    #[test]
    fn values_change_only_at_the_planned_instants(
        half_life in proptest::option::of(1i64..2_000),
        rules in rules_strategy(),
        events in proptest::collection::vec((0usize..3, 0i64..30 * DAY), 0..12),
        trait_points in -5i64..=5,
        orders in 0u64..7,
        spent in 0i64..200_000,
        last_order in 0i64..30 * DAY,
        subscribed in any::<bool>(),
        lead_score in 1i64..40,
    ) {
        let mut settings = LeadSettings { scoring: scoring(half_life, &rules), ..LeadSettings::default() };
        settings.lifecycle.lead_score = lead_score;
        settings.lifecycle.at_risk_after = Duration(20 * DAY);
        settings.lifecycle.lapsed_after = Duration(45 * DAY);
        if trait_points != 0 {
            settings.scoring.traits = vec![TraitRule::new("t".into(), TraitTest::Exists, trait_points)];
        }
        let mut c = Contact::new(ContactId(1), WorkspaceId(1), Timestamp(0));
        c.traits.insert("t".into(), json!(1));
        c.computed.orders.count = orders;
        c.computed.orders.total_spent = Money::from_cents(spent);
        c.computed.orders.last_at = (orders > 0).then_some(Timestamp(last_order));
        if subscribed {
            c.consent.email.status = ConsentStatus::Subscribed;
        }
        let start = 30 * DAY;
        for &(name, at) in &events {
            settings.scoring.score_event(&mut c.lead, &ev(NAMES[name], at), Timestamp(start));
        }
        // Scan 120 days in steps of 2 h; between two planned changes nothing may differ.
        let (mut cur_t, mut cur) = (start, settings.derive(&c, Timestamp(start)));
        for k in 1..=120 * 12 {
            let t = start + k * 2 * HOUR;
            while let Some(p) = cur.next_change.map(Timestamp::as_micros).filter(|p| *p <= t) {
                prop_assert!(p > cur_t, "a planned change not in the future");
                let before = settings.derive(&c, Timestamp(p - 1));
                prop_assert_eq!((before.score, before.stage), (cur.score, cur.stage), "changed before {}", p);
                cur_t = p;
                cur = settings.derive(&c, Timestamp(p));
            }
            let now = settings.derive(&c, Timestamp(t));
            prop_assert_eq!((now.score, now.stage), (cur.score, cur.stage), "unannounced change in ({}, {}]", cur_t, t);
        }
    }
}

#[test]
fn duplicate_rules_are_refused() {
    let patch = json!({"events": [{"event": "A", "points": 1}, {"event": "A", "points": 2, "max_times": 3}]});
    let e = LeadScoring::default().apply(&patch, "lead_scoring").unwrap_err();
    assert_eq!(e.field, "lead_scoring.events[1]");
}

#[test]
fn derive_reads_the_profile() {
    let s = LeadSettings::default();
    let mut c = Contact::new(ContactId(1), WorkspaceId(1), Timestamp(0));
    c.traits.insert("birthday".into(), json!("1990-05-01"));
    for i in 0..3 {
        s.scoring.score_event(&mut c.lead, &ev("Checkout Started", i), Timestamp(i));
    }
    s.scoring.score_event(&mut c.lead, &ev("Product Added", 3), Timestamp(3));
    let d = s.derive(&c, Timestamp(10));
    assert_eq!(d.score, 5 + 2 * 15 + 10, "birthday, two checkouts (capped), a cart add");
    assert_eq!(d.stage, None, "below 50, not subscribed");
    c.consent.sms.status = ConsentStatus::Subscribed;
    assert_eq!(s.derive(&c, Timestamp(10)).stage, Some(kairos_domain::LifecycleStage::Subscriber));
    assert!(d.next_change.is_some_and(|t| t.0 > 10));
}

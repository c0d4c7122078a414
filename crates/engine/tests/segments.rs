//! Property test: live segment memberships (incremental on events, timers when time passes, full evaluation
//! when a segment is created mid-stream) equal a naive oracle that evaluates each definition from scratch over
//! the stored events at the same instant.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use kairos_domain::event::EventKind;
use kairos_domain::{Computed, ConsentStatus, ContactId, Duration, Event, Timestamp, WorkspaceId};
use kairos_engine::{Engine, ManualClock, SegmentCmd, SegmentReply};
use kairos_segment::{Channel, CompareOp, ConsentIs, Expr, FieldPath, Literal, Relative, Window};
use kairos_store::{Store, StoredEvent};
use kairos_store_sqlite::SqliteStore;
use proptest::prelude::*;
use serde_json::{Value, json};

const MIN: i64 = 60_000_000;
const EVENTS: &[&str] = &["Product Viewed", "Product Added", "Order Completed", "Checkout Started"];
const CATEGORIES: &[&str] = &["bikes", "helmets"];

#[derive(Debug, Clone)]
enum Step {
    Track { who: u8, name: u8, category: u8, ago_min: i64 },
    Identify { who: u8, city: u8, consent: Option<bool>, ago_min: i64 },
    Advance { minutes: i64 },
    Create { def: usize },
}

fn window() -> impl Strategy<Value = Option<Window>> {
    prop_oneof![
        Just(None),
        prop::sample::select(vec![30, 60, 120]).prop_map(|m| Some(Window::Within(Duration(m * MIN)))),
        prop::sample::select(vec![30, 90]).prop_map(|m| Some(Window::BeforeAgo(Duration(m * MIN)))),
    ]
}

fn filter() -> impl Strategy<Value = Option<Box<Expr>>> {
    prop::option::of((0..CATEGORIES.len()).prop_map(|c| {
        Box::new(Expr::Compare {
            field: FieldPath("category".into()),
            op: CompareOp::Eq,
            value: Literal::Str(CATEGORIES[c].into()),
        })
    }))
}

fn leaf(prior: usize) -> BoxedStrategy<Expr> {
    let mut options: Vec<BoxedStrategy<Expr>> = vec![
        (0..EVENTS.len(), filter(), window())
            .prop_map(|(e, filter, window)| Expr::Did { event: EVENTS[e].into(), filter, window })
            .boxed(),
        (0..EVENTS.len(), filter(), prop::sample::select(vec![30i64, 120]), 1..3u64)
            .prop_map(|(e, filter, m, n)| Expr::Count {
                event: EVENTS[e].into(),
                filter,
                window: Some(Window::Within(Duration(m * MIN))),
                op: CompareOp::Ge,
                value: n,
            })
            .boxed(),
        (0..3i64)
            .prop_map(|n| Expr::Compare {
                field: FieldPath("orders.count".into()),
                op: CompareOp::Ge,
                value: Literal::Num(n as f64),
            })
            .boxed(),
        (0..2usize)
            .prop_map(|c| Expr::Compare {
                field: FieldPath("trait.city".into()),
                op: CompareOp::Eq,
                value: Literal::Str(["A", "B"][c].into()),
            })
            .boxed(),
        prop::sample::select(vec![30i64, 60])
            .prop_flat_map(|m| {
                prop_oneof![
                    Just(Expr::Relative {
                        field: FieldPath("last_seen_at".into()),
                        rel: Relative::BeforeAgo(Duration(m * MIN))
                    }),
                    Just(Expr::Relative {
                        field: FieldPath("last_seen_at".into()),
                        rel: Relative::Within(Duration(m * MIN))
                    }),
                ]
            })
            .boxed(),
        Just(Expr::Consent { channel: Channel::Email, status: ConsentIs::Subscribed }).boxed(),
    ];
    if prior > 0 {
        options.push((0..prior).prop_map(|i| Expr::InSegment(format!("s{i}"))).boxed());
    }
    prop::strategy::Union::new(options).boxed()
}

fn definition(prior: usize) -> BoxedStrategy<Expr> {
    prop_oneof![
        3 => leaf(prior),
        2 => (leaf(prior), leaf(prior)).prop_map(|(a, b)| Expr::And(vec![a, b])),
        2 => (leaf(prior), leaf(prior)).prop_map(|(a, b)| Expr::Or(vec![a, b])),
        1 => leaf(prior).prop_map(|a| Expr::Not(Box::new(a))),
    ]
    .boxed()
}

fn definitions() -> impl Strategy<Value = Vec<Expr>> {
    (definition(0), definition(1), definition(2)).prop_map(|(a, b, c)| vec![a, b, c])
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0..3u8, 0..EVENTS.len() as u8, 0..2u8, 0..150i64)
            .prop_map(|(who, name, category, ago_min)| Step::Track { who, name, category, ago_min }),
        2 => (0..3u8, 0..2u8, prop::option::of(any::<bool>()), 0..60i64)
            .prop_map(|(who, city, consent, ago_min)| Step::Identify { who, city, consent, ago_min }),
        3 => (1..100i64).prop_map(|minutes| Step::Advance { minutes }),
        1 => (0..3usize).prop_map(|def| Step::Create { def }),
    ]
}

fn base(n: usize, kind: EventKind, who: u8, at: Timestamp, now: Timestamp) -> Event {
    common::event(n, kind, (Some(format!("user-{who}")), None), at, now)
}

/// Everything the oracle knows about one contact, rebuilt from its stored events.
struct Facts {
    events: Vec<StoredEvent>,
    computed: Computed,
    city: Option<String>,
    email_consent: ConsentStatus,
}

fn facts(mut events: Vec<StoredEvent>) -> Facts {
    events.retain(|e| !e.event.system);
    events.sort_by_key(|e| e.seq);
    let mut city = None;
    // Traits: the identify with the latest timestamp wins (ties: the later one); an older identify arriving
    // later only fills a trait the profile lacks.
    let mut traits_at: Option<i64> = None;
    let mut consent = (ConsentStatus::NeverSubscribed, i64::MIN);
    for e in &events {
        if e.event.kind == EventKind::Identify {
            let t = e.event.timestamp.as_micros();
            let newest = traits_at.is_none_or(|at| t >= at);
            if let Some(c) = e.event.traits.get("city").and_then(Value::as_str)
                && (newest || city.is_none())
            {
                city = Some(c.to_string());
            }
            if newest {
                traits_at = Some(t);
            }
            if let Some(s) = e.event.traits.get("email_consent").and_then(Value::as_str) {
                let t = e.event.timestamp.as_micros();
                if t >= consent.1 {
                    consent =
                        (if s == "subscribed" { ConsentStatus::Subscribed } else { ConsentStatus::Unsubscribed }, t);
                }
            }
        }
    }
    let mut by_time = events.clone();
    by_time.sort_by_key(|e| (e.event.timestamp, e.seq));
    let computed = Computed::recompute(by_time.iter().map(|e| &e.event));
    Facts { events, computed, city, email_consent: consent.0 }
}

fn in_window(t: i64, w: Option<Window>, now: i64) -> bool {
    if t > now {
        return false;
    }
    match w {
        None => true,
        Some(Window::Within(d) | Window::AfterAgo(d)) => t >= now - d.as_micros(),
        Some(Window::BeforeAgo(d)) => t < now - d.as_micros(),
        Some(Window::SinceEntry) => false,
    }
}

fn matching(f: &Facts, event: &str, filter: &Option<Box<Expr>>, w: Option<Window>, now: i64) -> u64 {
    f.events
        .iter()
        .filter(|e| e.event.name.as_deref() == Some(event))
        .filter(|e| match filter.as_deref() {
            Some(Expr::Compare { value: Literal::Str(c), .. }) => e.event.properties.get("category") == Some(&json!(c)),
            _ => true,
        })
        .filter(|e| in_window(e.event.timestamp.as_micros(), w, now))
        .count() as u64
}

fn oracle(e: &Expr, f: &Facts, defs: &[Expr], now: i64) -> bool {
    match e {
        Expr::And(xs) => xs.iter().all(|x| oracle(x, f, defs, now)),
        Expr::Or(xs) => xs.iter().any(|x| oracle(x, f, defs, now)),
        Expr::Not(x) => !oracle(x, f, defs, now),
        Expr::Did { event, filter, window } => matching(f, event, filter, *window, now) > 0,
        Expr::Count { event, filter, window, value, .. } => matching(f, event, filter, *window, now) >= *value,
        Expr::Compare { field, value, .. } => match (field.as_str(), value) {
            ("orders.count", Literal::Num(n)) => f.computed.orders.count as f64 >= *n,
            ("trait.city", Literal::Str(c)) => f.city.as_deref() == Some(c.as_str()),
            other => panic!("unexpected {other:?}"),
        },
        Expr::Relative { rel, .. } => {
            let Some(t) = f.computed.last_seen_at.map(Timestamp::as_micros) else { return false };
            match rel {
                Relative::BeforeAgo(d) => t < now - d.as_micros(),
                Relative::Within(d) | Relative::AfterAgo(d) => t >= now - d.as_micros() && t <= now,
            }
        }
        Expr::Consent { .. } => f.email_consent == ConsentStatus::Subscribed,
        Expr::InSegment(name) => {
            let i: usize = name[1..].parse().unwrap();
            oracle(&defs[i], f, defs, now)
        }
        Expr::Exists { .. } | Expr::In { .. } => unreachable!(),
    }
}

fn run(defs: Vec<Expr>, steps: Vec<Step>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let keys = store.create_workspace("t", Timestamp(0)).unwrap();
    let ws: WorkspaceId = store.workspaces().unwrap().into_iter().find(|w| w.1 == keys.id).unwrap().0;
    let clock = Arc::new(ManualClock::new(Timestamp::from_secs(1_900_000_000)));
    let engine = Engine::start(Arc::new(store), clock.clone()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut created: Vec<Option<String>> = vec![None; defs.len()];
    let mut n = 0usize;
    // Segments are created in order (a definition may refer to earlier ones), at the first Create step that
    // reaches them, or at the end.
    let create_upto = |upto: usize, created: &mut Vec<Option<String>>| {
        for i in 0..=upto.min(defs.len() - 1) {
            if created[i].is_none() {
                let r = rt
                    .block_on(engine.segment(ws, SegmentCmd::Create { name: format!("s{i}"), expr: defs[i].clone() }));
                match r {
                    Ok(SegmentReply::Info(info)) => created[i] = Some(info.id),
                    other => panic!("create failed: {:?}", other.err()),
                }
            }
        }
    };
    for s in &steps {
        let now = clock.now_for_test();
        match *s {
            Step::Track { who, name, category, ago_min } => {
                n += 1;
                let mut e = base(n, EventKind::Track, who, Timestamp(now.0 - ago_min * MIN), now);
                e.name = Some(EVENTS[name as usize].into());
                e.properties =
                    json!({"category": CATEGORIES[category as usize], "product_id": "p1", "price": 10, "total": 25})
                        .as_object()
                        .unwrap()
                        .clone();
                engine.ingest_blocking(ws, true, vec![e]).unwrap();
            }
            Step::Identify { who, city, consent, ago_min } => {
                n += 1;
                let mut e = base(n, EventKind::Identify, who, Timestamp(now.0 - ago_min * MIN), now);
                let city = ["A", "B"][city as usize];
                let mut traits = json!({ "city": city });
                if let Some(c) = consent {
                    traits["email_consent"] = json!(if c { "subscribed" } else { "unsubscribed" });
                }
                e.traits = traits.as_object().unwrap().clone();
                engine.ingest_blocking(ws, true, vec![e]).unwrap();
            }
            Step::Advance { minutes } => {
                clock.advance(Duration(minutes * MIN));
                rt.block_on(engine.tick()).unwrap();
            }
            Step::Create { def } => create_upto(def, &mut created),
        }
    }
    create_upto(defs.len() - 1, &mut created);
    let now = clock.now_for_test().as_micros();

    // Rows may wait for a later commit: every acknowledged change first.
    engine.settle_blocking().unwrap();
    let contacts = engine.read(|r| r.contacts(ws, None, 1000)).unwrap().items;
    let all_facts: Vec<(ContactId, Facts)> = contacts
        .iter()
        .map(|c| (c.id, facts(engine.read(|r| r.contact_events(c.id, None, 1000)).unwrap().items)))
        .collect();
    for (i, def) in defs.iter().enumerate() {
        let id = created[i].clone().unwrap();
        let row = engine.read(|r| r.segment_row(ws, &id)).unwrap().unwrap();
        let stored: BTreeSet<i64> =
            engine.read(|r| r.segment_member_page(row, None, 1000)).unwrap().items.iter().map(|c| c.id.0).collect();
        let expected: BTreeSet<i64> =
            all_facts.iter().filter(|(_, f)| oracle(def, f, &defs, now)).map(|(id, _)| id.0).collect();
        prop_assert_eq!(&stored, &expected, "segment s{} = {:?}", i, def);
        let size = match rt.block_on(engine.segment(ws, SegmentCmd::Get { id })).unwrap() {
            SegmentReply::Info(info) => info.size,
            _ => unreachable!(),
        };
        prop_assert_eq!(size, expected.len() as u64, "live size of s{}", i);
    }
    engine.shutdown();
    Ok(())
}

trait NowForTest {
    fn now_for_test(&self) -> Timestamp;
}
impl NowForTest for ManualClock {
    fn now_for_test(&self) -> Timestamp {
        kairos_engine::Clock::now(self)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]
    #[test]
    fn live_memberships_equal_a_naive_oracle(defs in definitions(), steps in prop::collection::vec(step(), 1..40)) {
        run(defs, steps)?;
    }
}

#[test]
fn a_contact_leaves_a_window_segment_when_time_passes() {
    let defs = vec![
        Expr::Did { event: "Checkout Started".into(), filter: None, window: Some(Window::Within(Duration(60 * MIN))) },
        Expr::Not(Box::new(Expr::InSegment("s0".into()))),
        Expr::Relative { field: FieldPath("last_seen_at".into()), rel: Relative::BeforeAgo(Duration(30 * MIN)) },
    ];
    let steps = vec![
        Step::Create { def: 2 },
        Step::Track { who: 0, name: 3, category: 0, ago_min: 10 },
        Step::Advance { minutes: 45 },
        Step::Advance { minutes: 10 },
    ];
    run(defs, steps).unwrap();
}

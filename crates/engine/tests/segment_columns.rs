//! Property test (issue 17, columnar segment state): a full evaluation, which reads the segment columns, gives
//! every contact the membership the per-contact evaluation (the profile itself, the oracle) gives, and plans a
//! timer no later than the one the per-contact evaluation asks for; after profiles change, events arrive,
//! contacts merge away and new ones appear, the columns kept up to date by `Segments::refresh` still agree.

use std::collections::HashMap;

use kairos_domain::{
    ConsentStatus, Contact, ContactId, Duration, Email, Event, JsonMap, LifecycleStage, Money, Timestamp, WorkspaceId,
};
use kairos_engine::profiles::ProfileMap;
use kairos_engine::segments::{SegDef, Segments, View};
use kairos_segment::eval;
use kairos_segment::{Channel, CompareOp, ConsentIs, Expr, FieldPath, Literal, Relative, Window};
use proptest::prelude::*;
use serde_json::{Value, json};

const MIN: i64 = 60_000_000;
const NOW: i64 = 1_900_000_000_000_000;
const WS: WorkspaceId = WorkspaceId(1);
const GHOST: ContactId = ContactId(1_000_000);
const EVENTS: &[&str] = &["Product Viewed", "Order Completed"];
const CATEGORIES: &[&str] = &["bikes", "helmets"];

#[derive(Debug, Clone)]
struct Profile {
    orders: u64,
    spent_cents: i64,
    seen_ago_min: Option<i64>,
    email: Option<&'static str>,
    stage: Option<&'static str>,
    score: i64,
    consent: (ConsentStatus, ConsentStatus),
    traits: Vec<(&'static str, Value)>,
}

#[derive(Debug, Clone)]
struct Ev {
    who: usize,
    name: usize,
    category: usize,
    ago_min: i64,
}

/// What happens between the first and the second round of evaluations.
#[derive(Debug, Clone)]
enum Change {
    Profile { who: usize, profile: Profile },
    Event(Ev),
    Merge { who: usize },
    New { profile: Profile },
}

fn consent() -> impl Strategy<Value = ConsentStatus> {
    prop::sample::select(vec![ConsentStatus::Subscribed, ConsentStatus::Unsubscribed, ConsentStatus::NeverSubscribed])
}

fn trait_value() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![
        json!("Helsinki"),
        json!("Oulu"),
        json!("5"),
        json!(5),
        json!(true),
        json!(null),
        json!(["bike", "vip"]),
        json!(["helmet"]),
        json!({"city": "Helsinki"}),
        json!("2026-01-01"),
    ])
}

fn profile() -> impl Strategy<Value = Profile> {
    (
        (0..4u64, 0..30_000i64, prop::option::of(0..180i64)),
        prop::option::of(prop::sample::select(vec!["a@x.fi", "b@gmail.com"])),
        (prop::option::of(prop::sample::select(vec!["lead", "vip", "at_risk"])), -5..20i64),
        (consent(), consent()),
        prop::collection::vec((prop::sample::select(vec!["city", "tags", "plan"]), trait_value()), 0..3),
    )
        .prop_map(|((orders, spent_cents, seen_ago_min), email, (stage, score), consent, traits)| Profile {
            orders,
            spent_cents,
            seen_ago_min,
            email,
            stage,
            score,
            consent,
            traits,
        })
}

fn ev(people: usize) -> impl Strategy<Value = Ev> {
    (0..people, 0..EVENTS.len(), 0..CATEGORIES.len(), -20..240i64).prop_map(|(who, name, category, ago_min)| Ev {
        who,
        name,
        category,
        ago_min,
    })
}

fn window() -> impl Strategy<Value = Option<Window>> {
    prop_oneof![
        Just(None),
        prop::sample::select(vec![30, 60, 180]).prop_map(|m| Some(Window::Within(Duration(m * MIN)))),
        prop::sample::select(vec![30, 90]).prop_map(|m| Some(Window::BeforeAgo(Duration(m * MIN)))),
    ]
}

fn cmp(field: &str, op: CompareOp, value: Literal) -> Expr {
    Expr::Compare { field: FieldPath(field.into()), op, value }
}

fn leaf(prior: usize) -> BoxedStrategy<Expr> {
    let s = |v: &str| Literal::Str(v.into());
    let mut options: Vec<BoxedStrategy<Expr>> = vec![
        (0..4i64, prop::sample::select(vec![CompareOp::Ge, CompareOp::Lt, CompareOp::Eq, CompareOp::Ne]))
            .prop_map(|(n, op)| cmp("orders.count", op, Literal::Num(n as f64)))
            .boxed(),
        (0..300i64).prop_map(|n| cmp("orders.total_spent", CompareOp::Gt, Literal::Num(n as f64))).boxed(),
        (0..3usize, prop::sample::select(vec![30i64, 90]))
            .prop_map(|(r, m)| {
                let d = Duration(m * MIN);
                let rel = [Relative::BeforeAgo(d), Relative::Within(d), Relative::AfterAgo(d)][r];
                Expr::Relative { field: FieldPath("last_seen_at".into()), rel }
            })
            .boxed(),
        prop::sample::select(vec![
            cmp("email", CompareOp::Contains, s("gmail")),
            cmp("email", CompareOp::Eq, s("a@x.fi")),
            cmp("email", CompareOp::Eq, Literal::Null),
            cmp("lifecycle.stage", CompareOp::Eq, s("vip")),
            cmp("lifecycle.stage", CompareOp::Ne, s("lead")),
            cmp("lead.score", CompareOp::Ge, Literal::Num(5.0)),
            cmp("created_at", CompareOp::Lt, s("2030-01-01")),
            cmp("rfm.recency", CompareOp::Ne, Literal::Num(1.0)),
            cmp("trait.city", CompareOp::Eq, s("Helsinki")),
            cmp("trait.city", CompareOp::Gt, Literal::Num(4.0)),
            cmp("trait.city.city", CompareOp::Eq, s("Helsinki")),
            cmp("trait.tags", CompareOp::Contains, s("bike")),
            cmp("trait.tags", CompareOp::Eq, s("vip")),
            cmp("trait.plan", CompareOp::Ne, s("Oulu")),
            cmp("trait.plan", CompareOp::StartsWith, s("Hel")),
            Expr::Exists { field: FieldPath("trait.city".into()) },
            Expr::In { field: FieldPath("trait.plan".into()), values: vec![s("Oulu"), Literal::Bool(true)] },
            Expr::Relative { field: FieldPath("trait.plan".into()), rel: Relative::BeforeAgo(Duration(MIN)) },
        ])
        .boxed(),
        (0..EVENTS.len(), prop::option::of(0..CATEGORIES.len()), window())
            .prop_map(move |(e, c, window)| Expr::Did {
                event: EVENTS[e].into(),
                filter: c.map(|c| Box::new(cmp("category", CompareOp::Eq, s(CATEGORIES[c])))),
                window,
            })
            .boxed(),
        (0..EVENTS.len(), window(), 1..3u64, prop::sample::select(vec![CompareOp::Ge, CompareOp::Lt]))
            .prop_map(|(e, window, value, op)| Expr::Count { event: EVENTS[e].into(), filter: None, window, op, value })
            .boxed(),
        (any::<bool>(), any::<bool>())
            .prop_map(|(email, sub)| Expr::Consent {
                channel: if email { Channel::Email } else { Channel::Sms },
                status: if sub { ConsentIs::Subscribed } else { ConsentIs::Unsubscribed },
            })
            .boxed(),
    ];
    if prior > 0 {
        options.push((0..prior).prop_map(|i| Expr::InSegment(format!("s{i}"))).boxed());
    }
    prop::strategy::Union::new(options).boxed()
}

fn definition(prior: usize) -> BoxedStrategy<Expr> {
    leaf(prior)
        .prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..4).prop_map(Expr::And),
                prop::collection::vec(inner.clone(), 1..4).prop_map(Expr::Or),
                inner.prop_map(|x| Expr::Not(Box::new(x))),
            ]
        })
        .boxed()
}

fn contact(id: i64, p: &Profile, now: Timestamp) -> Contact {
    let mut c = Contact::new(ContactId(id), WS, Timestamp(NOW - 1_000 * MIN));
    c.computed.orders.count = p.orders;
    c.computed.orders.total_spent = Money::from_cents(p.spent_cents);
    c.computed.last_seen_at = p.seen_ago_min.map(|m| Timestamp(now.0 - m * MIN));
    c.email = p.email.and_then(Email::parse);
    c.lead.stage = p.stage.and_then(LifecycleStage::parse);
    c.lead.score = p.score;
    c.set_consent("email", p.consent.0, now, "test");
    c.set_consent("sms", p.consent.1, now, "test");
    for (k, v) in &p.traits {
        c.traits.insert((*k).into(), v.clone());
    }
    c
}

fn event(e: &Ev, now: Timestamp) -> Event {
    let mut props = JsonMap::new();
    props.insert("category".into(), json!(CATEGORIES[e.category]));
    let mut ev = Event::system(EVENTS[e.name], String::new(), props, Timestamp(now.0 - e.ago_min * MIN));
    ev.system = false;
    ev
}

/// Installs (or, with `at`, replaces) segment `s{i}`.
fn install(seg: &mut Segments, i: usize, at: Option<u32>, expr: &Expr, now: Timestamp) -> Result<u32, TestCaseError> {
    let (node, refs) = seg.compile(WS, expr, at).map_err(|e| TestCaseError::reject(e.to_string()))?;
    let def = SegDef {
        row: i as i64 + 1,
        public_id: format!("seg_{i}"),
        ws: WS,
        name: format!("s{i}"),
        expr: expr.clone(),
        node,
        refs,
        created_at: now,
        updated_at: now,
    };
    Ok(seg.install(def, at))
}

fn full(
    seg: &mut Segments,
    people: &HashMap<ContactId, Contact>,
    i: u32,
    dirty: &[ContactId],
    now: Timestamp,
) -> Result<(), TestCaseError> {
    // Columns are filled from the profiles as the committer holds them after a load: packed (read lite).
    let mut packed = ProfileMap::default();
    for c in people.values() {
        packed.insert_packed(c);
    }
    seg.full_evaluation(i, &packed, dirty, now).map(drop).map_err(|e| TestCaseError::fail(e.to_string()))
}

/// Every contact's membership equals the per-contact evaluation, and its timer is no later than asked for.
fn check(
    seg: &Segments,
    people: &HashMap<ContactId, Contact>,
    idx: &[u32],
    now: Timestamp,
) -> Result<(), TestCaseError> {
    for &i in idx {
        let def = seg.def(i).expect("installed");
        let mut members = 0;
        for c in people.values() {
            let view = View { contact: c, seg: seg.contact_state(c.id) };
            let want = eval::eval(&def.node, &view, now);
            let got = seg.contact_state(c.id).is_some_and(|s| s.is_member(i));
            prop_assert_eq!(got, want, "contact {:?} in {:?}: {:?}", c.id, def.expr, c);
            members += u64::from(want);
            if let Some(t) = eval::next_change(&def.node, &view, now) {
                let planned = seg.next_due(c.id);
                prop_assert!(planned.is_some_and(|p| p <= t), "timer of {:?}: {:?}, asked {:?}", c.id, planned, t);
            }
        }
        prop_assert_eq!(seg.size(i), members, "size of {:?}", def.expr);
        prop_assert!(
            !seg.contact_state(GHOST).is_some_and(|s| s.is_member(i)),
            "a contact with no profile in {:?}",
            def.expr
        );
    }
    Ok(())
}

fn run(
    initial: Vec<Profile>,
    events: Vec<Ev>,
    defs: Vec<Expr>,
    changes: Vec<Change>,
    later_min: i64,
) -> Result<(), TestCaseError> {
    let now = Timestamp(NOW);
    let mut seg = Segments::default();
    let mut people: HashMap<ContactId, Contact> = HashMap::new();
    let mut ids: Vec<ContactId> = Vec::new();
    for (n, p) in initial.iter().enumerate() {
        let c = contact(n as i64 + 1, p, now);
        ids.push(c.id);
        people.insert(c.id, c);
    }
    // The segments (and so their event conditions) first, then the contacts' rows as the commits that created
    // them left them, then the events as they arrive, then one full evaluation per segment, in order.
    let mut idx = Vec::new();
    for (i, d) in defs.iter().enumerate() {
        idx.push(install(&mut seg, i, None, d, now)?);
    }
    seg.refresh(&ids, &people);
    for e in &events {
        seg.record(WS, ids[e.who], &event(e, now), now);
        // Occurrences of someone the committer holds no profile of (never evaluated, never a member).
        seg.record(WS, GHOST, &event(e, now), now);
    }
    for &i in &idx {
        full(&mut seg, &people, i, &[], now)?;
    }
    check(&seg, &people, &idx, now)?;
    // Time passes; profiles change, events arrive, contacts merge away and new ones appear.
    let now = Timestamp(now.0 + later_min * MIN);
    let mut dirty = Vec::new();
    for ch in changes {
        match ch {
            Change::Profile { who, profile } => {
                let id = ids[who % ids.len()];
                if let Some(c) = people.get_mut(&id) {
                    *c = contact(id.0, &profile, now);
                    dirty.push(id);
                }
            }
            Change::Event(e) => {
                let id = ids[e.who % ids.len()];
                if people.contains_key(&id) {
                    seg.record(WS, id, &event(&e, now), now);
                }
            }
            Change::Merge { who } => {
                let id = ids[who % ids.len()];
                if people.remove(&id).is_some() {
                    seg.forget(id);
                }
            }
            Change::New { profile } => {
                let c = contact(ids.len() as i64 + 1, &profile, now);
                ids.push(c.id);
                dirty.push(c.id);
                people.insert(c.id, c);
            }
        }
    }
    // Half the changes reach the rows at a commit, the other half are still the transaction's.
    let (committed, open) = dirty.split_at(dirty.len() / 2);
    seg.refresh(committed, &people);
    for (i, d) in defs.iter().enumerate() {
        install(&mut seg, i, Some(idx[i]), d, now)?;
        full(&mut seg, &people, idx[i], if i == 0 { open } else { &[] }, now)?;
    }
    check(&seg, &people, &idx, now)?;
    // The per-contact evaluation finds nothing to change after a full evaluation of every segment in order.
    let mut moved = Vec::new();
    for c in people.values() {
        seg.evaluate(WS, c, now, &mut moved);
    }
    prop_assert!(moved.is_empty(), "per-contact evaluation disagrees: {:?}", moved);
    // A registry whose rows exist before its segments (as for a segment reading a field no segment read
    // before): their columns are filled from the packed profiles, read lite, and evaluate the same.
    let mut fresh = Segments::default();
    let live: Vec<ContactId> = people.keys().copied().collect();
    fresh.refresh(&live, &people);
    let mut fresh_idx = Vec::new();
    for (i, d) in defs.iter().enumerate() {
        fresh_idx.push(install(&mut fresh, i, None, d, now)?);
    }
    for &i in &fresh_idx {
        full(&mut fresh, &people, i, &[], now)?;
    }
    check(&fresh, &people, &fresh_idx, now)
}

fn change(people: usize) -> impl Strategy<Value = Change> {
    prop_oneof![
        3 => (0..people, profile()).prop_map(|(who, profile)| Change::Profile { who, profile }),
        3 => ev(people).prop_map(Change::Event),
        1 => (0..people).prop_map(|who| Change::Merge { who }),
        1 => profile().prop_map(|profile| Change::New { profile }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn full_evaluation_from_columns_equals_the_per_contact_evaluation(
        (initial, events, changes) in (1..90usize).prop_flat_map(|n| (
            prop::collection::vec(profile(), n),
            prop::collection::vec(ev(n), 0..120),
            prop::collection::vec(change(n), 0..60),
        )),
        defs in (definition(0), definition(1), definition(2)).prop_map(|(a, b, c)| vec![a, b, c]),
        later_min in 0..120i64,
    ) {
        run(initial, events, defs, changes, later_min)?;
    }
}

//! Column-wise evaluation equals the scalar evaluator row by row, on random profiles (numbers, instants, text,
//! traits of every JSON shape, consent, occurrences, memberships) and random definitions, evaluated in two
//! chunks the way the engine splits rows across threads.

use std::collections::HashMap;

use kairos_domain::{ConsentStatus, Duration, JsonMap, Timestamp};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::ast::{Channel, CompareOp, ConsentIs, Expr, FieldPath, Literal, Relative, Window};
use crate::columns::{BitColumn, Column, ColumnKey, ColumnSource, OccColumn, Slot, column_keys};
use crate::eval::{self, Known, Node, Occ, PredId, Resolver, SegIdx, Subject, Val};
use crate::vector::{Bits, evaluate};

const H: i64 = 3_600_000_000;
const NOW: i64 = 1_000 * H;
const EVENTS: &[&str] = &["A", "B"];
const SEGMENTS: usize = 2;

/// A contact as the scalar evaluator sees it.
#[derive(Debug, Clone)]
struct Person {
    alive: bool,
    orders: f64,
    last_seen: Option<i64>,
    email: Option<String>,
    stage: Option<&'static str>,
    traits: JsonMap,
    consent: [ConsentStatus; 2],
    occ: Vec<Slot>,
    member: [bool; SEGMENTS],
}

impl Subject for Person {
    fn known(&self, k: Known) -> Val<'_> {
        match k {
            Known::OrdersCount => Val::Num(self.orders),
            Known::LastSeenAt => self.last_seen.map_or(Val::Missing, |t| Val::Time(Timestamp(t))),
            Known::Email => self.email.as_deref().map_or(Val::Missing, Val::Str),
            Known::LifecycleStage => self.stage.map_or(Val::Missing, Val::Str),
            _ => Val::Missing,
        }
    }
    fn traits(&self) -> &JsonMap {
        &self.traits
    }
    fn consent(&self, c: Channel) -> ConsentStatus {
        self.consent[c as usize]
    }
    fn in_segment(&self, s: SegIdx) -> bool {
        self.member[s as usize]
    }
    fn occurrences(&self, p: PredId) -> Occ<'_> {
        self.occ[p as usize].occ()
    }
}

/// The same people held column-wise.
struct Table {
    alive: BitColumn,
    columns: HashMap<ColumnKey, Column>,
    consent: HashMap<(Channel, ConsentIs), BitColumn>,
    occ: Vec<OccColumn>,
    members: Vec<BitColumn>,
}

impl Table {
    fn of(people: &[Person], keys: &[ColumnKey]) -> Table {
        let mut t = Table {
            alive: BitColumn::default(),
            columns: keys.iter().map(|k| (k.clone(), Column::for_key(k))).collect(),
            consent: [Channel::Email, Channel::Sms]
                .into_iter()
                .flat_map(|c| [(c, ConsentIs::Subscribed), (c, ConsentIs::Unsubscribed)])
                .map(|k| (k, BitColumn::default()))
                .collect(),
            occ: vec![OccColumn::default(); EVENTS.len()],
            members: vec![BitColumn::default(); SEGMENTS],
        };
        for (row, p) in people.iter().enumerate() {
            t.alive.set(row, p.alive);
            for (key, col) in t.columns.iter_mut() {
                match key {
                    ColumnKey::Known(k) => col.set_known(row, p.known(*k)),
                    ColumnKey::Trait(name) => col.set_json(row, p.traits.get(name)),
                }
            }
            for c in [Channel::Email, Channel::Sms] {
                for (s, is) in [
                    (ConsentStatus::Subscribed, ConsentIs::Subscribed),
                    (ConsentStatus::Unsubscribed, ConsentIs::Unsubscribed),
                ] {
                    t.consent.get_mut(&(c, is)).expect("all four held").set(row, p.consent[c as usize] == s);
                }
            }
            for (i, slot) in p.occ.iter().enumerate() {
                // Occurrences past the last row with any stay unallocated (read as none).
                if !matches!(slot, Slot::Empty) {
                    *t.occ[i].slot_mut(row) = slot.clone();
                }
            }
            for s in 0..SEGMENTS {
                t.members[s].set(row, p.member[s]);
            }
        }
        t
    }
}

impl ColumnSource for Table {
    fn rows(&self) -> usize {
        self.alive.words().len() * 64
    }
    fn alive(&self) -> &BitColumn {
        &self.alive
    }
    fn column(&self, key: &ColumnKey) -> Option<&Column> {
        self.columns.get(key)
    }
    fn consent(&self, channel: Channel, status: ConsentIs) -> &BitColumn {
        &self.consent[&(channel, status)]
    }
    fn occurrences(&self, p: PredId) -> Option<&OccColumn> {
        self.occ.get(p as usize)
    }
    fn is_member(&self, s: SegIdx, row: usize) -> bool {
        self.members[s as usize].get(row)
    }
    fn members_into(&self, s: SegIdx, out: &mut Bits) {
        for row in out.rows() {
            if self.members[s as usize].get(row) {
                out.set(row);
            }
        }
    }
}

struct Reg;
impl Resolver for Reg {
    fn predicate(&mut self, event: &str, _: Option<&Node>, _: Option<&Expr>, _: Option<Window>) -> PredId {
        EVENTS.iter().position(|e| *e == event).unwrap_or(0) as PredId
    }
    fn segment(&mut self, reference: &str) -> Result<SegIdx, String> {
        Ok(reference[1..].parse().unwrap_or(0))
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(json!(null)),
        Just(json!("Helsinki")),
        Just(json!("Oulu")),
        Just(json!("5")),
        Just(json!(" 7 ")),
        Just(json!("2026-01-01")),
        Just(json!("2026-03-01T10:00:00Z")),
        Just(json!("1970-02-11T15:30:00Z")),
        Just(json!(5)),
        Just(json!(0.5)),
        Just(json!(true)),
        Just(json!(false)),
        Just(json!("true")),
    ];
    leaf.prop_recursive(2, 6, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            inner.prop_map(|v| json!({ "city": v })),
        ]
    })
}

fn slot() -> impl Strategy<Value = Slot> {
    (0..3u64, prop::collection::vec(-60..10i64, 0..4)).prop_map(|(older, mins)| {
        let mut s = if older > 0 { Slot::Older(older) } else { Slot::Empty };
        for m in mins {
            s.add(NOW + m * 60_000_000);
        }
        s
    })
}

fn consent() -> impl Strategy<Value = ConsentStatus> {
    prop::sample::select(vec![ConsentStatus::Subscribed, ConsentStatus::Unsubscribed, ConsentStatus::NeverSubscribed])
}

fn person() -> impl Strategy<Value = Person> {
    (
        prop::bool::weighted(0.9),
        (0..4u8, prop::option::of(-120..30i64), prop::option::of(prop::sample::select(vec!["a@x.fi", "b@y.fi"]))),
        prop::option::of(prop::sample::select(vec!["lead", "customer", "at_risk"])),
        prop::collection::btree_map(prop::sample::select(vec!["city", "tags", "date"]), json_value(), 0..3),
        (consent(), consent()),
        prop::collection::vec(slot(), EVENTS.len()),
        any::<[bool; SEGMENTS]>(),
    )
        .prop_map(|(alive, (orders, seen, email), stage, traits, (e, s), occ, member)| Person {
            alive,
            orders: f64::from(orders),
            last_seen: seen.map(|m| NOW + m * 60_000_000),
            email: email.map(str::to_string),
            stage,
            traits: traits.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            consent: [e, s],
            occ,
            member,
        })
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        prop::sample::select(vec!["Helsinki", "5", "7", "Hel", "2026-02-01", "true", "a@x.fi", "lead", "customer"])
            .prop_map(|s| Literal::Str(s.into())),
        prop::sample::select(vec![0.0, 2.0, 5.0, 0.5]).prop_map(Literal::Num),
        any::<bool>().prop_map(Literal::Bool),
        Just(Literal::Null),
    ]
}

/// Fields, each with literals likely to split its values (and now and then any literal).
const FIELDS: &[(&str, &[&str])] = &[
    ("orders.count", &["0", "1", "2", "3", "#2", "#0.5"]),
    ("last_seen_at", &["1970-02-11T15:00:00Z", "1970-02-11T16:00:00Z", "1970-02-11"]),
    ("email", &["a@x.fi", "a@", "b", "x.fi"]),
    ("lifecycle.stage", &["lead", "customer", "le"]),
    ("rfm.recency", &["#1"]),
    ("trait.city", &["Helsinki", "Hel", "Oulu", "5", "#5", "#7", "true", "2026-01-01", "#0.5"]),
    ("trait.city.city", &["Helsinki", "#5", "Oulu"]),
    ("trait.tags", &["Helsinki", "#5", "5", "true"]),
    ("trait.date", &["2026-02-01", "2026-01-01", "1970-02-11T15:00:00Z", "Oulu"]),
    ("event.total", &["#1"]),
];

/// `#` marks a number; anything else is a string.
fn lit_of(s: &str) -> Literal {
    match s.strip_prefix('#') {
        Some(n) => Literal::Num(n.parse().expect("a number")),
        None => Literal::Str(s.into()),
    }
}

fn field_and_literal() -> impl Strategy<Value = (FieldPath, Literal)> {
    (0..FIELDS.len()).prop_flat_map(|f| {
        let (name, pool) = FIELDS[f];
        let own = prop::sample::select(pool.to_vec()).prop_map(lit_of);
        (Just(FieldPath(name.into())), prop_oneof![4 => own, 1 => literal()])
    })
}

fn field() -> impl Strategy<Value = FieldPath> {
    prop::sample::select(FIELDS.iter().map(|(f, _)| *f).collect::<Vec<_>>()).prop_map(|f| FieldPath(f.into()))
}

fn op() -> impl Strategy<Value = CompareOp> {
    prop::sample::select(CompareOp::ALL.to_vec())
}

fn window() -> impl Strategy<Value = Option<Window>> {
    prop_oneof![
        Just(None),
        (1..90i64).prop_map(|m| Some(Window::Within(Duration(m * 60_000_000)))),
        (1..90i64).prop_map(|m| Some(Window::AfterAgo(Duration(m * 60_000_000)))),
        (1..90i64).prop_map(|m| Some(Window::BeforeAgo(Duration(m * 60_000_000)))),
    ]
}

fn leaf() -> BoxedStrategy<Expr> {
    let d = |m: i64| Duration(m * 60_000_000);
    prop_oneof![
        3 => (field_and_literal(), op()).prop_map(|((field, value), op)| Expr::Compare { field, op, value }),
        1 => field().prop_map(|field| Expr::Exists { field }),
        1 => (field_and_literal(), literal()).prop_map(|((field, a), b)| Expr::In { field, values: vec![a, b] }),
        1 => (prop::sample::select(vec!["last_seen_at", "trait.date", "trait.city"]), 0..3u8, 1..120i64).prop_map(
            move |(f, r, m)| Expr::Relative {
                field: FieldPath(f.into()),
                rel: [Relative::BeforeAgo(d(m)), Relative::AfterAgo(d(m)), Relative::Within(d(m))][r as usize],
            }
        ),
        1 => (0..EVENTS.len(), window()).prop_map(|(e, window)| Expr::Did { event: EVENTS[e].into(), filter: None, window }),
        1 => (0..EVENTS.len(), window(), op().prop_filter("numeric", |o| o.is_numeric()), 0..4u64).prop_map(
            |(e, window, op, value)| Expr::Count { event: EVENTS[e].into(), filter: None, window, op, value }
        ),
        1 => (any::<bool>(), any::<bool>()).prop_map(|(email, sub)| Expr::Consent {
            channel: if email { Channel::Email } else { Channel::Sms },
            status: if sub { ConsentIs::Subscribed } else { ConsentIs::Unsubscribed },
        }),
        1 => (0..SEGMENTS).prop_map(|s| Expr::InSegment(format!("s{s}"))),
    ]
    .boxed()
}

fn definition() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Expr::And),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Expr::Or),
            inner.prop_map(|x| Expr::Not(Box::new(x))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]
    #[test]
    fn column_wise_evaluation_equals_the_scalar_one(
        people in prop::collection::vec(person(), 0..150),
        def in definition(),
        split in 0..3usize,
    ) {
        let Ok(node) = eval::compile(&def, &mut Reg) else { return Ok(()) };
        let table = Table::of(&people, &column_keys(&node));
        let now = Timestamp(NOW);
        // One chunk, or two split on a word boundary, as the engine's threads take them.
        let cut = split * 64;
        let chunks: Vec<std::ops::Range<usize>> = if cut > 0 && cut < people.len() {
            vec![0..cut, cut..people.len()]
        } else {
            std::iter::once(0..people.len()).collect()
        };
        for rows in chunks {
            let got = evaluate(&node, &table, rows.clone(), now).expect("every column is held");
            prop_assert!(got.changes.windows(2).all(|w| w[0].0 < w[1].0), "ascending rows, each once");
            let (got, timers): (_, HashMap<usize, Timestamp>) = (got.value, got.changes.into_iter().collect());
            for row in rows {
                let p = &people[row];
                let want = p.alive && eval::eval(&node, p, now);
                prop_assert_eq!(got.get(row), want, "row {} of {:?}: {:?}", row, def, p);
                let next = if p.alive { eval::next_change(&node, p, now) } else { None };
                prop_assert_eq!(timers.get(&row).copied(), next, "timer of row {} of {:?}: {:?}", row, def, p);
            }
        }
    }
}

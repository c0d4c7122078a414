//! Property test: profiles maintained incrementally by the committer (identity merges, late events,
//! duplicates, group commits of any size) equal a naive recomputation from the stored events.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use kairos_domain::event::EventKind;
use kairos_domain::{Event, Money, Timestamp, WorkspaceId};
use kairos_engine::{Engine, SystemClock};
use kairos_store::{Store, StoredEvent};
use kairos_store_sqlite::SqliteStore;
use proptest::prelude::*;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
enum Step {
    Track {
        who: usize,
        anon: bool,
        name: usize,
        product: usize,
        qty: i64,
        price: i64,
        ts: i64,
    },
    Identify {
        who: usize,
        ts: i64,
    },
    /// An identify with an address of the person's own: it replaces the shared one (unbinding it).
    Readdress {
        who: usize,
        ts: i64,
    },
    Alias {
        who: usize,
        ts: i64,
    },
    Duplicate {
        of: usize,
    },
}

const NAMES: &[&str] = &[
    "Product Added",
    "Product Removed",
    "Order Completed",
    "Order Refunded",
    "Checkout Started",
    "Product Viewed",
    "Order Cancelled",
];

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0..4usize, any::<bool>(), 0..NAMES.len(), 0..3usize, 1..4i64, 1..5000i64, 0..50i64)
            .prop_map(|(who, anon, name, product, qty, price, ts)| Step::Track { who, anon, name, product, qty, price, ts }),
        2 => (0..4usize, 0..50i64).prop_map(|(who, ts)| Step::Identify { who, ts }),
        1 => (0..4usize, 0..50i64).prop_map(|(who, ts)| Step::Readdress { who, ts }),
        1 => (0..4usize, 0..50i64).prop_map(|(who, ts)| Step::Alias { who, ts }),
        1 => (0..100usize).prop_map(|of| Step::Duplicate { of }),
    ]
}

fn event(n: usize, kind: EventKind, user: Option<String>, anon: Option<String>, ts: i64) -> Event {
    let at = Timestamp::from_secs(1_700_000_000 + ts * 60);
    common::event(n, kind, (user, anon), at, Timestamp::from_secs(1_800_000_000))
}

fn build(steps: &[Step]) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::new();
    for (n, s) in steps.iter().enumerate() {
        let e = match *s {
            Step::Track { who, anon, name, product, qty, price, ts } => {
                let (user, anon) =
                    if anon { (None, Some(format!("anon-{who}"))) } else { (Some(format!("user-{who}")), None) };
                let mut e = event(n, EventKind::Track, user, anon, ts);
                e.name = Some(NAMES[name].to_string());
                let item = json!({"product_id": format!("p{product}"), "price": price as f64 / 100.0, "quantity": qty});
                let props = match NAMES[name] {
                    "Order Completed" | "Order Refunded" | "Order Cancelled" => {
                        json!({"total": price as f64 / 10.0, "products": [item]})
                    }
                    "Checkout Started" => json!({"products": [item]}),
                    _ => item,
                };
                e.properties = props.as_object().unwrap().clone();
                e
            }
            Step::Identify { who, ts } => {
                let mut e = event(n, EventKind::Identify, Some(format!("user-{who}")), Some(format!("anon-{who}")), ts);
                e.traits = json!({"email": format!("p{}@example.com", who % 2)}).as_object().unwrap().clone();
                e
            }
            Step::Readdress { who, ts } => {
                let mut e = event(n, EventKind::Identify, Some(format!("user-{who}")), None, ts);
                e.traits = json!({"email": format!("q{who}@example.com")}).as_object().unwrap().clone();
                e
            }
            Step::Alias { who, ts } => {
                let mut e = event(n, EventKind::Alias, Some(format!("user-{who}")), None, ts);
                e.previous_id = Some(format!("anon-{who}"));
                e
            }
            Step::Duplicate { of } => match out.get(of % out.len().max(1)) {
                Some(prev) => prev.clone(),
                None => continue,
            },
        };
        out.push(e);
    }
    out
}

/// The oracle: a deliberately simple, independent fold of a contact's stored events sorted by (timestamp, seq).
#[derive(Debug, Default, PartialEq)]
struct Expected {
    orders: u64,
    spent: i64,
    refunded: i64,
    first: Option<i64>,
    last: Option<i64>,
    seen: Option<i64>,
    cart: Vec<(String, i64, i64)>,
    cart_value: i64,
}

fn cents(v: &Value) -> i64 {
    (v.as_f64().unwrap_or(0.0) * 100.0).round() as i64
}

fn oracle(mut events: Vec<StoredEvent>) -> Expected {
    events.sort_by_key(|e| (e.event.timestamp, e.seq));
    let mut x = Expected::default();
    for s in &events {
        let e = &s.event;
        let t = e.timestamp.as_micros();
        if e.kind != EventKind::Alias {
            x.seen = Some(x.seen.map_or(t, |s| s.max(t)));
        }
        let p = &e.properties;
        let item =
            || (p["product_id"].as_str().unwrap().to_string(), cents(&p["price"]), p["quantity"].as_i64().unwrap());
        match e.name.as_deref() {
            Some("Order Completed") => {
                x.orders += 1;
                x.spent += cents(&p["total"]);
                x.first = Some(x.first.map_or(t, |f| f.min(t)));
                x.last = Some(x.last.map_or(t, |l| l.max(t)));
                x.cart.clear();
            }
            Some("Order Refunded" | "Order Cancelled") => x.refunded += cents(&p["total"]),
            Some("Product Added") => {
                let (id, price, qty) = item();
                match x.cart.iter_mut().find(|c| c.0 == id) {
                    Some(c) => *c = (id, price, c.2 + qty),
                    None => x.cart.push((id, price, qty)),
                }
            }
            Some("Product Removed") => {
                let (id, _, qty) = item();
                if let Some(pos) = x.cart.iter().position(|c| c.0 == id) {
                    if qty < x.cart[pos].2 {
                        x.cart[pos].2 -= qty;
                    } else {
                        x.cart.remove(pos);
                    }
                }
            }
            Some("Checkout Started") => {
                let items = p["products"].as_array().unwrap();
                x.cart = items
                    .iter()
                    .map(|i| {
                        (
                            i["product_id"].as_str().unwrap().to_string(),
                            cents(&i["price"]),
                            i["quantity"].as_i64().unwrap(),
                        )
                    })
                    .collect();
            }
            _ => {}
        }
    }
    x.cart_value = x.cart.iter().map(|c| c.1 * c.2).sum();
    x
}

fn all_pages<T>(mut page: impl FnMut(Option<String>) -> kairos_store::Page<T>) -> Vec<T> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let p = page(cursor);
        out.extend(p.items);
        match p.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

/// How the engine stops midway.
#[derive(Debug, Clone, Copy)]
enum Stop {
    /// `shutdown`: every waiting contact row is written first.
    Clean,
    /// As a crash: rows that wait stay unwritten and the next start replays their events (`row_wait.rs`).
    Crash,
}

/// A profile's identity fields: (contact id, user id, email, listed anonymous ids); then every identity the
/// steps can name with the contact it finds.
type Identities = (Vec<(i64, Option<String>, Option<String>, Vec<String>)>, Vec<(String, Option<i64>)>);

/// `run_case`, and when it restarts, its profiles' identity fields equal those of the same ingestion without a
/// stop: a start's replay gives the profiles of waiting rows the identities their events gave them.
fn run_and_compare(steps: Vec<Step>, chunks: Vec<usize>, restart: Option<(usize, Stop)>) -> Result<(), TestCaseError> {
    let got = run_case(steps.clone(), chunks.clone(), restart)?;
    if restart.is_some() {
        let want = run_case(steps, chunks, None)?;
        prop_assert_eq!(got, want, "identities after a {:?} differ from a run without it", restart);
    }
    Ok(())
}

/// `restart`: after how many ingest calls the engine is stopped and started again on the same store (its
/// in-memory state, such as the cart logs of `cart_log.rs`, then comes from the store).
fn run_case(steps: Vec<Step>, chunks: Vec<usize>, restart: Option<(usize, Stop)>) -> Result<Identities, TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let keys = store.create_workspace("t", Timestamp(0)).unwrap();
    let ws: WorkspaceId = store.workspaces().unwrap().into_iter().find(|w| w.1 == keys.id).unwrap().0;
    let events = build(&steps);
    let unique: std::collections::HashSet<String> = events.iter().map(|e| e.message_id.as_str().to_string()).collect();
    let store = Arc::new(store);
    let mut engine = Engine::start(store.clone(), Arc::new(SystemClock)).unwrap();
    let mut rest = events.as_slice();
    let mut sizes = chunks.iter().cycle();
    let mut calls = 0;
    while !rest.is_empty() {
        let n = (*sizes.next().unwrap()).min(rest.len());
        engine.ingest_blocking(ws, true, rest[..n].to_vec()).unwrap();
        rest = &rest[n..];
        calls += 1;
        match restart {
            Some((at, Stop::Clean)) if at == calls => engine.shutdown(),
            Some((at, Stop::Crash)) if at == calls => engine.halt_for_tests(),
            _ => continue,
        }
        engine = Engine::start(store.clone(), Arc::new(SystemClock)).unwrap();
    }
    // Rows may wait for a later commit: every acknowledged change first.
    engine.settle_blocking().unwrap();
    let contacts = all_pages(|c| engine.read(|r| r.contacts(ws, c.as_deref(), 7)).unwrap());
    let mut stored_ids: HashMap<String, usize> = HashMap::new();
    for contact in &contacts {
        let mut history = all_pages(|c| engine.read(|r| r.contact_events(contact.id, c.as_deref(), 5)).unwrap());
        // What the person and the store sent; Kairos's own events (a lifecycle stage change) are not theirs.
        history.retain(|e| !e.event.is_system());
        for e in &history {
            *stored_ids.entry(e.event.message_id.as_str().to_string()).or_default() += 1;
        }
        let want = oracle(history);
        let got = &contact.computed;
        let have = Expected {
            orders: got.orders.count,
            spent: got.orders.total_spent.cents(),
            refunded: got.orders.refunded_total.cents(),
            first: got.orders.first_at.map(Timestamp::as_micros),
            last: got.orders.last_at.map(Timestamp::as_micros),
            seen: got.last_seen_at.map(Timestamp::as_micros),
            cart: got.cart.items.iter().map(|i| (i.product_id.clone(), i.price.cents(), i.quantity)).collect(),
            cart_value: got.cart.value().cents(),
        };
        prop_assert_eq!(&have, &want, "contact {} differs from recompute", contact.id);
        let avg = if want.orders == 0 { 0 } else { (want.spent as f64 / want.orders as f64).round() as i64 };
        prop_assert_eq!(got.orders.average_value(), Money::from_cents(avg));
    }
    // Every distinct message id is stored exactly once, under exactly one live contact.
    prop_assert_eq!(stored_ids.len(), unique.len());
    prop_assert!(stored_ids.values().all(|&n| n == 1));
    // One person per user id: one live contact has it, and all of user-N's identities resolve to that one.
    for who in 0..4 {
        let want = format!("user-{who}");
        let holders = contacts.iter().filter(|c| c.user_id.as_deref() == Some(want.as_str())).count();
        prop_assert!(holders <= 1, "{} live contacts have user id {}", holders, want);
        let by_user = engine
            .read(|r| r.contact_by_identity(ws, kairos_store::IdentityKind::UserId, &format!("user-{who}")))
            .unwrap();
        if let Some(c) = by_user {
            let want = format!("user-{who}");
            prop_assert_eq!(c.user_id.as_deref(), Some(want.as_str()));
        }
    }
    use kairos_store::IdentityKind::{AnonymousId, Email, UserId};
    let mut bound = Vec::new();
    for who in 0..4 {
        let names = [
            (UserId, format!("user-{who}")),
            (AnonymousId, format!("anon-{who}")),
            (Email, format!("p{who}@example.com")),
            (Email, format!("q{who}@example.com")),
        ];
        for (kind, value) in names {
            let found = engine.read(|r| r.contact_by_identity(ws, kind, &value)).unwrap().map(|c| c.id.0);
            bound.push((value, found));
        }
    }
    engine.shutdown();
    let profiles = contacts
        .iter()
        .map(|c| {
            let email = c.email.as_ref().map(|e| e.as_str().to_string());
            (c.id.0, c.user_id.clone(), email, c.anonymous_ids.clone())
        })
        .collect();
    Ok((profiles, bound))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn incremental_profiles_equal_recompute(
        steps in prop::collection::vec(step(), 1..60),
        chunks in prop::collection::vec(1..20usize, 1..4),
        restart in prop::option::of((1..6usize, prop_oneof![Just(Stop::Clean), Just(Stop::Crash)])),
    ) {
        run_and_compare(steps, chunks, restart)?;
    }
}

/// A known shopper identifies (user id, anonymous id, email) and changes address after its row was written: the
/// identity fields wait with the fold, and a crash leaves them to the start's replay.
#[test]
fn identities_given_after_a_row_was_written_survive_a_crash() {
    let steps = vec![
        Step::Track { who: 0, anon: true, name: 5, product: 0, qty: 1, price: 100, ts: 1 },
        Step::Identify { who: 0, ts: 2 },
        Step::Identify { who: 1, ts: 3 },
        Step::Track { who: 1, anon: false, name: 2, product: 1, qty: 1, price: 300, ts: 4 },
        Step::Alias { who: 2, ts: 5 },
        Step::Readdress { who: 1, ts: 6 },
        Step::Identify { who: 3, ts: 7 },
    ];
    for at in 1..=6 {
        run_and_compare(steps.clone(), vec![1], Some((at, Stop::Crash))).unwrap();
    }
}

#[test]
fn late_cart_event_is_folded_in_timestamp_order() {
    // Removed (t=5) arrives after Added (t=10): in timestamp order the removal came first and is a no-op.
    let steps = vec![
        Step::Track { who: 0, anon: false, name: 0, product: 0, qty: 2, price: 100, ts: 10 },
        Step::Track { who: 0, anon: false, name: 1, product: 0, qty: 2, price: 100, ts: 5 },
    ];
    run_and_compare(steps.clone(), vec![1], None).unwrap();
    run_and_compare(steps.clone(), vec![1], Some((1, Stop::Clean))).unwrap();
    run_and_compare(steps, vec![1], Some((1, Stop::Crash))).unwrap();
}

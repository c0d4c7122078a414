//! Lead scores and stages derived again at start (time passed while the node was down) equal the pure
//! derivation over each whole profile: the start reads profiles held packed lite (the scalars and the traits
//! the rules read).

mod common;

use std::sync::Arc;

use kairos_domain::event::EventKind;
use kairos_domain::{Contact, Event, Timestamp, WorkspaceId};
use kairos_engine::Engine;
use kairos_segment::lead::LeadSettings;
use kairos_store_sqlite::SqliteStore;
use serde_json::json;

const DAY_SECS: i64 = 86_400;
const PEOPLE: usize = 24;

fn event(n: usize, kind: EventKind, user: &str, at: Timestamp) -> Event {
    common::event(n, kind, (Some(user.into()), None), at, at)
}

fn profiles(engine: &Engine, ws: WorkspaceId) -> Vec<Contact> {
    // Rows may wait for a later commit (a start's derivations too): every acknowledged change first.
    engine.settle_blocking().unwrap();
    let mut all = engine.read(|r| r.contacts(ws, None, 1_000)).unwrap().items;
    all.sort_by_key(|c| c.user_id.clone());
    all
}

#[test]
fn scores_derived_at_start_equal_the_derivation_over_each_whole_profile() {
    let t0 = Timestamp::from_secs(1_900_000_000);
    let (dir, ws, clock, engine) = common::engine_on_sqlite(t0);
    // Different scores (views earn points that fade), some with a birthday (a trait rule of the defaults), some
    // with orders (stages); more people than a debug build keeps decoded.
    let mut n = 0;
    for p in 0..PEOPLE {
        let user = format!("u{p:02}");
        let mut identify = event(n, EventKind::Identify, &user, t0);
        let mut traits = json!({"email": format!("{user}@example.com")});
        if p % 3 == 0 {
            traits["birthday"] = json!("1990-05-01");
        }
        identify.traits = traits.as_object().unwrap().clone();
        let mut events = vec![identify];
        for v in 0..p % 7 {
            n += 1;
            let mut e = event(n, EventKind::Track, &user, Timestamp(t0.0 - v as i64 * 1_000_000));
            e.name = Some("Product Viewed".into());
            e.properties = json!({"product_id": "p1"}).as_object().unwrap().clone();
            events.push(e);
        }
        if p % 5 == 0 {
            n += 1;
            let mut e = event(n, EventKind::Track, &user, t0);
            e.name = Some("Order Completed".into());
            e.properties = json!({"order_id": format!("o{p}"), "total": 40 * p}).as_object().unwrap().clone();
            events.push(e);
        }
        n += 1;
        engine.ingest_blocking(ws, true, events).unwrap();
    }
    let before = profiles(&engine, ws);
    assert!(before.iter().any(|c| c.lead.score > 0));
    engine.shutdown();

    // Down for 40 days: points fade, customers age.
    let t1 = clock.advance(kairos_domain::Duration::from_secs(40 * DAY_SECS));
    let store = SqliteStore::open(dir.path()).unwrap();
    let engine = Engine::start(Arc::new(store), clock.clone()).unwrap();
    let after = profiles(&engine, ws);
    let rules = LeadSettings::default();
    assert_eq!(after.len(), PEOPLE);
    let mut moved = 0;
    for (b, a) in before.iter().zip(&after) {
        let expected = rules.derive(b, t1);
        assert_eq!(a.user_id, b.user_id);
        assert_eq!((a.lead.score, a.lead.stage), (expected.score, expected.stage), "{:?}", a.user_id);
        moved += usize::from(a.lead.score != b.lead.score);
    }
    assert!(moved > PEOPLE / 3, "time while down moved the scores: {moved}");
    engine.shutdown();
}

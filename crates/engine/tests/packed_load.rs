//! A start takes each profile in its stored packed form only when that form belongs to the row's JSON (written
//! with it, by this format), and decodes the JSON otherwise; contacts read from JSON are written again with a
//! packed form, so the next start reads them packed.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use kairos_domain::event::EventKind;
use kairos_domain::{Contact, ContactId, Event, Timestamp, WorkspaceId};
use kairos_engine::Engine;
use kairos_store::Store;
use kairos_store_sqlite::SqliteStore;
use serde_json::json;

const PEOPLE: usize = 12;

fn event(n: usize, kind: EventKind, user: &str, at: Timestamp) -> Event {
    common::event(n, kind, (Some(user.into()), None), at, at)
}

fn profiles(engine: &Engine, ws: WorkspaceId) -> BTreeMap<ContactId, Contact> {
    // Rows may wait for a later commit: every acknowledged change first.
    engine.settle_blocking().unwrap();
    engine.read(|r| r.contacts(ws, None, 1_000)).unwrap().items.into_iter().map(|c| (c.id, c)).collect()
}

/// (contacts loaded packed, contacts whose JSON was decoded), each as the load gave it.
fn load(dir: &std::path::Path) -> (BTreeMap<ContactId, Contact>, BTreeMap<ContactId, Contact>) {
    let store = SqliteStore::open(dir).unwrap();
    let mut w = store.writer().unwrap();
    let (mut packed, mut decoded) = (BTreeMap::new(), BTreeMap::new());
    w.all_contacts(&mut |c| {
        let into = if c.is_packed() { &mut packed } else { &mut decoded };
        into.insert(c.id(), c.into_contact().unwrap());
    })
    .unwrap();
    (packed, decoded)
}

fn city(c: &Contact) -> &str {
    c.traits.get("city").and_then(|v| v.as_str()).unwrap_or("")
}

#[test]
fn a_start_reads_a_packed_profile_only_when_it_belongs_to_the_rows_json() {
    let t0 = Timestamp::from_secs(1_900_000_000);
    let (dir, ws, clock, engine) = common::engine_on_sqlite(t0);
    let mut n = 0;
    for p in 0..PEOPLE {
        let user = format!("u{p:02}");
        let mut identify = event(n, EventKind::Identify, &user, t0);
        identify.traits = json!({"email": format!("{user}@example.com"), "city": "Turku"}).as_object().unwrap().clone();
        n += 1;
        let mut added = event(n, EventKind::Track, &user, t0);
        added.name = Some("Product Added".into());
        added.properties = json!({"product_id": "p1", "price": 12.5, "quantity": p + 1}).as_object().unwrap().clone();
        n += 1;
        engine.ingest_blocking(ws, true, vec![identify, added]).unwrap();
    }
    let written = profiles(&engine, ws);
    engine.shutdown();
    let (packed, decoded) = load(dir.path());
    assert_eq!((packed, decoded.len()), (written.clone(), 0), "every profile written loads packed, as written");

    // An older build's rows (no packed form), and rows whose JSON was edited by hand after their packed form was
    // written: both must be read from their JSON.
    let older = |id: &ContactId| id.0 % 3 == 0;
    let edited = |id: &ContactId| id.0 % 3 == 1;
    kairos_store_sqlite::testing::age_and_edit_contacts(dir.path(), "Oulu").unwrap();
    let (packed, decoded) = load(dir.path());
    assert!(packed.keys().all(|id| !older(id) && !edited(id)), "{:?}", packed.keys());
    assert_eq!(decoded.len(), written.keys().filter(|id| older(id) || edited(id)).count());
    assert!(decoded.iter().all(|(id, c)| edited(id) == (city(c) == "Oulu")));

    // The engine holds what the JSON says: a change to an edited contact writes its profile back with the edit.
    let engine = Engine::start(Arc::new(SqliteStore::open(dir.path()).unwrap()), clock.clone()).unwrap();
    let mut viewed = Vec::new();
    for c in written.values().filter(|c| edited(&c.id)) {
        let mut e = event(n, EventKind::Track, c.user_id.as_deref().unwrap(), t0);
        e.name = Some("Product Viewed".into());
        e.properties = json!({"product_id": "p2"}).as_object().unwrap().clone();
        n += 1;
        viewed.push(e);
    }
    engine.ingest_blocking(ws, true, viewed).unwrap();
    let after = profiles(&engine, ws);
    assert!(after.iter().all(|(id, c)| city(c) == if edited(id) { "Oulu" } else { "Turku" }));
    // A tick writes the older build's rows again, with their packed form.
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(engine.tick()).unwrap();
    engine.shutdown();
    let (packed, decoded) = load(dir.path());
    assert_eq!((packed, decoded.len()), (after, 0), "after the tick every profile loads packed, as it reads");
}

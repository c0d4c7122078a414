//! The PostgreSQL writer buffers inserted events and writes them at commit: within the transaction every read
//! of the writer still sees them, a rollback drops them, an insert outside a transaction is written at once, and
//! events that cannot be written at commit leave nothing of their transaction behind.

use kairos_domain::{Contact, ContactId, Event, JsonMap, SystemEvent, Timestamp, WorkspaceId};
use kairos_store::{Store, StoreError};
use kairos_store_postgres::PgStore;
use kairos_store_postgres::testing::TestDatabase;

/// A store on a fresh database (dropped after the store: tuple fields drop in order).
fn open() -> (Box<dyn Store>, TestDatabase) {
    let db = TestDatabase::fresh();
    let store = PgStore::open(&db.url).expect("open the store");
    (Box::new(store), db)
}

fn at(s: i64) -> Timestamp {
    Timestamp::from_micros(1_900_000_000_000_000 + s * 1_000_000)
}

fn event(id: &str, name: &str, s: i64, props: serde_json::Value) -> Event {
    let mut e = Event::system(name, id.to_string(), props.as_object().cloned().unwrap_or_else(JsonMap::new), at(s));
    e.received_at = at(s);
    e
}

fn insert(w: &mut dyn kairos_store::WriteTx, ws: WorkspaceId, who: i64, seq: i64, e: &Event) {
    w.insert_event(ws, ContactId(who), seq, e, &serde_json::to_string(e).unwrap()).expect("insert");
}

fn ids(events: Vec<Event>) -> Vec<String> {
    events.into_iter().map(|e| e.message_id.as_str().to_string()).collect()
}

/// A late cart event's read of the cart's events merges the written rows with the buffered ones, in (timestamp,
/// sequence) order, without cutting the buffer's `COPY` short.
#[test]
fn cart_events_come_from_the_table_and_the_buffer() {
    let (store, _db) = open();
    store.create_workspace("Shop", at(0)).unwrap();
    let ws = store.workspaces().unwrap()[0].0;
    let none = || serde_json::json!({});
    let mut w = store.writer().unwrap();
    let mut tx = w.transaction().unwrap();
    insert(&mut *tx, ws, 1, 1, &event("e1", "Checkout Started", 20, none()));
    insert(&mut *tx, ws, 1, 2, &event("e2", "Order Completed", 10, none()));
    insert(&mut *tx, ws, 1, 3, &event("e3", "Product Viewed", 12, none()));
    assert_eq!(tx.contact_events_ordered(ContactId(1)).unwrap().len(), 3, "written by this read");
    insert(&mut *tx, ws, 1, 4, &event("e4", "Product Added", 15, none()));
    insert(&mut *tx, ws, 1, 5, &event("e5", "Cart Viewed", 30, none()));
    insert(&mut *tx, ws, 2, 6, &event("e6", "Product Added", 16, none()));
    insert(&mut *tx, ws, 1, 7, &event("e7", "Product Added", 20, none()));
    assert_eq!(ids(tx.contact_cart_events(ContactId(1), None).unwrap()), ["e2", "e4", "e1", "e7", "e5"]);
    assert_eq!(ids(tx.contact_cart_events(ContactId(1), Some(at(20))).unwrap()), ["e1", "e7", "e5"]);
    tx.commit().unwrap();
    let mut w = store.writer().unwrap();
    let mut tx = w.transaction().unwrap();
    assert_eq!(ids(tx.contact_cart_events(ContactId(1), Some(at(15))).unwrap()), ["e4", "e1", "e7", "e5"]);
    assert_eq!(ids(tx.contact_cart_events(ContactId(2), None).unwrap()), ["e6"]);
}

/// Each read below is the first statement after an insert it must see.
#[test]
fn the_writer_reads_its_buffered_events() {
    let (store, _db) = open();
    store.create_workspace("Shop", at(0)).unwrap();
    let ws = store.workspaces().unwrap()[0].0;
    let none = || serde_json::json!({});
    let mut w = store.writer().unwrap();
    let mut tx = w.transaction().unwrap();
    let sent = serde_json::json!({"message_id": "m1", "channel": "sms"});
    insert(&mut *tx, ws, 1, 1, &event("e1", SystemEvent::MessageSent.as_str(), 10, sent));
    insert(&mut *tx, ws, 1, 2, &event("e2", "Product Viewed", 5, none()));
    assert_eq!(ids(tx.contact_events_ordered(ContactId(1)).unwrap()), ["e2", "e1"]);
    insert(&mut *tx, ws, 2, 3, &event("e3", "Checkout Started", 20, none()));
    assert!(tx.has_event_named(ws, "Checkout Started").unwrap());
    insert(&mut *tx, ws, 2, 4, &event("e4", "Order Completed", 25, none()));
    let mut named = 0;
    tx.events_named(ws, "Order Completed", &mut |_, _| named += 1).unwrap();
    assert_eq!(named, 1);
    insert(&mut *tx, ws, 2, 5, &event("e5", "Product Viewed", 30, none()));
    let mut since = 0;
    tx.events_since(ws, at(30), &mut |_, _| since += 1).unwrap();
    assert_eq!(since, 1);
    insert(&mut *tx, ws, 2, 6, &event("e6", "Product Viewed", 35, none()));
    let mut window = Vec::new();
    tx.recent_message_ids(at(0), &mut |_, id, _| window.push(id.to_string())).unwrap();
    assert_eq!(window, ["e6", "e5", "e4", "e3", "e2", "e1"]);
    insert(&mut *tx, ws, 2, 7, &event("e7", "Product Viewed", 40, none()));
    assert_eq!(tx.max_event_seq().unwrap(), 7);
    insert(&mut *tx, ws, 2, 8, &event("e8", "Product Viewed", 45, none()));
    tx.reassign_events(ContactId(2), ContactId(1)).unwrap();
    assert_eq!(ids(tx.contact_events_ordered(ContactId(1)).unwrap()), ["e2", "e1", "e3", "e4", "e5", "e6", "e7", "e8"]);
    assert_eq!(store.read(|r| r.last_event_seq()).unwrap(), 0, "not committed yet");
    tx.commit().unwrap();

    let r = store.reader().unwrap();
    assert_eq!(r.last_event_seq().unwrap(), 8);
    let sent = r.message_event_rows(ws, SystemEvent::MessageSent, at(0), at(100), true).unwrap();
    assert_eq!(sent.iter().map(|e| e.message.message_id.as_deref()).collect::<Vec<_>>(), [Some("m1")]);
}

#[test]
fn rolled_back_events_are_dropped_and_lone_inserts_are_written_at_once() {
    let (store, _db) = open();
    store.create_workspace("Shop", at(0)).unwrap();
    let ws = store.workspaces().unwrap()[0].0;
    let mut w = store.writer().unwrap();
    {
        let mut tx = w.transaction().unwrap();
        insert(&mut *tx, ws, 1, 1, &event("gone", "Product Viewed", 1, serde_json::json!({})));
        tx.rollback().unwrap();
    }
    let tx = w.transaction().unwrap();
    tx.commit().unwrap();
    assert_eq!(store.read(|r| r.last_event_seq()).unwrap(), 0, "the rolled-back event is not written later");

    // No transaction open: the insert commits on its own, as every other statement does.
    insert(&mut *w, ws, 1, 1, &event("alone", "Product Viewed", 1, serde_json::json!({})));
    assert_eq!(store.read(|r| r.last_event_seq()).unwrap(), 1);
}

#[test]
fn events_that_cannot_be_written_leave_nothing_of_their_transaction() {
    let (store, _db) = open();
    store.create_workspace("Shop", at(0)).unwrap();
    let ws = store.workspaces().unwrap()[0].0;
    let mut w = store.writer().unwrap();
    let mut tx = w.transaction().unwrap();
    insert(&mut *tx, ws, 1, 1, &event("e1", "Product Viewed", 1, serde_json::json!({})));
    tx.commit().unwrap();

    let mut tx = w.transaction().unwrap();
    tx.upsert_contact(&Contact::new(ContactId(1), ws, at(1))).unwrap();
    insert(&mut *tx, ws, 1, 1, &event("again", "Product Viewed", 2, serde_json::json!({})));
    assert!(matches!(tx.commit(), Err(StoreError::Conflict(_))), "the sequence is taken");
    assert!(store.read(|r| r.contact(ws, ContactId(1))).unwrap().is_none(), "the contact was not committed");

    // The writer goes on.
    let mut tx = w.transaction().unwrap();
    insert(&mut *tx, ws, 1, 2, &event("e2", "Product Viewed", 2, serde_json::json!({})));
    tx.commit().unwrap();
    assert_eq!(store.read(|r| r.last_event_seq()).unwrap(), 2);
}

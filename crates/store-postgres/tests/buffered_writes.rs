//! The PostgreSQL writer buffers identity changes and writes contacts in one statement: a lookup in the same
//! transaction sees the changes made before it, the last change of an identity wins, a rollback drops them, and
//! a change made outside a transaction is written at once.

use kairos_domain::{Contact, ContactId, Timestamp, WorkspaceId};
use kairos_store::{IdentityKind, Store};
use kairos_store_postgres::PgStore;
use kairos_store_postgres::testing::TestDatabase;

fn open() -> (Box<dyn Store>, TestDatabase) {
    let db = TestDatabase::fresh();
    let store = PgStore::open(&db.url).expect("open the store");
    (Box::new(store), db)
}

#[test]
fn identity_changes_are_seen_in_order_and_dropped_on_rollback() {
    let (store, _db) = open();
    store.create_workspace("Shop", Timestamp::from_micros(1)).unwrap();
    let ws = WorkspaceId(store.workspaces().unwrap()[0].0.0);
    let email = IdentityKind::Email;
    let mut w = store.writer().unwrap();
    let mut tx = w.transaction().unwrap();
    tx.set_identity(ws, email, "a@x.io", ContactId(1)).unwrap();
    assert_eq!(tx.lookup_identity(ws, email, "a@x.io").unwrap(), Some(ContactId(1)), "seen before commit");
    tx.set_identity(ws, email, "b@x.io", ContactId(2)).unwrap();
    tx.remove_identity(ws, email, "b@x.io").unwrap();
    tx.set_identity(ws, email, "c@x.io", ContactId(3)).unwrap();
    tx.set_identity(ws, email, "c@x.io", ContactId(4)).unwrap();
    tx.remove_identity(ws, email, "a@x.io").unwrap();
    tx.set_identity(ws, email, "a@x.io", ContactId(5)).unwrap();
    let contacts: Vec<Contact> = (1..=3).map(|i| Contact::new(ContactId(i), ws, Timestamp::from_micros(i))).collect();
    tx.upsert_contacts(&contacts.iter().collect::<Vec<_>>()).unwrap();
    tx.commit().unwrap();

    let mut tx = w.transaction().unwrap();
    assert_eq!(tx.lookup_identity(ws, email, "a@x.io").unwrap(), Some(ContactId(5)));
    assert_eq!(tx.lookup_identity(ws, email, "b@x.io").unwrap(), None, "removed after it was set");
    assert_eq!(tx.lookup_identity(ws, email, "c@x.io").unwrap(), Some(ContactId(4)), "the last change wins");
    assert!(tx.load_contact(ContactId(2)).unwrap().is_some() && tx.load_contact(ContactId(3)).unwrap().is_some());
    tx.set_identity(ws, email, "d@x.io", ContactId(6)).unwrap();
    tx.rollback().unwrap();

    let mut tx = w.transaction().unwrap();
    assert_eq!(tx.lookup_identity(ws, email, "d@x.io").unwrap(), None, "a rollback drops buffered changes");
    tx.commit().unwrap();
    // Outside a transaction a change is written at once (another connection sees it).
    w.set_identity(ws, email, "e@x.io", ContactId(7)).unwrap();
    let r = store.reader().unwrap();
    assert!(r.contact_by_identity(ws, email, "e@x.io").is_ok());
    let mut w2 = store.writer().unwrap();
    assert_eq!(w2.lookup_identity(ws, email, "e@x.io").unwrap(), Some(ContactId(7)));
}

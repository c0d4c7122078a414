//! Leases between nodes on one database (`kairos_store::lease`): one holder at a time, taken over only once it
//! expired (never while its holder is inside a transaction), given up at once on a clean stop, and fenced: once
//! a lease moved, its former holder's writers cannot commit anything.

use std::time::Duration;

use kairos_domain::{Contact, ContactId, Timestamp, WorkspaceId};
use kairos_store::{Lease, Store};
use kairos_store_postgres::PgStore;
use kairos_store_postgres::testing::TestDatabase;

const SHORT: Duration = Duration::from_millis(300);
const LONG: Duration = Duration::from_secs(60);

/// Two nodes' stores on one fresh database.
fn two_nodes() -> (PgStore, PgStore, TestDatabase) {
    let db = TestDatabase::fresh();
    let a = PgStore::open(&db.url).expect("open the store");
    let b = PgStore::open(&db.url).expect("open the store again");
    (a, b, db)
}

fn acquire(store: &PgStore, node: &str, ttl: Duration) -> Option<Lease> {
    let address = format!("http://{node}.local:8080");
    store.leases().unwrap().try_acquire("committer", node, &address, ttl).unwrap()
}

/// Writes one contact in one transaction of `w`.
fn write_one(w: &mut dyn kairos_store::Writer, ws: WorkspaceId, id: i64) -> kairos_store::Result<()> {
    let mut tx = w.transaction()?;
    let c = Contact::new(ContactId(id), ws, Timestamp::from_micros(id));
    tx.upsert_contacts(&[&c])?;
    tx.commit()
}

#[test]
fn one_holder_at_a_time_and_a_survivor_takes_an_expired_lease() {
    let (a, b, _db) = two_nodes();
    let first = acquire(&a, "a", SHORT).expect("a free lease is taken");
    assert_eq!(first.epoch, 1);
    assert_eq!(acquire(&b, "b", SHORT), None, "held and not expired");
    let seen = b.leases().unwrap().holder("committer").unwrap().expect("a holder");
    assert_eq!((seen.holder.as_str(), seen.address.as_str(), seen.expired), ("a", "http://a.local:8080", false));
    assert!(a.leases().unwrap().renew(&first, SHORT).unwrap(), "the holder renews");

    std::thread::sleep(SHORT + Duration::from_millis(200));
    assert!(b.leases().unwrap().holder("committer").unwrap().unwrap().expired);
    let second = acquire(&b, "b", LONG).expect("an expired lease is taken over");
    assert_eq!(second.epoch, 2, "every change of holder raises the epoch");
    assert!(!a.leases().unwrap().renew(&first, SHORT).unwrap(), "the former holder learns it lost the lease");
    assert_eq!(acquire(&a, "a", SHORT), None);
}

#[test]
fn a_former_holder_cannot_commit_once_its_lease_moved() {
    let (a, b, _db) = two_nodes();
    a.create_workspace("Shop", Timestamp::from_micros(1)).unwrap();
    let ws = WorkspaceId(a.workspaces().unwrap()[0].0.0);
    let lease = acquire(&a, "a", SHORT).unwrap();
    a.leases().unwrap().fence_writers(&lease);
    let mut wa = a.writer().unwrap();
    write_one(&mut *wa, ws, 1).expect("the holder writes");

    // Expired while the holder is inside a transaction: a claim skips it (the holder is alive) ...
    wa.begin().unwrap();
    std::thread::sleep(SHORT + Duration::from_millis(200));
    assert_eq!(acquire(&b, "b", LONG), None, "a holder inside a transaction is never taken over");
    wa.rollback().unwrap();
    // ... and takes it once the holder is between transactions.
    let taken = acquire(&b, "b", LONG).expect("taken over");
    b.leases().unwrap().fence_writers(&taken);

    let err = write_one(&mut *wa, ws, 2).expect_err("fenced");
    assert!(matches!(err, kairos_store::StoreError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains("lease"), "{err}");
    let mut wb = b.writer().unwrap();
    write_one(&mut *wb, ws, 3).expect("the new holder writes");
    let r = b.reader().unwrap();
    let stored: Vec<bool> = (1..=3).map(|id| r.contact(ws, ContactId(id)).unwrap().is_some()).collect();
    assert_eq!(stored, vec![true, false, true], "nothing of the fenced writer was stored");
}

#[test]
fn a_released_lease_is_taken_at_once() {
    let (a, b, _db) = two_nodes();
    let lease = acquire(&a, "a", LONG).unwrap();
    assert_eq!(acquire(&b, "b", LONG), None);
    a.leases().unwrap().release(&lease).unwrap();
    let taken = acquire(&b, "b", LONG).expect("a released lease is free");
    assert_eq!(taken.epoch, lease.epoch + 1);
}

#[test]
fn a_node_restarted_on_the_holders_address_takes_the_lease_back_at_once() {
    let (a, b, _db) = two_nodes();
    let before = acquire(&a, "a", LONG).unwrap();
    assert_eq!(acquire(&b, "b", LONG), None, "another address waits for the expiry");
    let again = b.leases().unwrap().try_acquire("committer", "a-restarted", "http://a.local:8080", LONG).unwrap();
    let again = again.expect("the holder's address is this node's now: the holder is gone");
    assert_eq!(again.epoch, before.epoch + 1);
    assert!(!a.leases().unwrap().renew(&before, LONG).unwrap(), "the old process is fenced off");
}

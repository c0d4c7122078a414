//! A young table's statistics follow its growth: the store analyses a table once it has doubled since it was
//! last measured, long before autovacuum would (see `src/analyze.rs`: stale statistics made the identity look-up
//! scan every identity of a kind and ingestion ran at a tenth of its speed for the first minute of a store).

use std::time::{Duration, Instant};

use kairos_domain::{ContactId, Timestamp};
use kairos_store::{IdentityKind, Store};
use kairos_store_postgres::PgStore;
use kairos_store_postgres::testing::{TestDatabase, analysed_rows, without_autovacuum};

fn add_identities(store: &PgStore, from: i64, to: i64) {
    let ws = store.workspaces().unwrap()[0].0;
    let mut w = store.writer().unwrap();
    let mut tx = w.transaction().unwrap();
    for i in from..to {
        tx.set_identity(ws, IdentityKind::AnonymousId, &format!("anon-{i}"), ContactId(i)).unwrap();
    }
    tx.commit().unwrap();
}

/// Waits until the last analysis of `identities` counted at least `rows`, or panics after `within`.
fn analysed_at_least(url: &str, rows: f64, within: Duration) {
    let started = Instant::now();
    loop {
        let counted = analysed_rows(url, "identities").unwrap();
        if counted >= rows {
            return;
        }
        assert!(started.elapsed() < within, "identities analysed with {counted} rows, expected {rows} by now");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_table_is_analysed_each_time_it_doubles() {
    let db = TestDatabase::fresh();
    let store = PgStore::open(&db.url).unwrap();
    without_autovacuum(&db.url, "identities").unwrap();
    store.create_workspace("Shop", Timestamp::from_micros(1_900_000_000_000_000)).unwrap();
    let background = store.start_background().unwrap();
    add_identities(&store, 0, 3_000);
    analysed_at_least(&db.url, 3_000.0, Duration::from_secs(20));
    add_identities(&store, 3_000, 10_000);
    analysed_at_least(&db.url, 10_000.0, Duration::from_secs(20));
    drop(background);
    // Stopped: the table doubles again and is left to autovacuum (off here).
    add_identities(&store, 10_000, 25_000);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(analysed_rows(&db.url, "identities").unwrap(), 10_000.0);
}

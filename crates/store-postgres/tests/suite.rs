//! The backend test suite of `kairos-store`, on PostgreSQL: one test per case, each on a fresh database of the
//! server `KAIROS_TEST_DATABASE_URL` names (`./test.sh` starts a throwaway one with `scripts/pg.sh`; by hand:
//! `eval "$(scripts/pg.sh start)"`).

use kairos_store::suite::Opened;
use kairos_store_postgres::PgStore;
use kairos_store_postgres::testing::TestDatabase;

fn open() -> Opened {
    let db = TestDatabase::fresh();
    let store = PgStore::open(&db.url).expect("open the store");
    Opened::new(Box::new(store), Box::new(db))
}

kairos_store::store_suite!(open);

/// The logical schema of `kairos_store::copy` is this database's: same tables, columns and types.
#[test]
fn the_database_matches_the_logical_schema() {
    let db = TestDatabase::fresh();
    PgStore::open(&db.url).expect("open the store");
    let got: Vec<_> = kairos_store_postgres::testing::columns(&db.url)
        .expect("read the catalog")
        .into_iter()
        .filter(|(table, _, _)| !kairos_store_postgres::RUNTIME_TABLES.contains(&table.as_str()))
        .collect();
    let want: Vec<(String, String, String)> = kairos_store::copy::TABLES
        .iter()
        .flat_map(|t| {
            t.columns.iter().map(|(c, ty)| {
                let sql = match ty {
                    kairos_store::copy::ColType::Int => "bigint",
                    kairos_store::copy::ColType::Text => "text",
                    kairos_store::copy::ColType::Bytes => "bytea",
                    kairos_store::copy::ColType::Bool => "boolean",
                };
                (t.name.to_string(), c.to_string(), sql.to_string())
            })
        })
        .collect();
    let mut want_sorted = want.clone();
    want_sorted.sort();
    let mut got_sorted = got.clone();
    got_sorted.sort();
    assert_eq!(got_sorted, want_sorted);
}

/// The committer sweeps a group's identities before resolving them only where a batch of look-ups is one
/// round trip: here (`= ANY($3)`), not on the embedded store, where the sweep was a second look-up per claim.
#[test]
fn identity_lookups_are_batched_here() {
    let db = TestDatabase::fresh();
    let store = PgStore::open(&db.url).expect("open the store");
    let w = kairos_store::Store::writer(&store).expect("writer");
    assert!(w.batches_identity_lookups());
}

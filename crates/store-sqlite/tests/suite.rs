//! The backend test suite of `kairos-store`, on SQLite: one test per case, each on a fresh database in a
//! temporary directory.

use kairos_store::suite::Opened;
use kairos_store_sqlite::SqliteStore;

fn open() -> Opened {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(dir.path()).expect("open the store");
    Opened::new(Box::new(store), Box::new(dir))
}

kairos_store::store_suite!(open);

#[test]
fn run_all_runs_every_case() {
    kairos_store::suite::run_all(open);
}

//! The backend test suite of `kairos-store`, on PostgreSQL: one test per case, each on a fresh database of the
//! server `KAIROS_TEST_DATABASE_URL` names (`./test.sh` starts a throwaway one with `scripts/pg.sh`; by hand:
//! `eval "$(scripts/pg.sh start)"`).

use kairos_store::suite::Opened;
use kairos_store_postgres::PgStore;
use kairos_store_postgres::testing::{TEST_URL_VAR, TestDatabase, test_server_url};

fn open() -> Opened {
    let server = test_server_url()
        .unwrap_or_else(|| panic!("{TEST_URL_VAR} is not set: run `eval \"$(scripts/pg.sh start)\"` first"));
    let db = TestDatabase::create(&server).expect("create a test database");
    let store = PgStore::open(&db.url).expect("open the store");
    Opened::new(Box::new(store), Box::new(db))
}

kairos_store::store_suite!(open);

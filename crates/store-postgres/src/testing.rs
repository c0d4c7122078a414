//! For tests: a fresh, empty database on the server `KAIROS_TEST_DATABASE_URL` names (`scripts/pg.sh start`
//! prints it), dropped again when its guard goes.

use std::sync::atomic::{AtomicU64, Ordering};

use kairos_store::{Result, StoreError};

use crate::conn::Conn;

/// The variable naming the test server (a URL to its maintenance database, e.g. `postgres://postgres@127.0.0.1:5433/postgres`).
pub const TEST_URL_VAR: &str = "KAIROS_TEST_DATABASE_URL";

/// A database created for one test; dropped (with its connections) when this is dropped.
pub struct TestDatabase {
    admin: postgres::Config,
    name: String,
    /// The URL of the new database.
    pub url: String,
}

/// The test server's URL, or None when the variable is unset (PostgreSQL tests are then skipped, loudly).
pub fn test_server_url() -> Option<String> {
    std::env::var(TEST_URL_VAR).ok().filter(|u| !u.is_empty())
}

impl TestDatabase {
    /// A new empty database on the test cluster [`TEST_URL_VAR`] names (panics, saying how to start one, when
    /// it is not set).
    pub fn fresh() -> TestDatabase {
        let server = test_server_url()
            .unwrap_or_else(|| panic!("{TEST_URL_VAR} is not set: run `eval \"$(scripts/pg.sh start)\"` first"));
        TestDatabase::create(&server).expect("create a test database")
    }

    /// Creates an empty database named after this process and a counter on the server at `server_url`.
    pub fn create(server_url: &str) -> Result<TestDatabase> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let admin: postgres::Config =
            server_url.parse().map_err(|e| StoreError::Unavailable(format!("bad {TEST_URL_VAR}: {e}")))?;
        let name = format!(
            "kairos_t_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>()
        );
        crate::off_runtime(|| Conn::connect(&admin)?.batch(&format!("CREATE DATABASE {name}")))?;
        let url = with_database(server_url, &name);
        Ok(TestDatabase { admin, name, url })
    }
}

impl TestDatabase {
    /// Keeps the database after this handle goes (it lives as long as the test cluster); returns its URL.
    pub fn keep(self) -> String {
        let url = self.url.clone();
        std::mem::forget(self);
        url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        crate::off_runtime(|| {
            if let Ok(mut c) = Conn::connect(&self.admin) {
                let _ = c.batch(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
            }
        });
    }
}

/// `url` with its database replaced by `name` (query parameters kept).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// (table, column, type) of every column of the database at `url` but the migrations' own table.
pub fn columns(url: &str) -> Result<Vec<(String, String, String)>> {
    let config: postgres::Config = url.parse().map_err(|e: postgres::Error| StoreError::Unavailable(e.to_string()))?;
    let rows = crate::off_runtime(|| {
        Conn::connect(&config)?.query_dyn(
            "SELECT table_name::TEXT, column_name::TEXT, data_type::TEXT FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name != 'schema_migrations'",
            &[],
        )
    })?;
    rows.iter().map(|r| Ok((crate::get(r, 0)?, crate::get(r, 1)?, crate::get(r, 2)?))).collect()
}

fn connect(url: &str) -> Result<Conn> {
    let config: postgres::Config = url.parse().map_err(|e: postgres::Error| StoreError::Unavailable(e.to_string()))?;
    Conn::connect(&config)
}

/// The tables of the database at `url`, sorted.
pub fn table_names(url: &str) -> Result<Vec<String>> {
    crate::off_runtime(|| {
        let rows = connect(url)?
            .query_dyn("SELECT tablename::TEXT FROM pg_tables WHERE schemaname = 'public' ORDER BY 1", &[])?;
        rows.iter().map(|r| crate::get(r, 0)).collect()
    })
}

/// (how many migrations are recorded, the highest version) in the database at `url`.
pub fn migrations_applied(url: &str) -> Result<(i64, i64)> {
    crate::off_runtime(|| {
        let r =
            connect(url)?.query_one_dyn("SELECT count(*), COALESCE(max(version), 0) FROM schema_migrations", &[])?;
        Ok((crate::get(&r, 0)?, crate::get(&r, 1)?))
    })
}

/// Records a schema version as applied (as a newer build would have).
pub fn record_schema_version(url: &str, version: i64) -> Result<()> {
    crate::off_runtime(|| {
        connect(url)?
            .execute_dyn("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)", &[&version])
            .map(|_| ())
    })
}

/// How many workspaces the database at `url` holds.
pub fn workspace_count(url: &str) -> Result<i64> {
    crate::off_runtime(|| crate::get(&connect(url)?.query_one_dyn("SELECT count(*) FROM workspaces", &[])?, 0))
}

/// A login role with no privileges beyond connecting (created anew), on the server at `server_url`.
pub fn create_plain_role(server_url: &str, name: &str) -> Result<()> {
    crate::off_runtime(|| connect(server_url)?.batch(&format!("DROP ROLE IF EXISTS {name}; CREATE ROLE {name} LOGIN")))
}

/// Drops a role made by [`create_plain_role`].
pub fn drop_role(server_url: &str, name: &str) -> Result<()> {
    crate::off_runtime(|| connect(server_url)?.batch(&format!("DROP ROLE IF EXISTS {name}")))
}

/// Writes a stored event whose JSON is `data` (e.g. unreadable) into the database at `url`, for the same
/// workspace, contact, kind and name as the first stored event and 1 ms before it, with message id `poison` and
/// the next sequence (as `kairos_store_sqlite::testing::insert_raw_event_beside_first` does). The server must be
/// stopped.
pub fn insert_raw_event_beside_first(url: &str, data: &str) -> Result<()> {
    crate::off_runtime(|| {
        connect(url)?
            .execute_dyn(
                "INSERT INTO events (seq, workspace_id, contact_id, message_id, kind, name, ts, received_at, data, system)
                 SELECT (SELECT MAX(seq) + 1 FROM events), workspace_id, contact_id, 'poison', kind, name, ts - 1000,
                     received_at, $1, system
                 FROM events ORDER BY seq LIMIT 1",
                &[&data],
            )
            .and_then(|n| match n {
                1 => Ok(()),
                _ => Err(StoreError::corrupt("events", "there is no stored event to put the raw one beside")),
            })
    })
}

/// Turns autovacuum off for `table` of the database at `url`, so only Kairos analyses it.
pub fn without_autovacuum(url: &str, table: &str) -> Result<()> {
    crate::off_runtime(|| connect(url)?.batch(&format!("ALTER TABLE {table} SET (autovacuum_enabled = false)")))
}

/// The rows the last analysis of `table` counted (`pg_class.reltuples`: -1 before the first one).
pub fn analysed_rows(url: &str, table: &str) -> Result<f64> {
    crate::off_runtime(|| {
        let r = connect(url)?
            .query_one_dyn("SELECT reltuples::float8 FROM pg_class WHERE relname = $1 AND relkind = 'r'", &[&table])?;
        crate::get(&r, 0)
    })
}

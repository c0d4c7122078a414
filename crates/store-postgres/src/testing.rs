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

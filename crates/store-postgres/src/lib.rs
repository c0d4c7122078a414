//! The PostgreSQL backend of `kairos-store` (`--database-url postgres://...`): a server database that several
//! Kairos nodes can share.
//!
//! Every SQL statement and migration of the PostgreSQL store is in this crate, one file per aggregate
//! (`events.rs`, `contacts.rs`, ...: the writer's and the readers' statements side by side), plus the schema
//! (`migrations.rs`) and the connections (`conn.rs`). It passes the shared store suite of `kairos-store`
//! (`tests/suite.rs`), the same cases the SQLite backend passes.
#![expect(
    clippy::disallowed_types,
    reason = "the one crate that may name the PostgreSQL driver: the workspace clippy.toml disallows it everywhere \
              else, and crates/kairos/tests/boundaries.rs checks the sources"
)]

mod analyze;
mod campaigns;
mod conn;
mod contacts;
mod copy;
mod coupons;
mod erasure;
mod events;
mod flows;
mod leases;
mod messages;
mod migrations;
mod products;
mod reports;
mod rows;
mod secrets;
mod segments;
mod settings;
mod templates;
pub mod testing;
mod users;
mod workspaces;

use std::cell::{RefCell, RefMut};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use kairos_store::{Background, NewWorkspace, Reads, Result, Store, StoreError, Writer};

use conn::{Conn, Pooled, ReadPool};
pub use migrations::{RUNTIME_TABLES, SCHEMA_VERSION};

/// Read connections the pool keeps open between queries (more are opened while all are busy).
const READ_POOL_CONNECTIONS_KEPT: usize = 8;
/// How long connecting may take before the start fails with a clear error.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A PostgreSQL database: where the committer's connection and the read connections come from.
pub struct PgStore {
    config: postgres::Config,
    reads: ReadPool,
    /// The lease writers fence their transactions with, once this node holds one (`kairos_store::lease`).
    fence: Arc<RwLock<Option<kairos_store::Lease>>>,
    leases: Arc<leases::PgLeases>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config holds the password: never printed.
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`), applies pending migrations, and
    /// checks that the database answers. Errors name the problem (bad URL, unreachable server, refused login,
    /// missing privileges, a schema from a newer build) and leave the database as it was.
    pub fn open(url: &str) -> Result<PgStore> {
        off_runtime(|| Self::open_here(url))
    }

    fn open_here(url: &str) -> Result<PgStore> {
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Unavailable(format!("the database url is not a valid PostgreSQL url: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name("kairos");
        let mut conn = Conn::connect(&config)?;
        migrations::migrate(&mut conn)?;
        let fence = Arc::new(RwLock::new(None));
        let leases = Arc::new(leases::PgLeases::new(config.clone(), fence.clone()));
        Ok(PgStore { reads: ReadPool::new(config.clone()), config, fence, leases })
    }

    /// The committer's connection.
    pub fn pg_writer(&self) -> Result<PgWriter> {
        Ok(PgWriter {
            conn: Conn::connect(&self.config)?,
            config: self.config.clone(),
            open: false,
            pending_events: Default::default(),
            pending_identities: Default::default(),
            fence: self.fence.read().unwrap_or_else(|p| p.into_inner()).clone(),
        })
    }

    /// A connection beside the committer (workspaces, users): each statement commits on its own.
    pub(crate) fn side(&self) -> Result<Pooled<'_>> {
        self.reads.get()
    }
}

impl Store for PgStore {
    fn writer(&self) -> Result<Box<dyn Writer>> {
        Ok(Box::new(self.pg_writer()?))
    }
    fn reader(&self) -> Result<Box<dyn Reads + '_>> {
        Ok(Box::new(PgReader { conn: RefCell::new(self.reads.get()?) }))
    }
    fn create_workspace(&self, name: &str, now: kairos_domain::Timestamp) -> Result<NewWorkspace> {
        workspaces::create(self, name, now)
    }
    fn workspaces(&self) -> Result<Vec<(kairos_domain::WorkspaceId, String, String)>> {
        workspaces::list(self)
    }
    fn start_background(&self) -> Result<Background> {
        // PostgreSQL checkpoints and vacuums on its own; the tables' statistics are renewed sooner while they
        // are young (`analyze`).
        Ok(Box::new(analyze::Analyzer::start(self.config.clone())?))
    }
    fn local_dir(&self) -> Option<PathBuf> {
        None
    }
    fn copier(&self) -> Result<Box<dyn kairos_store::copy::RowCopy + '_>> {
        Ok(Box::new(self.copy_session()?))
    }
    fn leases(&self) -> Option<Arc<dyn kairos_store::Leases>> {
        Some(self.leases.clone())
    }
}

/// The connection owned by the committer thread.
pub struct PgWriter {
    pub(crate) conn: Conn,
    /// To connect again after the connection was lost (the database restarted or the network failed).
    config: postgres::Config,
    open: bool,
    /// Events inserted in the open transaction, written at commit (see `events::PendingEvents`).
    pub(crate) pending_events: events::PendingEvents,
    /// Identity changes of the open transaction, written at commit (see `contacts::PendingIdentities`).
    pub(crate) pending_identities: contacts::PendingIdentities,
    /// The lease every transaction checks first, when this node runs under one.
    fence: Option<kairos_store::Lease>,
}

impl Writer for PgWriter {
    fn begin(&mut self) -> Result<()> {
        if self.conn.is_closed() {
            self.conn = Conn::connect(&self.config)?;
            tracing::info!("the committer's database connection was lost and is open again");
        }
        self.conn.batch("BEGIN")?;
        self.open = true;
        if let Some(lease) = &self.fence
            && let Err(e) = leases::check_fence(&mut self.conn, lease)
        {
            let _ = self.rollback();
            return Err(e);
        }
        Ok(())
    }
    fn commit(&mut self) -> Result<()> {
        // The buffered events are written first; when they cannot be, nothing of the transaction commits.
        let started = std::time::Instant::now();
        if let Err(e) = self.flush_events().and_then(|()| self.flush_identities()) {
            let _ = self.rollback();
            return Err(e);
        }
        let flushed = started.elapsed();
        self.open = false;
        let committed = self.conn.batch("COMMIT");
        tracing::trace!(
            flush_us = flushed.as_micros() as u64,
            commit_us = (started.elapsed() - flushed).as_micros() as u64,
            "postgres commit"
        );
        committed
    }
    fn rollback(&mut self) -> Result<()> {
        self.pending_events.clear();
        self.pending_identities.clear();
        if self.conn.is_closed() {
            // A lost connection took its transaction with it: nothing to roll back. Connect again now (the
            // committer reloads its state right after a rollback); if the database is still away, later.
            self.open = false;
            if let Ok(conn) = Conn::connect(&self.config) {
                self.conn = conn;
                tracing::info!("the committer's database connection was lost and is open again");
            }
            return Ok(());
        }
        if std::mem::take(&mut self.open) {
            self.conn.batch("ROLLBACK")?;
        }
        Ok(())
    }
}

/// A read view over one pooled connection (implements every read trait of `kairos-store`).
pub struct PgReader<'a> {
    conn: RefCell<Pooled<'a>>,
}

impl<'a> PgReader<'a> {
    /// The connection (read traits take `&self`; the client needs `&mut`). Never held across two calls.
    pub(crate) fn conn(&self) -> RefMut<'_, Pooled<'a>> {
        self.conn.borrow_mut()
    }
}

/// Unique violations are conflicts; a lost connection or a server shutting down is worth a retry; the rest is
/// the backend's.
pub(crate) fn pg_error(e: postgres::Error) -> StoreError {
    use postgres::error::SqlState;
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == SqlState::UNIQUE_VIOLATION {
            return StoreError::Conflict(db.message().to_string());
        }
        if code.code().starts_with("08")
            || code.code().starts_with("57P")
            || *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
        {
            return StoreError::Unavailable(format!("database error: {e}"));
        }
        return StoreError::backend(format!("{}: {}", db.code().code(), db.message()));
    }
    if e.is_closed() || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()) {
        return StoreError::Unavailable(format!("the database connection was lost: {e}"));
    }
    StoreError::backend(e)
}

/// Runs `f` where the blocking client may block: on this thread, or, when called from inside an async runtime
/// (where the client's own `block_on` would panic), on a short-lived thread of its own. For rare calls (opening
/// the store, test databases); queries run on the committer thread or blocking threads already.
pub(crate) fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| s.spawn(f).join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
}

/// Column `i` of a row, as `T`; a type mismatch is corrupt data rather than a panic.
pub(crate) fn get<'a, T: postgres::types::FromSql<'a>>(row: &'a postgres::Row, i: usize) -> Result<T> {
    row.try_get(i).map_err(|e| StoreError::corrupt("row", e))
}

pub(crate) use kairos_store::codec::{cursor_number, to_json};

//! The embedded SQLite backend of `kairos-store`: one file in the data directory, WAL, `synchronous=FULL` (the
//! committer's connection `NORMAL` with the WAL flushed apart: `durable`).
//!
//! Every SQL statement and migration of the SQLite store is in this crate, one file per aggregate
//! (`events.rs`, `contacts.rs`, ...: the writer's and the readers' statements side by side), plus the schema
//! (`migrations.rs`), the read pool (`pool.rs`) and the WAL checkpointer (`checkpoint.rs`).
#![expect(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "the one crate that may name rusqlite: the workspace clippy.toml disallows it everywhere else, and \
              crates/kairos/tests/boundaries.rs checks the sources"
)]

/// The day (UTC) of an event's timestamp in SQL, as the day runs and the `events_dated` view key it
/// ([`time_index::DAY_MICROS`]; SQL's integer division truncates as Rust's does).
macro_rules! day_of_ts {
    () => {
        "ts / 86400000000"
    };
}

mod bindings;
mod campaigns;
mod checkpoint;
mod contact_events;
mod contacts;
mod copy;
mod coupons;
mod durable;
mod erasure;
mod event_keys;
mod events;
mod flows;
mod gate;
mod known;
mod messages;
mod migrations;
mod pool;
mod products;
mod reports;
mod rows;
mod secrets;
mod segments;
mod settings;
mod templates;
pub mod testing;
mod time_index;
mod users;
mod workspaces;
mod written_later;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kairos_store::{Background, NewWorkspace, Reads, Result, Store, StoreError, Writer};
use rusqlite::Connection;

pub use checkpoint::Checkpointer;
pub use migrations::SCHEMA_VERSION;
pub use pool::{ReadPool, SqliteReader};

pub const DB_FILE_NAME: &str = "kairos.db";
/// Size the WAL file is truncated back to after a restart. Above its usual length at a restart under load
/// (~50 000 frames, 200 MB, at 20 000 events/s): truncating it in the first commit after each restart waited
/// for the pages being flushed (`truncate_inode_pages_range`), 30 – 50 ms of the committer (2026-12-06).
const WAL_KEEP_BYTES: i64 = 256 * 1024 * 1024;
/// How long a statement waits for a lock held by another connection before failing.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Read-only connections kept open for request handlers (more are opened when all are busy).
const READ_POOL_CONNECTIONS: usize = 4;
/// How often the WAL is copied into the database file (PASSIVE, plus a RESTART once the WAL is long; see
/// [`Checkpointer`]). Measured on the ingest bench: without restarts the WAL grew without bound under sustained
/// load (2.2 GB in 20 s) and commits slowed as it grew; 500 ms with restarts kept p99 at 16-28 ms.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Handle on a database file; opens connections.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    reads: ReadPool,
    /// Shared by this store's committer connections and its checkpointer (`gate.rs`).
    gate: Arc<gate::WriteGate>,
    /// The identities this store may hold, shared by its writers (`known`); started with the first writer.
    known: std::sync::Mutex<Option<Arc<known::Known>>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database in `data_dir` and applies pending migrations.
    pub fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| data_dir_error(data_dir, e))?;
        Self::open_file(data_dir.join(DB_FILE_NAME))
    }

    /// Opens the SQLite file a `--database-url` names (the binary sends `postgres://` URLs to PostgreSQL).
    /// `sqlite:PATH` / `sqlite://PATH` name the database file (its folder is created if needed).
    pub fn open_url(url: &str) -> Result<Self> {
        let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) else {
            return Err(StoreError::Unavailable(format!(
                "unsupported database url {url:?}: use postgres://user:password@host:port/database or sqlite:PATH"
            )));
        };
        let file = Path::new(path);
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| data_dir_error(dir, e))?;
        }
        Self::open_file(file.to_path_buf())
    }

    fn open_file(path: PathBuf) -> Result<Self> {
        migrations::migrate(&mut connect(&path, false)?)?;
        let reads = ReadPool::new(path.clone(), READ_POOL_CONNECTIONS)?;
        Ok(SqliteStore { path, reads, gate: Arc::default(), known: Default::default() })
    }

    /// The folder holding the database file.
    pub fn dir(&self) -> PathBuf {
        self.path.parent().map(Path::to_path_buf).unwrap_or_default()
    }

    /// The database file.
    pub fn file(&self) -> &Path {
        &self.path
    }

    /// The committer's connection.
    pub fn sqlite_writer(&self) -> Result<SqliteWriter> {
        let known = {
            let mut slot = self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match &*slot {
                Some(k) => k.clone(),
                None => slot.insert(known::start(&self.path)?).clone(),
            }
        };
        Ok(SqliteWriter {
            known,
            conn: connect(&self.path, false)?,
            gate: self.gate.clone(),
            open: false,
            pending: contact_events::Pending::default(),
            keys: event_keys::Tail::default(),
            replay_mark: None,
            keeps_rows: false,
            replay_listed: Default::default(),
            bindings: bindings::Bindings::new(self.reads.bindings.clone()),
            last_seq: None,
            wal: wal_path(&self.path),
        })
    }

    /// The pool of read-only connections.
    pub fn read_pool(&self) -> &ReadPool {
        &self.reads
    }

    /// Starts the background checkpointer with a given interval (the [`Store`] default is 500 ms).
    pub fn checkpointer(&self, every: std::time::Duration) -> Result<Checkpointer> {
        Checkpointer::start(connect(&self.path, false)?, self.gate.clone(), every)
    }

    /// A fresh connection (writes beside the committer: workspaces, users; WAL serialises the writers).
    pub(crate) fn connect(&self, read_only: bool) -> Result<Connection> {
        connect(&self.path, read_only)
    }
}

impl Store for SqliteStore {
    fn writer(&self) -> Result<Box<dyn Writer>> {
        Ok(Box::new(self.sqlite_writer()?))
    }
    fn reader(&self) -> Result<Box<dyn Reads + '_>> {
        Ok(Box::new(self.reads.get()?))
    }
    fn create_workspace(&self, name: &str, now: kairos_domain::Timestamp) -> Result<NewWorkspace> {
        workspaces::create(self, name, now)
    }
    fn workspaces(&self) -> Result<Vec<(kairos_domain::WorkspaceId, String, String)>> {
        workspaces::list(self)
    }
    fn start_background(&self) -> Result<Background> {
        Ok(Box::new(self.checkpointer(CHECKPOINT_EVERY)?))
    }
    fn local_dir(&self) -> Option<PathBuf> {
        Some(self.dir())
    }
    fn copier(&self) -> Result<Box<dyn kairos_store::copy::RowCopy + '_>> {
        Ok(Box::new(self.copy_session()?))
    }
}

fn data_dir_error(dir: &Path, e: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("cannot open the data directory {}: {e}", dir.display()))
}

pub(crate) fn connect(path: &Path, read_only: bool) -> Result<Connection> {
    let conn = Connection::open(path).db()?;
    conn.busy_timeout(BUSY_TIMEOUT).db()?;
    conn.pragma_update(None, "journal_mode", "WAL").db()?;
    // FULL: an acknowledged commit survives power loss (SPEC 18); group commit amortises the fsync. The committer's
    // connection moves the flush to the engine's syncing thread (`durable`), which flushes before any answer.
    conn.pragma_update(None, "synchronous", "FULL").db()?;
    conn.pragma_update(None, "temp_store", "MEMORY").db()?;
    if read_only {
        conn.pragma_update(None, "cache_size", -32_768).db()?;
        conn.pragma_update(None, "query_only", true).db()?;
    } else {
        // Small on purpose: SQLite walks the whole page-cache hash at the end of each write transaction
        // (pcache1TruncateUnsafe), which cost 14% of the committer at 64 MB; pages stay in the OS cache.
        // Ingest bench: 64 MB 41 000/s, 16 MB 48 000/s, 8 MB 52 000-54 000/s, 2 MB no better.
        conn.pragma_update(None, "cache_size", -8_192).db()?;
        // Checkpoints run on their own thread (see `Checkpointer`) so commits never wait for them.
        conn.pragma_update(None, "wal_autocheckpoint", 0).db()?;
        conn.pragma_update(None, "journal_size_limit", WAL_KEEP_BYTES).db()?;
        // Content an update or delete frees is zeroed where that costs no extra I/O: an erased person's data
        // must not linger in free space (SPEC 16 "Data rights").
        conn.pragma_update(None, "secure_delete", "FAST").db()?;
    }
    Ok(conn)
}

/// The connection owned by the committer thread.
pub struct SqliteWriter {
    pub(crate) conn: Connection,
    gate: Arc<gate::WriteGate>,
    /// Whether this writer is inside the gate (between `begin` and its commit or rollback).
    open: bool,
    /// Events of the open transaction not yet in their contact's list (`contact_events`).
    pending: contact_events::Pending,
    /// How far the log is filed in runs by day and by name (`event_keys`).
    keys: event_keys::Tail,
    /// The replay mark this connection last committed (`written_later::record`); None: not known.
    replay_mark: Option<Option<i64>>,
    /// Whether this connection is the committer's, which leaves rows for later and replays them: only it
    /// records the replay mark (any other writer's commit knows nothing of waiting rows).
    pub(crate) keeps_rows: bool,
    /// During a start's replay, read a page at a time: the last sequence each contact's stored lists hold, read
    /// once per contact for the whole replay (`written_later::unwritten`).
    pub(crate) replay_listed: std::collections::HashMap<i64, i64>,
    /// Identity bindings kept for a later commit (`bindings`).
    pub(crate) bindings: bindings::Bindings,
    /// The identities the store may hold (`known`): this writer adds those it binds.
    pub(crate) known: Arc<known::Known>,
    /// The last event sequence in use (None: not known; read from the log when needed).
    pub(crate) last_seq: Option<i64>,
    /// The database's WAL file, flushed by [`Writer::durable_later`]'s answer.
    wal: PathBuf,
}

/// SQLite's name for a database's WAL file: the database file's name with `-wal` appended.
fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

impl SqliteWriter {
    fn leave_gate(&mut self) {
        if std::mem::take(&mut self.open) {
            self.gate.leave();
        }
    }
}

impl Writer for SqliteWriter {
    fn begin(&mut self) -> Result<()> {
        if !self.open {
            self.gate.enter();
            self.open = true;
        }
        let r = self.conn.execute_batch("BEGIN IMMEDIATE").db();
        if r.is_err() {
            self.leave_gate();
        }
        r
    }
    fn commit(&mut self) -> Result<()> {
        let r = contact_events::flush(&self.conn, &mut self.pending)
            .and_then(|()| {
                // Only the committer's connection knows which rows wait (`keeps_rows`).
                if self.keeps_rows {
                    written_later::record(&self.conn, &self.pending, self.bindings.from(), &mut self.replay_mark)
                } else {
                    Ok(())
                }
            })
            .and_then(|()| self.keys.before_commit(&self.conn))
            .and_then(|()| self.conn.execute_batch("COMMIT").db());
        if r.is_err() {
            self.replay_mark = None;
            self.keys.forget();
        } else {
            self.bindings.committed();
        }
        if self.conn.is_autocommit() {
            self.leave_gate();
        }
        r
    }
    fn durable_later(&mut self) -> Result<Option<Box<dyn kairos_store::DurableSync>>> {
        // Only this connection: the checkpointer's stays FULL (see `durable`).
        self.conn.pragma_update(None, "synchronous", "NORMAL").db()?;
        Ok(Some(Box::new(durable::WalSync { wal: self.wal.clone() })))
    }
    fn rollback(&mut self) -> Result<()> {
        self.pending.clear();
        self.bindings.clear();
        self.last_seq = None;
        self.replay_mark = None;
        self.keys.forget();
        let r = if self.conn.is_autocommit() { Ok(()) } else { self.conn.execute_batch("ROLLBACK").db() };
        if self.conn.is_autocommit() {
            self.leave_gate();
        }
        r
    }
}

impl Drop for SqliteWriter {
    fn drop(&mut self) {
        self.bindings.dropped();
        self.leave_gate();
    }
}

/// `rusqlite` results into the backend-neutral error: `.db()?` where `?` alone would need a `From` impl that
/// the orphan rule forbids here.
pub(crate) trait Db<T> {
    fn db(self) -> Result<T>;
}

impl<T> Db<T> for rusqlite::Result<T> {
    fn db(self) -> Result<T> {
        self.map_err(sql_error)
    }
}

/// Busy and locked databases are worth a retry; constraint violations are conflicts; the rest is the backend's.
pub(crate) fn sql_error(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode::{ConstraintViolation, DatabaseBusy, DatabaseLocked};
    match e.sqlite_error_code() {
        Some(DatabaseBusy | DatabaseLocked) => StoreError::Unavailable(format!("database error: {e}")),
        Some(ConstraintViolation) => StoreError::Conflict(e.to_string()),
        _ => StoreError::backend(e),
    }
}

pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::corrupt(what, e)
}

pub(crate) use kairos_store::codec::{cursor_number, to_json};

#[cfg(test)]
mod tests {
    use kairos_domain::Timestamp;
    use kairos_store::KeyKind;

    use super::*;

    #[test]
    fn migrations_are_idempotent_and_keys_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let store = SqliteStore::open(dir.path()).map(|_| store).unwrap();
        let file = dir.path().join("nested/custom.db");
        SqliteStore::open_url(&format!("sqlite:{}", file.display())).unwrap();
        assert!(file.is_file());
        let ws = store.create_workspace("Shop", Timestamp(1)).unwrap();
        assert!(ws.write_key.starts_with("wk_") && ws.secret_key.starts_with("sk_"));
        let r = store.reader().unwrap();
        let (id, kind) = r.key(&ws.write_key).unwrap().unwrap();
        assert_eq!(kind, KeyKind::Write);
        assert_eq!(r.key(&ws.secret_key).unwrap().unwrap(), (id, KeyKind::Secret));
        assert!(r.key("wk_nope").unwrap().is_none());
        let err = SqliteStore::open_url("postgres://x").unwrap_err();
        assert!(err.to_string().contains("unsupported database url"), "{err}");
    }
}

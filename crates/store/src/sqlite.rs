//! The embedded SQLite backend: one file in the data directory, WAL, `synchronous=FULL`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use kairos_domain::{Contact, ContactId, Event, Product, Timestamp, WorkspaceId};
use rusqlite::{Connection, OptionalExtension, params};

use crate::keys::{KeyKind, NewWorkspace, hash_key, random_token};
use crate::{FlowStats, IssuedCode, MessageFilter, Recipient, StoredCampaign, StoredMessage, StoredRun};
use crate::{
    IdentityKind, Page, Reader, Result, StoreError, StoredEvent, StoredFlow, StoredSegment, StoredTemplate, Writer,
};

pub const DB_FILE_NAME: &str = "kairos.db";
/// WAL length (in 4 KiB frames, ~32 MiB) past which the checkpointer restarts the WAL.
const WAL_RESTART_FRAMES: i64 = 8_192;
/// Size the WAL file is truncated back to after a restart.
const WAL_KEEP_BYTES: i64 = 64 * 1024 * 1024;

/// Schema versions, applied in order at start. Never edit a released entry: append a new one.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE workspaces (
        id INTEGER PRIMARY KEY,
        public_id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        settings TEXT NOT NULL DEFAULT '{}',
        created_at INTEGER NOT NULL
    );
    CREATE TABLE api_keys (
        key_hash BLOB PRIMARY KEY,
        workspace_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        created_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE contacts (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL,
        merged_into INTEGER,
        data TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX contacts_merged ON contacts (merged_into) WHERE merged_into IS NOT NULL;
    CREATE TABLE identities (
        workspace_id INTEGER NOT NULL,
        kind INTEGER NOT NULL,
        value TEXT NOT NULL,
        contact_id INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, kind, value)
    ) WITHOUT ROWID;
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL,
        contact_id INTEGER NOT NULL,
        message_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT,
        ts INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX events_by_contact ON events (contact_id, ts);
    CREATE TABLE products (
        workspace_id INTEGER NOT NULL,
        id TEXT NOT NULL,
        data TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, id)
    ) WITHOUT ROWID;",
    ),
    (
        2,
        "CREATE INDEX events_by_name ON events (workspace_id, name, seq);
    CREATE TABLE segments (
        id INTEGER PRIMARY KEY,
        public_id TEXT NOT NULL UNIQUE,
        workspace_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        definition TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE segment_members (
        segment_id INTEGER NOT NULL,
        contact_id INTEGER NOT NULL,
        entered_at INTEGER NOT NULL,
        PRIMARY KEY (segment_id, contact_id)
    ) WITHOUT ROWID;
    CREATE TABLE segment_sizes (
        segment_id INTEGER NOT NULL,
        at INTEGER NOT NULL,
        size INTEGER NOT NULL,
        PRIMARY KEY (segment_id, at)
    ) WITHOUT ROWID;",
    ),
    (
        3,
        "CREATE TABLE templates (
        workspace_id INTEGER NOT NULL,
        id TEXT NOT NULL,
        version INTEGER NOT NULL,
        data TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, id)
    ) WITHOUT ROWID;
    CREATE TABLE template_versions (
        workspace_id INTEGER NOT NULL,
        id TEXT NOT NULL,
        version INTEGER NOT NULL,
        data TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, id, version)
    ) WITHOUT ROWID;
    CREATE TABLE flows (
        id INTEGER PRIMARY KEY,
        public_id TEXT NOT NULL UNIQUE,
        workspace_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        version INTEGER NOT NULL,
        definition TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE flow_versions (
        flow_id INTEGER NOT NULL,
        version INTEGER NOT NULL,
        definition TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (flow_id, version)
    ) WITHOUT ROWID;",
    ),
    (
        4,
        "CREATE TABLE flow_runs (
        id INTEGER PRIMARY KEY,
        flow_id INTEGER NOT NULL,
        version INTEGER NOT NULL,
        workspace_id INTEGER NOT NULL,
        contact_id INTEGER NOT NULL,
        run_key TEXT NOT NULL,
        step TEXT,
        due_at INTEGER,
        status TEXT NOT NULL,
        end_reason TEXT,
        entered_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        trigger TEXT NOT NULL
    );
    CREATE INDEX flow_runs_active ON flow_runs (status) WHERE status = 'active';
    CREATE INDEX flow_runs_entry ON flow_runs (flow_id, contact_id, run_key, entered_at);
    CREATE TABLE flow_step_counts (
        flow_id INTEGER NOT NULL,
        step TEXT NOT NULL,
        counter TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (flow_id, step, counter)
    ) WITHOUT ROWID;
    CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        workspace_id INTEGER NOT NULL,
        contact_id INTEGER NOT NULL,
        channel TEXT NOT NULL,
        to_addr TEXT,
        flow_id TEXT,
        campaign_id TEXT,
        step_id TEXT,
        status TEXT NOT NULL,
        data TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX messages_by_workspace ON messages (workspace_id);
    CREATE TABLE tasks (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL,
        contact_id INTEGER NOT NULL,
        flow_id TEXT NOT NULL,
        message TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );",
    ),
    (
        5,
        "CREATE TABLE suppressions (
        workspace_id INTEGER NOT NULL,
        channel TEXT NOT NULL,
        address TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, channel, address)
    ) WITHOUT ROWID;
    CREATE INDEX messages_by_contact ON messages (contact_id);
    CREATE INDEX messages_by_to ON messages (workspace_id, to_addr);
    CREATE TABLE provider_ids (
        provider_id TEXT PRIMARY KEY,
        message_id TEXT NOT NULL
    ) WITHOUT ROWID;",
    ),
    (
        6,
        "CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL,
        email TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        UNIQUE (workspace_id, email)
    );
    CREATE TABLE sessions (
        token_hash BLOB PRIMARY KEY,
        user_id INTEGER NOT NULL,
        workspace_id INTEGER NOT NULL,
        csrf TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;",
    ),
    (
        7,
        "CREATE TABLE campaigns (
        id INTEGER PRIMARY KEY,
        public_id TEXT NOT NULL UNIQUE,
        workspace_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        definition TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE campaign_recipients (
        campaign_id INTEGER NOT NULL,
        contact_id INTEGER NOT NULL,
        due_at INTEGER NOT NULL,
        variant INTEGER NOT NULL,
        done INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (campaign_id, contact_id)
    ) WITHOUT ROWID;
    CREATE INDEX campaign_recipients_due ON campaign_recipients (campaign_id, done, due_at);
    CREATE INDEX messages_by_campaign ON messages (campaign_id) WHERE campaign_id IS NOT NULL;",
    ),
    (
        8,
        "CREATE TABLE coupon_pools (
        workspace_id INTEGER NOT NULL,
        id TEXT NOT NULL,
        data TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, id)
    ) WITHOUT ROWID;
    CREATE TABLE coupon_codes (
        workspace_id INTEGER NOT NULL,
        code TEXT NOT NULL,
        pool_id TEXT NOT NULL,
        contact_id INTEGER NOT NULL,
        issued_at INTEGER NOT NULL,
        redeemed_at INTEGER,
        order_id TEXT,
        PRIMARY KEY (workspace_id, code, contact_id)
    ) WITHOUT ROWID;
    CREATE INDEX coupon_codes_by_contact ON coupon_codes (workspace_id, pool_id, contact_id);",
    ),
];

/// Handle on a data directory's database; opens connections.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) the database in `data_dir` and applies pending migrations.
    pub fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir)
            .map_err(|source| StoreError::DataDir { path: data_dir.display().to_string(), source })?;
        let store = SqliteStore { path: data_dir.join(DB_FILE_NAME) };
        let mut conn = store.connect(false)?;
        migrate(&mut conn)?;
        Ok(store)
    }

    /// Chooses the backend from a `--database-url`. Only SQLite is built in so far.
    /// `sqlite:PATH` / `sqlite://PATH` name the database file (its folder is created if needed).
    pub fn open_url(url: &str) -> Result<Self> {
        let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) else {
            return Err(StoreError::UnsupportedDatabase(url.to_string()));
        };
        let file = Path::new(path);
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| StoreError::DataDir { path: dir.display().to_string(), source })?;
        }
        let store = SqliteStore { path: file.to_path_buf() };
        migrate(&mut store.connect(false)?)?;
        Ok(store)
    }

    pub(crate) fn connect(&self, read_only: bool) -> Result<Connection> {
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: an acknowledged commit survives power loss (SPEC 18); group commit amortises the fsync.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        if read_only {
            conn.pragma_update(None, "cache_size", -32_768)?;
            conn.pragma_update(None, "query_only", true)?;
        } else {
            // Small on purpose: SQLite walks the whole page-cache hash at the end of each write transaction
            // (pcache1TruncateUnsafe), which cost 14% of the committer at 64 MB; pages stay in the OS cache.
            // Ingest bench: 64 MB 41 000/s, 16 MB 48 000/s, 8 MB 52 000-54 000/s, 2 MB no better.
            conn.pragma_update(None, "cache_size", -8_192)?;
            // Checkpoints run on their own thread (see `Checkpointer`) so commits never wait for them.
            conn.pragma_update(None, "wal_autocheckpoint", 0)?;
            conn.pragma_update(None, "journal_size_limit", WAL_KEEP_BYTES)?;
        }
        Ok(conn)
    }

    /// Starts the background checkpointer: copies the WAL into the database file every interval without
    /// blocking the writer (PASSIVE), so group commits never stall on a checkpoint's fsync.
    pub fn checkpointer(&self, every: std::time::Duration) -> Result<Checkpointer> {
        let conn = self.connect(false)?;
        let stop = std::sync::Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("kairos-checkpoint".into())
            .spawn(move || {
                let (lock, cv) = &*flag;
                let mut stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    let (guard, _) = cv.wait_timeout(stopped, every).unwrap_or_else(|e| e.into_inner());
                    stopped = guard;
                    // PASSIVE copies without blocking the writer, but under continuous writes it never catches
                    // up completely, so the WAL would never restart and would grow without bound. Once the WAL is
                    // large, a RESTART right after a PASSIVE pass only has the few frames written meanwhile left
                    // to copy: a short pause for the writer, after which the WAL starts over.
                    let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1));
                    match result {
                        Ok(frames) if frames >= WAL_RESTART_FRAMES => {
                            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(())) {
                                tracing::warn!(error = %e, "WAL restart failed; will retry");
                            }
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "checkpoint failed; will retry"),
                    }
                    if *stopped {
                        break;
                    }
                }
            })
            .map_err(|e| StoreError::Corrupt(format!("cannot start checkpointer: {e}")))?;
        Ok(Checkpointer { stop, handle: Some(handle) })
    }

    /// The folder holding the database file.
    pub fn dir(&self) -> std::path::PathBuf {
        self.path.parent().map(Path::to_path_buf).unwrap_or_default()
    }

    pub fn writer(&self) -> Result<SqliteWriter> {
        Ok(SqliteWriter { conn: self.connect(false)? })
    }

    pub fn read_pool(&self, size: usize) -> Result<ReadPool> {
        let conns = (0..size.max(1)).map(|_| self.connect(true)).collect::<Result<Vec<_>>>()?;
        Ok(ReadPool { store: self.clone(), conns: Mutex::new(conns) })
    }

    /// Creates a workspace with one write key and one secret key.
    pub fn create_workspace(&self, name: &str, now: Timestamp) -> Result<NewWorkspace> {
        let mut conn = self.connect(false)?;
        let tx = conn.transaction()?;
        let public_id = random_token("ws_", 8);
        tx.execute(
            "INSERT INTO workspaces (public_id, name, created_at) VALUES (?1, ?2, ?3)",
            params![public_id, name, now.as_micros()],
        )?;
        let ws = tx.last_insert_rowid();
        let write_key = random_token("wk_", 16);
        let secret_key = random_token("sk_", 24);
        for (key, kind) in [(&write_key, KeyKind::Write), (&secret_key, KeyKind::Secret)] {
            tx.execute(
                "INSERT INTO api_keys (key_hash, workspace_id, kind, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![hash_key(key), ws, kind.as_str(), now.as_micros()],
            )?;
        }
        tx.commit()?;
        Ok(NewWorkspace { id: public_id, write_key, secret_key })
    }

    /// (internal id, public id, name) of every workspace.
    pub fn workspaces(&self) -> Result<Vec<(WorkspaceId, String, String)>> {
        let conn = self.connect(true)?;
        let mut stmt = conn.prepare("SELECT id, public_id, name FROM workspaces ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((WorkspaceId(r.get(0)?), r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.execute_batch(sql)?;
        tx.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?1, strftime('%s','now'))", [version])?;
        tracing::info!(schema.version = version, "applied migration");
    }
    tx.commit()?;
    Ok(())
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Serializing our own plain structs cannot fail (no maps with non-string keys).
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// Handle of the checkpoint thread; dropping it runs a last checkpoint and stops the thread.
pub struct Checkpointer {
    stop: std::sync::Arc<(Mutex<bool>, std::sync::Condvar)>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (lock, cv) = &*self.stop;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The connection owned by the committer thread.
pub struct SqliteWriter {
    conn: Connection,
}

impl Writer for SqliteWriter {
    fn begin(&mut self) -> Result<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }
    fn commit(&mut self) -> Result<()> {
        self.conn.execute_batch("COMMIT")?;
        Ok(())
    }
    fn rollback(&mut self) -> Result<()> {
        if !self.conn.is_autocommit() {
            self.conn.execute_batch("ROLLBACK")?;
        }
        Ok(())
    }

    fn max_ids(&mut self) -> Result<(i64, i64)> {
        let c = self.conn.query_row("SELECT COALESCE(MAX(id), 0) FROM contacts", [], |r| r.get(0))?;
        let e = self.conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))?;
        Ok((c, e))
    }

    fn recent_message_ids(&mut self, since: Timestamp, f: &mut dyn FnMut(WorkspaceId, &str, Timestamp)) -> Result<()> {
        // Walk the log backwards by sequence (the primary key) and stop at the first older event:
        // no index on received_at is needed because sequence order is receive order.
        let mut stmt =
            self.conn.prepare("SELECT workspace_id, message_id, received_at FROM events ORDER BY seq DESC")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let received: i64 = r.get(2)?;
            if received < since.as_micros() {
                break;
            }
            let id: String = r.get(1)?;
            f(WorkspaceId(r.get(0)?), &id, Timestamp::from_micros(received));
        }
        Ok(())
    }

    fn insert_event(&mut self, ws: WorkspaceId, contact: ContactId, seq: i64, e: &Event, data: &str) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO events (seq, workspace_id, contact_id, message_id, kind, name, ts, received_at, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        stmt.execute(params![
            seq,
            ws.0,
            contact.0,
            e.message_id.as_str(),
            e.kind.as_str(),
            e.name,
            e.timestamp.as_micros(),
            e.received_at.as_micros(),
            data,
        ])?;
        Ok(())
    }

    fn contact_events_ordered(&mut self, contact: ContactId) -> Result<Vec<Event>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT seq, data FROM events WHERE contact_id = ?1 ORDER BY ts, seq")?;
        let rows = stmt.query_map([contact.0], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, data) = row?;
            out.extend(readable_event(seq, &data));
        }
        Ok(out)
    }

    fn reassign_events(&mut self, from: ContactId, to: ContactId) -> Result<()> {
        self.conn.prepare_cached("UPDATE events SET contact_id = ?2 WHERE contact_id = ?1")?.execute([from.0, to.0])?;
        Ok(())
    }

    fn load_contact(&mut self, id: ContactId) -> Result<Option<Contact>> {
        let mut stmt = self.conn.prepare_cached("SELECT data FROM contacts WHERE id = ?1 AND merged_into IS NULL")?;
        let data: Option<String> = stmt.query_row([id.0], |r| r.get(0)).optional()?;
        data.map(|d| serde_json::from_str(&d).map_err(|e| corrupt("contact", e))).transpose()
    }

    fn upsert_contact(&mut self, c: &Contact) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO contacts (id, workspace_id, merged_into, data, updated_at) VALUES (?1, ?2, NULL, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
        )?;
        stmt.execute(params![c.id.0, c.workspace.0, to_json(c), c.updated_at.as_micros()])?;
        Ok(())
    }

    fn mark_merged(&mut self, loser: ContactId, survivor: ContactId, at: Timestamp) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached("UPDATE contacts SET merged_into = ?2, data = '{}', updated_at = ?3 WHERE id = ?1")?;
        stmt.execute(params![loser.0, survivor.0, at.as_micros()])?;
        // Contacts that were merged into the loser earlier now point at the survivor directly.
        self.conn
            .prepare_cached("UPDATE contacts SET merged_into = ?2 WHERE merged_into = ?1")?
            .execute([loser.0, survivor.0])?;
        Ok(())
    }

    fn lookup_identity(&mut self, ws: WorkspaceId, kind: IdentityKind, value: &str) -> Result<Option<ContactId>> {
        // Identity rows are not rewritten on merge: follow the (flattened) merge pointer instead.
        let mut stmt = self.conn.prepare_cached(
            "SELECT COALESCE(c.merged_into, i.contact_id) FROM identities i LEFT JOIN contacts c ON c.id = i.contact_id
             WHERE i.workspace_id = ?1 AND i.kind = ?2 AND i.value = ?3",
        )?;
        Ok(stmt.query_row(params![ws.0, kind.code(), value], |r| r.get(0)).optional()?.map(ContactId))
    }

    fn set_identity(&mut self, ws: WorkspaceId, kind: IdentityKind, value: &str, contact: ContactId) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO identities (workspace_id, kind, value, contact_id) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (workspace_id, kind, value) DO UPDATE SET contact_id = excluded.contact_id",
        )?;
        stmt.execute(params![ws.0, kind.code(), value, contact.0])?;
        Ok(())
    }

    fn remove_identity(&mut self, ws: WorkspaceId, kind: IdentityKind, value: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM identities WHERE workspace_id = ?1 AND kind = ?2 AND value = ?3")?
            .execute(params![ws.0, kind.code(), value])?;
        Ok(())
    }

    fn all_contacts(&mut self, f: &mut dyn FnMut(Contact)) -> Result<()> {
        let mut stmt = self.conn.prepare("SELECT data FROM contacts WHERE merged_into IS NULL")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let data: String = r.get(0)?;
            f(serde_json::from_str(&data).map_err(|e| corrupt("contact", e))?);
        }
        Ok(())
    }

    fn merged_contacts(&mut self, f: &mut dyn FnMut(ContactId, ContactId)) -> Result<()> {
        let mut stmt = self.conn.prepare("SELECT id, merged_into FROM contacts WHERE merged_into IS NOT NULL")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            f(ContactId(r.get(0)?), ContactId(r.get(1)?));
        }
        Ok(())
    }

    fn events_named(&mut self, ws: WorkspaceId, name: &str, f: &mut dyn FnMut(ContactId, &str)) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT contact_id, data FROM events WHERE workspace_id = ?1 AND name = ?2 ORDER BY seq")?;
        let mut rows = stmt.query(params![ws.0, name])?;
        while let Some(r) = rows.next()? {
            let data: String = r.get(1)?;
            f(ContactId(r.get(0)?), &data);
        }
        Ok(())
    }

    fn events_since(&mut self, ws: WorkspaceId, since: Timestamp, f: &mut dyn FnMut(ContactId, &str)) -> Result<()> {
        let mut stmt = self.conn.prepare("SELECT contact_id, data FROM events WHERE workspace_id = ?1 AND ts >= ?2")?;
        let mut rows = stmt.query(params![ws.0, since.as_micros()])?;
        while let Some(r) = rows.next()? {
            let data: String = r.get(1)?;
            f(ContactId(r.get(0)?), &data);
        }
        Ok(())
    }

    fn has_event_named(&mut self, ws: WorkspaceId, name: &str) -> Result<bool> {
        let mut stmt =
            self.conn.prepare_cached("SELECT 1 FROM events WHERE workspace_id = ?1 AND name = ?2 LIMIT 1")?;
        Ok(stmt.query_row(params![ws.0, name], |_| Ok(())).optional()?.is_some())
    }

    fn segments(&mut self) -> Result<Vec<StoredSegment>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, public_id, workspace_id, name, definition, created_at, updated_at FROM segments
             WHERE deleted = 0 ORDER BY id",
        )?;
        let rows = stmt.query_map([], segment_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn save_segment(&mut self, s: &StoredSegment) -> Result<i64> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO segments (public_id, workspace_id, name, definition, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (public_id) DO UPDATE SET name = excluded.name, definition = excluded.definition,
                 updated_at = excluded.updated_at
             RETURNING id",
        )?;
        Ok(stmt.query_row(
            params![
                s.public_id,
                s.workspace.0,
                s.name,
                s.definition,
                s.created_at.as_micros(),
                s.updated_at.as_micros()
            ],
            |r| r.get(0),
        )?)
    }

    fn delete_segment(&mut self, row: i64) -> Result<()> {
        self.conn.prepare_cached("UPDATE segments SET deleted = 1 WHERE id = ?1")?.execute([row])?;
        self.conn.prepare_cached("DELETE FROM segment_members WHERE segment_id = ?1")?.execute([row])?;
        Ok(())
    }

    fn segment_members(&mut self, row: i64, f: &mut dyn FnMut(ContactId)) -> Result<()> {
        let mut stmt = self.conn.prepare_cached("SELECT contact_id FROM segment_members WHERE segment_id = ?1")?;
        let mut rows = stmt.query([row])?;
        while let Some(r) = rows.next()? {
            f(ContactId(r.get(0)?));
        }
        Ok(())
    }

    fn set_member(&mut self, row: i64, contact: ContactId, member: bool, at: Timestamp) -> Result<()> {
        if member {
            self.conn
                .prepare_cached(
                    "INSERT INTO segment_members (segment_id, contact_id, entered_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT DO NOTHING",
                )?
                .execute(params![row, contact.0, at.as_micros()])?;
        } else {
            self.conn
                .prepare_cached("DELETE FROM segment_members WHERE segment_id = ?1 AND contact_id = ?2")?
                .execute(params![row, contact.0])?;
        }
        Ok(())
    }

    fn record_size(&mut self, row: i64, bucket: Timestamp, size: u64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO segment_sizes (segment_id, at, size) VALUES (?1, ?2, ?3)
                 ON CONFLICT (segment_id, at) DO UPDATE SET size = excluded.size",
            )?
            .execute(params![row, bucket.as_micros(), size as i64])?;
        Ok(())
    }

    fn save_template(&mut self, ws: WorkspaceId, id: &str, data: &str, at: Timestamp) -> Result<i64> {
        let version: i64 = self
            .conn
            .prepare_cached(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM template_versions WHERE workspace_id = ?1 AND id = ?2",
            )?
            .query_row(params![ws.0, id], |r| r.get(0))?;
        self.conn
            .prepare_cached(
                "INSERT INTO templates (workspace_id, id, version, data, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                 ON CONFLICT (workspace_id, id) DO UPDATE SET version = excluded.version, data = excluded.data,
                     updated_at = excluded.updated_at",
            )?
            .execute(params![ws.0, id, version, data, at.as_micros()])?;
        self.conn
            .prepare_cached(
                "INSERT INTO template_versions (workspace_id, id, version, data, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![ws.0, id, version, data, at.as_micros()])?;
        Ok(version)
    }

    fn template_exists(&mut self, ws: WorkspaceId, id: &str) -> Result<bool> {
        let mut stmt = self.conn.prepare_cached("SELECT 1 FROM templates WHERE workspace_id = ?1 AND id = ?2")?;
        Ok(stmt.query_row(params![ws.0, id], |_| Ok(())).optional()?.is_some())
    }

    fn save_flow(&mut self, f: &StoredFlow) -> Result<i64> {
        let row: i64 = self
            .conn
            .prepare_cached(
                "INSERT INTO flows (public_id, workspace_id, name, status, version, definition, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (public_id) DO UPDATE SET name = excluded.name, status = excluded.status,
                     version = excluded.version, definition = excluded.definition, updated_at = excluded.updated_at
                 RETURNING id",
            )?
            .query_row(
                params![
                    f.public_id,
                    f.workspace.0,
                    f.name,
                    f.status,
                    f.version,
                    f.definition,
                    f.created_at.as_micros(),
                    f.updated_at.as_micros()
                ],
                |r| r.get(0),
            )?;
        self.conn
            .prepare_cached(
                "INSERT INTO flow_versions (flow_id, version, definition, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![row, f.version, f.definition, f.updated_at.as_micros()])?;
        Ok(row)
    }

    fn flow(&mut self, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredFlow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, public_id, workspace_id, name, status, version, definition, created_at, updated_at
             FROM flows WHERE workspace_id = ?1 AND public_id = ?2",
        )?;
        Ok(stmt.query_row(params![ws.0, public_id], flow_row).optional()?)
    }

    fn flow_version(&mut self, flow_row: i64, version: i64) -> Result<Option<String>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT definition FROM flow_versions WHERE flow_id = ?1 AND version = ?2")?;
        Ok(stmt.query_row(params![flow_row, version], |r| r.get(0)).optional()?)
    }

    fn flow_public_id(&mut self, flow_row: i64) -> Result<Option<String>> {
        let mut stmt = self.conn.prepare_cached("SELECT public_id FROM flows WHERE id = ?1")?;
        Ok(stmt.query_row([flow_row], |r| r.get(0)).optional()?)
    }

    fn active_flows(&mut self) -> Result<Vec<StoredFlow>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, public_id, workspace_id, name, status, version, definition, created_at, updated_at
             FROM flows WHERE status = 'active' ORDER BY id",
        )?;
        let rows = stmt.query_map([], flow_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn save_run(&mut self, r: &StoredRun) -> Result<i64> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO flow_runs (id, flow_id, version, workspace_id, contact_id, run_key, step, due_at, status,
                 end_reason, entered_at, updated_at, trigger)
             VALUES (NULLIF(?1, 0), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT (id) DO UPDATE SET contact_id = excluded.contact_id, step = excluded.step,
                 due_at = excluded.due_at, status = excluded.status, end_reason = excluded.end_reason,
                 updated_at = excluded.updated_at, trigger = excluded.trigger
             RETURNING id",
        )?;
        Ok(stmt.query_row(
            params![
                r.id,
                r.flow_row,
                r.version,
                r.workspace.0,
                r.contact.0,
                r.key,
                r.step,
                r.due_at.map(Timestamp::as_micros),
                r.status,
                r.end_reason,
                r.entered_at.as_micros(),
                r.updated_at.as_micros(),
                r.trigger
            ],
            |row| row.get(0),
        )?)
    }

    fn active_runs(&mut self, f: &mut dyn FnMut(StoredRun)) -> Result<()> {
        let mut stmt = self.conn.prepare(
            "SELECT id, flow_id, version, workspace_id, contact_id, run_key, step, due_at, status, end_reason,
                    entered_at, updated_at, trigger FROM flow_runs WHERE status = 'active'",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            f(run_row(r)?);
        }
        Ok(())
    }

    fn last_entry(&mut self, flow_row: i64, contact: ContactId, key: &str) -> Result<Option<Timestamp>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT MAX(entered_at) FROM flow_runs WHERE flow_id = ?1 AND contact_id = ?2 AND run_key = ?3",
        )?;
        let t: Option<i64> = stmt.query_row(params![flow_row, contact.0, key], |r| r.get(0))?;
        Ok(t.map(Timestamp::from_micros))
    }

    fn count_step(&mut self, flow_row: i64, step: &str, counter: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO flow_step_counts (flow_id, step, counter, n) VALUES (?1, ?2, ?3, 1)
                 ON CONFLICT (flow_id, step, counter) DO UPDATE SET n = n + 1",
            )?
            .execute(params![flow_row, step, counter])?;
        Ok(())
    }

    fn insert_message(&mut self, m: &StoredMessage) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached(
                "INSERT INTO messages (id, workspace_id, contact_id, channel, to_addr, flow_id, campaign_id, step_id,
                     status, data, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (id) DO NOTHING",
            )?
            .execute(params![
                m.id,
                m.workspace.0,
                m.contact.0,
                m.channel,
                m.to,
                m.flow_id,
                m.campaign_id,
                m.step_id,
                m.status,
                m.data,
                m.created_at.as_micros()
            ])?;
        Ok(n == 1)
    }

    fn update_message(&mut self, id: &str, status: &str, data: &str) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE messages SET status = ?2, data = ?3 WHERE id = ?1")?
            .execute(params![id, status, data])?;
        Ok(())
    }

    fn message(&mut self, id: &str) -> Result<Option<StoredMessage>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, workspace_id, contact_id, channel, to_addr, flow_id, campaign_id, step_id, status, data, created_at
             FROM messages WHERE id = ?1",
        )?;
        Ok(stmt.query_row([id], message_row).optional()?)
    }

    fn suppress(&mut self, ws: WorkspaceId, channel: &str, address: &str, reason: &str, at: Timestamp) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO suppressions (workspace_id, channel, address, reason, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![ws.0, channel, address, reason, at.as_micros()])?;
        Ok(())
    }

    fn unsuppress(&mut self, ws: WorkspaceId, channel: &str, address: &str) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM suppressions WHERE workspace_id = ?1 AND channel = ?2 AND address = ?3")?
            .execute(params![ws.0, channel, address])?;
        Ok(n > 0)
    }

    fn save_campaign(&mut self, c: &StoredCampaign) -> Result<i64> {
        let row: i64 = self
            .conn
            .prepare_cached(
                "INSERT INTO campaigns (public_id, workspace_id, name, status, definition, state, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (public_id) DO UPDATE SET name = excluded.name, status = excluded.status,
                     definition = excluded.definition, state = excluded.state, updated_at = excluded.updated_at
                 RETURNING id",
            )?
            .query_row(
                params![
                    c.public_id,
                    c.workspace.0,
                    c.name,
                    c.status,
                    c.definition,
                    c.state,
                    c.created_at.as_micros(),
                    c.updated_at.as_micros()
                ],
                |r| r.get(0),
            )?;
        Ok(row)
    }

    fn campaign_by_id(&mut self, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredCampaign>> {
        let mut stmt =
            self.conn.prepare_cached(&format!("{CAMPAIGN_SELECT} WHERE workspace_id = ?1 AND public_id = ?2"))?;
        Ok(stmt.query_row(params![ws.0, public_id], campaign_row).optional()?)
    }

    fn running_campaigns(&mut self) -> Result<Vec<StoredCampaign>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{CAMPAIGN_SELECT} WHERE status IN ('scheduled', 'sending') ORDER BY id"))?;
        Ok(stmt.query_map([], campaign_row)?.collect::<Result<Vec<_>, _>>()?)
    }

    fn insert_recipients(&mut self, campaign: i64, list: &[Recipient]) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT OR IGNORE INTO campaign_recipients (campaign_id, contact_id, due_at, variant) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for r in list {
            stmt.execute(params![campaign, r.contact.0, r.due_at.as_micros(), r.variant])?;
        }
        Ok(())
    }

    fn due_recipients(&mut self, campaign: i64, now: Timestamp, limit: usize) -> Result<Vec<Recipient>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT contact_id, due_at, variant FROM campaign_recipients
             WHERE campaign_id = ?1 AND done = 0 AND due_at <= ?2 AND variant >= 0 ORDER BY due_at LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![campaign, now.as_micros(), limit as i64], |r| {
            Ok(Recipient {
                contact: ContactId(r.get(0)?),
                due_at: Timestamp::from_micros(r.get(1)?),
                variant: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn recipient_done(&mut self, campaign: i64, contact: ContactId) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE campaign_recipients SET done = 1 WHERE campaign_id = ?1 AND contact_id = ?2")?
            .execute(params![campaign, contact.0])?;
        Ok(())
    }

    fn assign_winner(&mut self, campaign: i64, variant: i64, due: Timestamp) -> Result<u64> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE campaign_recipients SET variant = ?2, due_at = MAX(due_at, ?3)
                 WHERE campaign_id = ?1 AND variant = -1 AND done = 0",
            )?
            .execute(params![campaign, variant, due.as_micros()])?;
        Ok(n as u64)
    }

    fn recipient_counts(&mut self, campaign: i64) -> Result<(u64, u64, u64)> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT COALESCE(SUM(done = 0 AND variant >= 0), 0), COALESCE(SUM(done = 0 AND variant < 0), 0),
                    COALESCE(SUM(done = 1), 0)
             FROM campaign_recipients WHERE campaign_id = ?1",
        )?;
        Ok(stmt.query_row([campaign], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64))
        })?)
    }

    fn variant_results(&mut self, campaign_public_id: &str) -> Result<Vec<(i64, u64, u64, u64, f64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT CAST(json_extract(data, '$.variant') AS INTEGER) AS v,
                    SUM(status NOT IN ('skipped', 'deferred', 'failed', 'bounced')),
                    SUM(status IN ('opened', 'clicked') OR json_extract(data, '$.counts.opened') > 0),
                    SUM(status = 'clicked' OR json_extract(data, '$.counts.clicked') > 0),
                    COALESCE(SUM(json_extract(data, '$.revenue')), 0.0)
             FROM messages WHERE campaign_id = ?1 AND json_extract(data, '$.variant') IS NOT NULL
             GROUP BY v ORDER BY v",
        )?;
        let rows = stmt.query_map([campaign_public_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<i64>>(1)?.unwrap_or(0) as u64,
                r.get::<_, Option<i64>>(2)?.unwrap_or(0) as u64,
                r.get::<_, Option<i64>>(3)?.unwrap_or(0) as u64,
                r.get::<_, Option<f64>>(4)?.unwrap_or(0.0),
            ))
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn campaign_revenue(&mut self, campaign_public_id: &str) -> Result<Vec<(i64, f64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT CAST(json_extract(m.data, '$.variant') AS INTEGER) AS v,
                    COALESCE(SUM(COALESCE(json_extract(e.data, '$.properties.total'),
                        json_extract(e.data, '$.properties.revenue'), json_extract(e.data, '$.properties.value'), 0)), 0.0)
             FROM messages m JOIN events e ON e.contact_id = m.contact_id AND e.name = 'Order Completed'
                 AND e.ts >= m.created_at AND e.ts < m.created_at + 432000000000
             WHERE m.campaign_id = ?1 AND json_extract(m.data, '$.variant') IS NOT NULL
             GROUP BY v",
        )?;
        let rows = stmt.query_map([campaign_public_id], |r| Ok((r.get(0)?, r.get::<_, f64>(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn save_pool(&mut self, ws: WorkspaceId, id: &str, data: &str, at: Timestamp) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO coupon_pools (workspace_id, id, data, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (workspace_id, id) DO UPDATE SET data = excluded.data",
            )?
            .execute(params![ws.0, id, data, at.as_micros()])?;
        Ok(())
    }

    fn pools(&mut self, f: &mut dyn FnMut(WorkspaceId, String, String)) -> Result<()> {
        let mut stmt = self.conn.prepare("SELECT workspace_id, id, data FROM coupon_pools")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            f(WorkspaceId(r.get(0)?), r.get(1)?, r.get(2)?);
        }
        Ok(())
    }

    fn issue_code(
        &mut self,
        ws: WorkspaceId,
        pool: &str,
        code: &str,
        contact: ContactId,
        at: Timestamp,
    ) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO coupon_codes (workspace_id, code, pool_id, contact_id, issued_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![ws.0, code, pool, contact.0, at.as_micros()])?;
        Ok(n == 1)
    }

    fn issued_code(&mut self, ws: WorkspaceId, pool: &str, contact: ContactId) -> Result<Option<(String, Timestamp)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT code, issued_at FROM coupon_codes WHERE workspace_id = ?1 AND pool_id = ?2 AND contact_id = ?3
             ORDER BY issued_at DESC LIMIT 1",
        )?;
        Ok(stmt
            .query_row(params![ws.0, pool, contact.0], |r| Ok((r.get(0)?, Timestamp::from_micros(r.get(1)?))))
            .optional()?)
    }

    fn code_used(&mut self, ws: WorkspaceId, code: &str) -> Result<bool> {
        let mut stmt = self.conn.prepare_cached("SELECT 1 FROM coupon_codes WHERE workspace_id = ?1 AND code = ?2")?;
        Ok(stmt.query_row(params![ws.0, code], |_| Ok(())).optional()?.is_some())
    }

    fn pool_issued(&mut self, ws: WorkspaceId, pool: &str) -> Result<u64> {
        let mut stmt =
            self.conn.prepare_cached("SELECT COUNT(*) FROM coupon_codes WHERE workspace_id = ?1 AND pool_id = ?2")?;
        Ok(stmt.query_row(params![ws.0, pool], |r| r.get::<_, i64>(0))? as u64)
    }

    fn coupon_code(&mut self, ws: WorkspaceId, code: &str, contact: Option<ContactId>) -> Result<Option<IssuedCode>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT pool_id, contact_id, issued_at, redeemed_at FROM coupon_codes
             WHERE workspace_id = ?1 AND code = ?2 AND (?3 IS NULL OR contact_id = ?3)
             ORDER BY redeemed_at IS NOT NULL, issued_at DESC LIMIT 1",
        )?;
        Ok(stmt
            .query_row(params![ws.0, code, contact.map(|c| c.0)], |r| {
                Ok(IssuedCode {
                    pool: r.get(0)?,
                    contact: ContactId(r.get(1)?),
                    issued_at: Timestamp::from_micros(r.get(2)?),
                    redeemed_at: r.get::<_, Option<i64>>(3)?.map(Timestamp::from_micros),
                })
            })
            .optional()?)
    }

    fn redeem_code(
        &mut self,
        ws: WorkspaceId,
        code: &str,
        contact: ContactId,
        order: &str,
        at: Timestamp,
    ) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE coupon_codes SET redeemed_at = ?4, order_id = ?5
                 WHERE workspace_id = ?1 AND code = ?2 AND contact_id = ?3 AND redeemed_at IS NULL",
            )?
            .execute(params![ws.0, code, contact.0, at.as_micros(), order])?;
        Ok(n > 0)
    }

    fn set_provider_id(&mut self, provider_id: &str, message: &str) -> Result<()> {
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO provider_ids (provider_id, message_id) VALUES (?1, ?2)")?
            .execute(params![provider_id, message])?;
        Ok(())
    }

    fn message_by_provider_id(&mut self, provider_id: &str) -> Result<Option<String>> {
        let mut stmt = self.conn.prepare_cached("SELECT message_id FROM provider_ids WHERE provider_id = ?1")?;
        Ok(stmt.query_row([provider_id], |r| r.get(0)).optional()?)
    }

    fn is_suppressed(&mut self, ws: WorkspaceId, channel: &str, address: &str) -> Result<bool> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM suppressions WHERE workspace_id = ?1 AND channel = ?2 AND address = ?3")?;
        Ok(stmt.query_row(params![ws.0, channel, address], |_| Ok(())).optional()?.is_some())
    }

    fn pending_and_recent_messages(&mut self, since: Timestamp, f: &mut dyn FnMut(StoredMessage)) -> Result<()> {
        let mut stmt = self.conn.prepare(
            "SELECT id, workspace_id, contact_id, channel, to_addr, flow_id, campaign_id, step_id, status, data, created_at
             FROM messages WHERE status IN ('deferred', 'queued', 'retrying')
                 OR (status = 'sent' AND created_at >= ?1) ORDER BY rowid",
        )?;
        let mut rows = stmt.query([since.as_micros()])?;
        while let Some(r) = rows.next()? {
            f(message_row(r)?);
        }
        Ok(())
    }

    fn insert_task(
        &mut self,
        ws: WorkspaceId,
        contact: ContactId,
        flow_id: &str,
        message: &str,
        at: Timestamp,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO tasks (workspace_id, contact_id, flow_id, message, status, created_at)
                 VALUES (?1, ?2, ?3, ?4, 'open', ?5)",
            )?
            .execute(params![ws.0, contact.0, flow_id, message, at.as_micros()])?;
        Ok(())
    }

    fn template_data(&mut self, ws: WorkspaceId, id: &str) -> Result<Option<(i64, String)>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT version, data FROM templates WHERE workspace_id = ?1 AND id = ?2")?;
        Ok(stmt.query_row(params![ws.0, id], |r| Ok((r.get(0)?, r.get(1)?))).optional()?)
    }

    fn templates_of_channel(&mut self, ws: WorkspaceId, channel: &str) -> Result<Vec<(String, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, data FROM templates WHERE workspace_id = ?1 AND json_extract(data, '$.channel') = ?2",
        )?;
        let rows = stmt.query_map(params![ws.0, channel], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn load_product(&mut self, ws: WorkspaceId, id: &str) -> Result<Option<Product>> {
        let mut stmt = self.conn.prepare_cached("SELECT data FROM products WHERE workspace_id = ?1 AND id = ?2")?;
        let data: Option<String> = stmt.query_row(params![ws.0, id], |r| r.get(0)).optional()?;
        data.map(|d| serde_json::from_str(&d).map_err(|e| corrupt("product", e))).transpose()
    }

    fn product_exists(&mut self, ws: WorkspaceId, id: &str) -> Result<bool> {
        let mut stmt = self.conn.prepare_cached("SELECT 1 FROM products WHERE workspace_id = ?1 AND id = ?2")?;
        Ok(stmt.query_row(params![ws.0, id], |_| Ok(())).optional()?.is_some())
    }

    fn workspace_settings(&mut self, f: &mut dyn FnMut(WorkspaceId, String)) -> Result<()> {
        let mut stmt = self.conn.prepare_cached("SELECT id, settings FROM workspaces WHERE settings != '{}'")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            f(WorkspaceId(r.get(0)?), r.get(1)?);
        }
        Ok(())
    }

    fn save_workspace_settings(&mut self, ws: WorkspaceId, data: &str) -> Result<()> {
        self.conn.prepare_cached("UPDATE workspaces SET settings = ?2 WHERE id = ?1")?.execute(params![ws.0, data])?;
        Ok(())
    }

    fn upsert_product(&mut self, ws: WorkspaceId, p: &Product) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO products (workspace_id, id, data, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (workspace_id, id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
        )?;
        stmt.execute(params![ws.0, p.id, to_json(p), p.updated_at.as_micros()])?;
        Ok(())
    }
}

/// A small pool of read-only connections for request handlers (WAL lets them read while the committer writes).
pub struct ReadPool {
    store: SqliteStore,
    conns: Mutex<Vec<Connection>>,
}

impl ReadPool {
    /// Runs `f` with a connection from the pool (opening an extra one if all are busy).
    pub fn with<T>(&self, f: impl FnOnce(&SqliteReader<'_>) -> Result<T>) -> Result<T> {
        let conn = self.conns.lock().map_err(|_| corrupt("read pool", "poisoned"))?.pop();
        let conn = match conn {
            Some(c) => c,
            None => self.store.connect(true)?,
        };
        let out = f(&SqliteReader { conn: &conn });
        if let Ok(mut pool) = self.conns.lock() {
            pool.push(conn);
        }
        out
    }
}

pub struct SqliteReader<'a> {
    pub(crate) conn: &'a Connection,
}

/// `(seq, contact_id, data, ts)` of an events row.
type EventRow = (i64, i64, String, i64);

fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

/// A stored event, or None (reported) for a row that cannot be read back: one damaged row must not make a whole
/// timeline, a recomputation or a group commit fail.
fn readable_event(seq: i64, data: &str) -> Option<Event> {
    match serde_json::from_str(data) {
        Ok(e) => Some(e),
        Err(e) => {
            tracing::warn!(event.seq = seq, error = %e, "skipping a stored event that cannot be read");
            None
        }
    }
}

fn to_stored(rows: Vec<EventRow>) -> Vec<StoredEvent> {
    rows.into_iter()
        .filter_map(|(seq, contact, data, _)| {
            Some(StoredEvent { seq, contact_id: ContactId(contact), event: readable_event(seq, &data)? })
        })
        .collect()
}

fn segment_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredSegment> {
    Ok(StoredSegment {
        row: r.get(0)?,
        public_id: r.get(1)?,
        workspace: WorkspaceId(r.get(2)?),
        name: r.get(3)?,
        definition: r.get(4)?,
        created_at: Timestamp::from_micros(r.get(5)?),
        updated_at: Timestamp::from_micros(r.get(6)?),
    })
}

fn template_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredTemplate> {
    Ok(StoredTemplate {
        id: r.get(0)?,
        version: r.get(1)?,
        data: r.get(2)?,
        created_at: Timestamp::from_micros(r.get(3)?),
        updated_at: Timestamp::from_micros(r.get(4)?),
    })
}

/// Columns 0..=10: id, workspace_id, contact_id, channel, to_addr, flow_id, campaign_id, step_id, status, data,
/// created_at.
const CAMPAIGN_SELECT: &str =
    "SELECT id, public_id, workspace_id, name, status, definition, state, created_at, updated_at FROM campaigns";

fn campaign_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredCampaign> {
    Ok(StoredCampaign {
        row: r.get(0)?,
        public_id: r.get(1)?,
        workspace: WorkspaceId(r.get(2)?),
        name: r.get(3)?,
        status: r.get(4)?,
        definition: r.get(5)?,
        state: r.get(6)?,
        created_at: Timestamp::from_micros(r.get(7)?),
        updated_at: Timestamp::from_micros(r.get(8)?),
    })
}

fn message_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredMessage> {
    Ok(StoredMessage {
        id: r.get(0)?,
        workspace: WorkspaceId(r.get(1)?),
        contact: ContactId(r.get(2)?),
        channel: r.get(3)?,
        to: r.get(4)?,
        flow_id: r.get(5)?,
        campaign_id: r.get(6)?,
        step_id: r.get(7)?,
        status: r.get(8)?,
        data: r.get(9)?,
        created_at: Timestamp::from_micros(r.get(10)?),
    })
}

fn run_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRun> {
    Ok(StoredRun {
        id: r.get(0)?,
        flow_row: r.get(1)?,
        version: r.get(2)?,
        workspace: WorkspaceId(r.get(3)?),
        contact: ContactId(r.get(4)?),
        key: r.get(5)?,
        step: r.get(6)?,
        due_at: r.get::<_, Option<i64>>(7)?.map(Timestamp::from_micros),
        status: r.get(8)?,
        end_reason: r.get(9)?,
        entered_at: Timestamp::from_micros(r.get(10)?),
        updated_at: Timestamp::from_micros(r.get(11)?),
        trigger: r.get(12)?,
    })
}

fn flow_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredFlow> {
    Ok(StoredFlow {
        row: r.get(0)?,
        public_id: r.get(1)?,
        workspace: WorkspaceId(r.get(2)?),
        name: r.get(3)?,
        status: r.get(4)?,
        version: r.get(5)?,
        definition: r.get(6)?,
        created_at: Timestamp::from_micros(r.get(7)?),
        updated_at: Timestamp::from_micros(r.get(8)?),
    })
}

fn bad_cursor() -> StoreError {
    StoreError::InvalidCursor("cursor is not valid".into())
}

impl SqliteReader<'_> {
    fn resolve_merged(&self, id: ContactId) -> Result<Option<(i64, Option<i64>, String)>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT workspace_id, merged_into, data FROM contacts WHERE id = ?1")?;
        Ok(stmt.query_row([id.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional()?)
    }
}

impl Reader for SqliteReader<'_> {
    fn key(&self, secret: &str) -> Result<Option<(WorkspaceId, KeyKind)>> {
        let mut stmt = self.conn.prepare_cached("SELECT workspace_id, kind FROM api_keys WHERE key_hash = ?1")?;
        let row: Option<(i64, String)> =
            stmt.query_row([hash_key(secret)], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
        Ok(row.and_then(|(ws, kind)| KeyKind::parse(&kind).map(|k| (WorkspaceId(ws), k))))
    }

    fn contact(&self, ws: WorkspaceId, id: ContactId) -> Result<Option<Contact>> {
        let mut id = id;
        // Merge chains are flattened on write, so one hop suffices; the bound guards against corrupt data.
        for _ in 0..4 {
            match self.resolve_merged(id)? {
                Some((row_ws, _, _)) if row_ws != ws.0 => return Ok(None),
                Some((_, Some(survivor), _)) => id = ContactId(survivor),
                Some((_, None, data)) => {
                    return Ok(Some(serde_json::from_str(&data).map_err(|e| corrupt("contact", e))?));
                }
                None => return Ok(None),
            }
        }
        Err(corrupt("contact", "merge chain too long"))
    }

    fn contacts(&self, ws: WorkspaceId, cursor: Option<&str>, limit: usize) -> Result<Page<Contact>> {
        let before: i64 = match cursor {
            None => i64::MAX,
            Some(c) => c.parse().map_err(|_| bad_cursor())?,
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT data FROM contacts WHERE workspace_id = ?1 AND id < ?2 AND merged_into IS NULL ORDER BY id DESC LIMIT ?3",
        )?;
        let rows = stmt
            .query_map(params![ws.0, before, (limit + 1) as i64], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut items = rows
            .iter()
            .map(|d| serde_json::from_str(d).map_err(|e| corrupt("contact", e)))
            .collect::<Result<Vec<Contact>>>()?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|c| c.id.0.to_string())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    fn search_contacts(&self, ws: WorkspaceId, q: &str, limit: usize) -> Result<Vec<Contact>> {
        let needle = q.trim().to_lowercase();
        // The longest word narrows the rows ("ann lindqvist" is not one substring of the stored JSON).
        let word = needle.split_whitespace().max_by_key(|w| w.len()).unwrap_or("");
        let pattern = format!("%{}%", word.replace('!', "!!").replace('%', "!%").replace('_', "!_"));
        // LIKE narrows the rows (ASCII case-insensitive over the stored JSON); the fields are checked after.

        let mut stmt = self.conn.prepare_cached(
            "SELECT data FROM contacts WHERE workspace_id = ?1 AND merged_into IS NULL AND data LIKE ?2 ESCAPE '!'
             ORDER BY id DESC LIMIT 5000",
        )?;
        let rows = stmt.query_map(params![ws.0, pattern], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for d in rows {
            let c: Contact = serde_json::from_str(&d?).map_err(|e| corrupt("contact", e))?;
            let text = |v: Option<&str>| v.is_some_and(|s| s.to_lowercase().contains(&needle));
            let trait_text = |k: &str| text(c.traits.get(k).and_then(|v| v.as_str()));
            let full_name = format!(
                "{} {}",
                c.traits.get("first_name").and_then(|v| v.as_str()).unwrap_or(""),
                c.traits.get("last_name").and_then(|v| v.as_str()).unwrap_or("")
            );
            if text(c.email.as_ref().map(|e| e.as_str()))
                || text(c.phone.as_ref().map(|p| p.as_str()))
                || text(c.user_id.as_deref())
                || text(Some(&full_name))
                || ["name", "first_name", "last_name"].iter().any(|k| trait_text(k))
            {
                out.push(c);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn contact_by_identity(&self, ws: WorkspaceId, kind: IdentityKind, value: &str) -> Result<Option<Contact>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT contact_id FROM identities WHERE workspace_id = ?1 AND kind = ?2 AND value = ?3")?;
        let id: Option<i64> = stmt.query_row(params![ws.0, kind.code(), value], |r| r.get(0)).optional()?;
        match id {
            Some(id) => self.contact(ws, ContactId(id)),
            None => Ok(None),
        }
    }

    fn contact_events(&self, contact: ContactId, cursor: Option<&str>, limit: usize) -> Result<Page<StoredEvent>> {
        let (ts, seq) = match cursor {
            None => (i64::MAX, i64::MAX),
            Some(c) => {
                let (a, b) = c.split_once('_').ok_or_else(bad_cursor)?;
                (a.parse().map_err(|_| bad_cursor())?, b.parse().map_err(|_| bad_cursor())?)
            }
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, contact_id, data, ts FROM events
             WHERE contact_id = ?1 AND (ts < ?2 OR (ts = ?2 AND seq < ?3))
             ORDER BY ts DESC, seq DESC LIMIT ?4",
        )?;
        let mut rows = stmt
            .query_map(params![contact.0, ts, seq, (limit + 1) as i64], event_row)?
            .collect::<Result<Vec<_>, _>>()?;
        // The cursor comes from the rows, not the readable events, so a skipped row never ends the listing early.
        let next_cursor = (rows.len() > limit).then(|| {
            rows.truncate(limit);
            rows.last().map(|(seq, _, _, ts)| format!("{ts}_{seq}"))
        });
        Ok(Page { items: to_stored(rows), next_cursor: next_cursor.flatten() })
    }

    fn workspace_events(&self, ws: WorkspaceId, cursor: Option<&str>, limit: usize) -> Result<Page<StoredEvent>> {
        let before: i64 = match cursor {
            None => i64::MAX,
            Some(c) => c.parse().map_err(|_| bad_cursor())?,
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, contact_id, data, ts FROM events WHERE workspace_id = ?1 AND seq < ?2
             ORDER BY seq DESC LIMIT ?3",
        )?;
        let mut rows =
            stmt.query_map(params![ws.0, before, (limit + 1) as i64], event_row)?.collect::<Result<Vec<_>, _>>()?;
        let next_cursor = (rows.len() > limit).then(|| {
            rows.truncate(limit);
            rows.last().map(|(seq, ..)| seq.to_string())
        });
        Ok(Page { items: to_stored(rows), next_cursor: next_cursor.flatten() })
    }

    fn segments(&self, ws: WorkspaceId) -> Result<Vec<(StoredSegment, u64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, public_id, workspace_id, name, definition, created_at, updated_at,
                    (SELECT COUNT(*) FROM segment_members m WHERE m.segment_id = s.id)
             FROM segments s WHERE workspace_id = ?1 AND deleted = 0 ORDER BY id",
        )?;
        let rows = stmt.query_map([ws.0], |r| Ok((segment_row(r)?, r.get::<_, i64>(7)? as u64)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn segment_row(&self, ws: WorkspaceId, public_id: &str) -> Result<Option<i64>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM segments WHERE workspace_id = ?1 AND public_id = ?2 AND deleted = 0")?;
        Ok(stmt.query_row(params![ws.0, public_id], |r| r.get(0)).optional()?)
    }

    fn segment_member_page(&self, row: i64, cursor: Option<&str>, limit: usize) -> Result<Page<Contact>> {
        let after: i64 = match cursor {
            None => 0,
            Some(c) => c.parse().map_err(|_| bad_cursor())?,
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.id, c.data FROM segment_members m JOIN contacts c ON c.id = m.contact_id
             WHERE m.segment_id = ?1 AND m.contact_id > ?2 ORDER BY m.contact_id LIMIT ?3",
        )?;
        let rows = stmt
            .query_map(params![row, after, (limit + 1) as i64], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut items = rows
            .iter()
            .map(|(_, d)| serde_json::from_str(d).map_err(|e| corrupt("contact", e)))
            .collect::<Result<Vec<Contact>>>()?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|c| c.id.0.to_string())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    fn segment_sizes(&self, row: i64, since: Timestamp) -> Result<Vec<(Timestamp, u64)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT at, size FROM segment_sizes WHERE segment_id = ?1 AND at >= ?2 ORDER BY at")?;
        let rows = stmt.query_map(params![row, since.as_micros()], |r| {
            Ok((Timestamp::from_micros(r.get(0)?), r.get::<_, i64>(1)? as u64))
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn template(&self, ws: WorkspaceId, id: &str) -> Result<Option<StoredTemplate>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, version, data, created_at, updated_at FROM templates WHERE workspace_id = ?1 AND id = ?2",
        )?;
        Ok(stmt.query_row(params![ws.0, id], template_row).optional()?)
    }

    fn templates(&self, ws: WorkspaceId) -> Result<Vec<StoredTemplate>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, version, data, created_at, updated_at FROM templates WHERE workspace_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([ws.0], template_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn flows(&self, ws: WorkspaceId) -> Result<Vec<StoredFlow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, public_id, workspace_id, name, status, version, definition, created_at, updated_at
             FROM flows WHERE workspace_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([ws.0], flow_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn outbox(
        &self,
        ws: WorkspaceId,
        to: Option<&str>,
        flow_id: Option<&str>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<StoredMessage>> {
        let filter =
            MessageFilter { to: to.map(str::to_string), flow_id: flow_id.map(str::to_string), ..Default::default() };
        self.messages(ws, &filter, cursor, limit)
    }

    fn messages(
        &self,
        ws: WorkspaceId,
        f: &MessageFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<StoredMessage>> {
        let before: i64 = match cursor {
            None => i64::MAX,
            Some(c) => c.parse().map_err(|_| bad_cursor())?,
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, workspace_id, contact_id, channel, to_addr, flow_id, campaign_id, step_id, status, data,
                    created_at, rowid FROM messages
             WHERE workspace_id = ?1 AND rowid < ?2 AND (?3 IS NULL OR to_addr = ?3) AND (?4 IS NULL OR flow_id = ?4)
                 AND (?5 IS NULL OR campaign_id = ?5) AND (?6 IS NULL OR contact_id = ?6) AND (?7 IS NULL OR status = ?7)
             ORDER BY rowid DESC LIMIT ?8",
        )?;
        let rows = stmt
            .query_map(
                params![
                    ws.0,
                    before,
                    f.to,
                    f.flow_id,
                    f.campaign_id,
                    f.contact.map(|c| c.0),
                    f.status,
                    (limit + 1) as i64
                ],
                |r| Ok((message_row(r)?, r.get::<_, i64>(11)?)),
            )?
            .collect::<Result<Vec<_>, _>>()?;
        let more = rows.len() > limit;
        let next_cursor = if more { rows.get(limit - 1).map(|(_, seq)| seq.to_string()) } else { None };
        Ok(Page { items: rows.into_iter().take(limit).map(|(m, _)| m).collect(), next_cursor })
    }

    fn campaigns(&self, ws: WorkspaceId) -> Result<Vec<StoredCampaign>> {
        let mut stmt =
            self.conn.prepare_cached(&format!("{CAMPAIGN_SELECT} WHERE workspace_id = ?1 ORDER BY id DESC"))?;
        Ok(stmt.query_map([ws.0], campaign_row)?.collect::<Result<Vec<_>, _>>()?)
    }

    fn campaign(&self, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredCampaign>> {
        let mut stmt =
            self.conn.prepare_cached(&format!("{CAMPAIGN_SELECT} WHERE workspace_id = ?1 AND public_id = ?2"))?;
        Ok(stmt.query_row(params![ws.0, public_id], campaign_row).optional()?)
    }

    fn campaign_message_counts(&self, public_id: &str) -> Result<Vec<(String, u64)>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT status, COUNT(*) FROM messages WHERE campaign_id = ?1 GROUP BY status")?;
        let rows = stmt.query_map([public_id], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn message_of(&self, ws: WorkspaceId, id: &str) -> Result<Option<StoredMessage>> {
        Ok(self.message_any(id)?.filter(|m| m.workspace == ws))
    }

    fn message_any(&self, id: &str) -> Result<Option<StoredMessage>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, workspace_id, contact_id, channel, to_addr, flow_id, campaign_id, step_id, status, data, created_at
             FROM messages WHERE id = ?1",
        )?;
        Ok(stmt.query_row([id], message_row).optional()?)
    }

    fn suppressions(&self, ws: WorkspaceId, limit: usize) -> Result<Vec<(String, String, String, Timestamp)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT channel, address, reason, created_at FROM suppressions WHERE workspace_id = ?1
             ORDER BY created_at DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![ws.0, limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, Timestamp::from_micros(r.get(3)?)))
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn tasks(
        &self,
        ws: WorkspaceId,
        status: Option<&str>,
    ) -> Result<Vec<(i64, ContactId, String, String, String, Timestamp)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, contact_id, flow_id, message, status, created_at FROM tasks
             WHERE workspace_id = ?1 AND (?2 IS NULL OR status = ?2) ORDER BY id DESC LIMIT 1000",
        )?;
        let rows = stmt.query_map(params![ws.0, status], |r| {
            Ok((r.get(0)?, ContactId(r.get(1)?), r.get(2)?, r.get(3)?, r.get(4)?, Timestamp::from_micros(r.get(5)?)))
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn flow_stats(&self, flow_row: i64) -> Result<FlowStats> {
        let mut out = FlowStats::default();
        let mut stmt = self.conn.prepare_cached(
            "SELECT status, COALESCE(end_reason, ''), COUNT(*) FROM flow_runs WHERE flow_id = ?1 GROUP BY 1, 2",
        )?;
        let rows =
            stmt.query_map([flow_row], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?;
        for row in rows {
            let (status, reason, n) = row?;
            out.entered += n as u64;
            if status == "active" {
                out.active += n as u64;
            } else {
                *out.exited.entry(reason.clone()).or_default() += n as u64;
                if reason == "goal" {
                    out.converted += n as u64;
                }
            }
        }
        let mut stmt = self.conn.prepare_cached("SELECT step, counter, n FROM flow_step_counts WHERE flow_id = ?1")?;
        let rows =
            stmt.query_map([flow_row], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?;
        for row in rows {
            let (step, counter, n) = row?;
            out.steps.entry(step).or_default().insert(counter, n as u64);
        }
        Ok(out)
    }

    fn product(&self, ws: WorkspaceId, id: &str) -> Result<Option<Product>> {
        let mut stmt = self.conn.prepare_cached("SELECT data FROM products WHERE workspace_id = ?1 AND id = ?2")?;
        let data: Option<String> = stmt.query_row(params![ws.0, id], |r| r.get(0)).optional()?;
        data.map(|d| serde_json::from_str(&d).map_err(|e| corrupt("product", e))).transpose()
    }

    fn products(&self, ws: WorkspaceId, cursor: Option<&str>, limit: usize) -> Result<Page<Product>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, data FROM products WHERE workspace_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3")?;
        let rows = stmt
            .query_map(params![ws.0, cursor.unwrap_or(""), (limit + 1) as i64], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut items = rows
            .into_iter()
            .map(|(_, d)| serde_json::from_str(&d).map_err(|e| corrupt("product", e)))
            .collect::<Result<Vec<Product>>>()?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|p| p.id.clone())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }
}

#[cfg(test)]
mod tests {
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
        let pool = store.read_pool(1).unwrap();
        let (id, kind) = pool.with(|r| r.key(&ws.write_key)).unwrap().unwrap();
        assert_eq!(kind, KeyKind::Write);
        assert_eq!(pool.with(|r| r.key(&ws.secret_key)).unwrap().unwrap(), (id, KeyKind::Secret));
        assert!(pool.with(|r| r.key("wk_nope")).unwrap().is_none());
        assert!(matches!(SqliteStore::open_url("postgres://x"), Err(StoreError::UnsupportedDatabase(_))));
    }
}

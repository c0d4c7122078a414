//! For tests only: ways to damage or age a database on purpose, so tests elsewhere need neither SQL nor
//! `rusqlite`.

use std::path::Path;

use kairos_store::Result;
use rusqlite::params;

use crate::{DB_FILE_NAME, Db};

/// Writes a stored event whose JSON is `data` (e.g. unreadable) into the database of `data_dir`, for the same
/// workspace, contact, kind and name as the first stored event and 1 ms before it, with message id `poison`.
/// The server must be stopped.
pub fn insert_raw_event_beside_first(data_dir: &Path, data: &str) -> Result<()> {
    let db = rusqlite::Connection::open(data_dir.join(DB_FILE_NAME)).db()?;
    db.execute(
        "INSERT INTO events (workspace_id, contact_id, message_id, kind, name, ts, received_at, data)
         SELECT workspace_id, contact_id, 'poison', kind, name, ts - 1000, received_at, ?1 FROM events LIMIT 1",
        params![data],
    )
    .db()?;
    // Listed as its contact's, as the store lists the events it writes (`crate::contact_events`).
    crate::contact_events::rebuild(&db)
}

/// Creates a database file at `file` with the schema of an older build (migrations 1..=`version` only).
pub fn create_at_version(file: &Path, version: i64) -> Result<()> {
    let mut conn = rusqlite::Connection::open(file).db()?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )
    .db()?;
    let tx = conn.transaction().db()?;
    for (i, sql) in crate::migrations::up_to(version).enumerate() {
        tx.execute_batch(sql).db()?;
        crate::migrations::post_steps(&tx, i as i64 + 1)?;
        tx.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?1, 0)", [i as i64 + 1]).db()?;
    }
    tx.commit().db()
}

/// Ages and edits contact rows of the database of `data_dir` behind the store's back: every contact whose id is
/// a multiple of 3 loses its packed form (as rows an older build wrote), and every contact whose id is 1 more
/// than a multiple of 3 gets `city` as its `city` trait in its JSON only (as a hand edit). The server must be
/// stopped.
pub fn age_and_edit_contacts(data_dir: &Path, city: &str) -> Result<()> {
    let db = rusqlite::Connection::open(data_dir.join(DB_FILE_NAME)).db()?;
    db.execute("UPDATE contacts SET packed = NULL WHERE id % 3 = 0", []).db()?;
    db.execute("UPDATE contacts SET data = json_set(data, '$.traits.city', ?1) WHERE id % 3 = 1", [city]).db()?;
    Ok(())
}

/// Counts, from now on, every rewrite of an existing identity row of the database of `data_dir` (a trigger
/// adding one to `identity_rewrites`), so a test can show which writes the engine skips. Read back with
/// [`identity_rewrites`].
pub fn count_identity_rewrites(data_dir: &Path) -> Result<()> {
    let db = rusqlite::Connection::open(data_dir.join(DB_FILE_NAME)).db()?;
    db.execute_batch(
        "CREATE TABLE identity_rewrites (n INTEGER NOT NULL);
         INSERT INTO identity_rewrites VALUES (0);
         CREATE TRIGGER identity_rewritten AFTER UPDATE ON identities
         BEGIN UPDATE identity_rewrites SET n = n + 1; END;",
    )
    .db()
}

/// Identity rows rewritten since [`count_identity_rewrites`].
pub fn identity_rewrites(data_dir: &Path) -> Result<i64> {
    let db = rusqlite::Connection::open(data_dir.join(DB_FILE_NAME)).db()?;
    db.query_row("SELECT n FROM identity_rewrites", [], |r| r.get(0)).db()
}

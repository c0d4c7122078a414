//! Workspaces and their API keys (stored as SHA-256 hashes only).

use kairos_domain::{Timestamp, WorkspaceId};
use kairos_store::Result;
use kairos_store::keys::{KeyKind, NewWorkspace, hash_key, random_token};
use kairos_store::read::KeyReads;
use rusqlite::{OptionalExtension, params};

use crate::{Db, SqliteReader, SqliteStore};

pub(crate) fn create(store: &SqliteStore, name: &str, now: Timestamp) -> Result<NewWorkspace> {
    let mut conn = store.connect(false)?;
    let tx = conn.transaction().db()?;
    let public_id = random_token("ws_", 8);
    tx.execute(
        "INSERT INTO workspaces (public_id, name, created_at) VALUES (?1, ?2, ?3)",
        params![public_id, name, now.as_micros()],
    )
    .db()?;
    let ws = tx.last_insert_rowid();
    let write_key = random_token("wk_", 16);
    let secret_key = random_token("sk_", 24);
    for (key, kind) in [(&write_key, KeyKind::Write), (&secret_key, KeyKind::Secret)] {
        tx.execute(
            "INSERT INTO api_keys (key_hash, workspace_id, kind, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![hash_key(key), ws, kind.as_str(), now.as_micros()],
        )
        .db()?;
    }
    tx.commit().db()?;
    Ok(NewWorkspace { id: public_id, write_key, secret_key })
}

pub(crate) fn list(store: &SqliteStore) -> Result<Vec<(WorkspaceId, String, String)>> {
    let conn = store.connect(true)?;
    let mut stmt = conn.prepare("SELECT id, public_id, name FROM workspaces ORDER BY id").db()?;
    let rows = stmt.query_map([], |r| Ok((WorkspaceId(r.get(0)?), r.get(1)?, r.get(2)?))).db()?;
    rows.collect::<Result<Vec<_>, _>>().db()
}

impl KeyReads for SqliteReader<'_> {
    fn key(&self, secret: &str) -> Result<Option<(WorkspaceId, KeyKind)>> {
        let mut stmt = self.conn.prepare_cached("SELECT workspace_id, kind FROM api_keys WHERE key_hash = ?1").db()?;
        let row: Option<(i64, String)> =
            stmt.query_row([hash_key(secret)], |r| Ok((r.get(0)?, r.get(1)?))).optional().db()?;
        Ok(row.and_then(|(ws, kind)| KeyKind::parse(&kind).map(|k| (WorkspaceId(ws), k))))
    }
}

//! Workspaces and their API keys (stored as SHA-256 hashes only).

use kairos_domain::{Timestamp, WorkspaceId};
use kairos_store::Result;
use kairos_store::keys::{KeyKind, NewWorkspace, hash_key, random_token};
use kairos_store::read::KeyReads;

use crate::{PgReader, PgStore, get};

pub(crate) fn create(store: &PgStore, name: &str, now: Timestamp) -> Result<NewWorkspace> {
    let mut conn = store.side()?;
    let public_id = random_token("ws_", 8);
    let write_key = random_token("wk_", 16);
    let secret_key = random_token("sk_", 24);
    // One statement: the workspace and both keys commit together.
    conn.execute(
        "WITH ws AS (INSERT INTO workspaces (public_id, name, created_at) VALUES ($1, $2, $3) RETURNING id)
         INSERT INTO api_keys (key_hash, workspace_id, kind, created_at)
         SELECT k.hash, ws.id, k.kind, $3 FROM ws,
             (VALUES ($4::BYTEA, $5::TEXT), ($6::BYTEA, $7::TEXT)) AS k (hash, kind)",
        &[
            &public_id,
            &name,
            &now.as_micros(),
            &hash_key(&write_key),
            &KeyKind::Write.as_str(),
            &hash_key(&secret_key),
            &KeyKind::Secret.as_str(),
        ],
    )?;
    Ok(NewWorkspace { id: public_id, write_key, secret_key })
}

pub(crate) fn list(store: &PgStore) -> Result<Vec<(WorkspaceId, String, String)>> {
    let rows = store.side()?.query("SELECT id, public_id, name FROM workspaces ORDER BY id", &[])?;
    rows.iter().map(|r| Ok((WorkspaceId(get(r, 0)?), get(r, 1)?, get(r, 2)?))).collect()
}

impl KeyReads for PgReader<'_> {
    fn key(&self, secret: &str) -> Result<Option<(WorkspaceId, KeyKind)>> {
        let row = self
            .conn()
            .query_opt("SELECT workspace_id, kind FROM api_keys WHERE key_hash = $1", &[&hash_key(secret)])?;
        let Some(r) = row else { return Ok(None) };
        let kind: String = get(&r, 1)?;
        let ws: i64 = get(&r, 0)?;
        Ok(KeyKind::parse(&kind).map(|k| (WorkspaceId(ws), k)))
    }
}

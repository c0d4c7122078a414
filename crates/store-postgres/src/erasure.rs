//! Erasure and the audit log (`kairos_store::erasure`), the state of platform syncs (`kairos_store::sync`) and site items: forms, quizzes, landing pages (`kairos_store::forms`).

use kairos_domain::vocab::SiteKind;
use kairos_domain::{ContactId, Timestamp, WorkspaceId};
use kairos_store::erasure::{AuditEntry, ErasureReads, ErasureWrites, PersonalRows};
use kairos_store::sync::{SyncReads, SyncWrites};
use kairos_store::{IdentityKind, Result};

use crate::conn::Conn;
use crate::{PgReader, PgWriter, get};

/// Rewrites rows keyed by a BIGINT: (select a contact's rows, update one row).
fn rewrite_by_number(
    conn: &mut Conn,
    (select, update): (&'static str, &'static str),
    contacts: &[ContactId],
    f: &mut dyn FnMut(&str) -> String,
) -> Result<u64> {
    let mut n = 0;
    for c in contacts {
        let rows = conn.query(select, &[&c.0])?;
        for r in rows {
            let (key, text): (i64, String) = (get(&r, 0)?, get(&r, 1)?);
            conn.execute(update, &[&key, &f(&text)])?;
            n += 1;
        }
    }
    Ok(n)
}

impl ErasureWrites for PgWriter {
    fn merged_into(&mut self, survivor: ContactId) -> Result<Vec<ContactId>> {
        let rows = self.conn.query("SELECT id FROM contacts WHERE merged_into = $1", &[&survivor.0])?;
        rows.iter().map(|r| get(r, 0).map(ContactId)).collect()
    }

    fn rewrite_personal(
        &mut self,
        rows: PersonalRows,
        contacts: &[ContactId],
        f: &mut dyn FnMut(&str) -> String,
    ) -> Result<u64> {
        match rows {
            PersonalRows::Events => {
                // Events inserted earlier in this transaction are still buffered: written first, so they are
                // rewritten too.
                self.flush_events()?;
                let sql = (
                    "SELECT seq, data FROM events WHERE contact_id = $1",
                    "UPDATE events SET data = $2 WHERE seq = $1",
                );
                rewrite_by_number(&mut self.conn, sql, contacts, f)
            }
            PersonalRows::RunTriggers => {
                let sql = (
                    "SELECT id, trigger FROM flow_runs WHERE contact_id = $1",
                    "UPDATE flow_runs SET trigger = $2 WHERE id = $1",
                );
                rewrite_by_number(&mut self.conn, sql, contacts, f)
            }
            PersonalRows::Tasks => {
                let sql = (
                    "SELECT id, message FROM tasks WHERE contact_id = $1",
                    "UPDATE tasks SET message = $2 WHERE id = $1",
                );
                rewrite_by_number(&mut self.conn, sql, contacts, f)
            }
            PersonalRows::Messages => {
                let mut n = 0;
                for c in contacts {
                    let rows = self.conn.query("SELECT id, data FROM messages WHERE contact_id = $1", &[&c.0])?;
                    for r in rows {
                        let (id, text): (String, String) = (get(&r, 0)?, get(&r, 1)?);
                        self.conn.execute(
                            "UPDATE messages SET data = $2, to_addr = NULL WHERE id = $1",
                            &[&id, &f(&text)],
                        )?;
                        n += 1;
                    }
                }
                Ok(n)
            }
        }
    }

    fn remove_identities_of(&mut self, ws: WorkspaceId, contacts: &[ContactId]) -> Result<Vec<(IdentityKind, String)>> {
        self.flush_identities()?;
        let mut out = Vec::new();
        for c in contacts {
            let rows = self.conn.query(
                "DELETE FROM identities WHERE workspace_id = $1 AND contact_id = $2 RETURNING kind, value",
                &[&ws.0, &c.0],
            )?;
            for r in rows {
                let (kind, value): (i64, String) = (get(&r, 0)?, get(&r, 1)?);
                out.extend(IdentityKind::from_code(kind).map(|k| (k, value)));
            }
        }
        Ok(out)
    }

    fn erasure_time(&mut self, ws: WorkspaceId, hash: &[u8]) -> Result<Option<Timestamp>> {
        let row = self
            .conn
            .query_opt("SELECT erased_at FROM erasures WHERE workspace_id = $1 AND hash = $2", &[&ws.0, &hash])?;
        row.map(|r| get(&r, 0).map(Timestamp)).transpose()
    }

    fn record_erasure(&mut self, ws: WorkspaceId, hash: &[u8], at: Timestamp) -> Result<()> {
        self.conn.execute(
            "INSERT INTO erasures (workspace_id, hash, erased_at) VALUES ($1, $2, $3)
             ON CONFLICT (workspace_id, hash) DO UPDATE SET erased_at = GREATEST(erasures.erased_at, EXCLUDED.erased_at)",
            &[&ws.0, &hash, &at.as_micros()],
        )?;
        Ok(())
    }

    fn forget_erasure(&mut self, ws: WorkspaceId, hash: &[u8]) -> Result<bool> {
        Ok(self.conn.execute("DELETE FROM erasures WHERE workspace_id = $1 AND hash = $2", &[&ws.0, &hash])? > 0)
    }

    fn record_audit(&mut self, e: &AuditEntry) -> Result<()> {
        self.conn.execute(
            "INSERT INTO audit_log (workspace_id, at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&e.workspace.0, &e.at.as_micros(), &e.actor, &e.action, &e.subject, &e.detail],
        )?;
        Ok(())
    }
}

impl ErasureReads for PgReader<'_> {
    fn erased_at(&self, ws: WorkspaceId, hash: &[u8]) -> Result<Option<Timestamp>> {
        let row = self
            .conn()
            .query_opt("SELECT erased_at FROM erasures WHERE workspace_id = $1 AND hash = $2", &[&ws.0, &hash])?;
        row.map(|r| get(&r, 0).map(Timestamp)).transpose()
    }

    fn contacts_with_anonymous_prefix(&self, ws: WorkspaceId, prefix: &str, limit: usize) -> Result<Vec<ContactId>> {
        // `value` sorts byte by byte (COLLATE "C"): the prefix is a range on the primary key.
        let rows = self.conn().query(
            "SELECT DISTINCT contact_id FROM identities
             WHERE workspace_id = $1 AND kind = $2 AND value >= $3 AND left(value, length($3)) = $3
             ORDER BY contact_id LIMIT $4",
            &[&ws.0, &IdentityKind::AnonymousId.code(), &prefix, &(limit as i64)],
        )?;
        rows.iter().map(|r| get(r, 0).map(ContactId)).collect()
    }

    fn audit_log(&self, ws: WorkspaceId, limit: usize) -> Result<Vec<AuditEntry>> {
        let rows = self.conn().query(
            "SELECT at, actor, action, subject, detail FROM audit_log WHERE workspace_id = $1
             ORDER BY id DESC LIMIT $2",
            &[&ws.0, &(limit as i64)],
        )?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    workspace: ws,
                    at: Timestamp(get(r, 0)?),
                    actor: get(r, 1)?,
                    action: get(r, 2)?,
                    subject: get(r, 3)?,
                    detail: get(r, 4)?,
                })
            })
            .collect()
    }
}

fn sync_state(conn: &mut Conn, ws: WorkspaceId, name: &str) -> Result<Option<String>> {
    let row = conn.query_opt("SELECT value FROM sync_state WHERE workspace_id = $1 AND name = $2", &[&ws.0, &name])?;
    row.map(|r| get(&r, 0)).transpose()
}

impl SyncWrites for PgWriter {
    fn sync_state(&mut self, ws: WorkspaceId, name: &str) -> Result<Option<String>> {
        sync_state(&mut self.conn, ws, name)
    }

    fn put_sync_state(&mut self, ws: WorkspaceId, name: &str, value: &str, at: Timestamp) -> Result<()> {
        self.conn.execute(
            "INSERT INTO sync_state (workspace_id, name, value, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (workspace_id, name) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at",
            &[&ws.0, &name, &value, &at.as_micros()],
        )?;
        Ok(())
    }

    fn delete_sync_state(&mut self, ws: WorkspaceId, name: &str) -> Result<bool> {
        Ok(self.conn.execute("DELETE FROM sync_state WHERE workspace_id = $1 AND name = $2", &[&ws.0, &name])? > 0)
    }
}

impl SyncReads for PgReader<'_> {
    fn sync_state(&self, ws: WorkspaceId, name: &str) -> Result<Option<String>> {
        sync_state(&mut self.conn(), ws, name)
    }
}

impl kairos_store::forms::SiteWrites for PgWriter {
    fn save_site_item(&mut self, ws: WorkspaceId, kind: SiteKind, id: &str, data: &str, at: Timestamp) -> Result<bool> {
        let n = self.conn.execute(
            "INSERT INTO site_items (id, workspace_id, kind, data, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, updated_at = EXCLUDED.updated_at
             WHERE site_items.workspace_id = EXCLUDED.workspace_id AND site_items.kind = EXCLUDED.kind",
            &[&id, &ws.0, &kind.as_str(), &data, &at.as_micros()],
        )?;
        Ok(n > 0)
    }

    fn delete_site_item(&mut self, ws: WorkspaceId, kind: SiteKind, id: &str) -> Result<bool> {
        let n = self.conn.execute(
            "DELETE FROM site_items WHERE id = $1 AND workspace_id = $2 AND kind = $3",
            &[&id, &ws.0, &kind.as_str()],
        )?;
        Ok(n > 0)
    }
}

impl kairos_store::forms::SiteReads for PgReader<'_> {
    fn site_item(&self, kind: SiteKind, id: &str) -> Result<Option<(WorkspaceId, String)>> {
        let row = self.conn().query_opt(
            "SELECT workspace_id, data FROM site_items WHERE id = $1 AND kind = $2",
            &[&id, &kind.as_str()],
        )?;
        row.map(|r| Ok((WorkspaceId(get(&r, 0)?), get(&r, 1)?))).transpose()
    }

    fn site_items(&self, ws: WorkspaceId, kind: SiteKind) -> Result<Vec<(String, String)>> {
        let rows = self.conn().query(
            "SELECT id, data FROM site_items WHERE workspace_id = $1 AND kind = $2 ORDER BY id",
            &[&ws.0, &kind.as_str()],
        )?;
        rows.iter().map(|r| Ok((get(r, 0)?, get(r, 1)?))).collect()
    }
}

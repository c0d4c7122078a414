//! Erasure and the audit log (`kairos_store::erasure`), the state of platform syncs (`kairos_store::sync`) and site items: forms, quizzes, landing pages (`kairos_store::forms`).

use kairos_domain::vocab::SiteKind;
use kairos_domain::{ContactId, Timestamp, WorkspaceId};
use kairos_store::erasure::{AuditEntry, ErasureReads, ErasureWrites, PersonalRows};
use kairos_store::sync::{SyncReads, SyncWrites};
use kairos_store::{IdentityKind, Result};
use rusqlite::{Connection, OptionalExtension, params};

use crate::{Db, SqliteReader, SqliteWriter};

/// (select the rows of a contact, update one row) for each kind of personal rows.
fn statements(rows: PersonalRows) -> (&'static str, &'static str) {
    match rows {
        // One event by sequence number: a contact's are listed by `crate::contact_events`, not indexed by contact.
        PersonalRows::Events => {
            ("SELECT seq, data FROM events WHERE seq = ?1", "UPDATE events SET data = ?2 WHERE seq = ?1")
        }
        PersonalRows::Messages => (
            "SELECT rowid, data FROM messages WHERE contact_id = ?1",
            "UPDATE messages SET data = ?2, to_addr = NULL WHERE rowid = ?1",
        ),
        PersonalRows::RunTriggers => (
            "SELECT id, trigger FROM flow_runs WHERE contact_id = ?1",
            "UPDATE flow_runs SET trigger = ?2 WHERE id = ?1",
        ),
        PersonalRows::Tasks => {
            ("SELECT id, message FROM tasks WHERE contact_id = ?1", "UPDATE tasks SET message = ?2 WHERE id = ?1")
        }
    }
}

impl ErasureWrites for SqliteWriter {
    fn merged_into(&mut self, survivor: ContactId) -> Result<Vec<ContactId>> {
        let mut stmt = self.conn.prepare_cached("SELECT id FROM contacts WHERE merged_into = ?1").db()?;
        let rows = stmt.query_map([survivor.0], |r| r.get(0).map(ContactId)).db()?;
        rows.collect::<rusqlite::Result<Vec<_>>>().db()
    }

    fn rewrite_personal(
        &mut self,
        rows: PersonalRows,
        contacts: &[ContactId],
        f: &mut dyn FnMut(&str) -> String,
    ) -> Result<u64> {
        let (select, update) = statements(rows);
        let mut n = 0;
        for c in contacts {
            let keys = match rows {
                PersonalRows::Events => crate::contact_events::seqs_of(&self.conn, *c, &self.pending.of(*c))?,
                _ => vec![c.0],
            };
            let mut found: Vec<(i64, String)> = Vec::new();
            let mut stmt = self.conn.prepare_cached(select).db()?;
            for key in keys {
                let rows = stmt.query_map([key], |r| Ok((r.get(0)?, r.get(1)?))).db()?;
                found.extend(rows.collect::<rusqlite::Result<Vec<_>>>().db()?);
            }
            let mut stmt = self.conn.prepare_cached(update).db()?;
            for (key, text) in found {
                stmt.execute(params![key, f(&text)]).db()?;
                n += 1;
            }
        }
        Ok(n)
    }

    fn remove_identities_of(&mut self, ws: WorkspaceId, contacts: &[ContactId]) -> Result<Vec<(IdentityKind, String)>> {
        // Deleted by contact: the kept bindings go in first (`crate::bindings`).
        self.bindings.write(&self.conn)?;
        let mut stmt = self
            .conn
            .prepare_cached("DELETE FROM identities WHERE workspace_id = ?1 AND contact_id = ?2 RETURNING kind, value")
            .db()?;
        let mut out = Vec::new();
        for c in contacts {
            let rows =
                stmt.query_map(params![ws.0, c.0], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))).db()?;
            for row in rows {
                let (kind, value) = row.db()?;
                out.extend(IdentityKind::from_code(kind).map(|k| (k, value)));
            }
        }
        Ok(out)
    }

    fn erasure_time(&mut self, ws: WorkspaceId, hash: &[u8]) -> Result<Option<Timestamp>> {
        erased_at(&self.conn, ws, hash)
    }

    fn record_erasure(&mut self, ws: WorkspaceId, hash: &[u8], at: Timestamp) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO erasures (workspace_id, hash, erased_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (workspace_id, hash) DO UPDATE SET erased_at = MAX(erased_at, excluded.erased_at)",
            )
            .db()?
            .execute(params![ws.0, hash, at.as_micros()])
            .db()?;
        Ok(())
    }

    fn forget_erasure(&mut self, ws: WorkspaceId, hash: &[u8]) -> Result<bool> {
        let mut stmt = self.conn.prepare_cached("DELETE FROM erasures WHERE workspace_id = ?1 AND hash = ?2").db()?;
        Ok(stmt.execute(params![ws.0, hash]).db()? > 0)
    }

    fn record_audit(&mut self, e: &AuditEntry) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO audit_log (workspace_id, at, actor, action, subject, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .db()?
            .execute(params![e.workspace.0, e.at.as_micros(), e.actor, e.action, e.subject, e.detail])
            .db()?;
        Ok(())
    }
}

fn erased_at(conn: &Connection, ws: WorkspaceId, hash: &[u8]) -> Result<Option<Timestamp>> {
    let mut stmt = conn.prepare_cached("SELECT erased_at FROM erasures WHERE workspace_id = ?1 AND hash = ?2").db()?;
    stmt.query_row(params![ws.0, hash], |r| r.get(0).map(Timestamp)).optional().db()
}

impl ErasureReads for SqliteReader<'_> {
    fn erased_at(&self, ws: WorkspaceId, hash: &[u8]) -> Result<Option<Timestamp>> {
        erased_at(&self.conn, ws, hash)
    }

    fn contacts_with_anonymous_prefix(&self, ws: WorkspaceId, prefix: &str, limit: usize) -> Result<Vec<ContactId>> {
        // A range on the primary key (workspace, kind, value): `substr` keeps the comparison exact.
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT contact_id FROM identities
                 WHERE workspace_id = ?1 AND kind = ?2 AND value >= ?3 AND substr(value, 1, length(?3)) = ?3
                 ORDER BY contact_id LIMIT ?4",
            )
            .db()?;
        let rows = stmt
            .query_map(params![ws.0, IdentityKind::AnonymousId.code(), prefix, limit as i64], |r| {
                r.get(0).map(ContactId)
            })
            .db()?;
        let mut found = rows.collect::<rusqlite::Result<Vec<_>>>().db()?;
        // The committer's bindings not yet in the table too (`crate::bindings`).
        found.extend(self.conn.pool().bindings.with_prefix(ws, IdentityKind::AnonymousId, prefix, limit));
        found.sort_unstable_by_key(|c| c.0);
        found.dedup();
        found.truncate(limit);
        Ok(found)
    }

    fn audit_log(&self, ws: WorkspaceId, limit: usize) -> Result<Vec<AuditEntry>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT at, actor, action, subject, detail FROM audit_log WHERE workspace_id = ?1
                 ORDER BY id DESC LIMIT ?2",
            )
            .db()?;
        let rows = stmt
            .query_map(params![ws.0, limit as i64], |r| {
                Ok(AuditEntry {
                    workspace: ws,
                    at: Timestamp(r.get(0)?),
                    actor: r.get(1)?,
                    action: r.get(2)?,
                    subject: r.get(3)?,
                    detail: r.get(4)?,
                })
            })
            .db()?;
        rows.collect::<rusqlite::Result<Vec<_>>>().db()
    }
}

fn sync_state(conn: &Connection, ws: WorkspaceId, name: &str) -> Result<Option<String>> {
    let mut stmt = conn.prepare_cached("SELECT value FROM sync_state WHERE workspace_id = ?1 AND name = ?2").db()?;
    stmt.query_row(params![ws.0, name], |r| r.get(0)).optional().db()
}

impl SyncWrites for SqliteWriter {
    fn sync_state(&mut self, ws: WorkspaceId, name: &str) -> Result<Option<String>> {
        sync_state(&self.conn, ws, name)
    }

    fn put_sync_state(&mut self, ws: WorkspaceId, name: &str, value: &str, at: Timestamp) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO sync_state (workspace_id, name, value, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (workspace_id, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .db()?
            .execute(params![ws.0, name, value, at.as_micros()])
            .db()?;
        Ok(())
    }

    fn delete_sync_state(&mut self, ws: WorkspaceId, name: &str) -> Result<bool> {
        let mut stmt = self.conn.prepare_cached("DELETE FROM sync_state WHERE workspace_id = ?1 AND name = ?2").db()?;
        Ok(stmt.execute(params![ws.0, name]).db()? > 0)
    }
}

impl SyncReads for SqliteReader<'_> {
    fn sync_state(&self, ws: WorkspaceId, name: &str) -> Result<Option<String>> {
        sync_state(&self.conn, ws, name)
    }
}

impl kairos_store::forms::SiteWrites for SqliteWriter {
    fn save_site_item(&mut self, ws: WorkspaceId, kind: SiteKind, id: &str, data: &str, at: Timestamp) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached(
                "INSERT INTO site_items (id, workspace_id, kind, data, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                 ON CONFLICT (id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at
                 WHERE site_items.workspace_id = excluded.workspace_id AND site_items.kind = excluded.kind",
            )
            .db()?
            .execute(params![id, ws.0, kind.as_str(), data, at.as_micros()])
            .db()?;
        Ok(n > 0)
    }

    fn delete_site_item(&mut self, ws: WorkspaceId, kind: SiteKind, id: &str) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM site_items WHERE id = ?1 AND workspace_id = ?2 AND kind = ?3")
            .db()?
            .execute(params![id, ws.0, kind.as_str()])
            .db()?;
        Ok(n > 0)
    }
}

impl kairos_store::forms::SiteReads for SqliteReader<'_> {
    fn site_item(&self, kind: SiteKind, id: &str) -> Result<Option<(WorkspaceId, String)>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT workspace_id, data FROM site_items WHERE id = ?1 AND kind = ?2").db()?;
        stmt.query_row(params![id, kind.as_str()], |r| Ok((WorkspaceId(r.get(0)?), r.get(1)?))).optional().db()
    }

    fn site_items(&self, ws: WorkspaceId, kind: SiteKind) -> Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, data FROM site_items WHERE workspace_id = ?1 AND kind = ?2 ORDER BY id")
            .db()?;
        let rows = stmt.query_map(params![ws.0, kind.as_str()], |r| Ok((r.get(0)?, r.get(1)?))).db()?;
        rows.collect::<rusqlite::Result<Vec<_>>>().db()
    }
}

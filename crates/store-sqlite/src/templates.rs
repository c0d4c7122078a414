//! Templates: the current version per id (with its channel as a column) and every version.

use kairos_domain::{Timestamp, WorkspaceId};
use kairos_store::read::TemplateReads;
use kairos_store::write::TemplateWrites;
use kairos_store::{Result, StoredTemplate};
use rusqlite::{Connection, OptionalExtension, params};

use crate::rows::template_row;
use crate::{Db, SqliteReader, SqliteWriter};

impl TemplateWrites for SqliteWriter {
    fn save_template(&mut self, ws: WorkspaceId, id: &str, channel: &str, data: &str, at: Timestamp) -> Result<i64> {
        let version: i64 = self
            .conn
            .prepare_cached(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM template_versions WHERE workspace_id = ?1 AND id = ?2",
            )
            .db()?
            .query_row(params![ws.0, id], |r| r.get(0))
            .db()?;
        self.conn
            .prepare_cached(
                "INSERT INTO templates (workspace_id, id, version, data, created_at, updated_at, channel)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)
                 ON CONFLICT (workspace_id, id) DO UPDATE SET version = excluded.version, data = excluded.data,
                     updated_at = excluded.updated_at, channel = excluded.channel",
            )
            .db()?
            .execute(params![ws.0, id, version, data, at.as_micros(), channel])
            .db()?;
        self.conn
            .prepare_cached(
                "INSERT INTO template_versions (workspace_id, id, version, data, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .db()?
            .execute(params![ws.0, id, version, data, at.as_micros()])
            .db()?;
        Ok(version)
    }

    fn template_exists(&mut self, ws: WorkspaceId, id: &str) -> Result<bool> {
        let mut stmt = self.conn.prepare_cached("SELECT 1 FROM templates WHERE workspace_id = ?1 AND id = ?2").db()?;
        Ok(stmt.query_row(params![ws.0, id], |_| Ok(())).optional().db()?.is_some())
    }

    fn template_data(&mut self, ws: WorkspaceId, id: &str) -> Result<Option<(i64, String)>> {
        template_data(&self.conn, ws, id)
    }

    fn templates_of_channel(&mut self, ws: WorkspaceId, channel: &str) -> Result<Vec<(String, String)>> {
        templates_of_channel(&self.conn, ws, channel)
    }
}

fn template_data(conn: &Connection, ws: WorkspaceId, id: &str) -> Result<Option<(i64, String)>> {
    let mut stmt =
        conn.prepare_cached("SELECT version, data FROM templates WHERE workspace_id = ?1 AND id = ?2").db()?;
    stmt.query_row(params![ws.0, id], |r| Ok((r.get(0)?, r.get(1)?))).optional().db()
}

fn templates_of_channel(conn: &Connection, ws: WorkspaceId, channel: &str) -> Result<Vec<(String, String)>> {
    let mut stmt = conn
        .prepare_cached("SELECT id, data FROM templates WHERE workspace_id = ?1 AND channel = ?2 ORDER BY id")
        .db()?;
    let rows = stmt.query_map(params![ws.0, channel], |r| Ok((r.get(0)?, r.get(1)?))).db()?;
    rows.collect::<Result<Vec<_>, _>>().db()
}

impl TemplateReads for SqliteReader<'_> {
    fn template(&self, ws: WorkspaceId, id: &str) -> Result<Option<StoredTemplate>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, version, data, created_at, updated_at FROM templates WHERE workspace_id = ?1 AND id = ?2",
            )
            .db()?;
        stmt.query_row(params![ws.0, id], template_row).optional().db()
    }

    fn templates(&self, ws: WorkspaceId) -> Result<Vec<StoredTemplate>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, version, data, created_at, updated_at FROM templates WHERE workspace_id = ?1 ORDER BY id",
            )
            .db()?;
        let rows = stmt.query_map([ws.0], template_row).db()?;
        rows.collect::<Result<Vec<_>, _>>().db()
    }

    fn template_data(&self, ws: WorkspaceId, id: &str) -> Result<Option<(i64, String)>> {
        template_data(&self.conn, ws, id)
    }

    fn templates_of_channel(&self, ws: WorkspaceId, channel: &str) -> Result<Vec<(String, String)>> {
        templates_of_channel(&self.conn, ws, channel)
    }
}

//! Templates: the current version per id (with its channel as a column) and every version.

use kairos_domain::{Timestamp, WorkspaceId};
use kairos_store::read::TemplateReads;
use kairos_store::write::TemplateWrites;
use kairos_store::{Result, StoredTemplate};
use postgres::Row;

use crate::conn::Conn;
use crate::{PgReader, PgWriter, get};

fn template_row(r: &Row) -> Result<StoredTemplate> {
    Ok(StoredTemplate {
        id: get(r, 0)?,
        version: get(r, 1)?,
        data: get(r, 2)?,
        created_at: Timestamp::from_micros(get(r, 3)?),
        updated_at: Timestamp::from_micros(get(r, 4)?),
    })
}

impl TemplateWrites for PgWriter {
    fn save_template(&mut self, ws: WorkspaceId, id: &str, channel: &str, data: &str, at: Timestamp) -> Result<i64> {
        let version: i64 = get(
            &self.conn.query_one(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM template_versions WHERE workspace_id = $1 AND id = $2",
                &[&ws.0, &id],
            )?,
            0,
        )?;
        self.conn.execute(
            "INSERT INTO templates (workspace_id, id, version, data, created_at, updated_at, channel)
             VALUES ($1, $2, $3, $4, $5, $5, $6)
             ON CONFLICT (workspace_id, id) DO UPDATE SET version = excluded.version, data = excluded.data,
                 updated_at = excluded.updated_at, channel = excluded.channel",
            &[&ws.0, &id, &version, &data, &at.as_micros(), &channel],
        )?;
        self.conn.execute(
            "INSERT INTO template_versions (workspace_id, id, version, data, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[&ws.0, &id, &version, &data, &at.as_micros()],
        )?;
        Ok(version)
    }

    fn template_exists(&mut self, ws: WorkspaceId, id: &str) -> Result<bool> {
        let row = self.conn.query_opt("SELECT 1 FROM templates WHERE workspace_id = $1 AND id = $2", &[&ws.0, &id])?;
        Ok(row.is_some())
    }

    fn template_data(&mut self, ws: WorkspaceId, id: &str) -> Result<Option<(i64, String)>> {
        template_data(&mut self.conn, ws, id)
    }

    fn templates_of_channel(&mut self, ws: WorkspaceId, channel: &str) -> Result<Vec<(String, String)>> {
        templates_of_channel(&mut self.conn, ws, channel)
    }
}

fn template_data(conn: &mut Conn, ws: WorkspaceId, id: &str) -> Result<Option<(i64, String)>> {
    let row =
        conn.query_opt("SELECT version, data FROM templates WHERE workspace_id = $1 AND id = $2", &[&ws.0, &id])?;
    row.map(|r| Ok((get(&r, 0)?, get(&r, 1)?))).transpose()
}

fn templates_of_channel(conn: &mut Conn, ws: WorkspaceId, channel: &str) -> Result<Vec<(String, String)>> {
    let rows = conn.query(
        "SELECT id, data FROM templates WHERE workspace_id = $1 AND channel = $2 ORDER BY id",
        &[&ws.0, &channel],
    )?;
    rows.iter().map(|r| Ok((get(r, 0)?, get(r, 1)?))).collect()
}

impl TemplateReads for PgReader<'_> {
    fn template(&self, ws: WorkspaceId, id: &str) -> Result<Option<StoredTemplate>> {
        let row = self.conn().query_opt(
            "SELECT id, version, data, created_at, updated_at FROM templates WHERE workspace_id = $1 AND id = $2",
            &[&ws.0, &id],
        )?;
        row.as_ref().map(template_row).transpose()
    }

    fn templates(&self, ws: WorkspaceId) -> Result<Vec<StoredTemplate>> {
        let rows = self.conn().query(
            "SELECT id, version, data, created_at, updated_at FROM templates WHERE workspace_id = $1 ORDER BY id",
            &[&ws.0],
        )?;
        rows.iter().map(template_row).collect()
    }

    fn template_data(&self, ws: WorkspaceId, id: &str) -> Result<Option<(i64, String)>> {
        template_data(&mut self.conn(), ws, id)
    }

    fn templates_of_channel(&self, ws: WorkspaceId, channel: &str) -> Result<Vec<(String, String)>> {
        templates_of_channel(&mut self.conn(), ws, channel)
    }
}

//! Per-workspace setting overrides (a JSON object on the workspace row).

use kairos_domain::WorkspaceId;
use kairos_store::Result;
use kairos_store::read::SettingsReads;
use kairos_store::write::SettingsWrites;
use rusqlite::{OptionalExtension, params};

use crate::{Db, SqliteReader, SqliteWriter};

impl SettingsWrites for SqliteWriter {
    fn workspace_settings(&mut self, f: &mut dyn FnMut(WorkspaceId, String)) -> Result<()> {
        let mut stmt = self.conn.prepare_cached("SELECT id, settings FROM workspaces WHERE settings != '{}'").db()?;
        let mut rows = stmt.query([]).db()?;
        while let Some(r) = rows.next().db()? {
            f(WorkspaceId(r.get(0).db()?), r.get(1).db()?);
        }
        Ok(())
    }

    fn save_workspace_settings(&mut self, ws: WorkspaceId, data: &str) -> Result<()> {
        // Settings rows held webhook secrets in plain text before secrets moved into `secrets`: what an update
        // frees is zeroed inside its page (FAST: no extra I/O), so a secret moved out does not linger in the
        // file. Settings are saved rarely; the hot write path keeps the default.
        self.conn.pragma_update(None, "secure_delete", "FAST").db()?;
        let saved = self
            .conn
            .prepare_cached("UPDATE workspaces SET settings = ?2 WHERE id = ?1")
            .and_then(|mut stmt| stmt.execute(params![ws.0, data]));
        self.conn.pragma_update(None, "secure_delete", "OFF").db()?;
        saved.db()?;
        Ok(())
    }
}

impl SettingsReads for SqliteReader<'_> {
    fn settings_of(&self, ws: WorkspaceId) -> Result<Option<String>> {
        let mut stmt = self.conn.prepare_cached("SELECT settings FROM workspaces WHERE id = ?1").db()?;
        stmt.query_row([ws.0], |r| r.get(0)).optional().db()
    }
}

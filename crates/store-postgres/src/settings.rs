//! Per-workspace setting overrides (a JSON object on the workspace row).

use kairos_domain::WorkspaceId;
use kairos_store::Result;
use kairos_store::read::SettingsReads;
use kairos_store::write::SettingsWrites;

use crate::{PgReader, PgWriter, get};

impl SettingsWrites for PgWriter {
    fn workspace_settings(&mut self, f: &mut dyn FnMut(WorkspaceId, String)) -> Result<()> {
        for r in self.conn.query("SELECT id, settings FROM workspaces WHERE settings != '{}'", &[])? {
            f(WorkspaceId(get(&r, 0)?), get(&r, 1)?);
        }
        Ok(())
    }

    fn save_workspace_settings(&mut self, ws: WorkspaceId, data: &str) -> Result<()> {
        self.conn.execute("UPDATE workspaces SET settings = $2 WHERE id = $1", &[&ws.0, &data])?;
        Ok(())
    }
}

impl SettingsReads for PgReader<'_> {
    fn settings_of(&self, ws: WorkspaceId) -> Result<Option<String>> {
        let row = self.conn().query_opt("SELECT settings FROM workspaces WHERE id = $1", &[&ws.0])?;
        row.map(|r| get(&r, 0)).transpose()
    }
}

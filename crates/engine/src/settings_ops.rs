//! Per-workspace settings as the committer keeps them: loaded at start, a partial update validated whole, stored, and the webhook secret kept sealed.

use crate::settings::*;
use serde_json::{Value, json};

impl crate::state::State {
    /// Reads every workspace's overrides (at start).
    pub(crate) fn load_settings(&mut self) -> Result<(), crate::EngineError> {
        let mut rows = Vec::new();
        self.w.workspace_settings(&mut |ws, data| rows.push((ws, data)))?;
        for (ws, data) in rows {
            let (overrides, settings) = effective(&self.settings.defaults, &data, &mut |e| {
                tracing::warn!(workspace = ws.0, field = %e.field, "ignoring a stored setting: {}", e.message);
            });
            self.settings.overrides.insert(ws, (overrides, settings));
        }
        Ok(())
    }

    /// The effective settings of a workspace, as JSON, with its webhook secret.
    pub(crate) fn settings_json(&mut self, ws: kairos_domain::WorkspaceId) -> Result<Value, crate::EngineError> {
        let mut out = self.settings.of(ws).to_json();
        out["webhook_secret"] = json!(crate::secrets::webhook_secret(&mut *self.w, &self.secrets, ws)?);
        Ok(out)
    }

    /// Applies a partial update (validated as a whole first) and stores the workspace's overrides; a
    /// `webhook_secret` goes to the store's secrets instead.
    pub(crate) fn update_settings(
        &mut self,
        ws: kairos_domain::WorkspaceId,
        patch: &Value,
        now: kairos_domain::Timestamp,
    ) -> Result<Value, crate::EngineError> {
        let invalid = |e: SettingsError| crate::EngineError::Invalid {
            message: format!("{}: {}", e.field, e.message),
            field: Some(e.field),
        };
        self.settings.of(ws).apply(patch).map_err(invalid)?;
        let mut patch = patch.clone();
        let secret = match patch.as_object_mut().and_then(|o| o.remove("webhook_secret")) {
            Some(v) => Some(webhook_secret(&v).map_err(invalid)?),
            None => None,
        };
        let mut overrides = self.settings.overrides.get(&ws).map_or_else(|| json!({}), |(o, _)| o.clone());
        merge(&mut overrides, &patch);
        let settings = self.settings.defaults.apply(&overrides).map_err(invalid)?;
        if let Some(secret) = secret {
            crate::secrets::set_webhook_secret(&mut *self.w, &self.secrets, ws, secret.as_deref(), now)?;
        }
        self.w.save_workspace_settings(ws, &overrides.to_string())?;
        self.settings.overrides.insert(ws, (overrides, settings));
        self.settings_json(ws)
    }
}

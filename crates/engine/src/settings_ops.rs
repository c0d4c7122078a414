//! Per-workspace settings as the committer keeps them: loaded at start, a partial update validated whole, stored, and the webhook secret kept sealed.

use crate::settings::*;
use serde_json::json;

impl crate::state::State {
    /// Reads every workspace's overrides (at start).
    pub(crate) fn load_settings(&mut self) -> Result<(), crate::EngineError> {
        let mut rows = Vec::new();
        self.w.settings_tx().workspace_settings(&mut |ws, data| rows.push((ws, data)))?;
        for (ws, data) in rows {
            let (overrides, settings) = effective(&self.settings.defaults, &data, &mut |e| {
                tracing::warn!(workspace = ws.0, field = %e.field, "ignoring a stored setting: {}", e.message);
            });
            self.settings.overrides.insert(ws, (overrides, settings));
        }
        Ok(())
    }

    /// Applies a partial update (validated as a whole first) and stores the workspace's overrides; a
    /// `webhook_secret` goes to the store's secrets instead.
    pub(crate) fn update_settings(
        &mut self,
        ws: kairos_domain::WorkspaceId,
        patch: &SettingsPatch,
        now: kairos_domain::Timestamp,
    ) -> Result<SettingsView, crate::EngineError> {
        let invalid = |e: SettingsError| crate::EngineError::Invalid {
            message: format!("{}: {}", e.field, e.message),
            field: Some(e.field),
        };
        self.settings.of(ws).apply(&patch.patch).map_err(invalid)?;
        let secret = patch.webhook_secret.clone();
        let mut overrides = self.settings.overrides.get(&ws).map_or_else(|| json!({}), |(o, _)| o.clone());
        merge(&mut overrides, &patch.patch);
        let settings = self.settings.defaults.apply(&overrides).map_err(invalid)?;
        // A team webhook to an internal address written as such is refused now (names are checked at each call).
        if let Some(url) = &settings.task_notify.webhook_url
            && let Err(refused) = self.dispatch.outbound.check_url(url)
        {
            return Err(crate::EngineError::Invalid { message: refused.0, field: Some("tasks.webhook_url".into()) });
        }
        if let Some(secret) = secret {
            crate::secrets::set_webhook_secret(self.w.secret_tx(), &self.secrets, ws, secret.as_deref(), now)?;
        }
        self.w.settings_tx().save_workspace_settings(ws, &overrides.to_string())?;
        let lead_before = self.settings.of(ws).lead.clone();
        self.settings.overrides.insert(ws, (overrides, settings));
        if self.settings.of(ws).lead != lead_before {
            self.lead_settings_changed(ws, now)?;
        }
        // The answer shows the signing secret, made now when the workspace has none (an empty update is how
        // `GET /api/v1/settings` has one made, so the admin can set up verification before the first call).
        let webhook_secret = crate::secrets::webhook_secret_or_new(self.w.secret_tx(), &self.secrets, ws, now)?;
        Ok(SettingsView { settings: self.settings.of(ws).clone(), webhook_secret: Some(webhook_secret) })
    }
}

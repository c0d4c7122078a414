//! A workspace's connections to store platforms (Shopify, WooCommerce, Magento): stored sealed in the store's
//! secrets (tokens and webhook secrets are never in settings or logs), read from committed data on each
//! webhook (every node sees the connection stored now), and the health of their webhooks.
//!
//! Webhook health (last received, counts, last failure) is kept in memory on the node that runs the engine
//! (every node forwards requests to it): it restarts at zero after a restart.

use std::collections::HashMap;
use std::sync::Mutex;

use kairos_domain::{Timestamp, WorkspaceId};
use kairos_store::secrets::names;
use kairos_store::{SecretError, StoreError};

use crate::command::Command;
use crate::state::State;
use crate::{Engine, EngineError};

pub use kairos_domain::vocab::{Platform, SiteKind};

/// How a platform's webhooks have fared since this node started.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct WebhookHealth {
    pub last_received_at: Option<Timestamp>,
    /// Verified webhooks taken in.
    pub received: u64,
    /// Webhooks refused (bad signature, malformed payload).
    pub rejected: u64,
    pub last_error: Option<String>,
    pub last_error_at: Option<Timestamp>,
    /// The last connection test (a call to the platform's API): when, and why it failed (None: it worked).
    pub tested_at: Option<Timestamp>,
    pub test_error: Option<String>,
}

/// Health per (workspace, platform).
#[derive(Default)]
pub(crate) struct Health(Mutex<HashMap<(WorkspaceId, Platform), WebhookHealth>>);

fn sealed(e: SecretError) -> EngineError {
    EngineError::Store(StoreError::from(e))
}

impl State {
    /// Stores a connection's JSON sealed, or removes it.
    pub(crate) fn set_integration(
        &mut self,
        ws: WorkspaceId,
        platform: Platform,
        config: Option<&str>,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let name = names::integration(ws, platform.as_str());
        match config {
            Some(c) => self.secrets.put(self.w.secret_tx(), &name, c.as_bytes(), now).map_err(sealed),
            None => self.w.secret_tx().delete_secret(&name).map(|_| ()).map_err(EngineError::Store),
        }
    }
}

impl State {
    pub(crate) fn set_sync_state(
        &mut self,
        ws: WorkspaceId,
        entries: Vec<(String, Option<String>)>,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let w = self.w.sync_tx();
        for (name, value) in entries {
            match value {
                Some(v) => w.put_sync_state(ws, &name, &v, now)?,
                None => {
                    w.delete_sync_state(ws, &name)?;
                }
            }
        }
        Ok(())
    }
}

impl Engine {
    /// Stores (or, with None, removes) a workspace's sync state: a name of at most
    /// [`kairos_store::sync::SYNC_NAME_BYTES_MAX`] bytes and a value of at most
    /// [`kairos_store::sync::SYNC_VALUE_BYTES_MAX`].
    pub async fn set_sync_state(&self, ws: WorkspaceId, name: &str, value: Option<String>) -> Result<(), EngineError> {
        self.set_sync_states(ws, vec![(name.to_string(), value)]).await
    }

    /// Several sync-state values in one commit (a page of a backfill's inventory items).
    pub async fn set_sync_states(
        &self,
        ws: WorkspaceId,
        entries: Vec<(String, Option<String>)>,
    ) -> Result<(), EngineError> {
        use kairos_store::sync::{SYNC_NAME_BYTES_MAX, SYNC_VALUE_BYTES_MAX};
        let too_large = |(n, v): &(String, Option<String>)| {
            n.len() > SYNC_NAME_BYTES_MAX || v.as_ref().is_some_and(|v| v.len() > SYNC_VALUE_BYTES_MAX)
        };
        if entries.iter().any(too_large) {
            return Err(EngineError::Invalid { message: "sync state too large".into(), field: None });
        }
        if entries.is_empty() {
            return Ok(());
        }
        self.command(|reply| Command::SyncState { ws, entries, reply }).await
    }

    /// Stores a site item (a form, quiz or landing page; JSON checked by the caller); false when another
    /// workspace (or another kind) holds the id.
    pub async fn save_site_item(
        &self,
        ws: WorkspaceId,
        kind: SiteKind,
        id: String,
        data: serde_json::Value,
    ) -> Result<bool, EngineError> {
        let data = Some(data.to_string());
        self.command(|reply| Command::SaveSiteItem { ws, kind, id, data, reply }).await
    }

    /// Removes a site item of the workspace; false when it has none with that id.
    pub async fn delete_site_item(&self, ws: WorkspaceId, kind: SiteKind, id: String) -> Result<bool, EngineError> {
        self.command(|reply| Command::SaveSiteItem { ws, kind, id, data: None, reply }).await
    }

    /// A site item by id with its workspace, as committed.
    pub async fn site_item(
        &self,
        kind: SiteKind,
        id: &str,
    ) -> Result<Option<(WorkspaceId, serde_json::Value)>, EngineError> {
        let id = id.to_string();
        let found = self.query(move |_, r, _| Ok(r.site_item(kind, &id)?)).await?;
        Ok(found.and_then(|(ws, data)| serde_json::from_str(&data).ok().map(|v| (ws, v))))
    }

    /// The workspace's site items of a kind, by id.
    pub async fn site_items(&self, ws: WorkspaceId, kind: SiteKind) -> Result<Vec<serde_json::Value>, EngineError> {
        let rows = self.query(move |_, r, _| Ok(r.site_items(ws, kind)?)).await?;
        Ok(rows.into_iter().filter_map(|(_, data)| serde_json::from_str(&data).ok()).collect())
    }

    /// A workspace's sync state, as committed.
    pub async fn sync_state(&self, ws: WorkspaceId, name: &str) -> Result<Option<String>, EngineError> {
        let name = name.to_string();
        self.query(move |_, r, _| Ok(r.sync_state(ws, &name)?)).await
    }

    /// Stores a workspace's connection to `platform` (its JSON, validated by the caller), sealed.
    pub async fn set_integration(
        &self,
        ws: WorkspaceId,
        platform: Platform,
        config: Option<serde_json::Value>,
    ) -> Result<(), EngineError> {
        let config = config.map(|c| c.to_string());
        self.command(|reply| Command::SetIntegration { ws, platform, config, reply }).await
    }

    /// The connection stored now (committed), if any.
    pub async fn integration(
        &self,
        ws: WorkspaceId,
        platform: Platform,
    ) -> Result<Option<serde_json::Value>, EngineError> {
        self.query(move |side, r, _| {
            let name = names::integration(ws, platform.as_str());
            let Some(bytes) = side.secrets.read(r, &name).map_err(sealed)? else { return Ok(None) };
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| EngineError::Store(StoreError::corrupt("integration", e)))
        })
        .await
    }

    /// Records a webhook taken in (`Ok`) or refused (`Err(why)`).
    pub fn record_webhook(&self, ws: WorkspaceId, platform: Platform, outcome: Result<(), String>) {
        let now = self.clock().now();
        let mut all = self.hooks.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let h = all.entry((ws, platform)).or_default();
        match outcome {
            Ok(()) => {
                h.received += 1;
                h.last_received_at = Some(now);
            }
            Err(why) => {
                h.rejected += 1;
                h.last_error = Some(why);
                h.last_error_at = Some(now);
            }
        }
    }

    /// Records a connection test's outcome.
    pub fn record_test(&self, ws: WorkspaceId, platform: Platform, outcome: Result<(), String>) {
        let now = self.clock().now();
        let mut all = self.hooks.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let h = all.entry((ws, platform)).or_default();
        h.tested_at = Some(now);
        h.test_error = outcome.err();
    }

    /// How a platform's webhooks have fared for a workspace.
    pub fn webhook_health(&self, ws: WorkspaceId, platform: Platform) -> WebhookHealth {
        let all = self.hooks.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        all.get(&(ws, platform)).cloned().unwrap_or_default()
    }

    /// Upserts a platform's products, each only if newer than the stored copy.
    pub async fn upsert_platform_products(
        &self,
        ws: WorkspaceId,
        products: Vec<kairos_domain::Product>,
    ) -> Result<(), EngineError> {
        self.command(|reply| Command::Products { ws, products, newer_only: true, reply }).await
    }
}

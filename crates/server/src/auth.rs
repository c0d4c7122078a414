//! API keys from `Authorization`: HTTP Basic with the key as user name (Segment's convention) or Bearer.

use std::collections::HashMap;
use std::sync::RwLock;

use axum::http::HeaderMap;
use base64::Engine as _;
use kairos_domain::WorkspaceId;
use kairos_store::{KeyKind, Reader};

use crate::AppState;
use crate::error::ApiError;

/// Most keys remembered; the cache is cleared when it grows past this (keys are few in practice).
const KEY_CACHE_MAX: usize = 10_000;

#[derive(Default)]
pub struct KeyCache {
    keys: RwLock<HashMap<String, (WorkspaceId, KeyKind)>>,
}

#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub workspace: WorkspaceId,
    pub kind: KeyKind,
}

pub fn presented_key(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(rest).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let user = text.split_once(':').map_or(text.as_str(), |(u, _)| u);
        return Some(user.to_string());
    }
    None
}

/// Resolves the caller's workspace and key kind, or 401.
pub async fn authenticate(app: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    resolve(app, presented_key(headers)).await
}

/// Resolves a key (from a header, or for ingestion from the body's `writeKey` as analytics.js beacons send it).
pub async fn resolve(app: &AppState, key: Option<String>) -> Result<Caller, ApiError> {
    let key = key.ok_or_else(|| {
        ApiError::unauthorized("send your key as `Authorization: Basic base64(KEY:)` or `Authorization: Bearer KEY`")
    })?;
    if let Some(&(workspace, kind)) = app.keys.keys.read().ok().and_then(|k| k.get(&key).copied()).as_ref() {
        return Ok(Caller { workspace, kind });
    }
    let engine = app.engine.clone();
    let lookup = key.clone();
    let found = tokio::task::spawn_blocking(move || engine.reads().with(|r| r.key(&lookup)))
        .await
        .map_err(|_| ApiError::unauthorized("key lookup failed"))??;
    let (workspace, kind) = found.ok_or_else(|| ApiError::unauthorized("unknown API key"))?;
    if let Ok(mut cache) = app.keys.keys.write() {
        if cache.len() >= KEY_CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, (workspace, kind));
    }
    Ok(Caller { workspace, kind })
}

/// Like [`authenticate`], and the key must be a secret key (write keys may only ingest).
pub async fn require_secret(app: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let caller = authenticate(app, headers).await?;
    if caller.kind != KeyKind::Secret {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "forbidden",
            "write keys may only ingest events; use a secret key for /api/v1",
        ));
    }
    Ok(caller)
}

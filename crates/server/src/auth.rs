//! Who is calling. API keys come from `Authorization`: HTTP Basic with the key as user name (Segment's convention)
//! or Bearer. The web UI's browser sessions come from the `kairos_session` cookie: they may use `/api/v1` like a
//! secret key of their workspace, and every such request must echo the session's CSRF token in `X-CSRF-Token`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use base64::Engine as _;
use kairos_domain::{Timestamp, WorkspaceId};
use kairos_store::KeyKind;
use kairos_store::users::Session;

use crate::AppState;
use crate::error::{ApiError, ErrorCode};

/// Most keys remembered; the cache is cleared when it grows past this (keys are few in practice).
const KEY_CACHE_MAX: usize = 10_000;

/// Cookie that carries a UI session's token.
pub const SESSION_COOKIE: &str = "kairos_session";
/// Header in which UI requests echo their session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a looked-up session is trusted without asking the database again (logout evicts it at once).
const SESSION_CACHE_TTL: Duration = Duration::from_secs(60);
/// Most sessions remembered; the cache is cleared when it grows past this.
const SESSION_CACHE_MAX: usize = 10_000;

#[derive(Default)]
pub struct KeyCache {
    keys: RwLock<HashMap<String, (WorkspaceId, KeyKind)>>,
    sessions: RwLock<HashMap<String, (Arc<Session>, Instant)>>,
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
    let found = tokio::task::spawn_blocking(move || engine.read(|r| r.key(&lookup)))
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

/// The caller's workspace for `/api/v1`, as a handler argument: a secret key (`Authorization: Bearer KEY`, or
/// Basic with the key as user name), or, without an `Authorization` header, a UI session cookie with its CSRF
/// token in `X-CSRF-Token`. Rejected with 401 without credentials or with unknown or expired ones, 403 for a
/// write key (write keys may only ingest) or a session request without its CSRF token. Every admin handler takes
/// it as its first argument, so the check runs before the path, query and body are read.
#[derive(Debug, Clone, Copy)]
pub struct SecretWorkspace(pub WorkspaceId);

impl FromRequestParts<AppState> for SecretWorkspace {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        require_secret(app, &parts.headers).await.map(|caller| SecretWorkspace(caller.workspace))
    }
}

/// Like [`SecretWorkspace`], with who is calling, for the audit log: `user:EMAIL` for a UI session, or
/// `key:…` and the key's last four characters (never the whole key).
#[derive(Debug, Clone)]
pub struct SecretActor(pub WorkspaceId, pub String);

impl FromRequestParts<AppState> for SecretActor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let caller = require_secret(app, &parts.headers).await?;
        let actor = match presented_key(&parts.headers) {
            Some(key) => {
                let tail: String = key.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
                format!("key:…{tail}")
            }
            None => match session_token(&parts.headers) {
                Some(token) => {
                    session(app, &token).await?.map_or_else(|| "user".into(), |s| format!("user:{}", s.email))
                }
                None => "unknown".into(),
            },
        };
        Ok(SecretActor(caller.workspace, actor))
    }
}

/// Like [`authenticate`], and the key must be a secret key (write keys may only ingest). Without an
/// `Authorization` header, a UI session cookie with its CSRF token counts as a secret key of its workspace.
async fn require_secret(app: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    if presented_key(headers).is_none()
        && let Some(token) = session_token(headers)
    {
        return session_caller(app, headers, &token).await;
    }
    let caller = authenticate(app, headers).await?;
    if caller.kind != KeyKind::Secret {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "write keys may only ingest events; use a secret key for /api/v1",
        ));
    }
    Ok(caller)
}

/// A UI session may act as a secret key of its workspace. The CSRF token is required on every request, reads
/// included: handlers see only the headers, not the method, and the UI sends the header on every call anyway.
async fn session_caller(app: &AppState, headers: &HeaderMap, token: &str) -> Result<Caller, ApiError> {
    let session = session(app, token)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the session has expired or was ended; log in again at /ui/login"))?;
    let presented = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !same_secret(presented, &session.csrf) {
        return Err(ApiError::new(
            ErrorCode::CsrfTokenInvalid,
            "requests with a session cookie must send the session's CSRF token in X-CSRF-Token",
        ));
    }
    Ok(Caller { workspace: session.workspace, kind: KeyKind::Secret })
}

/// The session token of the `kairos_session` cookie, if it is well formed.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Wall-clock time for sessions: their expiry is real time even when `--dev-clock` moves the engine's clock.
pub fn wall_clock() -> Timestamp {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp::from_micros(i64::try_from(since.as_micros()).unwrap_or(i64::MAX))
}

/// The live session of a cookie token (cached briefly), or `None`.
pub async fn session(app: &AppState, token: &str) -> Result<Option<Arc<Session>>, ApiError> {
    let now = wall_clock();
    let cached = app.keys.sessions.read().ok().and_then(|c| c.get(token).cloned());
    if let Some((s, at)) = cached
        && at.elapsed() < SESSION_CACHE_TTL
    {
        return Ok((s.expires_at > now).then_some(s));
    }
    let engine = app.engine.clone();
    let lookup = token.to_string();
    let found = tokio::task::spawn_blocking(move || engine.read(|r| r.session(&lookup, now)))
        .await
        .map_err(|_| ApiError::unauthorized("session lookup failed"))??;
    let Some(found) = found.map(Arc::new) else {
        forget_session(app, token);
        return Ok(None);
    };
    if let Ok(mut cache) = app.keys.sessions.write() {
        if cache.len() >= SESSION_CACHE_MAX {
            cache.clear();
        }
        cache.insert(token.to_string(), (found.clone(), Instant::now()));
    }
    Ok(Some(found))
}

/// Drops a session from the cache (after logout).
pub fn forget_session(app: &AppState, token: &str) {
    if let Ok(mut cache) = app.keys.sessions.write() {
        cache.remove(token);
    }
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && !b.is_empty() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_cookie_is_read_among_others() {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::COOKIE, "a=1; kairos_session=ab12; b=2".parse().unwrap());
        assert_eq!(session_token(&h).as_deref(), Some("ab12"));
        h.insert(axum::http::header::COOKIE, "kairos_session=not hex".parse().unwrap());
        assert_eq!(session_token(&h), None);
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abd", "abc") && !same_secret("ab", "abc") && !same_secret("", ""));
    }
}

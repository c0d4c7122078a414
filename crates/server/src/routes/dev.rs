//! `POST /api/v1/dev/clock`: moves the engine's clock (only with `serve --dev-clock`).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use kairos_domain::{Duration, Timestamp};
use serde_json::{Value, json};

use crate::AppState;
use crate::api::json_body;
use crate::auth::SecretWorkspace;
use crate::error::ApiError;

/// `POST /api/v1/dev/clock` (only with `serve --dev-clock`): `{"advance": "4h"}` or `{"set": "ISO-8601"}`.
pub async fn clock(
    _: SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let Some(clock) = app.dev_clock.clone() else {
        return Err(ApiError::not_found("no such endpoint"));
    };
    let v = json_body(&headers, body).await?;
    let now = if let Some(a) = v.get("advance") {
        let d = a.as_str().and_then(Duration::parse).ok_or_else(|| {
            ApiError::invalid_value("advance", "advance must be a duration like 30s, 15m, 4h, 2d or 1w")
        })?;
        clock.advance(d).map_err(|e| ApiError::invalid_value("advance", e.to_string()))?
    } else if let Some(s) = v.get("set") {
        let t = s
            .as_str()
            .and_then(Timestamp::parse)
            .ok_or_else(|| ApiError::invalid_value("set", "set must be an ISO-8601 date-time"))?;
        clock.set(t).map_err(|e| ApiError::invalid_value("set", e.to_string()))?
    } else {
        return Err(ApiError::missing_field(
            "advance",
            "send {\"advance\": \"4h\"} or {\"set\": \"2026-12-01T10:00:00Z\"}",
        ));
    };
    // Apply every change the new time causes (segment windows) before answering, so callers can observe it.
    app.engine.tick().await?;
    Ok(Json(json!({"now": now.to_string()})))
}

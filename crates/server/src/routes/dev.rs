//! `POST /api/v1/dev/clock`: moves the engine's clock (only with `serve --dev-clock`).

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use kairos_domain::{Duration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::AppState;
use crate::api::{json_body, lenient, present};
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorBody};
use crate::wire::Reply;

/// `{"advance": "4h"}` or `{"set": "2026-12-01T10:00:00Z"}`; time never moves back.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ClockRequest {
    /// A duration: `30s`, `15m`, `4h`, `2d`, `1w`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, example = "4h")]
    pub advance: Option<Value>,
    /// An ISO-8601 instant after the clock's current time.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub set: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClockNow {
    #[schema(format = DateTime)]
    pub now: String,
}

/// Moves the clock and applies every change the new time causes (segment windows, due flow steps) before
/// answering. Exists only with `serve --dev-clock` (404 otherwise).
#[utoipa::path(
    post,
    path = "/api/v1/dev/clock",
    operation_id = "dev_clock",
    tag = "dev",
    request_body = ClockRequest,
    responses(
        (status = 200, description = "The clock's new time", body = ClockNow),
        (status = 400, description = "A bad or backward time", body = ErrorBody),
        (status = 404, description = "The server runs without --dev-clock", body = ErrorBody)
    )
)]
pub async fn clock(
    _: SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Reply<ClockNow>, ApiError> {
    let Some(clock) = app.dev_clock.clone() else {
        return Err(ApiError::not_found("no such endpoint"));
    };
    let req: ClockRequest = lenient(json_body(&headers, body).await?)?;
    let now = if let Some(a) = req.advance {
        let d = a.as_str().and_then(Duration::parse).ok_or_else(|| {
            ApiError::invalid_value("advance", "advance must be a duration like 30s, 15m, 4h, 2d or 1w")
        })?;
        clock.advance(d).map_err(|e| ApiError::invalid_value("advance", e.to_string()))?
    } else if let Some(s) = req.set {
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
    Ok(Reply(ClockNow { now: now.to_string() }))
}

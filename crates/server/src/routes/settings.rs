//! `/api/v1/settings`: the workspace's settings over the defaults of `kairos.toml`.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::Value;

use crate::AppState;
use crate::api::json_body;
use crate::auth::SecretWorkspace;
use crate::error::ApiError;

/// `GET /api/v1/settings`: the workspace's effective settings.
pub async fn get(SecretWorkspace(ws): SecretWorkspace, State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.engine.settings(ws).await?))
}

/// `PUT /api/v1/settings`: a partial update (only the keys given change); answers the effective settings.
pub async fn put(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let v = json_body(&headers, body).await?;
    if !v.is_object() {
        return Err(ApiError::invalid_type("body", "the body must be a JSON object"));
    }
    Ok(Json(app.engine.update_settings(ws, v).await?))
}

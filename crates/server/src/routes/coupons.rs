//! `/api/v1/coupons` (SPEC 9): coupon pools, and `POST /api/v1/coupons/validate` for the store's checkout.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

use crate::AppState;
use crate::api::{contact_ref, json_body};
use crate::auth::SecretWorkspace;
use crate::error::ApiError;

/// `POST /api/v1/coupons`: creates (or replaces) a pool:
/// `{"id", "type": "shared"|"unique", "code", "pattern": "WELCOME-{CODE}", "length", "value_type":
/// "percent"|"fixed"|"free_shipping", "value", "expires_at", "valid_for": "30d", "max_codes"}`.
pub async fn save(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let v = json_body(&headers, body).await?;
    Ok((StatusCode::CREATED, Json(app.engine.save_coupon_pool(ws, v).await?)))
}

/// `GET /api/v1/coupons`: the pools with how many codes were issued.
pub async fn list(SecretWorkspace(ws): SecretWorkspace, State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.engine.coupon_pools(ws, None).await?))
}

/// `GET /api/v1/coupons/{id}`.
pub async fn get(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.engine.coupon_pools(ws, Some(id)).await?))
}

/// `POST /api/v1/coupons/validate` `{"code", "email"|"user_id"|"phone"|"contact_id" (optional)}` →
/// `{"code", "valid", "reason", "coupon"}` (reasons: unknown_code, expired, already_redeemed,
/// not_issued_to_contact).
pub async fn validate(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let v = json_body(&headers, body).await?;
    let o = v.as_object().ok_or_else(|| ApiError::invalid_type("body", "the body must be a JSON object"))?;
    let code = match o.get("code").and_then(Value::as_str) {
        Some(c) if !c.trim().is_empty() && c.len() <= 100 => c.trim().to_string(),
        _ => return Err(ApiError::missing_field("code", "code is required")),
    };
    let who = if ["contact_id", "email", "phone", "user_id"].iter().any(|k| o.contains_key(*k)) {
        Some(contact_ref(o)?)
    } else {
        None
    };
    Ok(Json(app.engine.validate_coupon(ws, code, who).await?))
}

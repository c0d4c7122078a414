//! Helpers shared by the admin API's handlers (`routes/`): reads on the read pool, paging, JSON bodies, contact
//! references.

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::Query;
use axum::http::HeaderMap;
use kairos_domain::json::REQUEST_JSON_DEPTH_MAX;
use kairos_domain::{ContactId, Email, Phone};
use kairos_engine::ContactRef;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ErrorCode};

/// Default and largest page sizes of list endpoints.
const PAGE_DEFAULT: usize = 50;
const PAGE_MAX: usize = 1_000;
/// Largest admin request body (a bulk product upsert).
const ADMIN_BODY_BYTES_MAX: usize = 8 * 1024 * 1024;

pub(crate) type Params = Query<HashMap<String, String>>;

pub(crate) fn limit(q: &HashMap<String, String>) -> Result<usize, ApiError> {
    match q.get("limit") {
        None => Ok(PAGE_DEFAULT),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=PAGE_MAX).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid_value("limit", format!("limit must be a number from 1 to {PAGE_MAX}"))),
        },
    }
}

/// Runs a read on the pool off the async threads.
pub(crate) async fn read<T: Send + 'static>(
    app: &AppState,
    f: impl FnOnce(&kairos_store::sqlite::SqliteReader<'_>) -> kairos_store::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    let engine = app.engine.clone();
    tokio::task::spawn_blocking(move || engine.reads().with(f))
        .await
        .map_err(|_| ApiError::new(ErrorCode::InternalError, "read task failed"))?
        .map_err(ApiError::from)
}

pub(crate) fn page(items: Vec<Value>, next: Option<String>) -> Json<Value> {
    Json(json!({"items": items, "next_cursor": next}))
}

pub(crate) async fn json_body(headers: &HeaderMap, body: Body) -> Result<Value, ApiError> {
    let bytes = read_body(headers, body, ADMIN_BODY_BYTES_MAX).await?;
    let depth = kairos_domain::json::text_depth(&bytes);
    if depth > REQUEST_JSON_DEPTH_MAX {
        return Err(ApiError::field(
            ErrorCode::TooDeep,
            "body",
            format!("the body nests {depth} levels deep; at most {REQUEST_JSON_DEPTH_MAX} are accepted"),
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| ApiError::invalid_json(&e))
}

/// The contact a request body names: `contact_id`, `email`, `phone` or `user_id`.
pub(crate) fn contact_ref(o: &serde_json::Map<String, Value>) -> Result<ContactRef, ApiError> {
    Ok(if let Some(id) = o.get("contact_id") {
        let id = id.as_i64().or_else(|| id.as_str().and_then(|s| s.parse().ok()));
        ContactRef::Id(ContactId(
            id.ok_or_else(|| ApiError::invalid_type("contact_id", "contact_id must be a contact id"))?,
        ))
    } else if let Some(e) = o.get("email") {
        ContactRef::Email(
            e.as_str()
                .and_then(Email::parse)
                .ok_or_else(|| ApiError::invalid_value("email", "email is not a valid address"))?,
        )
    } else if let Some(p) = o.get("phone") {
        ContactRef::Phone(
            p.as_str()
                .and_then(Phone::parse)
                .ok_or_else(|| ApiError::invalid_value("phone", "phone is not a valid number"))?,
        )
    } else if let Some(u) = o.get("user_id") {
        let u = u.as_str().filter(|s| !s.trim().is_empty());
        ContactRef::UserId(
            u.ok_or_else(|| ApiError::invalid_type("user_id", "user_id must be a non-empty string"))?
                .trim()
                .to_string(),
        )
    } else {
        return Err(ApiError::missing_field("email", "one of email, phone, user_id or contact_id is required"));
    })
}

/// Reads the body, answering 413 past `limit` bytes (checked on Content-Length first, then while reading).
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<bytes::Bytes, ApiError> {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::too_large(limit, None));
    }
    axum::body::to_bytes(body, limit).await.map_err(|_| ApiError::too_large(limit, None))
}

//! The admin API under `/api/v1` (secret key): contacts, events, catalog, consent, dev clock.

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use kairos_domain::json::REQUEST_JSON_DEPTH_MAX;
use kairos_domain::{ConsentStatus, ContactId, Duration, Email, Phone, Product, Timestamp};
use kairos_engine::ContactRef;
use kairos_store::IdentityKind;
use serde_json::{Value, json};

use crate::auth::require_secret;
use crate::error::ApiError;
use crate::ingest::read_body;
use crate::{AppState, wire};

/// Default and largest page sizes of list endpoints.
const PAGE_DEFAULT: usize = 50;
const PAGE_MAX: usize = 1_000;
/// Largest admin request body (a bulk product upsert).
const ADMIN_BODY_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Most products in one bulk upsert.
const BULK_PRODUCTS_MAX: usize = 5_000;

type Params = Query<HashMap<String, String>>;

pub(crate) fn limit(q: &HashMap<String, String>) -> Result<usize, ApiError> {
    match q.get("limit") {
        None => Ok(PAGE_DEFAULT),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=PAGE_MAX).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(
                "invalid_value",
                "limit",
                format!("limit must be a number from 1 to {PAGE_MAX}"),
            )),
        },
    }
}

fn contact_id(raw: &str) -> Result<ContactId, ApiError> {
    raw.parse::<i64>().map(ContactId).map_err(|_| ApiError::not_found(format!("contact {raw:?} not found")))
}

/// Runs a read on the pool off the async threads.
pub(crate) async fn read<T: Send + 'static>(
    app: &AppState,
    f: impl FnOnce(&dyn kairos_store::Reads) -> kairos_store::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    let engine = app.engine.clone();
    tokio::task::spawn_blocking(move || engine.read(f))
        .await
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "read task failed"))?
        .map_err(ApiError::from)
}

fn page(items: Vec<Value>, next: Option<String>) -> Json<Value> {
    Json(json!({"items": items, "next_cursor": next}))
}

pub async fn list_contacts(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let lookup = [
        ("email", IdentityKind::Email),
        ("user_id", IdentityKind::UserId),
        ("phone", IdentityKind::Phone),
        ("anonymous_id", IdentityKind::AnonymousId),
    ]
    .into_iter()
    .find_map(|(key, kind)| q.get(key).map(|v| (key, kind, v.clone())));
    if let Some((key, kind, value)) = lookup {
        let value = match kind {
            IdentityKind::Email => Email::parse(&value)
                .ok_or_else(|| ApiError::bad_request("invalid_value", key, "email is not a valid address"))?
                .as_str()
                .to_string(),
            IdentityKind::Phone => Phone::parse(&value)
                .ok_or_else(|| ApiError::bad_request("invalid_value", key, "phone is not a valid number"))?
                .as_str()
                .to_string(),
            _ => value,
        };
        let found = read(&app, move |r| r.contact_by_identity(ws, kind, &value)).await?;
        return Ok(page(found.iter().map(wire::contact).collect(), None));
    }
    let n = limit(&q)?;
    if let Some(needle) = q.get("q").filter(|s| !s.trim().is_empty()).cloned() {
        if needle.len() > 200 {
            return Err(ApiError::bad_request("invalid_value", "q", "q must be at most 200 characters"));
        }
        let found = read(&app, move |r| r.search_contacts(ws, &needle, n)).await?;
        return Ok(page(found.iter().map(wire::contact).collect(), None));
    }
    let cursor = q.get("cursor").cloned();
    let p = read(&app, move |r| r.contacts(ws, cursor.as_deref(), n)).await?;
    Ok(page(p.items.iter().map(wire::contact).collect(), p.next_cursor))
}

pub async fn get_contact(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let cid = contact_id(&id)?;
    let c = read(&app, move |r| r.contact(ws, cid))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("contact {id} not found")))?;
    Ok(Json(wire::contact(&c)))
}

pub async fn contact_events(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let cid = contact_id(&id)?;
    let n = limit(&q)?;
    let cursor = q.get("cursor").cloned();
    let p = read(&app, move |r| {
        // Events of a merged contact live under the survivor: resolve first, then list.
        match r.contact(ws, cid)? {
            Some(c) => r.contact_events(c.id, cursor.as_deref(), n).map(Some),
            None => Ok(None),
        }
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("contact {id} not found")))?;
    Ok(page(p.items.iter().map(wire::event).collect(), p.next_cursor))
}

pub async fn list_events(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let n = limit(&q)?;
    let cursor = q.get("cursor").cloned();
    let p = read(&app, move |r| r.workspace_events(ws, cursor.as_deref(), n)).await?;
    Ok(page(p.items.iter().map(wire::event).collect(), p.next_cursor))
}

pub(crate) async fn json_body(headers: &HeaderMap, body: Body) -> Result<Value, ApiError> {
    let bytes = read_body(headers, body, ADMIN_BODY_BYTES_MAX).await?;
    let depth = kairos_domain::json::text_depth(&bytes);
    if depth > REQUEST_JSON_DEPTH_MAX {
        return Err(ApiError::bad_request(
            "too_deep",
            "body",
            format!("the body nests {depth} levels deep; at most {REQUEST_JSON_DEPTH_MAX} are accepted"),
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| ApiError::invalid_json(&e))
}

pub async fn put_product(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let v = json_body(&headers, body).await?;
    let product = Product::from_api(&v, Some(&id), app.engine.clock().now())?;
    app.engine.upsert_products(ws, vec![product.clone()]).await?;
    Ok(Json(wire::product(&product)))
}

pub async fn bulk_products(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let v = json_body(&headers, body).await?;
    let items = match &v {
        Value::Array(a) => a,
        Value::Object(o) => match o.get("items") {
            Some(Value::Array(a)) => a,
            _ => return Err(ApiError::bad_request("missing_field", "items", "items must be an array of products")),
        },
        _ => return Err(ApiError::bad_request("invalid_type", "items", "send {\"items\": [product, ...]}")),
    };
    if items.len() > BULK_PRODUCTS_MAX {
        return Err(ApiError::bad_request(
            "too_long",
            "items",
            format!("at most {BULK_PRODUCTS_MAX} products per request"),
        ));
    }
    let now = app.engine.clock().now();
    let products = items
        .iter()
        .enumerate()
        .map(|(i, p)| Product::from_api(p, None, now).map_err(|e| ApiError::from(e.within(&format!("items[{i}]")))))
        .collect::<Result<Vec<_>, _>>()?;
    let count = products.len();
    app.engine.upsert_products(ws, products).await?;
    Ok(Json(json!({"upserted": count})))
}

pub async fn get_product(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let key = id.clone();
    let p = read(&app, move |r| r.product(ws, &key))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("product {id:?} not found")))?;
    Ok(Json(wire::product(&p)))
}

pub async fn list_products(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let n = limit(&q)?;
    let cursor = q.get("cursor").cloned();
    let p = read(&app, move |r| r.products(ws, cursor.as_deref(), n)).await?;
    Ok(page(p.items.iter().map(wire::product).collect(), p.next_cursor))
}

/// The contact a request body names: `contact_id`, `email`, `phone` or `user_id`.
pub(crate) fn contact_ref(o: &serde_json::Map<String, Value>) -> Result<ContactRef, ApiError> {
    Ok(if let Some(id) = o.get("contact_id") {
        let id = id.as_i64().or_else(|| id.as_str().and_then(|s| s.parse().ok()));
        ContactRef::Id(ContactId(
            id.ok_or_else(|| ApiError::bad_request("invalid_type", "contact_id", "contact_id must be a contact id"))?,
        ))
    } else if let Some(e) = o.get("email") {
        ContactRef::Email(
            e.as_str()
                .and_then(Email::parse)
                .ok_or_else(|| ApiError::bad_request("invalid_value", "email", "email is not a valid address"))?,
        )
    } else if let Some(p) = o.get("phone") {
        ContactRef::Phone(
            p.as_str()
                .and_then(Phone::parse)
                .ok_or_else(|| ApiError::bad_request("invalid_value", "phone", "phone is not a valid number"))?,
        )
    } else if let Some(u) = o.get("user_id") {
        let u = u.as_str().filter(|s| !s.trim().is_empty());
        ContactRef::UserId(
            u.ok_or_else(|| ApiError::bad_request("invalid_type", "user_id", "user_id must be a non-empty string"))?
                .trim()
                .to_string(),
        )
    } else {
        return Err(ApiError::bad_request(
            "missing_field",
            "email",
            "one of email, phone, user_id or contact_id is required",
        ));
    })
}

/// `POST /api/v1/contacts/consent` (SPEC 16).
pub async fn set_consent(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let v = json_body(&headers, body).await?;
    let o =
        v.as_object().ok_or_else(|| ApiError::bad_request("invalid_type", "body", "the body must be a JSON object"))?;
    let text = |k: &str| o.get(k).and_then(Value::as_str);
    let who = contact_ref(o)?;
    let channel = match text("channel") {
        Some("email") => "email",
        Some("sms") => "sms",
        _ => return Err(ApiError::bad_request("invalid_value", "channel", "channel must be \"email\" or \"sms\"")),
    };
    let status = match text("status").and_then(ConsentStatus::parse) {
        Some(s @ (ConsentStatus::Subscribed | ConsentStatus::Unsubscribed)) => s,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_value",
                "status",
                "status must be \"subscribed\" or \"unsubscribed\"",
            ));
        }
    };
    let source = match o.get("source") {
        None | Some(Value::Null) => "api".to_string(),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 100 => s.clone(),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_value",
                "source",
                "source must be a string of 1 to 100 characters",
            ));
        }
    };
    let contact = app.engine.set_consent(ws, who, channel, status, source).await?;
    Ok(Json(wire::contact(&contact)))
}

/// `POST /api/v1/dev/clock` (only with `serve --dev-clock`): `{"advance": "4h"}` or `{"set": "ISO-8601"}`.
pub async fn dev_clock(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Result<Json<Value>, ApiError> {
    require_secret(&app, &headers).await?;
    let Some(clock) = app.dev_clock.clone() else {
        return Err(ApiError::not_found("no such endpoint"));
    };
    let v = json_body(&headers, body).await?;
    let now = if let Some(a) = v.get("advance") {
        let d = a.as_str().and_then(Duration::parse).ok_or_else(|| {
            ApiError::bad_request("invalid_value", "advance", "advance must be a duration like 30s, 15m, 4h, 2d or 1w")
        })?;
        clock.advance(d).map_err(|e| ApiError::bad_request("invalid_value", "advance", e.to_string()))?
    } else if let Some(s) = v.get("set") {
        let t = s
            .as_str()
            .and_then(Timestamp::parse)
            .ok_or_else(|| ApiError::bad_request("invalid_value", "set", "set must be an ISO-8601 date-time"))?;
        clock.set(t).map_err(|e| ApiError::bad_request("invalid_value", "set", e.to_string()))?
    } else {
        return Err(ApiError::bad_request(
            "missing_field",
            "advance",
            "send {\"advance\": \"4h\"} or {\"set\": \"2026-12-01T10:00:00Z\"}",
        ));
    };
    // Apply every change the new time causes (segment windows) before answering, so callers can observe it.
    app.engine.tick().await?;
    Ok(Json(json!({"now": now.to_string()})))
}

/// `GET /api/v1/settings`: the workspace's effective settings.
pub async fn get_settings(State(app): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    Ok(Json(app.engine.settings(ws).await?))
}

/// `PUT /api/v1/settings`: a partial update (only the keys given change); answers the effective settings.
pub async fn put_settings(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let v = json_body(&headers, body).await?;
    if !v.is_object() {
        return Err(ApiError::bad_request("invalid_type", "body", "the body must be a JSON object"));
    }
    Ok(Json(app.engine.update_settings(ws, v).await?))
}

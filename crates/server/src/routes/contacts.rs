//! `/api/v1/contacts`: profiles, their timelines, and consent (SPEC 16).

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use kairos_domain::{ConsentStatus, ContactId, Email, Phone};
use kairos_store::{IdentityKind, Reader};
use serde_json::Value;

use crate::api::{Params, contact_ref, json_body, limit, page, read};
use crate::auth::SecretWorkspace;
use crate::error::ApiError;
use crate::{AppState, wire};

fn contact_id(raw: &str) -> Result<ContactId, ApiError> {
    raw.parse::<i64>().map(ContactId).map_err(|_| ApiError::not_found(format!("contact {raw:?} not found")))
}

pub async fn list(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
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
                .ok_or_else(|| ApiError::invalid_value(key, "email is not a valid address"))?
                .as_str()
                .to_string(),
            IdentityKind::Phone => Phone::parse(&value)
                .ok_or_else(|| ApiError::invalid_value(key, "phone is not a valid number"))?
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
            return Err(ApiError::invalid_value("q", "q must be at most 200 characters"));
        }
        let found = read(&app, move |r| r.search_contacts(ws, &needle, n)).await?;
        return Ok(page(found.iter().map(wire::contact).collect(), None));
    }
    let cursor = q.get("cursor").cloned();
    let p = read(&app, move |r| r.contacts(ws, cursor.as_deref(), n)).await?;
    Ok(page(p.items.iter().map(wire::contact).collect(), p.next_cursor))
}

pub async fn get(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let cid = contact_id(&id)?;
    let c = read(&app, move |r| r.contact(ws, cid))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("contact {id} not found")))?;
    Ok(Json(wire::contact(&c)))
}

pub async fn events(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
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

/// `POST /api/v1/contacts/consent` (SPEC 16).
pub async fn set_consent(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let v = json_body(&headers, body).await?;
    let o = v.as_object().ok_or_else(|| ApiError::invalid_type("body", "the body must be a JSON object"))?;
    let text = |k: &str| o.get(k).and_then(Value::as_str);
    let who = contact_ref(o)?;
    let channel = match text("channel") {
        Some("email") => "email",
        Some("sms") => "sms",
        _ => return Err(ApiError::invalid_value("channel", "channel must be \"email\" or \"sms\"")),
    };
    let status = match text("status").and_then(ConsentStatus::parse) {
        Some(s @ (ConsentStatus::Subscribed | ConsentStatus::Unsubscribed)) => s,
        _ => {
            return Err(ApiError::invalid_value("status", "status must be \"subscribed\" or \"unsubscribed\""));
        }
    };
    let source = match o.get("source") {
        None | Some(Value::Null) => "api".to_string(),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 100 => s.clone(),
        Some(_) => {
            return Err(ApiError::invalid_value("source", "source must be a string of 1 to 100 characters"));
        }
    };
    let contact = app.engine.set_consent(ws, who, channel, status, source).await?;
    Ok(Json(wire::contact(&contact)))
}

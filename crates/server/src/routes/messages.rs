//! Messages: `GET /api/v1/messages`, the capture outbox, the suppression list and bounce reports.

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use kairos_domain::ContactId;
use kairos_store::{MessageFilter, Reader, StoredMessage};
use serde_json::{Value, json};

use crate::AppState;
use crate::api::{json_body, limit, read};
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorCode};

/// A message as the API shows it (`history` and rendered parts included).
pub fn message_json(m: &StoredMessage) -> Value {
    let d: Value = serde_json::from_str(&m.data).unwrap_or(Value::Null);
    json!({
        "id": m.id, "channel": m.channel, "to": m.to, "contact_id": m.contact.0, "flow_id": m.flow_id,
        "campaign_id": m.campaign_id, "step_id": m.step_id, "status": m.status, "reason": d["reason"],
        "subject": d["subject"], "html": d["html"], "text": d["text"], "body": d["body"],
        "template_id": d["template_id"], "template_version": d["template_version"],
        "attempts": d["attempts"].as_u64().unwrap_or(0), "history": d["history"].clone(),
        "warnings": d["warnings"].as_array().cloned().unwrap_or_default(),
        "created_at": m.created_at.to_string(),
    })
}

/// `GET /api/v1/messages?contact_id=&flow_id=&campaign_id=&status=&to=` (SPEC 8), newest first.
pub async fn list(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let n = limit(&q)?;
    let contact = match q.get("contact_id") {
        None => None,
        Some(s) => Some(ContactId(
            s.parse()
                .map_err(|_| ApiError::invalid_value("contact_id", "contact_id must be a contact's numeric id"))?,
        )),
    };
    let filter = MessageFilter {
        to: q.get("to").cloned(),
        contact,
        flow_id: q.get("flow_id").cloned(),
        campaign_id: q.get("campaign_id").cloned(),
        status: q.get("status").cloned(),
    };
    let cursor = q.get("cursor").cloned();
    let page = read(&app, move |r| r.messages(ws, &filter, cursor.as_deref(), n)).await?;
    let items: Vec<Value> = page.items.iter().map(message_json).collect();
    Ok(Json(json!({"items": items, "next_cursor": page.next_cursor})))
}

/// `GET /api/v1/messages/{id}`: one message with its status history.
pub async fn get(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let m = read(&app, move |r| r.message_of(ws, &id)).await?.ok_or_else(|| ApiError::not_found("no such message"))?;
    Ok(Json(message_json(&m)))
}

/// `GET /api/v1/outbox?to=&flow_id=&limit=&cursor=` (SPEC 16): messages captured instead of sent.
pub async fn outbox(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let n = limit(&q)?;
    let (to, flow, cursor) = (q.get("to").cloned(), q.get("flow_id").cloned(), q.get("cursor").cloned());
    let page = read(&app, move |r| r.outbox(ws, to.as_deref(), flow.as_deref(), cursor.as_deref(), n)).await?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|m| {
            let d: Value = serde_json::from_str(&m.data).unwrap_or(Value::Null);
            json!({
                "id": m.id, "channel": m.channel, "to": m.to, "subject": d["subject"], "html": d["html"],
                "text": d["text"], "body": d["body"], "flow_id": m.flow_id, "campaign_id": m.campaign_id,
                "step_id": m.step_id, "contact_id": m.contact.0, "status": m.status, "reason": d["reason"],
                "template_id": d["template_id"], "template_version": d["template_version"],
                "created_at": m.created_at.to_string(),
            })
        })
        .collect();
    Ok(Json(json!({"items": items, "next_cursor": page.next_cursor})))
}

fn channel_param(v: Option<&str>) -> Result<String, ApiError> {
    match v {
        Some(c @ ("email" | "sms")) => Ok(c.to_string()),
        _ => Err(ApiError::invalid_value("channel", "channel must be \"email\" or \"sms\"")),
    }
}

/// `GET /api/v1/suppressions`: addresses never sent to again (hard bounces, complaints, manual).
pub async fn suppressions(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
) -> Result<Json<Value>, ApiError> {
    let rows = read(&app, move |r| r.suppressions(ws, 1000)).await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|(c, a, why, at)| json!({"channel": c, "address": a, "reason": why, "created_at": at.to_string()}))
        .collect();
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

/// `POST /api/v1/suppressions` `{"channel": "email", "address": "..."}`.
pub async fn suppress(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let v = json_body(&headers, body).await?;
    let channel = channel_param(v["channel"].as_str())?;
    let address = normalise(&channel, v["address"].as_str())?;
    app.engine.set_suppressed(ws, channel.clone(), address.clone(), true).await?;
    Ok((StatusCode::CREATED, Json(json!({"channel": channel, "address": address, "reason": "manual"}))))
}

/// `DELETE /api/v1/suppressions/{channel}/{address}`.
pub async fn unsuppress(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path((channel, address)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let channel = channel_param(Some(&channel))?;
    let address = normalise(&channel, Some(&address))?;
    if app.engine.set_suppressed(ws, channel, address, false).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("that address is not suppressed"))
    }
}

fn normalise(channel: &str, address: Option<&str>) -> Result<String, ApiError> {
    let a = address.unwrap_or_default();
    let parsed = if channel == "email" {
        kairos_domain::Email::parse(a).map(|e| e.as_str().to_string())
    } else {
        kairos_domain::Phone::parse(a).map(|p| p.as_str().to_string())
    };
    parsed.ok_or_else(|| ApiError::invalid_value("address", format!("not a valid {channel} address")))
}

/// `POST /api/v1/bounces`: a provider webhook (`{"email", "type": "hard"|"soft"|"complaint", "message_id"}` or
/// `{"events": [...]}`) or a raw report (`Content-Type: message/rfc822` / `multipart/report`: RFC 3464 DSN or an
/// RFC 5965 complaint). Hard bounces and complaints suppress the address; soft bounces are recorded. A message
/// id marks that message only when it is the caller's workspace's (anything else is ignored).
pub async fn bounces(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let ctype = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let mut reports: Vec<(String, &'static str, Option<String>)> = Vec::new();
    if ctype.starts_with("application/json") {
        let v = json_body(&headers, body).await?;
        let list = match v.get("events").and_then(Value::as_array) {
            Some(l) => l.clone(),
            None => vec![v],
        };
        for (i, e) in list.iter().enumerate() {
            let at = |f: &str| if list.len() > 1 || e != &list[0] { format!("events[{i}].{f}") } else { f.to_string() };
            let address = e["email"].as_str().or(e["address"].as_str()).and_then(kairos_domain::Email::parse);
            let Some(address) = address else {
                return Err(ApiError::invalid_value(&at("email"), "email must be an email address"));
            };
            let kind = match e["type"].as_str() {
                Some("hard" | "bounce" | "hard_bounce") => "hard",
                Some("soft" | "soft_bounce" | "deferred") => "soft",
                Some("complaint" | "spam" | "spamreport") => "complaint",
                _ => {
                    return Err(ApiError::invalid_value(
                        &at("type"),
                        "type must be \"hard\", \"soft\" or \"complaint\"",
                    ));
                }
            };
            reports.push((address.as_str().to_string(), kind, e["message_id"].as_str().map(str::to_string)));
        }
    } else {
        let raw = crate::api::read_body(&headers, body, 4 * 1024 * 1024).await?;
        for b in kairos_channels::parse_dsn(&raw) {
            let kind = match b.kind {
                kairos_channels::BounceKind::Hard => "hard",
                kairos_channels::BounceKind::Soft => "soft",
                kairos_channels::BounceKind::Complaint => "complaint",
            };
            // The original's `Message-ID: <id@domain>` leads back to the send.
            let message = b.message_id.as_deref().and_then(|m| m.trim_matches(['<', '>']).split('@').next());
            reports.push((b.recipient.to_ascii_lowercase(), kind, message.map(str::to_string)));
        }
        if reports.is_empty() {
            return Err(ApiError::field(
                ErrorCode::InvalidReport,
                "body",
                "no delivery status or complaint report found in the message",
            ));
        }
    }
    let mut out = Vec::new();
    for (address, kind, message) in reports {
        out.push(app.engine.bounce(ws, address, kind, message).await?);
    }
    Ok(Json(json!({"items": out})))
}

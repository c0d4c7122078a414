//! `/api/v1/templates`: validated, versioned message templates, and their previews for a contact.

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use kairos_domain::ContactId;
use kairos_store::{Reader, StoredTemplate};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::api::{json_body, read};
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorCode};

const ID_CHARS_MAX: usize = 64;
const TEMPLATE_PART_BYTES_MAX: usize = 256 * 1024;

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.chars().count() <= ID_CHARS_MAX
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Validates a template body into the stored JSON (without id and version).
fn template_body(v: &Value) -> Result<Map<String, Value>, ApiError> {
    let o = v.as_object().ok_or_else(|| ApiError::invalid_type("body", "the body must be a JSON object"))?;
    let known = ["id", "name", "channel", "subject", "html", "text", "body", "layout"];
    if let Some(k) = o.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ApiError::field(ErrorCode::UnknownField, k, format!("unknown field {k:?}")));
    }
    let text = |k: &str| -> Result<Option<String>, ApiError> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(None),
            // Liquid syntax, filters, partials and layouts are checked by the engine against the workspace.
            Some(Value::String(s)) if s.len() <= TEMPLATE_PART_BYTES_MAX => Ok(Some(s.clone())),
            Some(Value::String(_)) => Err(ApiError::field(ErrorCode::TooLong, k, format!("{k} is larger than 256 KB"))),
            Some(_) => Err(ApiError::invalid_type(k, format!("{k} must be a string"))),
        }
    };
    let channel = match text("channel")?.as_deref() {
        Some(c @ ("email" | "sms" | "chat" | "webhook" | "partial" | "layout")) => c.to_string(),
        _ => {
            return Err(ApiError::invalid_value(
                "channel",
                "channel must be email, sms, chat, webhook, partial or layout",
            ));
        }
    };
    let mut out = Map::new();
    for k in ["name", "subject", "html", "text", "body", "layout"] {
        if let Some(s) = text(k)? {
            out.insert(k.into(), Value::String(s));
        }
    }
    match channel.as_str() {
        "email" if !out.contains_key("subject") => {
            return Err(ApiError::missing_field("subject", "an email template needs a subject"));
        }
        "email" if !out.contains_key("html") && !out.contains_key("text") => {
            return Err(ApiError::missing_field("html", "an email template needs html or text"));
        }
        "sms" | "chat" | "webhook" if !out.contains_key("body") => {
            return Err(ApiError::missing_field("body", format!("a {channel} template needs a body")));
        }
        "layout" if !out.get("html").and_then(Value::as_str).is_some_and(|h| h.contains("content")) => {
            return Err(ApiError::missing_field(
                "html",
                "a layout needs html with {{ content }} where the message goes",
            ));
        }
        "partial" if !out.contains_key("html") && !out.contains_key("body") => {
            return Err(ApiError::missing_field("html", "a partial needs html (or body)"));
        }
        _ => {}
    }
    out.insert("channel".into(), Value::String(channel));
    Ok(out)
}

fn template_json(t: &StoredTemplate) -> Value {
    let mut v: Value = serde_json::from_str(&t.data).unwrap_or_else(|_| json!({}));
    if let Some(o) = v.as_object_mut() {
        o.insert("id".into(), json!(t.id));
        o.insert("version".into(), json!(t.version));
        o.insert("created_at".into(), json!(t.created_at.to_string()));
        o.insert("updated_at".into(), json!(t.updated_at.to_string()));
    }
    v
}

async fn save_template(
    app: &AppState,
    ws: kairos_domain::WorkspaceId,
    id: String,
    data: Map<String, Value>,
) -> Result<Value, ApiError> {
    app.engine.save_template(ws, id.clone(), Value::Object(data)).await?;
    let t = read(app, move |r| r.template(ws, &id)).await?.ok_or_else(|| ApiError::not_found("template vanished"))?;
    Ok(template_json(&t))
}

pub async fn create(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let v = json_body(&headers, body).await?;
    let data = template_body(&v)?;
    let id = match v.get("id") {
        None | Some(Value::Null) => kairos_store::keys::random_token("tpl_", 6),
        Some(Value::String(s)) if valid_id(s) => s.clone(),
        Some(_) => {
            return Err(ApiError::invalid_value("id", "id is 1 to 64 letters, digits, '_' or '-'"));
        }
    };
    let key = id.clone();
    if read(&app, move |r| r.template(ws, &key)).await?.is_some() {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("template {id:?} exists; PUT /api/v1/templates/{id} updates it"),
        ));
    }
    Ok((StatusCode::CREATED, Json(save_template(&app, ws, id, data).await?)))
}

pub async fn put(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    if !valid_id(&id) {
        return Err(ApiError::invalid_value("id", "id is 1 to 64 letters, digits, '_' or '-'"));
    }
    let v = json_body(&headers, body).await?;
    if v.get("id").is_some_and(|b| b.as_str() != Some(id.as_str())) {
        return Err(ApiError::invalid_value("id", "id in the body differs from the id in the URL"));
    }
    let data = template_body(&v)?;
    Ok(Json(save_template(&app, ws, id, data).await?))
}

pub async fn get(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let key = id.clone();
    let t = read(&app, move |r| r.template(ws, &key))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("template {id:?} not found")))?;
    Ok(Json(template_json(&t)))
}

pub async fn list(SecretWorkspace(ws): SecretWorkspace, State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let items = read(&app, move |r| r.templates(ws)).await?;
    let items: Vec<Value> = items.iter().map(template_json).collect();
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

/// `POST /api/v1/templates/{id}/preview?contact_id=N`, optional body `{"event": {...}}` for the trigger event.
pub async fn preview(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let contact = q
        .get("contact_id")
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| ApiError::missing_field("contact_id", "contact_id (a contact's id) is required"))?;
    let v = json_body(&headers, body).await.unwrap_or(Value::Null);
    let event = match v.get("event") {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(_) => return Err(ApiError::invalid_type("event", "event must be an object")),
    };
    Ok(Json(app.engine.preview_template(ws, id, ContactId(contact), event).await?))
}

/// `POST /api/v1/templates/preview?contact_id=N` with `{"template": {"subject", "html", "text", "body",
/// "layout"}, "event": {...}}`: renders an unsaved template (the editor's live preview).
pub async fn preview_draft(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let contact = q
        .get("contact_id")
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| ApiError::missing_field("contact_id", "contact_id (a contact's id) is required"))?;
    let v = json_body(&headers, body).await?;
    let draft = match v.get("template") {
        Some(t @ Value::Object(_)) => t.clone(),
        _ => {
            return Err(ApiError::missing_field("template", "template must be an object with its parts"));
        }
    };
    let event = match v.get("event") {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(_) => return Err(ApiError::invalid_type("event", "event must be an object")),
    };
    Ok(Json(app.engine.preview_draft(ws, draft, ContactId(contact), event).await?))
}

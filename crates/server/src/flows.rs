//! `/api/v1/templates` and `/api/v1/flows`: validated, versioned definitions. (Running flows and rendering
//! templates build on these.)

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use kairos_store::{StoredFlow, StoredTemplate};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::api::{json_body, read};
use crate::auth::require_secret;
use crate::error::ApiError;

const ID_CHARS_MAX: usize = 64;
const TEMPLATE_PART_BYTES_MAX: usize = 256 * 1024;

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.chars().count() <= ID_CHARS_MAX
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Validates a template body into the stored JSON (without id and version).
fn template_body(v: &Value) -> Result<Map<String, Value>, ApiError> {
    let o =
        v.as_object().ok_or_else(|| ApiError::bad_request("invalid_type", "body", "the body must be a JSON object"))?;
    let known = ["id", "name", "channel", "subject", "html", "text", "body", "layout"];
    if let Some(k) = o.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ApiError::bad_request("unknown_field", k, format!("unknown field {k:?}")));
    }
    let text = |k: &str| -> Result<Option<String>, ApiError> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(None),
            // Liquid syntax, filters, partials and layouts are checked by the engine against the workspace.
            Some(Value::String(s)) if s.len() <= TEMPLATE_PART_BYTES_MAX => Ok(Some(s.clone())),
            Some(Value::String(_)) => Err(ApiError::bad_request("too_long", k, format!("{k} is larger than 256 KB"))),
            Some(_) => Err(ApiError::bad_request("invalid_type", k, format!("{k} must be a string"))),
        }
    };
    let channel = match text("channel")?.as_deref() {
        Some(c @ ("email" | "sms" | "chat" | "webhook" | "partial" | "layout")) => c.to_string(),
        _ => {
            return Err(ApiError::bad_request(
                "invalid_value",
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
            return Err(ApiError::bad_request("missing_field", "subject", "an email template needs a subject"));
        }
        "email" if !out.contains_key("html") && !out.contains_key("text") => {
            return Err(ApiError::bad_request("missing_field", "html", "an email template needs html or text"));
        }
        "sms" | "chat" | "webhook" if !out.contains_key("body") => {
            return Err(ApiError::bad_request("missing_field", "body", format!("a {channel} template needs a body")));
        }
        "layout" if !out.get("html").and_then(Value::as_str).is_some_and(|h| h.contains("content")) => {
            return Err(ApiError::bad_request(
                "missing_field",
                "html",
                "a layout needs html with {{ content }} where the message goes",
            ));
        }
        "partial" if !out.contains_key("html") && !out.contains_key("body") => {
            return Err(ApiError::bad_request("missing_field", "html", "a partial needs html (or body)"));
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

pub async fn create_template(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let v = json_body(&headers, body).await?;
    let data = template_body(&v)?;
    let id = match v.get("id") {
        None | Some(Value::Null) => kairos_store::keys::random_token("tpl_", 6),
        Some(Value::String(s)) if valid_id(s) => s.clone(),
        Some(_) => {
            return Err(ApiError::bad_request("invalid_value", "id", "id is 1 to 64 letters, digits, '_' or '-'"));
        }
    };
    let key = id.clone();
    if read(&app, move |r| r.template(ws, &key)).await?.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("template {id:?} exists; PUT /api/v1/templates/{id} updates it"),
        ));
    }
    Ok((StatusCode::CREATED, Json(save_template(&app, ws, id, data).await?)))
}

pub async fn put_template(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    if !valid_id(&id) {
        return Err(ApiError::bad_request("invalid_value", "id", "id is 1 to 64 letters, digits, '_' or '-'"));
    }
    let v = json_body(&headers, body).await?;
    if v.get("id").is_some_and(|b| b.as_str() != Some(id.as_str())) {
        return Err(ApiError::bad_request("invalid_value", "id", "id in the body differs from the id in the URL"));
    }
    let data = template_body(&v)?;
    Ok(Json(save_template(&app, ws, id, data).await?))
}

pub async fn get_template(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let key = id.clone();
    let t = read(&app, move |r| r.template(ws, &key))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("template {id:?} not found")))?;
    Ok(Json(template_json(&t)))
}

pub async fn list_templates(State(app): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let items = read(&app, move |r| r.templates(ws)).await?;
    let items: Vec<Value> = items.iter().map(template_json).collect();
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

fn flow_json(f: &StoredFlow) -> Value {
    json!({
        "id": f.public_id,
        "name": f.name,
        "status": f.status,
        "version": f.version,
        "definition": serde_json::from_str::<Value>(&f.definition).unwrap_or(Value::Null),
        "created_at": f.created_at.to_string(),
        "updated_at": f.updated_at.to_string(),
    })
}

/// A flow of the workspace by public id, or 404.
async fn find_flow(app: &AppState, ws: kairos_domain::WorkspaceId, id: &str) -> Result<StoredFlow, ApiError> {
    let flows = read(app, move |r| r.flows(ws)).await?;
    flows.into_iter().find(|f| f.public_id == id).ok_or_else(|| ApiError::not_found(format!("flow {id:?} not found")))
}

pub async fn create_flow(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let v = json_body(&headers, body).await?;
    let f = app.engine.create_flow(ws, v).await?;
    Ok((StatusCode::CREATED, Json(flow_json(&f))))
}

pub async fn update_flow(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let v = json_body(&headers, body).await?;
    Ok(Json(flow_json(&app.engine.update_flow(ws, id, v).await?)))
}

pub async fn list_flows(State(app): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let flows = read(&app, move |r| r.flows(ws)).await?;
    Ok(Json(json!({"items": flows.iter().map(flow_json).collect::<Vec<_>>(), "next_cursor": null})))
}

pub async fn get_flow(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let f = &find_flow(&app, ws, &id).await?;
    Ok(Json(flow_json(f)))
}

pub async fn activate_flow(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    Ok(Json(flow_json(&app.engine.set_flow_status(ws, id, "active").await?)))
}

pub async fn pause_flow(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    Ok(Json(flow_json(&app.engine.set_flow_status(ws, id, "paused").await?)))
}

/// `GET /api/v1/flows/{id}/stats` (SPEC 16).
pub async fn flow_stats(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let f = &find_flow(&app, ws, &id).await?;
    let row = f.row;
    let stats = read(&app, move |r| r.flow_stats(row)).await?;
    let mut steps = stats.steps.clone();
    let converted = steps.remove("$flow").and_then(|m| m.get("converted").copied()).unwrap_or(0);
    Ok(Json(json!({
        "entered": stats.entered,
        "active": stats.active,
        "exited": stats.exited,
        "converted": converted.max(stats.converted),
        "steps": steps,
    })))
}

/// `GET /api/v1/outbox?to=&flow_id=&limit=&cursor=` (SPEC 16): messages captured instead of sent.
pub async fn outbox(
    State(app): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let n = crate::api::limit(&q)?;
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

/// `GET /api/v1/tasks?status=open` (SPEC 16): team tasks created by flows.
pub async fn tasks(
    State(app): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let status = q.get("status").cloned();
    let rows = read(&app, move |r| r.tasks(ws, status.as_deref())).await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|(id, contact, flow, message, status, at)| {
            json!({"id": id, "contact_id": contact.0, "flow_id": flow, "message": message, "status": status, "created_at": at.to_string()})
        })
        .collect();
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

/// `GET /api/v1/flows/library` (SPEC 16).
pub async fn library(State(app): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    require_secret(&app, &headers).await?;
    let items: Vec<Value> = kairos_flow::library::LIBRARY
        .iter()
        .map(|f| json!({"key": f.key, "name": f.name, "description": f.description}))
        .collect();
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

/// `POST /api/v1/flows/library/{key}/install`: an editable draft with its templates (SPEC 16).
pub async fn install(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let f = app.engine.install_library_flow(ws, key).await?;
    Ok((StatusCode::CREATED, Json(flow_json(&f))))
}

/// `POST /api/v1/flows/{id}/trigger`: `{"email"|"user_id"|"phone"|"contact_id": ..., "properties": {...}}`
/// enters the contact into an active flow whose trigger type is `api`.
pub async fn trigger(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let v = json_body(&headers, body).await?;
    let o =
        v.as_object().ok_or_else(|| ApiError::bad_request("invalid_type", "body", "the body must be a JSON object"))?;
    let who = crate::api::contact_ref(o)?;
    let properties = match o.get("properties") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(ApiError::bad_request("invalid_type", "properties", "properties must be a JSON object")),
    };
    let entered = app.engine.trigger_flow(ws, id, who, properties).await?;
    Ok(Json(json!({"entered": entered})))
}

/// `POST /api/v1/flows/{id}/simulate` (SPEC 6): `{"definition": {...}?, "since": "90d"?}`. Replays stored
/// history through the saved definition (or the one given, e.g. an unsaved edit) without sending anything.
pub async fn simulate(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let v = json_body(&headers, body).await.unwrap_or(Value::Null);
    let f = &find_flow(&app, ws, &id).await?;
    let definition = match v.get("definition") {
        Some(d @ Value::Object(_)) => d.clone(),
        Some(_) => return Err(ApiError::bad_request("invalid_type", "definition", "definition must be a flow object")),
        None => serde_json::from_str(&f.definition).unwrap_or(Value::Null),
    };
    let since = match v.get("since") {
        None => kairos_domain::Duration::from_secs(90 * 86_400),
        Some(s) => s
            .as_str()
            .and_then(kairos_domain::Duration::parse)
            .ok_or_else(|| ApiError::bad_request("invalid_value", "since", "since must be a duration like 30d"))?,
    };
    Ok(Json(app.engine.simulate_flow(ws, definition, since).await?))
}

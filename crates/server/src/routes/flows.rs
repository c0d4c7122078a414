//! `/api/v1/flows`: validated, versioned flow definitions, their lifecycle and numbers, the flow library, API
//! triggers, simulation, and the team tasks flows create.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use kairos_store::{Reader, StoredFlow};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::api::{json_body, read};
use crate::auth::SecretWorkspace;
use crate::error::ApiError;

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

pub async fn create(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let v = json_body(&headers, body).await?;
    let f = app.engine.create_flow(ws, v).await?;
    Ok((StatusCode::CREATED, Json(flow_json(&f))))
}

pub async fn update(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let v = json_body(&headers, body).await?;
    Ok(Json(flow_json(&app.engine.update_flow(ws, id, v).await?)))
}

pub async fn list(SecretWorkspace(ws): SecretWorkspace, State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let flows = read(&app, move |r| r.flows(ws)).await?;
    Ok(Json(json!({"items": flows.iter().map(flow_json).collect::<Vec<_>>(), "next_cursor": null})))
}

pub async fn get(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let f = &find_flow(&app, ws, &id).await?;
    Ok(Json(flow_json(f)))
}

pub async fn activate(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(flow_json(&app.engine.set_flow_status(ws, id, "active").await?)))
}

pub async fn pause(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(flow_json(&app.engine.set_flow_status(ws, id, "paused").await?)))
}

/// `GET /api/v1/flows/{id}/stats` (SPEC 16).
pub async fn stats(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
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

/// `GET /api/v1/flows/library` (SPEC 16).
pub async fn library(_: SecretWorkspace) -> Result<Json<Value>, ApiError> {
    let items: Vec<Value> = kairos_flow::library::LIBRARY
        .iter()
        .map(|f| json!({"key": f.key, "name": f.name, "description": f.description}))
        .collect();
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

/// `POST /api/v1/flows/library/{key}/install`: an editable draft with its templates (SPEC 16).
pub async fn install(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(key): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let f = app.engine.install_library_flow(ws, key).await?;
    Ok((StatusCode::CREATED, Json(flow_json(&f))))
}

/// `POST /api/v1/flows/{id}/trigger`: `{"email"|"user_id"|"phone"|"contact_id": ..., "properties": {...}}`
/// enters the contact into an active flow whose trigger type is `api`.
pub async fn trigger(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let v = json_body(&headers, body).await?;
    let o = v.as_object().ok_or_else(|| ApiError::invalid_type("body", "the body must be a JSON object"))?;
    let who = crate::api::contact_ref(o)?;
    let properties = match o.get("properties") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(ApiError::invalid_type("properties", "properties must be a JSON object")),
    };
    let entered = app.engine.trigger_flow(ws, id, who, properties).await?;
    Ok(Json(json!({"entered": entered})))
}

/// `POST /api/v1/flows/{id}/simulate` (SPEC 6): `{"definition": {...}?, "since": "90d"?}`. Replays stored
/// history through the saved definition (or the one given, e.g. an unsaved edit) without sending anything.
pub async fn simulate(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let v = json_body(&headers, body).await.unwrap_or(Value::Null);
    let f = &find_flow(&app, ws, &id).await?;
    let definition = match v.get("definition") {
        Some(d @ Value::Object(_)) => d.clone(),
        Some(_) => return Err(ApiError::invalid_type("definition", "definition must be a flow object")),
        None => serde_json::from_str(&f.definition).unwrap_or(Value::Null),
    };
    let since = match v.get("since") {
        None => kairos_domain::Duration::from_secs(90 * 86_400),
        Some(s) => s
            .as_str()
            .and_then(kairos_domain::Duration::parse)
            .ok_or_else(|| ApiError::invalid_value("since", "since must be a duration like 30d"))?,
    };
    Ok(Json(app.engine.simulate_flow(ws, definition, since).await?))
}

/// `GET /api/v1/tasks?status=open` (SPEC 16): team tasks created by flows.
pub async fn tasks(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
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

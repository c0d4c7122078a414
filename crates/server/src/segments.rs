//! `/api/v1/segments`: definitions (text or JSON), live sizes, members, size history, preview.

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use kairos_domain::{Duration, Timestamp};
use kairos_engine::{SegmentCmd, SegmentInfo, SegmentReply};
use kairos_segment::Expr;
use serde_json::{Value, json};

use crate::api::{json_body, limit, read};
use crate::auth::require_secret;
use crate::error::ApiError;
use crate::{AppState, wire};

/// Contacts returned by a preview.
const PREVIEW_SAMPLE_DEFAULT: usize = 10;
const PREVIEW_SAMPLE_MAX: usize = 100;
const NAME_CHARS_MAX: usize = 200;

/// Reads a definition given as text (`"orders.count >= 3"`) or as the canonical JSON object.
pub fn definition(v: Option<&Value>) -> Result<Expr, ApiError> {
    match v {
        Some(Value::String(text)) => kairos_segment::parse::parse(text)
            .map_err(|e| ApiError::bad_request("invalid_definition", "definition", e.to_string())),
        Some(v @ Value::Object(_)) => kairos_segment::json::from_json(v).map_err(|e| {
            let field = e.path.as_deref().map_or("definition".to_string(), |p| format!("definition.{p}"));
            ApiError::bad_request("invalid_definition", &field, e.message.clone())
        }),
        Some(_) => Err(ApiError::bad_request("invalid_type", "definition", "definition must be text or a JSON object")),
        None => Err(ApiError::bad_request("missing_field", "definition", "definition is required")),
    }
}

fn name(v: Option<&Value>) -> Result<Option<String>, ApiError> {
    match v {
        None => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() && s.trim().chars().count() <= NAME_CHARS_MAX => {
            Ok(Some(s.trim().to_string()))
        }
        Some(_) => Err(ApiError::bad_request(
            "invalid_value",
            "name",
            format!("name must be a non-empty string of at most {NAME_CHARS_MAX} characters"),
        )),
    }
}

pub fn segment_json(s: &SegmentInfo) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "definition": kairos_segment::json::to_json(&s.expr),
        "text": kairos_segment::print::to_text(&s.expr),
        "size": s.size,
        "created_at": s.created_at.to_string(),
        "updated_at": s.updated_at.to_string(),
        "warnings": s.warnings,
    })
}

fn info(r: SegmentReply) -> Result<Json<Value>, ApiError> {
    match r {
        SegmentReply::Info(s) => Ok(Json(segment_json(&s))),
        _ => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "unexpected engine reply")),
    }
}

pub async fn create(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let v = json_body(&headers, body).await?;
    let name =
        name(v.get("name"))?.ok_or_else(|| ApiError::bad_request("missing_field", "name", "name is required"))?;
    let expr = definition(v.get("definition"))?;
    let r = app.engine.segment(ws, SegmentCmd::Create { name, expr }).await?;
    Ok((StatusCode::CREATED, info(r)?))
}

pub async fn list(State(app): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    match app.engine.segment(ws, SegmentCmd::List).await? {
        SegmentReply::List(items) => {
            Ok(Json(json!({"items": items.iter().map(segment_json).collect::<Vec<_>>(), "next_cursor": null})))
        }
        _ => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "unexpected engine reply")),
    }
}

pub async fn get(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    info(app.engine.segment(ws, SegmentCmd::Get { id }).await?)
}

pub async fn update(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let v = json_body(&headers, body).await?;
    if !v.is_object() {
        return Err(ApiError::bad_request("invalid_type", "body", "the body must be a JSON object"));
    }
    let name = name(v.get("name"))?;
    let expr = v.get("definition").map(|d| definition(Some(d))).transpose()?;
    info(app.engine.segment(ws, SegmentCmd::Update { id, name, expr }).await?)
}

pub async fn delete(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    app.engine.segment(ws, SegmentCmd::Delete { id: id.clone() }).await?;
    Ok(Json(json!({"id": id, "deleted": true})))
}

pub async fn preview(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let v = json_body(&headers, body).await?;
    let expr = definition(v.get("definition"))?;
    let sample = match v.get("sample") {
        None => PREVIEW_SAMPLE_DEFAULT,
        Some(n) => n.as_u64().filter(|n| *n as usize <= PREVIEW_SAMPLE_MAX).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_value",
                "sample",
                format!("sample must be a number from 0 to {PREVIEW_SAMPLE_MAX}"),
            )
        })? as usize,
    };
    let definition = kairos_segment::json::to_json(&expr);
    let text = kairos_segment::print::to_text(&expr);
    match app.engine.segment(ws, SegmentCmd::Preview { expr, sample }).await? {
        SegmentReply::Preview { count, sample, warnings } => Ok(Json(json!({
            "count": count,
            "sample": sample.iter().map(wire::contact).collect::<Vec<_>>(),
            "definition": definition,
            "text": text,
            "warnings": warnings,
        }))),
        _ => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "unexpected engine reply")),
    }
}

async fn row(app: &AppState, ws: kairos_domain::WorkspaceId, id: &str) -> Result<i64, ApiError> {
    let key = id.to_string();
    read(app, move |r| r.segment_row(ws, &key))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("segment {id:?} not found")))
}

pub async fn members(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let row = row(&app, ws, &id).await?;
    let n = limit(&q)?;
    let cursor = q.get("cursor").cloned();
    let p = read(&app, move |r| r.segment_member_page(row, cursor.as_deref(), n)).await?;
    Ok(Json(json!({"items": p.items.iter().map(wire::contact).collect::<Vec<_>>(), "next_cursor": p.next_cursor})))
}

/// Size over time: one sample per hour in which the size changed (the latest size of that hour).
pub async fn history(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let row = row(&app, ws, &id).await?;
    let window = match q.get("window") {
        None => Duration::from_secs(90 * 86_400),
        Some(w) => Duration::parse(w)
            .ok_or_else(|| ApiError::bad_request("invalid_value", "window", "window must be a duration like 30d"))?,
    };
    let since = Timestamp::from_micros(app.engine.clock().now().as_micros().saturating_sub(window.as_micros()));
    let points = read(&app, move |r| r.segment_sizes(row, since)).await?;
    Ok(Json(json!({
        "items": points.iter().map(|(at, size)| json!({"at": at.to_string(), "size": size})).collect::<Vec<_>>(),
        "next_cursor": null,
    })))
}

//! `GET /api/v1/events`: the workspace's event log, newest first.

use axum::Json;
use axum::extract::{Query, State};
use kairos_store::Reader;
use serde_json::Value;

use crate::api::{Params, limit, page, read};
use crate::auth::SecretWorkspace;
use crate::error::ApiError;
use crate::{AppState, wire};

pub async fn list(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let n = limit(&q)?;
    let cursor = q.get("cursor").cloned();
    let p = read(&app, move |r| r.workspace_events(ws, cursor.as_deref(), n)).await?;
    Ok(page(p.items.iter().map(wire::event).collect(), p.next_cursor))
}

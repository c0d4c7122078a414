//! What forms, quizzes and landing pages share as site items: found and deleted only inside the caller's
//! workspace (their ids are unique across workspaces because their public addresses name none).

use axum::Json;
use kairos_domain::WorkspaceId;
use kairos_domain::vocab::SiteKind;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

/// How errors name a kind of item.
fn noun(kind: SiteKind) -> &'static str {
    match kind {
        SiteKind::Form => "form",
        SiteKind::Quiz => "quiz",
        SiteKind::Page => "landing page",
    }
}

/// The workspace's item `id` of `kind` (404 when it is another workspace's or none).
pub async fn owned(app: &AppState, ws: WorkspaceId, kind: SiteKind, id: &str) -> Result<Value, ApiError> {
    match app.engine.site_item(kind, id).await? {
        Some((owner, item)) if owner == ws => Ok(item),
        _ => Err(ApiError::not_found(format!("{} {id} not found", noun(kind)))),
    }
}

/// Deletes the workspace's item `id` of `kind`: `{"id", "deleted": true}`, or 404.
pub async fn delete(app: &AppState, ws: WorkspaceId, kind: SiteKind, id: String) -> Result<Json<Value>, ApiError> {
    if !app.engine.delete_site_item(ws, kind, id.clone()).await? {
        return Err(ApiError::not_found(format!("{} {id} not found", noun(kind))));
    }
    Ok(Json(json!({ "id": id, "deleted": true })))
}

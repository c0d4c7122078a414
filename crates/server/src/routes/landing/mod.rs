//! Landing pages (issue 14): `POST/GET /api/v1/landing-pages`, `GET/DELETE /api/v1/landing-pages/{id}`, a draft's
//! preview `POST /api/v1/landing-pages/preview`, the report `GET /api/v1/reports/landing-pages/{id}`, and the
//! hosted page `GET /p/{id}` with its coupon reveal `POST /p/{id}/coupon` ([`hosted`]).
//!
//! A page is a site item of kind `page` (ids unique across workspaces: `/p/{id}` names no workspace): a name, a
//! title, a published flag and ordered blocks ([`page`]). Its embedded forms post to `/f/{form}` with a hidden
//! `page` naming the page's address, so the `Form Submitted` they make is the page's signup.

pub mod hosted;
pub mod page;
mod products;
mod render;
pub mod report;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use kairos_domain::WorkspaceId;
use kairos_domain::vocab::SiteKind;
use serde_json::{Value, json};

use crate::AppState;
use crate::api::json_body;
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorBody};
use page::{Reference, checked, is_page_id};

/// Most landing pages a workspace keeps.
pub const LANDING_PAGES_MAX: usize = 500;
/// The id a draft is previewed under, never a page's (`/landing-pages/preview` is the preview route).
const PREVIEW_ID: &str = "preview";

fn new_id() -> String {
    let bytes: [u8; 6] = rand::random();
    format!("lp_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// The page as the API answers it: with its public address.
fn answered(app: &AppState, mut page: Value) -> Value {
    let id = page["id"].as_str().unwrap_or_default().to_string();
    page["url"] = json!(hosted::page_url(app, &id));
    page
}

/// Checks that everything the page names is the workspace's own.
async fn check_references(app: &AppState, ws: WorkspaceId, refs: Vec<Reference>) -> Result<(), ApiError> {
    for r in refs {
        match r {
            Reference::Form { field, id } => {
                let found = app.engine.site_item(SiteKind::Form, &id).await?;
                if found.is_none_or(|(owner, _)| owner != ws) {
                    return Err(ApiError::invalid_value(&field, format!("no form {id:?} in this workspace")));
                }
            }
            Reference::Pool { field, id } => {
                if app.engine.coupon_pools(ws, Some(id.clone())).await.map_or(true, |p| p.is_empty()) {
                    return Err(ApiError::invalid_value(&field, format!("no coupon pool {id:?} in this workspace")));
                }
            }
            Reference::Segment { field, id } => {
                let s = id.clone();
                let found = crate::api::read_log(app, move |r| r.segment(ws, &s)).await?;
                if found.is_none() {
                    return Err(ApiError::invalid_value(&field, format!("no segment {id:?} in this workspace")));
                }
            }
        }
    }
    Ok(())
}

/// Creates a page, or replaces the workspace's page with that `id`.
#[utoipa::path(
    post,
    path = "/api/v1/landing-pages",
    operation_id = "landing_pages_save",
    tag = "landing pages",
    request_body(content = Object, description = "`{\"id\"?, \"name\", \"title\"?, \"published\"?, \"blocks\": [...]}`; \
        blocks: `hero`, `text`, `products`, `form`, `coupon` (README \"Landing pages\")"),
    responses(
        (status = 201, description = "Created: the page with its `url`", body = Object),
        (status = 200, description = "Replaced", body = Object),
        (status = 400, description = "A bad field, named", body = ErrorBody),
        (status = 409, description = "Another workspace's page has that id", body = ErrorBody)
    )
)]
pub async fn save(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let v = json_body(&headers, body).await?;
    let id = match v.get("id") {
        None | Some(Value::Null) => new_id(),
        Some(Value::String(s)) if is_page_id(s) && s != PREVIEW_ID => s.clone(),
        Some(_) => {
            return Err(ApiError::invalid_value(
                "id",
                "id is 1 to 64 lower-case letters, digits, - or _, starting with a letter or digit (not \"preview\")",
            ));
        }
    };
    let (mut page, refs) = checked(&v, &id)?;
    check_references(&app, ws, refs).await?;
    let existing = app.engine.site_items(ws, SiteKind::Page).await?;
    let before = existing.iter().find(|p| p["id"] == id.as_str());
    if before.is_none() && existing.len() >= LANDING_PAGES_MAX {
        return Err(ApiError::invalid_value(
            "id",
            format!("a workspace has at most {LANDING_PAGES_MAX} landing pages"),
        ));
    }
    let now = app.engine.clock().now().to_string();
    page["created_at"] = before.map_or_else(|| json!(now), |p| p["created_at"].clone());
    page["updated_at"] = json!(now);
    let replaced = before.is_some();
    if !app.engine.save_site_item(ws, SiteKind::Page, id, page.clone()).await? {
        return Err(ApiError::conflict("that landing page id is taken").with_field("id"));
    }
    Ok((if replaced { StatusCode::OK } else { StatusCode::CREATED }, Json(answered(&app, page))))
}

/// The workspace's pages, by id.
#[utoipa::path(get, path = "/api/v1/landing-pages", operation_id = "landing_pages_list", tag = "landing pages",
    responses((status = 200, description = "`{\"items\": [page], \"next_cursor\": null}`", body = Object)))]
pub async fn list(SecretWorkspace(ws): SecretWorkspace, State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let items: Vec<Value> =
        app.engine.site_items(ws, SiteKind::Page).await?.into_iter().map(|p| answered(&app, p)).collect();
    Ok(Json(json!({ "items": items, "next_cursor": null })))
}

/// The workspace's page `id`.
async fn own(app: &AppState, ws: WorkspaceId, id: &str) -> Result<Value, ApiError> {
    super::site_items::owned(app, ws, SiteKind::Page, id).await
}

/// One page of the workspace.
#[utoipa::path(get, path = "/api/v1/landing-pages/{id}", operation_id = "landing_pages_get", tag = "landing pages",
    params(("id" = String, Path, description = "The page's id")),
    responses((status = 200, description = "The page", body = Object),
               (status = 404, description = "No such page in the workspace", body = ErrorBody)))]
pub async fn get(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(answered(&app, own(&app, ws, &id).await?)))
}

/// Deletes a page (its address answers 404 from then on; its visits stay in the timelines).
#[utoipa::path(delete, path = "/api/v1/landing-pages/{id}", operation_id = "landing_pages_delete", tag = "landing pages",
    params(("id" = String, Path, description = "The page's id")),
    responses((status = 200, description = "`{\"id\", \"deleted\": true}`", body = Object),
               (status = 404, description = "No such page in the workspace", body = ErrorBody)))]
pub async fn delete(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    super::site_items::delete(&app, ws, SiteKind::Page, id).await
}

/// A draft page rendered as a visitor nobody knows would see it (published or not; nothing is recorded).
#[utoipa::path(
    post,
    path = "/api/v1/landing-pages/preview",
    operation_id = "landing_pages_preview",
    tag = "landing pages",
    request_body(content = Object, description = "A page as `POST /api/v1/landing-pages` takes it"),
    responses(
        (status = 200, description = "`{\"html\": \"...\"}`", body = Object),
        (status = 400, description = "A bad field, named", body = ErrorBody)
    )
)]
pub async fn preview(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let v = json_body(&headers, body).await?;
    let id = v.get("id").and_then(Value::as_str).filter(|s| is_page_id(s)).unwrap_or(PREVIEW_ID).to_string();
    let (page, refs) = checked(&v, &id)?;
    check_references(&app, ws, refs).await?;
    let view = products::view_of(&app, ws, &page, None, hosted::page_url(&app, &id)).await;
    Ok(Json(json!({"html": render::page_html(&page, &view)})))
}

//! `/api/v1/tasks`: the team tasks flows' `task` steps open ("call this customer"), with their contact and flow
//! in words, assigned to one of the workspace's users and closed (issue 15 item 5); `/api/v1/users` lists who
//! they can be assigned to. New tasks are announced by email and / or webhook (`settings.tasks`).

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use kairos_domain::{Email, WorkspaceId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::api::{QueryParams, json_body, read, read_log};
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorBody};
use crate::wire::{Page, Reply};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskQuery {
    /// `open` or `done`.
    pub status: Option<String>,
    /// A user's email: that user's tasks only.
    pub assignee: Option<String>,
}

/// A team task a flow's `task` step created.
#[derive(Debug, Serialize, ToSchema)]
pub struct Task {
    pub id: i64,
    pub contact_id: i64,
    /// The contact in words: their name, else their email (null once erased or merged away).
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub flow_id: String,
    /// The flow's name (null once the flow is gone).
    pub flow_name: Option<String>,
    pub message: String,
    /// `open` or `done`.
    pub status: String,
    /// The user (email) it is assigned to.
    pub assignee: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub closed_at: Option<String>,
}

/// The workspace's tasks in words (contact and flow names), newest first.
async fn described(app: &AppState, ws: WorkspaceId, rows: Vec<kairos_store::Task>) -> Result<Vec<Task>, ApiError> {
    read(app, move |r| {
        let flows: std::collections::HashMap<String, String> =
            r.flows(ws)?.into_iter().map(|f| (f.public_id, f.name)).collect();
        let mut out = Vec::with_capacity(rows.len());
        for t in rows {
            let c = r.contact(ws, t.contact)?;
            let email = c.as_ref().and_then(|c| c.email.as_ref().map(|e| e.as_str().to_string()));
            let first = c.as_ref().and_then(|c| c.traits.get("first_name")).and_then(Value::as_str);
            let last = c.as_ref().and_then(|c| c.traits.get("last_name")).and_then(Value::as_str);
            let name = match (first, last) {
                (Some(f), Some(l)) => Some(format!("{f} {l}")),
                (Some(n), None) | (None, Some(n)) => Some(n.to_string()),
                (None, None) => email.clone(),
            };
            out.push(Task {
                id: t.id,
                contact_id: t.contact.0,
                contact_name: name,
                contact_email: email,
                flow_name: flows.get(&t.flow_id).cloned(),
                flow_id: t.flow_id,
                message: t.message,
                status: t.status,
                assignee: t.assignee,
                created_at: t.created_at.to_string(),
                closed_at: t.closed_at.map(|at| at.to_string()),
            });
        }
        Ok(out)
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/tasks", operation_id = "tasks_list", tag = "tasks", params(TaskQuery),
    responses((status = 200, description = "Tasks, newest first (at most 1 000)", body = Page<Task>),
        (status = 400, description = "A bad filter", body = ErrorBody)))]
pub async fn list(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    QueryParams(q): QueryParams<TaskQuery>,
) -> Result<Reply<Page<Task>>, ApiError> {
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s @ ("open" | "done")) => Some(s.to_string()),
        Some(_) => return Err(ApiError::invalid_value("status", "status is open or done")),
    };
    let rows = read_log(&app, move |r| r.tasks(ws, status.as_deref())).await?;
    let rows = match q.assignee.filter(|a| !a.is_empty()) {
        Some(a) => {
            rows.into_iter().filter(|t| t.assignee.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(&a))).collect()
        }
        None => rows,
    };
    Ok(Reply(Page::whole(described(&app, ws, rows).await?)))
}

async fn one(app: &AppState, ws: WorkspaceId, id: &str) -> Result<Task, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found(format!("task {id} not found")))?;
    let row = read_log(app, move |r| r.task(ws, id))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("task {id} not found")))?;
    Ok(described(app, ws, vec![row]).await?.remove(0))
}

#[utoipa::path(get, path = "/api/v1/tasks/{id}", operation_id = "tasks_get", tag = "tasks",
    params(("id" = i64, Path, description = "The task's id")),
    responses((status = 200, description = "The task", body = Task),
        (status = 404, description = "No such task in the workspace", body = ErrorBody)))]
pub async fn get(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Task>, ApiError> {
    Ok(Json(one(&app, ws, &id).await?))
}

/// Who a task is given to: a user of the workspace, by email.
async fn workspace_user(app: &AppState, ws: WorkspaceId, v: &Value) -> Result<Option<String>, ApiError> {
    let bad = || ApiError::invalid_value("assignee", "assignee is the email of one of the workspace's users, or null");
    let Some(text) = v.as_str() else { return if v.is_null() { Ok(None) } else { Err(bad()) } };
    let email = Email::parse(text).ok_or_else(bad)?;
    let store = app.engine.store().clone();
    let users = tokio::task::spawn_blocking(move || store.password_hashes(&email))
        .await
        .map_err(|_| ApiError::internal("the users could not be read"))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let user = users.into_iter().find(|(u, _)| u.workspace == ws).ok_or_else(|| {
        ApiError::invalid_value("assignee", format!("{text} is not a user of this workspace (kairos user create)"))
    })?;
    Ok(Some(user.0.email))
}

/// `{"assignee"?: email | null, "status"?: "open" | "done"}`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the body for OpenAPI; read by hand so each error names its field
pub struct TaskPatch {
    pub assignee: Option<String>,
    pub status: Option<String>,
}

#[utoipa::path(patch, path = "/api/v1/tasks/{id}", operation_id = "tasks_update", tag = "tasks",
    params(("id" = i64, Path, description = "The task's id")),
    request_body(content = TaskPatch, description = "Assign (`assignee`: a user's email, null to unassign) and \
        close or reopen (`status`)"),
    responses((status = 200, description = "The task as changed", body = Task),
        (status = 400, description = "A bad field, named", body = ErrorBody),
        (status = 404, description = "No such task in the workspace", body = ErrorBody)))]
pub async fn update(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Task>, ApiError> {
    let v = json_body(&headers, body).await?;
    let o = v.as_object().ok_or_else(|| ApiError::invalid_type("body", "the body is a JSON object"))?;
    if let Some(k) = o.keys().find(|k| !matches!(k.as_str(), "assignee" | "status")) {
        return Err(ApiError::invalid_value(k, format!("unknown field {k}: a task takes assignee and status")));
    }
    let done = match o.get("status") {
        None => None,
        Some(Value::String(s)) if s == "done" => Some(true),
        Some(Value::String(s)) if s == "open" => Some(false),
        Some(_) => return Err(ApiError::invalid_value("status", "status is open or done")),
    };
    let assignee = match o.get("assignee") {
        None => None,
        Some(a) => Some(workspace_user(&app, ws, a).await?),
    };
    let task_id: i64 = id.parse().map_err(|_| ApiError::not_found(format!("task {id} not found")))?;
    if !app.engine.update_task(ws, task_id, assignee, done).await? {
        return Err(ApiError::not_found(format!("task {id} not found")));
    }
    Ok(Json(one(&app, ws, &id).await?))
}

/// A user of the workspace (a UI login).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserBody {
    pub email: String,
}

#[utoipa::path(get, path = "/api/v1/users", operation_id = "users_list", tag = "tasks",
    responses((status = 200, description = "The workspace's users (UI logins), by email", body = Page<UserBody>)))]
pub async fn users(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
) -> Result<Reply<Page<UserBody>>, ApiError> {
    let store = app.engine.store().clone();
    let users = tokio::task::spawn_blocking(move || store.workspace_users(ws))
        .await
        .map_err(|_| ApiError::internal("the users could not be read"))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Reply(Page::whole(users.into_iter().map(|u| UserBody { email: u.email }).collect())))
}

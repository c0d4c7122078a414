//! `GET /api/v1/events`: the workspace's event log, newest first.

use axum::extract::State;

use crate::AppState;
use crate::api::{PageQuery, QueryParams, limit, read_log};
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorBody};
use crate::wire::{self, EventBody, Page, Reply};

#[utoipa::path(
    get,
    path = "/api/v1/events",
    operation_id = "events_list",
    tag = "contacts",
    params(PageQuery),
    responses(
        (status = 200, description = "Events of every contact, newest first", body = Page<EventBody>),
        (status = 400, description = "A bad parameter", body = ErrorBody)
    )
)]
pub async fn list(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    QueryParams(q): QueryParams<PageQuery>,
) -> Result<Reply<Page<EventBody>>, ApiError> {
    let n = limit(&q.limit)?;
    let cursor = q.cursor;
    let p = read_log(&app, move |r| r.workspace_events(ws, cursor.as_deref(), n)).await?;
    Ok(Reply(Page::new(wire::events(&p.items), p.next_cursor)))
}

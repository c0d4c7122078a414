//! A campaign's lifecycle (SPEC 16 "Campaign lifecycle"): edit a draft or scheduled campaign, cancel a scheduled
//! one, pause and resume one being sent, duplicate any, delete a draft; and the audience the confirmation step
//! states before scheduling.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use kairos_engine::campaign_life::CampaignAction;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::campaigns::{CampaignBody, full};
use crate::AppState;
use crate::api::json_body;
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorBody};
use crate::wire::{Reply, created};

async fn act(
    app: &AppState,
    ws: kairos_domain::WorkspaceId,
    id: String,
    action: CampaignAction,
) -> Result<CampaignBody, ApiError> {
    let c = app.engine.campaign_action(ws, id, action).await?.ok_or_else(|| ApiError::not_found("no such campaign"))?;
    full(app, ws, c).await
}

/// Changes the fields given (a field set to `null` is removed); only drafts and scheduled campaigns, and a
/// scheduled one takes its audience again.
#[utoipa::path(
    patch,
    path = "/api/v1/campaigns/{id}",
    operation_id = "campaigns_edit",
    tag = "campaigns",
    params(("id" = String, Path, description = "The campaign's id")),
    request_body = Object,
    responses(
        (status = 200, description = "The campaign as edited", body = CampaignBody),
        (status = 400, description = "A bad field, or a schedule in the past", body = ErrorBody),
        (status = 404, description = "No such campaign in the workspace", body = ErrorBody),
        (status = 409, description = "Sending, paused, sent or cancelled: no longer editable", body = ErrorBody)
    )
)]
pub async fn edit(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Reply<CampaignBody>, ApiError> {
    let patch = json_body(&headers, body).await?;
    Ok(Reply(act(&app, ws, id, CampaignAction::Edit(patch)).await?))
}

/// Cancels a scheduled campaign: nobody is sent to.
#[utoipa::path(
    post,
    path = "/api/v1/campaigns/{id}/cancel",
    operation_id = "campaigns_cancel",
    tag = "campaigns",
    params(("id" = String, Path, description = "The campaign's id")),
    responses(
        (status = 200, description = "The campaign", body = CampaignBody),
        (status = 404, description = "No such campaign in the workspace", body = ErrorBody),
        (status = 409, description = "Not scheduled", body = ErrorBody)
    )
)]
pub async fn cancel(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply<CampaignBody>, ApiError> {
    Ok(Reply(act(&app, ws, id, CampaignAction::Cancel).await?))
}

/// Holds a campaign being sent; nothing more goes out until it is resumed.
#[utoipa::path(
    post,
    path = "/api/v1/campaigns/{id}/pause",
    operation_id = "campaigns_pause",
    tag = "campaigns",
    params(("id" = String, Path, description = "The campaign's id")),
    responses(
        (status = 200, description = "The campaign", body = CampaignBody),
        (status = 404, description = "No such campaign in the workspace", body = ErrorBody),
        (status = 409, description = "Not sending", body = ErrorBody)
    )
)]
pub async fn pause(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply<CampaignBody>, ApiError> {
    Ok(Reply(act(&app, ws, id, CampaignAction::Pause).await?))
}

/// Carries on sending a paused campaign to whoever is left.
#[utoipa::path(
    post,
    path = "/api/v1/campaigns/{id}/resume",
    operation_id = "campaigns_resume",
    tag = "campaigns",
    params(("id" = String, Path, description = "The campaign's id")),
    responses(
        (status = 200, description = "The campaign", body = CampaignBody),
        (status = 404, description = "No such campaign in the workspace", body = ErrorBody),
        (status = 409, description = "Not paused", body = ErrorBody)
    )
)]
pub async fn resume(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply<CampaignBody>, ApiError> {
    Ok(Reply(act(&app, ws, id, CampaignAction::Resume).await?))
}

/// A new draft with the same definition, named "… (copy)" (a schedule already past is left out).
#[utoipa::path(
    post,
    path = "/api/v1/campaigns/{id}/duplicate",
    operation_id = "campaigns_duplicate",
    tag = "campaigns",
    params(("id" = String, Path, description = "The campaign to copy")),
    responses(
        (status = 201, description = "The copy, a draft", body = CampaignBody),
        (status = 404, description = "No such campaign in the workspace", body = ErrorBody)
    )
)]
pub async fn duplicate(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Reply<CampaignBody>), ApiError> {
    Ok(created(act(&app, ws, id, CampaignAction::Duplicate).await?))
}

/// Deletes a draft: `{"id", "deleted": true}`.
#[utoipa::path(
    delete,
    path = "/api/v1/campaigns/{id}",
    operation_id = "campaigns_delete",
    tag = "campaigns",
    params(("id" = String, Path, description = "The campaign's id")),
    responses(
        (status = 200, description = "Deleted", body = Object),
        (status = 404, description = "No such campaign in the workspace", body = ErrorBody),
        (status = 409, description = "Not a draft (cancel a scheduled campaign instead)", body = ErrorBody)
    )
)]
pub async fn delete(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    app.engine.campaign_action(ws, id.clone(), CampaignAction::Delete).await?;
    Ok(Json(json!({"id": id, "deleted": true})))
}

/// Who a campaign would reach if scheduled now.
#[derive(Debug, Serialize, ToSchema)]
pub struct AudienceBody {
    /// Members of its segments, less the excluded ones.
    pub people: u64,
    /// Of those, how many may receive it (an address, and consent on its channel).
    pub reachable: u64,
    /// When it goes (for a local-time schedule: the store's zone); null for "now".
    #[schema(format = DateTime)]
    pub send_at: Option<String>,
    /// The store's time zone, in which the UI states the time.
    pub timezone: String,
}

/// The confirmation step's numbers: audience size and send time.
#[utoipa::path(
    get,
    path = "/api/v1/campaigns/{id}/audience",
    operation_id = "campaigns_audience",
    tag = "campaigns",
    params(("id" = String, Path, description = "The campaign's id")),
    responses(
        (status = 200, description = "The audience if scheduled now", body = AudienceBody),
        (status = 404, description = "No such campaign in the workspace", body = ErrorBody)
    )
)]
pub async fn audience(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply<AudienceBody>, ApiError> {
    let a = app.engine.campaign_audience(ws, id).await?;
    let send_at = a.send_at.map(|t| t.to_string());
    Ok(Reply(AudienceBody { people: a.people, reachable: a.reachable, send_at, timezone: a.timezone }))
}

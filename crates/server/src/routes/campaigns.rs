//! `/api/v1/campaigns` (SPEC 7, 16): create a draft, schedule it, follow its progress and numbers.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use kairos_domain::MessageStatus;
use kairos_engine::campaigns::CampaignDocument;
use kairos_engine::campaigns::{CampaignReport, CampaignState};
use kairos_store::StoredCampaign;
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::AppState;
use crate::api::{json_body, read_log};
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorBody};
use crate::wire::{Page, Reply, created};

/// A campaign (SPEC 16 "Campaigns"), validated by the engine (errors name the field).
#[derive(Debug, ToSchema)]
#[schema(example = json!({"name": "Winter sale", "channel": "email", "template": "winter-sale",
    "segments": ["repeat-buyers"], "schedule": {"type": "at", "at": "2026-12-01T10:00:00Z"},
    "throttle_per_minute": 1000}))]
pub struct CampaignRequest {
    pub name: String,
    /// `email` or `sms`.
    pub channel: String,
    /// A template id (or the A/B variants' templates in `ab`).
    pub template: Option<String>,
    /// Segment ids or names: the audience is their union, less `exclude_segments`.
    pub segments: Vec<String>,
    pub exclude_segments: Option<Vec<String>>,
    pub schedule: CampaignSchedule,
    pub throttle_per_minute: Option<u32>,
    /// Default true: skip contacts messaged within the workspace's smart-sending window.
    pub smart_sending: Option<bool>,
    pub ab: Option<AbTest>,
    /// 0 to 100 (default 20, promotional): when smart sending or a cap must choose, the higher goes first.
    pub priority: Option<u8>,
}

/// `{"type": "now"}`, `{"type": "at", "at": ISO-8601}`, `{"type": "local_time", "date", "time"}` (each contact's
/// zone) or `{"type": "best_hour", "date"}`. A time in the past is refused.
#[derive(Debug, ToSchema)]
pub struct CampaignSchedule {
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(format = DateTime)]
    pub at: Option<String>,
    #[schema(format = Date)]
    pub date: Option<String>,
    /// `HH:MM`.
    pub time: Option<String>,
}

/// Variants go to `test_share` of the audience; after `wait` the best by `metric` goes to the rest.
#[derive(Debug, ToSchema)]
pub struct AbTest {
    /// `[{"template": "A"}, {"template": "B"}]`.
    #[schema(value_type = Vec<Object>)]
    pub variants: Vec<Value>,
    /// 0 to 1.
    pub test_share: f64,
    /// `opens`, `clicks` or `revenue`.
    pub metric: String,
    /// A duration (`4h`).
    pub wait: String,
}

/// Message counts of a campaign, by what happened to them.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignStats {
    pub messages: u64,
    pub sent: u64,
    /// Sent and not bounced (the reports' definition).
    pub delivered: u64,
    pub opened: u64,
    pub clicked: u64,
    pub skipped: u64,
    pub deferred: u64,
    pub failed: u64,
    pub unsubscribed: u64,
    pub by_status: BTreeMap<String, u64>,
    /// Recipients not processed yet (single campaign only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<u64>,
    /// Recipients held for an A/B winner (single campaign only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_for_winner: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processed: Option<u64>,
}

/// A campaign: its definition's fields, with its status and numbers.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignBody {
    #[serde(flatten)]
    #[schema(value_type = CampaignRequest)]
    pub definition: Map<String, Value>,
    pub id: String,
    pub name: String,
    /// `draft`, `scheduled`, `sending`, `paused`, `sent` or `cancelled`.
    pub status: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    #[schema(format = DateTime)]
    pub scheduled_at: Option<String>,
    #[schema(format = DateTime)]
    pub finished_at: Option<String>,
    /// The audience taken when it was scheduled.
    pub recipients: Option<u64>,
    pub stats: CampaignStats,
    /// A/B variants with their scores and a confidence figure against the leader (single campaign only; null
    /// without a test).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<AbResults>)]
    pub ab_results: Option<Option<AbResults>>,
}

/// An A/B test's variants and winner.
#[derive(Debug, Serialize, ToSchema)]
pub struct AbResults {
    /// `opens`, `clicks` or `revenue`.
    pub metric: String,
    pub test_share: f64,
    pub variants: Vec<VariantResult>,
    /// The winning variant's index, once decided.
    pub winner: Option<i64>,
    #[schema(format = DateTime)]
    pub test_ends_at: Option<String>,
}

/// One variant: recipients sent, its score (rate, or revenue per recipient), and the confidence that the leader
/// beats it (null for the leader).
#[derive(Debug, Serialize, ToSchema)]
pub struct VariantResult {
    pub template: String,
    pub sent: u64,
    pub score: f64,
    pub confidence_leader_better: Option<f64>,
}

impl From<kairos_engine::campaigns::AbReport> for AbResults {
    fn from(ab: kairos_engine::campaigns::AbReport) -> Self {
        AbResults {
            metric: ab.metric.as_str().to_string(),
            test_share: ab.test_share,
            variants: ab
                .variants
                .into_iter()
                .map(|v| VariantResult {
                    template: v.template,
                    sent: v.sent,
                    score: v.score,
                    confidence_leader_better: v.confidence_leader_better,
                })
                .collect(),
            winner: ab.winner,
            test_ends_at: ab.test_ends_at.map(|t| t.to_string()),
        }
    }
}

impl CampaignBody {
    fn new(c: &StoredCampaign, counts: &[(MessageStatus, u64)], report: Option<CampaignReport>) -> Self {
        let mut definition = match serde_json::from_str(&c.definition) {
            Ok(Value::Object(o)) => o,
            _ => Map::new(),
        };
        // The priority in effect, also where the definition left it to the default.
        if definition.get("priority").is_none_or(Value::is_null) {
            definition.insert("priority".into(), json!(kairos_domain::priority::PRIORITY_CAMPAIGN));
        }
        let state = CampaignState::parse(&c.state);
        let count =
            |names: &[MessageStatus]| counts.iter().filter(|(s, _)| names.contains(s)).map(|(_, n)| n).sum::<u64>();
        use MessageStatus::{
            Bounced, Clicked, Complained, Deferred, Delivered, Failed, Opened, Queued, Sent, Skipped, Unsubscribed,
        };
        let (pending, waiting_for_winner, processed, ab_results) = match report {
            Some(r) => {
                (Some(r.pending), Some(r.waiting_for_winner), Some(r.processed), Some(r.ab.map(AbResults::from)))
            }
            None => (None, None, None, None),
        };
        CampaignBody {
            definition,
            id: c.public_id.clone(),
            name: c.name.clone(),
            status: c.status.as_str().to_string(),
            created_at: c.created_at.to_string(),
            updated_at: c.updated_at.to_string(),
            scheduled_at: state.scheduled_at.map(|t| t.to_string()),
            finished_at: state.finished_at.map(|t| t.to_string()),
            recipients: state.recipients,
            stats: CampaignStats {
                messages: counts.iter().map(|(_, n)| n).sum(),
                sent: count(&[Sent, Queued, Delivered, Opened, Clicked, Unsubscribed, Complained]),
                // As the reports count it: went out and did not bounce (email has no delivery receipt; an
                // open, a click or an unsubscribe proves it arrived).
                delivered: count(&[Sent, Delivered, Opened, Clicked, Unsubscribed, Complained]),
                opened: count(&[Opened, Clicked]),
                clicked: count(&[Clicked]),
                skipped: count(&[Skipped]),
                deferred: count(&[Deferred]),
                failed: count(&[Failed, Bounced]),
                unsubscribed: count(&[Unsubscribed]),
                by_status: counts.iter().map(|(s, n)| (s.as_str().to_string(), *n)).collect(),
                pending,
                waiting_for_winner,
                processed,
            },
            ab_results,
        }
    }
}

pub(crate) async fn full(
    app: &AppState,
    ws: kairos_domain::WorkspaceId,
    c: StoredCampaign,
) -> Result<CampaignBody, ApiError> {
    let id = c.public_id.clone();
    let counts = read_log(app, move |r| r.campaign_message_counts(&id)).await?;
    let report = app.engine.campaign_report(ws, c.public_id.clone()).await?;
    Ok(CampaignBody::new(&c, &counts, Some(report)))
}

/// A draft (schedule it with `POST /api/v1/campaigns/{id}/schedule`).
#[utoipa::path(
    post,
    path = "/api/v1/campaigns",
    operation_id = "campaigns_create",
    tag = "campaigns",
    request_body = CampaignRequest,
    responses(
        (status = 201, description = "The draft", body = CampaignBody),
        (status = 400, description = "A bad field", body = ErrorBody)
    )
)]
pub async fn create(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Reply<CampaignBody>), ApiError> {
    let doc = CampaignDocument::parse(json_body(&headers, body).await?)?;
    let c = app.engine.create_campaign(ws, doc).await?;
    Ok(created(full(&app, ws, c).await?))
}

/// Newest first.
#[utoipa::path(
    get,
    path = "/api/v1/campaigns",
    operation_id = "campaigns_list",
    tag = "campaigns",
    responses(
        (status = 200, description = "Every campaign (one page)", body = Page<CampaignBody>)
    )
)]
pub async fn list(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
) -> Result<Reply<Page<CampaignBody>>, ApiError> {
    let list = read_log(&app, move |r| r.campaigns(ws)).await?;
    let mut items = Vec::with_capacity(list.len());
    for c in list {
        let id = c.public_id.clone();
        let counts = read_log(&app, move |r| r.campaign_message_counts(&id)).await?;
        items.push(CampaignBody::new(&c, &counts, None));
    }
    Ok(Reply(Page::whole(items)))
}

/// Status, progress and numbers (A/B variants with a confidence figure).
#[utoipa::path(
    get,
    path = "/api/v1/campaigns/{id}",
    operation_id = "campaigns_get",
    tag = "campaigns",
    params(("id" = String, Path, description = "The campaign's id")),
    responses(
        (status = 200, description = "The campaign", body = CampaignBody),
        (status = 404, description = "No such campaign in the workspace", body = ErrorBody)
    )
)]
pub async fn get(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply<CampaignBody>, ApiError> {
    let c =
        read_log(&app, move |r| r.campaign(ws, &id)).await?.ok_or_else(|| ApiError::not_found("no such campaign"))?;
    Ok(Reply(full(&app, ws, c).await?))
}

/// Takes the audience now and starts sending per the schedule.
#[utoipa::path(
    post,
    path = "/api/v1/campaigns/{id}/schedule",
    operation_id = "campaigns_schedule",
    tag = "campaigns",
    params(("id" = String, Path, description = "The campaign's id")),
    responses(
        (status = 200, description = "The scheduled campaign", body = CampaignBody),
        (status = 400, description = "Not a draft, or a schedule in the past", body = ErrorBody),
        (status = 404, description = "No such campaign in the workspace", body = ErrorBody)
    )
)]
pub async fn schedule(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply<CampaignBody>, ApiError> {
    let c = app.engine.schedule_campaign(ws, id).await?;
    Ok(Reply(full(&app, ws, c).await?))
}

//! `/api/v1/segments`: definitions (text or JSON), live sizes, members, size history, preview.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use kairos_domain::{Duration, Timestamp, WorkspaceId};
use kairos_engine::{SegmentCmd, SegmentInfo, SegmentReply};
use kairos_segment::Expr;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::api::{PageQuery, QueryParams, json_body, lenient, limit, present, read_contact_page, read_log, request};
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::routes::segment_words::SegmentNames;
use crate::wire::{self, ContactBody, Page, Reply, created};
use kairos_engine::SEGMENT_PREVIEW_SAMPLE_MAX as PREVIEW_SAMPLE_MAX;

/// Contacts returned by a preview.
const PREVIEW_SAMPLE_DEFAULT: usize = 10;
const NAME_CHARS_MAX: usize = 200;
/// The size history shown without `window`.
const HISTORY_WINDOW_DEFAULT_SECS: i64 = 90 * 86_400;

/// A segment definition: text in the segment language (`orders.count >= 3 and in segment "VIP"`, SPEC 5) or
/// its canonical JSON form (as `definition` is answered).
#[derive(Debug, ToSchema)]
#[serde(untagged)]
pub enum Definition {
    Text(String),
    #[schema(value_type = Object)]
    Canonical(serde_json::Map<String, Value>),
}

/// Reads a definition given as text (`"orders.count >= 3"`) or as the canonical JSON object.
pub fn definition(v: Option<&Value>) -> Result<Expr, ApiError> {
    match v {
        Some(Value::String(text)) => kairos_segment::parse::parse(text)
            .map_err(|e| ApiError::field(ErrorCode::InvalidDefinition, "definition", e.to_string())),
        Some(v @ Value::Object(_)) => kairos_segment::json::from_json(v).map_err(|e| {
            let field = e.path.as_deref().map_or("definition".to_string(), |p| format!("definition.{p}"));
            ApiError::field(ErrorCode::InvalidDefinition, &field, e.message.clone())
        }),
        Some(_) => Err(ApiError::invalid_type("definition", "definition must be text or a JSON object")),
        None => Err(ApiError::missing_field("definition", "definition is required")),
    }
}

fn name(v: Option<&Value>) -> Result<Option<String>, ApiError> {
    match v {
        None => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() && s.trim().chars().count() <= NAME_CHARS_MAX => {
            Ok(Some(s.trim().to_string()))
        }
        Some(_) => Err(ApiError::invalid_value(
            "name",
            format!("name must be a non-empty string of at most {NAME_CHARS_MAX} characters"),
        )),
    }
}

/// `POST /api/v1/segments` (both fields required) and `PUT /api/v1/segments/{id}` (either).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"name": "Repeat buyers", "definition": "orders.count >= 2"}))]
pub struct SegmentRequest {
    /// Unique in the workspace, at most 200 characters.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String)]
    pub name: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Definition)]
    pub definition: Option<Value>,
}

/// A segment with its live size.
#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentBody {
    pub id: String,
    pub name: String,
    /// The canonical JSON form of the definition.
    #[schema(value_type = Object)]
    pub definition: Value,
    /// The definition as text.
    pub text: String,
    /// The definition in words: "People whose number of orders is at least 2".
    pub description: String,
    pub size: u64,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// Things worth knowing that do not make the definition invalid (an event name never seen).
    pub warnings: Vec<String>,
}

impl SegmentBody {
    fn new(s: &SegmentInfo, names: &SegmentNames) -> Self {
        SegmentBody {
            id: s.id.clone(),
            name: s.name.clone(),
            definition: kairos_segment::json::to_json(&s.expr),
            text: kairos_segment::print::to_text(&s.expr),
            description: names.describe(&s.expr),
            size: s.size,
            created_at: s.created_at.to_string(),
            updated_at: s.updated_at.to_string(),
            warnings: s.warnings.clone(),
        }
    }
}

async fn info(app: &AppState, ws: WorkspaceId, r: SegmentReply) -> Result<SegmentBody, ApiError> {
    match r {
        SegmentReply::Info(s) => {
            Ok(SegmentBody::new(&s, &SegmentNames::for_exprs(app, ws, [&s.expr].into_iter()).await?))
        }
        _ => Err(ApiError::internal("unexpected engine reply")),
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/segments",
    operation_id = "segments_create",
    tag = "segments",
    request_body = SegmentRequest,
    responses(
        (status = 201, description = "The segment, evaluated over every contact", body = SegmentBody),
        (status = 400, description = "A bad name or definition (the field names where)", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody)
    )
)]
pub async fn create(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Reply<SegmentBody>), ApiError> {
    let req: SegmentRequest = lenient(json_body(&headers, body).await?)?;
    let name = name(req.name.as_ref())?.ok_or_else(|| ApiError::missing_field("name", "name is required"))?;
    let expr = definition(req.definition.as_ref())?;
    let r = app.engine.segment(ws, SegmentCmd::Create { name, expr }).await?;
    Ok(created(info(&app, ws, r).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/segments",
    operation_id = "segments_list",
    tag = "segments",
    responses(
        (status = 200, description = "Every segment (one page)", body = Page<SegmentBody>)
    )
)]
pub async fn list(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
) -> Result<Reply<Page<SegmentBody>>, ApiError> {
    match app.engine.segment(ws, SegmentCmd::List).await? {
        SegmentReply::List(items) => {
            let names = SegmentNames::of(&items);
            Ok(Reply(Page::whole(items.iter().map(|s| SegmentBody::new(s, &names)).collect())))
        }
        _ => Err(ApiError::internal("unexpected engine reply")),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/segments/{id}",
    operation_id = "segments_get",
    tag = "segments",
    params(("id" = String, Path, description = "The segment's id")),
    responses(
        (status = 200, description = "The segment", body = SegmentBody),
        (status = 404, description = "No such segment in the workspace", body = ErrorBody)
    )
)]
pub async fn get(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply<SegmentBody>, ApiError> {
    let r = app.engine.segment(ws, SegmentCmd::Get { id }).await?;
    Ok(Reply(info(&app, ws, r).await?))
}

/// Renames it or changes its definition (members are evaluated again, silently).
#[utoipa::path(
    put,
    path = "/api/v1/segments/{id}",
    operation_id = "segments_update",
    tag = "segments",
    request_body = SegmentRequest,
    params(("id" = String, Path, description = "The segment's id")),
    responses(
        (status = 200, description = "The segment", body = SegmentBody),
        (status = 400, description = "A bad name or definition, or a cycle of segments", body = ErrorBody),
        (status = 404, description = "No such segment in the workspace", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody)
    )
)]
pub async fn update(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Reply<SegmentBody>, ApiError> {
    let req: SegmentRequest = request(json_body(&headers, body).await?)?;
    let name = name(req.name.as_ref())?;
    let expr = req.definition.as_ref().map(|d| definition(Some(d))).transpose()?;
    let r = app.engine.segment(ws, SegmentCmd::Update { id, name, expr }).await?;
    Ok(Reply(info(&app, ws, r).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    pub id: String,
    pub deleted: bool,
}

#[utoipa::path(
    delete,
    path = "/api/v1/segments/{id}",
    operation_id = "segments_delete",
    tag = "segments",
    params(("id" = String, Path, description = "The segment's id")),
    responses(
        (status = 200, description = "Deleted", body = Deleted),
        (status = 404, description = "No such segment in the workspace", body = ErrorBody),
        (status = 409, description = "Another segment, a flow or a campaign uses it", body = ErrorBody)
    )
)]
pub async fn delete(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply<Deleted>, ApiError> {
    app.engine.segment(ws, SegmentCmd::Delete { id: id.clone() }).await?;
    Ok(Reply(Deleted { id, deleted: true }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PreviewRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Definition)]
    pub definition: Option<Value>,
    /// Contacts to show, 0 to 100 (default 10).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>)]
    pub sample: Option<Value>,
}

/// Who a definition would hold now, without saving it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentPreview {
    pub count: u64,
    pub sample: Vec<ContactBody>,
    #[schema(value_type = Object)]
    pub definition: Value,
    pub text: String,
    /// The definition in words.
    pub description: String,
    pub warnings: Vec<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/segments/preview",
    operation_id = "segments_preview",
    tag = "segments",
    request_body = PreviewRequest,
    responses(
        (status = 200, description = "The count and a sample", body = SegmentPreview),
        (status = 400, description = "A bad definition", body = ErrorBody)
    )
)]
pub async fn preview(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Reply<SegmentPreview>, ApiError> {
    let req: PreviewRequest = lenient(json_body(&headers, body).await?)?;
    let expr = definition(req.definition.as_ref())?;
    let sample = match req.sample {
        None => PREVIEW_SAMPLE_DEFAULT,
        Some(n) => n.as_u64().filter(|n| *n as usize <= PREVIEW_SAMPLE_MAX).ok_or_else(|| {
            ApiError::invalid_value("sample", format!("sample must be a number from 0 to {PREVIEW_SAMPLE_MAX}"))
        })? as usize,
    };
    let definition = kairos_segment::json::to_json(&expr);
    let text = kairos_segment::print::to_text(&expr);
    let description = SegmentNames::for_exprs(&app, ws, [&expr].into_iter()).await?.describe(&expr);
    match app.engine.segment(ws, SegmentCmd::Preview { expr, sample }).await? {
        SegmentReply::Preview { count, sample, warnings } => Ok(Reply(SegmentPreview {
            count,
            sample: wire::contacts(&sample),
            definition,
            text,
            description,
            warnings,
        })),
        _ => Err(ApiError::internal("unexpected engine reply")),
    }
}

async fn row(app: &AppState, ws: kairos_domain::WorkspaceId, id: &str) -> Result<i64, ApiError> {
    let key = id.to_string();
    read_log(app, move |r| r.segment_row(ws, &key))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("segment {id:?} not found")))
}

#[utoipa::path(
    get,
    path = "/api/v1/segments/{id}/members",
    operation_id = "segments_members",
    tag = "segments",
    params(("id" = String, Path, description = "The segment's id"), PageQuery),
    responses(
        (status = 200, description = "Members, page by page", body = Page<ContactBody>),
        (status = 404, description = "No such segment in the workspace", body = ErrorBody)
    )
)]
pub async fn members(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<PageQuery>,
) -> Result<Reply<Page<ContactBody>>, ApiError> {
    let row = row(&app, ws, &id).await?;
    let n = limit(&q.limit)?;
    let cursor = q.cursor;
    let p = read_contact_page(&app, ws, move |r| r.segment_member_page(row, cursor.as_deref(), n)).await?;
    Ok(Reply(Page::new(wire::contacts(&p.items), p.next_cursor)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// How far back, as a duration (default `90d`).
    pub window: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SizePoint {
    #[schema(format = DateTime)]
    pub at: String,
    pub size: u64,
}

/// Size over time: one sample per hour in which the size changed (the latest size of that hour).
#[utoipa::path(
    get,
    path = "/api/v1/segments/{id}/history",
    operation_id = "segments_history",
    tag = "segments",
    params(("id" = String, Path, description = "The segment's id"), HistoryQuery),
    responses(
        (status = 200, description = "Sizes, oldest first", body = Page<SizePoint>),
        (status = 404, description = "No such segment in the workspace", body = ErrorBody)
    )
)]
pub async fn history(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<HistoryQuery>,
) -> Result<Reply<Page<SizePoint>>, ApiError> {
    let row = row(&app, ws, &id).await?;
    let window = match q.window {
        None => Duration::from_secs(HISTORY_WINDOW_DEFAULT_SECS),
        Some(w) => Duration::parse(&w)
            .ok_or_else(|| ApiError::invalid_value("window", "window must be a duration like 30d"))?,
    };
    let since = Timestamp::from_micros(app.engine.clock().now().as_micros().saturating_sub(window.as_micros()));
    let points = read_log(&app, move |r| r.segment_sizes(row, since)).await?;
    let items = points.iter().map(|(at, size)| SizePoint { at: at.to_string(), size: *size }).collect();
    Ok(Reply(Page::whole(items)))
}

//! `/api/v1/flows`: validated, versioned flow definitions, their lifecycle and numbers, the flow library, API
//! triggers, simulation, and the team tasks flows create.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use kairos_domain::{FlowStatus, MessageStatus};
use kairos_engine::EngineError;
use kairos_flow::FlowDocument;
use kairos_store::StoredFlow;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::AppState;
use crate::api::{ContactSelector, json_body, lenient, present, read_log, request};
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorBody};
use crate::wire::{Page, Reply, created};

/// How far back a simulation replays without `since`.
const SIMULATION_SINCE_DEFAULT_SECS: i64 = 90 * 86_400;

/// A flow definition (SPEC 6, 16 "Flows"), validated by `kairos_flow` (errors name the path, like
/// `steps[2].condition`). Conditions use the segment language plus `event.<property>` and `since entry`.
#[derive(Debug, ToSchema)]
#[schema(example = json!({"name": "Abandoned checkout",
    "trigger": {"type": "event", "event": "Checkout Started", "where": "value > 100"},
    "entry": {"filter": "subscribed email", "reentry": "once_per 7d"},
    "exit_when": "did \"Order Completed\" since entry",
    "steps": [{"id": "wait", "type": "delay", "duration": "4h", "next": "email"},
              {"id": "email", "type": "send", "channel": "email", "template": "abandoned-cart-1"}]}))]
pub struct FlowDefinition {
    /// At most 200 characters.
    pub name: String,
    pub description: Option<String>,
    pub trigger: FlowTrigger,
    pub entry: Option<FlowEntry>,
    /// A condition that ends a run before any step (`did "Order Completed" since entry`).
    pub exit_when: Option<String>,
    /// A trigger event property that keeps one run per value (`event.cart_id`).
    pub key: Option<String>,
    /// A topic's id (`settings.topics`): people who left that topic on their preference page get none of its
    /// marketing.
    pub topic: Option<String>,
    /// 0 to 100: when smart sending or a cap must choose, the higher goes first (default by trigger: cart and
    /// checkout 80, browse / back in stock / price drop 60, other flows 50; campaigns 20).
    pub priority: Option<u8>,
    /// The first step's id (default: `steps[0]`).
    pub start: Option<String>,
    /// At least one step; a step without `next` ends the run.
    pub steps: Vec<FlowStep>,
}

/// What enters contacts into the flow.
#[derive(Debug, ToSchema)]
pub struct FlowTrigger {
    /// `event`, `segment_entered`, `segment_exited`, `date`, `back_in_stock`, `price_drop`, `form_submitted` or
    /// `api`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `event`: the event name.
    pub event: Option<String>,
    /// `event`: instead of `event`, up to 5 names; whichever comes first enters (cart activity: `["Product
    /// Added", "Cart Viewed", "Checkout Started"]`).
    pub events: Option<Vec<String>>,
    /// `event`: a condition on the event (`value > 100`).
    #[serde(rename = "where")]
    pub filter: Option<String>,
    /// `segment_entered` / `segment_exited`: a segment id or name.
    pub segment: Option<String>,
    /// `date`: the trait holding the date (`birthday`).
    #[serde(rename = "trait")]
    pub trait_name: Option<String>,
    /// `date`: 0 to 366.
    pub days_before: Option<u32>,
    /// `price_drop`: 0 to 100.
    pub min_percent: Option<f64>,
    /// `form_submitted`: a form id (any form when absent).
    pub form: Option<String>,
}

#[derive(Debug, ToSchema)]
pub struct FlowEntry {
    /// A condition the contact must meet to enter.
    pub filter: Option<String>,
    /// `once` (default), `always` or `once_per 7d`.
    pub reentry: Option<String>,
    /// Default true.
    pub require_consent: Option<bool>,
}

/// One step; which fields apply depends on `type`.
#[derive(Debug, ToSchema)]
pub struct FlowStep {
    /// 1 to 64 letters, digits, `_` or `-`, unique in the flow.
    pub id: String,
    /// `delay`, `wait_for`, `split`, `ab_split`, `send`, `update_profile`, `tag`, `webhook`, `issue_coupon`,
    /// `task` or `exit`.
    #[serde(rename = "type")]
    pub kind: String,
    pub next: Option<String>,
    /// `delay`: `30s`, `15m`, `4h`, `2d`, `1w`; or `until` a local time.
    pub duration: Option<String>,
    /// `delay`: `HH:MM` in the contact's zone, optionally on `weekdays` (`["mon", "fri"]`).
    pub until: Option<String>,
    pub weekdays: Option<Vec<String>>,
    /// `wait_for`: the event to wait for, with an optional `where`, a `timeout` and `timeout_next`.
    pub event: Option<String>,
    #[serde(rename = "where")]
    pub filter: Option<String>,
    pub timeout: Option<String>,
    pub timeout_next: Option<String>,
    /// `split`: a condition; `yes` and `no` name the next steps.
    pub condition: Option<String>,
    pub yes: Option<String>,
    pub no: Option<String>,
    /// `ab_split`: 2 or more `{"name", "weight", "next"}`.
    #[schema(value_type = Option<Vec<Object>>)]
    pub variants: Option<Vec<Value>>,
    /// `send`: `email`, `sms` or `chat`, with a `template` id.
    pub channel: Option<String>,
    pub template: Option<String>,
    pub transactional: Option<bool>,
    /// `send`: false, or a duration overriding the workspace's smart sending.
    #[schema(value_type = Option<String>)]
    pub smart_sending: Option<Value>,
    /// `send`: `defer` (default) or `skip` when a cap, quiet hours or smart sending blocks it.
    pub on_blocked: Option<String>,
    /// `send`: `now` (default) or `best_hour`.
    pub send_time: Option<String>,
    /// `update_profile`: traits to set and to increment.
    #[schema(value_type = Option<Object>)]
    pub set: Option<Map<String, Value>>,
    #[schema(value_type = Option<Object>)]
    pub increment: Option<Map<String, Value>>,
    /// `tag`: tags to add and remove.
    pub add: Option<Vec<String>>,
    pub remove: Option<Vec<String>>,
    /// `task`: Liquid text for the team.
    pub message: Option<String>,
    /// `webhook`: a public https URL, the method, and an optional body (its strings are Liquid).
    pub url: Option<String>,
    pub method: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub body: Option<Value>,
    /// `issue_coupon`: the pool, and where to go when it has no code left.
    pub pool: Option<String>,
    pub fallback_next: Option<String>,
}

/// A saved flow at its current version.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowBody {
    pub id: String,
    pub name: String,
    /// `draft`, `active` or `paused`.
    pub status: String,
    pub version: i64,
    #[schema(value_type = FlowDefinition)]
    pub definition: Value,
    /// The priority in effect (0..100): the definition's `priority`, else the default for its trigger (cart 80,
    /// browse / back in stock / price drop 60, other flows 50).
    pub priority: u8,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&StoredFlow> for FlowBody {
    fn from(f: &StoredFlow) -> Self {
        let definition = serde_json::from_str::<Value>(&f.definition).unwrap_or(Value::Null);
        FlowBody {
            id: f.public_id.clone(),
            name: f.name.clone(),
            status: f.status.as_str().to_string(),
            version: f.version,
            priority: kairos_flow::parse_flow(&definition)
                .map_or(kairos_domain::priority::PRIORITY_FLOW, |d| d.priority()),
            definition,
            created_at: f.created_at.to_string(),
            updated_at: f.updated_at.to_string(),
        }
    }
}

/// A flow of the workspace by public id, or 404.
async fn find_flow(app: &AppState, ws: kairos_domain::WorkspaceId, id: &str) -> Result<StoredFlow, ApiError> {
    let flows = read_log(app, move |r| r.flows(ws)).await?;
    flows.into_iter().find(|f| f.public_id == id).ok_or_else(|| ApiError::not_found(format!("flow {id:?} not found")))
}

/// A flow definition body, read (the error names the JSON path of the problem).
async fn flow_document(headers: &HeaderMap, body: Body) -> Result<FlowDocument, ApiError> {
    let v = json_body(headers, body).await?;
    FlowDocument::parse(v).map_err(flow_invalid)
}

/// A definition that does not read: 400 naming its JSON path.
fn flow_invalid(e: kairos_flow::FlowError) -> ApiError {
    ApiError::from(EngineError::Invalid { message: e.message, field: Some(e.field) })
}

/// Saves a draft (activate it to start it).
#[utoipa::path(
    post,
    path = "/api/v1/flows",
    operation_id = "flows_create",
    tag = "flows",
    request_body = FlowDefinition,
    responses(
        (status = 201, description = "The flow, a draft", body = FlowBody),
        (status = 400, description = "An invalid definition (the field names the path)", body = ErrorBody)
    )
)]
pub async fn create(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Reply<FlowBody>), ApiError> {
    let f = app.engine.create_flow(ws, flow_document(&headers, body).await?).await?;
    Ok(created(FlowBody::from(&f)))
}

/// A new version; runs in progress keep theirs.
#[utoipa::path(
    put,
    path = "/api/v1/flows/{id}",
    operation_id = "flows_update",
    tag = "flows",
    request_body = FlowDefinition,
    params(("id" = String, Path, description = "The flow's id")),
    responses(
        (status = 200, description = "The flow at its new version", body = FlowBody),
        (status = 400, description = "An invalid definition", body = ErrorBody),
        (status = 404, description = "No such flow in the workspace", body = ErrorBody)
    )
)]
pub async fn update(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Reply<FlowBody>, ApiError> {
    let doc = flow_document(&headers, body).await?;
    Ok(Reply(FlowBody::from(&app.engine.update_flow(ws, id, doc).await?)))
}

#[utoipa::path(
    get,
    path = "/api/v1/flows",
    operation_id = "flows_list",
    tag = "flows",
    responses(
        (status = 200, description = "Every flow (one page)", body = Page<FlowBody>)
    )
)]
pub async fn list(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
) -> Result<Reply<Page<FlowBody>>, ApiError> {
    let flows = read_log(&app, move |r| r.flows(ws)).await?;
    Ok(Reply(Page::whole(flows.iter().map(FlowBody::from).collect())))
}

#[utoipa::path(
    get,
    path = "/api/v1/flows/{id}",
    operation_id = "flows_get",
    tag = "flows",
    params(("id" = String, Path, description = "The flow's id")),
    responses(
        (status = 200, description = "The flow", body = FlowBody),
        (status = 404, description = "No such flow in the workspace", body = ErrorBody)
    )
)]
pub async fn get(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply<FlowBody>, ApiError> {
    Ok(Reply(FlowBody::from(&find_flow(&app, ws, &id).await?)))
}

/// Validates the flow again (templates and segments must exist) and starts it; held runs go on.
#[utoipa::path(
    post,
    path = "/api/v1/flows/{id}/activate",
    operation_id = "flows_activate",
    tag = "flows",
    params(("id" = String, Path, description = "The flow's id")),
    responses(
        (status = 200, description = "The active flow", body = FlowBody),
        (status = 400, description = "The definition no longer validates", body = ErrorBody),
        (status = 404, description = "No such flow in the workspace", body = ErrorBody)
    )
)]
pub async fn activate(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply<FlowBody>, ApiError> {
    Ok(Reply(FlowBody::from(&app.engine.set_flow_status(ws, id, FlowStatus::Active).await?)))
}

/// Stops new entries and holds runs in progress where they are.
#[utoipa::path(
    post,
    path = "/api/v1/flows/{id}/pause",
    operation_id = "flows_pause",
    tag = "flows",
    params(("id" = String, Path, description = "The flow's id")),
    responses(
        (status = 200, description = "The paused flow", body = FlowBody),
        (status = 404, description = "No such flow in the workspace", body = ErrorBody)
    )
)]
pub async fn pause(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply<FlowBody>, ApiError> {
    Ok(Reply(FlowBody::from(&app.engine.set_flow_status(ws, id, FlowStatus::Paused).await?)))
}

/// SPEC 16: counts of runs.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowStats {
    pub entered: u64,
    pub active: u64,
    /// Ended runs by reason (`completed`, `exit_when`, `goal`, ...).
    pub exited: BTreeMap<String, u64>,
    pub converted: u64,
    /// Per step id: counts by outcome (`entered`, `sent`, `skipped`, ...).
    pub steps: BTreeMap<String, BTreeMap<String, u64>>,
}

#[utoipa::path(
    get,
    path = "/api/v1/flows/{id}/stats",
    operation_id = "flows_stats",
    tag = "flows",
    params(("id" = String, Path, description = "The flow's id")),
    responses(
        (status = 200, description = "Run counts", body = FlowStats),
        (status = 404, description = "No such flow in the workspace", body = ErrorBody)
    )
)]
pub async fn stats(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply<FlowStats>, ApiError> {
    let f = &find_flow(&app, ws, &id).await?;
    let row = f.row;
    let stats = read_log(&app, move |r| r.flow_stats(row)).await?;
    let mut steps = stats.steps.clone();
    let converted = steps
        .remove(kairos_engine::FLOW_COUNTER_STEP)
        .and_then(|m| m.get(MessageStatus::Converted.as_str()).copied())
        .unwrap_or(0);
    Ok(Reply(FlowStats {
        entered: stats.entered,
        active: stats.active,
        exited: stats.exited,
        converted: converted.max(stats.converted),
        steps,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LibraryFlow {
    /// Install with `POST /api/v1/flows/library/{key}/install`.
    pub key: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// The name the installed flow gets (installing again while a flow has it asks for `copy: true`).
    pub flow_name: String,
}

/// The built-in flows (SPEC 16 "Flow library").
#[utoipa::path(
    get,
    path = "/api/v1/flows/library",
    operation_id = "flows_library",
    tag = "flows",
    responses((status = 200, description = "The library", body = Page<LibraryFlow>))
)]
pub async fn library(_: SecretWorkspace) -> Result<Reply<Page<LibraryFlow>>, ApiError> {
    let items = kairos_flow::library::LIBRARY
        .iter()
        .map(|f| LibraryFlow {
            key: f.key,
            name: f.name,
            description: f.description,
            flow_name: (f.flow)(0.0)["name"].as_str().unwrap_or(f.name).to_string(),
        })
        .collect();
    Ok(Reply(Page::whole(items)))
}

/// The contact (like [`ContactSelector`]; created when unknown) and the trigger event's properties.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"email": "ann@example.com", "properties": {"order_id": "o-17"}}))]
pub struct TriggerRequest {
    #[serde(flatten)]
    pub who: ContactSelector,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub properties: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Triggered {
    /// False when entry rules kept the contact out (re-entry, filter, consent).
    pub entered: bool,
}

/// Enters a contact into an active flow whose trigger type is `api`.
#[utoipa::path(
    post,
    path = "/api/v1/flows/{id}/trigger",
    operation_id = "flows_trigger",
    tag = "flows",
    request_body = TriggerRequest,
    params(("id" = String, Path, description = "The flow's id")),
    responses(
        (status = 200, description = "Whether a run started", body = Triggered),
        (status = 400, description = "A bad contact or properties, or not an active api flow", body = ErrorBody),
        (status = 404, description = "No such flow or contact in the workspace", body = ErrorBody)
    )
)]
pub async fn trigger(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Reply<Triggered>, ApiError> {
    let req: TriggerRequest = request(json_body(&headers, body).await?)?;
    let who = req.who.contact()?;
    let properties = match req.properties {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(ApiError::invalid_type("properties", "properties must be a JSON object")),
    };
    let entered = app.engine.trigger_flow(ws, id, who, properties).await?;
    Ok(Reply(Triggered { entered }))
}

/// Both optional: `definition` (an unsaved edit; default the saved one) and `since` (default `90d`).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SimulateRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<FlowDefinition>)]
    pub definition: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, example = "30d")]
    pub since: Option<Value>,
}

/// What the flow would have done over the stored history.
#[derive(Debug, Serialize, ToSchema)]
pub struct Simulation {
    #[schema(format = DateTime)]
    pub from: String,
    #[schema(format = DateTime)]
    pub to: String,
    pub events_replayed: u64,
    pub entered: u64,
    pub active: u64,
    /// Ended runs by why: `completed`, `exit_step`, `goal`.
    pub exited: BTreeMap<String, u64>,
    pub converted: u64,
    /// Per step: `entered`, `would_send`, `would_create_task`, `would_run`.
    pub steps: BTreeMap<String, BTreeMap<String, u64>>,
    /// A few runs, ended ones first.
    pub sample: Vec<SimulatedRun>,
    pub notes: Vec<String>,
}

/// One simulated run.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimulatedRun {
    pub contact_id: i64,
    #[schema(format = DateTime)]
    pub entered_at: String,
    /// The steps it went through.
    pub path: Vec<String>,
    /// Why it ended, if it did.
    pub ended: Option<String>,
    /// The step it waits at.
    pub waiting_at: Option<String>,
}

impl From<kairos_engine::simulate::Simulation> for Simulation {
    fn from(s: kairos_engine::simulate::Simulation) -> Self {
        Simulation {
            from: s.from.to_string(),
            to: s.to.to_string(),
            events_replayed: s.events_replayed,
            entered: s.entered,
            active: s.active,
            exited: s.exited.into_iter().map(|(e, n)| (e.as_str().to_string(), n)).collect(),
            converted: s.converted,
            steps: s
                .steps
                .into_iter()
                .map(|(step, what)| (step, what.into_iter().map(|(k, n)| (k.to_string(), n)).collect()))
                .collect(),
            sample: s
                .sample
                .into_iter()
                .map(|r| SimulatedRun {
                    contact_id: r.contact.0,
                    entered_at: r.entered_at.to_string(),
                    path: r.path,
                    ended: r.ended.map(|e| e.as_str().to_string()),
                    waiting_at: r.waiting_at,
                })
                .collect(),
            notes: s.notes.into_iter().map(str::to_string).collect(),
        }
    }
}

/// Replays the workspace's history through the flow without sending or storing anything (SPEC 6).
#[utoipa::path(
    post,
    path = "/api/v1/flows/{id}/simulate",
    operation_id = "flows_simulate",
    tag = "flows",
    request_body = SimulateRequest,
    params(("id" = String, Path, description = "The flow's id")),
    responses(
        (status = 200, description = "The simulation", body = Simulation),
        (status = 400, description = "A bad definition or since", body = ErrorBody),
        (status = 404, description = "No such flow in the workspace", body = ErrorBody)
    )
)]
pub async fn simulate(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Reply<Simulation>, ApiError> {
    // The body is optional: anything unreadable counts as none.
    let v = json_body(&headers, body).await.unwrap_or(Value::Null);
    let req: SimulateRequest = lenient(v).unwrap_or_default();
    let f = &find_flow(&app, ws, &id).await?;
    let definition = match req.definition {
        Some(d @ Value::Object(_)) => d,
        Some(_) => return Err(ApiError::invalid_type("definition", "definition must be a flow object")),
        None => serde_json::from_str(&f.definition).unwrap_or(Value::Null),
    };
    let since = match req.since {
        None => kairos_domain::Duration::from_secs(SIMULATION_SINCE_DEFAULT_SECS),
        Some(s) => s
            .as_str()
            .and_then(kairos_domain::Duration::parse)
            .ok_or_else(|| ApiError::invalid_value("since", "since must be a duration like 30d"))?,
    };
    let definition = FlowDocument::parse(definition).map_err(flow_invalid)?;
    Ok(Reply(Simulation::from(app.engine.simulate_flow(ws, definition, since).await?)))
}

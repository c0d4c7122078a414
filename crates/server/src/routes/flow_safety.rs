//! Safety rails around flows (issue 16): installing a library flow that is already installed asks first, and
//! before a flow is activated the UI can show which active flows start on the same trigger and how many people
//! that concerns.

use std::collections::HashSet;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use kairos_domain::{Duration, FlowStatus};
use kairos_store::StoredFlow;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::flows::FlowBody;
use crate::AppState;
use crate::api::read_log;
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorBody};
use crate::wire::{Reply, created};

/// The past an overlap's size is counted over.
pub const OVERLAP_WINDOW: Duration = Duration::from_secs(30 * 86_400);

/// An editable draft with its templates and segments (those missing from the workspace are created). A library
/// flow already installed (a flow of the workspace has its name) answers 409 unless the body says
/// `{"copy": true}`.
#[utoipa::path(
    post,
    path = "/api/v1/flows/library/{key}/install",
    operation_id = "flows_install",
    tag = "flows",
    params(
        ("key" = String, Path, description = "A library key, like `abandoned_cart`")
    ),
    request_body(content = Object, description = "Optional: `{\"copy\": true}` installs another copy"),
    responses(
        (status = 201, description = "The installed flow, a draft", body = FlowBody),
        (status = 404, description = "No such library flow", body = ErrorBody),
        (status = 409, description = "Already installed (send `copy: true` for another copy)", body = ErrorBody)
    )
)]
pub async fn install(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Reply<FlowBody>), ApiError> {
    // The body is optional (the README's curl sends none); when given it must be JSON.
    let bytes = crate::api::read_body(&headers, body, crate::api::ADMIN_BODY_BYTES_MAX).await?;
    let ask: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).map_err(|e| ApiError::invalid_json(&e))?
    };
    let copy = match ask.get("copy") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::invalid_value("copy", "copy must be true or false")),
    };
    let lib =
        kairos_flow::library::find(&key).ok_or_else(|| ApiError::not_found(format!("no library flow {key:?}")))?;
    let name = (lib.flow)(0.0)["name"].as_str().unwrap_or(lib.name).to_string();
    if !copy {
        let wanted = name.clone();
        let existing = read_log(&app, move |r| Ok(r.flows(ws)?.into_iter().find(|f| f.name == wanted))).await?;
        if let Some(f) = existing {
            return Err(ApiError::conflict(format!(
                "“{name}” is already installed ({}, {}): send {{\"copy\": true}} to install another copy",
                f.public_id, f.status
            )));
        }
    }
    let f = app.engine.install_library_flow(ws, key).await?;
    Ok(created(FlowBody::from(&f)))
}

/// An active flow that starts on the same trigger as the flow asked about.
#[derive(Debug, Serialize, ToSchema)]
pub struct Overlap {
    pub flow_id: String,
    pub name: String,
    /// What both start on, in words: event names, or the segment.
    pub shared: Vec<String>,
    /// People who did one of the shared events in the last 30 days (or are in the shared segment now): each
    /// would enter both flows. Null when it cannot be told (date, catalog, form and API triggers).
    pub people: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OverlapsBody {
    pub overlaps: Vec<Overlap>,
}

/// The events (names) a trigger enters on.
fn trigger_events(t: &Value) -> Vec<String> {
    let mut out: Vec<String> =
        t["events"].as_array().into_iter().flatten().filter_map(|e| e.as_str().map(str::to_string)).collect();
    if let Some(e) = t["event"].as_str() {
        out.push(e.to_string());
    }
    out
}

fn trigger_of(f: &StoredFlow) -> Value {
    serde_json::from_str::<Value>(&f.definition).unwrap_or_default()["trigger"].clone()
}

/// The active flows (other than `id`) that start on the same trigger as flow `id`, with how many people that is.
#[utoipa::path(
    get,
    path = "/api/v1/flows/{id}/overlaps",
    operation_id = "flows_overlaps",
    tag = "flows",
    params(("id" = String, Path, description = "The flow's id")),
    responses(
        (status = 200, description = "Active flows on the same trigger", body = OverlapsBody),
        (status = 404, description = "No such flow in the workspace", body = ErrorBody)
    )
)]
pub async fn overlaps(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply<OverlapsBody>, ApiError> {
    let now = app.engine.clock().now();
    let key = id.clone();
    let found = read_log(&app, move |r| {
        let flows = r.flows(ws)?;
        let Some(me) = flows.iter().find(|f| f.public_id == key) else { return Ok(None) };
        let mine = trigger_of(me);
        let my_events: HashSet<String> = trigger_events(&mine).into_iter().collect();
        let mut out = Vec::new();
        for f in flows.iter().filter(|f| f.public_id != key && f.status == FlowStatus::Active) {
            let theirs = trigger_of(f);
            let (shared, people) = match mine["type"].as_str() {
                Some("event") if theirs["type"] == "event" => {
                    let mut shared: Vec<String> =
                        trigger_events(&theirs).into_iter().filter(|e| my_events.contains(e)).collect();
                    shared.sort();
                    shared.dedup();
                    let mut who = HashSet::new();
                    for e in &shared {
                        for (c, _) in r.event_times(ws, e, now.saturating_sub(OVERLAP_WINDOW), now)? {
                            who.insert(c);
                        }
                    }
                    (shared, Some(who.len() as u64))
                }
                Some(kind @ ("segment_entered" | "segment_exited")) if theirs["type"] == kind => {
                    let seg = mine["segment"].as_str().unwrap_or_default();
                    if theirs["segment"].as_str() != Some(seg) {
                        (Vec::new(), None)
                    } else {
                        let found = r.segments(ws)?.into_iter().find(|(s, _)| s.public_id == seg || s.name == seg);
                        let name = found.as_ref().map_or(seg.to_string(), |(s, _)| s.name.clone());
                        (vec![format!("the segment “{name}”")], found.map(|(_, n)| n))
                    }
                }
                Some(kind) if theirs["type"] == kind && theirs == mine => (vec![kind.replace('_', " ")], None),
                _ => (Vec::new(), None),
            };
            if !shared.is_empty() {
                out.push(Overlap { flow_id: f.public_id.clone(), name: f.name.clone(), shared, people });
            }
        }
        Ok(Some(out))
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("flow {id:?} not found")))?;
    Ok(Reply(OverlapsBody { overlaps: found }))
}

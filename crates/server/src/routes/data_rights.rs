//! SPEC 16 "Data rights": `GET /api/v1/contacts/{id}/export` answers everything Kairos holds about a person
//! (the profile with its consent, every event of their timeline, every message to them, and the consent
//! changes among those events) as one JSON document, for a subject access request; `DELETE
//! /api/v1/contacts/{id}` erases the person (`kairos_engine::erasure`). Both are written to the audit log
//! (`GET /api/v1/audit-log`) with who asked and when.

use axum::Json;
use axum::extract::{Path, State};
use kairos_domain::{ContactId, SystemEvent, WorkspaceId};
use kairos_store::{AuditEntry, MessageFilter, Reads};
use serde_json::{Value, json};

use crate::AppState;
use crate::api::read_contact;
use crate::auth::{SecretActor, SecretWorkspace};
use crate::error::{ApiError, ErrorBody};
use crate::routes::messages::MessageBody;
use crate::wire::{self, ContactBody};

/// Most events and messages an export lists (each); past them it says `"truncated": true`.
const EXPORT_ROWS_MAX: usize = 100_000;
/// Rows read per page while collecting an export.
const EXPORT_PAGE_ROWS: usize = 1_000;

/// Every page of a listing, up to [`EXPORT_ROWS_MAX`]; true when more were left.
fn collect<T>(
    mut page: impl FnMut(Option<&str>) -> kairos_store::Result<kairos_store::Page<T>>,
) -> kairos_store::Result<(Vec<T>, bool)> {
    let (mut all, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let p = page(cursor.as_deref())?;
        all.extend(p.items);
        match p.next_cursor {
            Some(next) if all.len() < EXPORT_ROWS_MAX => cursor = Some(next),
            Some(_) => return Ok((all, true)),
            None => return Ok((all, false)),
        }
    }
}

fn export_of(
    r: &dyn Reads,
    ws: kairos_domain::WorkspaceId,
    id: ContactId,
    now: kairos_domain::Timestamp,
) -> kairos_store::Result<Option<Value>> {
    let Some(contact) = r.contact(ws, id)? else { return Ok(None) };
    let (events, events_truncated) = collect(|c| r.contact_events(contact.id, c, EXPORT_PAGE_ROWS))?;
    let filter = MessageFilter { contact: Some(contact.id), ..Default::default() };
    let (messages, messages_truncated) = collect(|c| r.messages(ws, &filter, c, EXPORT_PAGE_ROWS))?;
    let consent_events = [
        SystemEvent::Unsubscribed.as_str(),
        SystemEvent::EmailSubscribed.as_str(),
        SystemEvent::SmsSubscribed.as_str(),
        "SMS Unsubscribed",
    ];
    let consent_history: Vec<_> = events
        .iter()
        .filter(|e| e.event.name.as_deref().is_some_and(|n| consent_events.contains(&n)))
        .cloned()
        .collect();
    let (events, consent_history) = (wire::events(&events), wire::events(&consent_history));
    let profile = serde_json::to_value(ContactBody::from(&contact)).unwrap_or(Value::Null);
    Ok(Some(json!({
        "consent": profile["consent"].clone(),
        "contact": profile,
        "consent_history": consent_history,
        "events": events,
        "messages": messages.iter().map(MessageBody::from).collect::<Vec<_>>(),
        "truncated": events_truncated || messages_truncated,
        "exported_at": wire::ts(Some(now)),
    })))
}

/// Everything Kairos holds about the person (a data subject access request).
#[utoipa::path(
    get,
    path = "/api/v1/contacts/{id}/export",
    operation_id = "contacts_export",
    tag = "contacts",
    params(("id" = i64, Path, description = "The contact's id")),
    responses(
        (status = 200, description = "`{\"contact\", \"consent\", \"consent_history\", \"events\", \"messages\", \"truncated\", \"exported_at\"}`", body = Object),
        (status = 404, description = "No such contact in the workspace", body = ErrorBody)
    )
)]
pub async fn export(
    SecretActor(ws, actor): SecretActor,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let cid = crate::routes::contacts::contact_id(&id)?;
    let now = app.engine.clock().now();
    let found = read_contact(&app, ws, cid, move |r| export_of(r, ws, cid, now)).await?;
    let doc = found.ok_or_else(|| ApiError::not_found(format!("contact {id} not found")))?;
    let subject = format!("contact:{}", doc["contact"]["id"].as_i64().unwrap_or(cid.0));
    audit(&app, ws, actor, "contact.export", subject, "Exported everything held about the person".into()).await?;
    Ok(Json(doc))
}

/// Adds a line to the audit log (at the engine's clock).
pub(crate) async fn audit(
    app: &AppState,
    ws: WorkspaceId,
    actor: String,
    action: &str,
    subject: String,
    detail: String,
) -> Result<(), ApiError> {
    let at = app.engine.clock().now();
    let entry = AuditEntry { workspace: ws, at, actor, action: action.into(), subject, detail };
    app.engine.audit(entry).await?;
    Ok(())
}

/// Erases the person: their profile keeps only its aggregates (orders, revenue) and loses every identity; their
/// events, messages, flow runs and tasks are rewritten without personal data; an address they had is not
/// brought back by a platform webhook, a backfill or a CSV import unless they consent again.
#[utoipa::path(
    delete,
    path = "/api/v1/contacts/{id}",
    operation_id = "contacts_erase",
    tag = "contacts",
    params(("id" = i64, Path, description = "The contact's id")),
    responses(
        (status = 200, description = "`{\"erased\": true, \"contact\", \"events\", \"messages\", \"flow_runs\"}`: what was rewritten", body = Object),
        (status = 404, description = "No such contact in the workspace", body = ErrorBody)
    )
)]
pub async fn erase(
    SecretActor(ws, actor): SecretActor,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let cid = crate::routes::contacts::contact_id(&id)?;
    let done = app.engine.erase_contact(ws, cid, actor).await?;
    Ok(Json(json!({
        "erased": true,
        "contact": done.contact.0,
        "events": done.events,
        "messages": done.messages,
        "flow_runs": done.flow_runs,
    })))
}

/// Most audit lines one listing answers.
const AUDIT_LINES_MAX: usize = 1_000;
/// Audit lines answered when `limit` is not given.
const AUDIT_LINES_DEFAULT: usize = 100;

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Most lines to answer (1 to 1000, default 100).
    limit: Option<usize>,
}

/// The workspace's audit log, newest first: exports, erasures and platforms' privacy requests.
#[utoipa::path(
    get,
    path = "/api/v1/audit-log",
    operation_id = "audit_log",
    tag = "contacts",
    params(AuditQuery),
    responses(
        (status = 200, description = "`{\"entries\": [{\"at\", \"actor\", \"action\", \"subject\", \"detail\"}]}`", body = Object),
        (status = 400, description = "`limit` out of range", body = ErrorBody)
    )
)]
pub async fn audit_log(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(AUDIT_LINES_DEFAULT);
    if !(1..=AUDIT_LINES_MAX).contains(&limit) {
        return Err(ApiError::invalid_value("limit", format!("limit must be between 1 and {AUDIT_LINES_MAX}")));
    }
    let entries = app.engine.audit_log(ws, limit).await?;
    let entries: Vec<Value> = entries
        .into_iter()
        .map(|e| {
            json!({"at": wire::ts(Some(e.at)), "actor": e.actor, "action": e.action, "subject": e.subject,
                "detail": e.detail})
        })
        .collect();
    Ok(Json(json!({ "entries": entries })))
}

//! SPEC 16 "Data rights": `GET /api/v1/contacts/{id}/export` answers everything Kairos holds about a person
//! (the profile with its consent, every event of their timeline, every message to them, and the consent
//! changes among those events) as one JSON document, for a subject access request.

use axum::Json;
use axum::extract::{Path, State};
use kairos_domain::{ContactId, SystemEvent};
use kairos_store::{MessageFilter, Reads};
use serde_json::{Value, json};

use crate::AppState;
use crate::api::read;
use crate::auth::SecretWorkspace;
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
    let consent_events = [SystemEvent::Unsubscribed.as_str(), "Email Subscribed", "SMS Subscribed", "SMS Unsubscribed"];
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
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let cid = crate::routes::contacts::contact_id(&id)?;
    let now = app.engine.clock().now();
    let found = read(&app, move |r| export_of(r, ws, cid, now)).await?;
    let doc = found.ok_or_else(|| ApiError::not_found(format!("contact {id} not found")))?;
    tracing::info!(workspace = ws.0, contact = cid.0, "contact data exported");
    Ok(Json(doc))
}

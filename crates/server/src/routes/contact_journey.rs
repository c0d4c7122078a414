//! `GET /api/v1/contacts/{id}/journey`: where a customer stands, for their profile page: the segments they are in
//! now, the flows they are going through with the step each waits at, and their orders with the products.

use axum::extract::{Path, State};
use kairos_domain::{Event, Timestamp};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::contacts::contact_id;
use crate::AppState;
use crate::api::read_contact;
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorBody};
use crate::wire::Reply;

/// Orders shown on a profile, newest first.
pub const JOURNEY_ORDERS_MAX: usize = 50;
/// Events of a contact read to find their orders (newest first), bounding the work for very active contacts.
pub const JOURNEY_EVENTS_SCANNED_MAX: usize = 5_000;
/// Events read per page while scanning.
const JOURNEY_PAGE_EVENTS: usize = 500;

#[derive(Debug, Serialize, ToSchema)]
pub struct JourneySegment {
    pub id: String,
    pub name: String,
    /// When the contact entered it.
    #[schema(format = DateTime)]
    pub since: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JourneyFlow {
    pub flow_id: String,
    pub name: String,
    #[schema(format = DateTime)]
    pub entered_at: String,
    /// The step the run is at, as the flow defines it (its `id`, `type` and settings); null between steps.
    #[schema(value_type = Option<Object>)]
    pub step: Option<Value>,
    /// When its delay ends or its wait times out.
    #[schema(format = DateTime)]
    pub waiting_until: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JourneyOrder {
    pub order_id: Option<String>,
    #[schema(format = DateTime)]
    pub placed_at: String,
    /// The order's amount (total, else revenue, else value, else its products), in its currency.
    pub total: f64,
    pub currency: Option<String>,
    /// The order's `products` as sent (product_id, name, quantity, price, url, image_url...).
    #[schema(value_type = Vec<Object>)]
    pub products: Vec<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JourneyBody {
    pub segments: Vec<JourneySegment>,
    pub flows: Vec<JourneyFlow>,
    /// Newest first, at most 50 (found among the contact's newest 5 000 events).
    pub orders: Vec<JourneyOrder>,
}

/// The segments, flows in progress and orders of a contact.
#[utoipa::path(
    get,
    path = "/api/v1/contacts/{id}/journey",
    operation_id = "contacts_journey",
    tag = "contacts",
    params(("id" = i64, Path, description = "The contact's id")),
    responses(
        (status = 200, description = "Segments, flows in progress and orders", body = JourneyBody),
        (status = 404, description = "No such contact in the workspace", body = ErrorBody)
    )
)]
pub async fn journey(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply<JourneyBody>, ApiError> {
    let cid = contact_id(&id)?;
    let body = read_contact(&app, ws, cid, move |r| {
        let Some(c) = r.contact(ws, cid)? else { return Ok(None) };
        let segments = r
            .contact_segments(ws, c.id)?
            .into_iter()
            .map(|(s, since)| JourneySegment { id: s.public_id, name: s.name, since: since.to_string() })
            .collect();
        let flows_of_ws = r.flows(ws)?;
        let mut flows = Vec::new();
        for run in r.contact_runs(c.id)? {
            let Some(f) = flows_of_ws.iter().find(|f| f.row == run.flow_row) else { continue };
            // The step as the flow's current version has it (a run on an older version whose step is gone shows
            // the step's id alone).
            let def: Value = serde_json::from_str(&f.definition).unwrap_or_default();
            let step = run.step.as_deref().map(|id| {
                let found = def["steps"].as_array().and_then(|steps| steps.iter().find(|s| s["id"] == id)).cloned();
                found.unwrap_or_else(|| serde_json::json!({ "id": id }))
            });
            flows.push(JourneyFlow {
                flow_id: f.public_id.clone(),
                name: f.name.clone(),
                entered_at: run.entered_at.to_string(),
                step,
                waiting_until: run.due_at.map(|t| t.to_string()),
            });
        }
        let mut orders = Vec::new();
        let (mut cursor, mut scanned) = (None::<String>, 0);
        while orders.len() < JOURNEY_ORDERS_MAX && scanned < JOURNEY_EVENTS_SCANNED_MAX {
            let page = r.contact_events(c.id, cursor.as_deref(), JOURNEY_PAGE_EVENTS)?;
            scanned += page.items.len();
            for e in page.items.iter().map(|s| &s.event) {
                if orders.len() < JOURNEY_ORDERS_MAX && e.name.as_deref() == Some("Order Completed") {
                    orders.push(order(e));
                }
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        Ok(Some(JourneyBody { segments, flows, orders }))
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("contact {id} not found")))?;
    Ok(Reply(body))
}

fn order(e: &Event) -> JourneyOrder {
    let p = &e.properties;
    let text =
        |k: &str| p.get(k).and_then(|v| v.as_str().map(str::to_string).or_else(|| v.as_i64().map(|n| n.to_string())));
    JourneyOrder {
        order_id: text("order_id"),
        placed_at: Timestamp::to_string(&e.timestamp),
        total: kairos_domain::contact::order_amount(p).as_major(),
        currency: text("currency"),
        products: p.get("products").and_then(Value::as_array).cloned().unwrap_or_default(),
    }
}

//! `/api/v1/campaigns` (SPEC 7, 16): create a draft, schedule it, follow its progress and numbers.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use kairos_store::StoredCampaign;
use serde_json::{Value, json};

use crate::AppState;
use crate::api::{json_body, read};
use crate::auth::require_secret;
use crate::error::ApiError;

fn campaign_json(c: &StoredCampaign, counts: &[(String, u64)], report: Option<Value>) -> Value {
    let mut v: Value = serde_json::from_str(&c.definition).unwrap_or_else(|_| json!({}));
    let state: Value = serde_json::from_str(&c.state).unwrap_or_else(|_| json!({}));
    let messages: serde_json::Map<String, Value> = counts.iter().map(|(s, n)| (s.clone(), json!(n))).collect();
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    let count =
        |names: &[&str]| counts.iter().filter(|(s, _)| names.contains(&s.as_str())).map(|(_, n)| n).sum::<u64>();
    if let Some(o) = v.as_object_mut() {
        o.insert("id".into(), json!(c.public_id));
        o.insert("name".into(), json!(c.name));
        o.insert("status".into(), json!(c.status));
        o.insert("created_at".into(), json!(c.created_at.to_string()));
        o.insert("updated_at".into(), json!(c.updated_at.to_string()));
        o.insert("scheduled_at".into(), state["scheduled_at"].clone());
        o.insert("finished_at".into(), state["finished_at"].clone());
        o.insert("recipients".into(), state["recipients"].clone());
        let mut stats = json!({
            "messages": total,
            "sent": count(&["sent", "queued", "delivered", "opened", "clicked", "unsubscribed", "complained"]),
            "delivered": count(&["delivered", "opened", "clicked"]),
            "opened": count(&["opened", "clicked"]),
            "clicked": count(&["clicked"]),
            "skipped": count(&["skipped"]),
            "deferred": count(&["deferred"]),
            "failed": count(&["failed", "bounced"]),
            "unsubscribed": count(&["unsubscribed"]),
            "by_status": messages,
        });
        if let Some(r) = report {
            stats["pending"] = r["pending"].clone();
            stats["waiting_for_winner"] = r["waiting_for_winner"].clone();
            stats["processed"] = r["processed"].clone();
            o.insert("ab_results".into(), r["ab"].clone());
        }
        o.insert("stats".into(), stats);
    }
    v
}

async fn full(app: &AppState, ws: kairos_domain::WorkspaceId, c: StoredCampaign) -> Result<Value, ApiError> {
    let id = c.public_id.clone();
    let counts = read(app, move |r| r.campaign_message_counts(&id)).await?;
    let report = app.engine.campaign_report(ws, c.public_id.clone()).await?;
    Ok(campaign_json(&c, &counts, Some(report)))
}

/// `POST /api/v1/campaigns`: a draft (schedule it with `POST /api/v1/campaigns/{id}/schedule`).
pub async fn create(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let v = json_body(&headers, body).await?;
    let c = app.engine.create_campaign(ws, v).await?;
    Ok((StatusCode::CREATED, Json(full(&app, ws, c).await?)))
}

/// `GET /api/v1/campaigns`, newest first.
pub async fn list(State(app): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let list = read(&app, move |r| r.campaigns(ws)).await?;
    let mut items = Vec::with_capacity(list.len());
    for c in list {
        let id = c.public_id.clone();
        let counts = read(&app, move |r| r.campaign_message_counts(&id)).await?;
        items.push(campaign_json(&c, &counts, None));
    }
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

/// `GET /api/v1/campaigns/{id}`: status, progress and numbers (A/B variants with a confidence figure).
pub async fn get(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let c = read(&app, move |r| r.campaign(ws, &id)).await?.ok_or_else(|| ApiError::not_found("no such campaign"))?;
    Ok(Json(full(&app, ws, c).await?))
}

/// `POST /api/v1/campaigns/{id}/schedule`: takes the audience now and starts sending per the schedule.
pub async fn schedule(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let c = app.engine.schedule_campaign(ws, id).await?;
    Ok(Json(full(&app, ws, c).await?))
}

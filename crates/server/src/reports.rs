//! `/api/v1/reports/...`: attribution, per-flow/step/campaign numbers and store KPIs (SPEC 10).
//!
//! Every report covers a half-open range `[from, to)` given as ISO-8601 (`from=2030-03-01` is midnight UTC):
//! by default the 30 days up to now on the engine clock. Amounts are in major units of the store currency
//! (`120.5`); rates are fractions from 0 to 1, rounded to four decimals. The rows come from the store's read side
//! (`kairos_store::read::ReportReads`, never the committer); the numbers and their definitions are in the pure
//! `kairos_analytics` crate.
//!
//! Attribution (SPEC 10): an `Order Completed` is credited to the contact's latest touch before it that lies
//! within its channel's window (`attribution_window` setting; default 5 days for email, 1 day for SMS): a human
//! email open or click, a click on a tracked SMS link, or an SMS that was sent. Opens and clicks flagged as
//! machine (`"machine": true`: scanners, privacy proxies, within 2 s of sending) never count. Last touch wins
//! across channels.

use std::collections::{HashMap, HashSet};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use kairos_analytics::{Attributed, MessageNumbers, Order, SERIES_DAYS_MAX, Touch, Windows};
use kairos_domain::{ContactId, Duration, Money, Timestamp, WorkspaceId};
use kairos_store::Reads;
use kairos_store::reports::Cohort;
use serde_json::{Value, json};

use crate::AppState;
use crate::api::{limit, read};
use crate::auth::require_secret;
use crate::error::ApiError;

type Params = Query<HashMap<String, String>>;

/// The default report range: the last 30 days.
const DEFAULT_DAYS: i64 = 30;

/// `from` / `to` of the query: ISO-8601 instants (a bare date is midnight UTC), `from` before `to`, at most
/// [`SERIES_DAYS_MAX`] days apart. Missing `to` is now; missing `from` is 30 days before `to`.
fn range(q: &HashMap<String, String>, now: Timestamp) -> Result<(Timestamp, Timestamp), ApiError> {
    let parse = |field: &str| -> Result<Option<Timestamp>, ApiError> {
        match q.get(field) {
            None => Ok(None),
            // An unencoded `+02:00` offset arrives as a space after query decoding.
            Some(s) => Timestamp::parse(&s.trim().replace(' ', "+")).map(Some).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_value",
                    field,
                    format!("{field} must be an ISO-8601 date or date-time, like 2030-03-01 or 2030-03-01T00:00:00Z"),
                )
            }),
        }
    };
    let to = parse("to")?.unwrap_or(now);
    let from = parse("from")?.unwrap_or_else(|| to.saturating_sub(Duration::from_secs(DEFAULT_DAYS * 86_400)));
    if from >= to {
        return Err(ApiError::bad_request("invalid_value", "from", "from must be before to"));
    }
    if to.as_micros() - from.as_micros() > SERIES_DAYS_MAX as i64 * 86_400_000_000 {
        return Err(ApiError::bad_request(
            "invalid_value",
            "from",
            format!("a report covers at most {SERIES_DAYS_MAX} days"),
        ));
    }
    Ok((from, to))
}

/// The caller's workspace, the requested range, the attribution windows and the time zone from its settings.
struct Ctx {
    ws: WorkspaceId,
    from: Timestamp,
    to: Timestamp,
    now: Timestamp,
    windows: Windows,
    timezone: String,
}

async fn context(app: &AppState, headers: &HeaderMap, q: &HashMap<String, String>) -> Result<Ctx, ApiError> {
    let ws = require_secret(app, headers).await?.workspace;
    let now = app.engine.clock().now();
    let (from, to) = range(q, now)?;
    let settings = app.engine.settings(ws).await?;
    let window = |channel: &str, default: Duration| {
        settings["attribution_window"][channel].as_str().and_then(Duration::parse).unwrap_or(default)
    };
    let d = Windows::default();
    let windows = Windows { email: window("email", d.email), sms: window("sms", d.sms) };
    let timezone = settings["timezone"].as_str().unwrap_or("UTC").to_string();
    Ok(Ctx { ws, from, to, now, windows, timezone })
}

fn rate(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn money(m: Money) -> Value {
    json!(m.as_major())
}

fn numbers(n: &MessageNumbers) -> serde_json::Map<String, Value> {
    let v = json!({
        "recipients": n.recipients, "sent": n.sent, "delivered": n.delivered, "opened": n.opened,
        "clicked": n.clicked, "open_rate": rate(n.open_rate()), "click_rate": rate(n.click_rate()),
        "unsubscribed": n.unsubscribed, "bounced": n.bounced, "complained": n.complained,
        "conversions": n.conversions, "revenue": money(n.revenue),
        "revenue_per_recipient": money(n.revenue_per_recipient()),
    });
    match v {
        Value::Object(o) => o,
        _ => serde_json::Map::new(),
    }
}

fn flow_json(f: &kairos_analytics::FlowReport) -> Value {
    let mut o = serde_json::Map::new();
    o.insert("flow_id".into(), json!(f.flow_id));
    o.insert("name".into(), json!(f.name));
    o.extend(numbers(&f.totals));
    let steps: serde_json::Map<String, Value> =
        f.steps.iter().map(|(k, n)| (k.clone(), Value::Object(numbers(n)))).collect();
    o.insert("steps".into(), Value::Object(steps));
    Value::Object(o)
}

/// `GET /api/v1/reports/kpis?from=&to=`: store KPIs (see [`kairos_analytics::kpis`] for the definitions).
pub async fn kpis(State(app): State<AppState>, headers: HeaderMap, Query(q): Params) -> Result<Json<Value>, ApiError> {
    let c = context(&app, &headers, &q).await?;
    let Ctx { ws, from, to, now, windows, timezone } = c;
    let rows = read(&app, move |r| kpi_rows(r, ws, from, to, windows)).await?;
    let k = kairos_analytics::kpis(rows, from, to, now, windows, &timezone);
    let series: Vec<Value> =
        k.series.iter().map(|p| json!({"date": p.date, "revenue": money(p.revenue), "orders": p.orders})).collect();
    Ok(Json(json!({
        "from": from.to_string(), "to": to.to_string(),
        "revenue": money(k.revenue), "orders": k.orders, "aov": money(k.aov),
        "conversion_rate": rate(k.conversion_rate), "cart_abandonment_rate": rate(k.cart_abandonment_rate),
        "recovered_revenue": money(k.recovered_revenue), "repeat_purchase_rate": rate(k.repeat_purchase_rate),
        "list_growth": {"subscribed": k.subscribed, "unsubscribed": k.unsubscribed,
            "net": k.subscribed as i64 - k.unsubscribed as i64},
        "attributed_revenue": money(k.attributed_revenue),
        "series": series,
    })))
}

/// `GET /api/v1/reports/flows?from=&to=`: every flow with its numbers and per-step numbers, for messages sent in
/// the range (their opens, clicks and conversions counted whenever they happened).
pub async fn flows(State(app): State<AppState>, headers: HeaderMap, Query(q): Params) -> Result<Json<Value>, ApiError> {
    let Ctx { ws, from, to, windows, .. } = context(&app, &headers, &q).await?;
    let list = read(&app, move |r| flow_reports(r, ws, from, to, windows, None)).await?;
    let items: Vec<Value> = list.iter().map(flow_json).collect();
    Ok(Json(json!({"from": from.to_string(), "to": to.to_string(), "items": items, "next_cursor": null})))
}

/// `GET /api/v1/reports/flows/{id}?from=&to=`: one flow, in the shape of a `/reports/flows` item.
pub async fn flow(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let Ctx { ws, from, to, windows, .. } = context(&app, &headers, &q).await?;
    let key = id.clone();
    let list = read(&app, move |r| {
        // Only flows of the caller's workspace: another workspace's id is not found.
        if !r.flows(ws)?.iter().any(|f| f.public_id == key) {
            return Ok(Vec::new());
        }
        flow_reports(r, ws, from, to, windows, Some(&key))
    })
    .await?;
    let f = list.first().ok_or_else(|| ApiError::not_found(format!("flow {id:?} not found")))?;
    let mut v = flow_json(f);
    v["from"] = json!(from.to_string());
    v["to"] = json!(to.to_string());
    Ok(Json(v))
}

/// `GET /api/v1/reports/campaigns?from=&to=`: the numbers of every campaign with messages sent in the range, by
/// `campaign_id` (`name` when known), with per-variant numbers of A/B tests.
pub async fn campaigns(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let Ctx { ws, from, to, windows, .. } = context(&app, &headers, &q).await?;
    let list = read(&app, move |r| campaign_reports(r, ws, from, to, windows)).await?;
    let items: Vec<Value> = list
        .iter()
        .map(|c| {
            let mut o = serde_json::Map::new();
            o.insert("campaign_id".into(), json!(c.campaign_id));
            o.insert("name".into(), json!(c.name));
            o.extend(numbers(&c.totals));
            let variants: serde_json::Map<String, Value> =
                c.variants.iter().map(|(k, n)| (k.clone(), Value::Object(numbers(n)))).collect();
            o.insert("variants".into(), Value::Object(variants));
            Value::Object(o)
        })
        .collect();
    Ok(Json(json!({"from": from.to_string(), "to": to.to_string(), "items": items, "next_cursor": null})))
}

fn attribution_json(a: &Attributed) -> Value {
    let (o, t) = (&a.order, &a.touch);
    json!({
        "order_id": o.order_id, "contact_id": o.contact.0, "revenue": money(o.amount),
        "ordered_at": o.at.to_string(), "message_id": t.message_id, "flow_id": t.flow_id, "step_id": t.step_id,
        "campaign_id": t.campaign_id, "channel": t.channel, "touch": t.kind.as_str(), "touched_at": t.at.to_string(),
    })
}

/// `GET /api/v1/reports/attribution?from=&to=&limit=&cursor=`: attributed orders of the range, newest first.
/// `touch` is `open`, `click`, or `sent` (an SMS, whose receipt is the touch).
pub async fn attribution(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let n = limit(&q)?;
    let after = match q.get("cursor") {
        None => None,
        Some(c) => Some(
            c.split_once('_')
                .and_then(|(a, b)| Some((a.parse::<i64>().ok()?, b.parse::<i64>().ok()?)))
                .ok_or_else(|| ApiError::bad_request("invalid_cursor", "cursor", "cursor is not valid"))?,
        ),
    };
    let Ctx { ws, from, to, windows, .. } = context(&app, &headers, &q).await?;
    let mut list = read(&app, move |r| {
        let orders = kairos_analytics::orders(&r.order_rows(ws, from, to)?);
        let touches = touches(r, ws, &orders, windows)?;
        Ok(kairos_analytics::attribute_orders(orders, &touches, windows))
    })
    .await?;
    list.sort_by_key(|a| std::cmp::Reverse((a.order.at, a.order.seq)));
    let mut page: Vec<&Attributed> = list
        .iter()
        .filter(|a| after.is_none_or(|key| (a.order.at.as_micros(), a.order.seq) < key))
        .take(n + 1)
        .collect();
    let next = if page.len() > n {
        page.truncate(n);
        page.last().map(|a| format!("{}_{}", a.order.at.as_micros(), a.order.seq))
    } else {
        None
    };
    let items: Vec<Value> = page.into_iter().map(attribution_json).collect();
    Ok(Json(json!({"from": from.to_string(), "to": to.to_string(), "items": items, "next_cursor": next})))
}

// The rows of each report, from the read side; the numbers are computed by `kairos_analytics`.

/// The touches that can earn `orders`: those of their buyers, from the longest window before the first order.
fn touches(r: &dyn Reads, ws: WorkspaceId, orders: &[Order], windows: Windows) -> kairos_store::Result<Vec<Touch>> {
    let Some((from, to)) = kairos_analytics::touch_range(orders, windows) else { return Ok(Vec::new()) };
    let buyers: HashSet<ContactId> = orders.iter().map(|o| o.contact).collect();
    let mut rows = Vec::new();
    for (name, sms_only) in kairos_analytics::TOUCH_EVENTS {
        rows.extend(r.message_event_rows(ws, name, from, to, sms_only)?);
    }
    Ok(kairos_analytics::touches(&rows, Some(&buyers)))
}

fn kpi_rows(
    r: &dyn Reads,
    ws: WorkspaceId,
    from: Timestamp,
    to: Timestamp,
    windows: Windows,
) -> kairos_store::Result<kairos_analytics::KpiRows> {
    let orders = kairos_analytics::orders(&r.order_rows(ws, from, kairos_analytics::order_horizon(to))?);
    let in_range: Vec<Order> = orders.iter().filter(|o| o.at < to).cloned().collect();
    let buyers: Vec<ContactId> = in_range.iter().map(|o| o.contact).collect();
    let mut carts = Vec::new();
    for name in kairos_analytics::CART_EVENTS {
        carts.extend(r.event_times(ws, name, from, to)?);
    }
    Ok(kairos_analytics::KpiRows {
        touches: touches(r, ws, &in_range, windows)?,
        first_orders: r.first_orders(&buyers)?,
        orders,
        active: r.active_contacts(ws, from, to)?,
        carts,
        consent: r.consent_changes(ws, from, to)?,
        flows: r.flows(ws)?,
    })
}

/// What happened to the messages `rows` since `from`: their reactions and the orders they earned.
fn message_facts(
    r: &dyn Reads,
    ws: WorkspaceId,
    from: Timestamp,
    rows: &[kairos_store::reports::MessageRow],
    windows: Windows,
) -> kairos_store::Result<kairos_analytics::MessageFacts> {
    if rows.is_empty() {
        return Ok(kairos_analytics::message_facts(rows, &[], &[]));
    }
    let end = Timestamp::from_micros(i64::MAX);
    let mut reactions = Vec::new();
    for name in kairos_analytics::REACTION_EVENTS {
        reactions.extend(r.message_event_rows(ws, name, from, end, false)?);
    }
    let orders = kairos_analytics::orders(&r.order_rows(ws, from, end)?);
    let touches = touches(r, ws, &orders, windows)?;
    let attributed = kairos_analytics::attribute_orders(orders, &touches, windows);
    Ok(kairos_analytics::message_facts(rows, &reactions, &attributed))
}

fn flow_reports(
    r: &dyn Reads,
    ws: WorkspaceId,
    from: Timestamp,
    to: Timestamp,
    windows: Windows,
    flow: Option<&str>,
) -> kairos_store::Result<Vec<kairos_analytics::FlowReport>> {
    let flows = r.flows(ws)?;
    let rows = r.message_rows(ws, from, to, &Cohort::Flows(flow.map(str::to_string)))?;
    let facts = message_facts(r, ws, from, &rows, windows)?;
    Ok(kairos_analytics::flow_reports(&flows, &rows, &facts, flow))
}

fn campaign_reports(
    r: &dyn Reads,
    ws: WorkspaceId,
    from: Timestamp,
    to: Timestamp,
    windows: Windows,
) -> kairos_store::Result<Vec<kairos_analytics::CampaignReport>> {
    let rows = r.message_rows(ws, from, to, &Cohort::Campaigns)?;
    let facts = message_facts(r, ws, from, &rows, windows)?;
    let names: HashMap<String, String> = r.campaigns(ws)?.into_iter().map(|c| (c.public_id, c.name)).collect();
    Ok(kairos_analytics::campaign_reports(&rows, &facts, &names))
}

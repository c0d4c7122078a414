//! `/api/v1/reports/...`: attribution, per-flow/step/campaign numbers and store KPIs (SPEC 10).
//!
//! Every report covers a half-open range `[from, to)` given as ISO-8601 (`from=2030-03-01` is midnight UTC):
//! by default the 30 days up to now on the engine clock. Amounts are in major units of the store currency
//! (`120.5`); rates are fractions from 0 to 1, rounded to four decimals. The definitions of each number are on
//! the store side ([`kairos_store::reports`]).
//!
//! Attribution (SPEC 10): an `Order Completed` is credited to the contact's latest touch before it that lies
//! within its channel's window (`attribution_window` setting; default 5 days for email, 1 day for SMS): a human
//! email open or click, a click on a tracked SMS link, or an SMS that was sent. Opens and clicks flagged as
//! machine (`"machine": true`: scanners, privacy proxies, within 2 s of sending) never count. Last touch wins
//! across channels.

use std::collections::{BTreeMap, HashMap, HashSet};

use axum::extract::{Path, State};
use kairos_analytics::{
    Attributed, CampaignReport, FlowReport, MessageNumbers, Order, SERIES_DAYS_MAX, Touch, Windows,
};
use kairos_domain::{ContactId, Duration, Money, Timestamp, WorkspaceId};
use kairos_store::Reads;
use kairos_store::reports::Cohort;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::api::{QueryParams, limit, read_log};
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::wire::Reply;

/// The range of a report (and, for attribution, its page).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// ISO-8601 date or date-time (a date is midnight UTC); default 30 days before `to`.
    pub from: Option<String>,
    /// Default now; at most 366 days after `from`.
    pub to: Option<String>,
    /// Attribution only: page size, 1 to 1000 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// Attribution only.
    pub cursor: Option<String>,
}

/// The default report range: the last 30 days.
const DEFAULT_DAYS: i64 = 30;

/// `from` / `to` of the query: ISO-8601 instants (a bare date is midnight UTC), `from` before `to`, at most
/// [`SERIES_DAYS_MAX`] days apart. Missing `to` is now; missing `from` is 30 days before `to`.
pub(crate) fn range(q: &ReportQuery, now: Timestamp) -> Result<(Timestamp, Timestamp), ApiError> {
    let parse = |field: &str, value: &Option<String>| -> Result<Option<Timestamp>, ApiError> {
        match value {
            None => Ok(None),
            // An unencoded `+02:00` offset arrives as a space after query decoding.
            Some(s) => Timestamp::parse(&s.trim().replace(' ', "+")).map(Some).ok_or_else(|| {
                ApiError::invalid_value(
                    field,
                    format!("{field} must be an ISO-8601 date or date-time, like 2030-03-01 or 2030-03-01T00:00:00Z"),
                )
            }),
        }
    };
    let to = parse("to", &q.to)?.unwrap_or(now);
    let from = parse("from", &q.from)?.unwrap_or_else(|| to.saturating_sub(Duration::from_secs(DEFAULT_DAYS * 86_400)));
    if from >= to {
        return Err(ApiError::invalid_value("from", "from must be before to"));
    }
    if to.as_micros() - from.as_micros() > SERIES_DAYS_MAX as i64 * 86_400_000_000 {
        return Err(ApiError::invalid_value("from", format!("a report covers at most {SERIES_DAYS_MAX} days")));
    }
    Ok((from, to))
}

/// The requested range, the attribution windows and the time zone from its settings.
pub(crate) struct Ctx {
    pub(crate) from: Timestamp,
    pub(crate) to: Timestamp,
    pub(crate) now: Timestamp,
    pub(crate) windows: Windows,
    pub(crate) timezone: String,
}

pub(crate) async fn context(app: &AppState, ws: WorkspaceId, q: &ReportQuery) -> Result<Ctx, ApiError> {
    let now = app.engine.clock().now();
    let (from, to) = range(q, now)?;
    let settings = app.engine.settings(ws).await?.settings;
    let windows = Windows { email: settings.attribution_email, sms: settings.attribution_sms };
    let timezone = settings.timezone;
    Ok(Ctx { from, to, now, windows, timezone })
}

pub(crate) fn rate(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

pub(crate) fn money(m: Money) -> f64 {
    m.as_major()
}

/// The numbers of a flow, a step, a campaign or a variant, for messages sent in the range (their opens, clicks
/// and conversions counted whenever they happened).
#[derive(Debug, Serialize, ToSchema)]
pub struct Numbers {
    pub recipients: u64,
    pub sent: u64,
    pub delivered: u64,
    pub opened: u64,
    pub clicked: u64,
    /// Human opens / delivered.
    pub open_rate: f64,
    pub click_rate: f64,
    pub unsubscribed: u64,
    pub bounced: u64,
    pub complained: u64,
    /// Attributed orders.
    pub conversions: u64,
    pub revenue: f64,
    pub revenue_per_recipient: f64,
}

impl From<&MessageNumbers> for Numbers {
    fn from(n: &MessageNumbers) -> Self {
        Numbers {
            recipients: n.recipients,
            sent: n.sent,
            delivered: n.delivered,
            opened: n.opened,
            clicked: n.clicked,
            open_rate: rate(n.open_rate()),
            click_rate: rate(n.click_rate()),
            unsubscribed: n.unsubscribed,
            bounced: n.bounced,
            complained: n.complained,
            conversions: n.conversions,
            revenue: money(n.revenue),
            revenue_per_recipient: money(n.revenue_per_recipient()),
        }
    }
}

/// The range a report covers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Range {
    #[schema(format = DateTime)]
    pub from: String,
    #[schema(format = DateTime)]
    pub to: String,
}

impl Range {
    pub(crate) fn new(from: Timestamp, to: Timestamp) -> Self {
        Range { from: from.to_string(), to: to.to_string() }
    }
}

/// A report's items with its range (one page, except attribution).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportPage<T> {
    #[serde(flatten)]
    pub range: Range,
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A flow's numbers, and each step's.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowNumbers {
    pub flow_id: String,
    pub name: Option<String>,
    #[serde(flatten)]
    pub totals: Numbers,
    pub steps: BTreeMap<String, Numbers>,
}

impl From<&FlowReport> for FlowNumbers {
    fn from(f: &FlowReport) -> Self {
        FlowNumbers {
            flow_id: f.flow_id.clone(),
            name: f.name.clone(),
            totals: Numbers::from(&f.totals),
            steps: f.steps.iter().map(|(k, n)| (k.clone(), Numbers::from(n))).collect(),
        }
    }
}

/// One flow's report: a `/reports/flows` item with the range.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowReportBody {
    #[serde(flatten)]
    pub range: Range,
    #[serde(flatten)]
    pub flow: FlowNumbers,
    /// Per day of the range: first opens and clicks, and attributed orders, of the flow's messages.
    pub series: Vec<ActivityNumbers>,
}

/// A campaign's numbers, and each A/B variant's.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignNumbers {
    pub campaign_id: String,
    pub name: Option<String>,
    #[serde(flatten)]
    pub totals: Numbers,
    pub variants: BTreeMap<String, Numbers>,
}

impl From<&CampaignReport> for CampaignNumbers {
    fn from(c: &CampaignReport) -> Self {
        CampaignNumbers {
            campaign_id: c.campaign_id.clone(),
            name: c.name.clone(),
            totals: Numbers::from(&c.totals),
            variants: c.variants.iter().map(|(k, n)| (k.clone(), Numbers::from(n))).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListGrowth {
    pub subscribed: u64,
    pub unsubscribed: u64,
    pub net: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DayNumbers {
    #[schema(format = Date)]
    pub date: String,
    pub revenue: f64,
    pub orders: u64,
    /// The day was still running when the range ended: its numbers are "so far", not a dip.
    pub partial: bool,
}

/// What a flow's or campaign's messages earned on one day (workspace time zone).
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityNumbers {
    #[schema(format = Date)]
    pub date: String,
    /// Messages first opened by a person that day.
    pub opened: u64,
    /// Messages first clicked by a person that day.
    pub clicked: u64,
    /// Attributed orders placed that day.
    pub conversions: u64,
    pub revenue: f64,
    /// The day was still running when the range ended.
    pub partial: bool,
}

impl From<&kairos_analytics::ActivityDay> for ActivityNumbers {
    fn from(d: &kairos_analytics::ActivityDay) -> Self {
        ActivityNumbers {
            date: d.date.clone(),
            opened: d.opened,
            clicked: d.clicked,
            conversions: d.conversions,
            revenue: money(d.revenue),
            partial: d.partial,
        }
    }
}

/// Store KPIs (definitions in `kairos_store::reports`).
#[derive(Debug, Serialize, ToSchema)]
pub struct KpisBody {
    #[serde(flatten)]
    pub range: Range,
    pub revenue: f64,
    pub orders: u64,
    /// Average order value.
    pub aov: f64,
    pub conversion_rate: f64,
    pub cart_abandonment_rate: f64,
    /// Revenue of orders attributed to abandoned-cart flows.
    pub recovered_revenue: f64,
    pub repeat_purchase_rate: f64,
    pub list_growth: ListGrowth,
    pub attributed_revenue: f64,
    /// Orders of the range attributed to a message (last touch within the window).
    pub attributed_orders: u64,
    /// People sent at least one flow or campaign message in the range.
    pub message_recipients: u64,
    /// Attributed revenue / message recipients.
    pub revenue_per_recipient: f64,
    /// One point per day in the workspace's time zone.
    pub series: Vec<DayNumbers>,
}

/// An order and the touch it is attributed to.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttributedOrder {
    pub order_id: Option<String>,
    pub contact_id: i64,
    pub revenue: f64,
    #[schema(format = DateTime)]
    pub ordered_at: String,
    pub message_id: Option<String>,
    pub flow_id: Option<String>,
    pub step_id: Option<String>,
    pub campaign_id: Option<String>,
    pub channel: String,
    /// `open`, `click` or `sent` (an SMS, whose receipt is the touch).
    pub touch: &'static str,
    #[schema(format = DateTime)]
    pub touched_at: String,
}

impl From<&Attributed> for AttributedOrder {
    fn from(a: &Attributed) -> Self {
        let (o, t) = (&a.order, &a.touch);
        AttributedOrder {
            order_id: o.order_id.clone(),
            contact_id: o.contact.0,
            revenue: money(o.amount),
            ordered_at: o.at.to_string(),
            message_id: t.message_id.clone(),
            flow_id: t.flow_id.clone(),
            step_id: t.step_id.clone(),
            campaign_id: t.campaign_id.clone(),
            channel: t.channel.clone(),
            touch: t.kind.as_str(),
            touched_at: t.at.to_string(),
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/reports/kpis",
    operation_id = "reports_kpis",
    tag = "reports",
    params(ReportQuery),
    responses(
        (status = 200, description = "Store KPIs over the range", body = KpisBody),
        (status = 400, description = "A bad range", body = ErrorBody)
    )
)]
pub async fn kpis(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    QueryParams(q): QueryParams<ReportQuery>,
) -> Result<Reply<KpisBody>, ApiError> {
    let c = context(&app, ws, &q).await?;
    let Ctx { from, to, now, windows, timezone } = c;
    let mut rows = read_log(&app, move |r| kpi_rows(r, ws, from, to, windows)).await?;
    // New or returning: a buyer's first order is on its row, which may wait for a later commit like the rest of
    // what its events changed (`Engine::settle_contacts`): the buyers' rows are written first, those that wait.
    let mut buyers: Vec<ContactId> = rows.orders.iter().filter(|o| o.at < to).map(|o| o.contact).collect();
    buyers.sort_unstable();
    buyers.dedup();
    app.engine.settle_contacts(ws, buyers.clone()).await?;
    rows.first_orders = read_log(&app, move |r| r.first_orders(&buyers)).await?;
    let k = kairos_analytics::kpis(rows, from, to, now, windows, &timezone);
    let series = k.series.iter().map(|p| DayNumbers {
        date: p.date.clone(),
        revenue: money(p.revenue),
        orders: p.orders,
        partial: p.partial,
    });
    Ok(Reply(KpisBody {
        range: Range::new(from, to),
        revenue: money(k.revenue),
        orders: k.orders,
        aov: money(k.aov),
        conversion_rate: rate(k.conversion_rate),
        cart_abandonment_rate: rate(k.cart_abandonment_rate),
        recovered_revenue: money(k.recovered_revenue),
        repeat_purchase_rate: rate(k.repeat_purchase_rate),
        list_growth: ListGrowth {
            subscribed: k.subscribed,
            unsubscribed: k.unsubscribed,
            net: k.subscribed as i64 - k.unsubscribed as i64,
        },
        attributed_revenue: money(k.attributed_revenue),
        attributed_orders: k.attributed_orders,
        message_recipients: k.recipients,
        revenue_per_recipient: money(k.revenue_per_recipient),
        series: series.collect(),
    }))
}

/// Every flow with its numbers and per-step numbers, for messages sent in the range (their opens, clicks and
/// conversions counted whenever they happened).
#[utoipa::path(
    get,
    path = "/api/v1/reports/flows",
    operation_id = "reports_flows",
    tag = "reports",
    params(ReportQuery),
    responses(
        (status = 200, description = "Every flow's numbers", body = ReportPage<FlowNumbers>),
        (status = 400, description = "A bad range", body = ErrorBody)
    )
)]
pub async fn flows(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    QueryParams(q): QueryParams<ReportQuery>,
) -> Result<Reply<ReportPage<FlowNumbers>>, ApiError> {
    let Ctx { from, to, windows, .. } = context(&app, ws, &q).await?;
    let list = read_log(&app, move |r| flow_reports(r, ws, from, to, windows, None)).await?;
    let items = list.iter().map(FlowNumbers::from).collect();
    Ok(Reply(ReportPage { range: Range::new(from, to), items, next_cursor: None }))
}

/// One flow, in the shape of a `/reports/flows` item.
#[utoipa::path(
    get,
    path = "/api/v1/reports/flows/{id}",
    operation_id = "reports_flow",
    tag = "reports",
    params(("id" = String, Path, description = "The flow's id"), ReportQuery),
    responses(
        (status = 200, description = "The flow's numbers", body = FlowReportBody),
        (status = 400, description = "A bad range", body = ErrorBody),
        (status = 404, description = "No such flow in the workspace", body = ErrorBody)
    )
)]
pub async fn flow(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<ReportQuery>,
) -> Result<Reply<FlowReportBody>, ApiError> {
    let Ctx { from, to, windows, timezone, .. } = context(&app, ws, &q).await?;
    let key = id.clone();
    let found = read_log(&app, move |r| {
        // Only flows of the caller's workspace: another workspace's id is not found.
        let flows = r.flows(ws)?;
        if !flows.iter().any(|f| f.public_id == key) {
            return Ok(None);
        }
        let rows = r.message_rows(ws, from, to, &Cohort::Flows(Some(key.clone())))?;
        let o = outcomes(r, ws, from, &rows, windows)?;
        let facts = kairos_analytics::message_facts(&rows, &o.reactions, &o.attributed);
        let report = kairos_analytics::flow_reports(&flows, &rows, &facts, Some(&key));
        let series = kairos_analytics::activity_series(&rows, &o.reactions, &o.attributed, from, to, &timezone);
        Ok(report.into_iter().next().map(|f| (f, series)))
    })
    .await?;
    let (f, series) = found.ok_or_else(|| ApiError::not_found(format!("flow {id:?} not found")))?;
    let series = series.iter().map(ActivityNumbers::from).collect();
    Ok(Reply(FlowReportBody { range: Range::new(from, to), flow: FlowNumbers::from(&f), series }))
}

/// The numbers of every campaign with messages sent in the range, by `campaign_id` (`name` when known), with
/// per-variant numbers of A/B tests.
#[utoipa::path(
    get,
    path = "/api/v1/reports/campaigns",
    operation_id = "reports_campaigns",
    tag = "reports",
    params(ReportQuery),
    responses(
        (status = 200, description = "Every campaign's numbers", body = ReportPage<CampaignNumbers>),
        (status = 400, description = "A bad range", body = ErrorBody)
    )
)]
pub async fn campaigns(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    QueryParams(q): QueryParams<ReportQuery>,
) -> Result<Reply<ReportPage<CampaignNumbers>>, ApiError> {
    let Ctx { from, to, windows, .. } = context(&app, ws, &q).await?;
    let list = read_log(&app, move |r| campaign_reports(r, ws, from, to, windows)).await?;
    let items = list.iter().map(CampaignNumbers::from).collect();
    Ok(Reply(ReportPage { range: Range::new(from, to), items, next_cursor: None }))
}

/// Attributed orders of the range, newest first, page by page.
#[utoipa::path(
    get,
    path = "/api/v1/reports/attribution",
    operation_id = "reports_attribution",
    tag = "reports",
    params(ReportQuery),
    responses(
        (status = 200, description = "Attributed orders", body = ReportPage<AttributedOrder>),
        (status = 400, description = "A bad range, limit or cursor", body = ErrorBody)
    )
)]
pub async fn attribution(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    QueryParams(q): QueryParams<ReportQuery>,
) -> Result<Reply<ReportPage<AttributedOrder>>, ApiError> {
    let n = limit(&q.limit)?;
    let after = match &q.cursor {
        None => None,
        Some(c) => Some(
            c.split_once('_')
                .and_then(|(a, b)| Some((a.parse::<i64>().ok()?, b.parse::<i64>().ok()?)))
                .ok_or_else(|| ApiError::field(ErrorCode::InvalidCursor, "cursor", "cursor is not valid"))?,
        ),
    };
    let Ctx { from, to, windows, .. } = context(&app, ws, &q).await?;
    let mut list = read_log(&app, move |r| {
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
    let items = page.into_iter().map(AttributedOrder::from).collect();
    Ok(Reply(ReportPage { range: Range::new(from, to), items, next_cursor: next }))
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
    let mut carts = Vec::new();
    for name in kairos_analytics::CART_EVENTS {
        carts.extend(r.event_times(ws, name, from, to)?);
    }
    Ok(kairos_analytics::KpiRows {
        touches: touches(r, ws, &in_range, windows)?,
        // Read once the buyers' rows are written (`kpis`).
        first_orders: Vec::new(),
        orders,
        active: r.active_contacts(ws, from, to)?,
        carts,
        consent: r.consent_changes(ws, from, to)?,
        flows: r.flows(ws)?,
        recipients: {
            let mut rows = r.message_rows(ws, from, to, &Cohort::Flows(None))?;
            rows.extend(r.message_rows(ws, from, to, &Cohort::Campaigns)?);
            kairos_analytics::recipients(&rows)
        },
    })
}

/// What happened since `from` to the messages of a report: the reaction events about them and the attributed
/// orders (both empty without messages).
pub(crate) struct Outcomes {
    pub(crate) reactions: Vec<kairos_store::reports::MessageEventRow>,
    pub(crate) attributed: Vec<Attributed>,
}

pub(crate) fn outcomes(
    r: &dyn Reads,
    ws: WorkspaceId,
    from: Timestamp,
    rows: &[kairos_store::reports::MessageRow],
    windows: Windows,
) -> kairos_store::Result<Outcomes> {
    if rows.is_empty() {
        return Ok(Outcomes { reactions: Vec::new(), attributed: Vec::new() });
    }
    let end = Timestamp::from_micros(i64::MAX);
    let mut reactions = Vec::new();
    for name in kairos_analytics::REACTION_EVENTS {
        reactions.extend(r.message_event_rows(ws, name, from, end, false)?);
    }
    let orders = kairos_analytics::orders(&r.order_rows(ws, from, end)?);
    let touches = touches(r, ws, &orders, windows)?;
    let attributed = kairos_analytics::attribute_orders(orders, &touches, windows);
    Ok(Outcomes { reactions, attributed })
}

/// What happened to the messages `rows` since `from`: their reactions and the orders they earned.
pub(crate) fn message_facts(
    r: &dyn Reads,
    ws: WorkspaceId,
    from: Timestamp,
    rows: &[kairos_store::reports::MessageRow],
    windows: Windows,
) -> kairos_store::Result<kairos_analytics::MessageFacts> {
    let o = outcomes(r, ws, from, rows, windows)?;
    Ok(kairos_analytics::message_facts(rows, &o.reactions, &o.attributed))
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

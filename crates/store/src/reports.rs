//! Report queries (SPEC 10): attribution of orders to the messages that led to them, message numbers per flow,
//! step and campaign, and store KPIs over a date range.
//!
//! The SQL only selects rows; the numbers are computed here. Reads stay proportional to the range:
//! - events are read per name through `events_by_name (workspace_id, name, seq)`, from the first sequence received
//!   shortly before the range starts. Sequence order is receive order (one committer assigns both), and an event's
//!   timestamp is never more than a day after its receive time (`kairos_domain::event::FUTURE_SKEW_MAX`), so no
//!   event of the range lies before that sequence;
//! - messages likewise from the first row created shortly before the range (rows are inserted in creation order).
//!
//! Only the list-growth figure reads every contact of the workspace: consent changes are kept on the profile
//! (status and time of the latest change per channel), not as events.
//!
//! Amounts are integer cents ([`Money`]); instants are microseconds; ranges are half-open `[from, to)`.

use std::collections::{BTreeMap, HashMap, HashSet};

use kairos_domain::{ContactId, Duration, JsonMap, Money, Timestamp, WorkspaceId};
use rusqlite::{OptionalExtension, params};
use serde::Deserialize;

use crate::sqlite::SqliteReader;
use crate::{Reader, Result, StoreError};

/// The order event (Segment's e-commerce spec) whose amount is revenue.
pub const ORDER_EVENT: &str = "Order Completed";
/// Cart events whose contacts may abandon the cart.
pub const CART_EVENTS: [&str; 2] = ["Checkout Started", "Product Added"];
/// An order this long after a cart event means the cart was not abandoned.
pub const CART_RECOVERY: Duration = Duration::from_secs(86_400);
/// Longest span of a daily series.
pub const SERIES_DAYS_MAX: usize = 3_660;

/// How far an event's timestamp may lie after its receive time (the ingestion clamp), plus a margin for
/// receive times that are not strictly increasing with the sequence (concurrent requests, clock steps).
const RECEIVE_SLACK: Duration = Duration::from_secs(86_400 + 3_600);
/// Margin for message rows whose creation times are not strictly increasing with their row ids.
const CREATE_SLACK: Duration = Duration::from_secs(3_600);

/// Attribution windows per channel (workspace setting `attribution_window`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    pub email: Duration,
    pub sms: Duration,
}

impl Default for Windows {
    /// SPEC 10: five days for email, one day for SMS.
    fn default() -> Self {
        Windows { email: Duration::from_secs(5 * 86_400), sms: Duration::from_secs(86_400) }
    }
}

impl Windows {
    /// The window of a touch on `channel`: SMS has its own, every other channel uses the email window.
    pub fn of(&self, channel: &str) -> Duration {
        if channel == "sms" { self.sms } else { self.email }
    }
    fn longest(&self) -> Duration {
        self.email.max(self.sms)
    }
}

/// What a contact did with a message that can earn it an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TouchKind {
    /// A human (not machine) `Email Opened`.
    Open,
    /// A human `Email Clicked` (an email link, or a tracked link in an SMS).
    Click,
    /// An SMS that was sent (`Message Sent` with channel `sms`): SMS has no opens, receiving it is the touch.
    Sent,
}

impl TouchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TouchKind::Open => "open",
            TouchKind::Click => "click",
            TouchKind::Sent => "sent",
        }
    }
}

/// One `Order Completed`.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub seq: i64,
    pub contact: ContactId,
    pub at: Timestamp,
    /// `total`, else `revenue`, else `value`, else the products' sum: the amount the profile aggregates use.
    pub amount: Money,
    /// `properties.order_id` as text.
    pub order_id: Option<String>,
}

/// One touch: an open, a click or an SMS send, with the message it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Touch {
    pub seq: i64,
    pub contact: ContactId,
    pub at: Timestamp,
    pub kind: TouchKind,
    pub channel: String,
    pub message_id: Option<String>,
    pub flow_id: Option<String>,
    pub step_id: Option<String>,
    pub campaign_id: Option<String>,
}

/// An order with the touch that earned it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attributed {
    pub order: Order,
    pub touch: Touch,
}

/// Message numbers of a flow, a step or a campaign (SPEC 10).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageNumbers {
    /// Distinct contacts with at least one sent message.
    pub recipients: u64,
    /// Messages handed to a transport (or captured): status history reached `sent`, or a bounce.
    pub sent: u64,
    /// Sent messages that did not bounce or fail afterwards.
    pub delivered: u64,
    /// Messages with at least one human open or click (a click proves the open; machine opens never count).
    pub opened: u64,
    /// Messages with at least one human click.
    pub clicked: u64,
    /// Messages whose recipient unsubscribed through them.
    pub unsubscribed: u64,
    /// Messages that bounced (hard or soft).
    pub bounced: u64,
    /// Messages marked as spam.
    pub complained: u64,
    /// Orders attributed to these messages (last touch, within the window).
    pub conversions: u64,
    /// Sum of the attributed orders.
    pub revenue: Money,
}

impl MessageNumbers {
    /// Opened / delivered (0 without deliveries).
    pub fn open_rate(&self) -> f64 {
        ratio(self.opened, self.delivered)
    }
    /// Clicked / delivered (0 without deliveries).
    pub fn click_rate(&self) -> f64 {
        ratio(self.clicked, self.delivered)
    }
    /// Revenue / recipients, rounded to the cent (0 without recipients).
    pub fn revenue_per_recipient(&self) -> Money {
        average(self.revenue, self.recipients)
    }
}

/// Numbers of one flow and of each of its steps.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowReport {
    pub flow_id: String,
    /// None for a flow id that messages carry but the flows table does not know.
    pub name: Option<String>,
    pub totals: MessageNumbers,
    /// By step id: every send step of the current definition, and any step that has messages.
    pub steps: BTreeMap<String, MessageNumbers>,
}

/// Numbers of one campaign and of each A/B variant (when its messages carry one).
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignReport {
    pub campaign_id: String,
    /// The campaign's name when a `campaigns` table knows it.
    pub name: Option<String>,
    pub totals: MessageNumbers,
    pub variants: BTreeMap<String, MessageNumbers>,
}

/// Revenue and orders of one local day.
#[derive(Debug, Clone, PartialEq)]
pub struct DayPoint {
    /// `YYYY-MM-DD` in the workspace's time zone.
    pub date: String,
    pub revenue: Money,
    pub orders: u64,
}

/// Store KPIs over `[from, to)`; see [`SqliteReader::report_kpis`] for the definitions.
#[derive(Debug, Clone, PartialEq)]
pub struct Kpis {
    pub revenue: Money,
    pub orders: u64,
    pub aov: Money,
    pub conversion_rate: f64,
    pub cart_abandonment_rate: f64,
    pub recovered_revenue: Money,
    pub repeat_purchase_rate: f64,
    pub subscribed: u64,
    pub unsubscribed: u64,
    pub attributed_revenue: Money,
    pub series: Vec<DayPoint>,
}

fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 { 0.0 } else { n as f64 / d as f64 }
}

/// `total / n` rounded half away from zero to the cent, in integers (as `Orders::average_value`).
fn average(total: Money, n: u64) -> Money {
    if n == 0 {
        return Money::ZERO;
    }
    let (t, n) = (i128::from(total.cents()), i128::from(n));
    Money::from_cents(((2 * t + n * t.signum()) / (2 * n)) as i64)
}

/// Properties of the events Kairos writes about messages (`Email Opened`, `Message Sent`, ...).
#[derive(Debug, Default, Deserialize)]
struct MessageProps {
    message_id: Option<String>,
    flow_id: Option<String>,
    step_id: Option<String>,
    campaign_id: Option<String>,
    channel: Option<String>,
    #[serde(default)]
    machine: bool,
}

fn props<T: serde::de::DeserializeOwned + Default>(raw: Option<String>) -> T {
    raw.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default()
}

/// The flow ids among the workspace's flows that recover carts: triggered by `Checkout Started` or
/// `Product Added`, or named like "abandon...".
fn recovery_flows(flows: &[crate::StoredFlow]) -> HashSet<String> {
    flows
        .iter()
        .filter(|f| {
            let def: serde_json::Value = serde_json::from_str(&f.definition).unwrap_or_default();
            let trigger = &def["trigger"];
            let by_event =
                trigger["type"] == "event" && trigger["event"].as_str().is_some_and(|e| CART_EVENTS.contains(&e));
            by_event || f.name.to_lowercase().contains("abandon")
        })
        .map(|f| f.public_id.clone())
        .collect()
}

/// For each order, the index in `touches` of the touch that earns it, if any: among the contact's touches at or
/// before the order that lie within their channel's window, the latest (by time, then log sequence). Last touch
/// wins across channels: a click yesterday beats an SMS last week even when both are within their windows.
pub fn attribute(orders: &[Order], touches: &[Touch], windows: Windows) -> Vec<Option<usize>> {
    let mut by_contact: HashMap<ContactId, Vec<usize>> = HashMap::new();
    for (i, t) in touches.iter().enumerate() {
        by_contact.entry(t.contact).or_default().push(i);
    }
    for list in by_contact.values_mut() {
        list.sort_by_key(|&i| (touches[i].at, touches[i].seq));
    }
    let longest = windows.longest().as_micros();
    orders
        .iter()
        .map(|o| {
            let list = by_contact.get(&o.contact)?;
            let end = list.partition_point(|&i| touches[i].at <= o.at);
            for &i in list[..end].iter().rev() {
                let t = &touches[i];
                let age = o.at.as_micros() - t.at.as_micros();
                if age > longest {
                    break;
                }
                if age <= windows.of(&t.channel).as_micros() {
                    return Some(i);
                }
            }
            None
        })
        .collect()
}

/// One message row with what the report needs.
struct MessageRow {
    id: String,
    contact: ContactId,
    flow_id: Option<String>,
    campaign_id: Option<String>,
    step_id: Option<String>,
    variant: Option<String>,
    /// The current status and every status of the history.
    statuses: Vec<String>,
}

#[derive(Deserialize)]
struct HistoryEntry {
    status: String,
}

/// What happened to one message.
#[derive(Debug, Default, Clone, Copy)]
struct Facts {
    sent: bool,
    delivered: bool,
    opened: bool,
    clicked: bool,
    unsubscribed: bool,
    bounced: bool,
    complained: bool,
}

const SENT_STATUSES: [&str; 9] =
    ["sent", "delivered", "opened", "clicked", "converted", "unsubscribed", "complained", "bounced", "soft_bounced"];

/// Sums of message facts; recipients are counted once per contact.
#[derive(Default)]
struct Acc {
    recipients: HashSet<ContactId>,
    n: MessageNumbers,
}

impl Acc {
    fn add(&mut self, contact: ContactId, f: Facts, conversions: u64, revenue: Money) {
        let n = &mut self.n;
        if f.sent {
            self.recipients.insert(contact);
            n.sent += 1;
        }
        n.delivered += u64::from(f.delivered);
        n.opened += u64::from(f.opened);
        n.clicked += u64::from(f.clicked);
        n.unsubscribed += u64::from(f.unsubscribed);
        n.bounced += u64::from(f.bounced);
        n.complained += u64::from(f.complained);
        n.conversions += conversions;
        n.revenue = n.revenue.saturating_add(revenue);
    }
    fn finish(self) -> MessageNumbers {
        MessageNumbers { recipients: self.recipients.len() as u64, ..self.n }
    }
}

/// Which messages a message report covers.
enum Cohort<'a> {
    Flows(Option<&'a str>),
    Campaigns,
}

impl SqliteReader<'_> {
    /// The first row id of `table` from which on `col` (a time growing with the row id) is at or after `at`.
    /// A binary search over the row id (the primary key): a few point reads, no scan.
    fn first_rowid_from(&self, table: &str, col: &str, at: Timestamp) -> Result<i64> {
        let (min, max): (Option<i64>, Option<i64>) =
            self.conn.query_row(&format!("SELECT MIN(rowid), MAX(rowid) FROM {table}"), [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        let (Some(mut lo), Some(max)) = (min, max) else { return Ok(0) };
        let mut hi = max + 1;
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT rowid, {col} FROM {table} WHERE rowid >= ?1 ORDER BY rowid LIMIT 1"))?;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let row: Option<(i64, i64)> = stmt.query_row([mid], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
            match row {
                Some((id, t)) if t < at.as_micros() => lo = id + 1,
                _ => hi = mid,
            }
        }
        Ok(lo)
    }

    /// The first event sequence that can hold an event timestamped at or after `at`.
    fn first_seq_for(&self, at: Timestamp) -> Result<i64> {
        self.first_rowid_from("events", "received_at", at.saturating_sub(RECEIVE_SLACK))
    }

    /// Events named `name` of the workspace with a timestamp in `[from, to)`: (seq, contact, ts, properties JSON).
    /// `sms_only` keeps those whose `properties.channel` is `sms`.
    fn named_events(
        &self,
        ws: WorkspaceId,
        name: &str,
        from: Timestamp,
        to: Timestamp,
        sms_only: bool,
        f: &mut dyn FnMut(i64, ContactId, Timestamp, Option<String>),
    ) -> Result<()> {
        let first = self.first_seq_for(from)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, contact_id, ts, json_extract(data, '$.properties') FROM events
             WHERE workspace_id = ?1 AND name = ?2 AND seq >= ?3 AND ts >= ?4 AND ts < ?5
                 AND (?6 = 0 OR json_extract(data, '$.properties.channel') = 'sms')
             ORDER BY seq",
        )?;
        let mut rows = stmt.query(params![ws.0, name, first, from.as_micros(), to.as_micros(), sms_only])?;
        while let Some(r) = rows.next()? {
            f(r.get(0)?, ContactId(r.get(1)?), Timestamp::from_micros(r.get(2)?), r.get(3)?);
        }
        Ok(())
    }

    /// `Order Completed` events timestamped in `[from, to)`, in log order.
    pub fn report_orders(&self, ws: WorkspaceId, from: Timestamp, to: Timestamp) -> Result<Vec<Order>> {
        let mut out = Vec::new();
        self.named_events(ws, ORDER_EVENT, from, to, false, &mut |seq, contact, at, raw| {
            let p: JsonMap = props(raw);
            let order_id = match p.get("order_id") {
                Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
                Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            out.push(Order { seq, contact, at, amount: kairos_domain::contact::order_amount(&p), order_id });
        })?;
        Ok(out)
    }

    /// Touches timestamped in `[from, to)`: human opens and clicks, and SMS sends. With `only`, just those of
    /// these contacts.
    pub fn report_touches(
        &self,
        ws: WorkspaceId,
        from: Timestamp,
        to: Timestamp,
        only: Option<&HashSet<ContactId>>,
    ) -> Result<Vec<Touch>> {
        let mut out = Vec::new();
        for (name, kind, sms_only) in [
            ("Email Opened", TouchKind::Open, false),
            ("Email Clicked", TouchKind::Click, false),
            ("Message Sent", TouchKind::Sent, true),
        ] {
            self.named_events(ws, name, from, to, sms_only, &mut |seq, contact, at, raw| {
                if only.is_some_and(|set| !set.contains(&contact)) {
                    return;
                }
                let p: MessageProps = props(raw);
                if p.machine {
                    return; // scanners and privacy proxies, not people
                }
                out.push(Touch {
                    seq,
                    contact,
                    at,
                    kind,
                    channel: p.channel.unwrap_or_else(|| "email".into()),
                    message_id: p.message_id,
                    flow_id: p.flow_id,
                    step_id: p.step_id,
                    campaign_id: p.campaign_id,
                });
            })?;
        }
        Ok(out)
    }

    /// Orders timestamped in `[from, to)` with the touch that earned each (see [`attribute`]); unattributed
    /// orders are left out. In log order.
    pub fn report_attribution(
        &self,
        ws: WorkspaceId,
        from: Timestamp,
        to: Timestamp,
        windows: Windows,
    ) -> Result<Vec<Attributed>> {
        let orders = self.report_orders(ws, from, to)?;
        self.attributed(ws, orders, windows)
    }

    fn attributed(&self, ws: WorkspaceId, orders: Vec<Order>, windows: Windows) -> Result<Vec<Attributed>> {
        let Some(first) = orders.iter().map(|o| o.at).min() else { return Ok(Vec::new()) };
        let last = orders.iter().map(|o| o.at).max().unwrap_or(first);
        let buyers: HashSet<ContactId> = orders.iter().map(|o| o.contact).collect();
        let touches = self.report_touches(
            ws,
            first.saturating_sub(windows.longest()),
            Timestamp::from_micros(last.as_micros().saturating_add(1)),
            Some(&buyers),
        )?;
        let picks = attribute(&orders, &touches, windows);
        Ok(orders
            .into_iter()
            .zip(picks)
            .filter_map(|(order, pick)| pick.map(|i| Attributed { order, touch: touches[i].clone() }))
            .collect())
    }

    /// Store KPIs over `[from, to)` (`now` decides which carts can still be recovered):
    /// - `revenue`, `orders`: sum and count of `Order Completed` timestamped in the range (amount: `total`, else
    ///   `revenue`, else `value`, else the products' sum, as the profile aggregates);
    /// - `aov`: revenue / orders, rounded to the cent;
    /// - `conversion_rate`: contacts with an order in the range / contacts with any event of their own (not one
    ///   Kairos wrote) in the range;
    /// - `cart_abandonment_rate`: among contacts whose last `Checkout Started` / `Product Added` in the range is
    ///   settled, those without an order within 24 h after it. A cart is settled once an order followed it within
    ///   24 h, or 24 h have passed by `now`; younger carts count in neither part;
    /// - `recovered_revenue`: attributed revenue whose touch belongs to a cart-recovery flow (triggered by
    ///   `Checkout Started` or `Product Added`, or with "abandon" in its name);
    /// - `repeat_purchase_rate`: among contacts with an order in the range, those with at least two orders by the
    ///   end of the range (two in the range, or an earlier first order on their profile);
    /// - `subscribed` / `unsubscribed`: channel consents (email and SMS, each counted) whose latest change is in the
    ///   range and is to subscribed / unsubscribed. Profiles keep the latest change per channel only, so a contact
    ///   who subscribed and unsubscribed within the range counts once, as unsubscribed;
    /// - `attributed_revenue`: revenue of the range's orders attributed to a message (see [`attribute`]);
    /// - `series`: revenue and orders per day of `timezone` (UTC when unknown), every day of the range.
    #[allow(clippy::too_many_arguments)]
    pub fn report_kpis(
        &self,
        ws: WorkspaceId,
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
        windows: Windows,
        timezone: &str,
        flows: &[crate::StoredFlow],
    ) -> Result<Kpis> {
        // Orders up to a day past the range also settle carts of the range's last day.
        let horizon = to.saturating_add(CART_RECOVERY).saturating_add(Duration(1));
        let all_orders = self.report_orders(ws, from, horizon)?;
        let orders: Vec<Order> = all_orders.iter().filter(|o| o.at < to).cloned().collect();
        let revenue = orders.iter().fold(Money::ZERO, |acc, o| acc.saturating_add(o.amount));
        let count = orders.len() as u64;

        // Conversion: buyers among active contacts.
        let buyers: HashSet<ContactId> = orders.iter().map(|o| o.contact).collect();
        let active = self.active_contacts(ws, from, to)?;
        let converted = buyers.iter().filter(|c| active.contains(c)).count() as u64;

        // Carts: each contact's last cart event in the range.
        let mut last_cart: HashMap<ContactId, Timestamp> = HashMap::new();
        for name in CART_EVENTS {
            self.named_events(ws, name, from, to, false, &mut |_, contact, at, _| {
                let e = last_cart.entry(contact).or_insert(at);
                *e = (*e).max(at);
            })?;
        }
        let mut order_times: HashMap<ContactId, Vec<Timestamp>> = HashMap::new();
        for o in &all_orders {
            order_times.entry(o.contact).or_default().push(o.at);
        }
        let (mut abandoned, mut settled) = (0u64, 0u64);
        for (contact, at) in &last_cart {
            let until = at.saturating_add(CART_RECOVERY);
            let ordered = order_times.get(contact).is_some_and(|ts| ts.iter().any(|t| *t >= *at && *t <= until));
            if ordered {
                settled += 1;
            } else if now >= until {
                settled += 1;
                abandoned += 1;
            }
        }

        // Attribution of the range's orders.
        let attributed = self.attributed(ws, orders.clone(), windows)?;
        let recovery = recovery_flows(flows);
        let mut attributed_revenue = Money::ZERO;
        let mut recovered_revenue = Money::ZERO;
        for a in &attributed {
            attributed_revenue = attributed_revenue.saturating_add(a.order.amount);
            if a.touch.flow_id.as_ref().is_some_and(|f| recovery.contains(f)) {
                recovered_revenue = recovered_revenue.saturating_add(a.order.amount);
            }
        }

        // Repeat purchases: two orders in the range, or a first order before it.
        let mut per_buyer: HashMap<ContactId, u64> = HashMap::new();
        for o in &orders {
            *per_buyer.entry(o.contact).or_default() += 1;
        }
        let mut repeat = 0u64;
        let mut first_order = self
            .conn
            .prepare_cached("SELECT json_extract(data, '$.computed.orders.first_at') FROM contacts WHERE id = ?1")?;
        for (contact, n) in &per_buyer {
            let first: Option<rusqlite::types::Value> = first_order.query_row([contact.0], |r| r.get(0)).optional()?;
            let earlier = matches!(first, Some(rusqlite::types::Value::Integer(t)) if t < from.as_micros());
            if *n >= 2 || earlier {
                repeat += 1;
            }
        }

        let (subscribed, unsubscribed) = self.consent_changes(ws, from, to)?;
        let series = daily_series(&orders, from, to, timezone);
        Ok(Kpis {
            revenue,
            orders: count,
            aov: average(revenue, count),
            conversion_rate: ratio(converted, active.len() as u64),
            cart_abandonment_rate: ratio(abandoned, settled),
            recovered_revenue,
            repeat_purchase_rate: ratio(repeat, per_buyer.len() as u64),
            subscribed,
            unsubscribed,
            attributed_revenue,
            series,
        })
    }

    /// Contacts with at least one event of their own (not written by Kairos) timestamped in `[from, to)`.
    fn active_contacts(&self, ws: WorkspaceId, from: Timestamp, to: Timestamp) -> Result<HashSet<ContactId>> {
        let first = self.first_seq_for(from)?;
        // NOT INDEXED: walk the log from `first` by sequence (the primary key) rather than every event of the
        // workspace through `events_by_name`.
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT contact_id FROM events NOT INDEXED
             WHERE seq >= ?1 AND workspace_id = ?2 AND ts >= ?3 AND ts < ?4 AND json_extract(data, '$.system') IS NULL",
        )?;
        let rows = stmt.query_map(params![first, ws.0, from.as_micros(), to.as_micros()], |r| r.get(0))?;
        rows.map(|r| r.map(ContactId).map_err(StoreError::from)).collect()
    }

    /// (subscribed, unsubscribed): channel consents whose latest change lies in `[from, to)`.
    fn consent_changes(&self, ws: WorkspaceId, from: Timestamp, to: Timestamp) -> Result<(u64, u64)> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT json_extract(data, '$.consent.email.status'), json_extract(data, '$.consent.email.updated_at'),
                    json_extract(data, '$.consent.sms.status'), json_extract(data, '$.consent.sms.updated_at')
             FROM contacts WHERE workspace_id = ?1 AND merged_into IS NULL",
        )?;
        let mut rows = stmt.query([ws.0])?;
        let (mut subscribed, mut unsubscribed) = (0u64, 0u64);
        let in_range = |v: rusqlite::types::Value| matches!(v, rusqlite::types::Value::Integer(t) if t >= from.as_micros() && t < to.as_micros());
        while let Some(r) = rows.next()? {
            for (status, at) in [(0, 1), (2, 3)] {
                let status: Option<String> = r.get::<_, rusqlite::types::Value>(status).ok().and_then(|v| match v {
                    rusqlite::types::Value::Text(s) => Some(s),
                    _ => None,
                });
                if !in_range(r.get(at)?) {
                    continue;
                }
                match status.as_deref() {
                    Some("subscribed") => subscribed += 1,
                    Some("unsubscribed") => unsubscribed += 1,
                    _ => {}
                }
            }
        }
        Ok((subscribed, unsubscribed))
    }

    /// Message rows created in `[from, to)` of the cohort (webhook calls are not messages to a person).
    fn cohort(&self, ws: WorkspaceId, from: Timestamp, to: Timestamp, which: &Cohort<'_>) -> Result<Vec<MessageRow>> {
        let first = self.first_rowid_from("messages", "created_at", from.saturating_sub(CREATE_SLACK))?;
        let (flows, flow, campaigns) = match which {
            Cohort::Flows(f) => (true, *f, false),
            Cohort::Campaigns => (false, None, true),
        };
        // NOT INDEXED: walk rows from `first` by row id instead of every message of the workspace.
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, contact_id, flow_id, campaign_id, step_id, status, json_extract(data, '$.history'),
                    json_extract(data, '$.variant')
             FROM messages NOT INDEXED
             WHERE rowid >= ?1 AND workspace_id = ?2 AND created_at >= ?3 AND created_at < ?4 AND channel != 'webhook'
                 AND (?5 = 0 OR flow_id IS NOT NULL) AND (?6 IS NULL OR flow_id = ?6)
                 AND (?7 = 0 OR campaign_id IS NOT NULL)",
        )?;
        let mut rows = stmt.query(params![first, ws.0, from.as_micros(), to.as_micros(), flows, flow, campaigns])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let status: String = r.get(5)?;
            let history: Vec<HistoryEntry> = props::<Option<Vec<HistoryEntry>>>(r.get(6)?).unwrap_or_default();
            let mut statuses: Vec<String> = history.into_iter().map(|h| h.status).collect();
            statuses.push(status);
            let variant = match r.get::<_, rusqlite::types::Value>(7)? {
                rusqlite::types::Value::Integer(n) => Some(n.to_string()),
                rusqlite::types::Value::Text(s) => Some(s),
                _ => None,
            };
            out.push(MessageRow {
                id: r.get(0)?,
                contact: ContactId(r.get(1)?),
                flow_id: r.get(2)?,
                campaign_id: r.get(3)?,
                step_id: r.get(4)?,
                variant,
                statuses,
            });
        }
        Ok(out)
    }

    /// What happened to each message of `rows` (events since `from`), and the orders their touches earned:
    /// message id -> (facts, conversions, revenue).
    fn message_facts(
        &self,
        ws: WorkspaceId,
        from: Timestamp,
        rows: &[MessageRow],
        windows: Windows,
    ) -> Result<HashMap<String, (Facts, u64, Money)>> {
        let mut out: HashMap<String, (Facts, u64, Money)> = HashMap::with_capacity(rows.len());
        for m in rows {
            let has = |s: &str| m.statuses.iter().any(|x| x == s);
            let sent = SENT_STATUSES.iter().any(|s| has(s));
            let bounced = has("bounced") || has("soft_bounced");
            let last = m.statuses.last().map(String::as_str).unwrap_or_default();
            let facts = Facts {
                sent,
                delivered: sent && !bounced && last != "failed",
                unsubscribed: has("unsubscribed"),
                bounced,
                complained: has("complained"),
                ..Facts::default()
            };
            out.insert(m.id.clone(), (facts, 0, Money::ZERO));
        }
        if out.is_empty() {
            return Ok(out);
        }
        let end = Timestamp::from_micros(i64::MAX);
        // Reactions recorded as events (the message's history may miss some, e.g. an unsubscribe after a bounce).
        for name in ["Email Opened", "Email Clicked", "Unsubscribed", "Email Bounced", "Email Marked as Spam"] {
            self.named_events(ws, name, from, end, false, &mut |_, _, _, raw| {
                let p: MessageProps = props(raw);
                let Some((f, _, _)) = p.message_id.and_then(|id| out.get_mut(&id)) else { return };
                match name {
                    "Email Opened" if !p.machine => f.opened = true,
                    "Email Clicked" if !p.machine => {
                        f.clicked = true;
                        f.opened = true; // a click proves the open (images off, privacy proxies)
                    }
                    "Unsubscribed" => f.unsubscribed = true,
                    "Email Bounced" => f.bounced = true,
                    "Email Marked as Spam" => f.complained = true,
                    _ => {}
                }
            })?;
        }
        // Conversions: orders from the cohort's start on, attributed by last touch; credited to cohort messages.
        let orders = self.report_orders(ws, from, end)?;
        for a in self.attributed(ws, orders, windows)? {
            if let Some((_, n, revenue)) = a.touch.message_id.as_ref().and_then(|id| out.get_mut(id)) {
                *n += 1;
                *revenue = revenue.saturating_add(a.order.amount);
            }
        }
        Ok(out)
    }

    /// Message numbers per flow and step for messages created in `[from, to)` (all flows of the workspace, or
    /// only `flow`). Reactions and orders are counted whenever they happened: a message sent on the range's last
    /// day keeps earning its opens, clicks and conversions. Flows are listed in creation order.
    pub fn report_flows(
        &self,
        ws: WorkspaceId,
        from: Timestamp,
        to: Timestamp,
        windows: Windows,
        flow: Option<&str>,
    ) -> Result<Vec<FlowReport>> {
        let flows = Reader::flows(self, ws)?;
        let rows = self.cohort(ws, from, to, &Cohort::Flows(flow))?;
        let facts = self.message_facts(ws, from, &rows, windows)?;
        let mut totals: HashMap<String, Acc> = HashMap::new();
        let mut steps: HashMap<String, BTreeMap<String, Acc>> = HashMap::new();
        for m in &rows {
            let (Some(flow_id), Some((f, n, revenue))) = (&m.flow_id, facts.get(&m.id)) else { continue };
            totals.entry(flow_id.clone()).or_default().add(m.contact, *f, *n, *revenue);
            if let Some(step) = &m.step_id {
                let acc = steps.entry(flow_id.clone()).or_default().entry(step.clone()).or_default();
                acc.add(m.contact, *f, *n, *revenue);
            }
        }
        let mut out = Vec::new();
        let mut known = HashSet::new();
        for f in flows.iter().filter(|f| flow.is_none_or(|id| id == f.public_id)) {
            known.insert(f.public_id.clone());
            let mut by_step: BTreeMap<String, MessageNumbers> =
                steps.remove(&f.public_id).unwrap_or_default().into_iter().map(|(k, a)| (k, a.finish())).collect();
            for step in send_steps(&f.definition) {
                by_step.entry(step).or_default();
            }
            out.push(FlowReport {
                flow_id: f.public_id.clone(),
                name: Some(f.name.clone()),
                totals: totals.remove(&f.public_id).map(Acc::finish).unwrap_or_default(),
                steps: by_step,
            });
        }
        // Messages of flows the table does not list (none today: flows are never deleted).
        let mut rest: Vec<(String, Acc)> = totals.into_iter().filter(|(id, _)| !known.contains(id)).collect();
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        for (id, acc) in rest {
            let by_step = steps.remove(&id).unwrap_or_default().into_iter().map(|(k, a)| (k, a.finish())).collect();
            out.push(FlowReport { flow_id: id, name: None, totals: acc.finish(), steps: by_step });
        }
        Ok(out)
    }

    /// Message numbers per campaign (and A/B variant) for messages created in `[from, to)`, by campaign id.
    /// Names come from the `campaigns` table when this database has one.
    pub fn report_campaigns(
        &self,
        ws: WorkspaceId,
        from: Timestamp,
        to: Timestamp,
        windows: Windows,
    ) -> Result<Vec<CampaignReport>> {
        let rows = self.cohort(ws, from, to, &Cohort::Campaigns)?;
        let facts = self.message_facts(ws, from, &rows, windows)?;
        let mut totals: BTreeMap<String, Acc> = BTreeMap::new();
        let mut variants: HashMap<String, BTreeMap<String, Acc>> = HashMap::new();
        for m in &rows {
            let (Some(id), Some((f, n, revenue))) = (&m.campaign_id, facts.get(&m.id)) else { continue };
            totals.entry(id.clone()).or_default().add(m.contact, *f, *n, *revenue);
            if let Some(v) = &m.variant {
                variants.entry(id.clone()).or_default().entry(v.clone()).or_default().add(m.contact, *f, *n, *revenue);
            }
        }
        let names = self.campaign_names(ws)?;
        Ok(totals
            .into_iter()
            .map(|(id, acc)| CampaignReport {
                name: names.get(&id).cloned(),
                variants: variants.remove(&id).unwrap_or_default().into_iter().map(|(k, a)| (k, a.finish())).collect(),
                totals: acc.finish(),
                campaign_id: id,
            })
            .collect())
    }

    /// Campaign names by public id, or nothing when this database has no `campaigns` table.
    fn campaign_names(&self, ws: WorkspaceId) -> Result<HashMap<String, String>> {
        let exists: Option<i64> = self
            .conn
            .query_row("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'campaigns'", [], |r| r.get(0))
            .optional()?;
        if exists.is_none() {
            return Ok(HashMap::new());
        }
        let mut stmt = self.conn.prepare("SELECT public_id, name FROM campaigns WHERE workspace_id = ?1")?;
        let rows = stmt.query_map([ws.0], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<HashMap<String, String>, _>>()?)
    }
}

/// Ids of the `send` steps of a flow definition (JSON text).
fn send_steps(definition: &str) -> Vec<String> {
    let def: serde_json::Value = serde_json::from_str(definition).unwrap_or_default();
    def["steps"]
        .as_array()
        .map(|steps| {
            steps.iter().filter(|s| s["type"] == "send").filter_map(|s| s["id"].as_str().map(str::to_string)).collect()
        })
        .unwrap_or_default()
}

/// Revenue and orders per local day of `timezone` (UTC when the zone is unknown), one point for every day of
/// `[from, to)` (at most [`SERIES_DAYS_MAX`]).
pub fn daily_series(orders: &[Order], from: Timestamp, to: Timestamp, timezone: &str) -> Vec<DayPoint> {
    let zone = if Timestamp::from_micros(0).to_jiff().in_tz(timezone).is_ok() { timezone } else { "UTC" };
    let day = |t: Timestamp| t.to_jiff().in_tz(zone).map(|z| z.date());
    let (Ok(first), Ok(last)) = (day(from), day(Timestamp::from_micros(to.as_micros().saturating_sub(1)))) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut d = first;
    while d <= last && out.len() < SERIES_DAYS_MAX {
        let date = d.to_string();
        index.insert(date.clone(), out.len());
        out.push(DayPoint { date, revenue: Money::ZERO, orders: 0 });
        match d.tomorrow() {
            Ok(next) => d = next,
            Err(_) => break,
        }
    }
    for o in orders {
        let Ok(date) = day(o.at) else { continue };
        if let Some(&i) = index.get(&date.to_string()) {
            out[i].revenue = out[i].revenue.saturating_add(o.amount);
            out[i].orders += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000_000;

    fn order(contact: i64, at_h: i64, cents: i64) -> Order {
        Order { seq: at_h, contact: ContactId(contact), at: Timestamp(at_h * H), amount: Money(cents), order_id: None }
    }

    fn touch(contact: i64, at_h: i64, kind: TouchKind, channel: &str, message: &str) -> Touch {
        Touch {
            seq: at_h,
            contact: ContactId(contact),
            at: Timestamp(at_h * H),
            kind,
            channel: channel.into(),
            message_id: Some(message.into()),
            flow_id: None,
            step_id: None,
            campaign_id: None,
        }
    }

    #[test]
    fn last_touch_within_its_channel_window_wins() {
        let w = Windows::default(); // email 5 d, sms 1 d
        let touches = vec![
            touch(1, 0, TouchKind::Open, "email", "m1"),
            touch(1, 10, TouchKind::Click, "email", "m2"),
            touch(1, 20, TouchKind::Sent, "sms", "s1"),
            touch(2, 0, TouchKind::Sent, "sms", "s2"),
            touch(3, 50, TouchKind::Click, "email", "late"),
        ];
        let orders = vec![
            order(1, 5, 100),   // only m1 before it
            order(1, 30, 100),  // sms 10 h ago beats the click 20 h ago
            order(1, 50, 100),  // sms is 30 h old (past 1 d): the click 40 h ago wins
            order(1, 200, 100), // everything older than 5 d
            order(2, 23, 100),  // sms within a day
            order(2, 25, 100),  // sms past a day
            order(3, 49, 100),  // the touch comes after the order
        ];
        let picks: Vec<Option<&str>> = attribute(&orders, &touches, w)
            .into_iter()
            .map(|p| p.map(|i| touches[i].message_id.as_deref().unwrap()))
            .collect();
        assert_eq!(picks, vec![Some("m1"), Some("s1"), Some("m2"), None, Some("s2"), None, None]);
        // Windows come from the settings.
        let short = Windows { email: Duration::from_secs(3_600), sms: Duration::from_secs(3_600) };
        let picks: Vec<Option<usize>> = attribute(&orders, &touches, short);
        assert!(picks.iter().all(Option::is_none), "{picks:?}");
    }

    #[test]
    fn money_averages_round_half_away_from_zero() {
        assert_eq!(average(Money(28_050), 4), Money(7_013));
        assert_eq!(average(Money(100), 3), Money(33));
        assert_eq!(average(Money(5), 0), Money::ZERO);
    }

    #[test]
    fn series_has_every_local_day() {
        let day = 24 * H;
        let from = Timestamp(0);
        let to = Timestamp(3 * day);
        let orders = vec![order(1, 1, 100), order(1, 2, 50), order(1, 49, 7)];
        let s = daily_series(&orders, from, to, "UTC");
        let got: Vec<(&str, i64, u64)> = s.iter().map(|p| (p.date.as_str(), p.revenue.cents(), p.orders)).collect();
        assert_eq!(got, vec![("1970-01-01", 150, 2), ("1970-01-02", 0, 0), ("1970-01-03", 7, 1)]);
        // In New York the first two orders fall on Dec 31.
        let s = daily_series(&orders, from, to, "America/New_York");
        assert_eq!(s[0].date, "1969-12-31");
        assert_eq!((s[0].revenue.cents(), s[0].orders), (150, 2));
        assert_eq!(daily_series(&orders, from, to, "Not/AZone")[0].date, "1970-01-01");
    }
}

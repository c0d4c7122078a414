//! Store KPIs over a range, and the daily revenue series.

use std::collections::{HashMap, HashSet};

use kairos_domain::{ConsentStatus, ContactId, Duration, Money, Timestamp};
use kairos_store::StoredFlow;
use kairos_store::reports::ConsentChange;

use crate::{CART_EVENTS, CART_RECOVERY, Order, Touch, Windows, attribute_orders, average, ratio};

/// Revenue and orders of one local day.
#[derive(Debug, Clone, PartialEq)]
pub struct DayPoint {
    /// `YYYY-MM-DD` in the workspace's time zone.
    pub date: String,
    pub revenue: Money,
    pub orders: u64,
    /// The day was still running when the range ended (its numbers are "so far").
    pub partial: bool,
}

/// Store KPIs over `[from, to)`; see [`kpis`] for the definitions.
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
    /// Orders of the range attributed to a message (conversions).
    pub attributed_orders: u64,
    /// People sent at least one flow or campaign message in the range.
    pub recipients: u64,
    /// Attributed revenue / recipients, rounded to the cent.
    pub revenue_per_recipient: Money,
    pub series: Vec<DayPoint>,
}

/// The rows KPIs over `[from, to)` are computed from.
#[derive(Debug, Clone, Default)]
pub struct KpiRows {
    /// Orders timestamped in `[from, order_horizon(to))`: those after `to` only settle the range's last carts.
    pub orders: Vec<Order>,
    /// Contacts with an event of their own in the range.
    pub active: Vec<ContactId>,
    /// (contact, time) of the range's cart events ([`CART_EVENTS`]).
    pub carts: Vec<(ContactId, Timestamp)>,
    /// Touches of the buyers of the range's orders (see [`crate::touch_range`]).
    pub touches: Vec<Touch>,
    /// When each buyer of the range first ordered, as their profile says.
    pub first_orders: Vec<(ContactId, Option<Timestamp>)>,
    /// Channel consents whose latest change is in the range.
    pub consent: Vec<ConsentChange>,
    /// The workspace's flows (which of them recover carts).
    pub flows: Vec<StoredFlow>,
    /// People sent at least one flow or campaign message in the range.
    pub recipients: u64,
}

/// Orders up to this instant settle carts of the range ending at `to` (a day past it).
pub fn order_horizon(to: Timestamp) -> Timestamp {
    to.saturating_add(CART_RECOVERY).saturating_add(Duration(1))
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
/// - `attributed_revenue`, `attributed_orders`: revenue and count of the range's orders attributed to a message
///   (see [`crate::attribute`]); `revenue_per_recipient`: attributed revenue / people sent at least one flow or
///   campaign message in the range (`recipients`, counted by the caller);
/// - `series`: revenue and orders per day of `timezone` (UTC when unknown), every day of the range, the last one
///   marked `partial` when the range ends before its local midnight.
pub fn kpis(rows: KpiRows, from: Timestamp, to: Timestamp, now: Timestamp, windows: Windows, timezone: &str) -> Kpis {
    let orders: Vec<Order> = rows.orders.iter().filter(|o| o.at < to).cloned().collect();
    let revenue = orders.iter().fold(Money::ZERO, |acc, o| acc.saturating_add(o.amount));
    let count = orders.len() as u64;

    // Conversion: buyers among active contacts.
    let buyers: HashSet<ContactId> = orders.iter().map(|o| o.contact).collect();
    let active: HashSet<ContactId> = rows.active.iter().copied().collect();
    let converted = buyers.iter().filter(|c| active.contains(c)).count() as u64;

    let (abandoned, settled) = carts(&rows.carts, &rows.orders, now);

    // Attribution of the range's orders.
    let recovery = recovery_flows(&rows.flows);
    let mut attributed_revenue = Money::ZERO;
    let mut recovered_revenue = Money::ZERO;
    let mut attributed_orders = 0;
    for a in attribute_orders(orders.clone(), &rows.touches, windows) {
        attributed_revenue = attributed_revenue.saturating_add(a.order.amount);
        attributed_orders += 1;
        if a.touch.flow_id.as_ref().is_some_and(|f| recovery.contains(f)) {
            recovered_revenue = recovered_revenue.saturating_add(a.order.amount);
        }
    }

    // Repeat purchases: two orders in the range, or a first order before it.
    let mut per_buyer: HashMap<ContactId, u64> = HashMap::new();
    for o in &orders {
        *per_buyer.entry(o.contact).or_default() += 1;
    }
    let first: HashMap<ContactId, Option<Timestamp>> = rows.first_orders.iter().copied().collect();
    let repeat = per_buyer
        .iter()
        .filter(|(contact, n)| **n >= 2 || first.get(contact).copied().flatten().is_some_and(|t| t < from))
        .count() as u64;

    let with = |s: ConsentStatus| rows.consent.iter().filter(|c| c.status == s.as_str()).count() as u64;
    let (subscribed, unsubscribed) = (with(ConsentStatus::Subscribed), with(ConsentStatus::Unsubscribed));
    let series = daily_series(&orders, from, to, timezone);
    Kpis {
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
        attributed_orders,
        recipients: rows.recipients,
        revenue_per_recipient: average(attributed_revenue, rows.recipients),
        series,
    }
}

/// (abandoned, settled) among each contact's last cart event: settled once an order followed it within
/// [`CART_RECOVERY`], or that long has passed by `now`.
fn carts(carts: &[(ContactId, Timestamp)], orders: &[Order], now: Timestamp) -> (u64, u64) {
    let mut last_cart: HashMap<ContactId, Timestamp> = HashMap::new();
    for (contact, at) in carts {
        let e = last_cart.entry(*contact).or_insert(*at);
        *e = (*e).max(*at);
    }
    let mut order_times: HashMap<ContactId, Vec<Timestamp>> = HashMap::new();
    for o in orders {
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
    (abandoned, settled)
}

/// The flow ids among the workspace's flows that recover carts: triggered by `Checkout Started` or
/// `Product Added`, or named like "abandon...".
fn recovery_flows(flows: &[StoredFlow]) -> HashSet<String> {
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

/// Revenue and orders per local day of `timezone` (UTC when the zone is unknown), one point for every day of
/// `[from, to)` (at most [`SERIES_DAYS_MAX`]).
pub fn daily_series(orders: &[Order], from: Timestamp, to: Timestamp, timezone: &str) -> Vec<DayPoint> {
    let (dates, partial) = crate::series::days(from, to, timezone);
    let index: HashMap<String, usize> = dates.iter().enumerate().map(|(i, d)| (d.clone(), i)).collect();
    let last = dates.len().saturating_sub(1);
    let mut out: Vec<DayPoint> = dates
        .into_iter()
        .enumerate()
        .map(|(i, date)| DayPoint { date, revenue: Money::ZERO, orders: 0, partial: partial && i == last })
        .collect();
    for o in orders {
        let Some(date) = crate::series::local_date(o.at, timezone) else { continue };
        if let Some(&i) = index.get(&date) {
            out[i].revenue = out[i].revenue.saturating_add(o.amount);
            out[i].orders += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use kairos_domain::WorkspaceId;

    use super::*;
    use crate::TouchKind;

    const H: i64 = 3_600_000_000;

    fn order(contact: i64, at_h: i64, cents: i64) -> Order {
        Order { seq: at_h, contact: ContactId(contact), at: Timestamp(at_h * H), amount: Money(cents), order_id: None }
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

    fn flow(id: &str, name: &str, trigger: &str) -> StoredFlow {
        StoredFlow {
            row: 1,
            public_id: id.into(),
            workspace: WorkspaceId(1),
            name: name.into(),
            status: kairos_domain::FlowStatus::Active,
            version: 1,
            definition: format!(r#"{{"trigger":{{"type":"event","event":"{trigger}"}},"steps":[]}}"#),
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
        }
    }

    #[test]
    fn kpis_over_a_range() {
        let (from, to) = (Timestamp(100 * H), Timestamp(200 * H));
        let now = Timestamp(300 * H);
        let touch = |contact: i64, at_h: i64, flow: &str| Touch {
            seq: at_h,
            contact: ContactId(contact),
            at: Timestamp(at_h * H),
            kind: TouchKind::Click,
            channel: "email".into(),
            message_id: Some(format!("m{contact}")),
            flow_id: Some(flow.into()),
            step_id: None,
            campaign_id: None,
        };
        let rows = KpiRows {
            orders: vec![order(1, 110, 1_000), order(1, 120, 3_000), order(2, 150, 500), order(3, 210, 700)],
            active: vec![ContactId(1), ContactId(4), ContactId(5), ContactId(2)],
            carts: vec![
                (ContactId(3), Timestamp(195 * H)), // ordered within a day (after the range): settled
                (ContactId(4), Timestamp(101 * H)), // abandoned
                (ContactId(4), Timestamp(102 * H)), // its last cart
                (ContactId(5), Timestamp(199 * H)), // abandoned too (now is far later)
            ],
            touches: vec![touch(1, 109, "flow_cart"), touch(2, 149, "flow_news")],
            first_orders: vec![(ContactId(1), Some(Timestamp(110 * H))), (ContactId(2), Some(Timestamp(5 * H)))],
            consent: vec![
                ConsentChange { channel: "email".into(), status: "subscribed".into() },
                ConsentChange { channel: "sms".into(), status: "subscribed".into() },
                ConsentChange { channel: "email".into(), status: "unsubscribed".into() },
                ConsentChange { channel: "email".into(), status: "never_subscribed".into() },
            ],
            flows: vec![flow("flow_cart", "Reminder", "Checkout Started"), flow("flow_news", "News", "Page Viewed")],
            recipients: 4,
        };
        let k = kpis(rows, from, to, now, Windows::default(), "UTC");
        assert_eq!((k.revenue, k.orders, k.aov), (Money(4_500), 3, Money(1_500)));
        assert_eq!(k.conversion_rate, 0.5, "buyers 1 and 2 among 4 active contacts");
        assert_eq!(k.cart_abandonment_rate, 2.0 / 3.0);
        // Contact 1's first order is touched by the recovery flow; both of 1's orders are attributed to it.
        assert_eq!((k.attributed_revenue, k.recovered_revenue), (Money(4_500), Money(4_000)));
        assert_eq!((k.attributed_orders, k.revenue_per_recipient), (3, Money(1_125)), "4 500 over 4 people");
        assert_eq!(k.repeat_purchase_rate, 1.0, "1 ordered twice, 2 ordered before the range");
        assert_eq!((k.subscribed, k.unsubscribed), (2, 1));
        assert_eq!(k.series.len(), 5);
        // 200 h is 08:00 on the 9th day (UTC): that day is running when the range ends.
        assert!(k.series[4].partial && !k.series[3].partial, "{:?}", k.series);
        // A cart younger than a day at `now` is neither abandoned nor recovered yet.
        let young = KpiRows { carts: vec![(ContactId(9), Timestamp(199 * H))], ..KpiRows::default() };
        let k = kpis(young, from, to, Timestamp(200 * H), Windows::default(), "UTC");
        assert_eq!(k.cart_abandonment_rate, 0.0);
        assert_eq!(order_horizon(to), Timestamp(224 * H + 1));
    }
}

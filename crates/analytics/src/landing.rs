//! A landing page's numbers (issue 14): visits, unique visitors, signups, and the orders that followed a visit.
//!
//! An order is attributed to the page when its contact visited the page at or before the order and no longer
//! before it than the window (the workspace's attribution window: a visit is a web touch, which uses the email
//! window). Every order counts once, however many visits preceded it. Visits earlier than the range are given
//! only so that an order early in the range can still find the visit that led to it.

use std::collections::{HashMap, HashSet};

use kairos_domain::{ContactId, Duration, Money, Timestamp};

use crate::Order;

/// One view of the page: who and when, with its `utm_source` when the link carried one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    pub contact: ContactId,
    pub at: Timestamp,
    pub source: Option<String>,
}

/// What a landing page did over a range.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LandingNumbers {
    pub visits: u64,
    pub unique_visitors: u64,
    /// People who signed up on the page (a form of the page, a coupon revealed for an email).
    pub signups: u64,
    /// Orders in the range whose contact visited the page within the window before.
    pub orders: u64,
    pub revenue: Money,
    /// Visits per `utm_source` (`None`: no source), most first, ties by name.
    pub sources: Vec<(Option<String>, u64)>,
}

/// The numbers of `[from, to)`: `visits` may start up to `window` before `from`; `signups` are the contacts who
/// signed up in the range; `orders` are those of the range.
pub fn landing_numbers(
    visits: &[Visit],
    signups: &[ContactId],
    orders: &[Order],
    window: Duration,
    from: Timestamp,
    to: Timestamp,
) -> LandingNumbers {
    let in_range: Vec<&Visit> = visits.iter().filter(|v| v.at >= from && v.at < to).collect();
    let unique: HashSet<ContactId> = in_range.iter().map(|v| v.contact).collect();
    let mut per_source: HashMap<Option<String>, u64> = HashMap::new();
    for v in &in_range {
        *per_source.entry(v.source.clone()).or_default() += 1;
    }
    let mut sources: Vec<(Option<String>, u64)> = per_source.into_iter().collect();
    sources.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));

    let mut by_contact: HashMap<ContactId, Vec<Timestamp>> = HashMap::new();
    for v in visits {
        by_contact.entry(v.contact).or_default().push(v.at);
    }
    let mut seen_orders = HashSet::new();
    let (mut count, mut revenue) = (0, Money(0));
    for o in orders.iter().filter(|o| o.at >= from && o.at < to) {
        let led = by_contact.get(&o.contact).is_some_and(|times| {
            times.iter().any(|&t| t <= o.at && o.at.as_micros() - t.as_micros() <= window.as_micros())
        });
        // The same order told twice (a webhook and an import) counts once.
        let key = o.order_id.clone().unwrap_or_else(|| format!("#{}", o.seq));
        if led && seen_orders.insert(key) {
            count += 1;
            revenue = revenue.saturating_add(o.amount);
        }
    }
    let signups: HashSet<ContactId> = signups.iter().copied().collect();
    LandingNumbers {
        visits: in_range.len() as u64,
        unique_visitors: unique.len() as u64,
        signups: signups.len() as u64,
        orders: count,
        revenue,
        sources,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_micros(s * 1_000_000)
    }

    fn visit(c: i64, s: i64, source: Option<&str>) -> Visit {
        Visit { contact: ContactId(c), at: t(s), source: source.map(str::to_string) }
    }

    fn order(seq: i64, c: i64, s: i64, cents: i64, id: Option<&str>) -> Order {
        Order { seq, contact: ContactId(c), at: t(s), amount: Money(cents), order_id: id.map(str::to_string) }
    }

    #[test]
    fn orders_within_the_window_after_a_visit_are_attributed_once() {
        let window = Duration::from_secs(100);
        let visits = [
            visit(1, 50, Some("newsletter")), // before the range: only for attribution
            visit(1, 1_000, Some("newsletter")),
            visit(2, 1_010, None),
            visit(2, 1_020, Some("instagram")),
            visit(3, 1_030, Some("newsletter")),
        ];
        let orders = [
            order(1, 1, 1_050, 1_000, Some("A")), // 50 s after a visit: attributed
            order(2, 1, 1_060, 1_000, Some("A")), // the same order again: once
            order(3, 2, 1_500, 2_500, Some("B")), // 480 s after the last visit: outside the window
            order(4, 3, 1_020, 700, None),        // before the visit: not led by it
            order(5, 4, 1_100, 900, Some("C")),   // never visited
            order(6, 1, 120, 300, Some("D")),     // before the range
            order(7, 2, 1_100, 400, None),        // 80 s after: attributed
        ];
        let n = landing_numbers(&visits, &[ContactId(2), ContactId(2)], &orders, window, t(1_000), t(2_000));
        assert_eq!((n.visits, n.unique_visitors, n.signups), (4, 3, 1));
        assert_eq!((n.orders, n.revenue), (2, Money(1_400)));
        assert_eq!(
            n.sources,
            [(Some("newsletter".to_string()), 2), (None, 1), (Some("instagram".to_string()), 1)],
            "most first, no source sorts before names"
        );
    }

    #[test]
    fn nothing_visited_gives_zeros() {
        let n = landing_numbers(&[], &[], &[order(1, 1, 10, 100, None)], Duration::from_secs(60), t(0), t(100));
        assert_eq!(n, LandingNumbers::default());
    }
}

//! Typical reorder intervals (the library's replenishment reminder): how long after buying a product the store's
//! customers usually buy it again, learned from the store's orders.
//!
//! For every product, the gaps between consecutive orders containing it by the same customer are collected
//! (gaps shorter than [`GAP_MIN`] are one shopping trip split in two orders, not a reorder); the typical
//! interval is their median, once at least [`GAPS_MIN`] gaps were seen. A flow's `reorder_interval` delay waits
//! for the shortest typical interval among the trigger order's products. The statistics are computed from the
//! `Order Completed` events (read by name, from the newest [`ORDERS_MAX`]) at most once per
//! [`crate::rec_cache::REORDER_REFRESH`] per
//! workspace, only when such a delay is reached, and shared through [`crate::rec_cache::RecCache`].

use std::collections::HashMap;

use kairos_domain::{ContactId, Duration, Event, JsonMap, Timestamp, WorkspaceId};

use crate::EngineError;
use crate::state::State;

/// Gaps between two orders of the same product shorter than this are not reorders.
pub(crate) const GAP_MIN: Duration = Duration::from_secs(86_400);
/// Reorders of a product seen before its typical interval is trusted.
pub(crate) const GAPS_MIN: usize = 3;
/// Orders read per computation (the newest), bounding its time on large stores.
pub(crate) const ORDERS_MAX: usize = 500_000;

/// Typical reorder interval per product id, from orders as (customer, time, product ids).
pub(crate) fn intervals(orders: &[(ContactId, Timestamp, Vec<String>)]) -> HashMap<String, Duration> {
    let mut bought: HashMap<(&str, ContactId), Vec<Timestamp>> = HashMap::new();
    for (contact, at, products) in orders {
        for p in products {
            bought.entry((p.as_str(), *contact)).or_default().push(*at);
        }
    }
    let mut gaps: HashMap<&str, Vec<i64>> = HashMap::new();
    for ((product, _), mut times) in bought {
        times.sort_unstable();
        times.dedup();
        let mut last: Option<Timestamp> = None;
        for t in times {
            match last {
                Some(l) if t.as_micros() - l.as_micros() < GAP_MIN.as_micros() => continue,
                Some(l) => gaps.entry(product).or_default().push(t.as_micros() - l.as_micros()),
                None => {}
            }
            last = Some(t);
        }
    }
    gaps.into_iter()
        .filter(|(_, g)| g.len() >= GAPS_MIN)
        .map(|(p, mut g)| {
            g.sort_unstable();
            (p.to_string(), Duration(g[g.len() / 2]))
        })
        .collect()
}

impl State {
    /// The shortest typical reorder interval among the products of `trigger` (an order), if any is known.
    pub(crate) fn reorder_after(
        &mut self,
        ws: WorkspaceId,
        trigger: &JsonMap,
        now: Timestamp,
    ) -> Result<Option<Duration>, EngineError> {
        let products = crate::recommend::products_of(trigger);
        if products.is_empty() {
            return Ok(None);
        }
        let known = match self.recs.reorder(ws, now) {
            Some(k) => k,
            None => {
                let mut orders = Vec::new();
                self.w.event_tx().events_named(ws, "Order Completed", &mut |contact, data| {
                    if let Ok(ev) = serde_json::from_str::<Event>(data) {
                        orders.push((contact, ev.timestamp, crate::recommend::products_of(&ev.properties)));
                    }
                })?;
                if orders.len() > ORDERS_MAX {
                    orders.sort_unstable_by_key(|o| std::cmp::Reverse(o.1));
                    orders.truncate(ORDERS_MAX);
                }
                let k = std::sync::Arc::new(intervals(&orders));
                self.recs.put_reorder(ws, now, k.clone());
                k
            }
        };
        Ok(products.iter().filter_map(|p| known.get(p).copied()).min())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000;

    fn order(contact: i64, day: i64, products: &[&str]) -> (ContactId, Timestamp, Vec<String>) {
        (ContactId(contact), Timestamp(day * DAY), products.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn the_median_gap_between_a_customers_orders_of_a_product_once_seen_often_enough() {
        let orders = vec![
            // Coffee: gaps 30, 28 (ann), 35 (bob), and a same-day second order that is no reorder.
            order(1, 0, &["coffee", "mug"]),
            order(1, 30, &["coffee"]),
            order(1, 58, &["coffee"]),
            order(2, 10, &["coffee"]),
            order(2, 10, &["coffee"]),
            order(2, 45, &["coffee"]),
            // Filters: two gaps only, not enough to trust.
            order(3, 0, &["filters"]),
            order(3, 90, &["filters"]),
            order(3, 180, &["filters"]),
            // The mug was bought once by each: no interval.
            order(2, 45, &["mug"]),
        ];
        let k = intervals(&orders);
        assert_eq!(k.get("coffee"), Some(&Duration(30 * DAY)));
        assert_eq!(k.get("filters"), None);
        assert_eq!(k.get("mug"), None);
    }
}

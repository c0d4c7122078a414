//! Each contact's cart events since its last order ([`CartLog`]), kept by the committer so a late cart event folds
//! the cart again without reading the contact's events back from the store (issue 17: 15 % of the committer's
//! time on the anchor workload, and a read of scattered pages that grows slower as the store grows).
//!
//! A log is only kept while it is known to be complete: started empty for a contact created here, read from the
//! store at a late event when there is none (a restart, or one dropped to stay in bounds), rebuilt from the whole
//! history after a merge, and told of every cart event after that. Memory is bounded by two generations: logs
//! used since the last rotation are in `current`; when it holds half the budget it becomes `previous` (a log
//! used again moves back) and the older generation is dropped. A dropped log costs one read at its next late
//! event, as before this cache.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use kairos_domain::{Cart, CartItem, CartLog, CartOp, ContactId, Event, Timestamp, item_bytes};

/// Bytes of cart logs kept in memory over all contacts (both generations).
pub(crate) const CART_LOGS_BYTES_MAX: usize = 128 * 1024 * 1024;
/// Bytes of distinct cart items shared by the logs (a product added by many people is held once); past it the
/// table starts again (items already shared stay shared).
pub(crate) const CART_ITEMS_BYTES_MAX: usize = 32 * 1024 * 1024;
/// Cart events one contact's kept log may hold; a longer one (a bot filling a cart for ever) is not kept, and
/// its late events read the store as before.
pub(crate) const CART_LOG_EVENTS_MAX: usize = 1_000;

#[derive(Default)]
pub(crate) struct CartLogs {
    current: HashMap<ContactId, CartLog>,
    previous: HashMap<ContactId, CartLog>,
    current_bytes: usize,
    items: Items,
}

/// Equal cart items, held once.
#[derive(Default)]
struct Items {
    set: HashSet<Arc<CartItem>>,
    bytes: usize,
}

impl Items {
    fn share(&mut self, mut op: CartOp) -> CartOp {
        for item in op.items_mut() {
            if let Some(known) = self.set.get(item) {
                *item = known.clone();
                continue;
            }
            if self.bytes > CART_ITEMS_BYTES_MAX {
                self.set.clear();
                self.bytes = 0;
            }
            self.bytes += item_bytes(item);
            self.set.insert(item.clone());
        }
        op
    }

    fn log_of<'a>(&mut self, events: impl IntoIterator<Item = &'a Event>) -> CartLog {
        CartLog::from_ops(
            events
                .into_iter()
                .filter_map(|e| CartOp::of(e).map(|op| (e.timestamp, self.share(op))))
                .collect::<Vec<_>>(),
        )
    }
}

impl CartLogs {
    /// A contact with no events yet: its log is complete and empty.
    pub(crate) fn start(&mut self, id: ContactId) {
        self.put(id, CartLog::default());
    }

    /// The contact's events changed other than by arriving (erased): its log is no longer known.
    pub(crate) fn forget(&mut self, id: ContactId) {
        if let Some(log) = self.current.remove(&id) {
            self.current_bytes = self.current_bytes.saturating_sub(log.bytes());
        }
        self.previous.remove(&id);
    }

    /// The contact's whole history is known (a merge read it, sorted by timestamp and sequence): its log is the
    /// cart events of it since `since`.
    pub(crate) fn reset(&mut self, id: ContactId, history: &[Event], since: Option<Timestamp>) {
        self.forget(id);
        let log = self.items.log_of(history.iter().filter(|e| since.is_none_or(|s| e.timestamp >= s)));
        self.put(id, log);
    }

    /// A cart event applied in place; `since`: the contact's `cart_since` after it.
    pub(crate) fn applied(&mut self, id: ContactId, ts: Timestamp, op: CartOp, since: Option<Timestamp>) {
        if let Some(mut log) = self.take(id) {
            log.applied(ts, self.items.share(op), since);
            self.put(id, log);
        }
    }

    /// A late cart event: the cart folded again from the kept log, or None when no log is kept (the caller
    /// reads the stored events and [`CartLogs::seed`]s one).
    pub(crate) fn late(&mut self, id: ContactId, ts: Timestamp, op: CartOp, since: Option<Timestamp>) -> Option<Cart> {
        let mut log = self.take(id)?;
        let cart = log.late(ts, self.items.share(op), since);
        self.put(id, log);
        Some(cart)
    }

    /// The log read from the store: the contact's cart events since `cart_since`, the arriving one included.
    pub(crate) fn seed(&mut self, id: ContactId, stored: &[Event]) {
        let log = self.items.log_of(stored);
        self.put(id, log);
    }

    /// Bytes held by both generations and the shared items.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.current_bytes + self.previous.values().map(CartLog::bytes).sum::<usize>() + self.items.bytes
    }

    fn take(&mut self, id: ContactId) -> Option<CartLog> {
        if let Some(log) = self.current.remove(&id) {
            self.current_bytes = self.current_bytes.saturating_sub(log.bytes());
            return Some(log);
        }
        self.previous.remove(&id)
    }

    fn put(&mut self, id: ContactId, log: CartLog) {
        if log.len() > CART_LOG_EVENTS_MAX {
            return;
        }
        if self.current_bytes + log.bytes() > CART_LOGS_BYTES_MAX / 2 {
            self.previous = std::mem::take(&mut self.current);
            self.current_bytes = 0;
        }
        self.current_bytes += log.bytes();
        if let Some(old) = self.current.insert(id, log) {
            self.current_bytes = self.current_bytes.saturating_sub(old.bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(product: &str) -> CartOp {
        let item = kairos_domain::CartItem {
            product_id: product.into(),
            sku: None,
            name: Some(format!("{product}{}", "x".repeat(1000))),
            price: kairos_domain::Money::from_cents(100),
            quantity: 1,
            category: None,
            url: None,
            image_url: None,
            variant: None,
        };
        CartOp::Add { currency: Some("x".repeat(1000)), item: Some(Arc::new(item)) }
    }

    #[test]
    fn logs_stay_within_their_budget_and_recent_ones_survive() {
        let mut logs = CartLogs::default();
        let ts = Timestamp::from_secs(1);
        let n = CART_LOGS_BYTES_MAX / 1000;
        for i in 0..n as i64 {
            logs.start(ContactId(i));
            logs.applied(ContactId(i), ts, add("p"), None);
            // The first contact keeps ordering (its log stays one order long): it must never be dropped.
            let at = Timestamp::from_secs(i);
            logs.applied(ContactId(0), at, CartOp::Order, Some(at));
            if i % 4096 == 0 {
                assert!(
                    logs.bytes() <= CART_LOGS_BYTES_MAX + CART_ITEMS_BYTES_MAX + 4096,
                    "{} bytes at {i}",
                    logs.bytes()
                );
            }
        }
        assert!(logs.late(ContactId(0), ts, add("q"), None).is_some());
        assert!(logs.late(ContactId(1), ts, add("q"), None).is_none(), "the oldest unused log was dropped");
        assert!(logs.late(ContactId(n as i64 - 1), ts, add("q"), None).is_some());
    }

    #[test]
    fn a_forgotten_log_is_read_again() {
        let mut logs = CartLogs::default();
        let ts = Timestamp::from_secs(5);
        logs.start(ContactId(7));
        logs.forget(ContactId(7));
        assert!(logs.late(ContactId(7), ts, add("p"), None).is_none());
        assert!(logs.bytes() == 0);
    }

    #[test]
    fn the_same_product_in_many_carts_is_held_once() {
        let mut logs = CartLogs::default();
        let ts = Timestamp::from_secs(5);
        for i in 0..100 {
            logs.start(ContactId(i));
            logs.applied(ContactId(i), ts, add("p"), None);
        }
        assert_eq!(logs.items.set.len(), 1);
        assert!(logs.items.bytes < 2_000, "{}", logs.items.bytes);
    }
}

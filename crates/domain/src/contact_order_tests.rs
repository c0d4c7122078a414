//! Events applied as they arrive, out of time order, give what folding them in (timestamp, sequence) order gives:
//! each arriving event is applied in place unless `is_late` says it can change the cart, when the caller folds
//! the whole history again (as the engine does). The oracle is the fold of the sorted events.

use proptest::prelude::*;
use serde_json::json;

use super::tests::track;
use super::*;
use crate::cart::CartLog;

fn event(kind: u8, product: u8, ts: i64) -> Event {
    let id = format!("p{product}");
    match kind {
        0 => track("Product Added", json!({"product_id": id, "price": 10 + i64::from(product), "quantity": 1}), ts),
        1 => track("Product Removed", json!({"product_id": id}), ts),
        2 => track(
            "Checkout Started",
            json!({"products": [{"product_id": id, "price": 5}], "currency": "EUR",
            "checkout_url": format!("https://shop.example/c/{ts}")}),
            ts,
        ),
        3 => track("Cart Viewed", json!({"products": [], "currency": "usd"}), ts),
        4 => track("Order Completed", json!({"total": 20 + i64::from(product)}), ts),
        5 => track("Order Refunded", json!({"total": 3}), ts),
        _ => track("Product Viewed", json!({"product_id": id}), ts),
    }
}

fn fold_sorted(events: &[Event]) -> Computed {
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by_key(|&i| (events[i].timestamp, i));
    Computed::recompute(order.iter().map(|&i| &events[i]))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arriving_out_of_order_equals_the_sorted_fold(
        raw in proptest::collection::vec((0u8..7, 0u8..3, 0i64..8), 1..30)
    ) {
        let events: Vec<Event> = raw.iter().map(|&(k, p, t)| event(k, p, t)).collect();
        let mut c = Computed::default();
        let mut replays = 0;
        for n in 1..=events.len() {
            let ev = &events[n - 1];
            if c.is_late(ev) {
                // What the engine does: the parts that commute, then the cart from its events since the last order.
                replays += 1;
                c.apply_except_cart(ev);
                let since = c.cart_since();
                let mut cart: Vec<usize> = (0..n)
                    .filter(|&i| affects_cart(&events[i]) && since.is_none_or(|s| events[i].timestamp >= s))
                    .collect();
                cart.sort_by_key(|&i| (events[i].timestamp, i));
                c.rebuild_cart(cart.iter().map(|&i| &events[i]));
            } else {
                c.apply(ev);
            }
        }
        prop_assert_eq!(&c, &fold_sorted(&events), "replays: {}", replays);
    }
}

#[test]
fn a_late_cart_event_before_the_last_order_needs_no_replay() {
    let mut c = Computed::default();
    c.apply(&event(0, 1, 5));
    c.apply(&event(4, 1, 8));
    c.apply(&event(0, 2, 9));
    let late = event(0, 0, 3);
    assert!(!c.is_late(&late), "the order at 8 emptied the cart: what came before cannot change it");
    c.apply(&late);
    assert_eq!(c.cart.items.len(), 1);
    assert_eq!(c.cart.items[0].product_id, "p2");
    let after_order = event(1, 2, 8);
    assert!(c.is_late(&after_order), "at the order's own instant it sorts after the order: a replay");
}

/// What the engine does with a contact's [`CartLog`] kept in memory: started empty (a new contact), told of every
/// cart event, and folded again for a late one instead of reading the stored events back.
fn arrive_with_log(events: &[Event]) -> Computed {
    let mut c = Computed::default();
    let mut log = CartLog::default();
    for ev in events {
        let op = CartOp::of(ev);
        if c.is_late(ev) {
            c.apply_except_cart(ev);
            let op = op.expect("a late event is a cart event");
            c.cart = log.late(ev.timestamp, op, c.cart_since());
        } else {
            c.apply_op(ev, op.as_ref());
            if let Some(op) = op {
                log.applied(ev.timestamp, op, c.cart_since());
            }
        }
    }
    c
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_cart_log_equals_the_sorted_fold(raw in proptest::collection::vec((0u8..7, 0u8..3, 0i64..8), 1..30)) {
        let events: Vec<Event> = raw.iter().map(|&(k, p, t)| event(k, p, t)).collect();
        prop_assert_eq!(&arrive_with_log(&events), &fold_sorted(&events));
    }

    #[test]
    fn a_log_seeded_from_the_stored_events_equals_the_sorted_fold(
        raw in proptest::collection::vec((0u8..7, 0u8..3, 0i64..8), 2..30), split in 1usize..29
    ) {
        // A restarted engine: the first `split` events are stored, the log is read from them at the next late
        // event (what the engine does when it has no log for the contact), then kept.
        let events: Vec<Event> = raw.iter().map(|&(k, p, t)| event(k, p, t)).collect();
        let split = split.min(events.len() - 1);
        let mut c = fold_sorted(&events[..split]);
        let since = c.cart_since();
        let mut stored: Vec<usize> =
            (0..split).filter(|&i| since.is_none_or(|s| events[i].timestamp >= s)).collect();
        stored.sort_by_key(|&i| (events[i].timestamp, i));
        let mut log = CartLog::from_events(stored.iter().map(|&i| &events[i]));
        for ev in &events[split..] {
            let op = CartOp::of(ev);
            if c.is_late(ev) {
                c.apply_except_cart(ev);
                c.cart = log.late(ev.timestamp, op.expect("cart event"), c.cart_since());
            } else {
                c.apply_op(ev, op.as_ref());
                if let Some(op) = op {
                    log.applied(ev.timestamp, op, c.cart_since());
                }
            }
        }
        prop_assert_eq!(&c, &fold_sorted(&events));
    }
}

//! How the sample store's people answer the email they get, and the customers a store brings along when it
//! starts with Kairos: the human side of `kairos demo`'s history. Pure: randomness is passed in, times are
//! microsecond offsets.

use rand::RngExt;
use serde_json::{Value, json};

use crate::{SampleProduct, Shopper, base};

const MINUTE_US: i64 = 60_000_000;
const HOUR_US: i64 = 60 * MINUTE_US;
const DAY_US: i64 = 24 * HOUR_US;

/// One in this many shoppers never opens an email (the unengaged part of a list).
pub const NEVER_OPENS_ONE_IN: usize = 5;
/// Chance that an opened email leads to an unsubscribe.
const UNSUBSCRIBE_PER_OPEN: f64 = 0.006;
/// Fewest minutes between an action and the next one: later than a scanner's reaction, as people are.
const REACTION_MIN_MINUTES: i64 = 4;

/// What a person does after receiving an email, each at an offset (µs) from the send.
#[derive(Debug, Clone, PartialEq)]
pub enum Reaction {
    Open,
    /// Follows the message's `link` (an index into its tracked links).
    Click {
        link: usize,
    },
    Unsubscribe,
    /// Buys: the cart they left when there was one, else something of their favourite kind.
    Order,
}

/// Whether this shopper reads email at all.
pub fn opens_email(s: &Shopper) -> bool {
    s.index % NEVER_OPENS_ONE_IN != NEVER_OPENS_ONE_IN - 1
}

/// The reactions to one email, in time order, as offsets from its send. `links`: how many tracked links it
/// has; `has_cart`: the person left a cart the email is about (reminders convert far better than newsletters).
pub fn react(s: &Shopper, links: usize, has_cart: bool, rng: &mut impl RngExt) -> Vec<(i64, Reaction)> {
    let mut out = Vec::new();
    if !opens_email(s) || !rng.random_bool(0.2 + 0.55 * s.propensity) {
        return out;
    }
    // Most opens come within hours; some a day or two later.
    let mut t = match rng.random_range(0..20) {
        0..10 => rng.random_range(REACTION_MIN_MINUTES * MINUTE_US..2 * HOUR_US),
        10..17 => rng.random_range(2 * HOUR_US..14 * HOUR_US),
        _ => rng.random_range(14 * HOUR_US..3 * DAY_US),
    };
    out.push((t, Reaction::Open));
    if rng.random_bool(UNSUBSCRIBE_PER_OPEN) {
        out.push((t + REACTION_MIN_MINUTES * MINUTE_US, Reaction::Unsubscribe));
        return out;
    }
    if links == 0 || !rng.random_bool(0.08 + 0.32 * s.propensity) {
        return out;
    }
    t += rng.random_range(REACTION_MIN_MINUTES * MINUTE_US..20 * MINUTE_US);
    out.push((t, Reaction::Click { link: rng.random_range(0..links) }));
    let buys = if has_cart { 0.3 + 0.3 * s.propensity } else { 0.05 + 0.15 * s.propensity };
    if rng.random_bool(buys) {
        t += rng.random_range(REACTION_MIN_MINUTES * MINUTE_US..3 * HOUR_US);
        out.push((t, Reaction::Order));
    }
    out
}

/// What someone buys without a cart: one or two products of their favourite kind that are in stock.
pub fn pick_products<'a>(s: &Shopper, products: &'a [SampleProduct], rng: &mut impl RngExt) -> Vec<&'a SampleProduct> {
    let category = crate::CATEGORIES[s.favourite].0;
    let kind: Vec<&SampleProduct> = products.iter().filter(|p| p.category == category && p.inventory > 0).collect();
    if kind.is_empty() {
        return Vec::new();
    }
    (0..rng.random_range(1..3)).map(|_| kind[rng.random_range(0..kind.len())]).collect()
}

/// An `Order Completed` of `items` (the products' properties, as a cart carries them) at `at`.
pub fn order(s: &Shopper, items: Vec<Value>, at: jiff::Timestamp, message_id: String, order_id: String) -> Value {
    let total: f64 = items.iter().filter_map(|p| p["price"].as_f64()).sum();
    let total = (total * 100.0).round() / 100.0;
    let mut v = base(s, "track", at, message_id, "/checkout/thank-you", "Thank you");
    v["event"] = json!("Order Completed");
    v["properties"] = json!({
        "order_id": order_id, "total": total, "revenue": total, "currency": "EUR", "products": items,
    });
    v
}

/// Chance that an order is refunded (a return): what the returns follow-up flow answers.
pub const REFUND_CHANCE: f64 = 0.03;

/// An `Order Refunded` of a stored `Order Completed` (Segment's e-commerce spec: the order's id, total and
/// products), at `at`.
pub fn refund(s: &Shopper, order: &Value, at: jiff::Timestamp, message_id: String) -> Value {
    let mut v = base(s, "track", at, message_id, "/account/orders", "Your orders");
    v["event"] = json!("Order Refunded");
    let p = &order["properties"];
    v["properties"] = json!({"order_id": p["order_id"], "total": p["total"], "currency": p["currency"],
                             "products": p["products"]});
    v
}

/// The products' properties as a cart or an order carries them.
pub fn items(products: &[&SampleProduct]) -> Vec<Value> {
    products.iter().map(|p| p.props(1)).collect()
}

/// Customers from before Kairos: every `one_in`-th shopper is known (identified, mostly subscribed) at
/// `import`, with one to three orders spread over the `span_us` before `until`. Answers the events, sorted by
/// time, and marks those shoppers identified.
pub fn existing_customers(
    shoppers: &mut [Shopper],
    products: &[SampleProduct],
    one_in: usize,
    (import, until, span_us): (jiff::Timestamp, jiff::Timestamp, i64),
    rng: &mut impl RngExt,
    next_id: &mut dyn FnMut() -> String,
) -> Vec<Value> {
    let mut out = Vec::new();
    for s in shoppers.iter_mut().filter(|s| s.index.is_multiple_of(one_in)) {
        s.identified = true;
        out.push(crate::identify(s, import, next_id(), rng.random_bool(0.85)));
        for _ in 0..rng.random_range(1..4) {
            let back = rng.random_range(0..span_us.max(1));
            let at = jiff::Timestamp::from_microsecond(until.as_microsecond() - back).unwrap_or(until);
            let bought = pick_products(s, products, rng);
            if bought.is_empty() {
                continue;
            }
            let id = next_id();
            out.push(order(s, items(&bought), at, id.clone(), format!("ord-{id}")));
        }
    }
    out.sort_by_cached_key(|v| v["timestamp"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn people(n: usize) -> Vec<Shopper> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        (0..n).map(|i| crate::shopper(i, &mut rng)).collect()
    }

    #[test]
    fn reactions_are_human_paced_ordered_and_plausible() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let (mut opens, mut clicks, mut orders, mut sent) = (0, 0, 0, 0);
        for s in people(2_000) {
            let r = react(&s, 3, true, &mut rng);
            sent += 1;
            assert!(r.windows(2).all(|w| w[0].0 < w[1].0), "in time order: {r:?}");
            assert!(r.iter().all(|(t, _)| *t >= REACTION_MIN_MINUTES * MINUTE_US), "no scanner-fast reaction");
            if !opens_email(&s) {
                assert!(r.is_empty(), "an unengaged person reacts to nothing");
            }
            opens += r.iter().filter(|x| x.1 == Reaction::Open).count();
            clicks += r.iter().filter(|x| matches!(x.1, Reaction::Click { link } if link < 3)).count();
            orders += r.iter().filter(|x| x.1 == Reaction::Order).count();
        }
        let rate = |n: usize| n as f64 / sent as f64;
        assert!((0.3..0.6).contains(&rate(opens)), "open rate {}", rate(opens));
        assert!((0.05..0.25).contains(&rate(clicks)), "click rate {}", rate(clicks));
        assert!(orders > 0 && orders < clicks, "orders follow some clicks: {orders} of {clicks}");
    }

    #[test]
    fn no_links_no_clicks() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for s in people(500) {
            assert!(
                react(&s, 0, false, &mut rng).iter().all(|x| matches!(x.1, Reaction::Open | Reaction::Unsubscribe))
            );
        }
    }

    #[test]
    fn existing_customers_are_known_with_past_orders() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let catalog = crate::catalog(&mut rng);
        let mut shoppers = people(100);
        let import = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let until = jiff::Timestamp::from_second(1_710_000_000).unwrap();
        let mut n = 0;
        let events =
            existing_customers(&mut shoppers, &catalog, 4, (import, until, 100 * DAY_US), &mut rng, &mut || {
                n += 1;
                format!("h-{n}")
            });
        assert_eq!(shoppers.iter().filter(|s| s.identified).count(), 25);
        let identifies = events.iter().filter(|e| e["type"] == "identify").count();
        assert_eq!(identifies, 25);
        for e in events.iter().filter(|e| e["event"] == "Order Completed") {
            let at: jiff::Timestamp = e["timestamp"].as_str().unwrap().parse().unwrap();
            assert!(at <= until && at.as_microsecond() > until.as_microsecond() - 100 * DAY_US, "{at}");
            assert!(e["properties"]["total"].as_f64().unwrap() > 0.0);
            assert!(e["userId"].as_str().unwrap().starts_with("cust-"));
        }
    }
}

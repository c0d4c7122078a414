//! Send priorities (SPEC 16 "Priority"): flows and campaigns take `"priority": 0..100`; when smart sending or a
//! cap must choose between two marketing messages to one person, the higher goes first and the lower waits,
//! never the reverse.

use serde_json::Value;

/// Highest priority a flow or campaign may take.
pub const PRIORITY_MAX: u8 = 100;
/// Transactional messages (order confirmations, double opt-in): they bypass the discipline anyway.
pub const PRIORITY_TRANSACTIONAL: u8 = 100;
/// Cart and checkout abandonment: money on the table, minutes matter.
pub const PRIORITY_CART: u8 = 80;
/// Browse abandonment, back in stock, price drops: interest in one product.
pub const PRIORITY_BROWSE: u8 = 60;
/// Any other flow.
pub const PRIORITY_FLOW: u8 = 50;
/// Promotional campaigns.
pub const PRIORITY_CAMPAIGN: u8 = 20;

/// Events whose flows recover a cart or a checkout.
const CART_EVENTS: [&str; 5] =
    ["Product Added", "Cart Viewed", "Checkout Started", "Checkout Step Viewed", "Payment Info Entered"];
/// Events whose flows follow interest in a product.
const BROWSE_EVENTS: [&str; 3] = ["Product Viewed", "Product List Viewed", "Products Searched"];

/// The default priority of a flow triggered by the event `name` (None: not an event trigger).
pub fn flow_default(event: Option<&str>, product_alert: bool) -> u8 {
    match event {
        _ if product_alert => PRIORITY_BROWSE,
        Some(e) if CART_EVENTS.contains(&e) => PRIORITY_CART,
        Some(e) if BROWSE_EVENTS.contains(&e) => PRIORITY_BROWSE,
        _ => PRIORITY_FLOW,
    }
}

/// Reads `priority` from a definition: absent or null is None; otherwise a whole number 0..=100, else the
/// message for the field.
pub fn parse(v: Option<&Value>) -> Result<Option<u8>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(p) if p <= u64::from(PRIORITY_MAX) => Ok(Some(p as u8)),
            _ => Err(format!("priority must be a whole number from 0 to {PRIORITY_MAX}")),
        },
        Some(_) => Err(format!("priority must be a whole number from 0 to {PRIORITY_MAX}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_rank_carts_over_browsing_over_other_flows_over_campaigns() {
        assert_eq!(flow_default(Some("Checkout Started"), false), PRIORITY_CART);
        assert_eq!(flow_default(Some("Product Viewed"), false), PRIORITY_BROWSE);
        assert_eq!(flow_default(None, true), PRIORITY_BROWSE);
        assert_eq!(flow_default(Some("Order Completed"), false), PRIORITY_FLOW);
        let order = [PRIORITY_TRANSACTIONAL, PRIORITY_CART, PRIORITY_BROWSE, PRIORITY_FLOW, PRIORITY_CAMPAIGN];
        assert!(order.windows(2).all(|w| w[0] > w[1]));
    }

    #[test]
    fn priority_is_a_whole_number_up_to_100() {
        assert_eq!(parse(None), Ok(None));
        assert_eq!(parse(Some(&json!(null))), Ok(None));
        assert_eq!(parse(Some(&json!(0))), Ok(Some(0)));
        assert_eq!(parse(Some(&json!(100))), Ok(Some(100)));
        for bad in [json!(101), json!(-1), json!(2.5), json!("high"), json!(true)] {
            assert!(parse(Some(&bad)).is_err(), "{bad}");
        }
    }
}

//! WooCommerce's documented REST v3 payloads (`tests/fixtures/woocommerce/`) mapped onto Segment events and
//! catalog products, by order status; the unsigned ping WooCommerce sends when a webhook is saved.

use kairos_domain::{Event, EventKind, Timestamp};
use kairos_integrations::Mapped;
use kairos_integrations::woocommerce::{is_ping, map};
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/woocommerce/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn now() -> Timestamp {
    Timestamp::parse("2026-12-04T00:00:00Z").unwrap()
}

fn events(m: &Mapped) -> Vec<Event> {
    m.messages.iter().map(|v| Event::from_segment(v.clone(), None, now(), &mut || "x".into()).expect("valid")).collect()
}

fn names(m: &Mapped) -> Vec<String> {
    events(m).iter().map(|e| e.name.clone().unwrap_or_else(|| "(identify)".into())).collect()
}

#[test]
fn a_processing_order_is_placed_once_with_its_items_and_coupon() {
    let m = map("order.created", &fixture("order_updated"), now()).unwrap().unwrap();
    assert_eq!(names(&m), ["(identify)", "Order Completed"]);
    let ev = events(&m);
    assert_eq!(ev[0].kind, EventKind::Identify);
    assert_eq!(ev[0].traits["email"], json!("john.doe@example.com"));
    let o = &ev[1];
    assert_eq!(o.message_id.as_str(), "woocommerce-order-727-completed");
    assert_eq!(o.anonymous_id.as_deref(), Some("woocommerce-order:727"));
    assert_eq!(o.timestamp, Timestamp::parse("2026-11-30T19:22:10Z").unwrap());
    assert_eq!((o.properties["total"].clone(), o.properties["shipping"].clone()), (json!(29.35), json!(10.0)));
    assert_eq!(o.properties["coupon"], json!("welcome10"));
    assert_eq!(
        o.properties["products"][1],
        json!({"product_id": "22", "variant": "23", "sku": "Bar3",
        "name": "Ship Your Idea &ndash; Color: Black, Size: M Test", "price": 12.0, "quantity": 1})
    );
    assert_eq!(o.properties["products"][0]["product_id"], json!("93"));
    assert!(o.properties["products"][0].get("variant").is_none(), "variation 0 is no variation");
}

#[test]
fn later_statuses_fulfil_cancel_and_refund() {
    let mut order = fixture("order_updated");
    order["status"] = json!("completed");
    order["date_completed_gmt"] = json!("2026-12-02T10:00:00");
    let m = map("order.updated", &order, now()).unwrap().unwrap();
    assert_eq!(names(&m), ["(identify)", "Order Completed", "Order Fulfilled"]);
    assert_eq!(m.messages[1]["messageId"], json!("woocommerce-order-727-completed"), "the same order, once");

    order["status"] = json!("refunded");
    order["refunds"] = json!([{"id": 730, "reason": "damaged", "total": "-10.00"}]);
    let ev = events(&map("order.updated", &order, now()).unwrap().unwrap());
    let refund = ev.iter().find(|e| e.name.as_deref() == Some("Order Refunded")).unwrap();
    assert_eq!(
        (refund.properties["total"].clone(), refund.message_id.as_str()),
        (json!(10.0), "woocommerce-refund-730")
    );

    order["status"] = json!("cancelled");
    order["refunds"] = json!([]);
    assert_eq!(names(&map("order.updated", &order, now()).unwrap().unwrap()), ["(identify)", "Order Cancelled"]);
    order["status"] = json!("pending");
    assert_eq!(names(&map("order.updated", &order, now()).unwrap().unwrap()), ["(identify)"], "not placed yet");
}

#[test]
fn a_product_on_sale_keeps_its_regular_price_to_compare() {
    let m = map("product.updated", &fixture("product_updated"), now()).unwrap().unwrap();
    let p = &m.products[0];
    assert_eq!((p.id.as_str(), p.title.as_deref()), ("794", Some("Premium Quality")));
    assert_eq!(p.price.map(|m| m.as_major()), Some(17.99));
    assert_eq!(p.compare_at_price.map(|m| m.as_major()), Some(21.99));
    assert_eq!((p.inventory_quantity, p.available), (Some(12), true));
    assert_eq!(p.categories, ["Clothing", "T-shirts"]);
    assert_eq!(p.url.as_deref(), Some("https://example.com/product/premium-quality-19/"));
    let mut out = fixture("product_updated");
    out["stock_status"] = json!("outofstock");
    assert!(!map("product.updated", &out, now()).unwrap().unwrap().products[0].available);
}

#[test]
fn the_ping_unknown_topics_and_bad_payloads() {
    assert!(is_ping(b"webhook_id=42"));
    assert!(!is_ping(b"webhook_id=") && !is_ping(b"webhook_id=4x") && !is_ping(b"{\"id\":1}"));
    assert_eq!(map("action.woocommerce_new_thing", &json!({}), now()), Ok(None));
    assert_eq!(map("order.updated", &json!({"status": "processing"}), now()).unwrap_err().field, "id");
    assert_eq!(map("coupon.created", &json!({"id": 5, "code": "x"}), now()), Ok(Some(Mapped::default())));
}

#[test]
fn coupons_gone_from_the_shop_are_withdrawn() {
    let now = Timestamp::parse("2026-12-04T00:00:00Z").unwrap();
    let m = |topic: &str, v: serde_json::Value| map(topic, &v, now).unwrap().unwrap().withdrawn_codes;
    assert_eq!(m("coupon.deleted", json!({"id": 1, "code": "vip-abc"})), ["vip-abc"]);
    assert_eq!(
        m("coupon.updated", json!({"id": 1, "code": "vip-abc", "usage_count": 1, "usage_limit": 1})),
        ["vip-abc"]
    );
    assert_eq!(
        m("coupon.updated", json!({"id": 1, "code": "old", "date_expires_gmt": "2026-01-01T00:00:00"})),
        ["old"]
    );
    assert!(m("coupon.updated", json!({"id": 1, "code": "live", "usage_count": 0, "usage_limit": 1})).is_empty());
    assert_eq!(map("coupon.deleted", &json!({"id": 1}), now).unwrap_err().field, "code");
}

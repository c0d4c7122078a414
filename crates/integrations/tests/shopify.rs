//! Shopify's documented webhook payloads (`tests/fixtures/shopify/`, in the shapes of Shopify's Admin API
//! examples) mapped onto Segment events, identify calls and catalog products; every message passes Kairos's
//! own Segment validation.

use kairos_domain::{Event, EventKind, Timestamp};
use kairos_integrations::shopify::{Context, map};
use kairos_integrations::{Mapped, Person, Privacy};
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/shopify/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn cx() -> Context<'static> {
    Context { store_url: "https://velo.myshopify.com", now: Timestamp::parse("2026-12-04T00:00:00Z").unwrap() }
}

fn mapped(topic: &str, payload: &Value) -> Mapped {
    map(topic, payload, &cx()).expect("maps").expect("a known topic")
}

/// Each message as Kairos validates an ingested one.
fn events(m: &Mapped) -> Vec<Event> {
    let now = cx().now;
    m.messages
        .iter()
        .map(|v| Event::from_segment(v.clone(), None, now, &mut || "generated".into()).expect("a valid message"))
        .collect()
}

#[test]
fn an_order_is_completed_with_its_items_codes_and_customer() {
    let m = mapped("orders/create", &fixture("orders_create"));
    let ev = events(&m);
    assert_eq!(ev.len(), 3, "the customer's identify, the order's link to the email, then the order");
    let (who, order) = (&ev[0], &ev[2]);
    assert_eq!(
        (ev[1].kind, ev[1].anonymous_id.as_deref()),
        (EventKind::Identify, Some("shopify-order:820982911946154508"))
    );
    assert_eq!(ev[1].traits["email"], json!("jon@example.com"));
    assert_eq!(who.kind, EventKind::Identify);
    assert_eq!(who.traits["email"], json!("jon@example.com"));
    assert_eq!(who.traits["email_consent"], json!("subscribed"));
    assert_eq!(who.traits["email_consent_at"], json!("2026-11-30T22:59:00Z"));
    assert_eq!(who.traits["consent_source"], json!("shopify"));
    assert_eq!(who.traits["country"], json!("CA"));
    assert_eq!(order.name.as_deref(), Some("Order Completed"));
    assert_eq!(order.message_id.as_str(), "shopify-order-820982911946154508-completed");
    assert_eq!(order.anonymous_id.as_deref(), Some("shopify-order:820982911946154508"));
    assert_eq!(order.timestamp, Timestamp::parse("2026-12-01T00:00:00Z").unwrap());
    let p = &order.properties;
    assert_eq!(p["order_id"], json!("820982911946154508"));
    assert_eq!(
        (p["total"].clone(), p["subtotal"].clone(), p["shipping"].clone()),
        (json!(403.0), json!(393.0), json!(10.0))
    );
    assert_eq!((p["discount"].clone(), p["coupon"].clone()), (json!(10.0), json!("TENOFF")));
    assert_eq!(p["currency"], json!("USD"));
    assert_eq!(p["checkout_id"], json!("bd5a8aa1ecd019dd3520ff791ee3a24c"));
    let items = p["products"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[0],
        json!({"product_id": "632910392", "variant": "808950810", "sku": "IPOD2008PINK",
        "name": "IPod Nano - 8GB", "price": 199.0, "quantity": 1})
    );
    assert_eq!(order.context["traits"]["email"], json!("jon@example.com"));

    // orders/paid says the same order is completed: the same message id (a duplicate, not a second order).
    let paid = mapped("orders/paid", &fixture("orders_create"));
    assert_eq!(paid.messages[2]["messageId"], m.messages[2]["messageId"]);
}

#[test]
fn cancellations_refunds_and_deliveries_reach_the_orders_person() {
    let mut cancelled = fixture("orders_create");
    cancelled["cancelled_at"] = json!("2026-12-02T10:00:00-05:00");
    cancelled["cancel_reason"] = json!("customer");
    let ev = events(&mapped("orders/cancelled", &cancelled));
    assert_eq!(ev[2].name.as_deref(), Some("Order Cancelled"));
    assert_eq!(ev[2].properties["reason"], json!("customer"));
    assert_eq!(ev[2].timestamp, Timestamp::parse("2026-12-02T15:00:00Z").unwrap());

    let ev = events(&mapped("refunds/create", &fixture("refunds_create")));
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].name.as_deref(), Some("Order Refunded"));
    assert_eq!(ev[0].anonymous_id.as_deref(), Some("shopify-order:820982911946154508"));
    assert_eq!((ev[0].properties["total"].clone(), ev[0].properties["currency"].clone()), (json!(199.0), json!("USD")));

    let ev = events(&mapped("fulfillments/update", &fixture("fulfillments_update")));
    let names: Vec<_> = ev.iter().map(|e| e.name.as_deref().unwrap_or("(identify)")).collect();
    assert_eq!(names, ["(identify)", "Order Fulfilled", "Order Delivered"]);
    assert_eq!(ev[2].properties["tracking_number"], json!("1z827wk74630"));
    assert_eq!(ev[2].context["traits"]["email"], json!("jon@example.com"));
    assert_eq!(ev[2].anonymous_id.as_deref(), Some("shopify-order:820982911946154508"));
}

#[test]
fn a_checkout_update_starts_a_checkout_with_its_recovery_url() {
    let ev = events(&mapped("checkouts/update", &fixture("checkouts_update")));
    assert_eq!(ev.len(), 2, "the checkout's link to the email, then the checkout");
    assert!(!ev[0].traits.contains_key("email_consent"), "not_subscribed changes no consent");
    let e = &ev[1];
    assert_eq!(e.name.as_deref(), Some("Checkout Started"));
    assert_eq!(
        e.properties["checkout_url"],
        json!("https://checkout.local/548380009/checkouts/123123123/recover?key=example-secret-token")
    );
    assert_eq!(e.properties["cart_id"], json!("eeafa272cebfd4b22385bc4b645e762c"));
    assert_eq!((e.properties["total"].clone(), e.properties["value"].clone()), (json!(398.0), json!(398.0)));
    assert_eq!(e.properties["products"][0]["quantity"], json!(2));
    assert_eq!(e.anonymous_id.as_deref(), Some("shopify-checkout:123123123"));

    let mut done = fixture("checkouts_update");
    done["completed_at"] = json!("2026-11-30T15:10:00-05:00");
    assert_eq!(mapped("checkouts/update", &done), Mapped::default(), "a completed checkout: its order follows");
}

#[test]
fn a_customer_update_identifies_with_traits_and_both_consents() {
    let ev = events(&mapped("customers/update", &fixture("customers_update")));
    let t = &ev[0].traits;
    assert_eq!(ev[0].kind, EventKind::Identify);
    assert_eq!(ev[0].anonymous_id.as_deref(), Some("shopify-customer:706405506930370084"));
    assert_eq!(ev[0].timestamp, Timestamp::parse("2026-12-01T15:00:00Z").unwrap());
    assert_eq!((t["first_name"].clone(), t["phone"].clone()), (json!("Bob"), json!("+16135551234")));
    assert_eq!(t["tags"], json!(["vip", "newsletter"]));
    assert_eq!((t["email_consent"].clone(), t["sms_consent"].clone()), (json!("subscribed"), json!("unsubscribed")));
    assert_eq!(t["sms_consent_at"], json!("2026-12-01T14:58:00Z"));
    // Each update is its own message; a redelivery of the same update is the same message.
    let mut later = fixture("customers_update");
    later["updated_at"] = json!("2026-12-02T10:00:00-05:00");
    assert_ne!(mapped("customers/update", &later).messages[0]["messageId"], ev[0].message_id.as_str());
}

#[test]
fn a_product_update_becomes_the_catalog_entry() {
    let m = mapped("products/update", &fixture("products_update"));
    let p = &m.products[0];
    assert_eq!(p.id, "788032119674292922");
    assert_eq!(p.title.as_deref(), Some("Example T-Shirt"));
    assert_eq!(p.url.as_deref(), Some("https://velo.myshopify.com/products/example-t-shirt"));
    assert_eq!(p.image_url.as_deref(), Some("https://cdn.shopify.com/s/files/1/example-t-shirt.jpg"));
    assert_eq!(p.price.map(|m| m.as_major()), Some(19.99));
    assert_eq!(p.compare_at_price.map(|m| m.as_major()), Some(24.99));
    assert_eq!((p.inventory_quantity, p.available), (Some(125), true));
    assert_eq!(p.categories, ["Shirts", "example", "mens", "t-shirt"]);
    assert_eq!(p.updated_at, Timestamp::parse("2026-12-01T16:00:00Z").unwrap());

    let mut sold_out = fixture("products_update");
    for v in sold_out["variants"].as_array_mut().unwrap() {
        v["inventory_quantity"] = json!(0);
    }
    assert!(!mapped("products/update", &sold_out).products[0].available);
    let deleted = mapped("products/delete", &json!({"id": 788032119674292922u64}));
    assert_eq!(deleted.deleted_products, ["788032119674292922"]);
}

#[test]
fn privacy_requests_name_the_person() {
    let m = mapped("customers/redact", &fixture("customers_redact"));
    let person = Person {
        email: Some("john@example.com".into()),
        phone: Some("555-625-1199".into()),
        anonymous_ids: [
            "shopify-customer:191167",
            "shopify-order:299938",
            "shopify-order:280263",
            "shopify-order:220458",
        ]
        .map(String::from)
        .to_vec(),
        reference: None,
    };
    assert_eq!(m.privacy, Some(Privacy::Redact(person)));
    let request = json!({"shop_id": 954889, "shop_domain": "velo.myshopify.com", "orders_requested": [299938],
        "customer": {"id": 191167, "email": "john@example.com", "phone": "555-625-1199"},
        "data_request": {"id": 9999}});
    let Some(Privacy::DataRequest(p)) = mapped("customers/data_request", &request).privacy else {
        panic!("a data request")
    };
    assert_eq!(p.anonymous_ids, ["shopify-customer:191167", "shopify-order:299938"]);
    assert_eq!(p.reference.as_deref(), Some("9999"));
    let bad = json!({"customer": {"id": 1}, "orders_to_redact": [{"id": 2}]});
    assert_eq!(map("customers/redact", &bad, &cx()).unwrap_err().field, "orders_to_redact[0]");
    let m = mapped("shop/redact", &json!({"shop_id": 954889, "shop_domain": "velo.myshopify.com"}));
    assert_eq!(m.privacy, Some(Privacy::ShopRedact));
}

#[test]
fn unknown_topics_are_none_and_malformed_payloads_name_the_field() {
    assert_eq!(map("app/uninstalled", &json!({}), &cx()), Ok(None));
    let err = map("orders/create", &json!([1]), &cx()).unwrap_err();
    assert_eq!(err.field, "body");
    let err = map("orders/create", &json!({"id": "x".repeat(200)}), &cx()).unwrap_err();
    assert_eq!(err.field, "id");
    let err = map("orders/create", &json!({"id": 1, "line_items": [7]}), &cx()).unwrap_err();
    assert_eq!(err.field, "line_items[0]");
    let err = map("refunds/create", &json!({"id": 1}), &cx()).unwrap_err();
    assert_eq!(err.field, "order_id");
    // Ids become identities and message ids: control characters are refused, not copied (fuzzing found it).
    let err = map("checkouts/update", &json!({"id": "0cre\u{1}atedat"}), &cx()).unwrap_err();
    assert_eq!(err.field, "token");
    assert_eq!(map("orders/create", &json!({"id": "a b"}), &cx()).unwrap_err().field, "id");
    // Negative amounts and quantities (edited orders) are left out, not refused by validation afterwards.
    let odd =
        json!({"id": 1, "total_price": "-5.00", "line_items": [{"product_id": 2, "quantity": -1, "price": "-1"}]});
    let m = mapped("orders/create", &odd);
    let order = events(&m).pop().unwrap();
    assert!(order.properties.get("total").is_none());
    assert_eq!(order.properties["products"][0], json!({"product_id": "2", "quantity": 0}));
}

/// Message ids of a mapping's track events.
fn track_ids(m: &Mapped) -> Vec<String> {
    m.messages.iter().filter(|v| v["type"] == "track").map(|v| v["messageId"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_backfilled_order_says_what_its_webhooks_said_with_the_same_ids() {
    let mut order = fixture("orders_create");
    order["cancelled_at"] = json!("2026-12-02T10:00:00-05:00");
    order["fulfillment_status"] = json!("fulfilled");
    let mut refund = fixture("refunds_create");
    refund.as_object_mut().unwrap().remove("order_id");
    order["refunds"] = json!([refund]);
    order["fulfillments"] = json!([fixture("fulfillments_update")]);
    let back = kairos_integrations::shopify::backfilled_order(&order, &cx()).expect("maps");
    let ids = track_ids(&back);
    let mut live = Vec::new();
    for (topic, payload) in [
        ("orders/create", &order),
        ("orders/cancelled", &order),
        ("orders/fulfilled", &order),
        ("refunds/create", &fixture("refunds_create")),
        ("fulfillments/update", &fixture("fulfillments_update")),
    ] {
        live.extend(track_ids(&mapped(topic, payload)));
    }
    for id in &live {
        assert!(ids.contains(id), "{id} missing from the backfill's {ids:?}");
    }
    assert!(events(&back).iter().any(|e| e.name.as_deref() == Some("Order Delivered")));
    let bad = json!({"id": 1, "refunds": [{"id": "no spaces allowed"}]});
    let err = kairos_integrations::shopify::backfilled_order(&bad, &cx()).unwrap_err();
    assert_eq!(err.field, "refunds[0].id");
}

#[test]
fn an_order_in_the_customers_currency_keeps_the_shop_money_for_reports_and_what_they_paid_beside_it() {
    let order = json!({"id": 5, "currency": "USD", "presentment_currency": "EUR", "total_price": "403.00",
        "total_price_set": {"shop_money": {"amount": "403.00", "currency_code": "USD"},
                            "presentment_money": {"amount": "370.10", "currency_code": "EUR"}}});
    let ev = events(&mapped("orders/create", &order)).pop().unwrap();
    let p = &ev.properties;
    assert_eq!((p["total"].clone(), p["currency"].clone()), (json!(403.0), json!("USD")));
    assert_eq!((p["presentment_total"].clone(), p["presentment_currency"].clone()), (json!(370.1), json!("EUR")));
}

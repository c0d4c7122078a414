//! Magento 2 / Adobe Commerce REST search results (`tests/fixtures/magento/`, in the documented shapes of
//! `GET /V1/orders`, `/V1/customers/search`, `/V1/products` and `/V1/creditmemos`) mapped onto Segment events,
//! identify calls and catalog products; every message passes Kairos's own Segment validation. And the query
//! strings that page through them.

use kairos_domain::{ConsentStatus, Event, EventKind, Timestamp};
use kairos_integrations::Mapped;
use kairos_integrations::magento::{credit_memo, customer, order, page, product, search_query, updated_at};
use serde_json::{Value, json};

const BASE: &str = "https://shop.example.com/";

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/magento/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The `i`th record of a fixture page.
fn record(name: &str, i: usize) -> Value {
    fixture(name)["items"][i].clone()
}

fn now() -> Timestamp {
    Timestamp::parse("2026-12-04T00:00:00Z").unwrap()
}

fn at(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn events(m: &Mapped) -> Vec<Event> {
    m.messages.iter().map(|v| Event::from_segment(v.clone(), None, now(), &mut || "x".into()).expect("valid")).collect()
}

fn names(m: &Mapped) -> Vec<String> {
    events(m).iter().map(|e| e.name.clone().unwrap_or_else(|| "(identify)".into())).collect()
}

fn message_ids(m: &Mapped) -> Vec<String> {
    m.messages.iter().map(|v| v["messageId"].as_str().unwrap().to_string()).collect()
}

#[test]
fn an_order_is_placed_once_with_its_top_level_lines_coupon_and_phone() {
    let m = order(&record("orders_page", 0), now()).unwrap();
    assert_eq!(names(&m), ["(identify)", "Order Completed"]);
    let ev = events(&m);
    let link = &ev[0];
    assert_eq!((link.kind, link.anonymous_id.as_deref()), (EventKind::Identify, Some("magento-order:42")));
    assert_eq!(link.traits["email"], json!("veronica.costello@example.com"));
    assert_eq!(link.traits["phone"], json!("(555) 229-3326"));
    let o = &ev[1];
    assert_eq!(o.message_id.as_str(), "magento-order-42-completed");
    assert_eq!(o.anonymous_id.as_deref(), Some("magento-order:42"));
    assert_eq!(o.timestamp, at("2026-11-30T19:22:10Z"), "created_at is UTC without an offset");
    assert_eq!(o.context["traits"]["first_name"], json!("Veronica"));
    let p = &o.properties;
    assert_eq!((p["order_id"].clone(), p["order_number"].clone()), (json!("42"), json!("000000042")));
    assert_eq!(
        (p["total"].clone(), p["subtotal"].clone(), p["shipping"].clone()),
        (json!(96.4), json!(96.0), json!(10.0))
    );
    assert_eq!((p["discount"].clone(), p["coupon"].clone()), (json!(9.6), json!("WELCOME10")));
    assert_eq!((p["discount_codes"].clone(), p["currency"].clone()), (json!(["WELCOME10"]), json!("USD")));
    // The configurable line names the configurable product and its chosen variant; the variant's own line
    // (parent_item_id) is not counted a second time.
    assert_eq!(
        p["products"],
        json!([
            {"product_id": "1130", "variant": "1114", "sku": "MH01-XS-Black", "name": "Chaz Kangeroo Hoodie",
             "price": 52.0, "quantity": 1},
            {"product_id": "14", "sku": "24-MB02", "name": "Fusion Backpack", "price": 22.0, "quantity": 2}
        ])
    );

    // Polling the same order again, even after an unrelated update, gives the same messages: duplicates.
    let mut again = record("orders_page", 0);
    again["updated_at"] = json!("2026-12-01 08:00:00");
    again["status"] = json!("processing_custom");
    assert_eq!(message_ids(&order(&again, now()).unwrap()), message_ids(&m));
}

#[test]
fn a_complete_order_is_fulfilled_and_a_canceled_one_cancelled() {
    let m = order(&record("orders_page", 1), now()).unwrap();
    assert_eq!(names(&m), ["(identify)", "Order Completed", "Order Fulfilled"]);
    let ev = events(&m);
    assert_eq!(ev[1].context["traits"]["first_name"], json!("Sam"), "a guest's names come from the billing address");
    assert_eq!((ev[1].timestamp, ev[2].timestamp), (at("2026-12-01T08:00:00Z"), at("2026-12-02T10:00:00Z")));
    assert_eq!(ev[2].message_id.as_str(), "magento-order-43-fulfilled");

    let mut canceled = record("orders_page", 0);
    canceled["state"] = json!("canceled");
    canceled["status"] = json!("canceled");
    let m = order(&canceled, now()).unwrap();
    assert_eq!(names(&m), ["(identify)", "Order Cancelled"]);
    assert_eq!(m.messages[1]["messageId"], json!("magento-order-42-cancelled"));
    assert_eq!(events(&m)[1].timestamp, at("2026-11-30T19:25:03Z"));

    let mut unpaid = record("orders_page", 0);
    unpaid["state"] = json!("pending_payment");
    assert_eq!(names(&order(&unpaid, now()).unwrap()), ["(identify)"], "not placed until paid");
}

#[test]
fn a_credit_memo_refunds_its_own_amount_to_the_orders_person() {
    let m = credit_memo(&record("creditmemos_page", 0), now()).unwrap();
    let ev = events(&m);
    assert_eq!(names(&m), ["Order Refunded"]);
    assert_eq!(
        (ev[0].message_id.as_str(), ev[0].anonymous_id.as_deref()),
        ("magento-creditmemo-7", Some("magento-order:42"))
    );
    assert_eq!(ev[0].timestamp, at("2026-12-03T09:00:00Z"));
    let p = &ev[0].properties;
    assert_eq!((p["order_id"].clone(), p["refund_id"].clone()), (json!("42"), json!("7")));
    assert_eq!((p["total"].clone(), p["currency"].clone()), (json!(22.0), json!("USD")));

    let mut open = record("creditmemos_page", 0);
    open["state"] = json!(1);
    assert_eq!(credit_memo(&open, now()).unwrap(), Mapped::default(), "an open credit memo returned nothing yet");

    // A refunded (closed) order was placed; its refunds are its credit memos, not the running total_refunded.
    let mut closed = record("orders_page", 0);
    closed["state"] = json!("closed");
    closed["total_refunded"] = json!(96.4);
    assert_eq!(names(&order(&closed, now()).unwrap()), ["(identify)", "Order Completed"]);
}

#[test]
fn customers_identify_with_their_address_birthday_and_newsletter_consent() {
    let m = customer(&record("customers_page", 0), now()).unwrap();
    let ev = events(&m);
    assert_eq!(ev.len(), 1);
    let c = &ev[0];
    assert_eq!((c.kind, c.anonymous_id.as_deref()), (EventKind::Identify, Some("magento-customer:1")));
    assert_eq!(c.timestamp, at("2026-12-01T15:00:00Z"), "dated by updated_at: an older poll never overwrites");
    let t = &c.traits;
    assert_eq!(
        (t["email"].clone(), t["first_name"].clone()),
        (json!("veronica.costello@example.com"), json!("Veronica"))
    );
    assert_eq!((t["phone"].clone(), t["state"].clone()), (json!("(555) 229-3326"), json!("MI")));
    assert_eq!((t["country"].clone(), t["postal_code"].clone()), (json!("US"), json!("49628-7978")));
    assert_eq!((t["birthday"].clone(), t["magento_customer_id"].clone()), (json!("1973-12-15"), json!("1")));
    assert_eq!((t["email_consent"].clone(), t["consent_source"].clone()), (json!("subscribed"), json!("magento")));
    assert_eq!(c.consent_claims(), [("email", ConsentStatus::Subscribed, at("2026-12-01T15:00:00Z"))]);

    // `is_subscribed: false` is also someone never asked: it changes nothing.
    let m = customer(&record("customers_page", 1), now()).unwrap();
    assert!(events(&m)[0].consent_claims().is_empty());

    // Without the extension attribute (Magento before 2.4), consent is left alone.
    let mut older = record("customers_page", 0);
    older.as_object_mut().unwrap().remove("extension_attributes");
    assert!(events(&customer(&older, now()).unwrap())[0].consent_claims().is_empty());
    // Each update is its own message; polling the same update again is the same message.
    let again = customer(&record("customers_page", 0), now()).unwrap();
    assert_eq!(message_ids(&again), ["magento-customer-1-1796137200000000"]);
    older["updated_at"] = json!("2026-12-03 10:00:00");
    assert_ne!(message_ids(&customer(&older, now()).unwrap()), message_ids(&again));
}

#[test]
fn products_keep_the_order_lines_ids_with_special_prices_stock_and_visibility() {
    let m = product(&record("products_page", 0), BASE, now()).unwrap();
    let p = &m.products[0];
    assert_eq!((p.id.as_str(), p.sku.as_deref(), p.title.as_deref()), ("14", Some("24-MB02"), Some("Fusion Backpack")));
    assert_eq!(p.price.map(|m| m.as_major()), Some(45.0), "the special price applies from 2026-11-25");
    assert_eq!(p.compare_at_price.map(|m| m.as_major()), Some(59.0));
    assert_eq!(p.url.as_deref(), Some("https://shop.example.com/fusion-backpack.html"));
    assert_eq!(p.image_url.as_deref(), Some("https://shop.example.com/media/catalog/product/m/b/mb02-gray-0.jpg"));
    assert_eq!((p.inventory_quantity, p.available), (Some(100), true));
    assert_eq!(p.updated_at, at("2026-12-01T16:00:00Z"));

    let mut ended = record("products_page", 0);
    ended["custom_attributes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"attribute_code": "special_to_date", "value": "2026-12-02 00:00:00"}));
    let p = &product(&ended, BASE, now()).unwrap().products[0];
    assert_eq!((p.price.map(|m| m.as_major()), p.compare_at_price), (Some(59.0), None), "the sale ended");
    let mut disabled = record("products_page", 0);
    disabled["status"] = json!(2);
    assert!(!product(&disabled, BASE, now()).unwrap().products[0].available);

    // The configurable product is what order lines name; its price and stock live on its variants.
    let p = &product(&record("products_page", 1), BASE, now()).unwrap().products[0];
    assert_eq!((p.id.as_str(), p.price, p.inventory_quantity, p.available), ("1130", None, None, true));
    assert_eq!(p.url.as_deref(), Some("https://shop.example.com/chaz-kangeroo-hoodie.html"));
    // A variant has no page of its own and is out of stock here.
    let p = &product(&record("products_page", 2), BASE, now()).unwrap().products[0];
    assert_eq!((p.url.as_deref(), p.image_url.as_deref(), p.available), (None, None, false));
    assert_eq!(p.inventory_quantity, Some(0));
}

#[test]
fn pages_say_where_the_next_one_starts_and_records_their_cursor() {
    let body = fixture("orders_page");
    let (items, next) = page(&body).unwrap();
    assert_eq!((items.len(), next), (2, Some(2)));
    assert_eq!(updated_at(items[0]), Some(at("2026-11-30T19:25:03Z")));
    // Magento answers a page past the end with the last page again: the count says where it ends.
    let mut last = body.clone();
    last["search_criteria"]["current_page"] = json!(2);
    assert_eq!(page(&last).unwrap().1, None);
    assert_eq!(page(&fixture("customers_page")).unwrap().1, None);
    assert_eq!(page(&json!({"items": [], "total_count": 0})).unwrap(), (vec![], None));
    assert_eq!(page(&json!([1])).unwrap_err().field, "body");
    assert_eq!(page(&json!({"items": {}, "total_count": 1})).unwrap_err().field, "items");
    assert_eq!(page(&json!({"items": []})).unwrap_err().field, "total_count");
    assert_eq!(updated_at(&json!({"updated_at": "soon"})), None);
}

#[test]
fn the_search_query_filters_by_updated_at_inclusive_and_sorts_ties_by_id() {
    let q = search_query(Some(at("2026-11-30T19:25:03.500Z")), 3, 100);
    assert_eq!(
        q,
        "searchCriteria%5Bfilter_groups%5D%5B0%5D%5Bfilters%5D%5B0%5D%5Bfield%5D=updated_at\
         &searchCriteria%5Bfilter_groups%5D%5B0%5D%5Bfilters%5D%5B0%5D%5Bvalue%5D=2026-11-30+19%3A25%3A03\
         &searchCriteria%5Bfilter_groups%5D%5B0%5D%5Bfilters%5D%5B0%5D%5Bcondition_type%5D=gteq\
         &searchCriteria%5BsortOrders%5D%5B0%5D%5Bfield%5D=updated_at\
         &searchCriteria%5BsortOrders%5D%5B0%5D%5Bdirection%5D=ASC\
         &searchCriteria%5BsortOrders%5D%5B1%5D%5Bfield%5D=entity_id\
         &searchCriteria%5BsortOrders%5D%5B1%5D%5Bdirection%5D=ASC\
         &searchCriteria%5BpageSize%5D=100&searchCriteria%5BcurrentPage%5D=3"
    );
    // Read back as Magento (PHP) reads a query string.
    let pairs: Vec<(String, String)> = form_urlencoded::parse(q.as_bytes()).into_owned().collect();
    assert_eq!(pairs[1], ("searchCriteria[filter_groups][0][filters][0][value]".into(), "2026-11-30 19:25:03".into()));
    // A backfill has no filter; out-of-range paging is brought within Magento's limits.
    let q = search_query(None, 0, 100_000);
    assert!(!q.contains("filter_groups"));
    assert!(q.ends_with("searchCriteria%5BpageSize%5D=300&searchCriteria%5BcurrentPage%5D=1"), "{q}");
}

#[test]
fn malformed_records_name_the_field() {
    assert_eq!(order(&json!([1]), now()).unwrap_err().field, "record");
    assert_eq!(order(&json!({"state": "processing"}), now()).unwrap_err().field, "entity_id");
    assert_eq!(order(&json!({"entity_id": "a b"}), now()).unwrap_err().field, "entity_id");
    assert_eq!(order(&json!({"entity_id": 1, "items": {}}), now()).unwrap_err().field, "items");
    assert_eq!(order(&json!({"entity_id": 1, "items": [{"item_id": 1}, 7]}), now()).unwrap_err().field, "items[1]");
    assert_eq!(customer(&json!({"email": "a@example.com"}), now()).unwrap_err().field, "id");
    assert_eq!(
        product(&json!({"id": 1, "custom_attributes": "x"}), BASE, now()).unwrap_err().field,
        "custom_attributes"
    );
    assert_eq!(credit_memo(&json!({"entity_id": 7}), now()).unwrap_err().field, "order_id");
    // Odd amounts and quantities are left out, not refused afterwards by validation.
    let odd = json!({"entity_id": 1, "state": "new", "grand_total": -5,
                     "items": [{"product_id": 2, "qty_ordered": -1, "price": "-1"}]});
    let o = events(&order(&odd, now()).unwrap()).pop().unwrap();
    assert!(o.properties.get("total").is_none());
    assert_eq!(o.properties["products"][0], json!({"product_id": "2", "quantity": 0}));
}

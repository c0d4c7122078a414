//! WooCommerce webhooks (`X-WC-Webhook-Topic`, REST API v3 payloads) mapped onto Segment e-commerce events,
//! identify calls and the catalog. An order's `status` says what happened to it: `processing`, `on-hold` and
//! `completed` orders are placed (`Order Completed`, once per order whatever the updates), `completed` ones are
//! also fulfilled, `cancelled` ones cancelled, and each refund in `refunds` is an `Order Refunded`. Times are the
//! `*_gmt` fields (UTC without an offset). WooCommerce sends no cart webhook and no marketing consent: the site
//! tracker covers carts, forms cover consent.
//!
//! Anonymous ids name the WooCommerce object (`woocommerce-order:{id}`, `woocommerce-customer:{id}`); the
//! billing email and phone link them to the person.

use kairos_domain::{Product, Timestamp};
use serde_json::{Map, Value, json};

use crate::common::{Who, amount, codes, id, link, object, opt_id, products, signed, text, track};
use crate::{MapError, Mapped};

/// Topics Kairos acts on or acknowledges on purpose.
pub const TOPICS: &[&str] = &[
    "order.created",
    "order.updated",
    "order.restored",
    "customer.created",
    "customer.updated",
    "product.created",
    "product.updated",
    "product.restored",
    "product.deleted",
    "coupon.created",
    "coupon.updated",
    "coupon.deleted",
];

/// The status names of a placed order (paid, or awaiting payment by an accepted method).
const PLACED: &[&str] = &["processing", "on-hold", "completed"];

/// Maps one webhook; None for a topic Kairos does not act on.
pub fn map(topic: &str, payload: &Value, now: Timestamp) -> Result<Option<Mapped>, MapError> {
    let p = payload.as_object().ok_or_else(|| MapError::new("body", "the payload must be a JSON object"))?;
    let mapped = match topic {
        "order.created" | "order.updated" | "order.restored" => order(p, now)?,
        "customer.created" | "customer.updated" => {
            Mapped { messages: vec![customer_identify(p, now)?], ..Mapped::default() }
        }
        "product.created" | "product.updated" | "product.restored" => {
            Mapped { products: vec![product(p, now)?], ..Mapped::default() }
        }
        "product.deleted" => Mapped { deleted_products: vec![id(p, "id")?], ..Mapped::default() },
        // A coupon deleted, expired or used up in the shop can no longer be handed out (a pool's stock of codes
        // created in the shop drops it); a live one needs nothing here.
        "coupon.deleted" => Mapped { withdrawn_codes: vec![coupon_code(p)?], ..Mapped::default() },
        "coupon.created" | "coupon.updated" => {
            let expired = time_opt(p, "date_expires").is_some_and(|t| t <= now);
            let used_up = matches!((p.get("usage_count").and_then(Value::as_u64), p.get("usage_limit").and_then(Value::as_u64)),
                (Some(n), Some(limit)) if n >= limit);
            let withdrawn = if expired || used_up { vec![coupon_code(p)?] } else { Vec::new() };
            Mapped { withdrawn_codes: withdrawn, ..Mapped::default() }
        }
        _ => return Ok(None),
    };
    Ok(Some(mapped))
}

/// A coupon payload's `code`.
fn coupon_code(p: &Map<String, Value>) -> Result<String, MapError> {
    match text(p, "code") {
        Some(c) if !c.is_empty() && c.len() <= 64 => Ok(c.to_string()),
        _ => Err(MapError::new("code", "code must be the coupon's code")),
    }
}

/// A `*_gmt` time when one is given (null otherwise).
fn time_opt(p: &Map<String, Value>, field: &str) -> Option<Timestamp> {
    text(p, &format!("{field}_gmt")).or_else(|| text(p, field)).and_then(Timestamp::parse)
}

/// A `*_gmt` time (UTC, written without an offset), else the local one, else now.
fn time(p: &Map<String, Value>, field: &str, now: Timestamp) -> Timestamp {
    text(p, &format!("{field}_gmt")).or_else(|| text(p, field)).and_then(Timestamp::parse).unwrap_or(now)
}

/// The person an order names: its billing email, phone and names.
fn person(p: &Map<String, Value>, anonymous_id: String) -> Who {
    let mut traits = Map::new();
    if let Some(b) = object(p, "billing") {
        for field in ["email", "phone", "first_name", "last_name"] {
            if let Some(v) = text(b, field) {
                traits.insert(field.into(), json!(v));
            }
        }
    }
    (anonymous_id, traits)
}

fn order(p: &Map<String, Value>, now: Timestamp) -> Result<Mapped, MapError> {
    let order_id = id(p, "id")?;
    let status = text(p, "status").unwrap_or_default();
    let created = time(p, "date_created", now);
    let codes = codes(p, "coupon_lines");
    let mut props = Map::new();
    props.insert("order_id".into(), json!(order_id));
    props.insert("order_number".into(), json!(text(p, "number")));
    props.insert("affiliation".into(), json!("WooCommerce"));
    props.insert("total".into(), amount(p.get("total")).unwrap_or(Value::Null));
    props.insert("shipping".into(), amount(p.get("shipping_total")).unwrap_or(Value::Null));
    props.insert("tax".into(), amount(p.get("total_tax")).unwrap_or(Value::Null));
    props.insert("discount".into(), amount(p.get("discount_total")).unwrap_or(Value::Null));
    props.insert("coupon".into(), json!(codes.first()));
    props.insert("discount_codes".into(), json!(codes));
    props.insert("currency".into(), json!(text(p, "currency")));
    props.insert("status".into(), json!(status));
    props.insert("products".into(), Value::Array(products(p, "line_items", "variation_id")?));
    props.retain(|_, v| !v.is_null());
    let props = Value::Object(props);
    let who = person(p, format!("woocommerce-order:{order_id}"));
    let mut messages: Vec<Value> =
        link(&who, created, format!("woocommerce-order-{order_id}-link")).into_iter().collect();
    let emit = |messages: &mut Vec<Value>, event: &str, what: &str, at: Timestamp, props: Value| {
        messages.push(track(event, format!("woocommerce-order-{order_id}-{what}"), who.clone(), at, props));
    };
    if PLACED.contains(&status) {
        emit(&mut messages, "Order Completed", "completed", created, props.clone());
    }
    if status == "completed" {
        emit(&mut messages, "Order Fulfilled", "fulfilled", time(p, "date_completed", now), props.clone());
    }
    if status == "cancelled" {
        emit(&mut messages, "Order Cancelled", "cancelled", time(p, "date_modified", now), props.clone());
    }
    let refunds: Vec<&Map<String, Value>> =
        p.get("refunds").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_object).collect();
    for r in &refunds {
        let Some(refund_id) = opt_id(r, "id") else { continue };
        // WooCommerce writes a refund's total as a negative amount.
        let total = signed(r.get("total")).map(f64::abs).unwrap_or(0.0);
        let refund = json!({"order_id": order_id, "refund_id": refund_id, "total": total,
                            "currency": text(p, "currency"), "reason": text(r, "reason")});
        let message_id = format!("woocommerce-refund-{refund_id}");
        messages.push(track("Order Refunded", message_id, who.clone(), time(p, "date_modified", now), refund));
    }
    if status == "refunded" && refunds.is_empty() {
        emit(&mut messages, "Order Refunded", "refunded", time(p, "date_modified", now), props);
    }
    Ok(Mapped { messages, ..Mapped::default() })
}

fn customer_identify(c: &Map<String, Value>, now: Timestamp) -> Result<Value, MapError> {
    let customer_id = id(c, "id")?;
    let at = time(c, "date_modified", now);
    let mut traits = Map::new();
    for field in ["email", "first_name", "last_name", "username"] {
        if let Some(v) = text(c, field) {
            traits.insert(field.into(), json!(v));
        }
    }
    if let Some(b) = object(c, "billing") {
        for (from, to) in [
            ("phone", "phone"),
            ("city", "city"),
            ("state", "state"),
            ("country", "country"),
            ("postcode", "postal_code"),
        ] {
            if let Some(v) = text(b, from) {
                traits.insert(to.into(), json!(v));
            }
        }
    }
    traits.insert("woocommerce_customer_id".into(), json!(customer_id));
    Ok(json!({
        "type": "identify",
        "messageId": format!("woocommerce-customer-{customer_id}-{}", at.as_micros()),
        "anonymousId": format!("woocommerce-customer:{customer_id}"),
        "timestamp": crate::common::iso(at),
        "traits": traits,
    }))
}

/// A product: its price (the sale price while on sale, with the regular price as compare-at), stock and
/// page, dated by its `date_modified_gmt`.
fn product(p: &Map<String, Value>, now: Timestamp) -> Result<Product, MapError> {
    let product_id = id(p, "id")?;
    let price = amount(p.get("price")).or_else(|| amount(p.get("regular_price")));
    let regular = amount(p.get("regular_price"));
    let compare_at = regular.filter(|r| r.as_f64() > price.as_ref().and_then(Value::as_f64));
    let published = text(p, "status").is_none_or(|s| s == "publish");
    let in_stock = text(p, "stock_status").is_none_or(|s| s != "outofstock");
    let categories: Vec<&str> = p
        .get("categories")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|c| c.get("name").and_then(Value::as_str)).collect())
        .unwrap_or_default();
    let image = p.get("images").and_then(Value::as_array).and_then(|a| a.first()).and_then(|i| i.get("src")?.as_str());
    let mut body = json!({
        "id": product_id,
        "title": text(p, "name"),
        "sku": text(p, "sku"),
        "url": text(p, "permalink"),
        "image_url": image,
        "price": price,
        "compare_at_price": compare_at,
        "categories": categories.into_iter().take(kairos_domain::product::CATEGORIES_MAX).collect::<Vec<_>>(),
        "inventory_quantity": p.get("stock_quantity").and_then(Value::as_i64),
        "available": published && in_stock,
    });
    if let Some(o) = body.as_object_mut() {
        o.retain(|_, v| !v.is_null());
    }
    Product::from_api(&body, None, time(p, "date_modified", now))
        .map_err(|e| MapError::new(format!("product.{}", e.field.as_deref().unwrap_or("body")), e.message))
}

/// Whether a body is the ping WooCommerce sends, unsigned, when a webhook is saved (`webhook_id=<id>`, form
/// encoded): acknowledged so the store accepts the delivery URL, and nothing else.
pub fn is_ping(body: &[u8]) -> bool {
    body.strip_prefix(b"webhook_id=")
        .is_some_and(|id| !id.is_empty() && id.len() <= 20 && id.iter().all(u8::is_ascii_digit))
}

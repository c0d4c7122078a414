//! Shopify webhooks (`X-Shopify-Topic`) mapped onto Segment e-commerce events, identify calls and the catalog,
//! with the field names of Shopify's Admin API payloads (amounts are decimal strings, ids integers, times
//! ISO 8601 with an offset).
//!
//! Who an event is about: the payload's email and phone (`context.traits`, which identity resolution links),
//! and an anonymous id naming the Shopify object: `shopify-customer:{id}` for customers, `shopify-order:{id}`
//! for orders (so a refund or a fulfillment, whose payloads name only the order, reaches the same person),
//! `shopify-checkout:{token}` for checkouts.
//!
//! Message ids are derived from Shopify's ids (an order is completed once, whichever of `orders/create` and
//! `orders/paid` comes first; a customer update is identified by its `updated_at`), so a redelivered webhook,
//! or the same fact from two topics, is recognised as a duplicate.

use kairos_domain::{Product, Timestamp};
use serde_json::{Map, Value, json};

use crate::common::{Who, amount, codes, id, is_token, iso, link, object, opt_id, products, text, track};
use crate::{InventoryLevel, MapError, Mapped, Person, Privacy};

/// Most variants of one product whose inventory items are remembered (Shopify allows 2 048).
const VARIANTS_MAX: usize = 2_048;

/// Most orders of one privacy request looked up (Shopify lists a customer's orders; a longer list is cut).
const PRIVACY_ORDERS_MAX: usize = 1_000;

/// What the mapping needs besides the payload.
pub struct Context<'a> {
    /// The storefront's address, for product links (`https://velo.myshopify.com`).
    pub store_url: &'a str,
    /// When the webhook arrived (for payloads without a time of their own).
    pub now: Timestamp,
}

/// Topics Kairos acts on or acknowledges on purpose; any other is acknowledged and ignored.
pub const TOPICS: &[&str] = &[
    "orders/create",
    "orders/paid",
    "orders/cancelled",
    "orders/fulfilled",
    "fulfillments/create",
    "fulfillments/update",
    "refunds/create",
    "checkouts/create",
    "checkouts/update",
    "customers/create",
    "customers/update",
    "products/create",
    "products/update",
    "products/delete",
    "inventory_levels/update",
    "customers/data_request",
    "customers/redact",
    "shop/redact",
];

/// Maps one webhook; None for a topic Kairos does not act on.
pub fn map(topic: &str, payload: &Value, cx: &Context) -> Result<Option<Mapped>, MapError> {
    let p = payload.as_object().ok_or_else(|| MapError::new("body", "the payload must be a JSON object"))?;
    let mapped = match topic {
        "orders/create" | "orders/paid" => order(p, "Order Completed", "completed", cx)?,
        "orders/cancelled" => order(p, "Order Cancelled", "cancelled", cx)?,
        "orders/fulfilled" => order(p, "Order Fulfilled", "fulfilled", cx)?,
        "fulfillments/create" | "fulfillments/update" => fulfillment(p, cx)?,
        "refunds/create" => refund(p, cx)?,
        "checkouts/create" | "checkouts/update" => checkout(p, cx)?,
        "customers/create" | "customers/update" => {
            Mapped { messages: vec![customer_identify(p, cx)?], ..Mapped::default() }
        }
        "products/create" | "products/update" => {
            Mapped { products: vec![product(p, cx)?], inventory_items: inventory_items(p)?, ..Mapped::default() }
        }
        "products/delete" => Mapped { deleted_products: vec![id(p, "id")?], ..Mapped::default() },
        "inventory_levels/update" => Mapped { inventory_levels: vec![inventory_level(p, cx)?], ..Mapped::default() },
        "customers/data_request" | "customers/redact" => privacy(topic, p)?,
        "shop/redact" => Mapped { privacy: Some(Privacy::ShopRedact), ..Mapped::default() },
        _ => return Ok(None),
    };
    Ok(Some(mapped))
}

/// `total_shipping_price_set.shop_money.amount` and the like.
fn money_set(p: &Map<String, Value>, field: &str) -> Option<Value> {
    amount(object(p, field).and_then(|s| object(s, "shop_money")).and_then(|m| m.get("amount")))
}

/// The time of a payload field, else the time the webhook arrived.
fn time(p: &Map<String, Value>, field: &str, cx: &Context) -> Timestamp {
    text(p, field).and_then(Timestamp::parse).unwrap_or(cx.now)
}

/// The person a payload names: identity traits and the anonymous id of the Shopify object.
fn person(p: &Map<String, Value>, anonymous_id: String) -> Who {
    let customer = object(p, "customer");
    let mut traits = Map::new();
    let pick = |field: &str| text(p, field).or_else(|| customer.and_then(|c| text(c, field)));
    for field in ["email", "phone"] {
        if let Some(v) = pick(field) {
            traits.insert(field.to_string(), json!(v));
        }
    }
    if let Some(c) = customer {
        for field in ["first_name", "last_name"] {
            if let Some(v) = text(c, field) {
                traits.insert(field.to_string(), json!(v));
            }
        }
    }
    (anonymous_id, traits)
}

/// `orders/*`: the order as `Order Completed` (or Cancelled, Fulfilled), with Segment's order properties.
fn order(p: &Map<String, Value>, event: &str, what: &str, cx: &Context) -> Result<Mapped, MapError> {
    let order_id = id(p, "id")?;
    let at = match what {
        "cancelled" => time(p, "cancelled_at", cx),
        "completed" => time(p, "created_at", cx),
        _ => time(p, "updated_at", cx),
    };
    let codes = codes(p, "discount_codes");
    let mut props = Map::new();
    props.insert("order_id".into(), json!(order_id));
    props.insert("order_number".into(), json!(text(p, "name")));
    props.insert("checkout_id".into(), json!(text(p, "checkout_token")));
    props.insert("cart_id".into(), json!(text(p, "cart_token")));
    props.insert("affiliation".into(), json!("Shopify"));
    props.insert("total".into(), amount(p.get("total_price")).unwrap_or(Value::Null));
    props.insert("subtotal".into(), amount(p.get("subtotal_price")).unwrap_or(Value::Null));
    props.insert("revenue".into(), amount(p.get("subtotal_price")).unwrap_or(Value::Null));
    props.insert("shipping".into(), money_set(p, "total_shipping_price_set").unwrap_or(Value::Null));
    props.insert("tax".into(), amount(p.get("total_tax")).unwrap_or(Value::Null));
    props.insert("discount".into(), amount(p.get("total_discounts")).unwrap_or(Value::Null));
    props.insert("coupon".into(), json!(codes.first()));
    props.insert("discount_codes".into(), json!(codes));
    // Amounts are the shop's money (what reports add up); what the customer saw and paid, in the currency they
    // shopped in, is kept beside them for messages.
    props.insert("currency".into(), json!(text(p, "currency")));
    props.insert("presentment_currency".into(), json!(text(p, "presentment_currency")));
    let presented = object(p, "total_price_set").and_then(|s| object(s, "presentment_money"));
    props.insert("presentment_total".into(), amount(presented.and_then(|m| m.get("amount"))).unwrap_or(Value::Null));
    props.insert("financial_status".into(), json!(text(p, "financial_status")));
    props.insert("order_status_url".into(), json!(text(p, "order_status_url")));
    if what == "cancelled" {
        props.insert("reason".into(), json!(text(p, "cancel_reason")));
    }
    props.insert("products".into(), Value::Array(products(p, "line_items", "variant_id")?));
    props.retain(|_, v| !v.is_null());
    let mut messages = Vec::new();
    // What the order says about the customer (profile and consent), as of the customer's own update time.
    if let Some(c) = object(p, "customer")
        && opt_id(c, "id").is_some()
    {
        messages.push(customer_identify(c, cx)?);
    }
    let who = person(p, format!("shopify-order:{order_id}"));
    messages.extend(link(&who, at, format!("shopify-order-{order_id}-link")));
    messages.push(track(event, format!("shopify-order-{order_id}-{what}"), who, at, Value::Object(props)));
    Ok(Mapped { messages, ..Mapped::default() })
}

/// `fulfillments/*`: `Order Fulfilled` once shipped, and `Order Delivered` once the carrier says delivered
/// (what review requests wait for).
fn fulfillment(p: &Map<String, Value>, cx: &Context) -> Result<Mapped, MapError> {
    let fulfillment_id = id(p, "id")?;
    let order_id = id(p, "order_id")?;
    let props = json!({
        "order_id": order_id,
        "fulfillment_id": fulfillment_id,
        "tracking_company": text(p, "tracking_company"),
        "tracking_number": text(p, "tracking_number"),
        "tracking_url": text(p, "tracking_url"),
        "products": products(p, "line_items", "variant_id")?,
    });
    let who = || person(p, format!("shopify-order:{order_id}"));
    let mut messages: Vec<Value> =
        link(&who(), time(p, "created_at", cx), format!("shopify-order-{order_id}-link")).into_iter().collect();
    if text(p, "status") == Some("success") {
        let at = time(p, "created_at", cx);
        messages.push(track(
            "Order Fulfilled",
            format!("shopify-order-{order_id}-fulfilled"),
            who(),
            at,
            props.clone(),
        ));
    }
    if text(p, "shipment_status") == Some("delivered") {
        let at = time(p, "updated_at", cx);
        let message_id = format!("shopify-fulfillment-{fulfillment_id}-delivered");
        messages.push(track("Order Delivered", message_id, who(), at, props));
    }
    Ok(Mapped { messages, ..Mapped::default() })
}

/// `refunds/create`: `Order Refunded` for the amount refunded (the successful refund transactions, else the
/// refunded line items).
fn refund(p: &Map<String, Value>, cx: &Context) -> Result<Mapped, MapError> {
    let refund_id = id(p, "id")?;
    let order_id = id(p, "order_id")?;
    let sum = |field: &str, pick: &dyn Fn(&Map<String, Value>) -> Option<f64>| -> f64 {
        p.get(field).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_object).filter_map(pick).sum()
    };
    let from_transactions = sum("transactions", &|t| {
        let refunded = text(t, "kind") == Some("refund") && text(t, "status").is_none_or(|s| s == "success");
        refunded.then(|| amount(t.get("amount")).and_then(|v| v.as_f64())).flatten()
    });
    let total = if from_transactions > 0.0 {
        from_transactions
    } else {
        sum("refund_line_items", &|r| amount(r.get("subtotal")).and_then(|v| v.as_f64()))
    };
    let currency = p
        .get("transactions")
        .and_then(Value::as_array)
        .and_then(|t| t.iter().find_map(|t| t.get("currency").and_then(Value::as_str)));
    let props = json!({"order_id": order_id, "refund_id": refund_id, "total": total, "currency": currency});
    let who = person(p, format!("shopify-order:{order_id}"));
    let message = track("Order Refunded", format!("shopify-refund-{refund_id}"), who, time(p, "created_at", cx), props);
    Ok(Mapped { messages: vec![message], ..Mapped::default() })
}

/// `checkouts/*`: `Checkout Started` with the checkout's recovery URL (`checkout_url`, the cart-restore link
/// of abandoned-cart messages). A completed checkout says nothing more: its order follows.
fn checkout(p: &Map<String, Value>, cx: &Context) -> Result<Mapped, MapError> {
    let token = text(p, "token").filter(|t| is_token(t)).map(str::to_string).or_else(|| opt_id(p, "id"));
    let token = token.ok_or_else(|| MapError::new("token", "token is required"))?;
    if p.get("completed_at").is_some_and(|c| !c.is_null()) {
        return Ok(Mapped::default());
    }
    let at = time(p, "updated_at", cx);
    let codes = codes(p, "discount_codes");
    let mut props = Map::new();
    props.insert("checkout_id".into(), json!(token));
    props.insert("cart_id".into(), json!(text(p, "cart_token").filter(|t| is_token(t)).unwrap_or(&token)));
    props.insert("checkout_url".into(), json!(text(p, "abandoned_checkout_url")));
    // Segment's Checkout Started carries the cart's `value` (what the abandoned-cart flow routes on).
    props.insert("value".into(), amount(p.get("total_price")).unwrap_or(Value::Null));
    props.insert("total".into(), amount(p.get("total_price")).unwrap_or(Value::Null));
    props.insert("subtotal".into(), amount(p.get("subtotal_price")).unwrap_or(Value::Null));
    props.insert("revenue".into(), amount(p.get("subtotal_price")).unwrap_or(Value::Null));
    props.insert("currency".into(), json!(text(p, "currency").or_else(|| text(p, "presentment_currency"))));
    props.insert("coupon".into(), json!(codes.first()));
    props.insert("products".into(), Value::Array(products(p, "line_items", "variant_id")?));
    props.retain(|_, v| !v.is_null());
    let who = person(p, format!("shopify-checkout:{token}"));
    let mut messages: Vec<Value> = link(&who, at, format!("shopify-checkout-{token}-link")).into_iter().collect();
    let message_id = format!("shopify-checkout-{token}-{}", at.as_micros());
    messages.push(track("Checkout Started", message_id, who, at, Value::Object(props)));
    Ok(Mapped { messages, ..Mapped::default() })
}

/// Shopify's marketing consent state as Kairos consent: only an explicit choice changes it (`not_subscribed`
/// is also the state of someone never asked, and must not undo a subscription made elsewhere).
fn consent_state(state: &str) -> Option<&'static str> {
    match state {
        "subscribed" => Some("subscribed"),
        "unsubscribed" => Some("unsubscribed"),
        _ => None,
    }
}

/// A customer (a `customers/*` payload, or an order's `customer`) as an identify call: profile traits, and
/// consent with its time and source, as of the customer's `updated_at` (an older update never overwrites a
/// newer one).
fn customer_identify(c: &Map<String, Value>, cx: &Context) -> Result<Value, MapError> {
    let customer_id = id(c, "id")?;
    let at = time(c, "updated_at", cx);
    let mut traits = Map::new();
    for field in ["email", "phone", "first_name", "last_name"] {
        if let Some(v) = text(c, field) {
            traits.insert(field.into(), json!(v));
        }
    }
    traits.insert("shopify_customer_id".into(), json!(customer_id));
    if let Some(tags) = text(c, "tags") {
        let tags: Vec<&str> = tags.split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
        traits.insert("tags".into(), json!(tags));
    }
    if let Some(a) = object(c, "default_address") {
        for (from, to) in [("city", "city"), ("province", "state"), ("country_code", "country"), ("zip", "postal_code")]
        {
            if let Some(v) = text(a, from) {
                traits.insert(to.into(), json!(v));
            }
        }
    }
    let mut consent = false;
    for (field, key) in [("email_marketing_consent", "email_consent"), ("sms_marketing_consent", "sms_consent")] {
        let Some(m) = object(c, field) else { continue };
        if let Some(state) = text(m, "state").and_then(consent_state) {
            traits.insert(key.into(), json!(state));
            if let Some(when) = text(m, "consent_updated_at").and_then(Timestamp::parse) {
                traits.insert(format!("{key}_at"), json!(iso(when)));
            }
            consent = true;
        }
    }
    // API versions before 2022-04 send only `accepts_marketing`.
    if object(c, "email_marketing_consent").is_none() && c.get("accepts_marketing") == Some(&Value::Bool(true)) {
        traits.insert("email_consent".into(), json!("subscribed"));
        if let Some(when) = text(c, "accepts_marketing_updated_at").and_then(Timestamp::parse) {
            traits.insert("email_consent_at".into(), json!(iso(when)));
        }
        consent = true;
    }
    if consent {
        traits.insert("consent_source".into(), json!("shopify"));
    }
    Ok(json!({
        "type": "identify",
        "messageId": format!("shopify-customer-{customer_id}-{}", at.as_micros()),
        "anonymousId": format!("shopify-customer:{customer_id}"),
        "timestamp": iso(at),
        "traits": traits,
    }))
}

/// `products/*`: the catalog entry (the cheapest variant's price and compare-at price, the variants' summed
/// stock, the product's page), dated by its `updated_at`.
fn product(p: &Map<String, Value>, cx: &Context) -> Result<Product, MapError> {
    let product_id = id(p, "id")?;
    let variants: Vec<&Map<String, Value>> =
        p.get("variants").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_object).collect();
    let price_of = |v: &Map<String, Value>| amount(v.get("price")).and_then(|a| a.as_f64());
    let cheapest = variants
        .iter()
        .filter(|v| price_of(v).is_some())
        .min_by(|a, b| price_of(a).partial_cmp(&price_of(b)).unwrap_or(std::cmp::Ordering::Equal));
    let tracked: Vec<i64> = variants
        .iter()
        .filter(|v| text(v, "inventory_management").is_some() || v.contains_key("inventory_quantity"))
        .filter_map(|v| v.get("inventory_quantity").and_then(Value::as_i64))
        .collect();
    let sells_without_stock = variants.iter().any(|v| {
        text(v, "inventory_policy") == Some("continue")
            || (v.contains_key("inventory_management") && v.get("inventory_management") == Some(&Value::Null))
    });
    let in_stock = variants.is_empty() || sells_without_stock || tracked.iter().any(|q| *q > 0);
    let active = text(p, "status").is_none_or(|s| s == "active");
    let image = object(p, "image").and_then(|i| text(i, "src")).or_else(|| {
        p.get("images").and_then(Value::as_array).and_then(|a| a.first()).and_then(|i| i.get("src")?.as_str())
    });
    let mut categories: Vec<String> = text(p, "product_type").map(str::to_string).into_iter().collect();
    if let Some(tags) = text(p, "tags") {
        categories.extend(tags.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string));
    }
    categories.truncate(kairos_domain::product::CATEGORIES_MAX);
    let compare_at = cheapest
        .and_then(|v| amount(v.get("compare_at_price")))
        .filter(|c| c.as_f64() > cheapest.and_then(|v| price_of(v)));
    let body = json!({
        "id": product_id,
        "title": text(p, "title"),
        "sku": cheapest.and_then(|v| text(v, "sku")),
        "url": text(p, "handle").map(|h| format!("{}/products/{h}", cx.store_url.trim_end_matches('/'))),
        "image_url": image,
        "price": cheapest.and_then(|v| amount(v.get("price"))),
        "compare_at_price": compare_at,
        "categories": categories,
        "inventory_quantity": (!tracked.is_empty()).then(|| tracked.iter().sum::<i64>()),
        "available": active && in_stock,
    });
    let mut body = body;
    if let Some(o) = body.as_object_mut() {
        o.retain(|_, v| !v.is_null());
    }
    Product::from_api(&body, None, time(p, "updated_at", cx))
        .map_err(|e| MapError::new(format!("product.{}", e.field.as_deref().unwrap_or("body")), e.message))
}

/// The inventory items of a product's variants, each with the product's id and the product's item count.
fn inventory_items(p: &Map<String, Value>) -> Result<Vec<(String, String, usize)>, MapError> {
    let product = id(p, "id")?;
    let items: Vec<String> = p
        .get("variants")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .take(VARIANTS_MAX)
        .filter_map(|v| v.as_object().and_then(|v| opt_id(v, "inventory_item_id")))
        .collect();
    let n = items.len();
    Ok(items.into_iter().map(|i| (i, product.clone(), n)).collect())
}

/// `inventory_levels/update`: what one location has of one inventory item (a variant).
fn inventory_level(p: &Map<String, Value>, cx: &Context) -> Result<InventoryLevel, MapError> {
    let available = match p.get("available") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().ok_or_else(|| MapError::new("available", "available must be an integer"))?),
    };
    Ok(InventoryLevel { item: id(p, "inventory_item_id")?, available, updated_at: time(p, "updated_at", cx) })
}

/// An order read from the Admin API (a backfill): what its webhooks would have said, with the same message ids
/// (so a backfill and the live webhooks never count an order twice): placed, then cancelled, fulfilled, each
/// fulfillment and each refund it lists.
pub fn backfilled_order(payload: &Value, cx: &Context) -> Result<Mapped, MapError> {
    let p = payload.as_object().ok_or_else(|| MapError::new("order", "an order must be a JSON object"))?;
    let mut m = order(p, "Order Completed", "completed", cx)?;
    if p.get("cancelled_at").is_some_and(|v| !v.is_null()) {
        m.messages.extend(order(p, "Order Cancelled", "cancelled", cx)?.messages);
    }
    if text(p, "fulfillment_status") == Some("fulfilled") {
        m.messages.extend(order(p, "Order Fulfilled", "fulfilled", cx)?.messages);
    }
    let order_id = id(p, "id")?;
    for (list, map) in [("fulfillments", fulfillment as fn(&Map<String, Value>, &Context) -> _), ("refunds", refund)] {
        for (i, item) in p.get(list).and_then(Value::as_array).into_iter().flatten().enumerate() {
            let Some(item) = item.as_object() else { continue };
            let mut item = item.clone();
            // The order's own copies may leave out what their webhooks carry about it.
            item.entry("order_id").or_insert_with(|| json!(order_id));
            for key in ["email", "customer"] {
                if let (false, Some(v)) = (item.contains_key(key), p.get(key)) {
                    item.insert(key.into(), v.clone());
                }
            }
            let mapped = map(&item, cx).map_err(|e| MapError::new(format!("{list}[{i}].{}", e.field), e.message))?;
            m.messages.extend(mapped.messages);
        }
    }
    Ok(m)
}

/// `customers/data_request` and `customers/redact`: who is named (email, phone, the customer and the orders).
fn privacy(topic: &str, p: &Map<String, Value>) -> Result<Mapped, MapError> {
    let c = object(p, "customer").ok_or_else(|| MapError::new("customer", "customer is required"))?;
    let mut person = Person {
        email: text(c, "email").map(str::to_string),
        phone: text(c, "phone").map(str::to_string),
        ..Person::default()
    };
    if c.get("id").is_some_and(|v| !v.is_null()) {
        let customer = id(c, "id").map_err(|e| MapError::new("customer.id", e.message))?;
        person.anonymous_ids.push(format!("shopify-customer:{customer}"));
    }
    let orders = if topic == "customers/redact" { "orders_to_redact" } else { "orders_requested" };
    if let Some(Value::Array(list)) = p.get(orders) {
        for (i, o) in list.iter().take(PRIVACY_ORDERS_MAX).enumerate() {
            let order = match o {
                Value::Number(n) if n.is_u64() => n.to_string(),
                Value::String(s) if is_token(s) => s.clone(),
                _ => return Err(MapError::new(format!("{orders}[{i}]"), "must be an order id")),
            };
            person.anonymous_ids.push(format!("shopify-order:{order}"));
        }
    }
    person.reference = object(p, "data_request").and_then(|d| d.get("id")).map(|v| v.to_string());
    let request = match topic {
        "customers/redact" => Privacy::Redact(person),
        _ => Privacy::DataRequest(person),
    };
    Ok(Mapped { privacy: Some(request), ..Mapped::default() })
}

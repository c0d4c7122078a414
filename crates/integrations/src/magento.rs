//! Magento 2 / Adobe Commerce REST API records (`GET /rest/V1/orders`, `/V1/customers/search`, `/V1/products`,
//! `/V1/creditmemos`), read by polling each list by `updated_at`, mapped onto Segment e-commerce events, identify
//! calls and the catalog. Magento writes times as `YYYY-MM-DD HH:MM:SS` in UTC, amounts as numbers, ids as
//! integers.
//!
//! Orders say what happened to them through their `state`: `new`, `processing`, `holded`, `complete` and `closed`
//! orders were placed (`Order Completed`, once per order whatever the later updates), `complete` ones are also
//! fulfilled, `canceled` ones cancelled. Refunds are credit memos ([`credit_memo`], one `Order Refunded` each, for
//! its own amount): the order's `total_refunded` is a running sum, which a poller sees at arbitrary moments, so
//! an event from it would count a second partial refund twice or miss it.
//!
//! Anonymous ids name the Magento object (`magento-order:{entity_id}`, `magento-customer:{id}`); the order's
//! email and billing phone link the order's anonymous id to the person, and a credit memo, which names only its
//! order, reaches the same person. Message ids are made from Magento's ids (`magento-order-{id}-completed`,
//! `magento-customer-{id}-{updated_at}`), so polling the same record again gives duplicates, not new events.
//!
//! Catalog products are keyed by Magento's numeric product id, the `product_id` order lines carry: a
//! configurable product's line names the configurable (the product with a page) while its `sku` is the chosen
//! variant's, so keying by SKU would point recommendations and back-in-stock at a variant without a page.

use std::collections::HashMap;

use kairos_domain::{Duration, Product, Timestamp};
use serde_json::{Map, Value, json};

use crate::common::{Who, amount, id, iso, link, object, opt_id, signed, text, track};
use crate::{LINE_ITEMS_MAX, MapError, Mapped};

/// Most records one search page asks for (the default maximum of Magento 2.4.7's Web API input limits).
pub const PAGE_SIZE_MAX: u32 = 300;

/// The states of a placed order (`pending_payment` and `payment_review` wait for a payment that may never come).
const PLACED: &[&str] = &["new", "processing", "holded", "complete", "closed"];
/// `status` of an enabled product (2 is disabled).
const PRODUCT_ENABLED: i64 = 1;
/// `visibility` of a product without a page of its own (a configurable product's variant).
const NOT_VISIBLE_INDIVIDUALLY: i64 = 1;
/// `state` of a credit memo whose money went back (1 is open, 3 cancelled).
const CREDIT_MEMO_REFUNDED: i64 = 2;
/// A special price's `special_to_date` is a day, included whole.
const DAY_SECONDS: i64 = 86_400;

/// The query string of one page of a search (`GET /rest/V1/orders?{query}`): the records updated at or after
/// `updated_after` (all of them without it), oldest first.
///
/// The filter is `gteq`, not `gt`: Magento's times are whole seconds, so several records can share the cursor's
/// second, and one saved in that second after the previous poll would be skipped for ever by `gt`. Reading the
/// cursor's second again only gives duplicates, which the message ids and the newer-only product rule absorb.
/// Ties are sorted by `entity_id` so pages do not overlap or skip while the cursor stays put.
pub fn search_query(updated_after: Option<Timestamp>, page: u32, page_size: u32) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    if let Some(after) = updated_after {
        let filter = "searchCriteria[filter_groups][0][filters][0]";
        q.append_pair(&format!("{filter}[field]"), "updated_at");
        q.append_pair(&format!("{filter}[value]"), &after.to_jiff().strftime("%Y-%m-%d %H:%M:%S").to_string());
        q.append_pair(&format!("{filter}[condition_type]"), "gteq");
    }
    for (i, field) in ["updated_at", "entity_id"].into_iter().enumerate() {
        q.append_pair(&format!("searchCriteria[sortOrders][{i}][field]"), field);
        q.append_pair(&format!("searchCriteria[sortOrders][{i}][direction]"), "ASC");
    }
    q.append_pair("searchCriteria[pageSize]", &page_size.clamp(1, PAGE_SIZE_MAX).to_string());
    q.append_pair("searchCriteria[currentPage]", &page.max(1).to_string());
    q.finish()
}

/// The records of a search result page (`{"items": [...], "search_criteria": {...}, "total_count": N}`) and the
/// number of the next page, None after the last. Magento answers a page past the end with the last page again,
/// so the end is where `current_page × page_size` reaches `total_count`, not an empty page.
pub fn page(body: &Value) -> Result<(Vec<&Value>, Option<u64>), MapError> {
    let b = body.as_object().ok_or_else(|| MapError::new("body", "a search result must be a JSON object"))?;
    let items: Vec<&Value> = match b.get("items") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(_) => return Err(MapError::new("items", "items must be an array")),
    };
    let total = b
        .get("total_count")
        .and_then(Value::as_u64)
        .ok_or_else(|| MapError::new("total_count", "total_count must be a count"))?;
    let criteria = object(b, "search_criteria");
    let number = |field: &str| criteria.and_then(|c| c.get(field)).and_then(Value::as_u64);
    let current = number("current_page").unwrap_or(1).max(1);
    let next = match number("page_size") {
        Some(size) if size > 0 && !items.is_empty() && current.saturating_mul(size) < total => Some(current + 1),
        _ => None,
    };
    Ok((items, next))
}

/// When a record was last updated: the cursor the poller keeps (the newest it has mapped).
pub fn updated_at(record: &Value) -> Option<Timestamp> {
    record.get("updated_at").and_then(Value::as_str).and_then(Timestamp::parse)
}

fn fields(record: &Value) -> Result<&Map<String, Value>, MapError> {
    record.as_object().ok_or_else(|| MapError::new("record", "a record must be a JSON object"))
}

/// A record's time (UTC without an offset), else now.
fn time(p: &Map<String, Value>, field: &str, now: Timestamp) -> Timestamp {
    text(p, field).and_then(Timestamp::parse).unwrap_or(now)
}

/// The person an order names: its email, billing phone and names.
fn person(p: &Map<String, Value>, anonymous_id: String) -> Who {
    let billing = object(p, "billing_address");
    let mut traits = Map::new();
    let from_billing = |field: &str| billing.and_then(|b| text(b, field));
    for (trait_name, value) in [
        ("email", text(p, "customer_email").or_else(|| from_billing("email"))),
        ("phone", from_billing("telephone")),
        ("first_name", text(p, "customer_firstname").or_else(|| from_billing("firstname"))),
        ("last_name", text(p, "customer_lastname").or_else(|| from_billing("lastname"))),
    ] {
        if let Some(v) = value {
            traits.insert(trait_name.into(), json!(v));
        }
    }
    (anonymous_id, traits)
}

/// An order (`GET /V1/orders` item): the link of its anonymous id to the person, then one event per fact its
/// state shows, each with a message id of its own.
pub fn order(record: &Value, now: Timestamp) -> Result<Mapped, MapError> {
    let p = fields(record)?;
    let order_id = id(p, "entity_id")?;
    let state = text(p, "state").or_else(|| text(p, "status")).unwrap_or_default();
    let created = time(p, "created_at", now);
    let updated = time(p, "updated_at", now);
    let props = order_properties(p, &order_id)?;
    let who = person(p, format!("magento-order:{order_id}"));
    let mut messages: Vec<Value> = link(&who, created, format!("magento-order-{order_id}-link")).into_iter().collect();
    let mut emit = |event: &str, what: &str, at: Timestamp| {
        messages.push(track(event, format!("magento-order-{order_id}-{what}"), who.clone(), at, props.clone()));
    };
    if PLACED.contains(&state) {
        emit("Order Completed", "completed", created);
    }
    // A completed order has been invoiced and shipped; Magento keeps no separate completion time.
    if state == "complete" {
        emit("Order Fulfilled", "fulfilled", updated);
    }
    if state == "canceled" {
        emit("Order Cancelled", "cancelled", updated);
    }
    Ok(Mapped { messages, ..Mapped::default() })
}

fn order_properties(p: &Map<String, Value>, order_id: &str) -> Result<Value, MapError> {
    let coupon = text(p, "coupon_code");
    let mut props = Map::new();
    props.insert("order_id".into(), json!(order_id));
    props.insert("order_number".into(), json!(text(p, "increment_id")));
    props.insert("affiliation".into(), json!("Magento"));
    props.insert("total".into(), amount(p.get("grand_total")).unwrap_or(Value::Null));
    props.insert("subtotal".into(), amount(p.get("subtotal")).unwrap_or(Value::Null));
    props.insert("revenue".into(), amount(p.get("subtotal")).unwrap_or(Value::Null));
    props.insert("shipping".into(), amount(p.get("shipping_amount")).unwrap_or(Value::Null));
    props.insert("tax".into(), amount(p.get("tax_amount")).unwrap_or(Value::Null));
    // Magento writes the discount as a negative amount.
    let discount = signed(p.get("discount_amount")).map(f64::abs).and_then(serde_json::Number::from_f64);
    props.insert("discount".into(), discount.map_or(Value::Null, Value::Number));
    props.insert("coupon".into(), json!(coupon));
    props.insert("discount_codes".into(), json!(coupon.into_iter().collect::<Vec<_>>()));
    props.insert("currency".into(), json!(text(p, "order_currency_code")));
    props.insert("status".into(), json!(text(p, "status")));
    props.insert("products".into(), Value::Array(line_items(p)?));
    props.retain(|_, v| !v.is_null());
    Ok(Value::Object(props))
}

/// Whether an order line is the child of another (the variant line under a configurable product's line, a
/// bundle's parts): those repeat what their parent line says and would count the product twice.
fn parent_of(item: &Map<String, Value>) -> Option<String> {
    opt_id(item, "parent_item_id").filter(|parent| parent != "0")
}

/// An order's `items` as Segment's `products`: the top-level lines, a configurable line's variant being the
/// product id of its child line.
fn line_items(p: &Map<String, Value>) -> Result<Vec<Value>, MapError> {
    let Some(items) = p.get("items") else { return Ok(Vec::new()) };
    let items = items.as_array().ok_or_else(|| MapError::new("items", "items must be an array"))?;
    let mut lines = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        lines.push(item.as_object().ok_or_else(|| MapError::new(format!("items[{i}]"), "must be an object"))?);
    }
    let mut variants: HashMap<String, String> = HashMap::new();
    for child in &lines {
        if let (Some(parent), Some(product)) = (parent_of(child), opt_id(child, "product_id")) {
            variants.entry(parent).or_insert(product);
        }
    }
    let products = lines.iter().filter(|item| parent_of(item).is_none()).take(LINE_ITEMS_MAX).map(|item| {
        // Quantities are decimals (`1.0000`); a negative one (an edited order) is no quantity.
        let quantity = signed(item.get("qty_ordered")).map_or(1, |q| q.max(0.0).round() as i64);
        let variant = opt_id(item, "item_id").and_then(|line| variants.get(&line));
        let mut out = Map::new();
        out.insert("product_id".into(), json!(opt_id(item, "product_id")));
        out.insert("variant".into(), json!(variant));
        out.insert("sku".into(), json!(text(item, "sku")));
        out.insert("name".into(), json!(text(item, "name")));
        out.insert("price".into(), amount(item.get("price")).unwrap_or(Value::Null));
        out.insert("quantity".into(), json!(quantity));
        out.retain(|_, v| !v.is_null());
        Value::Object(out)
    });
    Ok(products.collect())
}

/// A credit memo (`GET /V1/creditmemos` item) whose money went back: `Order Refunded` for its amount, about
/// the order's person. An open one (an online refund still pending) says nothing yet; its update will.
pub fn credit_memo(record: &Value, now: Timestamp) -> Result<Mapped, MapError> {
    let m = fields(record)?;
    let memo_id = id(m, "entity_id")?;
    let order_id = id(m, "order_id")?;
    if m.get("state").and_then(Value::as_i64).is_some_and(|state| state != CREDIT_MEMO_REFUNDED) {
        return Ok(Mapped::default());
    }
    let props = json!({
        "order_id": order_id,
        "refund_id": memo_id,
        "refund_number": text(m, "increment_id"),
        "total": amount(m.get("grand_total")).unwrap_or(json!(0.0)),
        "currency": text(m, "order_currency_code"),
    });
    let who = (format!("magento-order:{order_id}"), Map::new());
    let at = time(m, "created_at", now);
    let message = track("Order Refunded", format!("magento-creditmemo-{memo_id}"), who, at, props);
    Ok(Mapped { messages: vec![message], ..Mapped::default() })
}

/// A customer (`GET /V1/customers/search` item) as an identify call: profile traits, the default billing
/// address, and newsletter consent (`extension_attributes.is_subscribed`, source `magento`), as of the
/// customer's `updated_at` (an older update never overwrites a newer one).
pub fn customer(record: &Value, now: Timestamp) -> Result<Mapped, MapError> {
    let c = fields(record)?;
    let customer_id = id(c, "id")?;
    let at = time(c, "updated_at", now);
    let mut traits = Map::new();
    for (from, to) in [("email", "email"), ("firstname", "first_name"), ("lastname", "last_name"), ("dob", "birthday")]
    {
        if let Some(v) = text(c, from) {
            traits.insert(to.into(), json!(v));
        }
    }
    if let Some(a) = billing_address(c) {
        let region = object(a, "region").and_then(|r| text(r, "region_code"));
        for (to, value) in [
            ("phone", text(a, "telephone")),
            ("city", text(a, "city")),
            ("state", region),
            ("country", text(a, "country_id")),
            ("postal_code", text(a, "postcode")),
        ] {
            if let Some(v) = value {
                traits.insert(to.into(), json!(v));
            }
        }
    }
    traits.insert("magento_customer_id".into(), json!(customer_id));
    // Only `true` says something: `false` is also the state of someone never asked, and would undo a
    // subscription made elsewhere (a Kairos form) at the customer's next edit in Magento.
    let subscribed = object(c, "extension_attributes").and_then(|e| e.get("is_subscribed")).and_then(Value::as_bool);
    if subscribed == Some(true) {
        traits.insert("email_consent".into(), json!("subscribed"));
        traits.insert("consent_source".into(), json!("magento"));
    }
    let message = json!({
        "type": "identify",
        "messageId": format!("magento-customer-{customer_id}-{}", at.as_micros()),
        "anonymousId": format!("magento-customer:{customer_id}"),
        "timestamp": iso(at),
        "traits": traits,
    });
    Ok(Mapped { messages: vec![message], ..Mapped::default() })
}

/// The customer's default billing address (flagged, or named by `default_billing`), else the first.
fn billing_address(c: &Map<String, Value>) -> Option<&Map<String, Value>> {
    let addresses: Vec<&Map<String, Value>> =
        c.get("addresses").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_object).collect();
    let default = opt_id(c, "default_billing");
    addresses
        .iter()
        .find(|a| a.get("default_billing") == Some(&Value::Bool(true)))
        .or_else(|| addresses.iter().find(|a| default.is_some() && opt_id(a, "id") == default))
        .or_else(|| addresses.first())
        .copied()
}

/// A product (`GET /V1/products` item) as the catalog entry: its price (the special price while it applies and
/// is lower, with the regular price as compare-at), stock, page and image under `base_url`, dated by its
/// `updated_at`. Disabled, out-of-stock and not-individually-visible products are not available.
pub fn product(record: &Value, base_url: &str, now: Timestamp) -> Result<Mapped, MapError> {
    let p = fields(record)?;
    let product_id = id(p, "id")?;
    let attrs = custom_attributes(p)?;
    let attr = |code: &str| attrs.get(code).and_then(|v| v.as_str()).map(str::trim).filter(|s| !s.is_empty());
    let base = base_url.trim_end_matches('/');
    // A configurable, bundle or grouped product's price comes from its children; its own is 0.
    let composite = matches!(text(p, "type_id"), Some("configurable" | "bundle" | "grouped"));
    let regular = amount(p.get("price")).filter(|v| !(composite && v.as_f64() == Some(0.0)));
    let special = attrs.get("special_price").and_then(|v| amount(Some(v))).filter(|_| {
        let from = attr("special_from_date").and_then(Timestamp::parse);
        let to = attr("special_to_date").and_then(Timestamp::parse);
        from.is_none_or(|from| from <= now)
            && to.is_none_or(|to| now < to.saturating_add(Duration::from_secs(DAY_SECONDS)))
    });
    let (price, compare_at) = match (special, regular) {
        (Some(s), Some(r)) if s.as_f64() < r.as_f64() => (Some(s), Some(r)),
        (_, regular) => (regular, None),
    };
    let stock = object(p, "extension_attributes").and_then(|e| object(e, "stock_item"));
    // A composite product's own quantity means nothing: its children hold the stock.
    let managed = !composite && stock.is_some_and(|s| s.get("manage_stock") != Some(&Value::Bool(false)));
    let quantity = stock.filter(|_| managed).and_then(|s| signed(s.get("qty"))).map(|q| q.floor() as i64);
    let in_stock = stock.and_then(|s| s.get("is_in_stock")).and_then(Value::as_bool).unwrap_or(true);
    let enabled = p.get("status").and_then(Value::as_i64).is_none_or(|s| s == PRODUCT_ENABLED);
    let visible = p.get("visibility").and_then(Value::as_i64).is_none_or(|v| v != NOT_VISIBLE_INDIVIDUALLY);
    let image = attr("image").filter(|i| *i != "no_selection");
    let mut body = json!({
        "id": product_id,
        "title": text(p, "name"),
        "sku": text(p, "sku"),
        "url": attr("url_key").filter(|_| visible).map(|key| format!("{base}/{key}.html")),
        "image_url": image.map(|i| format!("{base}/media/catalog/product/{}", i.trim_start_matches('/'))),
        "price": price,
        "compare_at_price": compare_at,
        "inventory_quantity": quantity,
        "available": enabled && in_stock && visible,
    });
    if let Some(o) = body.as_object_mut() {
        o.retain(|_, v| !v.is_null());
    }
    let product = Product::from_api(&body, None, time(p, "updated_at", now))
        .map_err(|e| MapError::new(format!("product.{}", e.field.as_deref().unwrap_or("body")), e.message))?;
    Ok(Mapped { products: vec![product], ..Mapped::default() })
}

/// `custom_attributes` (`[{"attribute_code": "url_key", "value": "..."}]`) by code; entries of another shape are
/// skipped.
fn custom_attributes(p: &Map<String, Value>) -> Result<HashMap<&str, &Value>, MapError> {
    let Some(list) = p.get("custom_attributes") else { return Ok(HashMap::new()) };
    let list =
        list.as_array().ok_or_else(|| MapError::new("custom_attributes", "custom_attributes must be an array"))?;
    Ok(list.iter().filter_map(|a| Some((a.get("attribute_code")?.as_str()?, a.get("value")?))).collect())
}

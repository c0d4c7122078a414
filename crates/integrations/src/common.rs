//! Helpers every platform's mapping shares: reading ids, text, amounts and times from payloads, and writing
//! the Segment messages (`identify` links, `track` events) Kairos ingests.

use kairos_domain::Timestamp;
use serde_json::{Map, Value, json};

use crate::{LINE_ITEMS_MAX, MapError};

/// Who a message is about: the anonymous id naming the platform's object, and identity traits (email, phone,
/// names).
pub(crate) type Who = (String, Map<String, Value>);

/// A platform's id (an integer, or a string in some payloads) as text.
pub(crate) fn id(p: &Map<String, Value>, field: &str) -> Result<String, MapError> {
    match p.get(field) {
        Some(Value::Number(n)) if n.is_u64() => Ok(n.to_string()),
        Some(Value::String(s)) if is_token(s) => Ok(s.clone()),
        Some(_) => Err(MapError::new(field, format!("{field} must be an id"))),
        None => Err(MapError::new(field, format!("{field} is required"))),
    }
}

/// Text that can name an object (it becomes part of identities and message ids): 1 to 128 printable
/// characters, no spaces.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && !s.chars().any(|c| c.is_control() || c.is_whitespace())
}

pub(crate) fn opt_id(p: &Map<String, Value>, field: &str) -> Option<String> {
    id(p, field).ok()
}

pub(crate) fn text<'a>(p: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    p.get(field).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

pub(crate) fn object<'a>(p: &'a Map<String, Value>, field: &str) -> Option<&'a Map<String, Value>> {
    p.get(field).and_then(Value::as_object)
}

/// A decimal amount (`"19.99"`, or a number) as a JSON number.
/// Amounts are never negative on events (a refund is its own event with a positive amount): a negative or
/// non-numeric one is left out rather than refused.
pub(crate) fn amount(v: Option<&Value>) -> Option<Value> {
    signed(v).filter(|x| *x >= 0.0).and_then(serde_json::Number::from_f64).map(Value::Number)
}

/// A decimal amount with its sign (WooCommerce writes refunds as negative totals).
pub(crate) fn signed(v: Option<&Value>) -> Option<f64> {
    let x = match v? {
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        Value::Number(n) => n.as_f64()?,
        _ => return None,
    };
    x.is_finite().then_some(x)
}

pub(crate) fn iso(t: Timestamp) -> String {
    t.to_jiff().to_string()
}

/// Links the anonymous id to the person's email and phone (identity resolution links identities through
/// identify calls), before the events that name only the anonymous id. None without either.
pub(crate) fn link(who: &Who, at: Timestamp, message_id: String) -> Option<Value> {
    let traits: Map<String, Value> =
        who.1.iter().filter(|(k, _)| *k == "email" || *k == "phone").map(|(k, v)| (k.clone(), v.clone())).collect();
    (!traits.is_empty()).then(|| {
        json!({
            "type": "identify",
            "messageId": message_id,
            "anonymousId": who.0,
            "timestamp": iso(at),
            "traits": traits,
        })
    })
}

pub(crate) fn track(event: &str, message_id: String, who: Who, at: Timestamp, props: Value) -> Value {
    json!({
        "type": "track",
        "event": event,
        "messageId": message_id,
        "anonymousId": who.0,
        "timestamp": iso(at),
        "properties": props,
        "context": {"traits": who.1},
    })
}

/// Line items as Segment's `products` array (`variant_field`: the platform's name for the variant's id).
pub(crate) fn products(p: &Map<String, Value>, field: &str, variant_field: &str) -> Result<Vec<Value>, MapError> {
    let Some(items) = p.get(field) else { return Ok(Vec::new()) };
    let items = items.as_array().ok_or_else(|| MapError::new(field, format!("{field} must be an array")))?;
    items
        .iter()
        .take(LINE_ITEMS_MAX)
        .enumerate()
        .map(|(i, item)| {
            let item = item.as_object().ok_or_else(|| MapError::new(format!("{field}[{i}]"), "must be an object"))?;
            // A negative quantity (an edited order) is no quantity: Segment's products carry positive ones.
            let quantity = item.get("quantity").and_then(Value::as_i64).unwrap_or(1).max(0);
            let mut out = Map::new();
            // A variant id of 0 is WooCommerce's "no variation".
            let variant = opt_id(item, variant_field).filter(|v| v != "0");
            let product_id = opt_id(item, "product_id").filter(|v| v != "0").or_else(|| variant.clone());
            out.insert("product_id".into(), json!(product_id));
            out.insert("variant".into(), json!(variant));
            out.insert("sku".into(), json!(text(item, "sku")));
            out.insert("name".into(), json!(text(item, "title").or_else(|| text(item, "name"))));
            out.insert("price".into(), amount(item.get("price")).unwrap_or(Value::Null));
            out.insert("quantity".into(), json!(quantity));
            out.retain(|_, v| !v.is_null());
            Ok(Value::Object(out))
        })
        .collect()
}

/// The codes of an order's discounts (`discount_codes[].code`, `coupon_lines[].code`).
pub(crate) fn codes<'a>(p: &'a Map<String, Value>, field: &str) -> Vec<&'a str> {
    p.get(field)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|d| d.get("code").and_then(Value::as_str)).collect())
        .unwrap_or_default()
}

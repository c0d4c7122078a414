//! Events in the Segment Tracking API shape, validated into domain values.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::parse_identifier;
use crate::json::EVENT_JSON_DEPTH_MAX;
use crate::{Duration, JsonMap, MessageId, Timestamp, ValidationError};

/// Segment's limit for one event (serialized JSON).
pub const EVENT_BYTES_MAX: usize = 32 * 1024;
/// Segment's limit for one batch request body.
pub const BATCH_BYTES_MAX: usize = 500 * 1024;
/// Longest event name accepted.
pub const EVENT_NAME_CHARS_MAX: usize = 255;
/// A client timestamp further in the future than this is replaced by the receive time.
pub const FUTURE_SKEW_MAX: Duration = Duration::from_secs(86_400);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Track,
    Identify,
    Page,
    Screen,
    Alias,
    Group,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Track => "track",
            EventKind::Identify => "identify",
            EventKind::Page => "page",
            EventKind::Screen => "screen",
            EventKind::Alias => "alias",
            EventKind::Group => "group",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "track" => EventKind::Track,
            "identify" => EventKind::Identify,
            "page" => EventKind::Page,
            "screen" => EventKind::Screen,
            "alias" => EventKind::Alias,
            "group" => EventKind::Group,
            _ => return None,
        })
    }
}

/// One validated event. `name` is the track event name, or the page/screen name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub message_id: MessageId,
    pub kind: EventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "JsonMap::is_empty")]
    pub properties: JsonMap,
    #[serde(default, skip_serializing_if = "JsonMap::is_empty")]
    pub traits: JsonMap,
    #[serde(default, skip_serializing_if = "JsonMap::is_empty")]
    pub context: JsonMap,
    pub timestamp: Timestamp,
    pub received_at: Timestamp,
    /// Emitted by Kairos itself (never set from the wire): not the person's activity.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub system: bool,
}

impl Event {
    /// Whether Kairos emitted this event, as opposed to the store or the person.
    pub fn is_system(&self) -> bool {
        self.system
    }

    /// An event Kairos emits ([`SystemEvent`](crate::SystemEvent)) for a contact at `at`.
    pub fn emitted(kind: crate::SystemEvent, message_id: String, properties: JsonMap, at: Timestamp) -> Event {
        Event::system(kind.as_str(), message_id, properties, at)
    }

    /// A track event flagged as written by Kairos, under any name (tests and benchmarks build events with it).
    pub fn system(name: &str, message_id: String, properties: JsonMap, at: Timestamp) -> Event {
        let mut context = JsonMap::new();
        context.insert("library".into(), serde_json::json!({"name": "kairos"}));
        Event {
            message_id: MessageId::generated(message_id),
            kind: EventKind::Track,
            name: Some(name.to_string()),
            user_id: None,
            anonymous_id: None,
            previous_id: None,
            group_id: None,
            category: None,
            properties,
            traits: JsonMap::new(),
            context,
            timestamp: at,
            received_at: at,
            system: true,
        }
    }

    /// Validates one Segment payload. `implied` is the kind fixed by the endpoint (`/v1/track`), or None inside
    /// a batch, where `type` is required. `new_id` makes a message id when the payload has none.
    /// Field paths in errors are relative to the payload (`properties`, `event`).
    pub fn from_segment(
        raw: Value,
        implied: Option<EventKind>,
        received_at: Timestamp,
        new_id: &mut dyn FnMut() -> String,
    ) -> Result<Event, ValidationError> {
        let Value::Object(mut obj) = raw else {
            return Err(ValidationError::without_field("invalid_type", "each event must be a JSON object"));
        };
        let obj = &mut obj;
        let kind = match obj.get("type") {
            None | Some(Value::Null) => implied
                .ok_or_else(|| ValidationError::new("missing_field", "type", "type is required in a batch item"))?,
            Some(Value::String(s)) => {
                let k = EventKind::parse(s).ok_or_else(|| {
                    ValidationError::new(
                        "invalid_value",
                        "type",
                        format!("type must be one of track, identify, page, screen, alias, group (got {s:?})"),
                    )
                })?;
                if let Some(implied) = implied
                    && implied != k
                {
                    return Err(ValidationError::new(
                        "invalid_value",
                        "type",
                        format!("type {s:?} does not match the /v1/{} endpoint", implied.as_str()),
                    ));
                }
                k
            }
            Some(_) => return Err(ValidationError::new("invalid_type", "type", "type must be a string")),
        };

        let user_id = opt_id(obj, "userId")?;
        let anonymous_id = opt_id(obj, "anonymousId")?;
        if kind != EventKind::Alias && user_id.is_none() && anonymous_id.is_none() {
            return Err(ValidationError::new("missing_field", "userId", "either userId or anonymousId is required"));
        }
        let message_id = match obj.get("messageId") {
            None | Some(Value::Null) => MessageId::generated(new_id()),
            Some(Value::String(s)) => MessageId::parse(s, "messageId")?,
            Some(_) => return Err(ValidationError::new("invalid_type", "messageId", "messageId must be a string")),
        };

        let name = match kind {
            EventKind::Track => {
                let name = opt_str(obj, "event")?
                    .ok_or_else(|| ValidationError::new("missing_field", "event", "event is required for track"))?;
                let name = name.trim();
                if name.is_empty() {
                    return Err(ValidationError::new("empty_value", "event", "event must not be empty"));
                }
                if name.chars().count() > EVENT_NAME_CHARS_MAX {
                    return Err(ValidationError::new(
                        "too_long",
                        "event",
                        format!("event is longer than {EVENT_NAME_CHARS_MAX} characters"),
                    ));
                }
                Some(name.to_string())
            }
            EventKind::Page | EventKind::Screen => opt_str(obj, "name")?.map(str::to_string),
            _ => None,
        };
        let previous_id = if kind == EventKind::Alias {
            let p = opt_id(obj, "previousId")?;
            if p.is_none() {
                return Err(ValidationError::new("missing_field", "previousId", "previousId is required for alias"));
            }
            if user_id.is_none() {
                return Err(ValidationError::new("missing_field", "userId", "userId is required for alias"));
            }
            p
        } else {
            None
        };
        let group_id = if kind == EventKind::Group {
            let g = opt_id(obj, "groupId")?;
            if g.is_none() {
                return Err(ValidationError::new("missing_field", "groupId", "groupId is required for group"));
            }
            g
        } else {
            None
        };

        let properties = opt_object(obj, "properties")?;
        let traits = opt_object(obj, "traits")?;
        let context = opt_object(obj, "context")?;
        for (field, map) in [("properties", &properties), ("traits", &traits), ("context", &context)] {
            check_depth(field, map)?;
        }
        if kind == EventKind::Track
            && let Some(name) = &name
        {
            check_commerce_amounts(name, &properties)?;
        }
        let category = opt_str(obj, "category")?.map(str::to_string);

        let timestamp = opt_time(obj, "timestamp")?;
        let original = opt_time(obj, "originalTimestamp")?;
        let sent_at = opt_time(obj, "sentAt")?;
        let timestamp = resolve_timestamp(timestamp, original, sent_at, received_at);

        Ok(Event {
            message_id,
            kind,
            name,
            user_id,
            anonymous_id,
            previous_id,
            group_id,
            category,
            properties,
            traits,
            context,
            timestamp,
            received_at,
            system: false,
        })
    }

    /// The traits an event carries: identify/group traits, else `context.traits` (analytics.js puts them there).
    pub fn identify_traits(&self) -> &JsonMap {
        if !self.traits.is_empty() {
            return &self.traits;
        }
        static EMPTY: std::sync::OnceLock<JsonMap> = std::sync::OnceLock::new();
        match self.context.get("traits") {
            Some(Value::Object(m)) => m,
            _ => EMPTY.get_or_init(JsonMap::new),
        }
    }
}

/// Segment's rule: the client `timestamp` wins; otherwise `originalTimestamp` corrected by the client clock skew
/// (`receivedAt - sentAt`); otherwise the receive time. Anything over a day in the future is clamped.
fn resolve_timestamp(
    timestamp: Option<Timestamp>,
    original: Option<Timestamp>,
    sent_at: Option<Timestamp>,
    received_at: Timestamp,
) -> Timestamp {
    let ts = match (timestamp, original, sent_at) {
        (Some(t), _, _) => t,
        (None, Some(o), Some(s)) => Timestamp(o.0.saturating_add(received_at.0.saturating_sub(s.0))),
        (None, Some(o), None) => o,
        _ => received_at,
    };
    if ts.0 > received_at.0.saturating_add(FUTURE_SKEW_MAX.0) { received_at } else { ts }
}

fn opt_str<'a>(obj: &'a JsonMap, key: &str) -> Result<Option<&'a str>, ValidationError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ValidationError::new("invalid_type", key, format!("{key} must be a string"))),
    }
}

/// Ids may be strings or numbers (some SDKs send numeric user ids); numbers become their decimal text.
fn opt_id(obj: &JsonMap, key: &str) -> Result<Option<String>, ValidationError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => parse_identifier(s, key).map(Some),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(ValidationError::new("invalid_type", key, format!("{key} must be a string"))),
    }
}

fn opt_object(obj: &mut JsonMap, key: &str) -> Result<JsonMap, ValidationError> {
    match obj.remove(key) {
        None | Some(Value::Null) => Ok(JsonMap::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(ValidationError::new("invalid_type", key, format!("{key} must be a JSON object"))),
    }
}

/// Refuses nesting a stored row could not be read back with (see [`crate::json`]).
pub fn check_depth(field: &str, map: &JsonMap) -> Result<(), ValidationError> {
    let depth = 1 + map.values().map(crate::json::depth).max().unwrap_or(0);
    if depth > EVENT_JSON_DEPTH_MAX {
        return Err(ValidationError::new(
            "too_deep",
            field,
            format!("{field} nests {depth} levels deep; at most {EVENT_JSON_DEPTH_MAX} are accepted"),
        ));
    }
    Ok(())
}

/// Segment's e-commerce events (V2 spec) whose amounts and quantities feed revenue, AOV and carts.
const COMMERCE_EVENTS: &[&str] = &[
    "Products Searched",
    "Product List Viewed",
    "Product List Filtered",
    "Promotion Viewed",
    "Promotion Clicked",
    "Product Clicked",
    "Product Viewed",
    "Product Added",
    "Product Removed",
    "Cart Viewed",
    "Checkout Started",
    "Checkout Step Viewed",
    "Checkout Step Completed",
    "Payment Info Entered",
    "Order Updated",
    "Order Completed",
    "Order Refunded",
    "Order Cancelled",
    "Coupon Entered",
    "Coupon Applied",
    "Coupon Denied",
    "Coupon Removed",
    "Product Added to Wishlist",
    "Product Removed from Wishlist",
    "Wishlist Product Added to Cart",
    "Product Shared",
    "Cart Shared",
    "Product Reviewed",
];
/// Money fields of those events (order level and per product). A refund is its own event with a positive amount,
/// so none of these is ever negative.
const AMOUNT_FIELDS: &[&str] = &["total", "revenue", "value", "subtotal", "price", "shipping", "tax", "discount"];

/// Amounts and quantities of e-commerce events must be non-negative numbers (or numeric strings, which some
/// platforms send): a negative order total would make revenue and AOV negative for the whole store.
fn check_commerce_amounts(name: &str, properties: &JsonMap) -> Result<(), ValidationError> {
    if !COMMERCE_EVENTS.contains(&name) {
        return Ok(());
    }
    check_amounts(properties, "properties")?;
    if let Some(Value::Array(products)) = properties.get("products") {
        for (i, p) in products.iter().enumerate() {
            if let Value::Object(p) = p {
                check_amounts(p, &format!("properties.products[{i}]"))?;
            }
        }
    }
    Ok(())
}

fn check_amounts(map: &JsonMap, at: &str) -> Result<(), ValidationError> {
    let number = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    };
    for key in AMOUNT_FIELDS.iter().chain(&["quantity"]) {
        let Some(v) = map.get(*key).filter(|v| !v.is_null()) else { continue };
        let field = format!("{at}.{key}");
        match number(v) {
            None => {
                return Err(ValidationError::new("invalid_type", field, format!("{key} must be a number")));
            }
            Some(x) if x < 0.0 => {
                return Err(ValidationError::new(
                    "negative_amount",
                    field,
                    format!("{key} must not be negative (a refund is an Order Refunded event with a positive amount)"),
                ));
            }
            Some(x) if x > crate::money::MONEY_MAJOR_MAX => {
                return Err(ValidationError::new(
                    "too_large",
                    field,
                    format!("{key} is larger than {:e}", crate::money::MONEY_MAJOR_MAX),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn opt_time(obj: &JsonMap, key: &str) -> Result<Option<Timestamp>, ValidationError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Timestamp::parse(s).map(Some).ok_or_else(|| {
            ValidationError::new(
                "invalid_timestamp",
                key,
                format!("{key} must be an ISO-8601 date-time like 2026-11-23T10:00:00Z (got {s:?})"),
            )
        }),
        Some(_) => Err(ValidationError::new("invalid_type", key, format!("{key} must be an ISO-8601 string"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value, implied: Option<EventKind>) -> Result<Event, ValidationError> {
        let mut n = 0;
        Event::from_segment(v, implied, Timestamp::parse("2026-11-23T10:00:00Z").unwrap(), &mut || {
            n += 1;
            format!("gen-{n}")
        })
    }

    #[test]
    fn accepts_analytics_js_track() {
        let e = parse(
            json!({"type":"track","event":"Product Added","userId":"u1","messageId":"m1",
                   "properties":{"product_id":"p1","price":19.99},
                   "context":{"timezone":"Europe/Helsinki","traits":{"email":"a@b.fi"}},
                   "timestamp":"2026-11-23T11:00:00+02:00","integrations":{}}),
            None,
        )
        .unwrap();
        assert_eq!(e.kind, EventKind::Track);
        assert_eq!(e.name.as_deref(), Some("Product Added"));
        assert_eq!(e.timestamp.to_string(), "2026-11-23T09:00:00Z");
        assert_eq!(e.identify_traits().get("email"), Some(&json!("a@b.fi")));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (json!({"event":"X"}), "userId"),
            (json!({"userId":"u"}), "event"),
            (json!({"userId":"u","event":"X","properties":[1]}), "properties"),
            (json!({"userId":"u","event":"X","timestamp":"soon"}), "timestamp"),
            (json!({"userId":{},"event":"X"}), "userId"),
            (json!({"userId":"u","event":7}), "event"),
            (json!({"userId":"u","event":"X","messageId":5}), "messageId"),
            (json!({"userId":"u","event":"X","type":"identify"}), "type"),
        ];
        for (v, field) in cases {
            let err = parse(v.clone(), Some(EventKind::Track)).unwrap_err();
            assert_eq!(err.field.as_deref(), Some(field), "{v}");
        }
        assert_eq!(parse(json!({"userId":"u"}), None).unwrap_err().field.as_deref(), Some("type"));
        assert_eq!(parse(json!({"type":"alias","userId":"u"}), None).unwrap_err().field.as_deref(), Some("previousId"));
    }

    #[test]
    fn future_timestamps_are_clamped_and_skew_corrected() {
        let e = parse(json!({"userId":"u","event":"X","timestamp":"2030-01-01T00:00:00Z"}), Some(EventKind::Track))
            .unwrap();
        assert_eq!(e.timestamp, e.received_at);
        let e = parse(
            json!({"userId":"u","event":"X","originalTimestamp":"2026-11-23T10:00:00Z","sentAt":"2026-11-23T10:05:00Z"}),
            Some(EventKind::Track),
        )
        .unwrap();
        assert_eq!(e.timestamp.to_string(), "2026-11-23T09:55:00Z");
        let e = parse(json!({"anonymousId":"a","event":"X"}), Some(EventKind::Track)).unwrap();
        assert_eq!(e.message_id.as_str(), "gen-1");
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            crate::json::arb_json_scalar(),
            prop::sample::select(vec!["track", "identify", "alias", "page", "2026-11-23T10:00:00Z", "u1"])
                .prop_map(|s| Value::String(s.into())),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        prop::sample::select(vec![
                            "type",
                            "userId",
                            "anonymousId",
                            "event",
                            "messageId",
                            "properties",
                            "traits",
                            "context",
                            "timestamp",
                            "previousId",
                            "groupId",
                            "sentAt",
                            "originalTimestamp",
                            "name",
                        ]),
                        inner
                    ),
                    0..8
                )
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
            ]
        })
    }

    proptest! {
        /// Arbitrary payloads never panic: they parse or give an error naming a field.
        #[test]
        fn from_segment_never_panics(v in json_value(), implied in prop::option::of(prop::sample::select(vec![EventKind::Track, EventKind::Identify, EventKind::Alias]))) {
            let _ = Event::from_segment(v, implied, Timestamp::from_secs(1_800_000_000), &mut || "id".to_string());
        }

        #[test]
        fn timestamps_and_durations_never_panic(s in ".{0,40}") {
            let _ = Timestamp::parse(&s);
            let _ = crate::Duration::parse(&s);
            let _ = crate::Email::parse(&s);
            let _ = crate::Phone::parse(&s);
        }
    }
}

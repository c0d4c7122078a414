//! What erasure (SPEC 16 "Data rights") leaves of a person's data: the shape of their activity (event names,
//! times, order and cart figures, the messages' flow, campaign and status), never who they are (addresses,
//! names, ids, traits, device and network context, message content).

use serde_json::Value;

use crate::{ConsentStatus, Contact, Event, JsonMap, MessageData, Timestamp};

/// Event properties erasure keeps: commerce figures (what the profile's aggregates and revenue reports are
/// computed from) and Kairos's own message references. Everything else may name or locate the person
/// (`email`, `checkout_url`, `address`, free text) and goes.
const KEPT_PROPERTIES: &[&str] = &[
    "order_id",
    "checkout_id",
    "cart_id",
    "total",
    "revenue",
    "value",
    "subtotal",
    "shipping",
    "tax",
    "discount",
    "currency",
    "coupon",
    "products",
    "product_id",
    "sku",
    "category",
    "brand",
    "variant",
    "price",
    "quantity",
    "name",
    "message_id",
    "flow_id",
    "step_id",
    "campaign_id",
    "channel",
    "machine",
    "segment_id",
];

/// Keys kept in each of an event's `products` (the cart and order line items).
const KEPT_PRODUCT_KEYS: &[&str] =
    &["product_id", "sku", "category", "brand", "variant", "price", "quantity", "name", "id"];

/// The consent source recorded on an erased profile.
pub const ERASURE_SOURCE: &str = "erasure";

fn kept(map: &JsonMap, keys: &[&str]) -> JsonMap {
    map.iter().filter(|(k, _)| keys.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// An event's properties as erasure leaves them.
pub fn erased_properties(p: &JsonMap) -> JsonMap {
    let mut out = kept(p, KEPT_PROPERTIES);
    if let Some(Value::Array(items)) = out.get_mut("products") {
        for item in items.iter_mut() {
            *item = match item {
                Value::Object(o) => Value::Object(kept(o, KEPT_PRODUCT_KEYS)),
                _ => Value::Null,
            };
        }
    }
    out
}

impl Event {
    /// This event as erasure leaves it: its name, kind, times and commerce figures, no identity, traits or
    /// context.
    pub fn erased(&self) -> Event {
        Event {
            message_id: self.message_id.clone(),
            kind: self.kind,
            name: self.name.clone(),
            user_id: None,
            anonymous_id: None,
            previous_id: None,
            group_id: None,
            category: self.category.clone(),
            properties: erased_properties(&self.properties),
            traits: JsonMap::new(),
            context: JsonMap::new(),
            timestamp: self.timestamp,
            received_at: self.received_at,
            system: self.system,
        }
    }
}

impl MessageData {
    /// This message as erasure leaves it: what happened to it (status history, flow, campaign, template,
    /// counts), not what it said or where it went.
    pub fn erased(&self) -> MessageData {
        MessageData {
            subject: None,
            html: None,
            text: None,
            body: None,
            links: Vec::new(),
            unsubscribe_url: None,
            from: None,
            warnings: Vec::new(),
            pending: None,
            webhook: None,
            consent_request: None,
            provider_id: None,
            other: JsonMap::new(),
            ..self.clone()
        }
    }
}

impl Contact {
    /// Removes everything that identifies the person, keeping the computed aggregates (orders, revenue, cart
    /// figures), and withdraws consent on every channel so nothing is ever sent to the profile again.
    pub fn erase(&mut self, now: Timestamp) {
        self.user_id = None;
        self.email = None;
        self.phone = None;
        self.anonymous_ids.clear();
        self.traits = JsonMap::new();
        self.traits_at = None;
        self.timezone = None;
        self.locale = None;
        for channel in ["email", "sms"] {
            // Directly, not through `set_consent`: a consent dated after `now` must not keep the profile mailable.
            if let Some(c) = self.consent.channel_mut(channel) {
                *c = crate::Consent {
                    status: ConsentStatus::Unsubscribed,
                    updated_at: Some(now),
                    source: Some(ERASURE_SOURCE.into()),
                    subscribed_at: None,
                };
            }
        }
        for item in &mut self.computed.cart.items {
            item.url = None;
            item.image_url = None;
        }
        self.erased_at = Some(now);
        self.updated_at = now;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{ContactId, WorkspaceId};

    fn event(v: Value) -> Event {
        Event::from_segment(v, None, Timestamp(5), &mut || "gen".into()).expect("valid event")
    }

    #[test]
    fn an_erased_event_keeps_its_figures_and_loses_the_person() {
        let e = event(json!({
            "type": "track", "event": "Order Completed", "userId": "u-1", "anonymousId": "a-1",
            "messageId": "m-1", "timestamp": "2026-01-02T03:04:05Z",
            "properties": {"order_id": "1001", "total": 80.5, "currency": "EUR", "email": "ann@example.com",
                "checkout_url": "https://shop/recover/abc",
                "products": [{"product_id": "p1", "price": 40.25, "quantity": 2, "note": "for Ann Smith"}]},
            "context": {"ip": "203.0.113.9", "traits": {"email": "ann@example.com"}}
        }));
        let x = e.erased();
        assert_eq!((x.user_id.as_deref(), x.anonymous_id.as_deref()), (None, None));
        assert!(x.context.is_empty() && x.traits.is_empty());
        assert_eq!(x.properties["order_id"], json!("1001"));
        assert_eq!(x.properties["total"], json!(80.5));
        assert_eq!(x.properties["products"], json!([{"product_id": "p1", "price": 40.25, "quantity": 2}]));
        let text = serde_json::to_string(&x).expect("serializes");
        assert!(
            !text.contains("ann@") && !text.contains("Ann") && !text.contains("203.0.113") && !text.contains("recover")
        );
        assert_eq!((x.name.as_deref(), x.timestamp), (Some("Order Completed"), e.timestamp));
    }

    #[test]
    fn an_erased_profile_keeps_aggregates_and_can_not_be_mailed() {
        let mut c = Contact::new(ContactId(7), WorkspaceId(1), Timestamp(1));
        c.email = crate::Email::parse("ann@example.com");
        c.user_id = Some("u-1".into());
        c.anonymous_ids.push("a-1".into());
        c.traits.insert("first_name".into(), json!("Ann"));
        c.set_consent("email", ConsentStatus::Subscribed, Timestamp(50), "api");
        c.computed.orders.count = 3;
        c.erase(Timestamp(10));
        assert_eq!((c.email, c.user_id, c.anonymous_ids.len(), c.traits.len()), (None, None, 0, 0));
        assert_eq!(c.consent.email.status, ConsentStatus::Unsubscribed);
        assert_eq!(c.computed.orders.count, 3);
        assert_eq!(c.erased_at, Some(Timestamp(10)));
    }

    #[test]
    fn an_erased_message_keeps_what_happened_not_what_it_said() {
        let mut m = MessageData {
            subject: Some("Hi Ann".into()),
            html: Some("<p>Ann</p>".into()),
            flow_id: Some("flow_1".into()),
            ..Default::default()
        };
        m.push_history(crate::MessageStatus::Sent, Timestamp(3), None);
        let x = m.erased();
        assert_eq!((x.subject, x.html), (None, None));
        assert_eq!(x.flow_id.as_deref(), Some("flow_1"));
        assert_eq!(x.history.len(), 1);
    }
}

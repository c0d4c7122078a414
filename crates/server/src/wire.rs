//! Typed bodies shared by several resources (contacts, events, products, lists), and the way every JSON answer
//! is written. Money is shown in major units (`499.5`), instants as RFC 3339 UTC text.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kairos_domain::event::EventKind;
use kairos_domain::{Consent, Contact, JsonMap, Product, Timestamp};
use kairos_store::StoredEvent;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;

/// A JSON answer. It is written through `serde_json::Value`, whose objects keep their keys sorted, so every body
/// lists its keys in alphabetical order whatever the order of a struct's fields: byte for byte what the API
/// answered before its bodies were typed, and stable when a field is added.
pub struct Reply<T>(pub T);

impl<T: Serialize> IntoResponse for Reply<T> {
    fn into_response(self) -> Response {
        match serde_json::to_value(&self.0) {
            Ok(v) => axum::Json(v).into_response(),
            Err(e) => ApiError::internal(format!("the answer could not be written: {e}")).into_response(),
        }
    }
}

/// A `201 Created` answer.
pub fn created<T: Serialize>(body: T) -> (StatusCode, Reply<T>) {
    (StatusCode::CREATED, Reply(body))
}

/// An RFC 3339 instant, or null.
pub fn ts(t: Option<Timestamp>) -> Option<String> {
    t.map(|t| t.to_string())
}

/// One page of a list (SPEC 16 "Lists"): follow `next_cursor` (null on the last page) with `?cursor=`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn new(items: Vec<T>, next_cursor: Option<String>) -> Self {
        Page { items, next_cursor }
    }
    /// A list that is always answered whole.
    pub fn whole(items: Vec<T>) -> Self {
        Page { items, next_cursor: None }
    }
}

/// A channel of consent and suppression.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ChannelName {
    Email,
    Sms,
}

/// `{"success": true}`, the answer of the Segment-compatible endpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct Success {
    pub success: bool,
}

/// A contact's consent on one channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentState {
    /// `subscribed`, `unsubscribed` or `never_subscribed`.
    #[schema(example = "subscribed")]
    pub status: &'static str,
    #[schema(format = DateTime)]
    pub updated_at: Option<String>,
    /// Where the latest change came from (`checkout`, `api`, `unsubscribe_link`, ...).
    pub source: Option<String>,
}

impl From<&Consent> for ConsentState {
    fn from(c: &Consent) -> Self {
        ConsentState { status: c.status.as_str(), updated_at: ts(c.updated_at), source: c.source.clone() }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactConsent {
    pub email: ConsentState,
    pub sms: ConsentState,
    /// Topics (the workspace's lists, `settings.topics`) the person opted out of.
    pub topics_out: Vec<String>,
    /// How often the person wants marketing email: `all`, `twice_weekly` or `weekly`.
    #[schema(example = "all")]
    pub frequency: &'static str,
}

/// Computed from the contact's `Order Completed`, `Order Refunded` and `Order Cancelled` events (SPEC 4).
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderTotals {
    pub count: u64,
    pub total_spent: f64,
    pub average_value: f64,
    #[schema(format = DateTime)]
    pub first_at: Option<String>,
    #[schema(format = DateTime)]
    pub last_at: Option<String>,
    pub refunded_total: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartLine {
    pub product_id: String,
    pub sku: Option<String>,
    pub name: Option<String>,
    pub price: f64,
    pub quantity: i64,
    pub category: Option<String>,
    pub url: Option<String>,
    pub image_url: Option<String>,
}

/// The open cart, from the contact's cart events (SPEC 4).
#[derive(Debug, Serialize, ToSchema)]
pub struct CartState {
    pub value: f64,
    pub items: Vec<CartLine>,
    #[schema(format = DateTime)]
    pub updated_at: Option<String>,
}

/// Lead scoring (SPEC 12): the workspace's `lead_scoring` rules applied to the contact's events and traits.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadState {
    /// Event points (fading with the rules' half-life) plus trait points, rounded; kept current as time passes.
    pub score: i64,
}

/// Where the contact stands with the store (SPEC 12), from the workspace's `lifecycle` thresholds.
#[derive(Debug, Serialize, ToSchema)]
pub struct LifecycleState {
    /// `subscriber`, `lead`, `first_time_customer`, `repeat_customer`, `vip`, `at_risk` or `lapsed`; null for
    /// a contact with no order, no subscription and a score below the lead threshold.
    #[schema(example = "vip")]
    pub stage: Option<&'static str>,
    /// When the stage last changed.
    #[schema(format = DateTime)]
    pub since: Option<String>,
}

/// A contact's profile (`GET /api/v1/contacts/{id}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactBody {
    pub id: i64,
    pub user_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub anonymous_ids: Vec<String>,
    /// Profile traits from identify calls (free-form).
    #[schema(value_type = Object)]
    pub traits: JsonMap,
    /// IANA time zone.
    pub timezone: Option<String>,
    pub locale: Option<String>,
    pub consent: ContactConsent,
    pub orders: OrderTotals,
    pub cart: CartState,
    #[schema(format = DateTime)]
    pub last_seen_at: Option<String>,
    pub lead: LeadState,
    pub lifecycle: LifecycleState,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// When the person's data was erased (`DELETE /api/v1/contacts/{id}`): the profile is then an anonymous
    /// shell kept for the store's figures. Null for everyone else.
    #[schema(format = DateTime)]
    pub erased_at: Option<String>,
}

impl From<&Contact> for ContactBody {
    fn from(c: &Contact) -> Self {
        let o = &c.computed.orders;
        let cart = &c.computed.cart;
        ContactBody {
            id: c.id.0,
            user_id: c.user_id.clone(),
            email: c.email.as_ref().map(|e| e.as_str().to_string()),
            phone: c.phone.as_ref().map(|p| p.as_str().to_string()),
            anonymous_ids: c.anonymous_ids.clone(),
            traits: c.traits.clone(),
            timezone: c.timezone.clone(),
            locale: c.locale.clone(),
            consent: ContactConsent {
                email: (&c.consent.email).into(),
                sms: (&c.consent.sms).into(),
                topics_out: c.consent.topics_out.clone(),
                frequency: c.consent.frequency.unwrap_or(kairos_domain::vocab::EmailFrequency::All).as_str(),
            },
            orders: OrderTotals {
                count: o.count,
                total_spent: o.total_spent.as_major(),
                average_value: o.average_value().as_major(),
                first_at: ts(o.first_at),
                last_at: ts(o.last_at),
                refunded_total: o.refunded_total.as_major(),
            },
            cart: CartState {
                value: cart.value().as_major(),
                items: cart
                    .items
                    .iter()
                    .map(|i| CartLine {
                        product_id: i.product_id.clone(),
                        sku: i.sku.clone(),
                        name: i.name.clone(),
                        price: i.price.as_major(),
                        quantity: i.quantity,
                        category: i.category.clone(),
                        url: i.url.clone(),
                        image_url: i.image_url.clone(),
                    })
                    .collect(),
                updated_at: ts(cart.updated_at),
            },
            last_seen_at: ts(c.computed.last_seen_at),
            lead: LeadState { score: c.lead.score },
            lifecycle: LifecycleState { stage: c.lead.stage.map(|s| s.as_str()), since: ts(c.lead.stage_at) },
            created_at: c.created_at.to_string(),
            updated_at: c.updated_at.to_string(),
            erased_at: ts(c.erased_at),
        }
    }
}

pub fn contacts(list: &[Contact]) -> Vec<ContactBody> {
    list.iter().map(ContactBody::from).collect()
}

/// A stored event of a contact's timeline. The fields after `context` appear only for their kinds: `event` for
/// track calls, `name` and `category` for page and screen calls, `previous_id` for alias, `group_id` for group.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventBody {
    /// Position in the workspace's event log.
    pub seq: i64,
    pub contact_id: i64,
    pub message_id: String,
    /// `track`, `identify`, `page`, `screen`, `alias` or `group`.
    #[serde(rename = "type")]
    #[schema(example = "track")]
    pub kind: &'static str,
    #[schema(format = DateTime)]
    pub timestamp: String,
    #[schema(format = DateTime)]
    pub received_at: String,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    #[schema(value_type = Object)]
    pub properties: JsonMap,
    #[schema(value_type = Object)]
    pub traits: JsonMap,
    #[schema(value_type = Object)]
    pub context: JsonMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub event: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub category: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub previous_id: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub group_id: Option<Option<String>>,
}

impl From<&StoredEvent> for EventBody {
    fn from(s: &StoredEvent) -> Self {
        let e = &s.event;
        let when = |kinds: &[EventKind], v: &Option<String>| kinds.contains(&e.kind).then(|| v.clone());
        EventBody {
            seq: s.seq,
            contact_id: s.contact_id.0,
            message_id: e.message_id.as_str().to_string(),
            kind: e.kind.as_str(),
            timestamp: e.timestamp.to_string(),
            received_at: e.received_at.to_string(),
            user_id: e.user_id.clone(),
            anonymous_id: e.anonymous_id.clone(),
            properties: e.properties.clone(),
            traits: e.traits.clone(),
            context: e.context.clone(),
            event: when(&[EventKind::Track], &e.name),
            name: when(&[EventKind::Page, EventKind::Screen], &e.name),
            category: when(&[EventKind::Page, EventKind::Screen], &e.category),
            previous_id: when(&[EventKind::Alias], &e.previous_id),
            group_id: when(&[EventKind::Group], &e.group_id),
        }
    }
}

pub fn events(list: &[StoredEvent]) -> Vec<EventBody> {
    list.iter().map(EventBody::from).collect()
}

/// A catalog product.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductBody {
    pub id: String,
    pub sku: Option<String>,
    pub title: Option<String>,
    pub url: Option<String>,
    pub image_url: Option<String>,
    /// In major units of `currency`.
    pub price: Option<f64>,
    pub compare_at_price: Option<f64>,
    /// ISO 4217, upper case.
    pub currency: Option<String>,
    pub categories: Vec<String>,
    pub inventory_quantity: Option<i64>,
    /// False when sold out (inventory 0) unless set explicitly.
    pub available: bool,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&Product> for ProductBody {
    fn from(p: &Product) -> Self {
        ProductBody {
            id: p.id.clone(),
            sku: p.sku.clone(),
            title: p.title.clone(),
            url: p.url.clone(),
            image_url: p.image_url.clone(),
            price: p.price.map(|m| m.as_major()),
            compare_at_price: p.compare_at_price.map(|m| m.as_major()),
            currency: p.currency.clone(),
            categories: p.categories.clone(),
            inventory_quantity: p.inventory_quantity,
            available: p.available,
            updated_at: p.updated_at.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use kairos_domain::{ContactId, Event, Money, WorkspaceId};
    use serde_json::json;

    use super::*;

    /// What the bodies looked like when they were written with `json!` (before they were typed).
    fn old_product(p: &Product) -> serde_json::Value {
        json!({
            "id": p.id, "sku": p.sku, "title": p.title, "url": p.url, "image_url": p.image_url,
            "price": p.price.map(|m| m.as_major()), "compare_at_price": p.compare_at_price.map(|m| m.as_major()),
            "currency": p.currency, "categories": p.categories, "inventory_quantity": p.inventory_quantity,
            "available": p.available, "updated_at": p.updated_at.to_string(),
        })
    }

    fn text<T: Serialize>(body: T) -> String {
        serde_json::to_string(&serde_json::to_value(body).unwrap()).unwrap()
    }

    #[test]
    fn bodies_are_written_byte_for_byte_as_before() {
        let p =
            Product::from_api(&json!({"title": "Bike", "price": 499.5, "categories": ["b"]}), Some("b1"), Timestamp(7))
                .unwrap();
        assert_eq!(text(ProductBody::from(&p)), old_product(&p).to_string());

        let mut c = Contact::new(ContactId(4), WorkspaceId(1), Timestamp(5));
        c.traits.insert("first_name".into(), json!("Ann"));
        c.computed.orders.total_spent = Money(1050);
        let v = serde_json::to_value(ContactBody::from(&c)).unwrap();
        assert_eq!(v["orders"]["total_spent"], json!(10.5));
        assert_eq!(v["consent"]["email"], json!({"status": "never_subscribed", "updated_at": null, "source": null}));
        assert_eq!(v["cart"], json!({"value": 0.0, "items": [], "updated_at": null}));

        let raw = json!({"type": "page", "userId": "u", "name": "Home", "messageId": "m1"});
        let e = Event::from_segment(raw, None, Timestamp(9), &mut || "x".into()).unwrap();
        let v =
            serde_json::to_value(EventBody::from(&StoredEvent { seq: 3, contact_id: ContactId(4), event: e })).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert!(keys.contains(&"name") && keys.contains(&"category") && !keys.contains(&"event"), "{keys:?}");
        assert_eq!((&v["type"], &v["name"], &v["category"]), (&json!("page"), &json!("Home"), &json!(null)));
    }
}

//! JSON shapes of the admin API (SPEC field names). Money is shown in major units.

use kairos_domain::event::EventKind;
use kairos_domain::{Consent, Contact, Product, Timestamp};
use kairos_store::StoredEvent;
use serde_json::{Value, json};

fn ts(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| Value::String(t.to_string()))
}

fn consent(c: &Consent) -> Value {
    json!({"status": c.status.as_str(), "updated_at": ts(c.updated_at), "source": c.source})
}

pub fn contact(c: &Contact) -> Value {
    let o = &c.computed.orders;
    let cart = &c.computed.cart;
    let items: Vec<Value> = cart
        .items
        .iter()
        .map(|i| {
            json!({"product_id": i.product_id, "sku": i.sku, "name": i.name, "price": i.price.as_major(),
                   "quantity": i.quantity, "category": i.category, "url": i.url, "image_url": i.image_url})
        })
        .collect();
    json!({
        "id": c.id.0,
        "user_id": c.user_id,
        "email": c.email.as_ref().map(|e| e.as_str()),
        "phone": c.phone.as_ref().map(|p| p.as_str()),
        "anonymous_ids": c.anonymous_ids,
        "traits": c.traits,
        "timezone": c.timezone,
        "locale": c.locale,
        "consent": {"email": consent(&c.consent.email), "sms": consent(&c.consent.sms)},
        "orders": {
            "count": o.count,
            "total_spent": o.total_spent.as_major(),
            "average_value": o.average_value().as_major(),
            "first_at": ts(o.first_at),
            "last_at": ts(o.last_at),
            "refunded_total": o.refunded_total.as_major(),
        },
        "cart": {"value": cart.value().as_major(), "items": items, "updated_at": ts(cart.updated_at)},
        "last_seen_at": ts(c.computed.last_seen_at),
        "created_at": c.created_at.to_string(),
        "updated_at": c.updated_at.to_string(),
    })
}

pub fn event(s: &StoredEvent) -> Value {
    let e = &s.event;
    let mut v = json!({
        "seq": s.seq,
        "contact_id": s.contact_id.0,
        "message_id": e.message_id.as_str(),
        "type": e.kind.as_str(),
        "timestamp": e.timestamp.to_string(),
        "received_at": e.received_at.to_string(),
        "user_id": e.user_id,
        "anonymous_id": e.anonymous_id,
        "properties": e.properties,
        "traits": e.traits,
        "context": e.context,
    });
    let obj = v.as_object_mut().expect("object literal");
    match e.kind {
        EventKind::Track => {
            obj.insert("event".into(), json!(e.name));
        }
        EventKind::Page | EventKind::Screen => {
            obj.insert("name".into(), json!(e.name));
            obj.insert("category".into(), json!(e.category));
        }
        EventKind::Alias => {
            obj.insert("previous_id".into(), json!(e.previous_id));
        }
        EventKind::Group => {
            obj.insert("group_id".into(), json!(e.group_id));
        }
        EventKind::Identify => {}
    }
    v
}

pub fn product(p: &Product) -> Value {
    json!({
        "id": p.id, "sku": p.sku, "title": p.title, "url": p.url, "image_url": p.image_url,
        "price": p.price.map(|m| m.as_major()), "compare_at_price": p.compare_at_price.map(|m| m.as_major()),
        "currency": p.currency, "categories": p.categories, "inventory_quantity": p.inventory_quantity,
        "available": p.available, "updated_at": p.updated_at.to_string(),
    })
}

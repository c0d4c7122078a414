//! The built-in flow library (SPEC 16): the classic e-commerce journeys as editable definitions, with the
//! templates and segments they need.

use kairos_domain::SystemEvent;
use serde_json::{Value, json};

pub struct LibraryFlow {
    pub key: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// The flow definition; `{{high_value_cart}}` in a condition is replaced by the workspace setting.
    pub flow: fn(high_value_cart: f64) -> Value,
    /// Templates the flow sends (created when missing).
    pub templates: fn() -> Vec<Value>,
    /// Segments the flow's trigger needs: (name, definition), created when missing.
    pub segments: &'static [(&'static str, &'static str)],
}

fn email(id: &str, subject: &str, body: &str) -> Value {
    email_parts(id, subject, body, body)
}

/// An email whose HTML and text bodies differ (a link is a tag in one, an address in the other).
fn email_parts(id: &str, subject: &str, html: &str, text: &str) -> Value {
    json!({"id": id, "channel": "email", "name": subject, "subject": subject,
           "html": format!("<html><body><p>Hi {{{{ contact.first_name | default: \"there\" }}}},</p><p>{html}</p>\
                            <p><a href=\"{{{{ store.url }}}}\">Visit the store</a></p></body></html>"),
           "text": format!("Hi {{{{ contact.first_name | default: \"there\" }}}},\n\n{text}\n")})
}

/// The double opt-in confirmation email (a transactional message: the person has not consented yet, so it
/// promotes nothing). `event.confirm_url` is the signed link; `event.form_name` the form signed up on.
pub fn confirmation_template() -> Value {
    json!({"channel": "email", "name": "Confirm your subscription",
        "subject": "Please confirm your subscription to {{ store.name | default: \"our newsletter\" }}",
        "html": "<html><body><p>Hi {{ contact.first_name | default: \"there\" }},</p>\
<p>Please confirm that you want to receive emails from {{ store.name | default: \"us\" }}.</p>\
<p><a href=\"{{ event.confirm_url }}\" style=\"display:inline-block;padding:12px 20px;background:#1a56db;color:#fff;text-decoration:none;border-radius:4px\">Yes, subscribe me</a></p>\
<p>The link works for {{ event.expires_in_days }} days. If you did not sign up, ignore this email: you will not hear from us.</p></body></html>",
        "text": "Hi {{ contact.first_name | default: \"there\" }},\n\nPlease confirm that you want to receive emails from {{ store.name | default: \"us\" }}:\n\n{{ event.confirm_url }}\n\nThe link works for {{ event.expires_in_days }} days. If you did not sign up, ignore this email: you will not hear from us.\n"})
}

fn sms(id: &str, body: &str) -> Value {
    json!({"id": id, "channel": "sms", "name": body, "body": body})
}

pub const LIBRARY: &[LibraryFlow] = &[
    LibraryFlow {
        key: "welcome_series",
        name: "Welcome series",
        description: "Three emails over a week for new subscribers: welcome, our story, a first-order reward for those who have not bought yet.",
        flow: |_| {
            json!({"name": "Welcome series",
            "trigger": {"type": "event", "event": kairos_domain::SystemEvent::EmailSubscribed.as_str()},
            "entry": {"reentry": "once"},
            "steps": [
                {"id": "welcome", "type": "send", "channel": "email", "template": "lib-welcome-1", "next": "wait1"},
                {"id": "wait1", "type": "delay", "duration": "2d", "next": "story"},
                {"id": "story", "type": "send", "channel": "email", "template": "lib-welcome-2", "next": "wait2"},
                {"id": "wait2", "type": "delay", "duration": "3d", "next": "bought"},
                {"id": "bought", "type": "split", "condition": "did \"Order Completed\" since entry", "no": "reward"},
                {"id": "reward", "type": "send", "channel": "email", "template": "lib-welcome-3"}
            ]})
        },
        templates: || {
            vec![
                email("lib-welcome-1", "Welcome to the shop", "Thanks for joining us. Here is what to expect from us."),
                email("lib-welcome-2", "Our story", "We started this shop because we love what we sell."),
                email(
                    "lib-welcome-3",
                    "A little something for your first order",
                    "Use code WELCOME10 for 10% off your first order.",
                ),
            ]
        },
        segments: &[],
    },
    LibraryFlow {
        key: "abandoned_cart",
        name: "Abandoned cart",
        description: "One reminder per checkout: high-value carts become a call task for the team, others get an email, then an SMS if no order follows within a day. Ends at once when the order is placed.",
        flow: |high| {
            json!({"name": "Abandoned cart",
            "trigger": {"type": "event", "event": "Checkout Started"},
            "entry": {"filter": "subscribed email or subscribed sms", "reentry": "once_per 1d"},
            "exit_when": "did \"Order Completed\" since entry",
            "steps": [
                {"id": "wait", "type": "delay", "duration": "4h", "next": "route"},
                {"id": "route", "type": "split", "condition": format!("event.value > {high}"), "yes": "call", "no": "email"},
                {"id": "call", "type": "task", "message": "Call {{ contact.first_name }} ({{ contact.email }}) about a {{ event.value | money }} cart"},
                {"id": "email", "type": "send", "channel": "email", "template": "lib-cart-email", "next": "wait_order"},
                {"id": "wait_order", "type": "wait_for", "event": "Order Completed", "timeout": "1d", "timeout_next": "sms"},
                {"id": "sms", "type": "send", "channel": "sms", "template": "lib-cart-sms"}
            ]})
        },
        templates: || {
            vec![
                // The platform's recovery link (Shopify's `abandoned_checkout_url`) restores the cart when known.
                email_parts(
                    "lib-cart-email",
                    "You left something in your cart",
                    "Your cart worth {{ event.value | money }} is waiting for you.{% if event.checkout_url %} \
                     <a href=\"{{ event.checkout_url }}\">Return to your cart</a>{% endif %}",
                    "Your cart worth {{ event.value | money }} is waiting for you.{% if event.checkout_url %} \
                     Return to your cart: {{ event.checkout_url }}{% endif %}",
                ),
                sms(
                    "lib-cart-sms",
                    "Your cart is still waiting for you, {{ contact.first_name | default: \"friend\" }}. Reply STOP to opt out.",
                ),
            ]
        },
        segments: &[],
    },
    LibraryFlow {
        key: "browse_abandonment",
        name: "Browse abandonment",
        description: "A gentle reminder two hours after someone looked at a product without adding it to the cart.",
        flow: |_| {
            json!({"name": "Browse abandonment",
            "trigger": {"type": "event", "event": "Product Viewed"},
            "entry": {"filter": "subscribed email", "reentry": "once_per 7d"},
            "exit_when": "did \"Product Added\" since entry or did \"Order Completed\" since entry",
            "steps": [
                {"id": "wait", "type": "delay", "duration": "2h", "next": "email"},
                {"id": "email", "type": "send", "channel": "email", "template": "lib-browse-email"}
            ]})
        },
        templates: || {
            vec![email(
                "lib-browse-email",
                "Still thinking about {{ event.name }}?",
                "{{ event.name }} is still available.",
            )]
        },
        segments: &[],
    },
    LibraryFlow {
        key: "post_purchase",
        name: "Post-purchase and review request",
        description: "Thanks after the order, then a review request three days after delivery (or two weeks after the order if no delivery event arrives).",
        flow: |_| {
            json!({"name": "Post-purchase",
            "trigger": {"type": "event", "event": "Order Completed"},
            "key": "event.order_id",
            "entry": {"reentry": "always"},
            "steps": [
                {"id": "thanks", "type": "send", "channel": "email", "template": "lib-thanks", "transactional": true, "next": "delivered"},
                {"id": "delivered", "type": "wait_for", "event": "Order Delivered", "timeout": "14d", "next": "settle", "timeout_next": "review"},
                {"id": "settle", "type": "delay", "duration": "3d", "next": "review"},
                {"id": "review", "type": "send", "channel": "email", "template": "lib-review"}
            ]})
        },
        templates: || {
            vec![
                email("lib-thanks", "Thank you for your order", "We are packing order {{ event.order_id }} now."),
                email(
                    "lib-review",
                    "How was your order?",
                    "Tell us what you think of your purchase: it helps other shoppers.",
                ),
            ]
        },
        segments: &[],
    },
    LibraryFlow {
        key: "win_back",
        name: "Win-back",
        description: "Customers who have not ordered in 90 days get a we-miss-you email, then an offer a week later unless they came back.",
        flow: |_| {
            json!({"name": "Win-back",
            "trigger": {"type": "segment_entered", "segment": "Lapsed 90 days"},
            "entry": {"filter": "subscribed email", "reentry": "once_per 90d"},
            "exit_when": "did \"Order Completed\" since entry",
            "steps": [
                {"id": "miss", "type": "send", "channel": "email", "template": "lib-winback-1", "next": "wait"},
                {"id": "wait", "type": "delay", "duration": "7d", "next": "offer"},
                {"id": "offer", "type": "send", "channel": "email", "template": "lib-winback-2"}
            ]})
        },
        templates: || {
            vec![
                email("lib-winback-1", "We miss you", "It has been a while. Here is what is new in the shop."),
                email("lib-winback-2", "15% off, just for you", "Come back with code COMEBACK15."),
            ]
        },
        segments: &[("Lapsed 90 days", "orders.count >= 1 and orders.last_at before 90d ago")],
    },
    LibraryFlow {
        key: "re_engagement",
        name: "Re-engagement and sunset",
        description: "Subscribers inactive for 180 days get one last email; those who still do not engage within two weeks are unsubscribed to keep the list clean.",
        flow: |_| {
            json!({"name": "Re-engagement and sunset",
            "trigger": {"type": "segment_entered", "segment": "Unengaged 180 days"},
            "entry": {"reentry": "once_per 180d"},
            "steps": [
                {"id": "last_call", "type": "send", "channel": "email", "template": "lib-reengage", "next": "wait"},
                {"id": "wait", "type": "wait_for", "event": SystemEvent::EmailClicked.as_str(), "timeout": "14d", "next": "stay", "timeout_next": "sunset"},
                {"id": "stay", "type": "tag", "add": ["re-engaged"]},
                {"id": "sunset", "type": "update_profile", "set": {"email_consent": "unsubscribed"}}
            ]})
        },
        templates: || {
            vec![email(
                "lib-reengage",
                "Do you still want to hear from us?",
                "Click here to stay subscribed; otherwise we will stop writing.",
            )]
        },
        segments: &[("Unengaged 180 days", "subscribed email and last_seen_at before 180d ago")],
    },
    LibraryFlow {
        key: "vip_reward",
        name: "VIP reward",
        description: "Customers who pass the VIP spending threshold get a thank-you gift and a VIP tag.",
        flow: |_| {
            json!({"name": "VIP reward",
            "trigger": {"type": "segment_entered", "segment": "VIP customers"},
            "entry": {"reentry": "once"},
            "steps": [
                {"id": "tag", "type": "tag", "add": ["vip"], "next": "gift"},
                {"id": "gift", "type": "send", "channel": "email", "template": "lib-vip"}
            ]})
        },
        templates: || {
            vec![email("lib-vip", "You are one of our best customers", "As a thank-you, your next shipping is on us.")]
        },
        segments: &[("VIP customers", "orders.total_spent > 1000 or orders.count >= 5")],
    },
    LibraryFlow {
        key: "back_in_stock",
        name: "Back in stock",
        description: "Tells shoppers who viewed or asked about a sold-out product that it is available again.",
        flow: |_| {
            json!({"name": "Back in stock",
                "trigger": {"type": "back_in_stock"},
                "entry": {"filter": "subscribed email", "reentry": "always"},
                "steps": [{"id": "email", "type": "send", "channel": "email", "template": "lib-back-in-stock"}]})
        },
        templates: || {
            vec![email("lib-back-in-stock", "{{ event.title }} is back", "{{ event.title }} is back in stock.")]
        },
        segments: &[],
    },
    LibraryFlow {
        key: "price_drop",
        name: "Price drop",
        description: "Tells shoppers who viewed or carted a product when its price drops by at least 10%.",
        flow: |_| {
            json!({"name": "Price drop",
                "trigger": {"type": "price_drop", "min_percent": 10},
                "entry": {"filter": "subscribed email", "reentry": "once_per 7d"},
                "steps": [{"id": "email", "type": "send", "channel": "email", "template": "lib-price-drop"}]})
        },
        templates: || {
            vec![email(
                "lib-price-drop",
                "Price drop: {{ event.title }}",
                "{{ event.title }} now costs {{ event.price | money }}.",
            )]
        },
        segments: &[],
    },
    LibraryFlow {
        key: "birthday",
        name: "Birthday",
        description: "A birthday greeting with a gift on the contact's birthday (trait `birthday`), in their time zone.",
        flow: |_| {
            json!({"name": "Birthday",
                "trigger": {"type": "date", "trait": "birthday", "days_before": 0},
                "entry": {"filter": "subscribed email", "reentry": "once_per 300d"},
                "steps": [{"id": "email", "type": "send", "channel": "email", "template": "lib-birthday"}]})
        },
        templates: || {
            vec![email(
                "lib-birthday",
                "Happy birthday, {{ contact.first_name | default: \"friend\" }}!",
                "Here is a birthday gift: code BDAY20.",
            )]
        },
        segments: &[],
    },
];

pub fn find(key: &str) -> Option<&'static LibraryFlow> {
    LIBRARY.iter().find(|f| f.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Catalog, parse_flow, validate};

    struct Everything;
    impl Catalog for Everything {
        fn template_exists(&self, _: &str) -> bool {
            true
        }
        fn segment_exists(&self, _: &str) -> bool {
            true
        }
    }

    #[test]
    fn every_library_flow_is_valid_and_sends_its_own_templates() {
        for f in LIBRARY {
            let def = parse_flow(&(f.flow)(20_000.0)).unwrap_or_else(|e| panic!("{}: {e}", f.key));
            validate(&def, &Everything).unwrap_or_else(|e| panic!("{}: {e}", f.key));
            let ids: Vec<String> = (f.templates)().iter().map(|t| t["id"].as_str().unwrap().to_string()).collect();
            for s in &def.steps {
                if let crate::StepKind::Send { template, .. } = &s.kind {
                    assert!(ids.contains(template), "{}: {template} missing", f.key);
                }
            }
            for (_, d) in f.segments {
                kairos_segment::parse::parse(d).unwrap_or_else(|e| panic!("{}: {e}", f.key));
            }
        }
        assert_eq!(LIBRARY.len(), 10);
    }
}

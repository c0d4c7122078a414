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
    /// Coupon pools its `issue_coupon` steps draw from (`POST /api/v1/coupons` bodies), created when missing.
    pub pools: fn() -> Vec<Value>,
}

fn no_pools() -> Vec<Value> {
    Vec::new()
}

/// A pool of unique codes (`WELCOME-7KQ2M9XD`) for one person each, valid `valid_for` after issue.
fn unique_pool(id: &str, name: &str, prefix: &str, value_type: &str, value: f64, valid_for: &str) -> Value {
    let mut p = json!({"id": id, "name": name, "type": "unique", "pattern": format!("{prefix}-{{CODE}}"),
        "length": 8, "value_type": value_type, "valid_for": valid_for});
    if value_type != "free_shipping" {
        p["value"] = json!(value);
    }
    p
}

fn email(id: &str, subject: &str, body: &str) -> Value {
    email_parts(id, subject, body, body)
}

/// The library's email layout: the store's logo (or name) and colour, the greeting, the body, a button to the
/// store, and a footer with the store's address and visible preferences and unsubscribe links. One column of at
/// most 600 px that narrows with the screen (phones), inline styles only (what email clients keep).
const LAYOUT_HEAD: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{{ store.name }}</title></head>\
<body style=\"margin:0;padding:0;background:#f4f4f5\">\
<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"background:#f4f4f5\"><tr><td align=\"center\" style=\"padding:16px 8px\">\
<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"max-width:600px;background:#ffffff;border-top:4px solid {{ store.color | default: '#1a56db' }};font:16px/1.5 Helvetica,Arial,sans-serif;color:#1f2937\">\
<tr><td style=\"padding:20px 24px 8px\">{% if store.logo_url %}<img src=\"{{ store.logo_url }}\" alt=\"{{ store.name }}\" style=\"max-height:48px;max-width:200px;border:0\">{% else %}<strong style=\"font-size:20px\">{{ store.name }}</strong>{% endif %}</td></tr>\
<tr><td style=\"padding:8px 24px 24px\"><p>Hi {{ contact.first_name | default: \"there\" }},</p>";
const LAYOUT_FOOT: &str = "<p style=\"margin:24px 0 0\"><a href=\"{{ store.url }}\" style=\"display:inline-block;padding:12px 20px;background:{{ store.color | default: '#1a56db' }};color:#ffffff;text-decoration:none;border-radius:4px\">Visit {{ store.name }}</a></p></td></tr>\
<tr><td style=\"padding:16px 24px;font-size:12px;line-height:1.5;color:#6b7280;border-top:1px solid #e5e7eb\">{{ store.name }}{% if store.address %} · {{ store.address }}{% endif %}<br>\
<a href=\"{{ preferences_url }}\" style=\"color:#6b7280\">Email preferences</a> · <a href=\"{{ unsubscribe_url }}\" style=\"color:#6b7280\">Unsubscribe</a></td></tr>\
</table></td></tr></table></body></html>";
const TEXT_FOOT: &str = "\n\nVisit {{ store.name }}: {{ store.url }}\n\n--\n{{ store.name }}{% if store.address %}, {{ store.address }}{% endif %}\nEmail preferences: {{ preferences_url }}\nUnsubscribe: {{ unsubscribe_url }}\n";

/// An email whose HTML and text bodies differ (a link is a tag in one, an address in the other), in the layout.
pub fn email_parts(id: &str, subject: &str, html: &str, text: &str) -> Value {
    json!({"id": id, "channel": "email", "name": subject, "subject": subject,
           "html": format!("{LAYOUT_HEAD}{html}{LAYOUT_FOOT}"),
           "text": format!("Hi {{{{ contact.first_name | default: \"there\" }}}},\n\n{text}{TEXT_FOOT}")})
}

/// A code of the run's coupon, with what it gives and until when (`coupon` is set by an `issue_coupon` step).
const COUPON_HTML: &str = "<p style=\"font-size:20px;letter-spacing:2px;padding:12px;border:2px dashed {{ store.color | default: '#1a56db' }};text-align:center\"><strong>{{ coupon.code }}</strong></p>\
{% if coupon.expires_at %}<p style=\"font-size:14px;color:#6b7280\">Valid until {{ coupon.expires_at | date: \"%B %-d, %Y\" }}.</p>{% endif %}";
const COUPON_TEXT: &str = "Your code: {{ coupon.code }}{% if coupon.expires_at %} (valid until {{ coupon.expires_at | date: \"%B %-d, %Y\" }}){% endif %}";

/// Products as cards (image, name, price, link), from a list expression such as `recommendations.trending`.
pub fn product_cards(list: &str, limit: u32) -> String {
    format!(
        "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\"><tr>\
{{% for p in {list} limit: {limit} %}}<td valign=\"top\" width=\"33%\" style=\"padding:4px;font-size:14px\">\
<a href=\"{{{{ p.url | default: store.url }}}}\" style=\"color:#1f2937;text-decoration:none\">\
{{% if p.image_url %}}<img src=\"{{{{ p.image_url }}}}\" alt=\"\" width=\"160\" style=\"width:100%;max-width:160px;height:auto;border:0\"><br>{{% endif %}}\
{{{{ p.title | default: p.name }}}}</a><br><strong>{{{{ p.price | money: p.currency }}}}</strong></td>{{% endfor %}}</tr></table>"
    )
}

pub fn product_lines(list: &str, limit: u32) -> String {
    format!(
        "{{% for p in {list} limit: {limit} %}}- {{{{ p.title | default: p.name }}}}, {{{{ p.price | money: p.currency }}}}: {{{{ p.url | default: store.url }}}}\n{{% endfor %}}"
    )
}

/// The cart's items as they are now (the contact's cart, else the trigger event's `products`) with image, name,
/// variant, quantity and price (in the cart's currency), then the total and the link that restores the cart (the
/// platform's recovery URL when known, else the store).
const CART_HTML: &str = "{% if cart.items.size > 0 %}{% assign items = cart.items %}{% assign total = cart.value %}{% assign cur = cart.currency | default: event.currency %}{% else %}{% assign items = event.products %}{% assign total = event.value %}{% assign cur = event.currency %}{% endif %}\
<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"font-size:15px\">\
{% for item in items %}<tr><td width=\"72\" style=\"padding:8px 8px 8px 0\">{% if item.image_url %}<img src=\"{{ item.image_url }}\" alt=\"\" width=\"64\" style=\"width:64px;height:auto;border:0\">{% endif %}</td>\
<td style=\"padding:8px 0\"><strong>{{ item.name }}</strong>{% if item.variant %}<br><span style=\"color:#6b7280\">{{ item.variant }}</span>{% endif %}<br>Quantity: {{ item.quantity | default: 1 }}</td>\
<td align=\"right\" style=\"padding:8px 0;white-space:nowrap\">{{ item.price | money: cur }}</td></tr>{% endfor %}\
<tr><td></td><td style=\"padding:8px 0;border-top:1px solid #e5e7eb\"><strong>Total</strong></td><td align=\"right\" style=\"padding:8px 0;border-top:1px solid #e5e7eb\"><strong>{{ total | money: cur }}</strong></td></tr></table>\
<p><a href=\"{{ cart.checkout_url | default: event.checkout_url | default: store.url }}\" style=\"display:inline-block;padding:12px 20px;background:{{ store.color | default: '#1a56db' }};color:#ffffff;text-decoration:none;border-radius:4px\">Return to your cart</a></p>";
const CART_TEXT: &str = "{% if cart.items.size > 0 %}{% assign items = cart.items %}{% assign total = cart.value %}{% assign cur = cart.currency | default: event.currency %}{% else %}{% assign items = event.products %}{% assign total = event.value %}{% assign cur = event.currency %}{% endif %}{% for item in items %}- {{ item.name }}{% if item.variant %} ({{ item.variant }}){% endif %} x {{ item.quantity | default: 1 }}: {{ item.price | money: cur }}\n{% endfor %}Total: {{ total | money: cur }}\n\nReturn to your cart: {{ cart.checkout_url | default: event.checkout_url | default: store.url }}";

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

/// A template whose subject (or SMS text) holds Liquid, named in words for the lists that show it.
fn named(mut template: Value, name: &str) -> Value {
    template["name"] = name.into();
    template
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
                {"id": "bought", "type": "split", "condition": "did \"Order Completed\" since entry", "no": "code"},
                {"id": "code", "type": "issue_coupon", "pool": "lib-welcome-10", "next": "reward"},
                {"id": "reward", "type": "send", "channel": "email", "template": "lib-welcome-3"}
            ]})
        },
        templates: || {
            vec![
                email("lib-welcome-1", "Welcome to the shop", "Thanks for joining us. Here is what to expect from us."),
                email("lib-welcome-2", "Our story", "We started this shop because we love what we sell."),
                email_parts(
                    "lib-welcome-3",
                    "A little something for your first order",
                    &format!("<p>Here is 10% off your first order, just for you:</p>{COUPON_HTML}"),
                    &format!("Here is 10% off your first order, just for you.\n\n{COUPON_TEXT}"),
                ),
            ]
        },
        segments: &[],
        pools: || vec![unique_pool("lib-welcome-10", "Welcome 10% off", "WELCOME", "percent", 10.0, "30d")],
    },
    LibraryFlow {
        key: "abandoned_cart",
        name: "Abandoned cart",
        description: "Starts on cart activity (an item added, the cart viewed or a checkout started, whichever comes first): high-value carts become a call task for the team, others get an email with the cart's items, a second one with a unique code a day later, then an SMS. Ends at once when the order is placed.",
        flow: |high| {
            json!({"name": "Abandoned cart",
            "trigger": {"type": "event", "events": ["Product Added", "Cart Viewed", "Checkout Started"]},
            "entry": {"filter": "subscribed email or subscribed sms", "reentry": "once_per 1d"},
            "exit_when": "did \"Order Completed\" since entry",
            "steps": [
                {"id": "wait", "type": "delay", "duration": "4h", "next": "route"},
                {"id": "route", "type": "split", "condition": format!("cart.value > {high}"), "yes": "call", "no": "email"},
                {"id": "call", "type": "task", "message": "Call {{ contact.first_name }} ({{ contact.email }}) about a {{ cart.value | money }} cart"},
                {"id": "email", "type": "send", "channel": "email", "template": "lib-cart-email", "next": "wait_order"},
                {"id": "wait_order", "type": "wait_for", "event": "Order Completed", "timeout": "1d", "timeout_next": "code"},
                {"id": "code", "type": "issue_coupon", "pool": "lib-cart-10", "next": "reminder", "fallback_next": "sms"},
                {"id": "reminder", "type": "send", "channel": "email", "template": "lib-cart-email-2", "next": "wait_again"},
                {"id": "wait_again", "type": "wait_for", "event": "Order Completed", "timeout": "1d", "timeout_next": "sms"},
                {"id": "sms", "type": "send", "channel": "sms", "template": "lib-cart-sms"}
            ]})
        },
        templates: || {
            vec![
                // The platform's recovery link (Shopify's `abandoned_checkout_url`) restores the cart when known.
                email_parts(
                    "lib-cart-email",
                    "You left something in your cart",
                    &format!("<p>Your cart is waiting for you:</p>{CART_HTML}"),
                    &format!("Your cart is waiting for you:\n\n{CART_TEXT}"),
                ),
                email_parts(
                    "lib-cart-email-2",
                    "10% off what is in your cart",
                    &format!(
                        "<p>Still thinking it over? Here is 10% off to make up your mind:</p>{COUPON_HTML}{CART_HTML}"
                    ),
                    &format!(
                        "Still thinking it over? Here is 10% off to make up your mind.\n\n{COUPON_TEXT}\n\n{CART_TEXT}"
                    ),
                ),
                named(
                    sms(
                        "lib-cart-sms",
                        "Your cart is still waiting for you, {{ contact.first_name | default: \"friend\" }}. Reply STOP to opt out.",
                    ),
                    "Cart reminder by SMS",
                ),
            ]
        },
        segments: &[],
        pools: || vec![unique_pool("lib-cart-10", "Cart reminder 10% off", "CART", "percent", 10.0, "7d")],
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
            vec![named(
                email_parts(
                    "lib-browse-email",
                    "Still thinking about {{ event.name }}?",
                    &format!(
                        "<p>{{{{ event.name }}}} is still available{{% if event.price %}} at {{{{ event.price | money: event.currency }}}}{{% endif %}}.</p>\
{{% if event.image_url %}}<p><img src=\"{{{{ event.image_url }}}}\" alt=\"{{{{ event.name }}}}\" width=\"300\" style=\"width:100%;max-width:300px;height:auto;border:0\"></p>{{% endif %}}\
<p><a href=\"{{{{ event.url | default: store.url }}}}\">Take another look</a></p>\
{{% assign others = recommendations.also_viewed | default: recommendations.trending %}}{{% if others.size > 0 %}}<p>You might also like:</p>{}{{% endif %}}",
                        product_cards("others", 3)
                    ),
                    &format!(
                        "{{{{ event.name }}}} is still available{{% if event.price %}} at {{{{ event.price | money: event.currency }}}}{{% endif %}}: {{{{ event.url | default: store.url }}}}\n\
{{% assign others = recommendations.also_viewed | default: recommendations.trending %}}{{% if others.size > 0 %}}\nYou might also like:\n{}{{% endif %}}",
                        product_lines("others", 3)
                    ),
                ),
                "Still thinking about it?",
            )]
        },
        segments: &[],
        pools: no_pools,
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
                email_parts(
                    "lib-thanks",
                    "Thank you for your order",
                    &format!(
                        "<p>We are packing order {{{{ event.order_id }}}} now.</p>\
{{% if recommendations.also_bought.size > 0 %}}<p>Customers who bought the same also liked:</p>{}{{% endif %}}",
                        product_cards("recommendations.also_bought", 3)
                    ),
                    &format!(
                        "We are packing order {{{{ event.order_id }}}} now.\n\
{{% if recommendations.also_bought.size > 0 %}}\nCustomers who bought the same also liked:\n{}{{% endif %}}",
                        product_lines("recommendations.also_bought", 3)
                    ),
                ),
                email_parts(
                    "lib-review",
                    "How was your order?",
                    "<p>Tell us what you think of what you bought: it helps other shoppers.</p>\
{% for item in event.products %}<p><a href=\"{{ item.url | default: store.url }}#reviews\" style=\"color:{{ store.color | default: '#1a56db' }}\">Review {{ item.name }}</a></p>{% endfor %}",
                    "Tell us what you think of what you bought: it helps other shoppers.\n\
{% for item in event.products %}- Review {{ item.name }}: {{ item.url | default: store.url }}#reviews\n{% endfor %}",
                ),
            ]
        },
        segments: &[],
        pools: no_pools,
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
                {"id": "wait", "type": "delay", "duration": "7d", "next": "code"},
                {"id": "code", "type": "issue_coupon", "pool": "lib-comeback-15", "next": "offer"},
                {"id": "offer", "type": "send", "channel": "email", "template": "lib-winback-2"}
            ]})
        },
        templates: || {
            vec![
                email_parts(
                    "lib-winback-1",
                    "We miss you",
                    &format!(
                        "<p>It has been a while. Here is what is popular in the shop right now:</p>{}",
                        product_cards("recommendations.trending", 3)
                    ),
                    &format!(
                        "It has been a while. Here is what is popular in the shop right now:\n{}",
                        product_lines("recommendations.trending", 3)
                    ),
                ),
                email_parts(
                    "lib-winback-2",
                    "15% off, just for you",
                    &format!("<p>Come back and save 15% on your next order:</p>{COUPON_HTML}"),
                    &format!("Come back and save 15% on your next order.\n\n{COUPON_TEXT}"),
                ),
            ]
        },
        segments: &[("Lapsed 90 days", "orders.count >= 1 and orders.last_at before 90d ago")],
        pools: || vec![unique_pool("lib-comeback-15", "Win-back 15% off", "COMEBACK", "percent", 15.0, "30d")],
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
            vec![email_parts(
                "lib-reengage",
                "Do you still want to hear from us?",
                "<p>We have not heard from you in a while. <a href=\"{{ store.url }}\">Click here to stay subscribed</a>; otherwise we will stop writing in two weeks.</p>",
                "We have not heard from you in a while. Follow this link to stay subscribed: {{ store.url }}\nOtherwise we will stop writing in two weeks.",
            )]
        },
        // Email engagement, not site visits: no human open or click (scanners' and proxies' are `machine`) in 180
        // days, for subscribers who have been on the list that long.
        segments: &[(
            "Unengaged 180 days",
            "subscribed email and created_at before 180d ago and not did \"Email Opened\" where machine != true within 180d \
             and not did \"Email Clicked\" where machine != true within 180d",
        )],
        pools: no_pools,
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
                {"id": "tag", "type": "tag", "add": ["vip"], "next": "code"},
                {"id": "code", "type": "issue_coupon", "pool": "lib-vip-shipping", "next": "gift"},
                {"id": "gift", "type": "send", "channel": "email", "template": "lib-vip"}
            ]})
        },
        templates: || {
            vec![email_parts(
                "lib-vip",
                "You are one of our best customers",
                &format!("<p>As a thank-you, your next shipping is on us with this code:</p>{COUPON_HTML}"),
                &format!("As a thank-you, your next shipping is on us.\n\n{COUPON_TEXT}"),
            )]
        },
        segments: &[("VIP customers", "orders.total_spent > 1000 or orders.count >= 5")],
        pools: || vec![unique_pool("lib-vip-shipping", "VIP free shipping", "VIP", "free_shipping", 0.0, "90d")],
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
            vec![named(
                email_parts(
                    "lib-back-in-stock",
                    "{{ event.title }} is back",
                    "<p>{{ event.title }} is back in stock{% if event.price %} at {{ event.price | money: event.currency }}{% endif %}.</p>\
{% if event.image_url %}<p><img src=\"{{ event.image_url }}\" alt=\"{{ event.title }}\" width=\"300\" style=\"width:100%;max-width:300px;height:auto;border:0\"></p>{% endif %}\
<p><a href=\"{{ event.url | default: store.url }}\">Get it before it is gone</a></p>",
                    "{{ event.title }} is back in stock{% if event.price %} at {{ event.price | money: event.currency }}{% endif %}: {{ event.url | default: store.url }}",
                ),
                "Back in stock",
            )]
        },
        segments: &[],
        pools: no_pools,
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
            vec![named(
                email_parts(
                    "lib-price-drop",
                    "Price drop: {{ event.title }}",
                    "<p>{{ event.title }} now costs {{ event.price | money: event.currency }}.</p>\
{% if event.image_url %}<p><img src=\"{{ event.image_url }}\" alt=\"{{ event.title }}\" width=\"300\" style=\"width:100%;max-width:300px;height:auto;border:0\"></p>{% endif %}\
<p><a href=\"{{ event.url | default: store.url }}\">See it in the shop</a></p>",
                    "{{ event.title }} now costs {{ event.price | money: event.currency }}: {{ event.url | default: store.url }}",
                ),
                "Price drop",
            )]
        },
        segments: &[],
        pools: no_pools,
    },
    LibraryFlow {
        key: "birthday",
        name: "Birthday",
        description: "A birthday greeting with a gift on the contact's birthday (trait `birthday`), in their time zone.",
        flow: |_| {
            json!({"name": "Birthday",
            "trigger": {"type": "date", "trait": "birthday", "days_before": 0},
            "entry": {"filter": "subscribed email", "reentry": "once_per 300d"},
            "steps": [
                {"id": "code", "type": "issue_coupon", "pool": "lib-birthday-20", "next": "email"},
                {"id": "email", "type": "send", "channel": "email", "template": "lib-birthday"}
            ]})
        },
        templates: || {
            vec![named(
                email_parts(
                    "lib-birthday",
                    "Happy birthday, {{ contact.first_name | default: \"friend\" }}!",
                    &format!("<p>Here is a birthday gift: 20% off anything you like.</p>{COUPON_HTML}"),
                    &format!("Here is a birthday gift: 20% off anything you like.\n\n{COUPON_TEXT}"),
                ),
                "Happy birthday",
            )]
        },
        segments: &[],
        pools: || vec![unique_pool("lib-birthday-20", "Birthday 20% off", "BDAY", "percent", 20.0, "30d")],
    },
    LibraryFlow {
        key: "returns_follow_up",
        name: "Returns and exchanges follow-up",
        description: "A day after a refund, a personal note: what went wrong, help choosing a replacement or an exchange, and what others bought instead.",
        flow: |_| {
            json!({"name": "Returns and exchanges follow-up",
            "trigger": {"type": "event", "events": ["Order Refunded", "Return Requested"]},
            "key": "event.order_id",
            "entry": {"filter": "subscribed email", "reentry": "always"},
            "exit_when": "did \"Order Completed\" since entry",
            "steps": [
                {"id": "wait", "type": "delay", "duration": "1d", "next": "email"},
                {"id": "email", "type": "send", "channel": "email", "template": "lib-returns"}
            ]})
        },
        templates: || {
            vec![email_parts(
                "lib-returns",
                "Sorry it did not work out",
                &format!(
                    "<p>We are sorry that order {{{{ event.order_id }}}} did not work out. Reply to this email and tell us what went wrong: \
we will help you find the right size, colour or model, or arrange an exchange.</p>\
{{% if recommendations.based_on_history.size > 0 %}}<p>You might like instead:</p>{}{{% endif %}}",
                    product_cards("recommendations.based_on_history", 3)
                ),
                &format!(
                    "We are sorry that order {{{{ event.order_id }}}} did not work out. Reply to this email and tell us what went wrong: \
we will help you find the right size, colour or model, or arrange an exchange.\n\
{{% if recommendations.based_on_history.size > 0 %}}\nYou might like instead:\n{}{{% endif %}}",
                    product_lines("recommendations.based_on_history", 3)
                ),
            )]
        },
        segments: &[],
        pools: no_pools,
    },
    LibraryFlow {
        key: "replenishment",
        name: "Replenishment reminder",
        description: "When the products of an order are usually bought again (learned from the store's repeat orders), a reminder to restock them, unless the customer ordered meanwhile.",
        flow: |_| {
            json!({"name": "Replenishment reminder",
            "trigger": {"type": "event", "event": "Order Completed"},
            "key": "event.order_id",
            "entry": {"filter": "subscribed email", "reentry": "always"},
            "exit_when": "count(\"Order Completed\", since entry) > 1",
            "steps": [
                {"id": "wait", "type": "delay", "reorder_interval": true, "next": "email"},
                {"id": "email", "type": "send", "channel": "email", "template": "lib-replenish"}
            ]})
        },
        templates: || {
            vec![email_parts(
                "lib-replenish",
                "Time to restock?",
                &format!(
                    "<p>It has been a while since your order {{{{ event.order_id }}}}: customers usually run out about now. \
Restock in a few clicks:</p>{}",
                    product_cards("event.products", 3)
                ),
                &format!(
                    "It has been a while since your order {{{{ event.order_id }}}}: customers usually run out about now. Restock in a few clicks:\n{}",
                    product_lines("event.products", 3)
                ),
            )]
        },
        segments: &[],
        pools: no_pools,
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
            let pools: Vec<String> = (f.pools)().iter().map(|p| p["id"].as_str().unwrap().to_string()).collect();
            for s in &def.steps {
                if let crate::StepKind::IssueCoupon { pool, .. } = &s.kind {
                    assert!(pools.contains(pool), "{}: pool {pool} missing", f.key);
                }
            }
            for t in (f.templates)() {
                let text = t.to_string();
                for code in ["WELCOME10", "COMEBACK15", "BDAY20"] {
                    assert!(!text.contains(code), "{}: a hard-coded code {code}", f.key);
                }
                if t["channel"] == "email" {
                    for part in ["html", "text"] {
                        let body = t[part].as_str().unwrap_or_default();
                        assert!(body.contains("{{ unsubscribe_url }}"), "{}: {part} without unsubscribe link", f.key);
                        assert!(body.contains("{{ preferences_url }}"), "{}: {part} without preferences link", f.key);
                    }
                }
            }
        }
        assert_eq!(LIBRARY.len(), 12);
    }
}

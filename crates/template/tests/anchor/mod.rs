//! The anchor template of `kairos bench render` (issue 17): a ~10 KB abandoned-cart email in a layout, with a
//! footer partial, a 3-item product loop, `money` and `date` in the contact's time zone, and the text part derived
//! from the html; and the synthetic contacts it is rendered for.
//!
//! Kept here, beside the golden test that pins its output byte for byte, and compiled into the bench with
//! `#[path]`, so the bench measures exactly what the test checks.

#![allow(dead_code)] // The bench and the test each use part of it.

use kairos_template::{Data, Globals, Renderer, Template, TemplateParts};
use serde_json::{Value, json};

pub const ZONES: &[&str] = &["Europe/Paris", "America/New_York", "Europe/Helsinki", "Asia/Tokyo"];
const FIRST_NAMES: &[&str] = &["Aino", "Ana", "Léa", "Noah", "O'Brien", "Mia", "Elias", "Zoë"];
/// The instant the anchor renders at ("now" for `date`).
pub const NOW: &str = "2026-03-29T09:00:00Z";

pub const LAYOUT: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{ store.name }}</title>
<style>body{margin:0;background:#f4f4f4;font-family:Helvetica,Arial,sans-serif;color:#222}
.wrap{max-width:600px;margin:0 auto;background:#fff}.btn{display:inline-block;padding:12px 24px;background:#1a73e8;color:#fff;text-decoration:none;border-radius:4px}
td{padding:8px;vertical-align:top}.muted{color:#777;font-size:12px}</style></head>
<body><div class="wrap">
<table width="100%"><tr><td><a href="{{ store.url }}"><img src="{{ store.url }}/logo.png" alt="{{ store.name }}" width="140"></a></td></tr></table>
{{ content }}
{% include 'footer' %}
</div></body></html>"#;

pub const FOOTER: &str = r#"<table width="100%"><tr><td class="muted">
<p>{{ store.name }} · {{ store.address }}</p>
<p>You receive this email because you shop at {{ store.name }}.
<a href="{{ preferences_url }}">Email preferences</a> · <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</td></tr></table>"#;

const BODY: &str = r#"<h1>{{ contact.first_name | default: "Hi there" }}, you left something behind</h1>
<p>Your cart at {{ store.name }} is saved{% if contact.last_seen_at %} since your visit on {{ contact.last_seen_at | date: "%A %-d %B at %H:%M" }}{% endif %}.</p>
<table width="100%">
{%- for item in event.items %}
<tr><td width="120"><a href="{{ item.url }}"><img src="{{ item.image_url }}" alt="{{ item.name }}" width="120"></a></td>
<td><b><a href="{{ item.url }}">{{ item.name }}</a></b><br>{{ item.variant }}<br>Qty {{ item.quantity }}</td>
<td align="right">{{ item.price | money }}</td></tr>
{%- endfor %}
</table>
<p><b>Total: {{ cart.value | money }}</b></p>
{% if cart.free_shipping_remaining > 0 -%}
<p>Add {{ cart.free_shipping_remaining | money }} more for free shipping.</p>
{%- else -%}
<p>Your order ships free.</p>
{%- endif %}
{% if coupon %}<p>Use <b>{{ coupon.code }}</b> for {{ coupon.percent_off }}% off, valid until {{ coupon.expires_at | date: "%b %d, %Y %H:%M %Z" }}.</p>{% endif %}
<p><a class="btn" href="{{ store.url }}/cart?utm_source=kairos&amp;utm_campaign=abandoned_cart">Return to your cart</a></p>
"#;

pub const SUBJECT: &str = "{{ contact.first_name | default: 'Hi' }}, your {{ event.items.size }} items are waiting";

/// A paragraph of static copy, repeated to bring the html to ~10 KB as real emails are.
const FILLER: &str = "<p class=\"muted\">Free returns within 30 days and a two-year warranty on every lamp. \
    Questions about sizes, bulbs or delivery? Reply to this email and our team in Helsinki will help you choose.</p>\n";
const HTML_BYTES_TARGET: usize = 9_900;

/// The body (the html part inside the layout).
pub fn body_source() -> String {
    let mut s = String::from(BODY);
    while s.len() + LAYOUT.len() + FOOTER.len() < HTML_BYTES_TARGET {
        s.push_str(FILLER);
    }
    s
}

/// The anchor compiled once: its renderer (layout, footer partial) and template.
pub fn compile() -> Result<(Renderer, Template), kairos_template::TemplateError> {
    let renderer = Renderer::builder().partial("footer", FOOTER).layout("base", LAYOUT).build()?;
    let parts = TemplateParts::email(SUBJECT, &body_source(), None).with_layout("base");
    let template = renderer.compile(&parts)?;
    Ok((renderer, template))
}

/// The store, the same for every contact: converted once and shared, as the sender does.
pub fn store_json() -> Value {
    json!({"name": "Valo & Co", "currency": "EUR", "url": "https://shop.example",
        "address": "Esplanadi 1, 00130 Helsinki", "free_shipping_threshold": 150})
}

pub fn store() -> Data {
    Data::from_json(&store_json())
}

/// One synthetic contact's data, rewritten in place per contact so generating it costs little next to rendering.
pub struct Shopper {
    pub contact: Value,
    pub event: Value,
    pub cart: Value,
    pub coupon: Value,
    pub unsubscribe_url: String,
    pub preferences_url: String,
    pub zone: &'static str,
}

impl Default for Shopper {
    fn default() -> Self {
        Self::new()
    }
}

impl Shopper {
    pub fn new() -> Self {
        let items: Vec<Value> = (0..3)
            .map(|k| {
                json!({"product_id": format!("p{k}"), "name": "", "variant": "Brass, E27", "price": 0.0, "quantity": 1,
                       "url": "", "image_url": ""})
            })
            .collect();
        Self {
            contact: json!({"first_name": "", "last_name": "Virtanen", "email": "", "city": "Helsinki", "orders_count": 0,
                            "total_spent": 0.0, "last_seen_at": "2026-03-27T18:45:00Z", "accepts_marketing": true}),
            event: json!({"cart_id": "", "items": items}),
            cart: json!({"value": 0.0, "item_count": 0, "free_shipping_remaining": 0.0}),
            coupon: json!({"code": "", "percent_off": 10, "expires_at": "2026-04-05T21:59:00Z"}),
            unsubscribe_url: String::new(),
            preferences_url: String::new(),
            zone: ZONES[0],
        }
    }

    /// Contact `i`'s data.
    pub fn personalise(&mut self, i: usize) {
        let name = FIRST_NAMES[i % FIRST_NAMES.len()];
        self.contact["first_name"] = json!(format!("{name}{i}"));
        self.contact["email"] = json!(format!("shopper{i}@example.com"));
        self.contact["orders_count"] = json!(i % 5);
        self.contact["total_spent"] = json!((i % 1000) as f64 * 1.5);
        self.event["cart_id"] = json!(format!("cart-{i}"));
        let mut total = 0.0;
        for (k, item) in self.event["items"].as_array_mut().into_iter().flatten().enumerate() {
            let price = 19.9 + (k * 30) as f64 + (i % 13) as f64;
            total += price;
            item["name"] = json!(format!("Lamp model {} <{}>", i % 97, ["S", "M", "L"][k]));
            item["price"] = json!(price);
            item["url"] = json!(format!("https://shop.example/products/p{k}?ref={i}"));
            item["image_url"] = json!(format!("https://cdn.shop.example/p{k}-{}.jpg", i % 7));
        }
        self.cart["value"] = json!(total);
        self.cart["item_count"] = json!(3);
        self.cart["free_shipping_remaining"] = json!((150.0 - total).max(0.0));
        self.coupon["code"] = json!(format!("BACK-{i:06}"));
        self.unsubscribe_url = format!("https://mail.shop.example/u/{i:08x}");
        self.preferences_url = format!("https://mail.shop.example/p/{i:08x}");
        self.zone = ZONES[i % ZONES.len()];
    }

    /// The render's variables, converted from this contact's JSON (part of what a render costs the sender).
    pub fn globals(&self, store: &Data, now: jiff::Timestamp) -> Globals {
        Globals::builder(now)
            .contact(&self.contact)
            .event(&self.event)
            .cart(&self.cart)
            .coupon(&self.coupon)
            .store_data(store.clone(), Some("EUR"))
            .unsubscribe_url(&self.unsubscribe_url)
            .preferences_url(&self.preferences_url)
            .timezone(Some(self.zone))
            .build()
    }
}

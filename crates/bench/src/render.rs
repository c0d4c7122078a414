//! `kairos bench render`: Liquid rendering as the sender does it (SPEC 15: ≥ 20 000 personalised emails/s with a
//! product loop). A ~10 KB abandoned-cart email in a layout, with a 3-item product loop, `money` and `date` in the
//! contact's time zone, is compiled once; then, for each of `n` distinct synthetic contacts, their data is
//! converted once (`Globals`) and every part is rendered: subject, html (escaped data, layout, footer partial) and
//! the text part derived from the html.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use kairos_template::{Data, Globals, Renderer, TemplateParts};
use serde_json::{Value, json};

const ZONES: &[&str] = &["Europe/Paris", "America/New_York", "Europe/Helsinki", "Asia/Tokyo"];
const FIRST_NAMES: &[&str] = &["Aino", "Ana", "Léa", "Noah", "O'Brien", "Mia", "Elias", "Zoë"];
/// Renders between progress-bar updates (the bar is shared by the threads).
const PROGRESS_EVERY: u64 = 1024;

const LAYOUT: &str = r#"<!doctype html>
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

const FOOTER: &str = r#"<table width="100%"><tr><td class="muted">
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

/// A paragraph of static copy, repeated to bring the html to ~10 KB as real emails are.
const FILLER: &str = "<p class=\"muted\">Free returns within 30 days and a two-year warranty on every lamp. \
    Questions about sizes, bulbs or delivery? Reply to this email and our team in Helsinki will help you choose.</p>\n";
const HTML_BYTES_TARGET: usize = 9_900;

fn body_source() -> String {
    let mut s = String::from(BODY);
    while s.len() + LAYOUT.len() + FOOTER.len() < HTML_BYTES_TARGET {
        s.push_str(FILLER);
    }
    s
}

/// One synthetic contact's data, rewritten in place per contact so generating it costs little next to rendering.
struct Shopper {
    contact: Value,
    event: Value,
    cart: Value,
    coupon: Value,
}

impl Shopper {
    fn new() -> Self {
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
        }
    }

    fn personalise(&mut self, i: usize) {
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
    }
}

fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

pub fn run(n: usize, threads: usize) -> anyhow::Result<()> {
    let threads = threads.max(1);
    let renderer = Renderer::builder()
        .partial("footer", FOOTER)
        .layout("base", LAYOUT)
        .build()
        .map_err(|e| anyhow::anyhow!("benchmark layout: {e}"))?;
    let parts = TemplateParts::email(
        "{{ contact.first_name | default: 'Hi' }}, your {{ event.items.size }} items are waiting",
        &body_source(),
        None,
    )
    .with_layout("base");
    let template = renderer.compile(&parts).map_err(|e| anyhow::anyhow!("benchmark template: {e}"))?;
    // The store is the same for every contact: converted once and shared, as the sender does.
    let store = Data::from_json(&json!({"name": "Valo & Co", "currency": "EUR", "url": "https://shop.example",
        "address": "Esplanadi 1, 00130 Helsinki", "free_shipping_threshold": 150}));
    let now: jiff::Timestamp = "2026-03-29T09:00:00Z".parse()?;

    let bar = ProgressBar::new(n as u64);
    bar.set_style(
        ProgressStyle::with_template("rendering {bar:40} {pos}/{len}").unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let results: Vec<anyhow::Result<(Vec<Duration>, usize)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|w| {
                let (template, store, bar) = (&template, &store, &bar);
                s.spawn(move || -> anyhow::Result<(Vec<Duration>, usize)> {
                    let mut shopper = Shopper::new();
                    let mut latencies = Vec::with_capacity(n / threads + 1);
                    let mut html_bytes = 0;
                    for i in (w..n).step_by(threads) {
                        shopper.personalise(i);
                        let unsubscribe = format!("https://mail.shop.example/u/{i:08x}");
                        let preferences = format!("https://mail.shop.example/p/{i:08x}");
                        let t0 = Instant::now();
                        let globals = Globals::builder(now)
                            .contact(&shopper.contact)
                            .event(&shopper.event)
                            .cart(&shopper.cart)
                            .coupon(&shopper.coupon)
                            .store_data(store.clone(), Some("EUR"))
                            .unsubscribe_url(&unsubscribe)
                            .preferences_url(&preferences)
                            .timezone(Some(ZONES[i % ZONES.len()]))
                            .build();
                        let out = template.render(&globals).map_err(|e| anyhow::anyhow!("render {i}: {e}"))?;
                        latencies.push(t0.elapsed());
                        html_bytes = out.html.as_ref().map_or(0, String::len);
                        if (latencies.len() as u64).is_multiple_of(PROGRESS_EVERY) {
                            bar.inc(PROGRESS_EVERY);
                        }
                    }
                    Ok((latencies, html_bytes))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("render thread panicked"))))
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let mut latencies = Vec::with_capacity(n);
    let mut html_bytes = 0;
    for r in results {
        let (l, b) = r?;
        latencies.extend(l);
        html_bytes = html_bytes.max(b);
    }
    latencies.sort_unstable();
    let pct = |p: f64| latencies.get(((latencies.len() as f64 - 1.0) * p) as usize).map_or(0, Duration::as_micros);
    println!(
        "render: {n} renders in {elapsed:.1} s = {} renders/s ({threads} threads), p50 {} µs, p99 {} µs",
        group((n as f64 / elapsed) as u64),
        pct(0.5),
        pct(0.99)
    );
    println!(
        "  per render: data → Globals, subject, {:.1} KB html (layout, footer partial, 3-item loop, money, date in 4 \
         zones), text part derived from the html",
        html_bytes as f64 / 1024.0
    );
    Ok(())
}

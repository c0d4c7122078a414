//! The data and templates of the golden test besides the anchor: contacts for the flow library's templates, and
//! small templates exercising each feature of the language.

use kairos_template::{Globals, Renderer, SubjectVariant, TemplateParts};
use serde_json::{Value, json};

fn now() -> jiff::Timestamp {
    "2026-03-29T10:00:00Z".parse().unwrap()
}

fn product(id: &str, title: &str, price: f64, currency: &str) -> Value {
    json!({"id": id, "product_id": id, "title": title, "name": title, "price": price, "currency": currency,
           "url": format!("https://shop.example/p/{id}?utm=a&b=c"), "image_url": format!("https://cdn.example/{id}.jpg")})
}

fn recommendations(currency: &str) -> Value {
    let list = |n: usize, from: usize| -> Vec<Value> {
        (from..from + n)
            .map(|k| product(&format!("r{k}"), &format!("Lamp \"{k}\" & shade"), 10.0 + k as f64 * 7.25, currency))
            .collect()
    };
    json!({"trending": list(4, 0), "based_on_history": list(2, 10), "also_viewed": list(3, 20), "also_bought": list(1, 30),
           "recently_viewed": list(2, 40)})
}

/// Contacts for the library's templates: full data in English, German and French locales and three zones, and
/// one with almost nothing (no name, empty cart, an unknown zone).
pub fn library_globals() -> Vec<Globals> {
    let store = json!({"name": "Velo & Co", "currency": "EUR", "url": "https://shop.example", "address": "1 Quay St, Cork",
                       "color": "#ff6600", "logo_url": "https://cdn.example/logo.png?v=2", "free_shipping_threshold": 75});
    let items = |cur: &str| -> Value {
        json!([{"product_id": "p1", "name": "Desk <Lamp>", "variant": "Brass", "price": 1234.5, "quantity": 1,
                "image_url": "https://cdn.example/p1.jpg", "url": "https://shop.example/p1"},
               {"product_id": "p2", "name": "Bulb", "price": 4.99, "quantity": 3, "currency": cur}])
    };
    let event = |cur: &str| -> Value {
        json!({"order_id": "1001", "title": "Desk Lamp 'Aalto'", "name": "Desk Lamp", "price": 89.9, "currency": cur,
               "url": "https://shop.example/p/aalto", "image_url": "https://cdn.example/aalto.jpg", "value": 1249.47,
               "products": items(cur), "checkout_url": "https://shop.example/checkout/abc?x=1&y=2",
               "confirm_url": "https://k.example/confirm/t0k3n", "expires_in_days": 7, "form_name": "Footer <form>"})
    };
    let full = |first: &str, locale: &str, zone: &str, cur: &str| {
        Globals::builder(now())
            .contact(json!({"first_name": first, "email": "ann@example.com", "orders_count": 2}))
            .event(event(cur))
            .cart(json!({"items": items(cur), "value": 1249.47, "currency": cur, "checkout_url": "https://shop.example/c/1"}))
            .coupon(json!({"code": "WELCOME-10", "expires_at": "2026-04-05T21:30:00Z", "percent_off": 10}))
            .recommendations(recommendations(cur))
            .store(&store)
            .unsubscribe_url("https://k.example/u/abc?t=1&s=2")
            .preferences_url("https://k.example/p/abc")
            .timezone(Some(zone))
            .locale(Some(locale))
            .build()
    };
    let sparse = Globals::builder(now())
        .contact(json!({"email": "x@example.com"}))
        .event(json!({"products": []}))
        .cart(json!({"items": []}))
        .store(&json!({"name": "Plain", "url": "https://plain.example"}))
        .timezone(Some("Not/AZone"))
        .build();
    vec![
        full("Ann & <Bo>", "en-US", "Europe/Paris", "EUR"),
        full("Jürgen", "de-DE", "America/New_York", "EUR"),
        full("Zoë O'Brien", "fr-FR", "Asia/Tokyo", "JPY"),
        sparse,
    ]
}

fn features_globals() -> Globals {
    Globals::builder(now())
        .contact(json!({"first_name": "<Ana>", "last_name": "O'Neil & Co", "tags": ["vip", "b<2>", "c"], "n": 3,
                        "total": 1234.5, "bio": "<b>hi</b>", "address": null, "unix": 1774746000,
                        "seen": "2026-03-29T00:30:00Z", "day": "2026-03-29", "enc": "%3Cscript%3E", "<k>": "v",
                        "flag": true, "score": 2.5, "empty": "", "nested": {"a": {"b": [1, 2, {"c": "deep"}]}}}))
        .products(json!([{"name": "B<", "price": 2, "ok": true}, {"name": "A", "price": 1, "ok": false},
                         {"price": 3, "ok": true}]))
        .store(&json!({"name": "Lamp & Co", "currency": "USD", "url": "https://shop.example"}))
        .unsubscribe_url("https://k.example/u?t=1&x=2")
        .timezone(Some("America/New_York"))
        .build()
}

/// Small templates, each rendered as a message body (no escaping) and as html (escaping).
const FEATURES: &[(&str, &str)] = &[
    (
        "output",
        "{{ contact.first_name }} {{ contact.last_name }} {{ contact.n }} {{ contact.score }} {{ contact.flag }}",
    ),
    (
        "missing",
        "{{ contact.nickname | default: 'friend' }}|{{ contact.address.city }}|{{ nothing.at.all }}|{{ contact.missing | join: ',' }}|{{ contact.tags[5] }}|{{ contact.size }}",
    ),
    (
        "arrays",
        "{{ contact.tags | join: ', ' }}|{{ contact.tags.size }}|{{ contact.tags.first }}|{{ contact.tags.last }}|{{ contact.tags[-1] }}|{{ contact.tags }}",
    ),
    ("nested", "{{ contact.nested.a.b[2].c }}|{{ contact.nested.a.b | size }}|{{ contact.nested }}"),
    (
        "conditions",
        "{% if contact.flag and contact.n > 2 %}a{% elsif contact.n == 3 %}b{% else %}c{% endif %}{% unless contact.empty %}u{% endunless %}{% if contact.first_name contains 'Ana' %}has{% endif %}",
    ),
    ("case", "{% case contact.n %}{% when 1 %}one{% when 2, 3 %}two-three{% else %}many{% endcase %}"),
    (
        "for",
        "{% for t in contact.tags %}{{ forloop.index }}/{{ forloop.length }}:{{ t }}{% unless forloop.last %},{% endunless %}{% endfor %}",
    ),
    (
        "for_options",
        "{% for t in contact.tags limit: 2 offset: 1 reversed %}{{ t }}{% endfor %}|{% for i in (1..4) %}{{ i }}{% if i == 2 %}{% break %}{% endif %}{% endfor %}|{% for x in contact.none %}x{% else %}empty{% endfor %}",
    ),
    (
        "for_object",
        "{% for p in contact.nested.a %}{{ p[0] }}={{ p[1] | size }}{% endfor %}{% for p in contact %}{% if p[0] == '<k>' %}{{ p[0] }}={{ p[1] }}{% endif %}{% endfor %}",
    ),
    ("tablerow", "{% tablerow t in contact.tags cols: 2 %}{{ t }}{% endtablerow %}"),
    (
        "assign_capture",
        "{% assign n = contact.last_name %}{{ n }}|{% capture c %}<b>{{ contact.first_name }}</b>{% endcapture %}{{ c }}|{% assign xs = contact.tags | reverse %}{{ xs | join: '-' }}",
    ),
    (
        "counters",
        "{% increment c %}{% increment c %}{% decrement d %} {% cycle 'x', 'y' %}{% cycle 'x', 'y' %}{% cycle 'x', 'y' %}",
    ),
    (
        "string_filters",
        "{{ contact.last_name | upcase }}|{{ contact.last_name | downcase }}|{{ 'hello world' | capitalize }}|{{ contact.last_name | truncate: 7 }}|{{ 'a b c d e' | truncatewords: 2 }}|{{ '  x  ' | strip }}|{{ contact.last_name | replace: '&', 'and' }}|{{ contact.last_name | remove: 'O' }}|{{ 'a,b' | split: ',' | join: '+' }}|{{ contact.last_name | prepend: '>' | append: '<' }}|{{ contact.last_name | slice: 0, 3 }}|{{ contact.last_name | size }}",
    ),
    (
        "html_filters",
        "{{ contact.last_name | escape }}|{{ contact.last_name | escape_once }}|{{ contact.bio | strip_html }}|{{ contact.bio | raw }}|{{ contact.enc | url_decode }}|{{ contact.last_name | url_encode }}|{{ 'a\nb' | newline_to_br }}|{{ 'a\nb' | strip_newlines }}",
    ),
    (
        "math",
        "{{ contact.n | plus: 2 }}|{{ contact.n | minus: 5 }}|{{ contact.n | times: 1.5 }}|{{ 10 | divided_by: contact.n }}|{{ 10 | modulo: contact.n }}|{{ contact.score | round }}|{{ contact.score | ceil }}|{{ contact.score | floor }}|{{ -3 | abs }}|{{ 5 | at_least: 7 }}|{{ 5 | at_most: 2 }}",
    ),
    (
        "array_filters",
        "{{ products | map: 'name' | compact | join: ',' }}|{{ products | where: 'ok', true | size }}|{% assign cheap = products | sort: 'price' | first %}{{ cheap.name }}|{{ contact.tags | sort | join: ',' }}|{{ contact.tags | concat: contact.tags | uniq | join: ',' }}|{{ products | sort_natural: 'name' | map: 'price' | join: ',' }}|{{ contact.tags | first }}{{ contact.tags | last }}",
    ),
    (
        "money",
        "{{ contact.total | money }}|{{ contact.n | money: 'EUR' }}|{{ contact.total | money: 'JPY' }}|{{ contact.total | money: 'SEK' }}|{{ 'abc' | money }}|{{ contact.none | money }}|{{ -0.005 | money }}|{{ '19.9' | money: 'GBP' }}",
    ),
    (
        "date",
        "{{ contact.seen | date: '%Y-%m-%d %H:%M %Z' }}|{{ contact.unix | date: '%b %d, %Y %H:%M' }}|{{ contact.day | date: '%A %-d %B' }}|{{ 'now' | date: '%H:%M %z' }}|{{ 'soon' | date: '%Y' }}|{{ contact.seen | date: '' }}",
    ),
    (
        "comparisons_escaped",
        "{% if contact.last_name == \"O'Neil & Co\" %}raw{% endif %}{% if contact.last_name == \"O&#39;Neil &amp; Co\" %}escaped{% endif %}",
    ),
    ("whitespace", "a  {%- if true -%}  b  {%- endif -%}  c\n  {{- contact.n -}}  \n d"),
    ("raw_block", "{% raw %}{{ not.rendered }}{% endraw %} {% comment %}gone{% endcomment %}{{ '<i>lit</i>' }}"),
];

/// Templates rendered through a renderer with partials and a layout.
fn partials_renderer() -> Renderer {
    Renderer::builder()
        .partial("footer", "<footer>{{ store.name }} · <a href=\"{{ unsubscribe_url }}\">unsubscribe</a></footer>")
        .partial("product", "<li>{{ product.name }} {{ product.price | money }}</li>")
        .partial("isolated", "<i>{{ contact.first_name }}</i>")
        .partial("header", "<header>{{ contact.first_name }}{% include 'greeting' %}</header>")
        .partial("greeting", "{% if contact.flag %} welcome back{% endif %}")
        .layout("base", "<html><body>{% include 'header' %}{{ content }}{% include 'footer' %}</body></html>")
        .build()
        .expect("the corpus renderer")
}

fn email(subject: &str, html: &str, text: Option<&str>) -> TemplateParts {
    TemplateParts::email(subject, html, text)
}

/// Whole emails: layouts, partials, derived text, preview text, variants, blocks, and render errors.
fn emails() -> Vec<(&'static str, TemplateParts)> {
    let blocks = json!([
        {"type": "header", "preheader": "Spring <sale> inside"},
        {"type": "text", "heading": "Hi {{ contact.first_name }}", "text": "Line one\nline two\n\nNew <b>para</b> & more", "align": "center"},
        {"type": "image", "url": "https://cdn.example/hero.jpg?a=1&b=2", "alt": "A bike \"by the sea\"", "width": 300, "link_url": "https://shop.example/sale"},
        {"type": "button", "label": "Shop <now>", "url": "{{ store.url }}/sale", "color": "#123456", "align": "center"},
        {"type": "divider"},
        {"type": "spacer", "height": 32},
        {"type": "coupon", "heading": "Your code", "code": "SPRING10"},
        {"type": "footer", "text": "You signed up at Velo."}
    ]);
    let checked = kairos_template::blocks::parse_blocks(&blocks).expect("corpus blocks");
    let mut with_preview = email(
        "Hi {{ contact.first_name }}\n{% if contact.flag %}\n  welcome back\n{% endif %}",
        "<html><body><p>{{ contact.last_name }}</p><ul><li>One</li><li>Two &amp; three</li></ul><table><tr><td>a</td><td>b</td></tr></table><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></body></html>",
        None,
    );
    with_preview.preview_text = Some("Just for {{ contact.first_name }} & you".to_owned());
    with_preview.variants = vec![
        SubjectVariant { subject: "B: {{ contact.last_name }}".to_owned(), preview_text: None },
        SubjectVariant { subject: "C".to_owned(), preview_text: Some("C's preview".to_owned()) },
    ];
    vec![
        (
            "layout_partials",
            email(
                "Hi",
                "<ul>{% for p in products %}{% render 'product', product: p %}{% endfor %}</ul>",
                Some("{% include 'footer' %}"),
            )
            .with_layout("base"),
        ),
        (
            "layout_derived_text",
            email("{{ contact.first_name }}", "<h1>{{ contact.first_name }}</h1><p>Line<br>two</p>", None)
                .with_layout("base"),
        ),
        ("preview_and_variants", with_preview),
        ("blocks", email("s", &kairos_template::blocks::blocks_html(&checked), None)),
        ("sms", TemplateParts::message("{{ contact.first_name }}: {{ contact.total | money }} {{ unsubscribe_url }}")),
        ("error_render_is_isolated", TemplateParts::message("{% render 'isolated' %}")),
        (
            "error_tablerow_cols_0",
            TemplateParts::message("{% tablerow t in contact.tags cols: 0 %}{{ t }}{% endtablerow %}"),
        ),
        (
            "error_too_large",
            TemplateParts::message(&format!(
                "{{% for i in (1..100) %}}{{% for j in (1..100) %}}{}{{% endfor %}}{{% endfor %}}",
                "x".repeat(60)
            )),
        ),
        (
            "error_assigned_budget",
            TemplateParts::message(
                "{% assign s = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' %}{% for i in (1..100) %}{% for j in (1..100) %}{% assign s = s | append: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' %}{% endfor %}{% endfor %}{{ s | size }}",
            ),
        ),
    ]
}

/// Every feature template as a body and as html, and every email (each variant of the one with variants).
pub fn feature_cases(out: &mut Vec<(String, Value, bool)>) {
    let g = features_globals();
    let renderer = partials_renderer();
    let render = |parts: &TemplateParts, variant: usize| {
        let r = renderer.compile(parts).and_then(|t| t.render_variant(&g, variant));
        match r {
            Ok(rendered) => json!({"rendered": rendered}),
            Err(e) => json!({"error": e.to_string(), "code": e.code(), "field": e.field()}),
        }
    };
    for (name, src) in FEATURES {
        out.push((format!("feature/{name}/body"), render(&TemplateParts::message(src), 0), true));
        let html = TemplateParts { html: Some((*src).to_owned()), ..TemplateParts::default() };
        out.push((format!("feature/{name}/html"), render(&html, 0), true));
    }
    for (name, parts) in emails() {
        for variant in 0..=parts.variants.len() {
            out.push((format!("feature/{name}/{variant}"), render(&parts, variant), true));
        }
    }
}

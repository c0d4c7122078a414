//! Blocks → Liquid: every type renders, texts are escaped, product grids fill from each source, and every
//! refusal names its field.

use serde_json::{Value, json};

use super::*;
use crate::{Globals, Renderer, TemplateParts};

fn now() -> jiff::Timestamp {
    "2026-03-29T10:00:00Z".parse().unwrap()
}

fn product(id: &str, title: &str, price: f64) -> Value {
    json!({"id": id, "product_id": id, "title": title, "name": title, "price": price,
           "url": format!("https://shop.example/{id}"), "image_url": format!("https://cdn.example/{id}.jpg")})
}

fn globals(extra: &[(&str, Value)]) -> Globals {
    let mut g = Globals::builder(now())
        .contact(json!({"first_name": "<Ana>"}))
        .store(&json!({"name": "Velo & Co", "currency": "EUR", "url": "https://shop.example",
                       "address": "1 Quay St", "color": "#ff6600"}))
        .cart(json!({"items": []}))
        .unsubscribe_url("https://k.example/u/abc")
        .preferences_url("https://k.example/pref/abc");
    for (k, v) in extra {
        g = g.var(k, v.clone());
    }
    g.build()
}

/// The html of `blocks` (a JSON list) rendered with `g`.
fn render(blocks: Value, g: &Globals) -> String {
    let checked = parse_blocks(&blocks).unwrap_or_else(|e| panic!("{e}"));
    let html = blocks_html(&checked);
    let t = Renderer::new().compile(&TemplateParts::email("s", &html, None)).unwrap_or_else(|e| panic!("{e}\n{html}"));
    t.render(g).unwrap().html.unwrap()
}

fn refused(blocks: Value) -> String {
    parse_blocks(&blocks).expect_err("refused").field
}

#[test]
fn every_block_type_renders_to_email_safe_html() {
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
    let html = render(blocks, &globals(&[]));
    assert!(html.starts_with("<!doctype html>") && html.ends_with("</html>"), "{html}");
    assert!(html.contains("max-width:600px") && html.contains("role=\"presentation\""), "{html}");
    assert!(html.contains(">Spring &lt;sale&gt; inside</div>"), "the preheader is escaped and first: {html}");
    assert!(html.contains("<strong style=\"font-size:22px;color:#1f2937\">Velo &amp; Co</strong>"), "no logo: {html}");
    assert!(html.contains(">Hi &lt;Ana&gt;</h2>"), "a Liquid output's value is escaped as data: {html}");
    assert!(
        html.contains(
            ">Line one<br>line two</p><p style=\"margin:0 0 12px\">New &lt;b&gt;para&lt;/b&gt; &amp; more</p>"
        ),
        "{html}"
    );
    assert!(
        html.contains(
            "src=\"https://cdn.example/hero.jpg?a=1&amp;b=2\" alt=\"A bike &quot;by the sea&quot;\" width=\"300\""
        ),
        "{html}"
    );
    assert!(html.contains("<a href=\"https://shop.example/sale\""), "{html}");
    assert!(
        html.contains("bgcolor=\"#123456\"")
            && html.contains("href=\"https://shop.example/sale\" style=\"display:inline-block"),
        "{html}"
    );
    assert!(html.contains(">Shop &lt;now&gt;</a>"), "{html}");
    assert!(html.contains("<hr ") && html.contains("height:32px"), "{html}");
    assert!(html.contains("<strong>SPRING10</strong>"), "the fallback code without a run coupon: {html}");
    assert!(html.contains("You signed up at Velo.<br>Velo &amp; Co · 1 Quay St"), "{html}");
    assert!(
        html.contains("href=\"https://k.example/u/abc\"") && html.contains("href=\"https://k.example/pref/abc\""),
        "{html}"
    );
    assert!(html.contains("border-top:4px solid #ff6600"), "the store's colour: {html}");
}

#[test]
fn product_grids_fill_from_the_cart_the_event_recommendations_and_collections() {
    let grid = |source: Value| {
        let mut b = json!({"type": "products", "heading": "For you", "count": 2, "button_label": "Shop now"});
        b.as_object_mut().unwrap().extend(source.as_object().unwrap().clone());
        json!([b])
    };
    // The contact's cart first; the trigger event's products when the cart is empty (a checkout's items).
    let cart = json!({"currency": "EUR", "items": [{"product_id": "c1", "name": "Lamp <XL>", "price": 12.5, "quantity": 1, "url": "https://shop.example/c1"}]});
    let html = render(grid(json!({"source": "cart"})), &globals(&[("cart", cart)]));
    assert!(html.contains("<strong>Lamp &lt;XL&gt;</strong>") && html.contains("€12.50"), "{html}");
    assert!(html.contains(">Shop now</a>") && html.contains("href=\"https://shop.example/c1\""), "{html}");
    let event =
        json!({"products": [product("e1", "Helmet", 30.0), product("e2", "Bell", 5.0), product("e3", "Pump", 9.0)]});
    let html = render(grid(json!({"source": "cart"})), &globals(&[("event", event.clone())]));
    assert!(html.contains("Helmet") && html.contains("Bell") && !html.contains("Pump"), "count limits: {html}");
    assert!(html.contains("src=\"https://cdn.example/e1.jpg\" alt=\"Helmet\""), "{html}");
    let html = render(grid(json!({"source": "event"})), &globals(&[("products", event["products"].clone())]));
    assert!(html.contains("Helmet"), "{html}");
    // Only a cart grid reads `cart` (what makes the engine treat a message as about the cart).
    let source = |source: Value| blocks_html(&parse_blocks(&grid(source)).unwrap());
    assert!(source(json!({"source": "cart"})).contains("cart."));
    assert!(!source(json!({"source": "event"})).contains("cart."));
    assert!(!source(json!({"source": "collection", "collection": "x"})).contains("cart."));
    let recs = json!({"also_bought": [product("r1", "Lock", 20.0)], "trending": [product("t1", "Saddle", 40.0)]});
    let html = render(
        grid(json!({"source": "recommendations", "recommendation": "also_bought"})),
        &globals(&[("recommendations", recs)]),
    );
    assert!(html.contains("Lock") && !html.contains("Saddle"), "{html}");
    let cols = json!({"Road bikes": [product("b1", "Racer", 999.0)]});
    let html =
        render(grid(json!({"source": "collection", "collection": "Road bikes"})), &globals(&[("collections", cols)]));
    assert!(html.contains("Racer") && html.contains("€999.00"), "{html}");
    // Nothing to show: the grid is empty, not an error.
    let html = render(grid(json!({"source": "recommendations", "recommendation": "trending"})), &globals(&[]));
    assert!(html.contains("For you") && !html.contains("<strong>"), "{html}");
}

#[test]
fn the_runs_coupon_wins_and_no_coupon_hides_the_block() {
    let blocks = json!([{"type": "coupon", "heading": "A gift", "text": "Use it at checkout."}]);
    let html = render(blocks.clone(), &globals(&[]));
    assert!(!html.contains("A gift"), "no coupon, no fallback: hidden: {html}");
    let coupon = json!({"code": "WELCOME-7KQ2", "expires_at": "2026-04-05T21:30:00Z"});
    let html = render(blocks, &globals(&[("coupon", coupon)]));
    assert!(html.contains("<strong>WELCOME-7KQ2</strong>") && html.contains("Valid until April 5, 2026."), "{html}");
}

#[test]
fn a_custom_logo_and_link_in_the_header() {
    let blocks = json!([{"type": "header", "logo_url": "https://cdn.example/logo.png", "alt": "Velo", "link_url": "https://velo.example"}]);
    let html = render(blocks, &globals(&[]));
    assert!(html.contains("<a href=\"https://velo.example\" style=\"text-decoration:none\"><img src=\"https://cdn.example/logo.png\" alt=\"Velo\" width=\"200\""), "{html}");
}

#[test]
fn stored_blocks_keep_their_defaults() {
    let b =
        parse_blocks(&json!([{"type": "products", "source": "cart", "collection": "ignored"}, {"type": "divider"}]))
            .unwrap();
    let v = serde_json::to_value(&b).unwrap();
    assert_eq!(v, json!([{"type": "products", "source": "cart", "count": 3, "columns": 3}, {"type": "divider"}]));
}

#[test]
fn every_refusal_names_its_field() {
    assert_eq!(refused(json!({"type": "text"})), "blocks");
    assert_eq!(refused(json!([])), "blocks");
    assert_eq!(refused(Value::Array(vec![json!({"type": "divider"}); EMAIL_BLOCKS_MAX + 1])), "blocks");
    assert_eq!(refused(json!([{"type": "divider"}, "x"])), "blocks[1]");
    assert_eq!(refused(json!([{"text": "x"}])), "blocks[0].type");
    assert_eq!(refused(json!([{"type": "video"}])), "blocks[0].type");
    assert_eq!(
        refused(json!([{"type": "button", "label": "Go", "url": "https://x.example", "lable": "x"}])),
        "blocks[0].lable"
    );
    assert_eq!(refused(json!([{"type": "text"}])), "blocks[0].text");
    assert_eq!(refused(json!([{"type": "text", "text": "x".repeat(BLOCK_TEXT_BYTES_MAX + 1)}])), "blocks[0].text");
    assert_eq!(refused(json!([{"type": "text", "text": "{% if x %}y{% endif %}"}])), "blocks[0].text");
    assert_eq!(refused(json!([{"type": "text", "text": "Hi {{ contact.name | shout }}"}])), "blocks[0].text");
    assert_eq!(refused(json!([{"type": "text", "text": "x", "align": "justify"}])), "blocks[0].align");
    for url in
        ["javascript:alert(1)", "data:text/html,x", "https://", "https://x.example/a b", "ftp://x.example", "/sale"]
    {
        let b = json!([{"type": "divider"}, {"type": "divider"}, {"type": "image", "url": url, "alt": "x"}]);
        assert_eq!(refused(b), "blocks[2].url", "{url}");
    }
    assert_eq!(refused(json!([{"type": "image", "url": "https://x.example/a.png"}])), "blocks[0].alt");
    assert_eq!(
        refused(json!([{"type": "image", "url": "https://x.example/a.png", "alt": "a", "width": 601}])),
        "blocks[0].width"
    );
    assert_eq!(refused(json!([{"type": "button", "label": "Go"}])), "blocks[0].url");
    assert_eq!(
        refused(json!([{"type": "button", "label": "Go", "url": "https://x.example", "color": "red"}])),
        "blocks[0].color"
    );
    assert_eq!(refused(json!([{"type": "products"}])), "blocks[0].source");
    assert_eq!(refused(json!([{"type": "products", "source": "recommendations"}])), "blocks[0].recommendation");
    assert_eq!(
        refused(json!([{"type": "products", "source": "recommendations", "recommendation": "random"}])),
        "blocks[0].recommendation"
    );
    assert_eq!(refused(json!([{"type": "products", "source": "collection"}])), "blocks[0].collection");
    assert_eq!(
        refused(json!([{"type": "products", "source": "collection", "collection": "a\"]}}"}])),
        "blocks[0].collection"
    );
    assert_eq!(refused(json!([{"type": "products", "source": "cart", "count": 7}])), "blocks[0].count");
    assert_eq!(refused(json!([{"type": "products", "source": "cart", "columns": 0}])), "blocks[0].columns");
    assert_eq!(refused(json!([{"type": "coupon", "code": "A B"}])), "blocks[0].code");
    assert_eq!(refused(json!([{"type": "spacer", "height": 200}])), "blocks[0].height");
    assert_eq!(refused(json!([{"type": "divider", "height": 2}])), "blocks[0].height");
    let many: Vec<Value> = (0..=COLLECTIONS_PER_TEMPLATE_MAX)
        .map(|i| json!({"type": "products", "source": "collection", "collection": format!("c{i}")}))
        .collect();
    assert_eq!(refused(Value::Array(many)), format!("blocks[{COLLECTIONS_PER_TEMPLATE_MAX}].collection"));
    // Liquid addresses are fine.
    assert!(parse_blocks(&json!([{"type": "button", "label": "Back to your cart", "url": "{{ event.checkout_url | default: store.url }}"}])).is_ok());
}

#[test]
fn collection_names_are_found_in_any_template() {
    let src = "{% for p in collections[\"Road bikes\"] %}{% endfor %}{{ collections['sale'].size }}\
               {{ collections.helmets | size }}{{ collections[\"Road bikes\"] }}{{ collections[x] }}{{ my_collections.no }}";
    assert_eq!(collection_names(src), ["Road bikes", "sale", "helmets"]);
    let many: String = (0..20).map(|i| format!("{{{{ collections.c{i} }}}}")).collect();
    assert_eq!(collection_names(&many).len(), COLLECTIONS_PER_TEMPLATE_MAX);
}

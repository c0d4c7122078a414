//! Block emails over HTTP (issue 16): a template saved as blocks gets its html from them, bad blocks are refused
//! naming the field, a preview for a contact with a Checkout Started event shows the cart's products, a
//! collection and the unsubscribe link, and a flow sends exactly that HTML.

mod common;

use common::TestServer;
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

fn blocks() -> Value {
    json!([
        {"type": "header", "preheader": "Your cart misses you"},
        {"type": "text", "heading": "Hi {{ contact.first_name | default: \"there\" }}", "text": "Still thinking it over? <b>Bold</b> & free returns."},
        {"type": "products", "heading": "In your cart", "source": "cart", "count": 4, "columns": 2},
        {"type": "button", "label": "Back to your cart", "url": "{{ event.checkout_url | default: store.url }}"},
        {"type": "products", "heading": "Road bikes", "source": "collection", "collection": "Road Bikes", "count": 3},
        {"type": "coupon", "heading": "A gift", "code": "COMEBACK10"},
        {"type": "footer", "text": "You get this because you shop at Velo."}
    ])
}

async fn put_product(c: &mut HttpClient, sk: &str, id: &str, body: Value) {
    let r = c.put_json(&format!("/api/v1/products/{id}"), sk, &body).await.unwrap();
    assert!(r.status == 200 || r.status == 201, "{:?}", r.json());
}

fn refused_field(r: &kairos_bench::client::Response) -> String {
    assert_eq!(r.status, 400, "{:?}", r.json());
    r.json()["error"]["field"].as_str().unwrap_or_default().to_string()
}

/// Checks the html a block email renders to for Pia's checkout.
fn assert_checkout_email(html: &str) {
    assert!(
        html.contains("<strong>Lamp &lt;XL&gt;</strong>") && html.contains("<strong>Helmet</strong>"),
        "the cart: {html}"
    );
    assert!(html.contains("€12.50"), "prices in the cart's currency: {html}");
    assert!(
        html.contains("<strong>Racer</strong>") && html.contains("<strong>Tourer</strong>"),
        "the collection: {html}"
    );
    assert!(!html.contains("Sold out racer"), "sold-out products are left out: {html}");
    assert!(html.contains("Hi Pia</h2>"), "{html}");
    assert!(html.contains("&lt;b&gt;Bold&lt;/b&gt; &amp; free returns."), "typed text shows as typed: {html}");
    assert!(html.contains("<strong>COMEBACK10</strong>"), "{html}");
    assert!(html.contains("Velo · 1 Quay Street"), "the store's name and address: {html}");
    assert!(html.contains("/u/") && html.contains(">Unsubscribe</a>"), "the unsubscribe link: {html}");
}

#[tokio::test]
async fn a_block_email_saves_previews_and_sends_its_html() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    // A weekday morning (UTC): no send waits for quiet hours.
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-01-07T08:00:00Z"})).await.unwrap();
    let store = json!({"store": {"name": "Velo", "currency": "EUR", "address": "1 Quay Street", "url": "https://velo.example"}});
    c.put_json("/api/v1/settings", sk, &store).await.unwrap();
    put_product(&mut c, sk, "lamp", json!({"title": "Lamp <XL>", "price": 12.5, "categories": ["lighting"]})).await;
    put_product(&mut c, sk, "helmet", json!({"title": "Helmet", "price": 30, "categories": ["gear"]})).await;
    put_product(&mut c, sk, "racer", json!({"title": "Racer", "price": 999, "categories": ["road bikes"]})).await;
    put_product(
        &mut c,
        sk,
        "tourer",
        json!({"title": "Tourer", "price": 899, "categories": ["Road Bikes", "touring"]}),
    )
    .await;
    let gone = json!({"title": "Sold out racer", "price": 1200, "categories": ["road bikes"], "available": false});
    put_product(&mut c, sk, "racer-x", gone).await;

    // Saved from blocks alone: the html is rendered from them (any html sent is replaced) and both come back.
    let t = json!({"id": "cart-blocks", "name": "Cart reminder", "channel": "email",
                   "subject": "{{ contact.first_name }}, your cart", "html": "<p>ignored</p>", "blocks": blocks()});
    let r = c.post_json("/api/v1/templates", sk, &t).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let saved = r.json();
    assert_eq!(saved["blocks"].as_array().map(Vec::len), Some(7), "{saved}");
    assert_eq!(
        saved["blocks"][2],
        json!({"type": "products", "heading": "In your cart", "source": "cart", "count": 4, "columns": 2})
    );
    let html = saved["html"].as_str().unwrap();
    assert!(
        !html.contains("ignored") && html.contains("{{ unsubscribe_url }}") && html.contains("max-width:600px"),
        "{html}"
    );
    let got = c.get("/api/v1/templates/cart-blocks", sk).await.unwrap().json();
    assert_eq!((&got["blocks"], &got["html"]), (&saved["blocks"], &saved["html"]));

    // Bad blocks are refused, naming the field.
    let mut bad = blocks();
    bad[3]["url"] = json!("javascript:alert(1)");
    let with = |blocks: Value| json!({"channel": "email", "subject": "Hi", "blocks": blocks});
    let r = c.put_json("/api/v1/templates/cart-blocks", sk, &with(bad)).await.unwrap();
    assert_eq!(refused_field(&r), "blocks[3].url");
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("http(s)"), "{:?}", r.json());
    for (blocks, field) in [
        (json!([{"type": "video"}]), "blocks[0].type"),
        (json!([{"type": "text", "text": "Hi {% if x %}y{% endif %}"}]), "blocks[0].text"),
        (json!([{"type": "products", "source": "recommendations"}]), "blocks[0].recommendation"),
        (json!([{"type": "image", "url": "https://cdn.example/a.png"}]), "blocks[0].alt"),
        (json!({"type": "text"}), "blocks"),
    ] {
        let r = c.put_json("/api/v1/templates/cart-blocks", sk, &with(blocks.clone())).await.unwrap();
        assert_eq!(refused_field(&r), field, "{blocks}");
    }
    let sms = json!({"channel": "sms", "body": "x", "blocks": blocks()});
    assert_eq!(refused_field(&c.put_json("/api/v1/templates/s", sk, &sms).await.unwrap()), "blocks");
    let mut layout = with(blocks());
    layout["layout"] = json!("base");
    assert_eq!(refused_field(&c.put_json("/api/v1/templates/l", sk, &layout).await.unwrap()), "layout");
    let got = c.get("/api/v1/templates/cart-blocks", sk).await.unwrap().json();
    assert_eq!(got["version"], 1, "nothing refused was saved");

    // The preview for a contact with a Checkout Started event shows the cart, the collection and the links.
    c.post_json(
        "/v1/identify",
        wk,
        &json!({"userId": "pia", "traits": {"email": "pia@example.com", "first_name": "Pia"}}),
    )
    .await
    .unwrap();
    let pia = c.get("/api/v1/contacts?user_id=pia", sk).await.unwrap().json()["items"][0]["id"].as_i64().unwrap();
    let checkout = json!({"checkout_id": "ch1", "currency": "EUR", "value": 42.5, "products": [
        {"product_id": "lamp", "name": "Lamp <XL>", "price": 12.5, "quantity": 1},
        {"product_id": "helmet", "name": "Helmet", "price": 30, "quantity": 1}]});
    let r = c
        .post_json(&format!("/api/v1/templates/cart-blocks/preview?contact_id={pia}"), sk, &json!({"event": checkout}))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(r.json()["subject"], "Pia, your cart");
    assert_checkout_email(r.json()["html"].as_str().unwrap());

    // The editor's draft preview renders unsaved blocks the same way, and names a bad one.
    let draft = json!({"template": {"subject": "Hi", "blocks": blocks()}, "event": checkout});
    let r = c.post_json(&format!("/api/v1/templates/preview?contact_id={pia}"), sk, &draft).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_checkout_email(r.json()["html"].as_str().unwrap());
    let bad_draft = json!({"template": {"subject": "Hi", "blocks": [{"type": "button", "label": "Go"}]}});
    let r = c.post_json(&format!("/api/v1/templates/preview?contact_id={pia}"), sk, &bad_draft).await.unwrap();
    assert_eq!(refused_field(&r), "blocks[0].url");

    // A flow sends the block email: the HTML delivered is the blocks' rendering for Pia.
    let consent = json!({"user_id": "pia", "channel": "email", "status": "subscribed"});
    assert_eq!(c.post_json("/api/v1/contacts/consent", sk, &consent).await.unwrap().status, 200);
    let f = json!({"name": "Cart", "trigger": {"type": "event", "event": "Checkout Started"}, "entry": {"reentry": "always"},
        "steps": [{"id": "mail", "type": "send", "channel": "email", "template": "cart-blocks"}]});
    let fid = c.post_json("/api/v1/flows", sk, &f).await.unwrap().json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/flows/{fid}/activate"), sk, &json!({})).await.unwrap().status, 200);
    let track = json!({"userId": "pia", "event": "Checkout Started", "properties": checkout});
    assert_eq!(c.post_json("/v1/track", wk, &track).await.unwrap().status, 200);
    let sent = common::wait_status(&mut c, sk, "pia@example.com", "sent").await;
    assert_eq!(sent["template_id"], "cart-blocks", "{sent}");
    let outbox = c.get("/api/v1/outbox?to=pia%40example.com", sk).await.unwrap().json();
    let delivered = outbox["items"][0]["html"].as_str().unwrap_or_else(|| panic!("{outbox}"));
    assert_checkout_email(delivered);
    assert!(delivered.contains("Your cart misses you</div>"), "the preheader: {delivered}");
}

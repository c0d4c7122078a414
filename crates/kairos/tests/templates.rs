//! Templates over HTTP: Liquid validation naming the part, partials and layouts, preview for a real contact,
//! product blocks that drop sold-out items, and the skip when nothing promotable is left.

mod common;

use common::TestServer;
use serde_json::json;

#[tokio::test]
async fn liquid_templates_validate_preview_and_drop_sold_out_products() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.put_json("/api/v1/settings", sk, &json!({"store": {"name": "Velo", "currency": "EUR"}})).await.unwrap();

    // Syntax errors and unknown filters are refused with the part named.
    for (body, field) in [
        (
            json!({"id": "a", "channel": "email", "subject": "Hi {{ contact.first_name | shout }}", "text": "x"}),
            "subject",
        ),
        (json!({"id": "b", "channel": "email", "subject": "Hi", "html": "{% for x in y %}no end"}), "html"),
        (json!({"id": "c", "channel": "sms", "body": "{{ contact.first_name "}), "body"),
        (json!({"id": "d", "channel": "email", "subject": "Hi", "html": "<p>x</p>", "layout": "missing"}), "layout"),
    ] {
        let r = c.post_json("/api/v1/templates", sk, &body).await.unwrap();
        assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some(field)), "{body}: {:?}", r.json());
    }
    // A partial and a layout, then an email using both.
    let r = c
        .post_json(
            "/api/v1/templates",
            sk,
            &json!({"id": "footer", "channel": "partial", "html": "<footer>{{ store.name }}</footer>"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let r = c
        .post_json(
            "/api/v1/templates",
            sk,
            &json!({"id": "base", "channel": "layout", "html": "<html><body>{{ content }}{% include 'footer' %}</body></html>"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let cart = json!({"id": "cart", "channel": "email", "layout": "base",
        "subject": "{{ contact.first_name | default: 'Friend' }}, {{ event.items | size }} items wait",
        "html": "{% for item in event.items %}<p>{{ item.name }} {{ item.price | money }}</p>{% endfor %}<p>{{ contact.note }}</p>"});
    let r = c.post_json("/api/v1/templates", sk, &cart).await.unwrap();
    assert_eq!((r.status, r.json()["version"].as_i64()), (201, Some(1)), "{:?}", r.json());

    c.post_json("/v1/identify", wk, &json!({"userId": "p", "traits": {"email": "p@example.com", "first_name": "Pia", "note": "<script>x</script>"}}))
        .await
        .unwrap();
    let id = c.get("/api/v1/contacts?user_id=p", sk).await.unwrap().json()["items"][0]["id"].as_i64().unwrap();
    for (pid, available) in [("p1", true), ("p2", false)] {
        let r = c
            .put_json(
                &format!("/api/v1/products/{pid}"),
                sk,
                &json!({"title": pid, "price": 10, "available": available}),
            )
            .await
            .unwrap();
        assert!(r.status == 200 || r.status == 201, "{:?}", r.json());
    }
    let items = json!([{"product_id": "p1", "name": "Lamp", "price": 1234.5}, {"product_id": "p2", "name": "Gone", "price": 5}]);
    let r = c
        .post_json(&format!("/api/v1/templates/cart/preview?contact_id={id}"), sk, &json!({"event": {"items": items}}))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    let v = r.json();
    assert_eq!(v["subject"], "Pia, 1 items wait", "the sold-out item is dropped: {v}");
    let html = v["html"].as_str().unwrap();
    assert!(html.contains("<p>Lamp €1,234.50</p>") && !html.contains("Gone"), "{html}");
    assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"), "contact data is escaped: {html}");
    assert!(html.contains("<footer>Velo</footer></body></html>"), "layout and partial: {html}");
    assert_eq!(v["template_version"], 1);

    // Everything sold out: the preview says the send would be skipped.
    let only_gone = json!({"event": {"items": [{"product_id": "p2", "name": "Gone", "price": 5}]}});
    let r = c.post_json(&format!("/api/v1/templates/cart/preview?contact_id={id}"), sk, &only_gone).await.unwrap();
    assert_eq!(r.json()["skipped"], "nothing_promotable", "{:?}", r.json());
    assert_eq!(
        c.post_json("/api/v1/templates/cart/preview?contact_id=999999", sk, &json!({})).await.unwrap().status,
        404
    );
    assert_eq!(c.post_json("/api/v1/templates/cart/preview", sk, &json!({})).await.unwrap().status, 400);

    // In a flow: the message records the template version used; a sold-out cart is skipped with the reason.
    let f = json!({"name": "Cart", "trigger": {"type": "event", "event": "Checkout Started"}, "entry": {"reentry": "always"},
        "steps": [{"id": "mail", "type": "send", "channel": "email", "template": "cart", "transactional": true}]});
    let fid = c.post_json("/api/v1/flows", sk, &f).await.unwrap().json()["id"].as_str().unwrap().to_string();
    c.post_json(&format!("/api/v1/flows/{fid}/activate"), sk, &json!({})).await.unwrap();
    c.post_json("/v1/track", wk, &json!({"userId": "p", "event": "Checkout Started", "properties": {"items": items}}))
        .await
        .unwrap();
    let edited =
        json!({"channel": "email", "layout": "base", "subject": "v2 {{ event.items | size }}", "html": "<p>v2</p>"});
    let r = c.put_json("/api/v1/templates/cart", sk, &edited).await.unwrap();
    assert_eq!(r.json()["version"], 2, "{:?}", r.json());
    c.post_json(
        "/v1/track",
        wk,
        &json!({"userId": "p", "event": "Checkout Started", "properties": only_gone["event"]}),
    )
    .await
    .unwrap();
    let m = c.get("/api/v1/messages?to=p%40example.com", sk).await.unwrap().json();
    let m = m["items"].as_array().unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!((m[1]["status"].as_str(), m[1]["template_version"].as_i64()), (Some("sent"), Some(1)));
    assert_eq!((m[0]["status"].as_str(), m[0]["reason"].as_str()), (Some("skipped"), Some("nothing_promotable")));
    assert_eq!(m[0]["template_version"], 2);
}

#[tokio::test]
async fn recommendations_and_products_offer_only_what_is_in_stock() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    for (pid, cat, available) in
        [("helmet", "safety", true), ("lock", "safety", true), ("light", "safety", false), ("bike", "bikes", true)]
    {
        let p = json!({"title": pid, "price": 20, "available": available, "categories": [cat], "url": format!("https://shop.example/{pid}")});
        c.put_json(&format!("/api/v1/products/{pid}"), sk, &p).await.unwrap();
    }
    // Others buy bike + helmet together; everyone looks at the light and the lock.
    let mut batch = Vec::new();
    for i in 0..5 {
        let u = format!("o{i}");
        batch.push(
            json!({"type": "track", "userId": u, "event": "Order Completed", "properties": {"order_id": u, "total": 40,
            "products": [{"product_id": "bike", "price": 20}, {"product_id": "helmet", "price": 20}]}}),
        );
        for pid in ["light", "lock"] {
            batch.push(
                json!({"type": "track", "userId": u, "event": "Product Viewed", "properties": {"product_id": pid}}),
            );
        }
    }
    batch.push(
        json!({"type": "track", "userId": "me", "event": "Product Viewed", "properties": {"product_id": "lock"}}),
    );
    batch.push(
        json!({"type": "track", "userId": "me", "event": "Product Viewed", "properties": {"product_id": "light"}}),
    );
    c.post_json("/v1/batch", wk, &json!({"batch": batch})).await.unwrap();
    let tpl = json!({"id": "recs", "channel": "sms", "body": "T:{% for p in recommendations.trending %}{{ p.name }},{% endfor %} R:{% for p in recommendations.recently_viewed %}{{ p.name }},{% endfor %} A:{% for p in recommendations.also_bought %}{{ p.name }},{% endfor %} H:{% for p in recommendations.based_on_history %}{{ p.name }},{% endfor %} P:{% for p in products %}{{ p.url }}{% endfor %}"});
    assert_eq!(c.post_json("/api/v1/templates", sk, &tpl).await.unwrap().status, 201);
    let me = c.get("/api/v1/contacts?user_id=me", sk).await.unwrap().json()["items"][0]["id"].as_i64().unwrap();
    let r = c
        .post_json(
            &format!("/api/v1/templates/recs/preview?contact_id={me}"),
            sk,
            &json!({"event": {"product_id": "bike"}}),
        )
        .await
        .unwrap();
    let body = r.json()["body"].as_str().unwrap_or_default().to_string();
    assert!(body.starts_with("T:"), "{:?}", r.json());
    let part = |tag: &str| body.split(tag).nth(1).unwrap().split(' ').next().unwrap().to_string();
    assert!(!body.contains("light"), "the sold-out light is never offered: {body}");
    assert_eq!(part("R:"), "lock,", "recently viewed, newest first, in stock: {body}");
    assert_eq!(part("A:"), "helmet,", "bought together with the bike: {body}");
    // Trending, besides the bike the message is about (no alternative to itself).
    assert!(!part("T:").contains("bike") && part("T:").contains("helmet"), "{body}");
    assert!(part("H:").contains("helmet"), "trending in the categories she looked at: {body}");
    assert_eq!(part("P:"), "https://shop.example/bike", "{body}");
}

/// A template gets only the variables it names (issue 17: the rest are not built), yet `money` still writes the
/// store's currency when the template never names `store`, and names written only in a partial count.
#[tokio::test]
async fn money_keeps_the_store_currency_when_the_template_never_names_the_store() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.put_json("/api/v1/settings", sk, &json!({"store": {"name": "Velo", "currency": "EUR"}})).await.unwrap();
    let partial = json!({"id": "sign", "channel": "partial", "html": "<p>{{ contact.first_name }}</p>"});
    assert_eq!(c.post_json("/api/v1/templates", sk, &partial).await.unwrap().status, 201);
    let t = json!({"id": "price", "channel": "email", "subject": "{{ 5 | money }}",
        "html": "<p>{{ event.price | money }}</p>{% include 'sign' %}"});
    assert_eq!(c.post_json("/api/v1/templates", sk, &t).await.unwrap().status, 201);
    c.post_json(
        "/v1/identify",
        wk,
        &json!({"userId": "q", "traits": {"email": "q@example.com", "first_name": "Quinn"}}),
    )
    .await
    .unwrap();
    let id = c.get("/api/v1/contacts?user_id=q", sk).await.unwrap().json()["items"][0]["id"].as_i64().unwrap();
    let r = c
        .post_json(&format!("/api/v1/templates/price/preview?contact_id={id}"), sk, &json!({"event": {"price": 12}}))
        .await
        .unwrap();
    let v = r.json();
    assert_eq!(v["subject"], "€5.00", "{v}");
    let html = v["html"].as_str().unwrap();
    assert!(html.contains("<p>€12.00</p>") && html.contains("<p>Quinn</p>"), "{html}");
}

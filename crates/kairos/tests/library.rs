//! The library flows' happy and exit paths, driven through ingestion and the dev clock.

mod common;

use common::TestServer;
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

async fn install(c: &mut HttpClient, sk: &str, key: &str) -> String {
    let r = c.post_json(&format!("/api/v1/flows/library/{key}/install"), sk, &json!({})).await.unwrap();
    assert_eq!(r.status, 201, "{key}: {:?}", r.json());
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/flows/{id}/activate"), sk, &json!({})).await.unwrap().status, 200);
    id
}

async fn person(c: &mut HttpClient, wk: &str, sk: &str, user: &str) {
    let r = c
        .post_json(
            "/v1/identify",
            wk,
            &json!({"userId": user, "traits": {"email": format!("{user}@example.com"), "first_name": user}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let r = c
        .post_json(
            "/api/v1/contacts/consent",
            sk,
            &json!({"user_id": user, "channel": "email", "status": "subscribed"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
}

async fn track(c: &mut HttpClient, wk: &str, user: &str, event: &str, props: Value) {
    let r = c.post_json("/v1/track", wk, &json!({"userId": user, "event": event, "properties": props})).await.unwrap();
    assert_eq!(r.status, 200);
}

async fn advance(c: &mut HttpClient, sk: &str, by: &str) {
    assert_eq!(c.post_json("/api/v1/dev/clock", sk, &json!({ "advance": by })).await.unwrap().status, 200);
}

/// Subjects of the messages sent to a user, oldest first.
async fn inbox(c: &mut HttpClient, sk: &str, user: &str) -> Vec<String> {
    let out = common::all_items(c, sk, &format!("/api/v1/outbox?to={user}%40example.com&limit=100")).await;
    let mut subjects: Vec<String> =
        out.iter().filter(|m| m["status"] == "sent").map(|m| m["subject"].as_str().unwrap_or("").to_string()).collect();
    subjects.reverse();
    subjects
}

#[tokio::test]
async fn welcome_series_and_browse_abandonment() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-02-04T09:00:00Z"})).await.unwrap();
    install(&mut c, sk, "welcome_series").await;
    install(&mut c, sk, "browse_abandonment").await;
    // The welcome series starts on a confirmed subscription (here through the consent API), not on a custom event.
    for u in ["wendy", "oscar"] {
        person(&mut c, wk, sk, u).await;
    }
    assert_eq!(inbox(&mut c, sk, "wendy").await, ["Welcome to the shop"]);
    advance(&mut c, sk, "2d").await;
    // oscar orders before the reward email: he never gets it (the split checks "since entry").
    track(&mut c, wk, "oscar", "Order Completed", json!({"total": 20})).await;
    advance(&mut c, sk, "3d").await;
    assert_eq!(
        inbox(&mut c, sk, "wendy").await,
        ["Welcome to the shop", "Our story", "A little something for your first order"]
    );
    assert_eq!(inbox(&mut c, sk, "oscar").await, ["Welcome to the shop", "Our story"]);

    // Browse abandonment: a view without adding to cart gets a reminder 2 h later (smart sending permitting).
    advance(&mut c, sk, "1d").await;
    track(&mut c, wk, "wendy", "Product Viewed", json!({"product_id": "bell", "name": "Bell"})).await;
    track(&mut c, wk, "oscar", "Product Viewed", json!({"product_id": "bell", "name": "Bell"})).await;
    track(&mut c, wk, "oscar", "Product Added", json!({"product_id": "bell", "price": 9})).await;
    advance(&mut c, sk, "2h").await;
    advance(&mut c, sk, "1m").await;
    assert_eq!(inbox(&mut c, sk, "wendy").await.last().map(String::as_str), Some("Still thinking about Bell?"));
    assert_eq!(inbox(&mut c, sk, "oscar").await.len(), 2, "adding to the cart ended oscar's run");
}

#[tokio::test]
async fn win_back_and_sunset_follow_time_based_segments() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-01-01T12:00:00Z"})).await.unwrap();
    let win_back = install(&mut c, sk, "win_back").await;
    install(&mut c, sk, "re_engagement").await;
    for u in ["lapsed", "loyal"] {
        person(&mut c, wk, sk, u).await;
        track(&mut c, wk, u, "Order Completed", json!({"total": 40})).await;
    }
    // 91 days later both lapsed (time alone moves them into "Lapsed 90 days"); loyal orders after the first mail.
    advance(&mut c, sk, "91d").await;
    assert_eq!(inbox(&mut c, sk, "lapsed").await, ["We miss you"]);
    assert_eq!(inbox(&mut c, sk, "loyal").await, ["We miss you"]);
    track(&mut c, wk, "loyal", "Order Completed", json!({"total": 40})).await;
    advance(&mut c, sk, "7d").await;
    assert_eq!(inbox(&mut c, sk, "lapsed").await, ["We miss you", "15% off, just for you"]);
    assert_eq!(inbox(&mut c, sk, "loyal").await, ["We miss you"], "the order was the goal");
    let stats = c.get(&format!("/api/v1/flows/{win_back}/stats"), sk).await.unwrap().json();
    assert_eq!((stats["entered"].as_u64(), stats["converted"].as_u64()), (Some(2), Some(1)), "{stats}");

    // 180 days without activity: the last call, then the sunset unsubscribes whoever did not click.
    advance(&mut c, sk, "90d").await;
    let lapsed = inbox(&mut c, sk, "lapsed").await;
    assert_eq!(lapsed.last().map(String::as_str), Some("Do you still want to hear from us?"), "{lapsed:?}");
    let id = c.get("/api/v1/contacts?user_id=lapsed", sk).await.unwrap().json()["items"][0]["id"].clone();
    track(&mut c, wk, "loyal", "Message Clicked", json!({})).await;
    advance(&mut c, sk, "15d").await;
    let p = c.get(&format!("/api/v1/contacts/{id}"), sk).await.unwrap().json();
    assert_eq!(p["consent"]["email"]["status"], "unsubscribed", "{p}");
    assert_eq!(p["consent"]["email"]["source"], "flow");
}

/// A message's part as sent (newest message to `user` with this subject).
async fn sent_part(c: &mut HttpClient, sk: &str, user: &str, subject: &str, part: &str) -> String {
    let out = common::all_items(c, sk, &format!("/api/v1/outbox?to={user}%40example.com&limit=100")).await;
    let m = out.iter().find(|m| m["subject"] == subject).unwrap_or_else(|| panic!("no {subject:?} to {user}: {out:?}"));
    m[part].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn every_library_email_carries_the_store_and_its_links_and_coupons_come_from_pools() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-03-02T10:00:00Z"})).await.unwrap();
    let store = json!({"store": {"name": "Velo & Co", "url": "https://velo.example", "logo_url": "https://cdn.velo.example/logo.png",
        "color": "#0F766E", "address": "1 Harbour Road, Bristol BS1 4AA"}});
    let r = c.send("PUT", "/api/v1/settings", Some(sk), common::body(&store)).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    for (bad, field) in [
        (json!({"store": {"color": "teal"}}), "store.color"),
        (json!({"store": {"logo_url": "javascript:alert(1)"}}), "store.logo_url"),
    ] {
        let r = c.send("PUT", "/api/v1/settings", Some(sk), common::body(&bad)).await.unwrap();
        assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some(field)), "{bad}");
    }
    let lib = c.get("/api/v1/flows/library", sk).await.unwrap().json();
    let mut flows = std::collections::HashMap::new();
    for f in lib["items"].as_array().unwrap() {
        let key = f["key"].as_str().unwrap();
        let r = c.post_json(&format!("/api/v1/flows/library/{key}/install"), sk, &json!({})).await.unwrap();
        assert_eq!(r.status, 201, "{key}: {:?}", r.json());
        flows.insert(key.to_string(), r.json()["id"].as_str().unwrap().to_string());
    }
    let cart_flow = flows["abandoned_cart"].clone();
    for key in ["abandoned_cart", "returns_follow_up"] {
        let r = c.post_json(&format!("/api/v1/flows/{}/activate", flows[key]), sk, &json!({})).await.unwrap();
        assert_eq!(r.status, 200, "{:?}", r.json());
    }
    person(&mut c, wk, sk, "ann").await;
    let event = json!({"order_id": "o-1", "name": "Bell", "title": "Bell", "price": 19.5, "currency": "EUR",
        "url": "https://velo.example/bell", "value": 39, "checkout_url": "https://velo.example/cart/recover/abc",
        "products": [{"product_id": "bell", "name": "Bell", "variant": "Brass", "quantity": 2, "price": 19.5,
            "image_url": "https://cdn.velo.example/bell.jpg", "url": "https://velo.example/bell"}]});
    let templates = common::all_items(&mut c, sk, "/api/v1/templates").await;
    let contact = c.get("/api/v1/contacts?user_id=ann", sk).await.unwrap().json()["items"][0]["id"].clone();
    let mut emails = 0;
    for t in templates.iter().filter(|t| t["channel"] == "email" && t["id"].as_str().unwrap().starts_with("lib-")) {
        let id = t["id"].as_str().unwrap();
        let body = json!({"event": event});
        let r = c.post_json(&format!("/api/v1/templates/{id}/preview?contact_id={contact}"), sk, &body).await.unwrap();
        assert_eq!(r.status, 200, "{id}: {:?}", r.json());
        let p = r.json();
        let (html, text) = (p["html"].as_str().unwrap_or_default(), p["text"].as_str().unwrap_or_default());
        for part in [html, text] {
            assert!(part.contains("Velo &amp; Co") || part.contains("Velo & Co"), "{id}: the store's name: {part}");
            assert!(part.contains("1 Harbour Road, Bristol BS1 4AA"), "{id}: the store's address");
            assert!(part.contains("/preferences/"), "{id}: a preferences link: {part}");
            assert!(part.contains("/u/"), "{id}: an unsubscribe link");
            assert!(!part.contains("{{") && !part.contains("{%"), "{id}: Liquid left over");
        }
        assert!(html.contains("cdn.velo.example/logo.png") && html.contains("#0f766e"), "{id}: logo and colour");
        assert!(html.contains("width=device-width") && html.contains("max-width:600px"), "{id}: mobile layout");
        emails += 1;
    }
    assert!(emails >= 14, "{emails} library emails");
    let ask = json!({"event": event});
    let path = format!("/api/v1/templates/lib-cart-email/preview?contact_id={contact}");
    let cart = c.post_json(&path, sk, &ask).await.unwrap().json();
    let html = cart["html"].as_str().unwrap();
    for needle in ["Bell", "Brass", "Quantity: 2", "€19.50", "€39.00", "cdn.velo.example/bell.jpg", "cart/recover/abc"]
    {
        assert!(html.contains(needle), "the cart email shows {needle}: {html}");
    }
    let pools = c.get("/api/v1/coupons", sk).await.unwrap().json();
    let ids: Vec<&str> = pools["items"].as_array().unwrap().iter().filter_map(|p| p["id"].as_str()).collect();
    for pool in ["lib-welcome-10", "lib-cart-10", "lib-comeback-15", "lib-vip-shipping", "lib-birthday-20"] {
        assert!(ids.contains(&pool), "{pool} created with its flow: {ids:?}");
    }

    // The abandoned cart starts on the first cart activity (one run, whichever comes); the email shows the cart
    // as it is then, with the recovery link of the later checkout; a unique code follows a day later.
    let added = json!({"product_id": "bell", "name": "Bell", "variant": "Brass", "price": 19.5, "quantity": 2, "currency": "EUR"});
    track(&mut c, wk, "ann", "Product Added", added).await;
    advance(&mut c, sk, "10m").await;
    track(&mut c, wk, "ann", "Checkout Started", event.clone()).await;
    advance(&mut c, sk, "4h").await;
    advance(&mut c, sk, "1m").await;
    let first = sent_part(&mut c, sk, "ann", "You left something in your cart", "html").await;
    assert!(first.contains("Brass") && first.contains("€39.00"), "{first}");
    let first = sent_part(&mut c, sk, "ann", "You left something in your cart", "text").await;
    assert!(first.contains("Bell (Brass) x 2: €19.50") && first.contains("cart/recover/abc"), "{first}");
    advance(&mut c, sk, "1d").await;
    advance(&mut c, sk, "1m").await;
    let runs = c.get(&format!("/api/v1/flows/{cart_flow}/stats"), sk).await.unwrap().json();
    assert_eq!(runs["entered"], json!(1), "cart activity enters once: {runs}");
    let second = sent_part(&mut c, sk, "ann", "10% off what is in your cart", "text").await;
    let code = second.split("Your code: ").nth(1).and_then(|r| r.split_whitespace().next()).unwrap_or_default();
    assert!(code.starts_with("CART-") && code.len() == "CART-".len() + 8, "a unique code: {second}");

    // A refund gets a personal follow-up a day later, about that order.
    track(&mut c, wk, "ann", "Order Refunded", json!({"order_id": "o-77", "total": 39})).await;
    advance(&mut c, sk, "1d").await;
    advance(&mut c, sk, "1m").await;
    let sorry = sent_part(&mut c, sk, "ann", "Sorry it did not work out", "text").await;
    assert!(sorry.contains("order o-77") && sorry.contains("exchange"), "{sorry}");

    // Money as the reader writes it: a German reader sees 19,50 € for a EUR price.
    let who = json!({"userId": "ute", "traits": {"email": "ute@example.com", "first_name": "Ute"}, "context": {"locale": "de-DE"}});
    assert_eq!(c.post_json("/v1/identify", wk, &who).await.unwrap().status, 200);
    let ute = c.get("/api/v1/contacts?user_id=ute", sk).await.unwrap().json()["items"][0]["id"].clone();
    let path = format!("/api/v1/templates/lib-price-drop/preview?contact_id={ute}");
    let p =
        c.post_json(&path, sk, &json!({"event": {"title": "Bell", "price": 1234.5, "currency": "EUR"}})).await.unwrap();
    let text = p.json()["text"].as_str().unwrap_or_default().to_string();
    assert!(text.contains("Bell now costs 1.234,50\u{a0}€"), "{text}");
}

#[tokio::test]
async fn replenishment_is_timed_from_how_often_customers_buy_each_product_again() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-06-01T10:00:00Z"})).await.unwrap();
    for (id, title) in [("beans", "House beans 1 kg"), ("mug", "Enamel mug")] {
        let p =
            json!({"title": title, "price": 18, "inventory_quantity": 50, "url": format!("https://shop.example/{id}")});
        assert_eq!(c.put_json(&format!("/api/v1/products/{id}"), sk, &p).await.unwrap().status, 200);
    }
    // The store's history: beans are bought again about every 30 days (gaps 30, 30 and 32 days); the mug never.
    let order = |user: &str, id: &str, product: &str, at: &str| {
        json!({"userId": user, "event": "Order Completed", "timestamp": at,
            "properties": {"order_id": id, "total": 18, "products": [{"product_id": product, "name": product, "price": 18}]}})
    };
    let history = [
        order("h1", "h1-1", "beans", "2030-02-01T10:00:00Z"),
        order("h1", "h1-2", "beans", "2030-03-03T10:00:00Z"),
        order("h1", "h1-3", "beans", "2030-04-02T10:00:00Z"),
        order("h2", "h2-1", "beans", "2030-03-10T10:00:00Z"),
        order("h2", "h2-2", "beans", "2030-04-11T10:00:00Z"),
        order("h2", "h2-3", "mug", "2030-03-10T10:00:00Z"),
    ];
    for e in &history {
        assert_eq!(c.post_json("/v1/track", wk, e).await.unwrap().status, 200);
    }
    let flow = install(&mut c, sk, "replenishment").await;
    for u in ["rita", "ralf", "mona"] {
        person(&mut c, wk, sk, u).await;
    }
    let now = |user: &str, id: &str, products: Value| json!({"userId": user, "event": "Order Completed", "properties": {"order_id": id, "total": 36, "products": products}});
    let beans =
        json!([{"product_id": "beans", "name": "House beans 1 kg", "price": 18, "url": "https://shop.example/beans"}]);
    for e in [
        now("rita", "r-1", beans.clone()),
        now("ralf", "f-1", beans.clone()),
        now("mona", "m-1", json!([{"product_id": "mug", "name": "Enamel mug", "price": 18}])),
    ] {
        assert_eq!(c.post_json("/v1/track", wk, &e).await.unwrap().status, 200);
    }
    // Ralf orders again before the beans would run out: his first reminder is not sent (the exit path).
    advance(&mut c, sk, "10d").await;
    track(&mut c, wk, "ralf", "Order Completed", json!({"order_id": "f-2", "total": 5})).await;
    advance(&mut c, sk, "19d").await;
    assert!(inbox(&mut c, sk, "rita").await.is_empty(), "not before the usual 30 days");
    advance(&mut c, sk, "2d").await;
    let stats = c.get(&format!("/api/v1/flows/{flow}/stats"), sk).await.unwrap().json();
    let all = common::all_items(&mut c, sk, &format!("/api/v1/messages?flow_id={flow}")).await;
    assert_eq!(inbox(&mut c, sk, "rita").await, ["Time to restock?"], "{stats} {all:?}");
    let text = sent_part(&mut c, sk, "rita", "Time to restock?", "text").await;
    assert!(text.contains("r-1") && text.contains("House beans 1 kg") && text.contains("shop.example/beans"), "{text}");
    assert!(inbox(&mut c, sk, "ralf").await.is_empty(), "ordered again meanwhile");
    assert!(inbox(&mut c, sk, "mona").await.is_empty(), "a mug has no reorder pace: no reminder");
    let stats = c.get(&format!("/api/v1/flows/{flow}/stats"), sk).await.unwrap().json();
    assert_eq!(stats["entered"], json!(4), "{stats}");
}

//! Freshness at send time (issue 15 item 1), over HTTP with the dev clock: a message about one product is checked
//! against the catalog when it goes, not when it was decided: a product that sold out meanwhile is not promoted
//! (skipped, reason `sold_out`), a price drop that no longer holds is not announced (`price_changed`), and the
//! price shown is the current one, also for a message deferred by quiet hours, and for one a mail server asked to
//! retry later (rendered again when it is handed to the transport once more).

mod common;
mod sends;
#[path = "../../channels/tests/support/mod.rs"]
mod support;

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

async fn subscriber(c: &mut HttpClient, wk: &str, sk: &str, user: &str) {
    let who = json!({"userId": user, "traits": {"email": format!("{user}@example.com")}});
    assert_eq!(c.post_json("/v1/identify", wk, &who).await.unwrap().status, 200);
    let consent = json!({"user_id": user, "channel": "email", "status": "subscribed"});
    assert_eq!(c.post_json("/api/v1/contacts/consent", sk, &consent).await.unwrap().status, 200);
}

async fn product(c: &mut HttpClient, sk: &str, price: f64, stock: i64) {
    let p = json!({"title": "Lamp", "price": price, "inventory_quantity": stock, "url": "https://shop.example/lamp"});
    assert_eq!(c.put_json("/api/v1/products/lamp", sk, &p).await.unwrap().status, 200);
}

async fn advance(c: &mut HttpClient, sk: &str, by: &str) {
    assert_eq!(c.post_json("/api/v1/dev/clock", sk, &json!({"advance": by})).await.unwrap().status, 200);
}

/// (status, reason, text) of the flow's messages, newest first.
async fn of_flow(c: &mut HttpClient, sk: &str, flow: &str) -> Vec<(String, Value, String)> {
    let items = common::all_items(c, sk, &format!("/api/v1/messages?flow_id={flow}")).await;
    items
        .iter()
        .map(|m| {
            let text = m["text"].as_str().unwrap_or_default().to_string();
            (m["status"].as_str().unwrap_or_default().to_string(), m["reason"].clone(), text)
        })
        .collect()
}

#[tokio::test]
async fn a_product_that_sold_out_or_changed_price_is_never_promoted_stale() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-05-06T12:00:00Z"})).await.unwrap();
    product(&mut c, sk, 200.0, 5).await;
    let browse = install(&mut c, sk, "browse_abandonment").await;
    for u in ["bea", "bo"] {
        subscriber(&mut c, wk, sk, u).await;
    }

    // Browse abandonment: Bea looked at the lamp; it sold out before the reminder was due: nothing promoted.
    let viewed = json!({"userId": "bea", "event": "Product Viewed", "properties": {"product_id": "lamp", "name": "Lamp", "price": 200}});
    assert_eq!(c.post_json("/v1/track", wk, &viewed).await.unwrap().status, 200);
    product(&mut c, sk, 200.0, 0).await;
    advance(&mut c, sk, "2h").await;
    advance(&mut c, sk, "1m").await;
    let out = of_flow(&mut c, sk, &browse).await;
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!((out[0].0.as_str(), out[0].1.clone()), ("skipped", json!("sold_out")), "{out:?}");

    // Back in stock at a new price: Bo's reminder shows the price of the moment it goes, not the one he saw.
    product(&mut c, sk, 180.0, 5).await;
    let viewed = json!({"userId": "bo", "event": "Product Viewed", "properties": {"product_id": "lamp", "name": "Lamp", "price": 200}});
    assert_eq!(c.post_json("/v1/track", wk, &viewed).await.unwrap().status, 200);
    product(&mut c, sk, 170.0, 5).await;
    advance(&mut c, sk, "2h").await;
    advance(&mut c, sk, "1m").await;
    let out = of_flow(&mut c, sk, &browse).await;
    let bo = out.iter().find(|m| m.0 == "sent").unwrap_or_else(|| panic!("{out:?}"));
    assert!(bo.2.contains("Lamp is still available at $170.00"), "{}", bo.2);
}

#[tokio::test]
async fn a_price_drop_deferred_by_quiet_hours_is_checked_again_when_it_goes() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    // 22:00 UTC; email quiet hours 21:00-09:00 for this test.
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-05-06T22:00:00Z"})).await.unwrap();
    let quiet = json!({"quiet_hours": {"email": "21:00-09:00"}});
    let r = c.send("PUT", "/api/v1/settings", Some(sk), common::body(&quiet)).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    product(&mut c, sk, 200.0, 5).await;
    let drop = install(&mut c, sk, "price_drop").await;
    for u in ["pia", "pat"] {
        subscriber(&mut c, wk, sk, u).await;
        let viewed = json!({"userId": u, "event": "Product Viewed", "properties": {"product_id": "lamp"}});
        assert_eq!(c.post_json("/v1/track", wk, &viewed).await.unwrap().status, 200);
    }

    // The drop to 150 is announced at 09:00 at the earliest; by then the price went back to 200.
    product(&mut c, sk, 150.0, 5).await;
    let out = of_flow(&mut c, sk, &drop).await;
    assert!(out.len() == 2 && out.iter().all(|m| m.0 == "deferred"), "{out:?}");
    product(&mut c, sk, 200.0, 5).await;
    advance(&mut c, sk, "11h").await;
    advance(&mut c, sk, "1m").await;
    let out = of_flow(&mut c, sk, &drop).await;
    assert!(out.iter().all(|m| m.0 == "skipped" && m.1 == json!("price_changed")), "{out:?}");

    // A second drop for two other viewers, deferred again; the lamp sells out before 09:00: nothing is announced.
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-05-07T22:00:00Z"})).await.unwrap();
    for u in ["sol", "sam"] {
        subscriber(&mut c, wk, sk, u).await;
        let viewed = json!({"userId": u, "event": "Product Viewed", "properties": {"product_id": "lamp"}});
        assert_eq!(c.post_json("/v1/track", wk, &viewed).await.unwrap().status, 200);
    }
    product(&mut c, sk, 120.0, 5).await;
    product(&mut c, sk, 120.0, 0).await;
    advance(&mut c, sk, "11h").await;
    advance(&mut c, sk, "1m").await;
    let out = of_flow(&mut c, sk, &drop).await;
    let latest: Vec<_> = out.iter().filter(|m| m.1 == json!("sold_out")).collect();
    assert_eq!(latest.len(), 2, "{out:?}");
    assert!(!out.iter().any(|m| m.0 == "sent"), "{out:?}");
}

#[tokio::test]
async fn a_message_retried_later_is_rendered_again_when_it_goes() {
    // The mail server answers 451 "try later" for tess: her reminder is retried with backoff (30 s, then 2 min).
    let sink = support::SmtpSink::start(support::SinkOptions { tempfail: vec!["tess".into()], ..Default::default() });
    let port = sink.port;
    let s = TestServer::start_with(|dir| sends::smtp_config(dir, port));
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-05-06T12:00:00Z"})).await.unwrap();
    product(&mut c, sk, 200.0, 5).await;
    install(&mut c, sk, "browse_abandonment").await;
    subscriber(&mut c, wk, sk, "tess").await;
    let viewed = json!({"userId": "tess", "event": "Product Viewed", "properties": {"product_id": "lamp", "name": "Lamp", "price": 200}});
    assert_eq!(c.post_json("/v1/track", wk, &viewed).await.unwrap().status, 200);
    // One step past the 2 h delay: with two steps, a first attempt that failed quickly at the first would be
    // retried (30 s backoff) at the second, before the price changes below.
    advance(&mut c, sk, "121m").await;
    let m = common::wait_status(&mut c, sk, "tess@example.com", "retrying").await;
    assert_eq!(m["attempts"], 1, "{m}");
    assert!(m["text"].as_str().unwrap().contains("$200.00"), "{m}");

    // The price changes before the retry: the retried message carries the price of the moment it goes.
    product(&mut c, sk, 160.0, 5).await;
    advance(&mut c, sk, "31s").await;
    let retried = async {
        loop {
            let m = common::messages_to(&mut c, sk, "tess@example.com").await;
            // Its second attempt answered (451 again): rendered anew before it went.
            if m[0]["attempts"] == 2 && m[0]["status"] == "retrying" {
                return m[0].clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    let m = tokio::time::timeout(std::time::Duration::from_secs(20), retried).await.expect("rendered again");
    let text = m["text"].as_str().unwrap();
    assert!(text.contains("$160.00") && !text.contains("$200.00"), "{m}");
    assert!(!text.contains("You might also like"), "the lamp is no alternative to itself: {text}");

    // It sells out before the next retry: the message is not handed to the server again, and says why.
    product(&mut c, sk, 160.0, 0).await;
    advance(&mut c, sk, "121s").await;
    let m = common::wait_status(&mut c, sk, "tess@example.com", "skipped").await;
    assert_eq!(m["reason"], "sold_out", "{m}");
    assert_eq!(sends::eml_count(&sink), 0);
}

#[tokio::test]
async fn the_cart_reminder_shows_the_cart_as_it_is_when_it_goes() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-05-06T12:00:00Z"})).await.unwrap();
    for (id, title, price) in [("bell", "Bell", 19.5), ("lamp", "Lamp", 40.0)] {
        let p = json!({"title": title, "price": price, "inventory_quantity": 5, "currency": "USD"});
        assert_eq!(c.put_json(&format!("/api/v1/products/{id}"), sk, &p).await.unwrap().status, 200);
    }
    let cart = install(&mut c, sk, "abandoned_cart").await;
    subscriber(&mut c, wk, sk, "cam").await;
    for (id, name, price, qty) in [("bell", "Bell", 19.5, 2), ("lamp", "Lamp", 40.0, 1)] {
        let added = json!({"userId": "cam", "event": "Product Added", "properties": {"product_id": id, "name": name,
            "price": price, "quantity": qty, "currency": "USD"}});
        assert_eq!(c.post_json("/v1/track", wk, &added).await.unwrap().status, 200);
    }
    // Before the reminder: the bell goes on sale and the lamp sells out.
    let p = json!({"title": "Bell", "price": 15, "inventory_quantity": 5, "currency": "USD"});
    assert_eq!(c.put_json("/api/v1/products/bell", sk, &p).await.unwrap().status, 200);
    let p = json!({"title": "Lamp", "price": 40, "inventory_quantity": 0, "currency": "USD"});
    assert_eq!(c.put_json("/api/v1/products/lamp", sk, &p).await.unwrap().status, 200);
    advance(&mut c, sk, "4h").await;
    advance(&mut c, sk, "1m").await;
    let out = of_flow(&mut c, sk, &cart).await;
    let text = &out.iter().find(|m| m.0 == "sent").unwrap_or_else(|| panic!("{out:?}")).2;
    assert!(text.contains("Bell x 2: $15.00") && text.contains("Total: $30.00"), "{text}");
    assert!(!text.contains("Lamp"), "the sold-out lamp is not promoted: {text}");
}

//! Freshness at send time (issue 15 item 1), over HTTP with the dev clock: a message about one product is checked
//! against the catalog when it goes, not when it was decided: a product that sold out meanwhile is not promoted
//! (skipped, reason `sold_out`), a price drop that no longer holds is not announced (`price_changed`), and the
//! price shown is the current one, also for a message deferred by quiet hours.

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

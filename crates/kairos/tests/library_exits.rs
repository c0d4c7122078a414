//! The library flows' exit paths over HTTP (their happy paths are in `library.rs`, `flows.rs` and
//! `freshness.rs`): whoever reaches the flow's goal, or may not be written to, gets nothing more.

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

/// A contact with an email address, subscribed or not.
async fn person(c: &mut HttpClient, wk: &str, sk: &str, user: &str, subscribed: bool, traits: Value) {
    let mut t = json!({"email": format!("{user}@example.com"), "first_name": user});
    t.as_object_mut().unwrap().extend(traits.as_object().cloned().unwrap_or_default());
    assert_eq!(c.post_json("/v1/identify", wk, &json!({"userId": user, "traits": t})).await.unwrap().status, 200);
    let status = if subscribed { "subscribed" } else { "unsubscribed" };
    let consent = json!({"user_id": user, "channel": "email", "status": status});
    assert_eq!(c.post_json("/api/v1/contacts/consent", sk, &consent).await.unwrap().status, 200);
}

async fn track(c: &mut HttpClient, wk: &str, user: &str, event: &str, props: Value) {
    let r = c.post_json("/v1/track", wk, &json!({"userId": user, "event": event, "properties": props})).await.unwrap();
    assert_eq!(r.status, 200);
}

async fn advance(c: &mut HttpClient, sk: &str, by: &str) {
    assert_eq!(c.post_json("/api/v1/dev/clock", sk, &json!({ "advance": by })).await.unwrap().status, 200);
}

/// (subject, status, reason) of every message of a flow to a user.
async fn of(c: &mut HttpClient, sk: &str, flow: &str, user: &str) -> Vec<(String, String, String)> {
    let items = common::all_items(c, sk, &format!("/api/v1/messages?flow_id={flow}")).await;
    items
        .iter()
        .filter(|m| m["to"] == format!("{user}@example.com"))
        .map(|m| {
            let s = |k: &str| m[k].as_str().unwrap_or_default().to_string();
            (s("subject"), s("status"), s("reason"))
        })
        .collect()
}

#[tokio::test]
async fn whoever_reaches_the_goal_or_may_not_be_written_to_gets_nothing_more() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-04-07T09:30:00Z"})).await.unwrap();
    let mut flows = std::collections::HashMap::new();
    for key in ["abandoned_cart", "vip_reward", "post_purchase", "birthday", "returns_follow_up"] {
        flows.insert(key, install(&mut c, sk, key).await);
    }
    person(&mut c, wk, sk, "buyer", true, json!({})).await;
    person(&mut c, wk, sk, "small", true, json!({})).await;
    person(&mut c, wk, sk, "quiet", false, json!({"birthday": "1990-04-07"})).await;
    person(&mut c, wk, sk, "later", true, json!({"birthday": "1990-09-30"})).await;

    // Abandoned cart: an order within the 4 hours ends the run before any reminder.
    let cart = json!({"product_id": "bell", "name": "Bell", "price": 20, "quantity": 1, "currency": "USD"});
    track(&mut c, wk, "buyer", "Product Added", cart).await;
    advance(&mut c, sk, "1h").await;
    track(&mut c, wk, "buyer", "Order Completed", json!({"order_id": "b-1", "total": 20})).await;
    advance(&mut c, sk, "4h").await;
    advance(&mut c, sk, "2d").await;
    assert!(of(&mut c, sk, &flows["abandoned_cart"], "buyer").await.is_empty());
    let stats = c.get(&format!("/api/v1/flows/{}/stats", flows["abandoned_cart"]), sk).await.unwrap().json();
    assert_eq!((stats["entered"].as_u64(), stats["converted"].as_u64()), (Some(1), Some(1)), "{stats}");

    // VIP: a small spender never enters; nothing is tagged or sent.
    track(&mut c, wk, "small", "Order Completed", json!({"order_id": "s-1", "total": 30})).await;
    assert!(of(&mut c, sk, &flows["vip_reward"], "small").await.is_empty());

    // Post-purchase: a flow that markets (the review request) is not entered by an unsubscribed customer.
    let products = json!([{"product_id": "bell", "name": "Bell", "price": 20, "url": "https://shop.example/bell"}]);
    track(&mut c, wk, "quiet", "Order Completed", json!({"order_id": "q-1", "total": 20, "products": products})).await;
    track(&mut c, wk, "quiet", "Order Delivered", json!({"order_id": "q-1"})).await;
    advance(&mut c, sk, "3d").await;
    advance(&mut c, sk, "1m").await;
    let quiet = of(&mut c, sk, &flows["post_purchase"], "quiet").await;
    assert!(quiet.iter().all(|m| m.1 != "sent"), "{quiet:?}");

    // Birthday: not on another day, and never to someone who unsubscribed, birthday or not.
    advance(&mut c, sk, "1d").await;
    assert!(of(&mut c, sk, &flows["birthday"], "later").await.is_empty());
    assert!(of(&mut c, sk, &flows["birthday"], "quiet").await.iter().all(|m| m.1 != "sent"));

    // Returns follow-up: a replacement ordered within the day is the goal; no apology after it.
    track(&mut c, wk, "buyer", "Order Refunded", json!({"order_id": "b-1", "total": 20})).await;
    advance(&mut c, sk, "2h").await;
    track(&mut c, wk, "buyer", "Order Completed", json!({"order_id": "b-2", "total": 25})).await;
    advance(&mut c, sk, "1d").await;
    assert!(of(&mut c, sk, &flows["returns_follow_up"], "buyer").await.is_empty());
    let stats = c.get(&format!("/api/v1/flows/{}/stats", flows["returns_follow_up"]), sk).await.unwrap().json();
    assert_eq!(stats["converted"].as_u64(), Some(1), "{stats}");
}

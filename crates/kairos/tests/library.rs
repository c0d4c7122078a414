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

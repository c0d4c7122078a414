//! Issue 16 item 6 over HTTP: a contact's profile knows the segments they are in, the flows they are going
//! through with the step each waits at, and their orders with the products; nothing of another workspace.

mod common;

use common::TestServer;
use serde_json::json;

#[tokio::test]
async fn the_journey_shows_segments_flows_in_progress_and_orders() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-04-01T12:00:00Z"})).await.unwrap();
    let t = json!({"id": "thanks", "name": "Thanks", "channel": "email", "subject": "Thanks", "text": "Hi"});
    assert_eq!(c.post_json("/api/v1/templates", sk, &t).await.unwrap().status, 201);
    let f = json!({"name": "After the order", "trigger": {"type": "event", "event": "Order Completed"},
        "steps": [{"id": "wait", "type": "delay", "duration": "3d", "next": "mail"},
                  {"id": "mail", "type": "send", "channel": "email", "template": "thanks"}]});
    let flow = c.post_json("/api/v1/flows", sk, &f).await.unwrap().json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/flows/{flow}/activate"), sk, &json!({})).await.unwrap().status, 200);
    let seg = json!({"name": "Buyers", "definition": "orders.count >= 1"});
    assert_eq!(c.post_json("/api/v1/segments", sk, &seg).await.unwrap().status, 201);
    let who = json!({"userId": "ann", "traits": {"email": "ann@example.com"}});
    assert_eq!(c.post_json("/v1/identify", wk, &who).await.unwrap().status, 200);
    let consent = json!({"user_id": "ann", "channel": "email", "status": "subscribed"});
    assert_eq!(c.post_json("/api/v1/contacts/consent", sk, &consent).await.unwrap().status, 200);
    let order = json!({"userId": "ann", "event": "Order Completed", "properties": {"order_id": "o-1", "total": 45.5,
        "currency": "EUR", "products": [{"product_id": "bell", "name": "Bell", "quantity": 2, "price": 12.5}]}});
    assert_eq!(c.post_json("/v1/track", wk, &order).await.unwrap().status, 200);

    let ann = c.get("/api/v1/contacts?user_id=ann", sk).await.unwrap().json()["items"][0]["id"].clone();
    let r = c.get(&format!("/api/v1/contacts/{ann}/journey"), sk).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    let j = r.json();
    assert_eq!(j["segments"][0]["name"], "Buyers", "{j}");
    assert_eq!(
        (j["flows"][0]["name"].as_str(), j["flows"][0]["step"]["type"].as_str()),
        (Some("After the order"), Some("delay")),
        "{j}"
    );
    assert!(j["flows"][0]["waiting_until"].as_str().unwrap().starts_with("2030-04-04T12:00"), "{j}");
    let o = &j["orders"][0];
    assert_eq!(
        (o["order_id"].as_str(), o["total"].as_f64(), o["currency"].as_str()),
        (Some("o-1"), Some(45.5), Some("EUR"))
    );
    assert_eq!(o["products"][0]["name"], "Bell");

    // Once the run finished, it is no longer in progress; another workspace cannot read the journey.
    c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "3d"})).await.unwrap();
    c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "1m"})).await.unwrap();
    let j = c.get(&format!("/api/v1/contacts/{ann}/journey"), sk).await.unwrap().json();
    assert!(j["flows"].as_array().unwrap().is_empty(), "{j}");
    let other = common::create_workspace(&s.dir, "Other");
    assert_eq!(c.get(&format!("/api/v1/contacts/{ann}/journey"), &other.secret_key).await.unwrap().status, 404);
}

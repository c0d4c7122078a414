//! SPEC 16 "Data rights": `GET /api/v1/contacts/{id}/export` answers everything held about the person (profile,
//! consent, timeline, messages) as JSON, only to a secret key of the person's workspace.

mod common;

use common::TestServer;
use serde_json::json;

#[tokio::test]
async fn an_export_holds_the_profile_the_timeline_and_the_consent() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (&s.keys.write_key, &s.keys.secret_key);
    let batch = json!({"batch": [
        {"type": "identify", "userId": "u-ann", "traits": {"email": "ann@example.com", "first_name": "Ann"},
         "timestamp": "2026-12-01T10:00:00Z"},
        {"type": "track", "userId": "u-ann", "event": "Product Viewed", "properties": {"product_id": "p1"},
         "timestamp": "2026-12-01T10:01:00Z"},
        {"type": "track", "userId": "u-ann", "event": "Order Completed", "properties": {"order_id": "o1", "total": 42},
         "timestamp": "2026-12-01T10:02:00Z"},
        {"type": "identify", "userId": "u-bob", "traits": {"email": "bob@example.com"}}
    ]});
    assert_eq!(c.post_json("/v1/batch", wk, &batch).await.unwrap().status, 200);
    let consent = json!({"email": "ann@example.com", "channel": "email", "status": "subscribed", "source": "checkout"});
    assert_eq!(c.post_json("/api/v1/contacts/consent", sk, &consent).await.unwrap().status, 200);
    let ann = c.get("/api/v1/contacts?email=ann@example.com", sk).await.unwrap().json()["items"][0].clone();
    let id = ann["id"].to_string().trim_matches('"').to_string();

    let r = c.get(&format!("/api/v1/contacts/{id}/export"), sk).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    let doc = r.json();
    assert_eq!(doc["contact"]["email"], json!("ann@example.com"));
    assert_eq!(doc["contact"]["traits"]["first_name"], json!("Ann"));
    assert_eq!(doc["consent"]["email"]["status"], json!("subscribed"));
    assert_eq!(doc["consent"]["email"]["source"], json!("checkout"));
    let names: Vec<&str> = doc["events"].as_array().unwrap().iter().filter_map(|e| e["event"].as_str()).collect();
    assert!(names.contains(&"Product Viewed") && names.contains(&"Order Completed"), "{names:?}");
    assert!(!doc.to_string().contains("bob@example.com"), "only the person's own data");
    assert_eq!(doc["truncated"], json!(false));
    assert!(doc["messages"].is_array());

    assert_eq!(c.get("/api/v1/contacts/999999/export", sk).await.unwrap().status, 404);
    assert!([401, 403].contains(&c.get(&format!("/api/v1/contacts/{id}/export"), wk).await.unwrap().status));
}

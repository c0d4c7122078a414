//! `since entry` orders events by their time, then by arrival: an order stamped the same instant as the checkout
//! that entered the abandoned-cart flow, and ingested after it, counts as placed since entry.

mod common;

use common::{TestServer, basic, body};
use serde_json::json;

#[tokio::test]
async fn an_order_stamped_with_the_checkouts_time_ends_the_abandoned_cart_flow() {
    let s = TestServer::start();
    let (wk, sk) = (s.keys.write_key.clone(), s.keys.secret_key.clone());
    let mut c = s.client().await;
    c.post_json("/api/v1/dev/clock", &sk, &json!({"set": "2030-03-01T10:00:00Z"})).await.unwrap();
    let t = json!({"id": "cart", "channel": "email", "subject": "Your cart", "text": "Come back"});
    assert_eq!(c.post_json("/api/v1/templates", &sk, &t).await.unwrap().status, 201);
    let flow = json!({
        "name": "Abandoned checkout",
        "trigger": {"type": "event", "event": "Checkout Started"},
        "entry": {"filter": "subscribed email"},
        "exit_when": "did \"Order Completed\" since entry",
        "steps": [
            {"id": "wait", "type": "delay", "duration": "1h", "next": "email"},
            {"id": "email", "type": "send", "channel": "email", "template": "cart"}
        ]
    });
    let id = c.post_json("/api/v1/flows", &sk, &flow).await.unwrap().json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/flows/{id}/activate"), &sk, &json!({})).await.unwrap().status, 200);

    let track = |who: &str, event: &str, at: &str| json!({"userId": who, "event": event, "timestamp": at, "properties": {"order_id": "o1", "total": 50}});
    for who in ["buyer", "browser"] {
        let consent = json!({"user_id": who, "channel": "email", "status": "subscribed", "source": "checkout"});
        let identify = json!({"userId": who, "traits": {"email": format!("{who}@example.com")}});
        let r = c.send_with("POST", "/v1/identify", Some(basic(&wk)), body(&identify)).await.unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(c.post_json("/api/v1/contacts/consent", &sk, &consent).await.unwrap().status, 200);
        // The storefront stamps events to the second, a little before the server receives them.
        let ev = track(who, "Checkout Started", "2030-03-01T09:59:58Z");
        assert_eq!(c.send_with("POST", "/v1/track", Some(basic(&wk)), body(&ev)).await.unwrap().status, 200);
    }
    // The buyer's order carries the very same timestamp as the checkout, and arrives after it.
    let ev = track("buyer", "Order Completed", "2030-03-01T09:59:58Z");
    assert_eq!(c.send_with("POST", "/v1/track", Some(basic(&wk)), body(&ev)).await.unwrap().status, 200);

    c.post_json("/api/v1/dev/clock", &sk, &json!({"advance": "2h"})).await.unwrap();
    assert!(common::messages_to(&mut c, &sk, "buyer@example.com").await.is_empty(), "the buyer got a cart reminder");
    assert_eq!(common::messages_to(&mut c, &sk, "browser@example.com").await.len(), 1, "the browser is reminded");
    let stats = c.get(&format!("/api/v1/flows/{id}/stats"), &sk).await.unwrap().json();
    assert_eq!(stats["converted"], 1, "{stats}");
}

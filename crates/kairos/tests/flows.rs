//! Templates and flow definitions through the real server: validation with precise errors, versions,
//! drafts, activate and pause. (Running flows is covered once the flow runtime lands.)

mod common;

use common::TestServer;
use serde_json::{Value, json};

fn abandoned_checkout() -> Value {
    json!({
      "name": "Abandoned checkout",
      "trigger": {"type": "event", "event": "Checkout Started", "where": "value > 100"},
      "entry": {"filter": "subscribed email", "reentry": "once_per 7d"},
      "exit_when": "did \"Order Completed\" since entry",
      "steps": [
        {"id": "wait",  "type": "delay", "duration": "4h", "next": "route"},
        {"id": "route", "type": "split", "condition": "event.value > 20000", "yes": "call", "no": "email"},
        {"id": "call",  "type": "task", "message": "Call {{ contact.first_name }} about a {{ event.value | money }} cart"},
        {"id": "email", "type": "send", "channel": "email", "template": "abandoned-cart-1", "next": "wait2"},
        {"id": "wait2", "type": "wait_for", "event": "Order Completed", "timeout": "1d", "timeout_next": "sms"},
        {"id": "sms",   "type": "send", "channel": "sms", "template": "abandoned-cart-sms"}
      ]
    })
}

#[tokio::test]
async fn templates_are_validated_and_versioned() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = s.keys.secret_key.as_str();
    let email = json!({"id": "abandoned-cart-1", "name": "Cart reminder", "channel": "email",
        "subject": "You left {{ cart.items | size }} items", "html": "<p>Hi {{ contact.first_name | default: \"there\" }}</p>",
        "text": "Hi {{ contact.first_name }}"});
    let r = c.post_json("/api/v1/templates", sk, &email).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    assert_eq!(r.json()["version"], 1);
    assert_eq!(r.json()["subject"], email["subject"]);
    let r = c.post_json("/api/v1/templates", sk, &email).await.unwrap();
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (409, Some("conflict")));
    let mut edited = email.clone();
    edited["subject"] = json!("Still thinking about it?");
    let r = c.put_json("/api/v1/templates/abandoned-cart-1", sk, &edited).await.unwrap();
    assert_eq!((r.status, r.json()["version"].as_i64()), (200, Some(2)));
    let r = c.get("/api/v1/templates/abandoned-cart-1", sk).await.unwrap();
    assert_eq!(r.json()["subject"], "Still thinking about it?");
    // Generated ids; SMS needs a body.
    let r =
        c.post_json("/api/v1/templates", sk, &json!({"channel": "sms", "body": "Your cart misses you"})).await.unwrap();
    assert_eq!(r.status, 201);
    assert!(r.json()["id"].as_str().unwrap().starts_with("tpl_"));
    for (body, field) in [
        (json!({"channel": "email", "html": "<p>x</p>"}), "subject"),
        (json!({"channel": "email", "subject": "x"}), "html"),
        (json!({"channel": "sms"}), "body"),
        (json!({"channel": "fax", "body": "x"}), "channel"),
        (json!({"channel": "sms", "body": "Hi {{ contact.first_name"}), "body"),
        (json!({"channel": "sms", "body": "x", "colour": "red"}), "colour"),
        (json!({"id": "has space", "channel": "sms", "body": "x"}), "id"),
    ] {
        let r = c.post_json("/api/v1/templates", sk, &body).await.unwrap();
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.json()["error"]["field"], field, "{body} -> {:?}", r.json());
    }
    let r = c.get("/api/v1/templates", sk).await.unwrap();
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn flows_are_validated_versioned_and_activated() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = s.keys.secret_key.as_str();
    // Missing templates are reported precisely.
    let r = c.post_json("/api/v1/flows", sk, &abandoned_checkout()).await.unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["field"], "steps[3].template", "{:?}", r.json());
    for (id, channel, extra) in [
        ("abandoned-cart-1", "email", json!({"subject": "s", "text": "t"})),
        ("abandoned-cart-sms", "sms", json!({"body": "b"})),
    ] {
        let mut t = json!({"id": id, "channel": channel});
        t.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        assert_eq!(c.post_json("/api/v1/templates", sk, &t).await.unwrap().status, 201);
    }
    let r = c.post_json("/api/v1/flows", sk, &abandoned_checkout()).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let flow = r.json();
    let id = flow["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("flow_"));
    assert_eq!((flow["status"].as_str(), flow["version"].as_i64()), (Some("draft"), Some(1)));
    assert_eq!(flow["definition"], abandoned_checkout());

    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Edit, &str)> = vec![
        (Box::new(|v| v["steps"][3]["next"] = json!("nope")), "steps[3].next"),
        (Box::new(|v| v["steps"][0]["duration"] = json!("soon")), "steps[0].duration"),
        (Box::new(|v| v["steps"][2]["next"] = json!("route")), "steps"),
        (Box::new(|v| v["start"] = json!("email")), "steps[0]"),
        (Box::new(|v| v["trigger"] = json!({"type": "segment_entered", "segment": "nope"})), "trigger.segment"),
        (Box::new(|v| v["steps"][1]["condition"] = json!("event.value >")), "steps[1].condition"),
        (Box::new(|v| v["bogus"] = json!(1)), "bogus"),
        (Box::new(|v| v["name"] = json!("")), "name"),
    ];
    for (edit, field) in cases {
        let mut v = abandoned_checkout();
        edit(&mut v);
        let r = c.put_json(&format!("/api/v1/flows/{id}"), sk, &v).await.unwrap();
        assert_eq!(r.status, 400, "{field}");
        assert_eq!(r.json()["error"]["field"], field, "{:?}", r.json());
        assert_eq!(r.json()["error"]["code"], "invalid_definition");
    }
    // A valid edit is a new version; the rejected ones changed nothing.
    let mut v = abandoned_checkout();
    v["name"] = json!("Abandoned checkout v2");
    let r = c.put_json(&format!("/api/v1/flows/{id}"), sk, &v).await.unwrap();
    assert_eq!((r.status, r.json()["version"].as_i64()), (200, Some(2)));
    let r = c.post_json(&format!("/api/v1/flows/{id}/activate"), sk, &json!({})).await.unwrap();
    assert_eq!((r.status, r.json()["status"].as_str()), (200, Some("active")));
    let r = c.post_json(&format!("/api/v1/flows/{id}/pause"), sk, &json!({})).await.unwrap();
    assert_eq!(r.json()["status"], "paused");
    let r = c.get(&format!("/api/v1/flows/{id}"), sk).await.unwrap();
    assert_eq!((r.json()["name"].as_str(), r.json()["version"].as_i64()), (Some("Abandoned checkout v2"), Some(2)));
    let r = c.get("/api/v1/flows", sk).await.unwrap();
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 1);
    assert_eq!(c.get("/api/v1/flows/flow_missing", sk).await.unwrap().status, 404);
    assert_eq!(c.post_json("/api/v1/flows/flow_missing/activate", sk, &json!({})).await.unwrap().status, 404);
}

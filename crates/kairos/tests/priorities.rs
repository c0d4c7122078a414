//! Send priorities (issue 15 item 2, SPEC 16 "Priority"), over HTTP: flows and campaigns take `priority` 0..100
//! with defaults by kind (cart and checkout 80, browse 60, other flows 50, campaigns 20); smart sending lets the
//! higher go first and defers the lower, never the reverse; a deferred message's history names the message it
//! waited for.

mod common;

use std::time::Duration;

use common::TestServer;
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

const ANN: &str = "ann@example.com";

async fn flow(c: &mut HttpClient, sk: &str, def: Value) -> Value {
    let r = c.post_json("/api/v1/flows", sk, &def).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let r = c.post_json(&format!("/api/v1/flows/{id}/activate"), sk, &json!({})).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    r.json()
}

fn mailing(name: &str, event: &str, priority: Option<u64>) -> Value {
    let mut f = json!({"name": name, "trigger": {"type": "event", "event": event}, "entry": {"reentry": "always"},
        "steps": [{"id": "mail", "type": "send", "channel": "email", "template": "note"}]});
    if let Some(p) = priority {
        f["priority"] = json!(p);
    }
    f
}

/// Sends a campaign to everyone subscribed now and waits until its message to Ann is decided.
async fn campaign(c: &mut HttpClient, sk: &str, seg: &str, name: &str) -> (Value, Value) {
    let body = json!({"name": name, "channel": "email", "template": "note", "segments": [seg],
        "schedule": {"type": "now"}});
    let r = c.post_json("/api/v1/campaigns", sk, &body).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/campaigns/{id}/schedule"), sk, &json!({})).await.unwrap().status, 200);
    for _ in 0..100 {
        let mine = common::all_items(c, sk, &format!("/api/v1/messages?campaign_id={id}")).await;
        if let Some(m) = mine.first() {
            return (c.get(&format!("/api/v1/campaigns/{id}"), sk).await.unwrap().json(), m.clone());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("campaign {name} decided nothing for Ann");
}

async fn track(c: &mut HttpClient, wk: &str, event: &str) {
    let ev = json!({"userId": "ann", "event": event});
    assert_eq!(c.post_json("/v1/track", wk, &ev).await.unwrap().status, 200);
}

async fn advance(c: &mut HttpClient, sk: &str, by: &str) {
    let r = c.post_json("/api/v1/dev/clock", sk, &json!({"advance": by})).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
}

/// The newest message of the flow `flow_id` to Ann.
async fn of_flow(c: &mut HttpClient, sk: &str, flow_id: &str) -> Value {
    for _ in 0..100 {
        let items = common::all_items(c, sk, &format!("/api/v1/messages?flow_id={flow_id}")).await;
        if let Some(m) = items.first() {
            return m.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("flow {flow_id} sent nothing");
}

#[tokio::test]
async fn a_cart_reminder_goes_first_and_lower_priorities_wait_behind_it() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-04-01T12:00:00Z"})).await.unwrap();
    let t = json!({"id": "note", "channel": "email", "subject": "Hello", "html": "<p>Hi</p>", "text": "Hi"});
    assert_eq!(c.post_json("/api/v1/templates", sk, &t).await.unwrap().status, 201);
    let who = json!({"userId": "ann", "traits": {"email": ANN}});
    assert_eq!(c.post_json("/v1/identify", wk, &who).await.unwrap().status, 200);
    let consent = json!({"user_id": "ann", "channel": "email", "status": "subscribed"});
    assert_eq!(c.post_json("/api/v1/contacts/consent", sk, &consent).await.unwrap().status, 200);
    let everyone = json!({"name": "Subscribers", "definition": "subscribed email"});
    let seg = c.post_json("/api/v1/segments", sk, &everyone).await.unwrap().json()["id"].as_str().unwrap().to_string();

    // Bad priorities name the field; nothing is stored.
    for bad in [json!(101), json!(-1), json!("high"), json!(2.5)] {
        let mut f = mailing("Bad", "X", None);
        f["priority"] = bad.clone();
        let r = c.post_json("/api/v1/flows", sk, &f).await.unwrap();
        assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("priority")), "{bad}");
        let body = json!({"name": "Bad", "channel": "email", "template": "note", "segments": [seg], "priority": bad});
        let r = c.post_json("/api/v1/campaigns", sk, &body).await.unwrap();
        assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("priority")), "{bad}");
    }
    assert!(common::all_items(&mut c, sk, "/api/v1/flows").await.is_empty());

    // Defaults by kind, and an explicit one kept.
    let cart = flow(&mut c, sk, mailing("Abandoned checkout", "Checkout Started", None)).await;
    let browse = flow(&mut c, sk, mailing("Browse", "Product Viewed", None)).await;
    let low = flow(&mut c, sk, mailing("Survey", "Survey Due", Some(10))).await;
    assert_eq!(
        (cart["priority"].clone(), browse["priority"].clone(), low["priority"].clone()),
        (json!(80), json!(60), json!(10))
    );

    // A promotional campaign reaches Ann first (priority 20 by default).
    let (sale, first) = campaign(&mut c, sk, &seg, "Spring sale").await;
    assert_eq!(sale["priority"], json!(20));
    assert_eq!(first["status"], json!("sent"), "{first}");

    // An hour later she abandons a checkout: the reminder is not held 16 h behind the campaign.
    advance(&mut c, sk, "1h").await;
    track(&mut c, wk, "Checkout Started").await;
    let reminder = of_flow(&mut c, sk, cart["id"].as_str().unwrap()).await;
    assert_eq!((reminder["status"].clone(), reminder["reason"].clone()), (json!("sent"), Value::Null), "{reminder}");
    assert_eq!(reminder["priority"], json!(80));

    // What comes next at a lower priority waits behind the reminder, and says so.
    advance(&mut c, sk, "1h").await;
    track(&mut c, wk, "Product Viewed").await;
    let viewed = of_flow(&mut c, sk, browse["id"].as_str().unwrap()).await;
    assert_eq!((viewed["status"].clone(), viewed["reason"].clone()), (json!("deferred"), json!("smart_sending")));
    let last = viewed["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["behind"], reminder["id"], "{viewed}");
    let (_, second) = campaign(&mut c, sk, &seg, "Second sale").await;
    assert_eq!((second["status"].clone(), second["reason"].clone()), (json!("deferred"), json!("smart_sending")));
    assert_eq!(second["history"].as_array().unwrap().last().unwrap()["behind"], reminder["id"]);

    // A flow ranked below campaigns waits too.
    track(&mut c, wk, "Survey Due").await;
    let survey = of_flow(&mut c, sk, low["id"].as_str().unwrap()).await;
    assert_eq!(survey["status"], json!("deferred"), "{survey}");
    assert_eq!(survey["history"].as_array().unwrap().last().unwrap()["behind"], reminder["id"]);

    // When the window has passed they go out, the browse reminder (60) before the second campaign (20): the
    // campaign then waits behind it.
    advance(&mut c, sk, "15h").await;
    let viewed = of_flow(&mut c, sk, browse["id"].as_str().unwrap()).await;
    assert_eq!(viewed["status"], json!("sent"), "{viewed}");
    let again = common::all_items(&mut c, sk, &format!("/api/v1/messages?to={}", ANN.replace('@', "%40"))).await;
    let second = again.iter().find(|m| m["id"] == second["id"]).unwrap();
    assert_eq!(second["status"], json!("deferred"), "{second}");
    assert_eq!(second["history"].as_array().unwrap().last().unwrap()["behind"], viewed["id"], "{second}");
}

//! SPEC 16 "Site" (issue 14), over HTTP: the tracker's route, and the `form_submitted` flow trigger entered by a
//! `Form Submitted` event of the form it names (the browser behaviour of the tracker is in ui-tests/tracker.mjs).

mod common;

use common::TestServer;
use serde_json::json;

#[tokio::test]
async fn the_tracker_is_served_as_javascript_to_any_site() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let r = c.request("GET", "/js/kairos.js", &[], bytes::Bytes::new()).await.unwrap();
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap_or_default().starts_with("text/javascript"));
    assert!(r.header("cache-control").unwrap_or_default().contains("max-age="));
    let body = String::from_utf8(r.body.to_vec()).unwrap();
    assert!(body.contains("/v1/batch") && body.contains("sendBeacon"), "the tracker itself");
}

#[tokio::test]
async fn a_form_submitted_event_enters_the_flows_of_its_form() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    let t = json!({"id": "thanks", "channel": "email", "subject": "Thanks for signing up", "text": "Welcome"});
    assert_eq!(c.post_json("/api/v1/templates", sk, &t).await.unwrap().status, 201);
    let f = json!({"name": "Newsletter thanks", "trigger": {"type": "form_submitted", "form": "newsletter"},
        "steps": [{"id": "mail", "type": "send", "channel": "email", "template": "thanks", "transactional": true}]});
    let r = c.post_json("/api/v1/flows", sk, &f).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/flows/{id}/activate"), sk, &json!({})).await.unwrap().status, 200);
    for (user, form) in [("ann", "newsletter"), ("bob", "contest")] {
        let who = json!({"userId": user, "traits": {"email": format!("{user}@example.com")}});
        assert_eq!(c.post_json("/v1/identify", wk, &who).await.unwrap().status, 200);
        let ev = json!({"userId": user, "event": "Form Submitted", "properties": {"form_id": form}});
        assert_eq!(c.post_json("/v1/track", wk, &ev).await.unwrap().status, 200);
    }
    let ann = common::messages_to(&mut c, sk, "ann@example.com").await;
    assert_eq!(ann.len(), 1, "{ann:?}");
    assert_eq!(ann[0]["subject"], json!("Thanks for signing up"));
    let bob = common::count_after(
        &mut c,
        sk,
        "/api/v1/outbox?to=bob%40example.com",
        0,
        std::time::Duration::from_millis(300),
    )
    .await;
    assert_eq!(bob, 0, "another form's submission enters nothing");
}

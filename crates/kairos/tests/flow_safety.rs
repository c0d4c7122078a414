//! Issue 16 item 5 over HTTP: a library flow already installed is not installed again by accident, and a flow
//! about to be activated names the active flows that start on the same trigger, with how many people that is.

mod common;

use common::TestServer;
use serde_json::json;

#[tokio::test]
async fn a_second_install_asks_first_and_overlapping_triggers_are_named_with_their_size() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-04-01T12:00:00Z"})).await.unwrap();
    let install = |copy: Option<bool>| match copy {
        Some(b) => json!({"copy": b}),
        None => json!({}),
    };
    let r = c.post_json("/api/v1/flows/library/browse_abandonment/install", sk, &install(None)).await.unwrap();
    assert_eq!(r.status, 201);
    let first = r.json()["id"].as_str().unwrap().to_string();
    let r = c.post_json("/api/v1/flows/library/browse_abandonment/install", sk, &install(None)).await.unwrap();
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (409, Some("conflict")), "{:?}", r.json());
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("already installed"));
    let r = c.post_json("/api/v1/flows/library/browse_abandonment/install", sk, &json!({"copy": "yes"})).await.unwrap();
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("copy")));
    let r = c.post_json("/api/v1/flows/library/browse_abandonment/install", sk, &install(Some(true))).await.unwrap();
    assert_eq!(r.status, 201, "a copy when asked for");
    let copy = r.json()["id"].as_str().unwrap().to_string();
    let lib = c.get("/api/v1/flows/library", sk).await.unwrap().json();
    let browse = lib["items"].as_array().unwrap().iter().find(|l| l["key"] == "browse_abandonment").unwrap().clone();
    assert_eq!(browse["flow_name"], "Browse abandonment", "{browse}");

    // Two people viewed products in the last 30 days; one more 40 days ago.
    for (u, ago) in [("ann", "0s"), ("bo", "0s")] {
        let e = json!({"userId": u, "event": "Product Viewed", "properties": {"product_id": "lamp"}});
        assert_eq!(c.post_json("/v1/track", wk, &e).await.unwrap().status, 200, "{ago}");
    }
    let old = json!({"userId": "cy", "event": "Product Viewed", "timestamp": "2030-02-20T12:00:00Z", "properties": {}});
    assert_eq!(c.post_json("/v1/track", wk, &old).await.unwrap().status, 200);
    let o = c.get(&format!("/api/v1/flows/{copy}/overlaps"), sk).await.unwrap().json();
    assert!(o["overlaps"].as_array().unwrap().is_empty(), "nothing active yet: {o}");
    assert_eq!(c.post_json(&format!("/api/v1/flows/{first}/activate"), sk, &json!({})).await.unwrap().status, 200);
    let o = c.get(&format!("/api/v1/flows/{copy}/overlaps"), sk).await.unwrap().json();
    assert_eq!(o["overlaps"][0]["flow_id"], first.as_str(), "{o}");
    assert_eq!(
        (o["overlaps"][0]["shared"].clone(), o["overlaps"][0]["people"].clone()),
        (json!(["Product Viewed"]), json!(2))
    );
    let other = common::create_workspace(&s.dir, "Other");
    assert_eq!(c.get(&format!("/api/v1/flows/{copy}/overlaps"), &other.secret_key).await.unwrap().status, 404);
}

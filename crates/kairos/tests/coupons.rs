//! Coupons over HTTP: pools, `issue_coupon` in a flow with the code in the template, validation, redemption by
//! an order, the fallback branch of an expired pool, and the send-time check of a coupon that expired meanwhile.

mod common;

use common::TestServer;
use serde_json::{Value, json};

async fn flow(c: &mut kairos_bench::client::HttpClient, sk: &str, f: Value) -> String {
    let r = c.post_json("/api/v1/flows", sk, &f).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/flows/{id}/activate"), sk, &json!({})).await.unwrap().status, 200);
    id
}

#[tokio::test]
async fn coupons_are_issued_validated_redeemed_and_checked_at_send_time() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-01-01T12:00:00Z"})).await.unwrap();
    for (pool, field) in [
        (json!({"id": "x", "type": "unique", "pattern": "NOCODE", "value_type": "percent", "value": 10}), "pattern"),
        (json!({"id": "x", "type": "shared", "value_type": "percent", "value": 10}), "code"),
        (json!({"id": "x", "type": "shared", "code": "A", "value_type": "percent", "value": 150}), "value"),
        (json!({"id": "x", "type": "bogus"}), "type"),
    ] {
        let r = c.post_json("/api/v1/coupons", sk, &pool).await.unwrap();
        assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some(field)), "{pool}");
    }
    for pool in [
        json!({"id": "welcome", "type": "unique", "pattern": "WELCOME-{CODE}", "length": 6, "value_type": "percent", "value": 10, "valid_for": "7d"}),
        json!({"id": "old", "type": "shared", "code": "OLD5", "value_type": "fixed", "value": 5, "expires_at": "2029-12-31T00:00:00Z"}),
    ] {
        assert_eq!(c.post_json("/api/v1/coupons", sk, &pool).await.unwrap().status, 201);
    }
    for t in [
        json!({"id": "with-code", "channel": "email", "subject": "{{ coupon.value }}% off", "text": "Use {{ coupon.code }} by {{ coupon.expires_at | date: '%Y-%m-%d' }}"}),
        json!({"id": "no-code", "channel": "email", "subject": "Hello", "text": "No coupon today"}),
    ] {
        assert_eq!(c.post_json("/api/v1/templates", sk, &t).await.unwrap().status, 201);
    }
    let bad = json!({"name": "Bad", "trigger": {"type": "event", "event": "X"},
        "steps": [{"id": "c", "type": "issue_coupon", "pool": "missing"}]});
    let r = c.post_json("/api/v1/flows", sk, &bad).await.unwrap();
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("steps[0].pool")));
    let steps = |pool: &str| {
        json!([{"id": "coupon", "type": "issue_coupon", "pool": pool, "next": "mail", "fallback_next": "plain"},
               {"id": "mail", "type": "send", "channel": "email", "template": "with-code", "transactional": true},
               {"id": "plain", "type": "send", "channel": "email", "template": "no-code", "transactional": true}])
    };
    flow(
        &mut c,
        sk,
        json!({"name": "Welcome", "trigger": {"type": "event", "event": "Signed Up"}, "steps": steps("welcome")}),
    )
    .await;
    flow(&mut c, sk, json!({"name": "Old", "trigger": {"type": "event", "event": "Old"}, "steps": steps("old")})).await;
    // Issued now, sent 10 days later: the 7-day code has expired by then.
    let late = json!([{"id": "coupon", "type": "issue_coupon", "pool": "welcome", "next": "wait"},
        {"id": "wait", "type": "delay", "duration": "10d", "next": "mail"},
        {"id": "mail", "type": "send", "channel": "email", "template": "with-code", "transactional": true}]);
    flow(&mut c, sk, json!({"name": "Late", "trigger": {"type": "event", "event": "Late"}, "steps": late})).await;

    for u in ["ann", "bob"] {
        c.post_json("/v1/identify", wk, &json!({"userId": u, "traits": {"email": format!("{u}@example.com")}}))
            .await
            .unwrap();
    }
    c.post_json("/v1/track", wk, &json!({"userId": "ann", "event": "Signed Up"})).await.unwrap();
    let m = common::messages_to(&mut c, sk, "ann@example.com").await;
    assert_eq!((m.len(), m[0]["subject"].as_str()), (1, Some("10% off")), "{m:?}");
    let text = m[0]["text"].as_str().unwrap();
    let code = text.split_whitespace().nth(1).unwrap().to_string();
    assert!(code.starts_with("WELCOME-") && code.len() == 14, "{text}");
    assert!(text.ends_with("by 2030-01-08"), "valid for 7 days: {text}");

    let check = |v: Value| (v["valid"].as_bool(), v["reason"].as_str().map(str::to_string));
    let r =
        c.post_json("/api/v1/coupons/validate", sk, &json!({"code": code, "email": "ann@example.com"})).await.unwrap();
    assert_eq!(check(r.json()), (Some(true), None), "{:?}", r.json());
    let r =
        c.post_json("/api/v1/coupons/validate", sk, &json!({"code": code, "email": "bob@example.com"})).await.unwrap();
    assert_eq!(check(r.json()), (Some(false), Some("not_issued_to_contact".into())));
    let r = c.post_json("/api/v1/coupons/validate", sk, &json!({"code": "NOPE"})).await.unwrap();
    assert_eq!(check(r.json()), (Some(false), Some("unknown_code".into())));
    assert_eq!(c.post_json("/api/v1/coupons/validate", sk, &json!({})).await.unwrap().status, 400);

    // An order with the code redeems it.
    c.post_json("/v1/track", wk, &json!({"userId": "ann", "event": "Order Completed", "properties": {"order_id": "o1", "total": 50, "coupon": code}}))
        .await
        .unwrap();
    let r =
        c.post_json("/api/v1/coupons/validate", sk, &json!({"code": code, "email": "ann@example.com"})).await.unwrap();
    assert_eq!(check(r.json()), (Some(false), Some("already_redeemed".into())));
    let pool = c.get("/api/v1/coupons/welcome", sk).await.unwrap().json();
    assert_eq!((pool["issued"].as_u64(), pool["active"].as_bool()), (Some(1), Some(true)), "{pool}");

    // An expired pool takes the fallback branch.
    c.post_json("/v1/track", wk, &json!({"userId": "bob", "event": "Old"})).await.unwrap();
    let m = common::messages_to(&mut c, sk, "bob@example.com").await;
    assert_eq!(m[0]["subject"], "Hello", "{m:?}");
    let r = c.post_json("/api/v1/coupons/validate", sk, &json!({"code": "OLD5"})).await.unwrap();
    assert_eq!(check(r.json()), (Some(false), Some("expired".into())));

    // A unique code that expired while the run waited is replaced by a new code of its pool at send time...
    c.post_json("/v1/track", wk, &json!({"userId": "bob", "event": "Late"})).await.unwrap();
    let bob = c.get("/api/v1/contacts?user_id=bob", sk).await.unwrap().json()["items"][0]["id"].clone();
    let first = c.get(&format!("/api/v1/contacts/{bob}/events?limit=50"), sk).await.unwrap().json();
    let issued: Vec<String> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "Coupon Issued")
        .map(|e| e["properties"]["code"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(issued.len(), 1, "{first}");
    c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "11d"})).await.unwrap();
    let m = common::messages_to(&mut c, sk, "bob@example.com").await;
    assert_eq!(m[0]["status"], "sent", "{m:?}");
    let text = m[0]["text"].as_str().unwrap();
    let code = text.split_whitespace().nth(1).unwrap();
    assert!(code.starts_with("WELCOME-") && code != issued[0], "a new code, not the expired {}: {text}", issued[0]);
    assert!(text.ends_with("by 2030-01-19"), "valid for 7 days from the send: {text}");

    // ...and the send is skipped when the pool has no other code to give.
    let once = json!({"id": "once", "type": "unique", "pattern": "ONCE-{CODE}", "length": 6, "value_type": "percent", "value": 10, "valid_for": "7d", "max_codes": 1});
    assert_eq!(c.post_json("/api/v1/coupons", sk, &once).await.unwrap().status, 201);
    let late = json!([{"id": "coupon", "type": "issue_coupon", "pool": "once", "next": "wait"},
        {"id": "wait", "type": "delay", "duration": "10d", "next": "mail"},
        {"id": "mail", "type": "send", "channel": "email", "template": "with-code", "transactional": true}]);
    flow(&mut c, sk, json!({"name": "Once", "trigger": {"type": "event", "event": "Once"}, "steps": late})).await;
    c.post_json("/v1/track", wk, &json!({"userId": "bob", "event": "Once"})).await.unwrap();
    c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "11d"})).await.unwrap();
    let m = common::messages_to(&mut c, sk, "bob@example.com").await;
    assert_eq!((m[0]["status"].as_str(), m[0]["reason"].as_str()), (Some("skipped"), Some("coupon_expired")), "{m:?}");
}

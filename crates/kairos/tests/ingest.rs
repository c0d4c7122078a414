//! Segment-compatible ingestion through the real server: every endpoint, auth styles, idempotency,
//! all-or-nothing batches, limits and bad input.

mod common;

use common::{TestServer, basic, body};
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

async fn events(c: &mut HttpClient, key: &str) -> Vec<Value> {
    common::all_items(c, key, "/api/v1/events?limit=1000").await
}

fn error_of(v: &Value) -> (String, Option<String>) {
    (v["error"]["code"].as_str().unwrap_or("?").to_string(), v["error"]["field"].as_str().map(str::to_string))
}

#[tokio::test]
async fn every_endpoint_stores_its_event_type() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let wk = &s.keys.write_key;
    let calls = [
        ("/v1/track", json!({"userId": "u1", "event": "Signed Up", "properties": {"plan": "pro"}, "messageId": "t1"})),
        ("/v1/identify", json!({"userId": "u1", "traits": {"first_name": "Ann"}, "messageId": "i1"})),
        (
            "/v1/page",
            json!({"userId": "u1", "name": "Home", "category": "Docs", "properties": {"path": "/"}, "messageId": "p1"}),
        ),
        ("/v1/screen", json!({"userId": "u1", "name": "Cart", "messageId": "s1"})),
        ("/v1/group", json!({"userId": "u1", "groupId": "g1", "traits": {"name": "Acme"}, "messageId": "g1"})),
        ("/v1/alias", json!({"userId": "u1", "previousId": "anon-9", "messageId": "a1"})),
    ];
    for (path, payload) in &calls {
        let r = c.post_json(path, wk, payload).await.unwrap();
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
        assert_eq!(r.json(), json!({"success": true}));
    }
    let stored = events(&mut c, &s.keys.secret_key).await;
    let by_id =
        |id: &str| stored.iter().find(|e| e["message_id"] == id).cloned().unwrap_or_else(|| panic!("{id} missing"));
    assert_eq!(by_id("t1")["type"], "track");
    assert_eq!(by_id("t1")["event"], "Signed Up");
    assert_eq!(by_id("t1")["properties"]["plan"], "pro");
    assert_eq!(by_id("i1")["type"], "identify");
    assert_eq!(by_id("i1")["traits"]["first_name"], "Ann");
    assert_eq!(by_id("p1")["name"], "Home");
    assert_eq!(by_id("p1")["category"], "Docs");
    assert_eq!(by_id("s1")["type"], "screen");
    assert_eq!(by_id("g1")["group_id"], "g1");
    assert_eq!(by_id("a1")["previous_id"], "anon-9");
    assert_eq!(stored.len(), 6);
}

#[tokio::test]
async fn basic_auth_and_analytics_js_payloads_are_accepted_as_sent() {
    let s = TestServer::start();
    let mut c = s.client().await;
    // As analytics.js / Segment's HTTP API docs send it: camelCase, offsets, nested context, integrations.
    let payload = json!({
        "batch": [{
            "type": "track", "event": "Product Added", "anonymousId": "507f191e810c19729de860ea",
            "messageId": "ajs-next-1700000000000-abc", "timestamp": "2026-11-20T12:30:00.123+02:00",
            "sentAt": "2026-11-20T10:30:01.000Z", "originalTimestamp": "2026-11-20T12:30:00.123+02:00",
            "properties": {"product_id": "507f1f77bcf86cd799439011", "sku": "G-32", "category": "Games",
                           "name": "Monopoly: 3rd Edition", "price": 18.99, "quantity": 1},
            "context": {"ip": "8.8.8.8", "library": {"name": "analytics.js", "version": "2.11.1"},
                        "page": {"path": "/academy/", "url": "https://segment.com/academy/"},
                        "userAgent": "Mozilla/5.0", "timezone": "Europe/Helsinki", "locale": "fi-FI"},
            "integrations": {"All": true}
        }],
        "sentAt": "2026-11-20T10:30:01.000Z",
        "context": {"library": {"name": "analytics-node"}}
    });
    let r = c.send_with("POST", "/v1/batch", Some(basic(&s.keys.write_key)), body(&payload)).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
    let stored = events(&mut c, &s.keys.secret_key).await;
    assert_eq!(stored.len(), 1);
    let e = &stored[0];
    assert_eq!(e["timestamp"], "2026-11-20T10:30:00.123000Z");
    assert_eq!(e["context"]["page"]["path"], "/academy/");
    assert_eq!(e["anonymous_id"], "507f191e810c19729de860ea");
    let contact = c.get(&format!("/api/v1/contacts/{}", e["contact_id"]), &s.keys.secret_key).await.unwrap().json();
    assert_eq!(contact["timezone"], "Europe/Helsinki");
    assert_eq!(contact["locale"], "fi-FI");
    assert_eq!(contact["cart"]["value"], 18.99);
}

#[tokio::test]
async fn duplicate_message_ids_are_stored_once() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let wk = &s.keys.write_key;
    let e = json!({"userId": "u1", "event": "Order Completed", "messageId": "dup-1", "properties": {"total": 10}});
    for _ in 0..3 {
        assert_eq!(c.post_json("/v1/track", wk, &e).await.unwrap().status, 200);
    }
    let batch = json!({"batch": [
        {"type": "track", "userId": "u1", "event": "Order Completed", "messageId": "dup-1", "properties": {"total": 10}},
        {"type": "track", "userId": "u1", "event": "Order Completed", "messageId": "dup-2", "properties": {"total": 5}},
        {"type": "track", "userId": "u1", "event": "Order Completed", "messageId": "dup-2", "properties": {"total": 5}}
    ]});
    assert_eq!(c.post_json("/v1/batch", wk, &batch).await.unwrap().status, 200);
    let stored = events(&mut c, &s.keys.secret_key).await;
    // The two orders, besides what Kairos wrote about them (first-time, then repeat customer).
    let orders = stored.iter().filter(|e| e["event"] == "Order Completed").count();
    assert_eq!((orders, stored.len()), (2, 4), "{stored:?}");
    let contact = c.get("/api/v1/contacts?user_id=u1", &s.keys.secret_key).await.unwrap().json();
    assert_eq!(contact["items"][0]["orders"]["count"], 2);
    assert_eq!(contact["items"][0]["orders"]["total_spent"], 15.0);
}

#[tokio::test]
async fn a_bad_item_rejects_the_whole_batch_naming_the_field() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let wk = &s.keys.write_key;
    let cases = [
        (
            json!({"batch": [{"type": "track", "userId": "u", "event": "A"}, {"type": "track", "userId": "u", "event": "B"},
                          {"type": "track", "userId": "u", "event": 7}]}),
            "invalid_type",
            Some("batch[2].event"),
        ),
        (
            json!({"batch": [{"type": "track", "userId": "u", "event": "A"}, {"type": "track", "event": "B"}]}),
            "missing_field",
            Some("batch[1].userId"),
        ),
        (
            json!({"batch": [{"type": "track", "userId": "u", "event": "A", "properties": [1]}]}),
            "invalid_type",
            Some("batch[0].properties"),
        ),
        (json!({"batch": [{"type": "bogus", "userId": "u"}]}), "invalid_value", Some("batch[0].type")),
        (json!({"batch": [{"userId": "u", "event": "A"}]}), "missing_field", Some("batch[0].type")),
        (
            json!({"batch": [{"type": "track", "userId": "u", "event": "A", "timestamp": "last tuesday"}]}),
            "invalid_timestamp",
            Some("batch[0].timestamp"),
        ),
        (json!({"batch": {"type": "track"}}), "invalid_type", Some("batch")),
        (json!({"events": []}), "missing_field", Some("batch")),
        (json!({"batch": ["x"]}), "invalid_type", Some("batch[0]")),
    ];
    for (payload, code, field) in cases {
        let r = c.post_json("/v1/batch", wk, &payload).await.unwrap();
        assert_eq!(r.status, 400, "{payload}");
        let (got_code, got_field) = error_of(&r.json());
        assert_eq!((got_code.as_str(), got_field.as_deref()), (code, field), "{payload}");
        assert!(r.json()["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert!(events(&mut c, &s.keys.secret_key).await.is_empty(), "nothing of a rejected batch is stored");
}

#[tokio::test]
async fn malformed_bodies_and_wrong_types_get_clear_errors() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let auth = Some(format!("Bearer {}", s.keys.write_key));
    let raw = |b: &str| Some(bytes::Bytes::from(b.to_string()));
    for (path, b, code, field) in [
        ("/v1/track", "{\"userId\": \"u\", \"event\": ", "invalid_json", None),
        ("/v1/track", "[1,2]", "invalid_type", None),
        ("/v1/track", "", "invalid_json", None),
        ("/v1/track", "{\"userId\": \"\\ud800\", \"event\": \"x\"}", "invalid_json", None),
        ("/v1/track", "{\"userId\": [], \"event\": \"x\"}", "invalid_type", Some("userId")),
        ("/v1/track", "{\"userId\": \"u\", \"event\": \"   \"}", "empty_value", Some("event")),
        ("/v1/identify", "{\"userId\": \"u\", \"traits\": \"vip\"}", "invalid_type", Some("traits")),
        ("/v1/alias", "{\"userId\": \"u\"}", "missing_field", Some("previousId")),
        ("/v1/group", "{\"userId\": \"u\"}", "missing_field", Some("groupId")),
        ("/v1/batch", "not json", "invalid_json", None),
    ] {
        let r = c.send_with("POST", path, auth.clone(), raw(b)).await.unwrap();
        assert_eq!(r.status, 400, "{path} {b}");
        let (got_code, got_field) = error_of(&r.json());
        assert_eq!((got_code.as_str(), got_field.as_deref()), (code, field), "{path} {b}");
    }
    // Unknown routes and methods answer JSON errors too.
    let r = c.get("/v1/nope", &s.keys.write_key).await.unwrap();
    assert_eq!((r.status, error_of(&r.json()).0.as_str()), (404, "not_found"));
    let r = c.get("/v1/track", &s.keys.write_key).await.unwrap();
    assert_eq!((r.status, error_of(&r.json()).0.as_str()), (405, "method_not_allowed"));
    assert!(events(&mut c, &s.keys.secret_key).await.is_empty());
}

#[tokio::test]
async fn size_limits_answer_413() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let wk = &s.keys.write_key;
    let big = "x".repeat(33 * 1024);
    let r = c
        .post_json("/v1/track", wk, &json!({"userId": "u", "event": "Big", "properties": {"blob": big}}))
        .await
        .unwrap();
    assert_eq!((r.status, error_of(&r.json()).0.as_str()), (413, "payload_too_large"));
    // One oversize event inside an otherwise small batch names the item.
    let batch = json!({"batch": [{"type": "track", "userId": "u", "event": "ok"},
                                 {"type": "track", "userId": "u", "event": "Big", "properties": {"blob": big}}]});
    let r = c.post_json("/v1/batch", wk, &batch).await.unwrap();
    assert_eq!(r.status, 413);
    assert_eq!(error_of(&r.json()), ("payload_too_large".to_string(), Some("batch[1]".to_string())));
    // A batch over 500 KB in total, every event small.
    let items: Vec<Value> = (0..40)
        .map(|i| json!({"type": "track", "userId": "u", "event": "Chunk", "messageId": format!("c{i}"), "properties": {"blob": "y".repeat(15 * 1024)}}))
        .collect();
    let r = c.post_json("/v1/batch", wk, &json!({ "batch": items })).await.unwrap();
    assert_eq!(r.status, 413);
    // Just under the limits is fine.
    let ok = "z".repeat(30 * 1024);
    let r = c
        .post_json("/v1/track", wk, &json!({"userId": "u", "event": "Fits", "properties": {"blob": ok}}))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let stored = events(&mut c, &s.keys.secret_key).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["event"], "Fits");
}

#[tokio::test]
async fn unicode_round_trips_exactly() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let name = "Tuote lisätty 🚲 自転車 مرحبا \u{200d}";
    let payload = json!({"userId": "käyttäjä-ü", "event": name, "messageId": "ü-1",
        "properties": {"note": "ZWJ 👩‍👩‍👧 and NUL-free \u{fffd}", "城市": "東京"}});
    assert_eq!(c.post_json("/v1/track", &s.keys.write_key, &payload).await.unwrap().status, 200);
    let stored = events(&mut c, &s.keys.secret_key).await;
    assert_eq!(stored[0]["event"], name);
    assert_eq!(stored[0]["properties"], payload["properties"]);
    assert_eq!(stored[0]["user_id"], "käyttäjä-ü");
    let r = c
        .get(&format!("/api/v1/contacts?user_id={}", "k%C3%A4ytt%C3%A4j%C3%A4-%C3%BC"), &s.keys.secret_key)
        .await
        .unwrap();
    assert_eq!(r.json()["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn future_timestamps_are_clamped_and_old_ones_kept_in_order() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let wk = &s.keys.write_key;
    let batch = json!({"batch": [
        {"type": "track", "userId": "u", "event": "Late", "messageId": "late", "timestamp": "2020-01-02T00:00:00Z"},
        {"type": "track", "userId": "u", "event": "Future", "messageId": "future", "timestamp": "2099-01-01T00:00:00Z"},
        {"type": "track", "userId": "u", "event": "Early", "messageId": "early", "timestamp": "2020-01-01T00:00:00Z"}
    ]});
    assert_eq!(c.post_json("/v1/batch", wk, &batch).await.unwrap().status, 200);
    let stored = events(&mut c, &s.keys.secret_key).await;
    let future = stored.iter().find(|e| e["message_id"] == "future").unwrap();
    assert_eq!(future["timestamp"], future["received_at"], "a timestamp over a day ahead is clamped to received_at");
    let contact_id = future["contact_id"].as_i64().unwrap();
    let timeline = c.get(&format!("/api/v1/contacts/{contact_id}/events"), &s.keys.secret_key).await.unwrap().json();
    let order: Vec<&str> =
        timeline["items"].as_array().unwrap().iter().map(|e| e["message_id"].as_str().unwrap()).collect();
    assert_eq!(order, ["future", "late", "early"], "the timeline is newest first by event time");
}

#[tokio::test]
async fn dev_clock_moves_forward_only() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = &s.keys.secret_key;
    let r = c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-06-01T10:00:00Z"})).await.unwrap();
    assert_eq!(r.json()["now"].as_str().map(|t| &t[..13]), Some("2030-06-01T10"));
    let r = c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "1d"})).await.unwrap();
    assert_eq!(r.json()["now"].as_str().map(|t| &t[..13]), Some("2030-06-02T10"));
    let r = c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2020-01-01T00:00:00Z"})).await.unwrap();
    assert_eq!(error_of(&r.json()), ("invalid_value".to_string(), Some("set".to_string())), "never backwards");
    let r = c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "0s"})).await.unwrap();
    assert_eq!(r.json()["now"].as_str().map(|t| &t[..10]), Some("2030-06-02"));
    let r = c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "soon"})).await.unwrap();
    assert_eq!(error_of(&r.json()), ("invalid_value".to_string(), Some("advance".to_string())));
    // Events without a timestamp are received "now", on the moved clock.
    c.post_json("/v1/track", &s.keys.write_key, &json!({"userId": "u", "event": "X"})).await.unwrap();
    let stored = events(&mut c, sk).await;
    assert!(stored[0]["received_at"].as_str().unwrap().starts_with("2030-06-02"));
    let r = c.post_json("/api/v1/dev/clock", &s.keys.write_key, &json!({"advance": "1h"})).await.unwrap();
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn browsers_get_cors_and_may_send_the_write_key_in_the_body() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let r = c.send_with("OPTIONS", "/v1/batch", None, None).await.unwrap();
    assert_eq!(r.status, 204);
    let r = c.send_with("GET", "/healthz", None, None).await.unwrap();
    assert_eq!((r.status, r.json()["status"].as_str()), (200, Some("ok")));
    // analytics.js beacons put the key in the body instead of a header.
    let b = json!({"writeKey": s.keys.write_key, "batch": [{"type": "track", "userId": "u", "event": "Beacon", "messageId": "b1"}]});
    let r = c.send_with("POST", "/v1/batch", None, body(&b)).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
    let single = json!({"writeKey": s.keys.write_key, "userId": "u", "event": "Beacon", "messageId": "b2"});
    assert_eq!(c.send_with("POST", "/v1/track", None, body(&single)).await.unwrap().status, 200);
    let wrong = json!({"writeKey": "wk_wrong", "userId": "u", "event": "Beacon"});
    let r = c.send_with("POST", "/v1/track", None, body(&wrong)).await.unwrap();
    assert_eq!((r.status, error_of(&r.json()).0.as_str()), (401, "unauthorized"));
    let ids: Vec<String> = events(&mut c, &s.keys.secret_key)
        .await
        .iter()
        .map(|e| e["message_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["b2", "b1"]);
}

//! Contacts through the real server: identity resolution and merges, computed e-commerce fields,
//! time zone, consent, lookups and timeline pagination.

mod common;

use common::TestServer;
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

async fn lookup(c: &mut HttpClient, key: &str, query: &str) -> Option<Value> {
    let r = c.get(&format!("/api/v1/contacts?{query}"), key).await.unwrap();
    assert_eq!(r.status, 200, "{query}: {:?}", r.body);
    r.json()["items"].as_array().unwrap().first().cloned()
}

async fn batch(c: &mut HttpClient, key: &str, items: Value) {
    let r = c.post_json("/v1/batch", key, &json!({ "batch": items })).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
}

async fn timeline(c: &mut HttpClient, key: &str, id: &Value) -> Vec<Value> {
    let r = c.get(&format!("/api/v1/contacts/{id}/events?limit=1000"), key).await.unwrap();
    assert_eq!(r.status, 200);
    r.json()["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn anonymous_visitor_who_identifies_keeps_one_history() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (&s.keys.write_key, &s.keys.secret_key);
    // Two devices browse anonymously, then the person logs in on both.
    batch(
        &mut c,
        wk,
        json!([
            {"type": "page", "anonymousId": "phone", "name": "Home", "timestamp": "2026-11-01T10:00:00Z"},
            {"type": "track", "anonymousId": "phone", "event": "Product Added", "timestamp": "2026-11-01T10:01:00Z",
             "properties": {"product_id": "bike-1", "name": "Gravel Bike", "price": 1299.0, "quantity": 1}},
            {"type": "track", "anonymousId": "laptop", "event": "Product Viewed", "timestamp": "2026-11-02T09:00:00Z",
             "properties": {"product_id": "helmet-1", "price": 89.9}},
        ]),
    )
    .await;
    let phone = lookup(&mut c, sk, "anonymous_id=phone").await.unwrap();
    let laptop = lookup(&mut c, sk, "anonymous_id=laptop").await.unwrap();
    assert_ne!(phone["id"], laptop["id"]);
    batch(
        &mut c,
        wk,
        json!([
            {"type": "identify", "anonymousId": "phone", "userId": "cust-1", "timestamp": "2026-11-03T08:00:00Z",
             "traits": {"email": "Ann.Smith@Example.com", "first_name": "Ann", "phone": "+358 40 123 4567"}},
            {"type": "identify", "anonymousId": "laptop", "userId": "cust-1", "timestamp": "2026-11-03T09:00:00Z",
             "traits": {"city": "Helsinki"}},
        ]),
    )
    .await;
    let by_email = lookup(&mut c, sk, "email=ann.smith%40example.com").await.expect("found by email");
    let by_user = lookup(&mut c, sk, "user_id=cust-1").await.unwrap();
    let by_phone = lookup(&mut c, sk, "phone=%2B358401234567").await.unwrap();
    let by_old_anon = lookup(&mut c, sk, "anonymous_id=laptop").await.unwrap();
    for other in [&by_user, &by_phone, &by_old_anon] {
        assert_eq!(other["id"], by_email["id"]);
    }
    let p = by_email;
    assert_eq!(p["email"], "ann.smith@example.com");
    assert_eq!(p["phone"], "+358401234567");
    assert_eq!(p["user_id"], "cust-1");
    assert_eq!(p["traits"]["first_name"], "Ann");
    assert_eq!(p["traits"]["city"], "Helsinki");
    let mut anon: Vec<&str> = p["anonymous_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    anon.sort();
    assert_eq!(anon, ["laptop", "phone"]);
    assert_eq!(p["cart"]["value"], 1299.0, "the anonymous cart survives the merge");
    assert_eq!(p["last_seen_at"], "2026-11-03T09:00:00Z");
    assert_eq!(timeline(&mut c, sk, &p["id"]).await.len(), 5, "all events of both devices in one timeline");
    // The merged-away contact id still answers, with the surviving profile.
    let old = if phone["id"] == p["id"] { &laptop } else { &phone };
    let r = c.get(&format!("/api/v1/contacts/{}", old["id"]), sk).await.unwrap();
    assert_eq!(r.json()["id"], p["id"]);
}

#[tokio::test]
async fn alias_merges_and_distinct_users_never_merge() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (&s.keys.write_key, &s.keys.secret_key);
    batch(&mut c, wk, json!([
        {"type": "track", "anonymousId": "visitor-7", "event": "Product Viewed", "properties": {"product_id": "p1"}},
        {"type": "track", "userId": "u-7", "event": "Order Completed", "properties": {"total": 20}},
        {"type": "alias", "previousId": "visitor-7", "userId": "u-7"},
    ])).await;
    let u = lookup(&mut c, sk, "user_id=u-7").await.unwrap();
    assert_eq!(lookup(&mut c, sk, "anonymous_id=visitor-7").await.unwrap()["id"], u["id"]);
    // The three events, and the order making them a first-time customer (`Lifecycle Stage Changed`).
    assert_eq!(timeline(&mut c, sk, &u["id"]).await.len(), 4);
    // Two customers who share a family email stay two contacts.
    batch(
        &mut c,
        wk,
        json!([
            {"type": "identify", "userId": "mom", "traits": {"email": "family@example.com"}},
            {"type": "identify", "userId": "dad", "traits": {"email": "family@example.com"}},
        ]),
    )
    .await;
    let mom = lookup(&mut c, sk, "user_id=mom").await.unwrap();
    let dad = lookup(&mut c, sk, "user_id=dad").await.unwrap();
    assert_ne!(mom["id"], dad["id"]);
    assert_eq!(lookup(&mut c, sk, "email=family%40example.com").await.unwrap()["id"], mom["id"]);
    // Changing the email moves the lookup.
    batch(&mut c, wk, json!([{"type": "identify", "userId": "mom", "traits": {"email": "mom@example.com"}}])).await;
    assert_eq!(lookup(&mut c, sk, "email=mom%40example.com").await.unwrap()["id"], mom["id"]);
    assert!(lookup(&mut c, sk, "email=family%40example.com").await.is_none());
}

#[tokio::test]
async fn computed_ecommerce_fields_follow_the_events() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (&s.keys.write_key, &s.keys.secret_key);
    batch(
        &mut c,
        wk,
        json!([
            {"type": "track", "userId": "u", "event": "Product Added", "timestamp": "2026-10-01T10:00:00Z",
             "properties": {"product_id": "a", "price": 10.5, "quantity": 2}},
            {"type": "track", "userId": "u", "event": "Product Added", "timestamp": "2026-10-01T10:01:00Z",
             "properties": {"product_id": "b", "price": "4.25"}},
            {"type": "track", "userId": "u", "event": "Product Removed", "timestamp": "2026-10-01T10:02:00Z",
             "properties": {"product_id": "a", "quantity": 1}},
        ]),
    )
    .await;
    let p = lookup(&mut c, sk, "user_id=u").await.unwrap();
    assert_eq!(p["cart"]["value"], 14.75);
    assert_eq!(p["cart"]["items"].as_array().unwrap().len(), 2);
    assert_eq!(p["cart"]["updated_at"], "2026-10-01T10:02:00Z");
    assert_eq!(p["orders"]["count"], 0);
    batch(
        &mut c,
        wk,
        json!([
            {"type": "track", "userId": "u", "event": "Order Completed", "timestamp": "2026-10-01T10:05:00Z",
             "properties": {"order_id": "o1", "total": 14.75, "products": [{"product_id": "a"}, {"product_id": "b"}]}},
            {"type": "track", "userId": "u", "event": "Order Completed", "timestamp": "2026-10-20T10:00:00Z",
             "properties": {"order_id": "o2", "revenue": 100}},
            {"type": "track", "userId": "u", "event": "Order Completed", "timestamp": "2026-09-01T10:00:00Z",
             "properties": {"order_id": "o0", "products": [{"product_id": "c", "price": 5, "quantity": 3}]}},
            {"type": "track", "userId": "u", "event": "Order Refunded", "timestamp": "2026-10-21T10:00:00Z",
             "properties": {"order_id": "o2", "total": 30}},
        ]),
    )
    .await;
    let p = lookup(&mut c, sk, "user_id=u").await.unwrap();
    let o = &p["orders"];
    assert_eq!(o["count"], 3);
    assert_eq!(o["total_spent"], 129.75);
    assert_eq!(o["average_value"], 43.25);
    assert_eq!(o["first_at"], "2026-09-01T10:00:00Z");
    assert_eq!(o["last_at"], "2026-10-20T10:00:00Z");
    assert_eq!(o["refunded_total"], 30.0);
    assert_eq!(p["cart"]["items"], json!([]), "an order clears the cart");
    assert_eq!(p["cart"]["value"], 0.0);
    assert_eq!(p["last_seen_at"], "2026-10-21T10:00:00Z");
    // A late Product Added (older than the order) does not refill the cart.
    batch(
        &mut c,
        wk,
        json!([{"type": "track", "userId": "u", "event": "Product Added", "timestamp": "2026-10-01T09:00:00Z",
        "properties": {"product_id": "z", "price": 1}}]),
    )
    .await;
    assert_eq!(lookup(&mut c, sk, "user_id=u").await.unwrap()["cart"]["value"], 0.0);
}

#[tokio::test]
async fn time_zone_and_consent() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (&s.keys.write_key, &s.keys.secret_key);
    batch(&mut c, wk, json!([
        {"type": "identify", "userId": "u", "traits": {"email": "u@example.com", "timezone": "Mars/Olympus", "email_consent": "subscribed"},
         "context": {"timezone": "America/New_York"}},
    ])).await;
    let p = lookup(&mut c, sk, "user_id=u").await.unwrap();
    assert_eq!(p["timezone"], "America/New_York", "an unknown zone in traits is ignored; context.timezone applies");
    assert_eq!(p["consent"]["email"]["status"], "never_subscribed", "a public write key cannot change consent");
    // With a secret key (server-side integration) the consent traits apply.
    let r = c
        .post_json(
            "/v1/identify",
            sk,
            &json!({"userId": "u", "traits": {"sms_consent": "subscribed", "timezone": "Europe/Helsinki"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let p = lookup(&mut c, sk, "user_id=u").await.unwrap();
    assert_eq!(p["consent"]["sms"]["status"], "subscribed");
    assert_eq!(p["consent"]["sms"]["source"], "identify");
    assert_eq!(p["timezone"], "Europe/Helsinki");
    // The consent API (SPEC 16).
    let r = c
        .post_json(
            "/api/v1/contacts/consent",
            sk,
            &json!({"email": "U@example.com", "channel": "email", "status": "subscribed", "source": "checkout"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
    let v = r.json();
    assert_eq!(v["id"], p["id"]);
    assert_eq!(v["consent"]["email"]["status"], "subscribed");
    assert_eq!(v["consent"]["email"]["source"], "checkout");
    assert!(v["consent"]["email"]["updated_at"].is_string());
    let r = c
        .post_json(
            "/api/v1/contacts/consent",
            sk,
            &json!({"contact_id": p["id"], "channel": "email", "status": "unsubscribed"}),
        )
        .await
        .unwrap();
    assert_eq!(r.json()["consent"]["email"]["status"], "unsubscribed");
    assert_eq!(lookup(&mut c, sk, "user_id=u").await.unwrap()["consent"]["email"]["status"], "unsubscribed");
    // Subscribing an unknown address creates the contact.
    let r = c
        .post_json(
            "/api/v1/contacts/consent",
            sk,
            &json!({"phone": "+358 50 555 0101", "channel": "sms", "status": "subscribed"}),
        )
        .await
        .unwrap();
    assert_eq!(r.json()["phone"], "+358505550101");
    assert!(lookup(&mut c, sk, "phone=%2B358505550101").await.is_some());
    for (payload, field) in [
        (json!({"email": "u@example.com", "channel": "push", "status": "subscribed"}), "channel"),
        (json!({"email": "u@example.com", "channel": "email", "status": "maybe"}), "status"),
        (json!({"email": "not-an-email", "channel": "email", "status": "subscribed"}), "email"),
        (json!({"channel": "email", "status": "subscribed"}), "email"),
    ] {
        let r = c.post_json("/api/v1/contacts/consent", sk, &payload).await.unwrap();
        assert_eq!(r.status, 400);
        assert_eq!(r.json()["error"]["field"], field, "{payload}");
    }
    let r = c
        .post_json(
            "/api/v1/contacts/consent",
            sk,
            &json!({"contact_id": 999999, "channel": "email", "status": "subscribed"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn timeline_pages_newest_first_without_gaps() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (&s.keys.write_key, &s.keys.secret_key);
    let items: Vec<Value> = (0..25)
        .map(|i| {
            json!({"type": "track", "userId": "u", "event": "Tick", "messageId": format!("m{i:02}"),
                        "timestamp": format!("2026-11-01T10:{:02}:00Z", (i * 7) % 25)})
        })
        .collect();
    batch(&mut c, wk, Value::Array(items)).await;
    let id = lookup(&mut c, sk, "user_id=u").await.unwrap()["id"].clone();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(cur) => format!("/api/v1/contacts/{id}/events?limit=10&cursor={cur}"),
            None => format!("/api/v1/contacts/{id}/events?limit=10"),
        };
        let v = c.get(&path, sk).await.unwrap().json();
        pages += 1;
        seen.extend(v["items"].as_array().unwrap().iter().map(|e| e["timestamp"].as_str().unwrap().to_string()));
        match v["next_cursor"].as_str() {
            Some(n) => cursor = Some(n.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 25);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted);
    for bad in ["limit=0", "limit=5000", "limit=abc", "cursor=zzz"] {
        let r = c.get(&format!("/api/v1/contacts/{id}/events?{bad}"), sk).await.unwrap();
        assert_eq!(r.status, 400, "{bad}");
    }
    assert_eq!(c.get("/api/v1/contacts/424242", sk).await.unwrap().status, 404);
    assert_eq!(c.get("/api/v1/contacts/not-a-number", sk).await.unwrap().status, 404);
}

#[tokio::test]
async fn contacts_are_found_by_part_of_a_name_email_or_id() {
    let s = common::TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    for (u, email, first, last) in [
        ("u1", "ann.lindqvist@example.com", "Ann", "Lindqvist"),
        ("u2", "bo@example.com", "Bo", "Berg"),
        ("u3", "x_y@example.com", "Cy", "Ek"),
    ] {
        c.post_json(
            "/v1/identify",
            wk,
            &serde_json::json!({"userId": u, "traits": {"email": email, "first_name": first, "last_name": last}}),
        )
        .await
        .unwrap();
    }
    let names = |v: serde_json::Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|c| c["user_id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names(c.get("/api/v1/contacts?q=LINDQ", sk).await.unwrap().json()), vec!["u1"]);
    assert_eq!(names(c.get("/api/v1/contacts?q=ann%20lindqvist", sk).await.unwrap().json()), vec!["u1"]);
    assert_eq!(names(c.get("/api/v1/contacts?q=bo%40ex", sk).await.unwrap().json()), vec!["u2"]);
    assert_eq!(names(c.get("/api/v1/contacts?q=u3", sk).await.unwrap().json()), vec!["u3"]);
    // `_` and `%` are text, not wildcards.
    assert_eq!(names(c.get("/api/v1/contacts?q=x_y", sk).await.unwrap().json()), vec!["u3"]);
    assert!(names(c.get("/api/v1/contacts?q=%25", sk).await.unwrap().json()).is_empty());
    assert_eq!(names(c.get("/api/v1/contacts?q=example.com", sk).await.unwrap().json()).len(), 3);
}

/// A known contact changed only by its own events has its row written later (ARCHITECTURE "Contact rows written
/// later"); every read right after the acknowledgement still sees the change. Each way of reading is checked
/// right after a change of its own (a read writes the rows it reads, so it would hide a later read's fault).
#[tokio::test]
async fn a_read_right_after_an_acknowledged_event_sees_it() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (&s.keys.write_key, &s.keys.secret_key);
    batch(&mut c, wk, json!([{"type": "identify", "userId": "reader", "traits": {"email": "reader@example.com"}}]))
        .await;
    let id = lookup(&mut c, sk, "user_id=reader").await.unwrap()["id"].clone();
    let reads = [
        "/api/v1/contacts?user_id=reader".to_string(),
        "/api/v1/contacts?email=reader%40example.com".to_string(),
        format!("/api/v1/contacts/{id}"),
        "/api/v1/contacts?limit=10".to_string(),
        "/api/v1/contacts?q=reader".to_string(),
        format!("/api/v1/contacts/{id}/events?limit=100"),
    ];
    for (n, path) in reads.iter().enumerate() {
        batch(
            &mut c,
            wk,
            json!([
                {"type": "identify", "userId": "reader", "traits": {"visits": n, "city": "Turku"}},
                {"type": "track", "userId": "reader", "event": "Product Added",
                 "properties": {"product_id": format!("p{n}"), "price": 5.0}},
            ]),
        )
        .await;
        let v = c.get(path, sk).await.unwrap().json();
        if path.contains("/events") {
            assert_eq!(v["items"].as_array().unwrap().len(), 1 + 2 * (n + 1), "{path}: {v}");
            continue;
        }
        let p = if v["items"].is_array() { &v["items"][0] } else { &v };
        assert_eq!(p["traits"]["visits"], n, "{path}: {p}");
        assert_eq!(p["cart"]["items"].as_array().unwrap().len(), n + 1, "{path}");
    }
}

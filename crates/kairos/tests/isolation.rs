//! Workspace isolation and API keys: two workspaces in one data directory never see each other's contacts,
//! events or products; write keys may only ingest; missing or unknown keys get 401.

mod common;

use common::{Keys, TestServer, basic, body};
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_else(|| panic!("not an error body: {v}"))
}

async fn ok_post(c: &mut HttpClient, path: &str, key: &str, v: &Value) {
    let r = c.post_json(path, key, v).await.unwrap();
    assert_eq!(r.status, 200, "{path}: {:?}", r.body);
    assert_eq!(r.json(), json!({"success": true}));
}

/// The one contact found by `query`, or `None`.
async fn lookup(c: &mut HttpClient, key: &str, query: &str) -> Option<Value> {
    let r = c.get(&format!("/api/v1/contacts?{query}"), key).await.unwrap();
    assert_eq!(r.status, 200, "{query}: {:?}", r.body);
    let items = r.json()["items"].as_array().unwrap().clone();
    assert!(items.len() <= 1, "{items:?}");
    items.into_iter().next()
}

async fn list(c: &mut HttpClient, key: &str, path: &str) -> Vec<Value> {
    let r = c.get(path, key).await.unwrap();
    assert_eq!(r.status, 200, "{path}: {:?}", r.body);
    r.json()["items"].as_array().unwrap().clone()
}

fn names(events: &[Value]) -> Vec<String> {
    let mut n: Vec<String> = events
        .iter()
        .map(|e| e["event"].as_str().map_or_else(|| e["type"].as_str().unwrap().to_string(), str::to_string))
        .collect();
    n.sort();
    n
}

/// Same user id and email in both workspaces, different traits and events.
async fn ingest_both(c: &mut HttpClient, a: &Keys, b: &Keys) {
    let product = |name: &str| json!({"product_id": "shared-p", "name": name, "price": 10});
    let events = [
        (a, "Ann", "Order Completed", json!({"order_id": "o1", "total": 10, "products": [product("Ann")]})),
        (b, "Bob", "Product Viewed", product("Bob")),
    ];
    for (keys, name, event, properties) in events {
        ok_post(
            c,
            "/v1/identify",
            &keys.write_key,
            &json!({"userId": "u1", "traits": {"email": "same@example.com", "first_name": name}}),
        )
        .await;
        ok_post(c, "/v1/track", &keys.write_key, &json!({"userId": "u1", "event": event, "properties": properties}))
            .await;
    }
}

#[tokio::test]
async fn workspaces_never_see_each_others_contacts_and_events() {
    let s = TestServer::start();
    let a = s.keys.clone();
    // Created while the server runs: its keys are looked up in the database on first use.
    let b = common::create_workspace(&s.dir, "Other");
    assert_ne!(a.id, b.id);
    let mut c = s.client().await;
    ingest_both(&mut c, &a, &b).await;

    let ca = lookup(&mut c, &a.secret_key, "user_id=u1").await.expect("A has u1");
    let cb = lookup(&mut c, &b.secret_key, "user_id=u1").await.expect("B has u1");
    assert_ne!(ca["id"], cb["id"], "same user id in two workspaces is two contacts");
    assert_eq!(ca["traits"]["first_name"], "Ann");
    assert_eq!(cb["traits"]["first_name"], "Bob");
    assert_eq!(ca["orders"]["count"], 1);
    assert_eq!(cb["orders"]["count"], 0);
    let by_email_a = lookup(&mut c, &a.secret_key, "email=same%40example.com").await.unwrap();
    let by_email_b = lookup(&mut c, &b.secret_key, "email=same%40example.com").await.unwrap();
    assert_eq!(by_email_a["id"], ca["id"]);
    assert_eq!(by_email_b["id"], cb["id"]);

    // Listing without a filter shows only the workspace's own contact.
    let all_a = list(&mut c, &a.secret_key, "/api/v1/contacts").await;
    let all_b = list(&mut c, &b.secret_key, "/api/v1/contacts").await;
    assert_eq!(all_a.iter().map(|x| &x["id"]).collect::<Vec<_>>(), [&ca["id"]]);
    assert_eq!(all_b.iter().map(|x| &x["id"]).collect::<Vec<_>>(), [&cb["id"]]);

    // Reading the other workspace's contact by id is a 404, exactly like a contact that does not exist.
    for (key, own, other) in [(&a.secret_key, &ca, &cb), (&b.secret_key, &cb, &ca)] {
        let r = c.get(&format!("/api/v1/contacts/{}", other["id"]), key).await.unwrap();
        assert_eq!(r.status, 404, "{:?}", r.body);
        assert_eq!(error_code(&r.json()), "not_found");
        assert!(!String::from_utf8_lossy(&r.body).contains("same@example.com"), "no data leaks in the error");
        let r = c.get(&format!("/api/v1/contacts/{}/events", other["id"]), key).await.unwrap();
        assert_eq!(r.status, 404, "{:?}", r.body);
        assert_eq!(error_code(&r.json()), "not_found");
        // Own contact reads fine.
        let r = c.get(&format!("/api/v1/contacts/{}", own["id"]), key).await.unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["id"], own["id"]);
    }
    let r = c.get("/api/v1/contacts/999999", &a.secret_key).await.unwrap();
    assert_eq!(r.status, 404);

    // Timelines and the workspace event list hold only own events.
    let ta = list(&mut c, &a.secret_key, &format!("/api/v1/contacts/{}/events", ca["id"])).await;
    let tb = list(&mut c, &b.secret_key, &format!("/api/v1/contacts/{}/events", cb["id"])).await;
    // The order made a first-time customer: Kairos wrote that into the same timeline.
    assert_eq!(names(&ta), ["Lifecycle Stage Changed", "Order Completed", "identify"]);
    assert_eq!(names(&tb), ["Product Viewed", "identify"]);
    let ea = list(&mut c, &a.secret_key, "/api/v1/events?limit=1000").await;
    let eb = list(&mut c, &b.secret_key, "/api/v1/events?limit=1000").await;
    assert_eq!(names(&ea), ["Lifecycle Stage Changed", "Order Completed", "identify"]);
    assert_eq!(names(&eb), ["Product Viewed", "identify"]);
    assert!(ea.iter().all(|e| e["contact_id"] == ca["id"]), "{ea:?}");
    assert!(eb.iter().all(|e| e["contact_id"] == cb["id"]), "{eb:?}");
    let mid_a: Vec<&Value> = ea.iter().map(|e| &e["message_id"]).collect();
    assert!(eb.iter().all(|e| !mid_a.contains(&&e["message_id"])));

    // Consent cannot be changed across workspaces by contact id.
    let r = c
        .post_json(
            "/api/v1/contacts/consent",
            &a.secret_key,
            &json!({"contact_id": cb["id"], "channel": "email", "status": "subscribed"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 404, "{:?}", r.body);
    assert_eq!(error_code(&r.json()), "not_found");
    let r = c.get(&format!("/api/v1/contacts/{}", cb["id"]), &b.secret_key).await.unwrap();
    assert_eq!(r.json()["consent"]["email"]["status"], "never_subscribed");
    // Consent by email changes only the caller's contact.
    let r = c
        .post_json(
            "/api/v1/contacts/consent",
            &a.secret_key,
            &json!({"email": "same@example.com", "channel": "email", "status": "subscribed"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.json()["id"], ca["id"]);
    let a_now = lookup(&mut c, &a.secret_key, "user_id=u1").await.unwrap();
    let b_now = lookup(&mut c, &b.secret_key, "user_id=u1").await.unwrap();
    assert_eq!(a_now["consent"]["email"]["status"], "subscribed");
    assert_eq!(b_now["consent"]["email"]["status"], "never_subscribed");
}

#[tokio::test]
async fn products_are_per_workspace() {
    let s = TestServer::start();
    let a = s.keys.clone();
    let b = common::create_workspace(&s.dir, "Other");
    let mut c = s.client().await;

    let r =
        c.put_json("/api/v1/products/bike", &a.secret_key, &json!({"title": "A bike", "price": 100})).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = c.get("/api/v1/products/bike", &b.secret_key).await.unwrap();
    assert_eq!(r.status, 404, "{:?}", r.body);
    assert_eq!(error_code(&r.json()), "not_found");
    assert!(list(&mut c, &b.secret_key, "/api/v1/products").await.is_empty());

    // The same id in B is B's own entry; A's stays as it was.
    let r = c.put_json("/api/v1/products/bike", &b.secret_key, &json!({"title": "B bike", "price": 7})).await.unwrap();
    assert_eq!(r.status, 200);
    let ra = c.get("/api/v1/products/bike", &a.secret_key).await.unwrap().json();
    let rb = c.get("/api/v1/products/bike", &b.secret_key).await.unwrap().json();
    assert_eq!((ra["title"].as_str(), ra["price"].as_f64()), (Some("A bike"), Some(100.0)));
    assert_eq!((rb["title"].as_str(), rb["price"].as_f64()), (Some("B bike"), Some(7.0)));

    // Products learned from events land in the event's workspace only, even when A already knows the id.
    ingest_both(&mut c, &a, &b).await;
    let pa = c.get("/api/v1/products/shared-p", &a.secret_key).await.unwrap();
    let pb = c.get("/api/v1/products/shared-p", &b.secret_key).await.unwrap();
    assert_eq!(pa.status, 200);
    assert_eq!(pb.status, 200, "B learned its own entry: {:?}", pb.body);
    assert_eq!(pa.json()["title"], "Ann");
    assert_eq!(pb.json()["title"], "Bob");
    ok_post(
        &mut c,
        "/v1/track",
        &b.write_key,
        &json!({"userId": "u2", "event": "Product Viewed", "properties": {"product_id": "only-b", "name": "B only"}}),
    )
    .await;
    assert_eq!(c.get("/api/v1/products/only-b", &a.secret_key).await.unwrap().status, 404);
    assert_eq!(c.get("/api/v1/products/only-b", &b.secret_key).await.unwrap().json()["title"], "B only");

    // Bulk upserts are scoped too.
    let r = c
        .post_json("/api/v1/products/bulk", &b.secret_key, &json!({"items": [{"id": "bulk-b", "title": "X"}]}))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let ids = |items: Vec<Value>| items.iter().map(|p| p["id"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(ids(list(&mut c, &a.secret_key, "/api/v1/products").await), ["bike", "shared-p"]);
    assert_eq!(ids(list(&mut c, &b.secret_key, "/api/v1/products").await), ["bike", "bulk-b", "only-b", "shared-p"]);
}

/// Every admin endpoint, as (method, path, body).
fn admin_endpoints() -> Vec<(&'static str, String, Option<Value>)> {
    vec![
        ("GET", "/api/v1/contacts".into(), None),
        ("GET", "/api/v1/contacts?user_id=u1".into(), None),
        ("GET", "/api/v1/contacts/1".into(), None),
        ("GET", "/api/v1/contacts/1/events".into(), None),
        (
            "POST",
            "/api/v1/contacts/consent".into(),
            Some(json!({"user_id": "u1", "channel": "email", "status": "subscribed"})),
        ),
        ("GET", "/api/v1/events".into(), None),
        ("GET", "/api/v1/products".into(), None),
        ("GET", "/api/v1/products/p1".into(), None),
        ("PUT", "/api/v1/products/p1".into(), Some(json!({"title": "Sneaky", "price": 1}))),
        ("POST", "/api/v1/products/bulk".into(), Some(json!({"items": [{"id": "p2", "title": "Sneaky"}]}))),
        ("POST", "/api/v1/dev/clock".into(), Some(json!({"advance": "1d"}))),
    ]
}

#[tokio::test]
async fn write_keys_cannot_use_the_admin_api() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (&s.keys.write_key, &s.keys.secret_key);
    ok_post(&mut c, "/v1/identify", wk, &json!({"userId": "u1", "traits": {"email": "a@example.com"}})).await;
    let contact = lookup(&mut c, sk, "user_id=u1").await.unwrap();
    let clock_before = c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "1s"})).await.unwrap().json();

    for (method, path, v) in admin_endpoints() {
        let path = path.replace("/contacts/1", &format!("/contacts/{}", contact["id"]));
        for auth in [format!("Bearer {wk}"), basic(wk)] {
            let r = c.send_with(method, &path, Some(auth.clone()), v.as_ref().and_then(body)).await.unwrap();
            assert_eq!(r.status, 403, "{method} {path} with {auth}: {:?}", r.body);
            assert_eq!(error_code(&r.json()), "forbidden", "{method} {path}");
        }
    }
    // Nothing the write key tried took effect.
    assert_eq!(c.get("/api/v1/products/p1", sk).await.unwrap().status, 404);
    assert_eq!(c.get("/api/v1/products/p2", sk).await.unwrap().status, 404);
    let now = lookup(&mut c, sk, "user_id=u1").await.unwrap();
    assert_eq!(now["consent"]["email"]["status"], "never_subscribed");
    let clock_after = c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "1s"})).await.unwrap().json();
    // One second moved, plus the real time the requests took (well under half a second).
    let t = |v: &Value| v["now"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap().as_microsecond();
    let moved = t(&clock_after) - t(&clock_before);
    assert!(
        (1_000_000..1_500_000).contains(&moved),
        "the write key did not move the clock: {clock_before} -> {clock_after}"
    );
}

#[tokio::test]
async fn missing_or_unknown_keys_get_401() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let ingest: Vec<(&str, String, Option<Value>)> = vec![
        ("POST", "/v1/track".into(), Some(json!({"userId": "u1", "event": "E"}))),
        ("POST", "/v1/identify".into(), Some(json!({"userId": "u1"}))),
        ("POST", "/v1/batch".into(), Some(json!({"batch": [{"type": "track", "userId": "u1", "event": "E"}]}))),
    ];
    let bad_auth = [
        None,
        Some("Bearer sk_unknown0000000000000000".to_string()),
        Some("Bearer wk_unknown".to_string()),
        Some(basic("wk_unknown")),
        Some("Bearer ".to_string()),
        Some(format!("Token {}", s.keys.secret_key)),
        Some("Basic %%%not-base64".to_string()),
    ];
    for (method, path, v) in admin_endpoints().into_iter().chain(ingest) {
        for auth in &bad_auth {
            let r = c.send_with(method, &path, auth.clone(), v.as_ref().and_then(body)).await.unwrap();
            assert_eq!(r.status, 401, "{method} {path} with {auth:?}: {:?}", r.body);
            assert_eq!(error_code(&r.json()), "unauthorized", "{method} {path} with {auth:?}");
        }
    }
    // Nothing was stored by the rejected requests.
    let sk = &s.keys.secret_key;
    assert!(list(&mut c, sk, "/api/v1/events").await.is_empty());
    assert!(list(&mut c, sk, "/api/v1/contacts").await.is_empty());
    assert!(list(&mut c, sk, "/api/v1/products").await.is_empty());
}

#[tokio::test]
async fn basic_auth_with_the_write_key_ingests_into_its_workspace() {
    let s = TestServer::start();
    let a = s.keys.clone();
    let b = common::create_workspace(&s.dir, "Other");
    let mut c = s.client().await;
    for (keys, user) in [(&a, "basic-a"), (&b, "basic-b")] {
        let r = c
            .send_with(
                "POST",
                "/v1/track",
                Some(basic(&keys.write_key)),
                body(&json!({"userId": user, "event": "Signed Up", "properties": {"plan": "pro"}})),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.json(), json!({"success": true}));
    }
    let r = c
        .send_with(
            "POST",
            "/v1/batch",
            Some(basic(&b.write_key)),
            body(&json!({"batch": [{"type": "identify", "userId": "basic-b", "traits": {"plan": "pro"}}]})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);

    let ea = list(&mut c, &a.secret_key, "/api/v1/events").await;
    let eb = list(&mut c, &b.secret_key, "/api/v1/events").await;
    assert_eq!(ea.len(), 1, "{ea:?}");
    assert_eq!(ea[0]["event"], "Signed Up");
    assert_eq!(ea[0]["user_id"], "basic-a");
    assert_eq!(ea[0]["properties"], json!({"plan": "pro"}));
    assert_eq!(names(&eb), ["Signed Up", "identify"]);
    assert!(eb.iter().all(|e| e["user_id"] == "basic-b"), "{eb:?}");
    assert!(lookup(&mut c, &a.secret_key, "user_id=basic-b").await.is_none());
    assert!(lookup(&mut c, &b.secret_key, "user_id=basic-a").await.is_none());
    let cb = lookup(&mut c, &b.secret_key, "user_id=basic-b").await.unwrap();
    assert_eq!(cb["traits"]["plan"], "pro");
}

#[tokio::test]
async fn message_ids_and_pagination_are_per_workspace() {
    let s = TestServer::start();
    let a = s.keys.clone();
    let b = common::create_workspace(&s.dir, "Other");
    let mut c = s.client().await;
    // The same message ids in both workspaces: each workspace stores its own events (dedupe is per workspace).
    for keys in [&a, &b] {
        let batch: Vec<Value> = (0..5)
            .map(|i| json!({"type": "track", "userId": format!("user-{i}"), "event": "Visited", "messageId": format!("m-{i}")}))
            .collect();
        ok_post(&mut c, "/v1/batch", &keys.write_key, &json!({ "batch": batch })).await;
        // A duplicate inside one workspace is still dropped.
        ok_post(&mut c, "/v1/batch", &keys.write_key, &json!({ "batch": batch })).await;
    }
    for keys in [&a, &b] {
        let events = list(&mut c, &keys.secret_key, "/api/v1/events?limit=1000").await;
        let mut mids: Vec<&str> = events.iter().map(|e| e["message_id"].as_str().unwrap()).collect();
        mids.sort();
        assert_eq!(mids, ["m-0", "m-1", "m-2", "m-3", "m-4"]);
    }
    // Following cursors with limit 1 never walks into the other workspace.
    for (keys, other) in [(&a, &b), (&b, &a)] {
        let other_ids: Vec<Value> = list(&mut c, &other.secret_key, "/api/v1/contacts?limit=1000")
            .await
            .iter()
            .map(|x| x["id"].clone())
            .collect();
        for endpoint in ["/api/v1/contacts", "/api/v1/events"] {
            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let path = match &cursor {
                    None => format!("{endpoint}?limit=1"),
                    Some(cur) => format!("{endpoint}?limit=1&cursor={cur}"),
                };
                let r = c.get(&path, &keys.secret_key).await.unwrap();
                assert_eq!(r.status, 200, "{path}: {:?}", r.body);
                let v = r.json();
                seen.extend(v["items"].as_array().unwrap().iter().cloned());
                match v["next_cursor"].as_str() {
                    Some(cur) => cursor = Some(cur.to_string()),
                    None => break,
                }
                assert!(seen.len() <= 5, "{endpoint}: more than own items: {seen:?}");
            }
            assert_eq!(seen.len(), 5, "{endpoint}");
            let id_key = if endpoint.ends_with("contacts") { "id" } else { "contact_id" };
            assert!(seen.iter().all(|x| !other_ids.contains(&x[id_key])), "{endpoint}: {seen:?}");
        }
    }
}

//! Regression tests for issue 10 (what attackers and crashes found): poison events, negative money, errors that
//! were not JSON, the dev clock moving backwards, and login throttling. Each drives the real server over HTTP.

mod common;

use common::{TestServer, basic, body, create_workspace};
use serde_json::{Value, json};

fn nested(levels: usize) -> Value {
    let mut v = json!("bottom");
    for _ in 0..levels {
        v = json!({ "k": v });
    }
    v
}

async fn send(
    c: &mut kairos_bench::client::HttpClient,
    wk: &str,
    path: &str,
    v: Value,
) -> kairos_bench::client::Response {
    c.send_with("POST", path, Some(basic(wk)), body(&v)).await.unwrap()
}

async fn contact_id(c: &mut kairos_bench::client::HttpClient, sk: &str, user: &str) -> i64 {
    let r = c.get(&format!("/api/v1/contacts?user_id={user}"), sk).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    let v = r.json();
    v["id"].as_i64().or_else(|| v["items"][0]["id"].as_i64()).unwrap_or_else(|| panic!("no contact {user}: {v}"))
}

#[tokio::test]
async fn poison_events_are_refused_and_never_stall_other_workspaces() {
    let s = TestServer::start();
    let (wk, sk) = (s.keys.write_key.clone(), s.keys.secret_key.clone());
    let mut c = s.client().await;
    let ok = send(
        &mut c,
        &wk,
        "/v1/track",
        json!({"userId": "ann", "event": "Product Viewed", "properties": {"product_id": "p1"}}),
    )
    .await;
    assert_eq!(ok.status, 200);

    // The reproduction: a shared batch context 127 levels deep (each item gets a copy one level deeper).
    let r = send(
        &mut c,
        &wk,
        "/v1/batch",
        json!({"batch": [{"type": "track", "userId": "ann", "event": "Product Added",
                          "properties": {"product_id": "p1", "price": 5}}],
               "context": nested(127)}),
    )
    .await;
    assert_eq!(r.status, 400, "{:?}", r.json());
    assert_eq!(
        (r.json()["error"]["code"].as_str(), r.json()["error"]["field"].as_str()),
        (Some("too_deep"), Some("context"))
    );
    // Deep properties in one item of a batch, and through the single-event endpoint.
    let r = send(
        &mut c,
        &wk,
        "/v1/batch",
        json!({"batch": [{"type": "track", "userId": "ann", "event": "X"},
                         {"type": "track", "userId": "ann", "event": "X", "properties": nested(40)}]}),
    )
    .await;
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("batch[1].properties")));
    let r = send(&mut c, &wk, "/v1/identify", json!({"userId": "ann", "traits": nested(60)})).await;
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("traits")));
    // A modest shared context that would push an item past 32 KB once copied into it.
    let big = "x".repeat(20 * 1024);
    let r = send(
        &mut c,
        &wk,
        "/v1/batch",
        json!({"batch": [{"type": "track", "userId": "ann", "event": "X", "properties": {"note": big}}],
               "context": {"page": {"title": big}}}),
    )
    .await;
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (413, Some("batch[0]")));

    // Nothing of it was stored: the timeline reads, and later events (an out-of-order cart event too) commit.
    let id = contact_id(&mut c, &sk, "ann").await;
    let r = c.get(&format!("/api/v1/contacts/{id}/events"), &sk).await.unwrap();
    assert_eq!((r.status, r.json()["items"].as_array().map(Vec::len)), (200, Some(1)), "{:?}", r.json());
    let late = json!({"userId": "ann", "event": "Product Added", "timestamp": "2020-01-01T00:00:00Z",
                      "properties": {"product_id": "p2", "price": 3}});
    assert_eq!(send(&mut c, &wk, "/v1/track", late).await.status, 200);
    assert_eq!(c.get("/api/v1/events", &sk).await.unwrap().status, 200);
}

/// A row that was stored before the limits existed (or damaged on disk) is skipped and reported, never a 500 for
/// the whole timeline, and never a failed group commit for whoever shares the group.
#[tokio::test]
async fn an_unreadable_stored_event_is_skipped() {
    let mut s = TestServer::start();
    let other = create_workspace(&s.dir, "Other Shop");
    let (wk, sk) = (s.keys.write_key.clone(), s.keys.secret_key.clone());
    let mut c = s.client().await;
    let ev = json!({"userId": "bob", "event": "Product Added", "properties": {"product_id": "p1", "price": 10}});
    assert_eq!(c.send_with("POST", "/v1/track", Some(basic(&wk)), body(&ev)).await.unwrap().status, 200);
    let id = contact_id(&mut c, &sk, "bob").await;
    drop(c);
    s.kill();
    let poison = format!(
        "{{\"message_id\":\"poison\",\"kind\":\"track\",\"name\":\"Product Added\",\"context\":{},\
         \"timestamp\":1,\"received_at\":1}}",
        nested(140)
    );
    common::insert_raw_event_beside_first(&s.dir, &poison);
    s.restart();
    let mut c = s.client().await;
    let r = c.get(&format!("/api/v1/contacts/{id}/events"), &sk).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 1, "the readable event is listed");
    assert_eq!(c.get("/api/v1/events?limit=1", &sk).await.unwrap().status, 200);
    // An out-of-order cart event makes the committer re-read this contact's history: it must still commit, and so
    // must another workspace's events queued beside it.
    let late = json!({"userId": "bob", "event": "Product Added", "timestamp": "2020-01-01T00:00:00Z",
                      "properties": {"product_id": "p2", "price": 3}});
    let mut c2 = s.client().await;
    let ow = json!({"userId": "carl", "event": "Product Viewed"});
    let (a, b) = tokio::join!(
        c.send_with("POST", "/v1/track", Some(basic(&wk)), body(&late)),
        c2.send_with("POST", "/v1/track", Some(basic(&other.write_key)), body(&ow)),
    );
    assert_eq!((a.unwrap().status, b.unwrap().status), (200, 200));
    let r = c.get(&format!("/api/v1/contacts/{id}"), &sk).await.unwrap();
    assert_eq!(r.json()["cart"]["value"], json!(13.0), "{:?}", r.json());
}

#[tokio::test]
async fn negative_amounts_are_refused_naming_the_field() {
    let s = TestServer::start();
    let (wk, sk) = (s.keys.write_key.clone(), s.keys.secret_key.clone());
    let mut c = s.client().await;
    let cases = [
        (json!({"userId": "u", "event": "Order Completed", "properties": {"total": -1_000_000}}), "properties.total"),
        (
            json!({"userId": "u", "event": "Product Added", "properties": {"product_id": "p", "price": -5, "quantity": 1}}),
            "properties.price",
        ),
        (
            json!({"userId": "u", "event": "Product Added", "properties": {"product_id": "p", "price": 5, "quantity": -3}}),
            "properties.quantity",
        ),
        (
            json!({"userId": "u", "event": "Order Completed",
                   "properties": {"products": [{"product_id": "p", "price": 5}, {"product_id": "q", "price": "-2"}]}}),
            "properties.products[1].price",
        ),
        (json!({"userId": "u", "event": "Order Refunded", "properties": {"total": "ten"}}), "properties.total"),
    ];
    for (ev, field) in cases {
        let r = c.send_with("POST", "/v1/track", Some(basic(&wk)), body(&ev)).await.unwrap();
        assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some(field)), "{ev}");
    }
    let batch =
        json!({"batch": [{"type": "track", "userId": "u", "event": "Order Completed", "properties": {"revenue": -1}}]});
    let r = c.send_with("POST", "/v1/batch", Some(basic(&wk)), body(&batch)).await.unwrap();
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("batch[0].properties.revenue")));
    // Custom events keep their own meaning for numbers; a real order still counts.
    let fine = json!({"userId": "u", "event": "Points Adjusted", "properties": {"value": -5}});
    assert_eq!(c.send_with("POST", "/v1/track", Some(basic(&wk)), body(&fine)).await.unwrap().status, 200);
    let order = json!({"userId": "u", "event": "Order Completed", "properties": {"total": 40, "discount": 0}});
    assert_eq!(c.send_with("POST", "/v1/track", Some(basic(&wk)), body(&order)).await.unwrap().status, 200);
    let k = c.get("/api/v1/reports/kpis", &sk).await.unwrap().json();
    assert_eq!(k["revenue"], json!(40.0), "{k}");
}

async fn raw_exchange(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    sock.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), sock.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

#[tokio::test]
async fn every_error_is_the_json_error_shape() {
    let s = TestServer::start();
    let sk = s.keys.secret_key.clone();
    let mut c = s.client().await;
    let check = |r: &kairos_bench::client::Response, status: u16| {
        assert_eq!(r.status, status, "{:?}", String::from_utf8_lossy(&r.body));
        assert!(r.header("content-type").unwrap_or("").starts_with("application/json"), "{:?}", r.headers);
        assert!(r.json()["error"]["code"].is_string(), "{:?}", r.json());
    };
    check(&c.get("/api/v1/contacts/%ff%fe", &sk).await.unwrap(), 400);
    check(&c.get("/api/v1/contacts?limit=many", &sk).await.unwrap(), 400);
    check(&c.get(&format!("/api/v1/contacts?q={}", "a".repeat(20 * 1024)), &sk).await.unwrap(), 414);
    check(&c.send("DELETE", "/api/v1/contacts", Some(&sk), None).await.unwrap(), 405);
    let auth = format!("Bearer {sk}");
    let bad_json = c.request("POST", "/api/v1/segments", &[("authorization", &auth)], "{".into()).await.unwrap();
    check(&bad_json, 400);

    // Past hyper's own 64 KB limit the answer is written before any handler runs: still JSON.
    let long = format!("GET /api/v1/contacts?q={} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(70 * 1024));
    let (status, head, body) = raw_exchange(s.addr, long.as_bytes()).await;
    assert_eq!(status, 414, "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    assert_eq!(v["error"]["code"], "uri_too_long");
    let (status, head, body) = raw_exchange(s.addr, b"NOT HTTP AT ALL\r\n\r\n").await;
    assert_eq!(status, 400, "{head}");
    assert!(serde_json::from_str::<Value>(&body).is_ok(), "{body:?}");
    // The server is still serving.
    assert_eq!(c.get("/healthz", "").await.unwrap().status, 200);
}

#[tokio::test]
async fn the_dev_clock_never_moves_backwards() {
    let s = TestServer::start();
    let sk = s.keys.secret_key.clone();
    let mut c = s.client().await;
    let now = |r: kairos_bench::client::Response| r.json()["now"].as_str().map(str::to_string);
    let start = now(c.post_json("/api/v1/dev/clock", &sk, &json!({"advance": "0s"})).await.unwrap()).unwrap();
    let r = c.post_json("/api/v1/dev/clock", &sk, &json!({"advance": "1000000w"})).await.unwrap();
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("advance")), "{:?}", r.json());
    let r = c.post_json("/api/v1/dev/clock", &sk, &json!({"advance": "-4h"})).await.unwrap();
    assert_eq!(r.status, 400);
    let r = c.post_json("/api/v1/dev/clock", &sk, &json!({"set": "2001-01-01T00:00:00Z"})).await.unwrap();
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("set")), "{:?}", r.json());
    let r = c.post_json("/api/v1/dev/clock", &sk, &json!({"set": "+99999-01-01T00:00:00Z"})).await.unwrap();
    assert_eq!(r.status, 400);
    let after = now(c.post_json("/api/v1/dev/clock", &sk, &json!({"advance": "1h"})).await.unwrap()).unwrap();
    assert!(after > start && after.starts_with("20"), "{start} -> {after}");
}

#[tokio::test]
async fn logins_are_throttled_per_account_and_address() {
    let s = TestServer::start();
    common::create_user(&s.dir, &s.keys.id, "ann@shop.example", "correct horse battery");
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..12 {
        let (status, head) = common::login_from(s.addr, [127, 0, 0, 1], "ann@shop.example", "wrong", &[]).await;
        statuses.push(status);
        if status == 429 {
            retry_after = head.lines().find_map(|l| l.strip_prefix("retry-after: ")).map(str::to_string);
            assert!(head.contains("too_many_attempts"), "{head}");
        }
    }
    assert_eq!(&statuses[..5], &[401; 5], "five free failures: {statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429 || *s == 401) && statuses.contains(&429), "{statuses:?}");
    let secs: u64 = retry_after.expect("Retry-After on 429").trim().parse().unwrap();
    assert!((1..=900).contains(&secs), "{secs}");
    // Throttled: even the right password waits (an attacker learns nothing from a 429).
    assert_eq!(
        common::login_from(s.addr, [127, 0, 0, 1], "ann@shop.example", "correct horse battery", &[]).await.0,
        429
    );
    // The real user, from their own address, is not locked out by the attacker's failures.
    assert_eq!(
        common::login_from(s.addr, [127, 0, 0, 2], "ann@shop.example", "correct horse battery", &[]).await.0,
        200
    );
}

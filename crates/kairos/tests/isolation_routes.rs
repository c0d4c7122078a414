//! The isolation suite, generated from the server's route table (`kairos_server::routes`): every `/v1` and
//! `/api/v1` route is tried with no key, with a write key, with a UI session that lacks its CSRF token, and with
//! workspace A's secret key against workspace B's ids (in the path and in a body naming every kind of id).
//! Afterwards B's objects must read exactly as before, and no answer to A may contain anything of B's. A route that
//! needs no key (`Access::Public`: the API's own description) must answer anyone and show nothing of B's.

mod common;

use std::collections::BTreeMap;

use common::{Keys, TestServer, body, create_workspace};
use kairos_bench::client::HttpClient;
use kairos_server::routes::{API, Access, INGEST, Route};
use serde_json::{Value, json};

/// Written into every name of B's objects: it must never show up in an answer to A.
const MARK: &str = "QQ-B-ONLY-QQ";
const SHARED_EMAIL: &str = "shared@example.com";

/// B's ids, by the path parameter (and resource) they stand for.
struct Ids {
    contact: i64,
    product: String,
    segment: String,
    template: String,
    flow: String,
    message: String,
    coupon: String,
    campaign: String,
}

async fn ok(c: &mut HttpClient, key: &str, method: &str, path: &str, v: Value) -> Value {
    let r = c.send(method, path, Some(key), body(&v)).await.unwrap();
    assert!((200..300).contains(&r.status), "{method} {path}: {} {:?}", r.status, r.json());
    r.json()
}

/// Workspace B with one of everything, all named with [`MARK`].
async fn populate(c: &mut HttpClient, b: &Keys) -> Ids {
    let (wk, sk) = (&b.write_key, &b.secret_key);
    let identify = json!({"userId": "b-user", "traits": {"email": SHARED_EMAIL, "first_name": MARK}});
    ok(c, wk, "POST", "/v1/identify", identify).await;
    let contact =
        ok(c, sk, "GET", "/api/v1/contacts?user_id=b-user", json!(null)).await["items"][0]["id"].as_i64().unwrap();
    ok(c, sk, "PUT", "/api/v1/products/b-prod", json!({"id": "b-prod", "title": MARK, "price": 10})).await;
    let segment = ok(c, sk, "POST", "/api/v1/segments", json!({"name": MARK, "definition": "trait.first_name exists"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = json!({"id": "b-tpl", "name": MARK, "channel": "email", "subject": MARK, "text": "Hi"});
    ok(c, sk, "POST", "/api/v1/templates", t).await;
    let f = json!({"name": MARK, "trigger": {"type": "api"}, "entry": {"reentry": "always"},
                   "steps": [{"id": "mail", "type": "send", "channel": "email", "template": "b-tpl", "transactional": true}]});
    let flow = ok(c, sk, "POST", "/api/v1/flows", f).await["id"].as_str().unwrap().to_string();
    ok(c, sk, "POST", &format!("/api/v1/flows/{flow}/activate"), json!({})).await;
    ok(c, sk, "POST", &format!("/api/v1/flows/{flow}/trigger"), json!({"email": SHARED_EMAIL})).await;
    let mut message = None;
    for _ in 0..100 {
        message =
            common::messages_to(c, sk, SHARED_EMAIL).await.first().and_then(|m| m["id"].as_str().map(str::to_string));
        if message.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let pool = json!({"id": "b-pool", "type": "shared", "code": "BONLY5", "value_type": "fixed", "value": 5});
    ok(c, sk, "POST", "/api/v1/coupons", pool).await;
    let k = json!({"name": MARK, "channel": "email", "template": "b-tpl", "segments": [segment],
                   "schedule": {"type": "at", "at": "2031-06-01T13:00:00Z"}});
    let campaign = ok(c, sk, "POST", "/api/v1/campaigns", k).await["id"].as_str().unwrap().to_string();
    ok(c, sk, "POST", "/api/v1/suppressions", json!({"channel": "email", "address": "b-suppressed@example.com"})).await;
    Ids {
        contact,
        product: "b-prod".into(),
        segment,
        template: "b-tpl".into(),
        flow,
        message: message.expect("B's flow sent a message"),
        coupon: "b-pool".into(),
        campaign,
    }
}

/// Everything B can read about its objects, to compare before and after A's requests.
async fn snapshot(c: &mut HttpClient, b: &Keys, ids: &Ids) -> BTreeMap<String, Value> {
    let paths = [
        format!("/api/v1/contacts/{}", ids.contact),
        format!("/api/v1/contacts/{}/events", ids.contact),
        format!("/api/v1/products/{}", ids.product),
        format!("/api/v1/segments/{}", ids.segment),
        format!("/api/v1/templates/{}", ids.template),
        format!("/api/v1/flows/{}", ids.flow),
        format!("/api/v1/flows/{}/stats", ids.flow),
        format!("/api/v1/messages/{}", ids.message),
        format!("/api/v1/coupons/{}", ids.coupon),
        format!("/api/v1/campaigns/{}", ids.campaign),
        "/api/v1/suppressions".into(),
        "/api/v1/settings".into(),
        "/api/v1/messages".into(),
        "/api/v1/tasks".into(),
    ];
    let mut out = BTreeMap::new();
    for p in paths {
        let r = c.get(&p, &b.secret_key).await.unwrap();
        assert_eq!(r.status, 200, "{p}: {:?}", r.json());
        out.insert(p, r.json());
    }
    out
}

/// `route.path` with B's ids for its parameters.
fn with_ids(prefix: &str, route: &Route, ids: &Ids) -> String {
    let resource = route.path.split('/').nth(1).unwrap_or_default();
    let resource = if route.path.starts_with("/reports/flows") { "flows" } else { resource };
    let id = match resource {
        "contacts" => ids.contact.to_string(),
        "products" => ids.product.clone(),
        "segments" => ids.segment.clone(),
        "templates" => ids.template.clone(),
        "flows" => ids.flow.clone(),
        "messages" => ids.message.clone(),
        "coupons" => ids.coupon.clone(),
        "campaigns" => ids.campaign.clone(),
        _ => "none".into(),
    };
    let path = route
        .path
        .replace("{id}", &id)
        .replace("{key}", "welcome_series")
        .replace("{channel}", "email")
        .replace("{address}", "b-suppressed%40example.com");
    format!("{prefix}{path}")
}

/// A body naming B's ids under every field name a route reads ids from.
fn hostile_body(ids: &Ids) -> Value {
    json!({
        "contact_id": ids.contact, "message_id": ids.message, "email": SHARED_EMAIL, "type": "complaint",
        "channel": "email", "status": "unsubscribed", "source": "test", "address": "b-suppressed@example.com",
        "segments": [ids.segment], "exclude_segments": [ids.segment], "segment": ids.segment,
        "template": ids.template, "pool": ids.coupon, "code": "BONLY5", "id": ids.template, "name": "from A",
        "definition": format!("in segment \"{}\"", ids.segment), "expr": format!("in segment \"{}\"", ids.segment),
        "schedule": {"type": "now"}, "subject": "A", "text": "A", "title": "A", "price": 1,
        "trigger": {"type": "segment_entered", "segment": ids.segment},
        "steps": [{"id": "s", "type": "send", "channel": "email", "template": ids.template}],
        "items": [{"id": ids.product, "title": "A", "price": 1}],
    })
}

fn prefix(route: &Route) -> &'static str {
    if route.access == Access::WriteKey { "/v1" } else { "/api/v1" }
}

fn all_routes() -> impl Iterator<Item = &'static Route> {
    INGEST.iter().chain(API.iter())
}

async fn session(s: &TestServer, c: &mut HttpClient) -> String {
    common::create_user(&s.dir, &s.keys.id, "a@shop.example", "correct horse battery");
    let login = json!({"email": "a@shop.example", "password": "correct horse battery"}).to_string();
    let r = c.request("POST", "/ui/login", &[("content-type", "application/json")], login.into()).await.unwrap();
    assert_eq!(r.status, 200);
    r.header("set-cookie").unwrap().split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn every_route_refuses_strangers_and_other_workspaces_ids() {
    let s = TestServer::start();
    let a = s.keys.clone();
    let b = create_workspace(&s.dir, "Other Shop");
    let mut c = s.client().await;
    // A knows the same person (same email) as B, so an id mix-up would have something to act on.
    ok(&mut c, &a.write_key, "POST", "/v1/identify", json!({"userId": "a-user", "traits": {"email": SHARED_EMAIL}}))
        .await;
    let ids = populate(&mut c, &b).await;
    let before = snapshot(&mut c, &b, &ids).await;
    let cookie = session(&s, &mut c).await;
    let mut checks = 0;

    for route in all_routes() {
        let path = with_ids(prefix(route), route, &ids);
        let payload = matches!(route.method, "POST" | "PUT" | "PATCH").then(|| json!({}));
        if route.access == Access::Public {
            // Needs nothing, and tells nothing of any workspace whatever the caller sends.
            for key in [None, Some(a.write_key.as_str()), Some(a.secret_key.as_str())] {
                let r = c.send(route.method, &path, key, None).await.unwrap();
                assert_eq!(r.status, 200, "{} {path} with {key:?}", route.method);
                assert!(!String::from_utf8_lossy(&r.body).contains(MARK), "{} {path}", route.method);
            }
            checks += 3;
            continue;
        }
        // No credential at all.
        let r = c.send_with(route.method, &path, None, payload.as_ref().and_then(body)).await.unwrap();
        assert_eq!(r.status, 401, "{} {path} without a key: {:?}", route.method, r.json());
        assert!(r.json()["error"]["code"].is_string(), "{} {path}", route.method);
        // A write key may only ingest.
        let r = c.send(route.method, &path, Some(&a.write_key), payload.as_ref().and_then(body)).await.unwrap();
        match route.access {
            Access::Secret => assert_eq!(r.status, 403, "{} {path} with a write key: {:?}", route.method, r.json()),
            Access::WriteKey => assert_ne!(r.status, 401, "{} {path} with a write key", route.method),
            Access::Public => unreachable!("checked above"),
        }
        // A session without its CSRF token (what a forged cross-site request carries).
        let headers = [("cookie", cookie.as_str()), ("content-type", "application/json")];
        let r = c.request(route.method, &path, &headers, bytes::Bytes::from_static(b"{}")).await.unwrap();
        let refused = if route.access == Access::Secret { 403 } else { 401 };
        assert_eq!(r.status, refused, "{} {path} with a session and no CSRF token: {:?}", route.method, r.json());
        checks += 3;
    }

    // Reads first: a write below may create A's own object under the same caller-chosen id (a product id).
    let (reads, writes): (Vec<&Route>, Vec<&Route>) =
        API.iter().filter(|r| r.path != "/dev/clock").partition(|r| r.method == "GET");
    for route in reads.into_iter().chain(writes) {
        let path = with_ids("/api/v1", route, &ids);
        let payload = matches!(route.method, "POST" | "PUT" | "PATCH").then(|| hostile_body(&ids));
        let r = c.send(route.method, &path, Some(&a.secret_key), payload.as_ref().and_then(body)).await.unwrap();
        let text = String::from_utf8_lossy(&r.body);
        assert!(!text.contains(MARK), "{} {path} showed A something of B's: {text}", route.method);
        if route.method == "GET" && route.path.contains('{') && !route.path.contains("{key}") {
            assert_eq!(r.status, 404, "{} {path} answered A about B's object: {text}", route.method);
        }
        checks += 1;
    }
    // Lists A may read: none holds anything of B's.
    for p in ["/api/v1/contacts?q=QQ", "/api/v1/events", "/api/v1/outbox", "/api/v1/messages?to=shared%40example.com"] {
        let text = String::from_utf8_lossy(&c.get(p, &a.secret_key).await.unwrap().body).to_string();
        assert!(!text.contains(MARK) && !text.contains(&ids.message), "{p}: {text}");
    }

    let after = snapshot(&mut c, &b, &ids).await;
    for (path, v) in &before {
        assert_eq!(&after[path], v, "A's requests changed B's {path}");
    }
    assert!(checks > 200, "{checks} checks");
}

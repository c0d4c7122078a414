//! Segments through the real server: definitions in text and JSON, validation errors, live membership on
//! events and on time, Segment Entered / Exited in the timeline, members, preview, history, references,
//! and persistence across restarts.

mod common;

use common::TestServer;
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

async fn post(c: &mut HttpClient, key: &str, path: &str, body: Value) -> (u16, Value) {
    let r = c.post_json(path, key, &body).await.unwrap();
    (r.status, r.json())
}

async fn get(c: &mut HttpClient, key: &str, path: &str) -> (u16, Value) {
    let r = c.get(path, key).await.unwrap();
    (r.status, r.json())
}

async fn track(c: &mut HttpClient, wk: &str, user: &str, event: &str, props: Value) {
    let r = c.post_json("/v1/track", wk, &json!({"userId": user, "event": event, "properties": props})).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
}

async fn member_ids(c: &mut HttpClient, key: &str, id: &str) -> Vec<String> {
    let items = common::all_items(c, key, &format!("/api/v1/segments/{id}/members?limit=2")).await;
    let mut ids: Vec<String> = items.iter().map(|m| m["user_id"].as_str().unwrap_or("?").to_string()).collect();
    ids.sort();
    ids
}

async fn contact_id(c: &mut HttpClient, key: &str, user: &str) -> i64 {
    get(c, key, &format!("/api/v1/contacts?user_id={user}")).await.1["items"][0]["id"].as_i64().unwrap()
}

async fn timeline_names(c: &mut HttpClient, key: &str, user: &str) -> Vec<String> {
    let id = contact_id(c, key, user).await;
    let items = common::all_items(c, key, &format!("/api/v1/contacts/{id}/events?limit=100")).await;
    items.iter().filter_map(|e| e["event"].as_str().map(str::to_string)).collect()
}

#[tokio::test]
async fn segments_follow_events_and_time() {
    let mut s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.clone(), s.keys.secret_key.clone());
    let (wk, sk) = (wk.as_str(), sk.as_str());
    track(&mut c, wk, "ann", "Order Completed", json!({"total": 120})).await;
    track(&mut c, wk, "ann", "Order Completed", json!({"total": 80})).await;
    track(&mut c, wk, "bob", "Order Completed", json!({"total": 15})).await;

    // Text definition; existing data is evaluated at creation (without Segment Entered events).
    let (status, seg) =
        post(&mut c, sk, "/api/v1/segments", json!({"name": "Repeat buyers", "definition": "orders.count >= 2"})).await;
    assert_eq!(status, 201, "{seg}");
    let repeat = seg["id"].as_str().unwrap().to_string();
    assert!(repeat.starts_with("seg_"));
    assert_eq!(seg["size"], 1);
    assert_eq!(seg["text"], "orders.count >= 2");
    assert_eq!(seg["definition"], json!({"field": "orders.count", "op": ">=", "value": 2}));
    assert_eq!(member_ids(&mut c, sk, &repeat).await, ["ann"]);

    // A live event moves bob in: Segment Entered lands in his timeline.
    track(&mut c, wk, "bob", "Order Completed", json!({"total": 30})).await;
    assert_eq!(member_ids(&mut c, sk, &repeat).await, ["ann", "bob"]);
    let bob_events = timeline_names(&mut c, sk, "bob").await;
    assert_eq!(bob_events.iter().filter(|n| *n == "Segment Entered").count(), 1, "{bob_events:?}");
    let (_, seg) = get(&mut c, sk, &format!("/api/v1/segments/{repeat}")).await;
    assert_eq!(seg["size"], 2);

    // JSON definition with a sliding window: "abandoned checkout worth over 100 in the last hour".
    let (status, seg) = post(
        &mut c,
        sk,
        "/api/v1/segments",
        json!({"name": "Abandoned checkout", "definition": {
        "and": [{"did": "Checkout Started", "within": "1h"},
                {"not": {"did": "Order Completed", "within": "1h"}}]}}),
    )
    .await;
    assert_eq!(status, 201, "{seg}");
    let abandoned = seg["id"].as_str().unwrap().to_string();
    assert_eq!(seg["text"], "did \"Checkout Started\" within 1h and not did \"Order Completed\" within 1h");
    assert_eq!(seg["size"], 0);
    track(&mut c, wk, "cid", "Checkout Started", json!({"value": 150})).await;
    assert_eq!(member_ids(&mut c, sk, &abandoned).await, ["cid"]);

    // Time alone: 61 minutes later the window has slid past the checkout and cid leaves.
    let (status, _) = post(&mut c, sk, "/api/v1/dev/clock", json!({"advance": "30m"})).await;
    assert_eq!(status, 200);
    assert_eq!(member_ids(&mut c, sk, &abandoned).await, ["cid"], "still inside the hour");
    post(&mut c, sk, "/api/v1/dev/clock", json!({"advance": "31m"})).await;
    assert!(member_ids(&mut c, sk, &abandoned).await.is_empty(), "left one hour after the checkout");
    let names = timeline_names(&mut c, sk, "cid").await;
    assert_eq!(names[0], "Segment Exited", "newest first: {names:?}");
    let cid = contact_id(&mut c, sk, "cid").await;
    let exited = common::all_items(&mut c, sk, &format!("/api/v1/contacts/{cid}/events?limit=10")).await;
    assert_eq!(exited[0]["properties"]["segment_id"], abandoned.as_str());
    assert_eq!(exited[0]["properties"]["segment_name"], "Abandoned checkout");

    // Size history has a point for each segment.
    let (status, hist) = get(&mut c, sk, &format!("/api/v1/segments/{repeat}/history")).await;
    assert_eq!(status, 200);
    assert_eq!(hist["items"].as_array().unwrap().last().unwrap()["size"], 2);

    // Membership and definitions survive a restart; time that passes while down is applied at start.
    track(&mut c, wk, "dan", "Checkout Started", json!({})).await;
    assert_eq!(member_ids(&mut c, sk, &abandoned).await, ["dan"]);
    let status = s.terminate();
    assert!(status.success());
    s.restart();
    let mut c = s.client().await;
    assert_eq!(member_ids(&mut c, sk, &repeat).await, ["ann", "bob"]);
    assert_eq!(member_ids(&mut c, sk, &abandoned).await, ["dan"]);
    post(&mut c, sk, "/api/v1/dev/clock", json!({"advance": "2h"})).await;
    assert!(member_ids(&mut c, sk, &abandoned).await.is_empty());
    let (_, list) = get(&mut c, sk, "/api/v1/segments").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn bad_definitions_get_clear_errors() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = s.keys.secret_key.as_str();
    let cases = [
        (
            json!({"name": "x", "definition": "did \"X\" within soon"}),
            "definition",
            "expected a duration like 4h at column 16",
        ),
        (json!({"name": "x", "definition": "orders.count = \"abc\""}), "definition", "orders.count is a number"),
        (json!({"name": "x", "definition": "favourite_colour = \"red\""}), "definition", "unknown field"),
        (json!({"name": "x", "definition": "in segment \"nope\""}), "definition", "no segment"),
        (
            json!({"name": "x", "definition": {"and": [{"field": "orders.count", "op": "~", "value": 1}]}}),
            "definition.and[0].op",
            "",
        ),
        (json!({"name": "x", "definition": 5}), "definition", ""),
        (json!({"name": "x"}), "definition", ""),
        (json!({"definition": "orders.count > 1"}), "name", ""),
        (
            json!({"name": "x", "definition": "(((((((((((((((((((((((((((((((((((((((((orders.count > 1)))))))))))))))))))))))))))))))))))))))))"}),
            "definition",
            "",
        ),
    ];
    for (body, field, message) in cases {
        let (status, v) = post(&mut c, sk, "/api/v1/segments", body.clone()).await;
        assert_eq!(status, 400, "{body} -> {v}");
        assert_eq!(v["error"]["field"], field, "{body} -> {v}");
        assert!(v["error"]["message"].as_str().unwrap().contains(message), "{body} -> {v}");
    }
    let (_, list) = get(&mut c, sk, "/api/v1/segments").await;
    assert_eq!(list["items"], json!([]), "nothing saved");
    // Unknown event names are allowed, with a warning.
    let (status, v) =
        post(&mut c, sk, "/api/v1/segments", json!({"name": "Wishers", "definition": "did \"Wishlist Added\""})).await;
    assert_eq!(status, 201);
    assert!(v["warnings"][0].as_str().unwrap().contains("Wishlist Added"));
    // Names are unique per workspace.
    let (status, v) =
        post(&mut c, sk, "/api/v1/segments", json!({"name": "Wishers", "definition": "orders.count > 0"})).await;
    assert_eq!((status, v["error"]["code"].as_str()), (409, Some("conflict")));
}

#[tokio::test]
async fn references_preview_update_and_delete() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    for (user, total) in [("a", 500), ("b", 50), ("c", 5)] {
        track(&mut c, wk, user, "Order Completed", json!({"total": total, "products": [{"product_id": "bk", "category": if total > 100 { "bicycles" } else { "parts" }}]})).await;
    }
    let (_, big) =
        post(&mut c, sk, "/api/v1/segments", json!({"name": "Big spenders", "definition": "orders.total_spent > 40"}))
            .await;
    let big = big["id"].as_str().unwrap().to_string();
    let (status, bikers) = post(&mut c, sk, "/api/v1/segments", json!({"name": "Bike buyers",
        "definition": "in segment \"Big spenders\" and did \"Order Completed\" where products.category contains \"bicycles\""})).await;
    assert_eq!(status, 201, "{bikers}");
    let bikers = bikers["id"].as_str().unwrap().to_string();
    assert_eq!(member_ids(&mut c, sk, &bikers).await, ["a"]);

    // Preview counts without saving.
    let (status, p) =
        post(&mut c, sk, "/api/v1/segments/preview", json!({"definition": "orders.count >= 1", "sample": 2})).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["count"], 3);
    assert_eq!(p["sample"].as_array().unwrap().len(), 2);
    let (_, list) = get(&mut c, sk, "/api/v1/segments").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);

    // A cycle is refused; a plain edit re-evaluates.
    let r = c
        .put_json(&format!("/api/v1/segments/{big}"), sk, &json!({"definition": "in segment \"Bike buyers\""}))
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{:?}", r.json());
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("cycle"));
    let r = c
        .put_json(
            &format!("/api/v1/segments/{big}"),
            sk,
            &json!({"definition": "orders.total_spent > 4", "name": "Spenders"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["size"], 3);
    assert_eq!(r.json()["name"], "Spenders");

    // Delete is refused while another segment uses it.
    let r = c.send("DELETE", &format!("/api/v1/segments/{big}"), Some(sk), None).await.unwrap();
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (409, Some("conflict")));
    let r = c.send("DELETE", &format!("/api/v1/segments/{bikers}"), Some(sk), None).await.unwrap();
    assert_eq!(r.status, 200);
    let r = c.send("DELETE", &format!("/api/v1/segments/{big}"), Some(sk), None).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(get(&mut c, sk, &format!("/api/v1/segments/{big}")).await.0, 404);
    assert_eq!(get(&mut c, sk, &format!("/api/v1/segments/{big}/members")).await.0, 404);
}

/// A preview (answered on a read view, not by the live registry) counts exactly the contacts the same
/// definition holds once saved, over windows, counts, filters, references, consent and a merged profile.
#[tokio::test]
async fn a_preview_counts_what_the_saved_segment_holds() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as i64;
    let ago = |days: i64| kairos_domain::Timestamp::from_micros(now - days * 86_400_000_000).to_string();
    let mut events = Vec::new();
    for (i, user) in ["ann", "bob", "cid", "dan", "eve", "fay"].iter().enumerate() {
        let days = i as i64 * 4; // ann today ... fay 20 days ago
        let category = if i % 2 == 0 { "bikes" } else { "parts" };
        events.push(json!({"type": "track", "userId": user, "event": "Product Viewed", "timestamp": ago(days),
            "properties": {"category": category}}));
        for n in 0..i {
            events
                .push(json!({"type": "track", "userId": user, "event": "Order Completed", "timestamp": ago(n as i64),
                "properties": {"order_id": format!("{user}-{n}"), "total": 30 * (n + 1)}}));
        }
    }
    // An anonymous visitor who viewed bikes, then signed in as "gus": one profile once merged.
    events.push(json!({"type": "identify", "userId": "gus", "traits": {"email": "gus@example.com"}}));
    events.push(json!({"type": "track", "anonymousId": "anon-gus", "event": "Product Viewed", "timestamp": ago(1),
        "properties": {"category": "bikes"}}));
    events.push(json!({"type": "identify", "userId": "gus", "anonymousId": "anon-gus"}));
    for e in events {
        let r = c.post_json("/v1/batch", wk, &json!({"batch": [e]})).await.unwrap();
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let (_, big) =
        post(&mut c, sk, "/api/v1/segments", json!({"name": "Big", "definition": "orders.total_spent >= 150"})).await;
    assert_eq!(big["size"], 3, "{big}");
    // (definition, members): ann viewed bikes today, bob parts 4 days ago, ... fay parts 20 days ago; the i-th
    // shopper has i orders (one today, one yesterday, ...); gus viewed bikes yesterday before signing in.
    let definitions = [
        (r#"did "Product Viewed" where category = "bikes" within 7d"#, 2),
        (r#"did "Product Viewed" within 10d and not did "Order Completed" within 2d"#, 2),
        (r#"count("Order Completed") >= 3"#, 3),
        (r#"count("Order Completed", within 2d) >= 2 or did "Product Viewed" before 15d ago"#, 4),
        (r#"in segment "Big" and did "Product Viewed" where category = "parts""#, 2),
        (r#"not in segment "Big" and orders.count >= 1"#, 2),
        (r#"did "Page Viewed""#, 0),
    ];
    for (n, (definition, members)) in definitions.iter().enumerate() {
        let (status, p) =
            post(&mut c, sk, "/api/v1/segments/preview", json!({"definition": definition, "sample": 100})).await;
        assert_eq!(status, 200, "{definition}: {p}");
        assert_eq!(p["count"], *members, "{definition}: {p}");
        let (status, saved) =
            post(&mut c, sk, "/api/v1/segments", json!({"name": format!("S{n}"), "definition": definition})).await;
        assert_eq!(status, 201, "{definition}: {saved}");
        assert_eq!(p["count"], saved["size"], "{definition}: preview {p} saved {saved}");
        let mut sampled: Vec<String> =
            p["sample"].as_array().unwrap().iter().map(|m| m["user_id"].as_str().unwrap_or("?").to_string()).collect();
        sampled.sort();
        assert_eq!(sampled, member_ids(&mut c, sk, saved["id"].as_str().unwrap()).await, "{definition}");
        assert_eq!(p["warnings"].as_array().map_or(0, Vec::len), usize::from(definition.contains("Page Viewed")));
    }
    // A reference to a segment that does not exist is the same clear error as on save.
    let (status, p) = post(&mut c, sk, "/api/v1/segments/preview", json!({"definition": "in segment \"Nope\""})).await;
    assert_eq!(status, 400, "{p}");
    assert_eq!(p["error"]["field"], "definition", "{p}");
}

/// Definitions are also answered in words, with other segments by their names (never their ids), and the UI's
/// flow pages can have any conditions said in words without evaluating them; a bad one is named by its index.
#[tokio::test]
async fn definitions_are_said_in_words() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = s.keys.secret_key.clone();
    let sk = sk.as_str();
    let (status, vip) = post(
        &mut c,
        sk,
        "/api/v1/segments",
        json!({"name": "Big spenders", "definition": "orders.total_spent >= 500"}),
    )
    .await;
    assert_eq!(status, 201, "{vip}");
    assert_eq!(vip["description"], "People whose total spent is at least 500");
    let vip_id = vip["id"].as_str().unwrap();
    let definition = format!(r#"in segment "{vip_id}" and not did "Order Completed" within 30d"#);
    let (status, lapsed) =
        post(&mut c, sk, "/api/v1/segments", json!({"name": "Quiet big spenders", "definition": definition})).await;
    assert_eq!(status, 201, "{lapsed}");
    let said = "People who are in “Big spenders” and who did not do “Order Completed” in the last 30 days";
    assert_eq!(lapsed["description"], said);
    let id = lapsed["id"].as_str().unwrap();
    assert_eq!(get(&mut c, sk, &format!("/api/v1/segments/{id}")).await.1["description"], said);
    let list = get(&mut c, sk, "/api/v1/segments").await.1;
    let listed: Vec<&str> =
        list["items"].as_array().unwrap().iter().filter_map(|x| x["description"].as_str()).collect();
    assert!(listed.contains(&said), "{list}");
    let (status, preview) = post(&mut c, sk, "/api/v1/segments/preview", json!({"definition": definition})).await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["description"], said);

    let (status, words) = post(
        &mut c,
        sk,
        "/api/v1/segments/describe",
        json!({"definitions": ["cart.value > 3000", r#"did "Order Completed" since entry"#, {"consent": "email", "status": "subscribed"}]}),
    )
    .await;
    assert_eq!(status, 200, "{words}");
    let said: Vec<&str> =
        words["items"].as_array().unwrap().iter().map(|x| x["description"].as_str().unwrap()).collect();
    assert_eq!(
        said,
        [
            "People whose cart value is more than 3000",
            "People who did “Order Completed” since entering the flow",
            "People who are subscribed to email"
        ]
    );
    let (status, bad) =
        post(&mut c, sk, "/api/v1/segments/describe", json!({"definitions": ["orders.count >= 1", "orders.count >="]}))
            .await;
    assert_eq!(status, 400, "{bad}");
    assert_eq!(bad["error"]["field"], "definitions[1]");
    let many: Vec<Value> = (0..201).map(|_| json!("orders.count >= 1")).collect();
    let (status, bad) = post(&mut c, sk, "/api/v1/segments/describe", json!({"definitions": many})).await;
    assert_eq!(status, 400, "{bad}");
    assert_eq!(bad["error"]["field"], "definitions");
}

#[tokio::test]
async fn segments_made_after_a_restart_read_the_profiles_loaded_at_start() {
    // More people than a debug build keeps decoded, so most profiles are loaded packed and read lite at start.
    let mut s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.clone(), s.keys.secret_key.clone());
    let (_, gold) =
        post(&mut c, &sk, "/api/v1/segments", json!({"name": "Gold", "definition": "trait.tier = \"gold\""})).await;
    for i in 0..24 {
        let tier = if i % 3 == 0 { "gold" } else { "silver" };
        let body = json!({"userId": format!("p{i:02}"), "traits": {"tier": tier}});
        assert_eq!(post(&mut c, &wk, "/v1/identify", body).await.0, 200);
        if i % 4 == 0 {
            let consent =
                json!({"user_id": format!("p{i:02}"), "channel": "email", "status": "subscribed", "source": "test"});
            assert_eq!(post(&mut c, &sk, "/api/v1/contacts/consent", consent).await.0, 200);
        }
    }
    let expected_gold: Vec<String> = (0..24).filter(|i| i % 3 == 0).map(|i| format!("p{i:02}")).collect();
    assert_eq!(member_ids(&mut c, &sk, gold["id"].as_str().unwrap()).await, expected_gold);
    assert!(s.terminate().success());
    s.restart();
    let mut c = s.client().await;
    // Evaluated over the columns loaded at start: the consent of every row and the `tier` column Gold kept.
    let (status, subscribed) =
        post(&mut c, &sk, "/api/v1/segments", json!({"name": "Subscribed", "definition": "subscribed email"})).await;
    assert_eq!(status, 201, "{subscribed}");
    let expected: Vec<String> = (0..24).filter(|i| i % 4 == 0).map(|i| format!("p{i:02}")).collect();
    assert_eq!(member_ids(&mut c, &sk, subscribed["id"].as_str().unwrap()).await, expected);
    let def = json!({"name": "Gold subscribers", "definition": "trait.tier = \"gold\" and subscribed email"});
    let (_, both) = post(&mut c, &sk, "/api/v1/segments", def).await;
    let expected: Vec<String> = (0..24).filter(|i| i % 12 == 0).map(|i| format!("p{i:02}")).collect();
    assert_eq!(member_ids(&mut c, &sk, both["id"].as_str().unwrap()).await, expected);
}

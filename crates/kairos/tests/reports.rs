//! Reports through the real server (SPEC 10): attribution of orders to the opens and clicks that led to them,
//! flow and step numbers, store KPIs over a range, and the validation of report parameters.

mod common;

use common::TestServer;
use kairos_bench::client::HttpClient;
use kairos_domain::Timestamp;
use serde_json::{Value, json};

fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/".to_string(), |i| rest[i..].to_string())
}

async fn outbox_for(c: &mut HttpClient, sk: &str, to: &str) -> Vec<Value> {
    let r = c.get(&format!("/api/v1/outbox?to={}", to.replace('@', "%40")), sk).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    r.json()["items"].as_array().unwrap().clone()
}

/// The only message to `to`, with its open pixel and first tracked link (paths on this server).
async fn message_links(c: &mut HttpClient, sk: &str, to: &str) -> (String, String, String) {
    let out = outbox_for(c, sk, to).await;
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["status"], "sent", "{out:?}");
    let html = out[0]["html"].as_str().unwrap();
    let url_of = |marker: &str| {
        let at = html.find(marker).unwrap_or_else(|| panic!("{marker} in {html}"));
        let start = html[..at].rfind('"').unwrap() + 1;
        let end = at + html[at..].find('"').unwrap();
        path_of(&html[start..end])
    };
    (out[0]["id"].as_str().unwrap().to_string(), url_of("/o/"), url_of("/c/"))
}

async fn get_ok(c: &mut HttpClient, sk: &str, path: &str) -> Value {
    let r = c.get(path, sk).await.unwrap();
    assert_eq!(r.status, 200, "{path}: {:?}", r.json());
    r.json()
}

async fn advance(c: &mut HttpClient, sk: &str, by: &str) {
    let r = c.post_json("/api/v1/dev/clock", sk, &json!({"advance": by})).await.unwrap();
    assert_eq!(r.status, 200);
}

async fn order(c: &mut HttpClient, wk: &str, user: &str, id: &str, total: f64) {
    let e = json!({"userId": user, "event": "Order Completed", "properties": {"order_id": id, "total": total}});
    assert_eq!(c.post_json("/v1/track", wk, &e).await.unwrap().status, 200);
}

const RANGE: &str = "from=2030-03-01&to=2030-03-31T00:00:00Z";

#[tokio::test]
async fn orders_are_attributed_to_human_opens_and_clicks_within_the_window() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-03-04T10:00:00Z"})).await.unwrap();
    let mut flow_ids = Vec::new();
    for (tpl, name, event, step) in
        [("welcome", "Welcome series", "Signed Up", "mail"), ("nudge", "Checkout nudge", "Checkout Started", "nudge")]
    {
        let t = json!({"id": tpl, "channel": "email", "subject": "Hello",
            "html": "<p>Hi</p><a href=\"https://shop.example/sale\">Sale</a>", "text": "Hi"});
        assert_eq!(c.post_json("/api/v1/templates", sk, &t).await.unwrap().status, 201);
        let f = json!({"name": name, "trigger": {"type": "event", "event": event},
            "steps": [{"id": step, "type": "send", "channel": "email", "template": tpl}]});
        let r = c.post_json("/api/v1/flows", sk, &f).await.unwrap();
        assert_eq!(r.status, 201, "{:?}", r.json());
        let id = r.json()["id"].as_str().unwrap().to_string();
        assert_eq!(c.post_json(&format!("/api/v1/flows/{id}/activate"), sk, &json!({})).await.unwrap().status, 200);
        flow_ids.push(id);
    }
    let (welcome, nudge) = (flow_ids[0].clone(), flow_ids[1].clone());
    for user in ["ann", "bob", "cai", "dee"] {
        let r = c
            .post_json("/v1/identify", wk, &json!({"userId": user, "traits": {"email": format!("{user}@example.com")}}))
            .await
            .unwrap();
        assert_eq!(r.status, 200);
        let consent = json!({"user_id": user, "channel": "email", "status": "subscribed"});
        assert_eq!(c.post_json("/api/v1/contacts/consent", sk, &consent).await.unwrap().status, 200);
    }
    for (user, event) in
        [("ann", "Signed Up"), ("bob", "Signed Up"), ("cai", "Checkout Started"), ("dee", "Product Added")]
    {
        let e = json!({"userId": user, "event": event, "properties": {"product_id": "p1", "price": 30}});
        assert_eq!(c.post_json("/v1/track", wk, &e).await.unwrap().status, 200);
    }
    // Right after sending: a machine open (a scanner or privacy proxy) of bob's and ann's mail.
    let (ann_msg, ann_pixel, ann_click) = message_links(&mut c, sk, "ann@example.com").await;
    let (_, bob_pixel, _) = message_links(&mut c, sk, "bob@example.com").await;
    let (cai_msg, _, cai_click) = message_links(&mut c, sk, "cai@example.com").await;
    for pixel in [&bob_pixel, &ann_pixel] {
        let r = c.request("GET", pixel, &[], Default::default()).await.unwrap();
        assert_eq!(r.status, 200);
    }
    // A minute later people open and click: ann both, cai clicks only.
    advance(&mut c, sk, "1m").await;
    let r = c.request("GET", &ann_pixel, &[("user-agent", "Mozilla/5.0")], Default::default()).await.unwrap();
    assert_eq!(r.status, 200);
    for click in [&ann_click, &cai_click] {
        let r = c.request("GET", click, &[("user-agent", "Mozilla/5.0")], Default::default()).await.unwrap();
        assert_eq!((r.status, r.header("location")), (302, Some("https://shop.example/sale")));
    }
    // The machine open was recorded, flagged.
    let bob = get_ok(&mut c, sk, "/api/v1/contacts?user_id=bob").await["items"][0]["id"].clone();
    let timeline = get_ok(&mut c, sk, &format!("/api/v1/contacts/{bob}/events?limit=100")).await;
    let opens: Vec<&Value> =
        timeline["items"].as_array().unwrap().iter().filter(|e| e["event"] == "Email Opened").collect();
    assert_eq!(opens.len(), 1, "{timeline}");
    assert_eq!(opens[0]["properties"]["machine"], true, "{timeline}");

    // An hour later three orders (bob's mail was only opened by a machine); ann orders again after 6 days,
    // outside the 5-day email window.
    advance(&mut c, sk, "1h").await;
    order(&mut c, wk, "ann", "o-1", 120.5).await;
    order(&mut c, wk, "bob", "o-2", 80.0).await;
    order(&mut c, wk, "cai", "o-3", 30.0).await;
    let r = c
        .post_json(
            "/api/v1/contacts/consent",
            sk,
            &json!({"user_id": "dee", "channel": "email", "status": "unsubscribed"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    advance(&mut c, sk, "6d").await;
    order(&mut c, wk, "ann", "o-4", 50.0).await;

    // Attribution: newest first, one per page with a cursor.
    let a = get_ok(&mut c, sk, &format!("/api/v1/reports/attribution?{RANGE}&limit=1")).await;
    let items = a["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{a}");
    let cai_item = &items[0];
    assert_eq!(cai_item["order_id"], "o-3", "{a}");
    assert_eq!(
        (cai_item["flow_id"].as_str(), cai_item["message_id"].as_str(), cai_item["touch"].as_str()),
        (Some(nudge.as_str()), Some(cai_msg.as_str()), Some("click"))
    );
    let cursor = a["next_cursor"].as_str().expect("a second page").to_string();
    let a = get_ok(&mut c, sk, &format!("/api/v1/reports/attribution?{RANGE}&limit=1&cursor={cursor}")).await;
    assert_eq!(a["items"].as_array().unwrap().len(), 1, "{a}");
    assert!(a["next_cursor"].is_null(), "{a}");
    let ann_item = &a["items"][0];
    assert_eq!(ann_item["order_id"], "o-1", "{a}");
    assert_eq!(ann_item["revenue"], 120.5);
    assert_eq!(ann_item["touch"], "click", "the click is ann's last touch, after her open");
    assert_eq!(ann_item["message_id"], ann_msg.as_str());
    assert_eq!((ann_item["flow_id"].as_str(), ann_item["step_id"].as_str()), (Some(welcome.as_str()), Some("mail")));
    assert_eq!(ann_item["channel"], "email");
    let touched = Timestamp::parse(ann_item["touched_at"].as_str().unwrap()).unwrap();
    let ordered = Timestamp::parse(ann_item["ordered_at"].as_str().unwrap()).unwrap();
    let hour = 3_600_000_000;
    assert!((ordered.as_micros() - touched.as_micros() - hour).abs() < 60_000_000, "{ann_item}");
    let all = get_ok(&mut c, sk, &format!("/api/v1/reports/attribution?{RANGE}")).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2, "neither bob's (machine open) nor o-4 (late): {all}");

    // KPIs.
    let k = get_ok(&mut c, sk, &format!("/api/v1/reports/kpis?{RANGE}")).await;
    assert_eq!((k["from"].as_str(), k["to"].as_str()), (Some("2030-03-01T00:00:00Z"), Some("2030-03-31T00:00:00Z")));
    assert_eq!(k["revenue"], 280.5, "{k}");
    assert_eq!(k["orders"], 4);
    assert_eq!(k["aov"], 70.13, "280.50 / 4, rounded half up");
    assert_eq!(k["attributed_revenue"], 150.5, "o-1 and o-3: {k}");
    assert_eq!(k["recovered_revenue"], 30.0, "o-3 came through the checkout flow: {k}");
    assert_eq!(k["conversion_rate"], 0.75, "3 of the 4 active contacts ordered: {k}");
    assert_eq!(k["cart_abandonment_rate"], 0.5, "cai ordered within a day, dee did not: {k}");
    assert_eq!(k["repeat_purchase_rate"], 0.3333, "ann of ann, bob, cai: {k}");
    assert_eq!(k["list_growth"], json!({"subscribed": 3, "unsubscribed": 1, "net": 2}), "{k}");
    let series = k["series"].as_array().unwrap();
    assert_eq!(series.len(), 30, "March 1 to 30");
    assert_eq!(series[0]["date"], "2030-03-01");
    assert_eq!(series[3], json!({"date": "2030-03-04", "revenue": 230.5, "orders": 3, "partial": false}));
    assert_eq!(series[9], json!({"date": "2030-03-10", "revenue": 50.0, "orders": 1, "partial": false}));
    assert_eq!(series.iter().map(|p| p["orders"].as_u64().unwrap()).sum::<u64>(), 4);

    // Flow and step numbers: bob's machine open counts as nothing, cai's click counts as an open too.
    let flows = get_ok(&mut c, sk, &format!("/api/v1/reports/flows?{RANGE}")).await;
    let items = flows["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{flows}");
    let w = items.iter().find(|f| f["flow_id"] == welcome.as_str()).unwrap();
    assert_eq!(w["name"], "Welcome series");
    for (k, v) in [
        ("recipients", json!(2)),
        ("sent", json!(2)),
        ("delivered", json!(2)),
        ("opened", json!(1)),
        ("clicked", json!(1)),
        ("open_rate", json!(0.5)),
        ("click_rate", json!(0.5)),
        ("unsubscribed", json!(0)),
        ("bounced", json!(0)),
        ("complained", json!(0)),
        ("conversions", json!(1)),
        ("revenue", json!(120.5)),
        ("revenue_per_recipient", json!(60.25)),
    ] {
        assert_eq!(w[k], v, "welcome {k}: {w}");
        assert_eq!(w["steps"]["mail"][k], v, "step mail {k}: {w}");
    }
    let n = items.iter().find(|f| f["flow_id"] == nudge.as_str()).unwrap();
    let got: Vec<&Value> = ["sent", "opened", "clicked", "conversions", "revenue"].iter().map(|k| &n[*k]).collect();
    assert_eq!(got, vec![&json!(1), &json!(1), &json!(1), &json!(1), &json!(30.0)], "{n}");
    assert_eq!(n["steps"]["nudge"]["revenue"], 30.0);
    let one = get_ok(&mut c, sk, &format!("/api/v1/reports/flows/{welcome}?{RANGE}")).await;
    for k in ["sent", "opened", "clicked", "conversions", "revenue", "steps"] {
        assert_eq!(one[k], w[k], "{k}");
    }
    // Messages sent before the range are not in it.
    let before = get_ok(&mut c, sk, &format!("/api/v1/reports/flows/{welcome}?from=2030-02-01&to=2030-03-04")).await;
    assert_eq!((before["sent"].as_u64(), before["revenue"].as_f64()), (Some(0), Some(0.0)), "{before}");
    assert_eq!(before["steps"]["mail"]["sent"], 0, "send steps are listed with zeros: {before}");
    let camp = get_ok(&mut c, sk, &format!("/api/v1/reports/campaigns?{RANGE}")).await;
    assert_eq!(camp["items"], json!([]), "flow messages are not campaigns: {camp}");

    // The windows come from the settings: with 30 minutes for email nothing is attributed.
    let r = c.put_json("/api/v1/settings", sk, &json!({"attribution_window": {"email": "30m"}})).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    let a = get_ok(&mut c, sk, &format!("/api/v1/reports/attribution?{RANGE}")).await;
    assert_eq!(a["items"], json!([]), "{a}");
    let k = get_ok(&mut c, sk, &format!("/api/v1/reports/kpis?{RANGE}")).await;
    assert_eq!((k["attributed_revenue"].as_f64(), k["revenue"].as_f64()), (Some(0.0), Some(280.5)), "{k}");
    let w = get_ok(&mut c, sk, &format!("/api/v1/reports/flows/{welcome}?{RANGE}")).await;
    assert_eq!((w["opened"].as_u64(), w["conversions"].as_u64()), (Some(1), Some(0)), "{w}");
}

/// A profile's first order may wait on its row for a later commit like the rest of what its events change
/// (ARCHITECTURE "Contact rows written later"): the KPIs asked at once still count an order as a repeat purchase
/// when an older order, imported just before, came first.
#[tokio::test]
async fn an_order_is_a_repeat_purchase_as_soon_as_an_older_one_is_imported() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-03-10T10:00:00Z"})).await.unwrap();
    let who = json!({"userId": "eve", "traits": {"email": "eve@example.com"}});
    assert_eq!(c.post_json("/v1/identify", wk, &who).await.unwrap().status, 200);
    // A VIP from her first order on (a lifetime value of 1 000 or more, the default): the older order changes
    // her profile's first order and order count but not her stage, so her row may wait.
    order(&mut c, wk, "eve", "e-2", 1500.0).await;
    let k = get_ok(&mut c, sk, &format!("/api/v1/reports/kpis?{RANGE}")).await;
    assert_eq!(k["repeat_purchase_rate"], 0.0, "eve's first order: {k}");
    let older = json!({"userId": "eve", "event": "Order Completed", "timestamp": "2030-02-20T12:00:00Z",
        "properties": {"order_id": "e-1", "total": 40.0}});
    assert_eq!(c.post_json("/v1/track", wk, &older).await.unwrap().status, 200);
    let k = get_ok(&mut c, sk, &format!("/api/v1/reports/kpis?{RANGE}")).await;
    assert_eq!((k["orders"].as_u64(), k["revenue"].as_f64()), (Some(1), Some(1500.0)), "{k}");
    assert_eq!(k["repeat_purchase_rate"], 1.0, "eve first ordered in February: {k}");
}

#[tokio::test]
async fn report_parameters_are_checked_and_default_to_the_last_30_days() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    let now = c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-03-04T10:00:00Z"})).await.unwrap().json();
    let now = Timestamp::parse(now["now"].as_str().unwrap()).unwrap();
    for (query, field) in [
        ("kpis?from=garbage", "from"),
        ("kpis?to=2030-13-45", "to"),
        ("flows?from=2030-03-02&to=2030-03-01", "from"),
        ("campaigns?from=1900-01-01&to=2030-01-01", "from"),
        ("attribution?limit=0", "limit"),
        ("attribution?cursor=nope", "cursor"),
    ] {
        let r = c.get(&format!("/api/v1/reports/{query}"), sk).await.unwrap();
        assert_eq!(r.status, 400, "{query}: {:?}", r.json());
        assert_eq!(r.json()["error"]["field"], field, "{query}: {:?}", r.json());
        assert!(r.json()["error"]["code"].as_str().unwrap().starts_with("invalid_"), "{query}");
    }
    let r = c.get("/api/v1/reports/kpis", wk).await.unwrap();
    assert_eq!(r.status, 403, "write keys may only ingest");
    let r = c.get("/api/v1/reports/flows/flow_nope", sk).await.unwrap();
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (404, Some("not_found")));

    // Defaults: the 30 days up to now on the engine clock; an empty store has zeros, not errors.
    let k = get_ok(&mut c, sk, "/api/v1/reports/kpis").await;
    let (from, to) =
        (Timestamp::parse(k["from"].as_str().unwrap()).unwrap(), Timestamp::parse(k["to"].as_str().unwrap()).unwrap());
    assert!((to.as_micros() - now.as_micros()).abs() < 60_000_000, "{k}");
    assert_eq!(to.as_micros() - from.as_micros(), 30 * 86_400_000_000, "{k}");
    assert_eq!((k["revenue"].as_f64(), k["orders"].as_u64(), k["aov"].as_f64()), (Some(0.0), Some(0), Some(0.0)));
    assert_eq!((k["conversion_rate"].as_f64(), k["cart_abandonment_rate"].as_f64()), (Some(0.0), Some(0.0)));
    assert_eq!(k["series"].as_array().unwrap().len(), 31, "Feb 2 to Mar 4: {k}");
    assert_eq!(k["series"][30]["date"], "2030-03-04");
    // Offsets are understood, also an unencoded `+`.
    let k = get_ok(&mut c, sk, "/api/v1/reports/kpis?from=2030-03-01T02:00:00+02:00&to=2030-03-02").await;
    assert_eq!((k["from"].as_str(), k["to"].as_str()), (Some("2030-03-01T00:00:00Z"), Some("2030-03-02T00:00:00Z")));
    assert_eq!(
        k["series"],
        json!([{"date": "2030-03-01", "revenue": 0.0, "orders": 0, "partial": false}]),
        "a whole day"
    );
    let f = get_ok(&mut c, sk, "/api/v1/reports/flows").await;
    assert_eq!((f["items"].clone(), f["next_cursor"].clone()), (json!([]), Value::Null));
}

//! Issue 16 item 2 over HTTP: revenue where marketers look. The store KPIs carry conversions and revenue per
//! recipient; one campaign and one flow report their numbers with opens, clicks and revenue per day (the running
//! day marked `partial`); every template reports what its messages earned, whichever flow or campaign sent it.

mod common;

use common::TestServer;
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/".to_string(), |i| rest[i..].to_string())
}

async fn get_ok(c: &mut HttpClient, sk: &str, path: &str) -> Value {
    let r = c.get(path, sk).await.unwrap();
    assert_eq!(r.status, 200, "{path}: {:?}", r.json());
    r.json()
}

/// The human click of the newest message to `to` (its first tracked link, a minute after it was sent).
async fn click(c: &mut HttpClient, sk: &str, to: &str) {
    let out = common::messages_to(c, sk, to).await;
    let html = out[0]["html"].as_str().unwrap_or_else(|| panic!("{out:?}"));
    let at = html.find("/c/").unwrap();
    let start = html[..at].rfind('"').unwrap() + 1;
    let end = at + html[at..].find('"').unwrap();
    let r = c
        .request("GET", &path_of(&html[start..end]), &[("user-agent", "Mozilla/5.0")], Default::default())
        .await
        .unwrap();
    assert_eq!(r.status, 302);
}

#[tokio::test]
async fn campaigns_flows_and_templates_report_what_they_earned_over_time() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-03-04T10:00:00Z"})).await.unwrap();
    for (id, name) in [("spring", "Spring news"), ("nudge", "Checkout nudge")] {
        let t = json!({"id": id, "name": name, "channel": "email", "subject": name,
            "html": "<p>Hi</p><a href=\"https://shop.example/sale\">Sale</a>", "text": "Hi"});
        assert_eq!(c.post_json("/api/v1/templates", sk, &t).await.unwrap().status, 201);
    }
    let f = json!({"name": "Checkout nudge", "trigger": {"type": "event", "event": "Checkout Started"},
        "steps": [{"id": "mail", "type": "send", "channel": "email", "template": "nudge"}]});
    let flow = c.post_json("/api/v1/flows", sk, &f).await.unwrap().json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/flows/{flow}/activate"), sk, &json!({})).await.unwrap().status, 200);
    for u in ["ann", "bob", "cai"] {
        let who = json!({"userId": u, "traits": {"email": format!("{u}@example.com")}});
        assert_eq!(c.post_json("/v1/identify", wk, &who).await.unwrap().status, 200);
        let consent = json!({"user_id": u, "channel": "email", "status": "subscribed"});
        assert_eq!(c.post_json("/api/v1/contacts/consent", sk, &consent).await.unwrap().status, 200);
    }
    let seg = json!({"name": "Everyone", "definition": "subscribed email"});
    let seg = c.post_json("/api/v1/segments", sk, &seg).await.unwrap().json()["id"].as_str().unwrap().to_string();
    let body =
        json!({"name": "Spring", "channel": "email", "template": "spring", "segments": [seg], "smart_sending": false});
    let campaign =
        c.post_json("/api/v1/campaigns", sk, &body).await.unwrap().json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        c.post_json(&format!("/api/v1/campaigns/{campaign}/schedule"), sk, &json!({})).await.unwrap().status,
        200
    );
    // The campaign goes out on the next tick; people react a while after (a reaction within 2 s is a machine's).
    common::wait_status(&mut c, sk, "ann@example.com", "sent").await;
    c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "1m"})).await.unwrap();
    // Ann clicks the campaign and orders 80 the same day; the next day Bob starts a checkout, clicks the nudge and
    // orders 20.
    click(&mut c, sk, "ann@example.com").await;
    let order = |u: &str, id: &str, total: f64| json!({"userId": u, "event": "Order Completed", "properties": {"order_id": id, "total": total}});
    assert_eq!(c.post_json("/v1/track", wk, &order("ann", "o1", 80.0)).await.unwrap().status, 200);
    c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "1d"})).await.unwrap();
    let checkout = json!({"userId": "bob", "event": "Checkout Started", "properties": {"value": 20}});
    assert_eq!(c.post_json("/v1/track", wk, &checkout).await.unwrap().status, 200);
    c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "1m"})).await.unwrap();
    click(&mut c, sk, "bob@example.com").await;
    assert_eq!(c.post_json("/v1/track", wk, &order("bob", "o2", 20.0)).await.unwrap().status, 200);

    let range = "from=2030-03-01&to=2030-03-05T12:00:00Z";
    let k = get_ok(&mut c, sk, &format!("/api/v1/reports/kpis?{range}")).await;
    assert_eq!((k["attributed_revenue"].clone(), k["attributed_orders"].clone()), (json!(100.0), json!(2)), "{k}");
    assert_eq!((k["message_recipients"].clone(), k["revenue_per_recipient"].clone()), (json!(3), json!(33.33)), "{k}");
    let series = k["series"].as_array().unwrap();
    assert_eq!(series.len(), 5);
    assert!(series[4]["partial"] == true && series[3]["partial"] == false, "the running day is marked: {k}");
    let whole = get_ok(&mut c, sk, "/api/v1/reports/kpis?from=2030-03-01&to=2030-03-05").await;
    assert!(whole["series"].as_array().unwrap().iter().all(|d| d["partial"] == false), "{whole}");

    let r = get_ok(&mut c, sk, &format!("/api/v1/reports/campaigns/{campaign}?{range}")).await;
    assert_eq!(
        (r["name"].as_str(), r["recipients"].clone(), r["conversions"].clone()),
        (Some("Spring"), json!(3), json!(1)),
        "{r}"
    );
    assert_eq!((r["revenue"].clone(), r["revenue_per_recipient"].clone()), (json!(80.0), json!(26.67)));
    let day =
        |r: &Value, date: &str| r["series"].as_array().unwrap().iter().find(|d| d["date"] == date).cloned().unwrap();
    let d4 = day(&r, "2030-03-04");
    assert_eq!(
        (d4["opened"].clone(), d4["clicked"].clone(), d4["revenue"].clone()),
        (json!(1), json!(1), json!(80.0)),
        "{r}"
    );

    let f = get_ok(&mut c, sk, &format!("/api/v1/reports/flows/{flow}?{range}")).await;
    let d5 = day(&f, "2030-03-05");
    assert_eq!(
        (d5["clicked"].clone(), d5["conversions"].clone(), d5["revenue"].clone(), d5["partial"].clone()),
        (json!(1), json!(1), json!(20.0), json!(true)),
        "{f}"
    );

    let t = get_ok(&mut c, sk, &format!("/api/v1/reports/templates?{range}")).await;
    let items = t["items"].as_array().unwrap();
    let got: Vec<(&str, &str, f64)> = items
        .iter()
        .map(|i| (i["template_id"].as_str().unwrap(), i["name"].as_str().unwrap(), i["revenue"].as_f64().unwrap()))
        .collect();
    assert_eq!(got, [("spring", "Spring news", 80.0), ("nudge", "Checkout nudge", 20.0)], "most revenue first: {t}");

    // Another workspace's campaign is not found; a bad range names its field.
    assert_eq!(c.get("/api/v1/reports/campaigns/cmp_nope", sk).await.unwrap().status, 404);
    let r = c.get("/api/v1/reports/templates?from=yesterday", sk).await.unwrap();
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("from")));
}

//! The preference centre (issue 14), over HTTP: the workspace's topics (lists) in settings, flows and campaigns
//! about a topic, people who opted out of a topic skipped, a chosen frequency deferring the extra marketing
//! email, and the signed preference page that sets all of it (or unsubscribes from everything).

mod common;

use common::TestServer;
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

async fn put_settings(c: &mut HttpClient, sk: &str, body: Value) -> (u16, Value) {
    let r = c.send("PUT", "/api/v1/settings", Some(sk), common::body(&body)).await.unwrap();
    (r.status, r.json())
}

async fn flow(c: &mut HttpClient, sk: &str, name: &str, event: &str, topic: &str) -> String {
    let f = json!({"name": name, "trigger": {"type": "event", "event": event}, "entry": {"reentry": "always"},
        "topic": topic, "steps": [{"id": "mail", "type": "send", "channel": "email", "template": "promo",
            "smart_sending": false}]});
    let r = c.post_json("/api/v1/flows", sk, &f).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/flows/{id}/activate"), sk, &json!({})).await.unwrap().status, 200);
    id
}

async fn person(c: &mut HttpClient, wk: &str, sk: &str, user: &str) {
    let who = json!({"userId": user, "traits": {"email": format!("{user}@example.com")}});
    assert_eq!(c.post_json("/v1/identify", wk, &who).await.unwrap().status, 200);
    let consent = json!({"user_id": user, "channel": "email", "status": "subscribed"});
    assert_eq!(c.post_json("/api/v1/contacts/consent", sk, &consent).await.unwrap().status, 200);
}

async fn track(c: &mut HttpClient, wk: &str, user: &str, event: &str) {
    let ev = json!({"userId": user, "event": event});
    assert_eq!(c.post_json("/v1/track", wk, &ev).await.unwrap().status, 200);
}

/// (status, reason) of the messages to `user`, oldest first.
async fn outcomes(c: &mut HttpClient, sk: &str, user: &str) -> Vec<(String, String)> {
    let items = common::all_items(c, sk, &format!("/api/v1/outbox?to={user}%40example.com&limit=100")).await;
    let mut out: Vec<(String, String)> = items
        .iter()
        .map(|m| (m["status"].as_str().unwrap_or("").into(), m["reason"].as_str().unwrap_or("").into()))
        .collect();
    out.reverse();
    out
}

async fn setup(c: &mut HttpClient, sk: &str) {
    let topics = json!({"topics": [{"id": "newsletter", "name": "Newsletter"},
        {"id": "offers", "name": "Offers & deals", "description": "<b>Sales</b> first"}]});
    let (status, body) = put_settings(c, sk, topics).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["topics"][1]["name"], json!("Offers & deals"));
    let t = json!({"id": "promo", "channel": "email", "subject": "Something new",
        "html": "<p>Hello</p><a href=\"{{ preferences_url }}\">Preferences</a>", "text": "Prefs: {{ preferences_url }}"});
    assert_eq!(c.post_json("/api/v1/templates", sk, &t).await.unwrap().status, 201);
}

#[tokio::test]
async fn topics_and_a_chosen_frequency_are_enforced_by_sending() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-04-01T12:00:00Z"})).await.unwrap();
    setup(&mut c, sk).await;
    for (bad, field) in [
        (json!({"topics": [{"id": "Bad Id", "name": "X"}]}), "topics[0].id"),
        (json!({"topics": [{"id": "a", "name": ""}]}), "topics[0].name"),
        (json!({"topics": [{"id": "a", "name": "A"}, {"id": "a", "name": "B"}]}), "topics[1].id"),
        (json!({"topics": "newsletter"}), "topics"),
    ] {
        let (status, body) = put_settings(&mut c, sk, bad.clone()).await;
        assert_eq!((status, body["error"]["field"].as_str()), (400, Some(field)), "{bad}: {body}");
    }
    let unknown = json!({"name": "X", "trigger": {"type": "event", "event": "E"}, "topic": "gossip",
        "steps": [{"id": "mail", "type": "send", "channel": "email", "template": "promo"}]});
    let r = c.post_json("/api/v1/flows", sk, &unknown).await.unwrap();
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("topic")), "{:?}", r.json());
    flow(&mut c, sk, "Weekly news", "News Out", "newsletter").await;
    flow(&mut c, sk, "Deals", "Deal Out", "offers").await;
    for u in ["weekly", "eager", "nodeals"] {
        person(&mut c, wk, sk, u).await;
    }
    let r = c
        .post_json("/api/v1/contacts/preferences", sk, &json!({"user_id": "weekly", "frequency": "weekly"}))
        .await
        .unwrap();
    assert_eq!((r.status, r.json()["consent"]["frequency"].clone()), (200, json!("weekly")), "{:?}", r.json());
    let r = c
        .post_json("/api/v1/contacts/preferences", sk, &json!({"user_id": "nodeals", "topics_out": ["offers"]}))
        .await
        .unwrap();
    assert_eq!(r.json()["consent"]["topics_out"], json!(["offers"]));
    for (body, field) in [
        (json!({"user_id": "weekly", "frequency": "hourly"}), "frequency"),
        (json!({"user_id": "weekly", "topics_out": ["gossip"]}), "topics_out[0]"),
    ] {
        let r = c.post_json("/api/v1/contacts/preferences", sk, &body).await.unwrap();
        assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some(field)), "{:?}", r.json());
    }

    for u in ["weekly", "eager"] {
        track(&mut c, wk, u, "News Out").await;
        track(&mut c, wk, u, "News Out").await;
    }
    let sent = |v: &[(String, String)]| v.iter().filter(|(s, _)| s == "sent").count();
    let eager = outcomes(&mut c, sk, "eager").await;
    assert_eq!(sent(&eager), 2, "no choice: both go out {eager:?}");
    let weekly = outcomes(&mut c, sk, "weekly").await;
    assert_eq!(sent(&weekly), 1, "{weekly:?}");
    assert!(weekly.contains(&("deferred".into(), "chosen_frequency".into())), "{weekly:?}");
    c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "7d"})).await.unwrap();
    c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "1m"})).await.unwrap();
    assert_eq!(sent(&outcomes(&mut c, sk, "weekly").await), 2, "a week later the second goes out");

    for u in ["nodeals", "eager"] {
        track(&mut c, wk, u, "Deal Out").await;
    }
    let nodeals = outcomes(&mut c, sk, "nodeals").await;
    assert_eq!(nodeals, [("skipped".to_string(), "topic_unsubscribed".to_string())], "{nodeals:?}");
    assert_eq!(sent(&outcomes(&mut c, sk, "eager").await), 3);
}

#[tokio::test]
async fn the_preference_page_sets_topics_frequency_or_unsubscribes_from_everything() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    setup(&mut c, sk).await;
    flow(&mut c, sk, "Weekly news", "News Out", "newsletter").await;
    person(&mut c, wk, sk, "pia").await;
    track(&mut c, wk, "pia", "News Out").await;
    let mails = common::messages_to(&mut c, sk, "pia@example.com").await;
    let text = mails[0]["text"].as_str().unwrap().to_string();
    let url = text.split_whitespace().find(|w| w.contains("/preferences/")).expect("a preferences link").to_string();
    let path = &url[url.find("/preferences/").unwrap()..];
    let page = c.request("GET", path, &[], bytes::Bytes::new()).await.unwrap();
    let html = String::from_utf8_lossy(&page.body).to_string();
    assert_eq!(page.status, 200);
    assert!(html.contains("Offers &amp; deals") && html.contains("&lt;b&gt;Sales&lt;/b&gt;"), "escaped: {html}");
    assert!(html.contains("Once a week at most") && html.contains("Unsubscribe from everything"), "{html}");

    let form = [("content-type", "application/x-www-form-urlencoded")];
    let save = "submitted=1&action=save&email=on&topic=newsletter&frequency=twice_weekly";
    let r = c.request("POST", path, &form, bytes::Bytes::from(save)).await.unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let pia = c.get("/api/v1/contacts?email=pia%40example.com", sk).await.unwrap().json()["items"][0].clone();
    assert_eq!(pia["consent"]["topics_out"], json!(["offers"]), "{pia}");
    assert_eq!(pia["consent"]["frequency"], json!("twice_weekly"));
    assert_eq!(pia["consent"]["email"]["status"], json!("subscribed"));

    let r = c.request("POST", path, &form, bytes::Bytes::from("submitted=1&action=unsubscribe_all")).await.unwrap();
    assert!(String::from_utf8_lossy(&r.body).contains("no more marketing"));
    let pia = c.get("/api/v1/contacts?email=pia%40example.com", sk).await.unwrap().json()["items"][0].clone();
    assert_eq!(pia["consent"]["email"]["status"], json!("unsubscribed"), "{pia}");
    // A forged token changes nothing.
    let forged =
        c.request("POST", "/preferences/bm9wZQ.AAAAAAAAAAAAAAAAAAAAAA", &form, bytes::Bytes::from(save)).await.unwrap();
    assert_eq!(forged.status, 404);
}

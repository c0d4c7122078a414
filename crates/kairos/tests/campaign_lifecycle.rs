//! SPEC 16 "Campaign lifecycle" over HTTP: draft → scheduled → sending → sent, edits while draft or scheduled,
//! cancel while scheduled, pause and resume while sending, duplicates, deleting drafts, the confirmation's
//! audience, and schedules in the past refused.

mod common;

use common::TestServer;
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

async fn advance(c: &mut HttpClient, sk: &str, by: &str) {
    assert_eq!(c.post_json("/api/v1/dev/clock", sk, &json!({ "advance": by })).await.unwrap().status, 200);
}

async fn campaign(c: &mut HttpClient, sk: &str, id: &str) -> Value {
    let r = c.get(&format!("/api/v1/campaigns/{id}"), sk).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    r.json()
}

async fn post(c: &mut HttpClient, sk: &str, path: &str) -> (u16, Value) {
    let r = c.post_json(path, sk, &json!({})).await.unwrap();
    (r.status, r.json())
}

async fn messages(c: &mut HttpClient, sk: &str, id: &str) -> usize {
    common::all_items(c, sk, &format!("/api/v1/messages?campaign_id={id}")).await.len()
}

#[tokio::test]
async fn a_campaign_is_edited_cancelled_paused_resumed_duplicated_and_deleted_as_its_status_allows() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-04-01T12:00:00Z"})).await.unwrap();
    for t in ["note", "other"] {
        let t = json!({"id": t, "channel": "email", "subject": format!("{t}"), "html": "<p>Hi</p>", "text": "Hi"});
        assert_eq!(c.post_json("/api/v1/templates", sk, &t).await.unwrap().status, 201);
    }
    let mut batch = Vec::new();
    for i in 0..30 {
        let vip = i < 10;
        batch.push(json!({"type": "identify", "userId": format!("u{i}"),
            "traits": {"email": format!("u{i}@example.com"), "vip": vip}}));
    }
    assert_eq!(c.post_json("/v1/batch", wk, &json!({"batch": batch})).await.unwrap().status, 200);
    for i in 0..29 {
        let consent = json!({"user_id": format!("u{i}"), "channel": "email", "status": "subscribed"});
        assert_eq!(c.post_json("/api/v1/contacts/consent", sk, &consent).await.unwrap().status, 200);
    }
    let seg = |name: &str, def: &str| json!({"name": name, "definition": def});
    let everyone = c.post_json("/api/v1/segments", sk, &seg("Everyone", "email exists")).await.unwrap().json();
    let vips = c.post_json("/api/v1/segments", sk, &seg("VIPs", "trait.vip = true")).await.unwrap().json();
    let (everyone, vips) = (
        everyone["id"].as_str().unwrap_or_else(|| panic!("{everyone}")),
        vips["id"].as_str().unwrap_or_else(|| panic!("{vips}")),
    );

    // A schedule in the past is refused, naming the field; nothing is stored.
    let at = |t: &str| json!({"type": "at", "at": t});
    for (schedule, field) in [
        (at("2030-03-31T12:00:00Z"), "schedule.at"),
        (json!({"type": "local_time", "date": "2030-03-31", "time": "10:00"}), "schedule.date"),
    ] {
        let body = json!({"name": "Late", "channel": "email", "template": "note", "segments": [everyone], "schedule": schedule});
        let r = c.post_json("/api/v1/campaigns", sk, &body).await.unwrap();
        assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some(field)), "{:?}", r.json());
    }
    assert!(common::all_items(&mut c, sk, "/api/v1/campaigns").await.is_empty());

    // A draft: edited, then deleted.
    let body = json!({"name": "Spring", "channel": "email", "template": "note", "segments": [everyone],
        "schedule": at("2030-04-02T09:00:00Z")});
    let r = c.post_json("/api/v1/campaigns", sk, &body).await.unwrap();
    assert_eq!(r.status, 201);
    let draft = r.json()["id"].as_str().unwrap().to_string();
    let patch = json!({"name": "Spring sale", "template": "other"});
    let r = c.send("PATCH", &format!("/api/v1/campaigns/{draft}"), Some(sk), common::body(&patch)).await.unwrap();
    assert_eq!(
        (r.status, r.json()["name"].as_str(), r.json()["template"].as_str()),
        (200, Some("Spring sale"), Some("other"))
    );
    let bad = json!({"schedule": at("2020-01-01T00:00:00Z")});
    let r = c.send("PATCH", &format!("/api/v1/campaigns/{draft}"), Some(sk), common::body(&bad)).await.unwrap();
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("schedule.at")));
    assert_eq!(
        campaign(&mut c, sk, &draft).await["schedule"]["at"],
        "2030-04-02T09:00:00Z",
        "a refused edit changes nothing"
    );

    // The confirmation's numbers: 30 people, 29 reachable (one never subscribed), at 09:00 tomorrow.
    let a = c.get(&format!("/api/v1/campaigns/{draft}/audience"), sk).await.unwrap().json();
    assert_eq!((a["people"].clone(), a["reachable"].clone()), (json!(30), json!(29)), "{a}");
    assert_eq!(a["send_at"], "2030-04-02T09:00:00Z");

    // Scheduled: an edit takes the audience again; cancelled, nobody is sent to; then nothing more is allowed.
    let (status, v) = post(&mut c, sk, &format!("/api/v1/campaigns/{draft}/schedule")).await;
    assert_eq!((status, v["status"].as_str(), v["recipients"].as_u64()), (200, Some("scheduled"), Some(30)), "{v}");
    let narrower = json!({"segments": [vips]});
    let r = c.send("PATCH", &format!("/api/v1/campaigns/{draft}"), Some(sk), common::body(&narrower)).await.unwrap();
    assert_eq!(
        (r.status, r.json()["status"].as_str(), r.json()["recipients"].as_u64()),
        (200, Some("scheduled"), Some(10))
    );
    let r = c.send("DELETE", &format!("/api/v1/campaigns/{draft}"), Some(sk), None).await.unwrap();
    assert_eq!(r.status, 409, "only drafts are deleted");
    let (status, v) = post(&mut c, sk, &format!("/api/v1/campaigns/{draft}/cancel")).await;
    assert_eq!((status, v["status"].as_str()), (200, Some("cancelled")), "{v}");
    advance(&mut c, sk, "2d").await;
    assert_eq!(messages(&mut c, sk, &draft).await, 0, "a cancelled campaign sends nothing");
    for path in ["cancel", "pause", "resume", "schedule"] {
        let (status, v) = post(&mut c, sk, &format!("/api/v1/campaigns/{draft}/{path}")).await;
        assert_eq!(status, 409, "{path}: {v}");
    }
    let r = c.send("PATCH", &format!("/api/v1/campaigns/{draft}"), Some(sk), common::body(&patch)).await.unwrap();
    assert_eq!(r.status, 409);

    // Another workspace's key finds none of it: nothing is edited, cancelled, copied or deleted through it.
    let other = common::create_workspace(&s.dir, "Other");
    let ok = other.secret_key.as_str();
    for path in ["cancel", "pause", "resume", "schedule", "duplicate"] {
        assert_eq!(
            c.post_json(&format!("/api/v1/campaigns/{draft}/{path}"), ok, &json!({})).await.unwrap().status,
            404,
            "{path}"
        );
    }
    let r = c.send("PATCH", &format!("/api/v1/campaigns/{draft}"), Some(ok), common::body(&patch)).await.unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(c.send("DELETE", &format!("/api/v1/campaigns/{draft}"), Some(ok), None).await.unwrap().status, 404);
    assert_eq!(c.get(&format!("/api/v1/campaigns/{draft}/audience"), ok).await.unwrap().status, 404);
    assert_eq!(c.get(&format!("/api/v1/reports/campaigns/{draft}"), ok).await.unwrap().status, 404);

    // A copy is a new draft, its past schedule dropped; then it is deleted.
    let r = c.post_json(&format!("/api/v1/campaigns/{draft}/duplicate"), sk, &json!({})).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let copy = r.json();
    assert_eq!((copy["name"].as_str(), copy["status"].as_str()), (Some("Spring sale (copy)"), Some("draft")));
    assert!(copy["schedule"].is_null(), "{copy}");
    let copy = copy["id"].as_str().unwrap().to_string();
    let r = c.send("DELETE", &format!("/api/v1/campaigns/{copy}"), Some(sk), None).await.unwrap();
    assert_eq!((r.status, r.json()["deleted"].clone()), (200, json!(true)));
    assert_eq!(c.get(&format!("/api/v1/campaigns/{copy}"), sk).await.unwrap().status, 404);

    // Paused while sending (10 a minute), nothing more goes out; resumed, the rest does.
    let body = json!({"name": "Slow", "channel": "email", "template": "note", "segments": [everyone], "throttle_per_minute": 10});
    let slow = c.post_json("/api/v1/campaigns", sk, &body).await.unwrap().json()["id"].as_str().unwrap().to_string();
    assert_eq!(post(&mut c, sk, &format!("/api/v1/campaigns/{slow}/schedule")).await.0, 200);
    advance(&mut c, sk, "1m").await;
    let before = messages(&mut c, sk, &slow).await;
    assert!(before > 0 && before < 30, "{before} sent in the first minute");
    assert_eq!(campaign(&mut c, sk, &slow).await["status"], "sending");
    let (status, v) = post(&mut c, sk, &format!("/api/v1/campaigns/{slow}/pause")).await;
    assert_eq!((status, v["status"].as_str()), (200, Some("paused")));
    for _ in 0..5 {
        advance(&mut c, sk, "1m").await;
    }
    assert_eq!(messages(&mut c, sk, &slow).await, before, "nothing goes out while paused");
    let (status, v) = post(&mut c, sk, &format!("/api/v1/campaigns/{slow}/resume")).await;
    assert_eq!((status, v["status"].as_str()), (200, Some("sending")));
    for _ in 0..5 {
        advance(&mut c, sk, "1m").await;
    }
    let v = campaign(&mut c, sk, &slow).await;
    assert_eq!((v["status"].as_str(), messages(&mut c, sk, &slow).await), (Some("sent"), 30), "{v}");
}

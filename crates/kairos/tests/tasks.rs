//! Team tasks (issue 15 item 5), over HTTP: a flow's `task` step opens a task listed with its contact and flow in
//! words; the team hears of it by email (captured in the outbox, to the team's address, whatever the customer's
//! consent) and by a signed webhook; tasks are assigned to one of the workspace's users and closed; bad input
//! names its field and changes nothing; another workspace's tasks are out of reach.

mod common;
#[path = "../../channels/tests/support/mod.rs"]
mod support;

use common::TestServer;
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

async fn patch(c: &mut HttpClient, sk: &str, id: i64, body: Value) -> (u16, Value) {
    let r = c.send("PATCH", &format!("/api/v1/tasks/{id}"), Some(sk), common::body(&body)).await.unwrap();
    (r.status, r.json())
}

async fn put_settings(c: &mut HttpClient, sk: &str, body: Value) -> (u16, Value) {
    let r = c.send("PUT", "/api/v1/settings", Some(sk), common::body(&body)).await.unwrap();
    (r.status, r.json())
}

#[tokio::test]
async fn tasks_are_announced_assigned_and_closed() {
    let hook = common::Recorder::start(|_, _| (200, "{\"ok\":true}".into())).await;
    let s = TestServer::start_with(|dir| {
        std::fs::write(dir.join("kairos.toml"), "[network]\noutbound_allow = [\"127.0.0.1\"]\n").unwrap()
    });
    common::create_user(&s.dir, &s.keys.id, "sam@shop.example", "s3cret-pass-123");
    let other = common::create_workspace(&s.dir, "Other shop");
    common::create_user(&s.dir, &other.id, "olga@other.example", "s3cret-pass-123");
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());

    // Where the team hears of tasks; bad settings name their field and keep what was there.
    for (bad, field) in [
        (json!({"tasks": {"notify_email": "not an email"}}), "tasks.notify_email"),
        (json!({"tasks": {"webhook_url": "ftp://hooks.example"}}), "tasks.webhook_url"),
        (json!({"tasks": {"webhook_url": "http://10.0.0.7/hook"}}), "tasks.webhook_url"),
        (json!({"tasks": {"pager": "yes"}}), "tasks.pager"),
    ] {
        let (status, body) = put_settings(&mut c, sk, bad.clone()).await;
        assert_eq!((status, body["error"]["field"].as_str()), (400, Some(field)), "{bad}: {body}");
    }
    let url = format!("http://{}/team", hook.addr);
    let (status, body) =
        put_settings(&mut c, sk, json!({"tasks": {"notify_email": "Team@Shop.example", "webhook_url": url}})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tasks"], json!({"notify_email": "team@shop.example", "webhook_url": url}));

    // A flow opens a task for a customer who never subscribed (the team is told all the same).
    let flow = json!({"name": "Big cart call", "trigger": {"type": "event", "event": "Checkout Started"},
        "steps": [{"id": "call", "type": "task", "message": "Call {{ contact.first_name }} about a {{ event.value }} cart"}]});
    let r = c.post_json("/api/v1/flows", sk, &flow).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let flow_id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/flows/{flow_id}/activate"), sk, &json!({})).await.unwrap().status, 200);
    let who = json!({"userId": "u-ann", "traits": {"email": "ann@example.com", "first_name": "Ann <b>", "phone": "+15005550006"}});
    assert_eq!(c.post_json("/v1/identify", wk, &who).await.unwrap().status, 200);
    let ev = json!({"userId": "u-ann", "event": "Checkout Started", "properties": {"value": 900}});
    assert_eq!(c.post_json("/v1/track", wk, &ev).await.unwrap().status, 200);

    let got = hook.wait_for(1).await;
    let call = &got[0];
    let secret = c.get("/api/v1/settings", sk).await.unwrap().json()["webhook_secret"].as_str().unwrap().to_string();
    let sig = call.header("x-kairos-signature").expect("signed");
    assert!(kairos_channels::verify_webhook_signature(&secret, sig, &call.body), "{sig}");
    let sent = call.json();
    assert_eq!(sent["type"], json!("task.created"));
    assert_eq!(sent["task"]["message"], json!("Call Ann <b> about a 900 cart"));
    assert_eq!(
        (sent["task"]["flow_name"].clone(), sent["contact"]["email"].clone()),
        (json!("Big cart call"), json!("ann@example.com"))
    );
    let task_id = sent["task"]["id"].as_i64().unwrap();

    let mail = common::messages_to(&mut c, sk, "team@shop.example").await;
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0]["status"], json!("sent"), "{}", mail[0]);
    assert_eq!(mail[0]["subject"], json!("New task: Call Ann <b> about a 900 cart"));
    let html = mail[0]["html"].as_str().unwrap();
    assert!(html.contains("Ann &lt;b&gt;") && !html.contains("Ann <b>"), "escaped: {html}");
    assert!(html.contains(&format!("/ui/contacts/{}", sent["contact"]["id"])), "{html}");
    let timeline = common::all_items(&mut c, sk, &format!("/api/v1/contacts/{}/events", sent["contact"]["id"])).await;
    assert!(timeline.iter().any(|e| e["event"] == "Task Created"), "the task is on the timeline");
    assert!(!timeline.iter().any(|e| e["event"] == "Message Sent"), "the team's email is no message to Ann");
    // "Had a task opened" is a segment like any event (seed: "coupon sent" works the same way).
    let seg = json!({"name": "Called", "definition": "did \"Task Created\" within 7d"});
    let seg = c.post_json("/api/v1/segments", sk, &seg).await.unwrap().json()["id"].as_str().unwrap().to_string();
    let members = common::all_items(&mut c, sk, &format!("/api/v1/segments/{seg}/members")).await;
    assert_eq!(members.len(), 1, "{members:?}");

    // Listed in words; assigned to a user of the workspace; closed; reopened.
    let list = c.get("/api/v1/tasks?status=open", sk).await.unwrap().json();
    let t = &list["items"][0];
    assert_eq!(
        (t["id"].as_i64(), t["contact_name"].clone(), t["flow_name"].clone(), t["assignee"].clone()),
        (Some(task_id), json!("Ann <b>"), json!("Big cart call"), Value::Null)
    );
    for (bad, field) in [
        (json!({"assignee": "olga@other.example"}), "assignee"),
        (json!({"assignee": "nobody"}), "assignee"),
        (json!({"assignee": 7}), "assignee"),
        (json!({"status": "closed"}), "status"),
        (json!({"priority": 1}), "priority"),
    ] {
        let (status, body) = patch(&mut c, sk, task_id, bad.clone()).await;
        assert_eq!((status, body["error"]["field"].as_str()), (400, Some(field)), "{bad}: {body}");
    }
    let (status, body) = patch(&mut c, sk, task_id, json!({"assignee": "SAM@shop.example"})).await;
    assert_eq!(
        (status, body["assignee"].clone(), body["status"].clone()),
        (200, json!("sam@shop.example"), json!("open"))
    );
    let (_, body) = patch(&mut c, sk, task_id, json!({"status": "done"})).await;
    assert_eq!(body["status"], json!("done"));
    assert!(body["closed_at"].is_string(), "{body}");
    let mine = c.get("/api/v1/tasks?assignee=sam%40shop.example&status=done", sk).await.unwrap().json();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    assert_eq!(c.get("/api/v1/tasks?status=open", sk).await.unwrap().json()["items"], json!([]));
    let (_, body) = patch(&mut c, sk, task_id, json!({"status": "open", "assignee": null})).await;
    assert_eq!(
        (body["status"].clone(), body["closed_at"].clone(), body["assignee"].clone()),
        (json!("open"), Value::Null, Value::Null)
    );
    assert_eq!(c.get("/api/v1/tasks?status=later", sk).await.unwrap().status, 400);

    // The users who can take tasks; another workspace sees neither them nor the task.
    let users = c.get("/api/v1/users", sk).await.unwrap().json();
    assert_eq!(users["items"], json!([{"email": "sam@shop.example"}]));
    let osk = other.secret_key.as_str();
    assert_eq!(c.get(&format!("/api/v1/tasks/{task_id}"), osk).await.unwrap().status, 404);
    assert_eq!(patch(&mut c, osk, task_id, json!({"status": "done"})).await.0, 404);
    assert_eq!(c.get("/api/v1/tasks", osk).await.unwrap().json()["items"], json!([]));
    assert_eq!(c.get(&format!("/api/v1/tasks/{task_id}"), sk).await.unwrap().json()["status"], json!("open"));
}

#[tokio::test]
async fn the_team_is_emailed_over_smtp_even_about_a_customer_who_unsubscribed() {
    let sink = support::SmtpSink::start(support::SinkOptions::default());
    let port = sink.port;
    let s = TestServer::start_with(|dir| {
        let config = format!(
            "[email]\ntransport = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\
             from = \"Velo Shop <shop@velo.example>\"\n"
        );
        std::fs::write(dir.join("kairos.toml"), config).unwrap()
    });
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    assert_eq!(put_settings(&mut c, sk, json!({"tasks": {"notify_email": "team@velo.example"}})).await.0, 200);
    let flow = json!({"name": "Complaint", "trigger": {"type": "event", "event": "Complaint Filed"},
        "steps": [{"id": "check", "type": "task", "message": "Check this complaint"}]});
    let id = c.post_json("/api/v1/flows", sk, &flow).await.unwrap().json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/flows/{id}/activate"), sk, &json!({})).await.unwrap().status, 200);
    let who = json!({"userId": "u-bo", "traits": {"email": "bo@example.com"}});
    assert_eq!(c.post_json("/v1/identify", wk, &who).await.unwrap().status, 200);
    let off = json!({"user_id": "u-bo", "channel": "email", "status": "unsubscribed"});
    assert_eq!(c.post_json("/api/v1/contacts/consent", sk, &off).await.unwrap().status, 200);
    let ev = json!({"userId": "u-bo", "event": "Complaint Filed"});
    assert_eq!(c.post_json("/v1/track", wk, &ev).await.unwrap().status, 200);

    let mails = sink.wait_for(1);
    assert_eq!(mails[0].rcpt_tos, ["team@velo.example"], "to the team, not to Bo");
    assert!(mails[0].text().contains("Check this complaint"), "{}", mails[0].text());
    common::wait_status(&mut c, sk, "team@velo.example", "sent").await;
    assert!(common::messages_to(&mut c, sk, "bo@example.com").await.is_empty(), "nothing went to Bo");
}

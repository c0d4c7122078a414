//! The one event path: events Kairos emits (here a click on a tracked link in a real email, received by a real
//! SMTP server) reach flows exactly like ingested events. A flow waiting for `Email Clicked` goes on when the
//! person clicks, a scanner's click moves nothing, and the library's sunset spares whoever clicked.

mod common;
#[path = "../../channels/tests/support/mod.rs"]
mod support;

use common::TestServer;
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};
use support::{ReceivedMail, SinkOptions, SmtpSink};

/// Real SMTP to the sink, no smart sending (the tests send two emails within hours).
fn smtp_config(dir: &std::path::Path, port: u16) {
    let toml = format!(
        "[email]\ntransport = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\
         from = \"Velo Shop <shop@velo.example>\"\n[sending]\nsmart_sending = \"off\"\n"
    );
    std::fs::write(dir.join("kairos.toml"), toml).unwrap();
}

/// The mails the sink received for `to`, oldest first.
fn mails_to(sink: &SmtpSink, to: &str) -> Vec<ReceivedMail> {
    sink.messages().into_iter().filter(|m| m.rcpt_tos.iter().any(|r| r == to)).collect()
}

/// Waits (up to 10 s) until `to` has received `n` mails; answers them, oldest first.
async fn wait_mails(sink: &SmtpSink, to: &str, n: usize) -> Vec<ReceivedMail> {
    for _ in 0..200 {
        let got = mails_to(sink, to);
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{to} received {} mails, expected {n}", mails_to(sink, to).len());
}

/// The body as a reader sees it: quoted-printable soft line breaks joined and `=3D` decoded.
fn decoded(mail: &ReceivedMail) -> String {
    mail.text().replace("=\r\n", "").replace("=3D", "=")
}

/// The path of the first tracked click link (`/c/...`) in the mail's HTML.
fn click_path(mail: &ReceivedMail) -> String {
    let body = decoded(mail);
    let href =
        body.split("href=\"").skip(1).map(|h| h.split('"').next().unwrap_or_default()).find(|h| h.contains("/c/"));
    let url = href.unwrap_or_else(|| panic!("no tracked link in the mail:\n{body}"));
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest[rest.find('/').unwrap()..].to_string()
}

async fn click(c: &mut HttpClient, path: &str, user_agent: &str) {
    let r = c.request("GET", path, &[("user-agent", user_agent)], Default::default()).await.unwrap();
    assert_eq!(r.status, 302, "a tracked link redirects");
}

async fn subscribed_person(c: &mut HttpClient, wk: &str, sk: &str, user: &str) {
    let traits = json!({"email": format!("{user}@example.com"), "first_name": user});
    assert_eq!(c.post_json("/v1/identify", wk, &json!({"userId": user, "traits": traits})).await.unwrap().status, 200);
    let consent = json!({"user_id": user, "channel": "email", "status": "subscribed"});
    assert_eq!(c.post_json("/api/v1/contacts/consent", sk, &consent).await.unwrap().status, 200);
}

async fn advance(c: &mut HttpClient, sk: &str, by: &str) {
    assert_eq!(c.post_json("/api/v1/dev/clock", sk, &json!({ "advance": by })).await.unwrap().status, 200);
}

async fn profile(c: &mut HttpClient, sk: &str, user: &str) -> Value {
    c.get(&format!("/api/v1/contacts?user_id={user}"), sk).await.unwrap().json()["items"][0].clone()
}

async fn start(sink: &SmtpSink) -> (TestServer, HttpClient) {
    let port = sink.port;
    let s = TestServer::start_with(|dir| smtp_config(dir, port));
    let mut c = s.client().await;
    let sk = s.keys.secret_key.clone();
    c.post_json("/api/v1/dev/clock", &sk, &json!({"set": "2030-03-02T10:00:00Z"})).await.unwrap();
    let r = c.put_json("/api/v1/settings", &sk, &json!({"store": {"url": "https://shop.example"}})).await;
    assert_eq!(r.unwrap().status, 200);
    (s, c)
}

#[tokio::test]
async fn a_flow_waiting_for_a_click_goes_on_when_a_person_clicks_a_real_email() {
    let sink = SmtpSink::start(SinkOptions::default());
    let (s, mut c) = start(&sink).await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    for (id, subject) in [("look", "Have a look"), ("thanks", "Glad you looked"), ("nudge", "Still there?")] {
        let html = format!("<p>{subject}</p><p><a href=\"https://shop.example/new\">New in</a></p>");
        let t = json!({"id": id, "channel": "email", "subject": subject, "html": html, "text": subject});
        assert_eq!(c.post_json("/api/v1/templates", sk, &t).await.unwrap().status, 201);
    }
    let flow = json!({"name": "Look", "trigger": {"type": "event", "event": "Newsletter Joined"},
        "steps": [
            {"id": "look", "type": "send", "channel": "email", "template": "look", "next": "wait"},
            {"id": "wait", "type": "wait_for", "event": "Email Clicked", "timeout": "1d", "next": "thanks", "timeout_next": "nudge"},
            {"id": "thanks", "type": "send", "channel": "email", "template": "thanks"},
            {"id": "nudge", "type": "send", "channel": "email", "template": "nudge"}]});
    let id = c.post_json("/api/v1/flows", sk, &flow).await.unwrap().json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/flows/{id}/activate"), sk, &json!({})).await.unwrap().status, 200);
    for u in ["ann", "bob"] {
        subscribed_person(&mut c, wk, sk, u).await;
        let ev = json!({"userId": u, "event": "Newsletter Joined"});
        assert_eq!(c.post_json("/v1/track", wk, &ev).await.unwrap().status, 200);
    }
    let ann = wait_mails(&sink, "ann@example.com", 1).await;
    let bob = wait_mails(&sink, "bob@example.com", 1).await;

    // bob's mail gateway follows the link at once (a scanner): on record, but the flow does not move.
    click(&mut c, &click_path(&bob[0]), "Mozilla/5.0 (compatible; Proofpoint URL Defense)").await;
    // ann reads her mail an hour later and clicks.
    advance(&mut c, sk, "1h").await;
    click(&mut c, &click_path(&ann[0]), "Mozilla/5.0 (Macintosh)").await;
    let ann = wait_mails(&sink, "ann@example.com", 2).await;
    assert_eq!(ann[1].header("Subject").as_deref(), Some("Glad you looked"));

    advance(&mut c, sk, "1d").await;
    let bob = wait_mails(&sink, "bob@example.com", 2).await;
    assert_eq!(bob[1].header("Subject").as_deref(), Some("Still there?"), "a scanner's click is not a person's");
    assert_eq!(mails_to(&sink, "ann@example.com").len(), 2, "ann's run ended after the thanks");
    let ann_id = profile(&mut c, sk, "ann").await["id"].clone();
    let events = c.get(&format!("/api/v1/contacts/{ann_id}/events"), sk).await;
    let events = events.unwrap().json();
    let names: Vec<&str> = events["items"].as_array().unwrap().iter().filter_map(|e| e["event"].as_str()).collect();
    assert!(names.contains(&"Email Clicked"), "the click is in ann's timeline: {names:?}");
    assert_eq!(names.iter().filter(|n| **n == "Flow Entered").count(), 1, "entering the flow is too: {names:?}");
}

#[tokio::test]
async fn the_library_sunset_spares_a_subscriber_who_clicks_the_last_call() {
    let sink = SmtpSink::start(SinkOptions::default());
    let (s, mut c) = start(&sink).await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    let r = c.post_json("/api/v1/flows/library/re_engagement/install", sk, &json!({})).await.unwrap();
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/flows/{id}/activate"), sk, &json!({})).await.unwrap().status, 200);
    for u in ["keeper", "leaver"] {
        subscribed_person(&mut c, wk, sk, u).await;
    }
    // 181 days without activity: both get the last call, by real email.
    advance(&mut c, sk, "181d").await;
    let keeper = wait_mails(&sink, "keeper@example.com", 1).await;
    wait_mails(&sink, "leaver@example.com", 1).await;
    assert_eq!(keeper[0].header("Subject").as_deref(), Some("Do you still want to hear from us?"));
    advance(&mut c, sk, "2h").await;
    click(&mut c, &click_path(&keeper[0]), "Mozilla/5.0 (iPhone)").await;

    advance(&mut c, sk, "15d").await;
    let leaver = profile(&mut c, sk, "leaver").await;
    assert_eq!(leaver["consent"]["email"]["status"], "unsubscribed", "{leaver}");
    let keeper = profile(&mut c, sk, "keeper").await;
    assert_eq!(keeper["consent"]["email"]["status"], "subscribed", "the click spared them: {keeper}");
    assert_eq!(keeper["traits"]["tags"], json!(["re-engaged"]), "{keeper}");
}

#[tokio::test]
async fn a_flow_feeding_itself_stops_after_a_bounded_chain_of_emitted_events() {
    // A flow triggered by the event its own step emits (`Task Created`), re-entering every time: each task queues
    // another `Task Created`. The chain is bounded (EMITTED_CHAIN_MAX = 8 emitted events may still move flows),
    // so the request is answered and the committer goes on.
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    let flow = json!({"name": "Echo", "trigger": {"type": "event", "event": "Task Created"},
        "entry": {"reentry": "always"}, "steps": [{"id": "again", "type": "task", "message": "again"}]});
    let id = c.post_json("/api/v1/flows", sk, &flow).await.unwrap().json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/flows/{id}/activate"), sk, &json!({})).await.unwrap().status, 200);
    let ev = json!({"userId": "loop", "event": "Task Created"});
    assert_eq!(c.post_json("/v1/track", wk, &ev).await.unwrap().status, 200);
    let tasks = common::all_items(&mut c, sk, "/api/v1/tasks").await;
    assert_eq!(tasks.len(), 9, "the ingested event and 8 emitted ones started a run each: {tasks:?}");
    let ev = json!({"userId": "other", "event": "Signed Up"});
    assert_eq!(c.post_json("/v1/track", wk, &ev).await.unwrap().status, 200, "the committer goes on");
}

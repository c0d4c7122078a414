//! Flow runs in the store, timers in memory (issue 17): the engine holds only the timers due within a window
//! ahead and reads runs from the store when they step. These check what that must never cost: a timer lost
//! across a restart, a run beyond the window left behind when its time comes, a run stepped twice.

mod common;

use common::TestServer;
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

async fn flow(c: &mut HttpClient, sk: &str, def: Value) -> String {
    let r = c.post_json("/api/v1/flows", sk, &def).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/flows/{id}/activate"), sk, &json!({})).await.unwrap().status, 200);
    id
}

/// A flow entered by `Ping` that waits `wait`, then sends template `t`.
fn waits(name: &str, wait: &str) -> Value {
    json!({"name": name, "trigger": {"type": "event", "event": "Ping"}, "entry": {"reentry": "once", "require_consent": false},
        "steps": [{"id": "wait", "type": "delay", "duration": wait, "next": "mail"},
                  {"id": "mail", "type": "send", "channel": "email", "template": "t", "transactional": true}]})
}

async fn setup(c: &mut HttpClient, sk: &str) {
    assert_eq!(
        c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-01-07T10:00:00Z"})).await.unwrap().status,
        200
    );
    let t = json!({"id": "t", "channel": "email", "subject": "Hi", "text": "x"});
    assert_eq!(c.post_json("/api/v1/templates", sk, &t).await.unwrap().status, 201);
}

async fn ping(c: &mut HttpClient, wk: &str, users: std::ops::Range<usize>) {
    for i in users {
        let batch = json!({"batch": [
            {"type": "identify", "userId": format!("u{i}"), "traits": {"email": format!("u{i}@example.com")}},
            {"type": "track", "userId": format!("u{i}"), "event": "Ping"}]});
        assert_eq!(c.post_json("/v1/batch", wk, &batch).await.unwrap().status, 200);
    }
}

async fn advance(c: &mut HttpClient, sk: &str, by: &str) {
    assert_eq!(c.post_json("/api/v1/dev/clock", sk, &json!({"advance": by})).await.unwrap().status, 200);
}

/// Messages the flow sent, each checked to be one per run and step.
async fn sent(c: &mut HttpClient, sk: &str, flow: &str) -> usize {
    let items = common::all_items(c, sk, &format!("/api/v1/outbox?flow_id={flow}&limit=100")).await;
    let mut ids: Vec<&str> = items.iter().map(|m| m["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), items.len(), "a message twice");
    items.len()
}

async fn stats(c: &mut HttpClient, sk: &str, flow: &str) -> Value {
    c.get(&format!("/api/v1/flows/{flow}/stats"), sk).await.unwrap().json()
}

#[tokio::test]
async fn timers_within_and_beyond_the_window_survive_restarts() {
    let mut s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.clone(), s.keys.secret_key.clone());
    setup(&mut c, &sk).await;
    // Five minutes is inside the window of timers the engine holds; two days is beyond it.
    let soon = flow(&mut c, &sk, waits("Soon", "5m")).await;
    let later = flow(&mut c, &sk, waits("Later", "2d")).await;
    ping(&mut c, &wk, 0..3).await;
    drop(c);
    s.kill();
    s.restart();
    let mut c = s.client().await;
    advance(&mut c, &sk, "4m").await;
    assert_eq!(sent(&mut c, &sk, &soon).await, 0, "not before its time");
    advance(&mut c, &sk, "2m").await;
    assert_eq!(sent(&mut c, &sk, &soon).await, 3, "each timer held before the restart fired after it");
    drop(c);
    s.terminate();
    s.restart();
    let mut c = s.client().await;
    advance(&mut c, &sk, "2d").await;
    assert_eq!(sent(&mut c, &sk, &later).await, 3);
    advance(&mut c, &sk, "1d").await;
    for f in [&soon, &later] {
        assert_eq!(sent(&mut c, &sk, f).await, 3, "nothing more later");
        let st = stats(&mut c, &sk, f).await;
        assert_eq!((st["entered"].as_u64(), st["active"].as_u64()), (Some(3), Some(0)), "{st}");
    }
}

#[tokio::test]
async fn a_run_beyond_the_window_is_picked_up_when_its_time_comes() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    setup(&mut c, sk).await;
    let day = flow(&mut c, sk, waits("A day", "1d")).await;
    ping(&mut c, wk, 0..2).await;
    // The window moves in steps; the timer is read from the store only when the window reaches it.
    for step in ["10h", "10h", "3h", "50m"] {
        advance(&mut c, sk, step).await;
        assert_eq!(sent(&mut c, sk, &day).await, 0, "not before its time ({step})");
    }
    advance(&mut c, sk, "11m").await;
    assert_eq!(sent(&mut c, sk, &day).await, 2);

    // Entered after the window was read ahead: one inside it (held as it is saved), one beyond it (read later).
    let inside = flow(&mut c, sk, waits("Inside", "5m")).await;
    let beyond = flow(&mut c, sk, waits("Beyond", "20m")).await;
    ping(&mut c, wk, 2..4).await;
    advance(&mut c, sk, "6m").await;
    assert_eq!((sent(&mut c, sk, &inside).await, sent(&mut c, sk, &beyond).await), (2, 0));
    advance(&mut c, sk, "15m").await;
    assert_eq!((sent(&mut c, sk, &inside).await, sent(&mut c, sk, &beyond).await), (2, 2));
}

#[tokio::test]
async fn a_run_steps_once_for_each_timer() {
    let mut s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.clone(), s.keys.secret_key.clone());
    setup(&mut c, &sk).await;
    // A task is not idempotent, so a step carried out twice shows; the zero delay makes each run due again in the
    // same tick, read back from the store after its first step.
    let def = json!({"name": "Twice?", "trigger": {"type": "event", "event": "Ping"}, "entry": {"reentry": "once", "require_consent": false},
        "steps": [{"id": "wait", "type": "delay", "duration": "1h", "next": "first"},
                  {"id": "first", "type": "task", "message": "first", "next": "again"},
                  {"id": "again", "type": "delay", "duration": "0s", "next": "second"},
                  {"id": "second", "type": "task", "message": "second", "next": "mail"},
                  {"id": "mail", "type": "send", "channel": "email", "template": "t", "transactional": true}]});
    let id = flow(&mut c, &sk, def).await;
    ping(&mut c, &wk, 0..40).await;
    // Paused while its timers come due, activated again (the window is read again), across a restart.
    assert_eq!(c.post_json(&format!("/api/v1/flows/{id}/pause"), &sk, &json!({})).await.unwrap().status, 200);
    advance(&mut c, &sk, "2h").await;
    assert_eq!(sent(&mut c, &sk, &id).await, 0, "a paused flow holds its runs");
    drop(c);
    s.kill();
    s.restart();
    let mut c = s.client().await;
    assert_eq!(c.post_json(&format!("/api/v1/flows/{id}/activate"), &sk, &json!({})).await.unwrap().status, 200);
    advance(&mut c, &sk, "1m").await;
    advance(&mut c, &sk, "1h").await;
    assert_eq!(sent(&mut c, &sk, &id).await, 40);
    let tasks = common::all_items(&mut c, &sk, "/api/v1/tasks?limit=100").await;
    for message in ["first", "second"] {
        assert_eq!(tasks.iter().filter(|t| t["message"] == message).count(), 40, "{message}: one task per run");
    }
    let st = stats(&mut c, &sk, &id).await;
    assert_eq!((st["entered"].as_u64(), st["active"].as_u64()), (Some(40), Some(0)), "{st}");
    for step in ["wait", "first", "again", "second", "mail"] {
        assert_eq!(st["steps"][step]["entered"], 40, "{step} visited once per run: {st}");
    }
}

/// A send is Kairos's own doing, not the person's: the contact's profile, its `updated_at` included, is left as
/// the person's last event made it (issue 17: a timer's send no longer rewrites its contact's row), before and
/// after a restart.
#[tokio::test]
async fn a_send_leaves_the_profile_as_the_person_left_it() {
    let mut s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.clone(), s.keys.secret_key.clone());
    setup(&mut c, &sk).await;
    let f = flow(&mut c, &sk, waits("Later", "1h")).await;
    ping(&mut c, &wk, 0..1).await;
    let profile = |v: Value| v["items"][0].clone();
    let before = profile(c.get("/api/v1/contacts?user_id=u0", &sk).await.unwrap().json());
    assert!(before["updated_at"].is_string(), "{before}");
    advance(&mut c, &sk, "61m").await;
    assert_eq!(sent(&mut c, &sk, &f).await, 1);
    let after = profile(c.get("/api/v1/contacts?user_id=u0", &sk).await.unwrap().json());
    assert_eq!(after["updated_at"], before["updated_at"], "{after}");
    drop(c);
    s.kill();
    s.restart();
    let mut c = s.client().await;
    let restarted = profile(c.get("/api/v1/contacts?user_id=u0", &sk).await.unwrap().json());
    assert_eq!(restarted["updated_at"], before["updated_at"], "{restarted}");
}

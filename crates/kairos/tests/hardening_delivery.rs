//! Issue 10, delivery: an unsubscribe answered during a campaign stops that person's message (consent and
//! suppression are checked again when a message is handed to its transport, and campaigns are queued in
//! bounded waves); webhook steps cannot reach loopback, private or link-local addresses unless the operator
//! allows them in `kairos.toml`.

mod common;
mod sends;
#[path = "../../channels/tests/support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::TestServer;
use sends::{Unsubscribes, address};
use serde_json::{Value, json};
use support::{SinkOptions, SmtpSink};

const CONTACTS: usize = 1_200;
/// Every third contact unsubscribes while the campaign is being sent.
const UNSUBSCRIBE_EVERY: usize = 3;
const UNSUBSCRIBERS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_campaign_message_leaves_after_an_unsubscribe_was_answered() {
    // Each unsubscribe is a commit, slower on a server database: the campaign goes out more slowly there, so
    // that the unsubscribes still race it (the point of the test).
    let delay_ms = if common::postgres_mode() { 8 } else { 3 };
    let sink = SmtpSink::start(SinkOptions { delay_ms, ..Default::default() });
    let port = sink.port;
    let s = TestServer::start_with(|dir| sends::smtp_config(dir, port));
    let sk = s.keys.secret_key.clone();
    let mut c = s.client().await;
    c.post_json("/api/v1/dev/clock", &sk, &json!({"set": "2030-06-01T12:00:00Z"})).await.unwrap();
    sends::subscribed_contacts(&mut c, &sk, 0..CONTACTS).await;
    let id = sends::campaign_to_subscribers(&mut c, &sk, CONTACTS).await;

    // Watch how many messages wait for a transport while the campaign goes out.
    let most_queued = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (most_queued, done, sk, id) = (most_queued.clone(), done.clone(), sk.clone(), id.clone());
        let mut c = s.client().await;
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                let v = sends::campaign(&mut c, &sk, &id).await;
                most_queued.fetch_max(v["stats"]["by_status"]["queued"].as_u64().unwrap_or(0), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    // Once the first messages arrive, a third of the audience unsubscribes, in an order unrelated to sending.
    sends::wait_for_mails(&sink, 1).await;
    let mut who: Vec<usize> = (0..CONTACTS).filter(|i| i % UNSUBSCRIBE_EVERY == 1).collect();
    who.sort_by_key(|i| (i * 7919) % CONTACTS);
    let unsubscribes = Unsubscribes::default();
    let clients = (UNSUBSCRIBERS, Duration::ZERO);
    unsubscribes.run(s.addr, &sk, Arc::new(Mutex::new(who)), clients, Arc::new(|_: &str| false)).await;
    let answered = unsubscribes.answered();
    assert_eq!(answered.len(), CONTACTS / UNSUBSCRIBE_EVERY);
    let last_answer = answered.values().max().copied().unwrap();

    let v = sends::campaign_settled(&mut c, &sk, &id).await;
    done.store(true, Ordering::Relaxed);
    watcher.await.unwrap();

    let mails = sends::mails_by_recipient(&sink);
    let late = sends::mails_after_unsubscribe(&mails, &answered);
    assert!(
        late.is_empty(),
        "{} messages arrived after their unsubscribe was answered, e.g. {:?}",
        late.len(),
        &late[..3.min(late.len())]
    );
    assert!(mails.values().all(|l| l.len() == 1), "someone was mailed twice");
    // Not vacuous: unsubscribes were answered while the campaign was still going out, and stopped messages.
    let after = mails.values().flatten().filter(|(_, at)| *at > last_answer).count();
    let stopped = answered.keys().filter(|a| !mails.contains_key(*a)).count();
    assert!(stopped >= 100, "only {stopped} unsubscribes came before their message");
    assert!(after >= 20 || stopped >= 250, "the campaign ended before the unsubscribes: {after} mails after the last");
    assert!((0..CONTACTS).filter(|i| i % UNSUBSCRIBE_EVERY != 1).all(|i| mails.contains_key(&address(i))));

    // The numbers agree with the SMTP server: everyone is sent or skipped, once.
    let stats = &v["stats"];
    assert_eq!(stats["sent"].as_u64(), Some(mails.len() as u64), "{v}");
    assert_eq!(stats["skipped"].as_u64(), Some(stopped as u64), "{v}");
    assert_eq!(stats["messages"].as_u64(), Some(CONTACTS as u64), "{v}");
    assert_eq!(stats["failed"].as_u64(), Some(0), "{v}");
    assert_eq!(stats["processed"].as_u64(), Some(CONTACTS as u64), "{v}");
    // Queued in waves: never the whole audience waiting for a transport at once.
    let most = most_queued.load(Ordering::Relaxed);
    assert!(most <= kairos_engine::CAMPAIGN_WAVE_RECIPIENTS_MAX as u64, "{most} messages were queued at once");
}

fn webhook_flow(name: &str, event: &str, url: &str) -> Value {
    json!({"name": name, "trigger": {"type": "event", "event": event},
           "steps": [{"id": "call", "type": "webhook", "url": url}]})
}

#[tokio::test]
async fn webhook_steps_cannot_reach_loopback_private_or_link_local_addresses() {
    let hook = common::Recorder::start(|_, _| (200, "{}".into())).await;
    let port = hook.addr.port();
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());

    // Written as addresses (or localhost): refused when the flow is saved, naming the step's url.
    for url in [
        format!("http://127.0.0.1:{port}/steal"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        format!("http://[::1]:{port}/steal"),
        format!("http://localhost:{port}/steal"),
        "http://10.0.0.7/internal".to_string(),
        "http://[::ffff:192.168.1.1]/router".to_string(),
    ] {
        let r = c.post_json("/api/v1/flows", sk, &webhook_flow("Leak", "Order Completed", &url)).await.unwrap();
        assert_eq!(r.status, 400, "{url}: {:?}", r.json());
        let e = &r.json()["error"];
        assert_eq!(e["field"], "steps[0].url", "{url}: {e}");
        assert!(e["message"].as_str().unwrap().contains("outbound_allow"), "{url}: {e}");
    }
    // An edit cannot bring one in either.
    let ok = webhook_flow("Public", "Order Completed", "https://hooks.example.com/orders");
    let r = c.post_json("/api/v1/flows", sk, &ok).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let bad = webhook_flow("Public", "Order Completed", "http://169.254.169.254/latest/meta-data/");
    let r = c.put_json(&format!("/api/v1/flows/{id}"), sk, &bad).await.unwrap();
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("steps[0].url")), "{:?}", r.json());

    // A name that resolves to loopback (here `127.1`, which getaddrinfo reads as 127.0.0.1) is checked when the
    // call is made: the message fails with the reason, is not retried, and the receiver never hears of it.
    let url = format!("http://127.1:{port}/steal");
    let r = c.post_json("/api/v1/flows", sk, &webhook_flow("Sneaky", "Sneak", &url)).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/flows/{id}/activate"), sk, &json!({})).await.unwrap().status, 200);
    c.post_json("/v1/identify", wk, &json!({"userId": "v", "traits": {"email": "v@example.com"}})).await.unwrap();
    c.post_json("/v1/track", wk, &json!({"userId": "v", "event": "Sneak"})).await.unwrap();
    let m = common::wait_status(&mut c, sk, &url, "failed").await;
    let reason = m["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("127.0.0.1") && reason.contains("loopback"), "{m}");
    let history: Vec<&str> = m["history"].as_array().unwrap().iter().map(|h| h["status"].as_str().unwrap()).collect();
    assert_eq!(history, vec!["queued", "failed"], "not retried: {m}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(hook.received().is_empty(), "the local receiver was called: {:?}", hook.received());
}

#[tokio::test]
async fn the_operator_allow_list_lets_webhooks_reach_a_listed_internal_address() {
    let hook = common::Recorder::start(|_, _| (200, "{}".into())).await;
    let port = hook.addr.port();
    let s = TestServer::start_with(|dir| {
        std::fs::write(dir.join("kairos.toml"), "[network]\noutbound_allow = [\"127.0.0.0/8\"]\n").unwrap()
    });
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    let url = format!("http://127.0.0.1:{port}/erp");
    let r = c.post_json("/api/v1/flows", sk, &webhook_flow("ERP", "Order Completed", &url)).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/flows/{id}/activate"), sk, &json!({})).await.unwrap().status, 200);
    // What the list does not name stays refused.
    let meta = webhook_flow("Meta", "Order Completed", "http://169.254.169.254/latest/meta-data/");
    assert_eq!(c.post_json("/api/v1/flows", sk, &meta).await.unwrap().status, 400);
    c.post_json("/v1/identify", wk, &json!({"userId": "w", "traits": {"email": "w@example.com"}})).await.unwrap();
    c.post_json("/v1/track", wk, &json!({"userId": "w", "event": "Order Completed", "properties": {"total": 5}}))
        .await
        .unwrap();
    let got = hook.wait_for(1).await;
    assert_eq!(got[0].path, "/erp");
    common::wait_status(&mut c, sk, &url, "sent").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_receipt_does_not_wait_behind_a_campaign_wave() {
    // A slow receiving server: a full wave of campaign messages takes most of a second to go out.
    let sink = SmtpSink::start(SinkOptions { delay_ms: 20, ..Default::default() });
    let port = sink.port;
    let s = TestServer::start_with(|dir| sends::smtp_config(dir, port));
    let (wk, sk) = (s.keys.write_key.clone(), s.keys.secret_key.clone());
    let mut c = s.client().await;
    c.post_json("/api/v1/dev/clock", &sk, &json!({"set": "2030-06-01T12:00:00Z"})).await.unwrap();
    let tpl = json!({"id": "receipt", "channel": "email", "subject": "Your receipt", "text": "Thanks"});
    assert_eq!(c.post_json("/api/v1/templates", &sk, &tpl).await.unwrap().status, 201);
    let flow = json!({"name": "Receipt", "trigger": {"type": "event", "event": "Order Completed"},
        "steps": [{"id": "mail", "type": "send", "channel": "email", "template": "receipt", "transactional": true}]});
    let id = c.post_json("/api/v1/flows", &sk, &flow).await.unwrap().json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/flows/{id}/activate"), &sk, &json!({})).await.unwrap().status, 200);
    sends::subscribed_contacts(&mut c, &sk, 0..600).await;
    sends::campaign_to_subscribers(&mut c, &sk, 600).await;
    sends::wait_for_mails(&sink, 1).await;

    let body = json!({"userId": "u5", "event": "Order Completed", "properties": {"total": 20}});
    assert_eq!(c.post_json("/v1/track", &wk, &body).await.unwrap().status, 200);
    let before = sends::eml_count(&sink);
    for _ in 0..1000 {
        let mails = sink.messages();
        if let Some(pos) = mails.iter().position(|m| m.header("Subject").as_deref() == Some("Your receipt")) {
            // Only about the messages already handed to the transport went first (give or take the sessions
            // finishing while the count was read), not the queued wave behind them.
            let ahead = pos.saturating_sub(before);
            let most = kairos_engine::HANDOFF_IN_FLIGHT_MAX + 16;
            assert!(ahead <= most, "{ahead} campaign messages went before the receipt");
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the receipt never arrived");
}

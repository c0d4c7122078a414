//! Crash suite for sending, counted at a real SMTP server (aiosmtpd): SIGKILL while events are ingested and a
//! flow mails each of them, and SIGKILL in the middle of a campaign while recipients unsubscribe. After the
//! restart: no acknowledged event is lost and each is mailed, nobody gets two different messages nor one
//! twice (email's point of no return is committed before its content goes), and nothing reaches an address
//! after its unsubscribe was answered.
//! (`crash.rs` covers ingestion alone.)

mod common;
mod sends;
#[path = "../../channels/tests/support/mod.rs"]
mod support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::TestServer;
use kairos_bench::client::HttpClient;
use sends::{Unsubscribes, address};
use serde_json::json;
use support::{SinkOptions, SmtpSink};

const FLOW_USERS: usize = 1_200;
const WRITERS: usize = 4;
const EVENTS_PER_BATCH: usize = 10;

/// Every stored `Order Completed` message id, with how many times it is stored.
async fn stored_orders(c: &mut HttpClient, sk: &str) -> HashMap<String, usize> {
    let mut out: HashMap<String, usize> = HashMap::new();
    for e in common::all_items(c, sk, "/api/v1/events?limit=1000").await {
        if e["event"] == "Order Completed" {
            *out.entry(e["message_id"].as_str().unwrap().to_string()).or_default() += 1;
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_while_a_flow_mails_each_event_loses_nothing_and_repeats_nothing() {
    // A slow receiving server, so that sends lag behind ingestion.
    let sink = SmtpSink::start(SinkOptions { delay_ms: 20, ..Default::default() });
    let port = sink.port;
    let mut server = TestServer::start_with(|dir| sends::smtp_config(dir, port));
    let sk = server.keys.secret_key.clone();
    let mut c = server.client().await;
    let flow_id = sends::receipt_flow(&mut c, &sk).await;
    sends::subscribed_contacts(&mut c, &sk, 0..FLOW_USERS).await;

    // Writers send one order per user, paced so that ingestion is still going when the server is killed.
    let acked: Arc<Mutex<HashSet<usize>>> = Arc::default();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let (addr, wk, acked) = (server.addr, server.keys.write_key.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            let Ok(mut c) = HttpClient::connect(addr).await else { return };
            let mine: Vec<usize> = (w..FLOW_USERS).step_by(WRITERS).collect();
            for users in mine.chunks(EVENTS_PER_BATCH) {
                let batch: Vec<_> = users
                    .iter()
                    .map(|i| {
                        json!({"type": "track", "messageId": format!("ord-{i}"), "userId": format!("u{i}"),
                                    "event": "Order Completed", "properties": {"order": i, "total": 10}})
                    })
                    .collect();
                match c.post_json("/v1/batch", &wk, &json!({ "batch": batch })).await {
                    Ok(r) if r.status == 200 => acked.lock().unwrap().extend(users),
                    _ => return, // the server died mid-request: this batch may or may not be stored
                }
                tokio::time::sleep(Duration::from_millis(60)).await;
            }
        }));
    }
    // Kill once most orders are in and sending is well under way.
    for _ in 0..1500 {
        if acked.lock().unwrap().len() >= FLOW_USERS / 2 && sends::eml_count(&sink) >= 100 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let mailed_before = sends::eml_count(&sink);
    assert!(acked.len() < FLOW_USERS, "ingestion had finished before the kill");
    assert!(mailed_before + 50 < acked.len(), "most sends had finished before the kill");

    server.restart();
    let mut c = server.client().await;
    let stored = stored_orders(&mut c, &sk).await;
    let lost: Vec<_> = acked.iter().filter(|i| !stored.contains_key(&format!("ord-{i}"))).collect();
    assert!(lost.is_empty(), "{} acknowledged events lost, e.g. ord-{}", lost.len(), lost[0]);
    assert!(stored.values().all(|&n| n == 1), "an event was stored twice");
    // Every stored order is mailed, acknowledged or not (its send committed with it).
    let expected: HashSet<String> =
        stored.keys().map(|id| address(id.trim_start_matches("ord-").parse().unwrap())).collect();
    let mut mails = HashMap::new();
    for _ in 0..400 {
        mails = sends::mails_by_recipient(&sink);
        let queued =
            common::all_items(&mut c, &sk, &format!("/api/v1/messages?flow_id={flow_id}&status=queued&limit=1000"))
                .await
                .len();
        if queued == 0 && expected.iter().all(|a| mails.contains_key(a)) {
            break;
        }
        if queued == 0 {
            let unconfirmed =
                sends::unconfirmed(&mut c, &sk, &format!("/api/v1/messages?flow_id={flow_id}&limit=1000")).await;
            if expected.iter().all(|a| mails.contains_key(a) || unconfirmed.contains(a)) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Only a message whose content was on its way when the node died may be missing, recorded as such.
    let path = format!("/api/v1/messages?flow_id={flow_id}&limit=1000");
    let unconfirmed = sends::unconfirmed(&mut c, &sk, &path).await;
    assert!(unconfirmed.len() <= sends::SMTP_SESSIONS, "{} unconfirmed", unconfirmed.len());
    let missing: Vec<_> = expected.iter().filter(|a| !mails.contains_key(*a) && !unconfirmed.contains(*a)).collect();
    assert!(missing.is_empty(), "{} stored orders never mailed, e.g. {}", missing.len(), missing[0]);
    let unexpected: Vec<_> = mails.keys().filter(|a| !expected.contains(*a)).collect();
    assert!(unexpected.is_empty(), "mailed without a stored order: {unexpected:?}");
    let twice = sends::distinct_duplicates(&mails);
    assert!(twice.is_empty(), "two different messages for one order: {twice:?}");
    assert_eq!(sends::repeats(&mails), 0, "an order was mailed twice");
    let statuses = common::all_items(&mut c, &sk, &format!("/api/v1/messages?flow_id={flow_id}&limit=1000")).await;
    assert_eq!(statuses.len(), stored.len(), "one message per order");
    assert!(statuses.iter().all(|m| m["status"] == "sent"), "every message is sent");
}

const CAMPAIGN_USERS: usize = 900;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_a_campaign_sends_nothing_after_an_answered_unsubscribe() {
    let sink = SmtpSink::start(SinkOptions { delay_ms: 3, ..Default::default() });
    let port = sink.port;
    let mut server = TestServer::start_with(|dir| sends::smtp_config(dir, port));
    let sk = server.keys.secret_key.clone();
    let mut c = server.client().await;
    c.post_json("/api/v1/dev/clock", &sk, &json!({"set": "2030-06-01T12:00:00Z"})).await.unwrap();
    sends::subscribed_contacts(&mut c, &sk, 0..CAMPAIGN_USERS).await;
    let id = sends::campaign_to_subscribers(&mut c, &sk, CAMPAIGN_USERS).await;

    // A third of the audience unsubscribes while the campaign goes out; the server is killed midway.
    let mut who: Vec<usize> = (0..CAMPAIGN_USERS).filter(|i| i % 3 == 1).collect();
    who.sort_by_key(|i| (i * 7919) % CAMPAIGN_USERS);
    let candidates = who.len();
    let who = Arc::new(Mutex::new(who));
    let unsubscribes = Unsubscribes::default();
    sends::wait_for_mails(&sink, 1).await;
    let phase1 = {
        let (u, addr, sk, who) = (unsubscribes.clone(), server.addr, sk.clone(), who.clone());
        // Slowly, so that the kill comes while unsubscribes are being answered.
        let pace = (2, Duration::from_millis(3));
        tokio::spawn(async move { u.run(addr, &sk, who, pace, Arc::new(|_: &str| false)).await })
    };
    sends::wait_for_mails(&sink, CAMPAIGN_USERS / 4).await;
    server.kill();
    phase1.await.unwrap();
    let answered_before = unsubscribes.answered().len();
    let mailed_before: HashSet<String> = sends::mails_by_recipient(&sink).into_keys().collect();
    assert!(answered_before >= 20, "only {answered_before} unsubscribes answered before the kill");
    assert!(who.lock().unwrap().len() >= 20, "every unsubscribe was done before the kill");

    // After the restart the campaign goes on, and the rest unsubscribe (not those already mailed: a mail
    // accepted just before the kill may not be recorded, and would then count as skipped).
    server.restart();
    let skip: Arc<dyn Fn(&str) -> bool + Send + Sync> = Arc::new(move |to: &str| mailed_before.contains(to));
    unsubscribes.run(server.addr, &sk, who, (4, Duration::ZERO), skip).await;
    let mut c = server.client().await;
    let v = sends::campaign_settled(&mut c, &sk, &id).await;

    let answered = unsubscribes.answered();
    let mails = sends::mails_by_recipient(&sink);
    let late = sends::mails_after_unsubscribe(&mails, &answered);
    assert!(late.is_empty(), "{} messages arrived after their unsubscribe was answered: {late:?}", late.len());
    let twice = sends::distinct_duplicates(&mails);
    assert!(twice.is_empty(), "two different messages to one recipient: {twice:?}");
    assert_eq!(sends::repeats(&mails), 0, "a recipient got the campaign twice");
    let unconfirmed = sends::unconfirmed(&mut c, &sk, &format!("/api/v1/messages?campaign_id={id}&limit=1000")).await;
    assert!(unconfirmed.len() <= sends::SMTP_SESSIONS, "{} unconfirmed", unconfirmed.len());
    let never: Vec<String> = (0..CAMPAIGN_USERS).filter(|i| i % 3 != 1).map(address).collect();
    let lost: Vec<_> = never.iter().filter(|a| !mails.contains_key(*a) && !unconfirmed.contains(*a)).collect();
    assert!(lost.is_empty(), "{} subscribers never got the campaign, e.g. {}", lost.len(), lost[0]);
    let stopped = answered.keys().filter(|a| !mails.contains_key(*a)).count();
    assert!(stopped >= 50, "only {stopped} of {candidates} unsubscribes stopped a message");

    // The campaign's numbers: everyone once, sent or skipped; sent as the SMTP server saw it, but for the
    // messages recorded sent unconfirmed (on their way when the node died).
    let stats = &v["stats"];
    let (sent, skipped) = (stats["sent"].as_u64().unwrap(), stats["skipped"].as_u64().unwrap());
    assert_eq!((stats["messages"].as_u64(), stats["failed"].as_u64()), (Some(CAMPAIGN_USERS as u64), Some(0)), "{v}");
    assert_eq!(sent + skipped, CAMPAIGN_USERS as u64, "{v}");
    let at_sink = mails.len() as u64;
    let unsure = unconfirmed.len() as u64;
    assert!(
        sent - unsure <= at_sink && at_sink <= sent,
        "sent {sent} ({unsure} unconfirmed), at the sink {at_sink}: {v}"
    );
}

//! Several nodes on one PostgreSQL database, as real processes: three `kairos serve` nodes, clients spreading
//! their requests over all of them, and the node running the engine SIGKILLed during sustained ingestion, during
//! a flow's sends and during a campaign. Afterwards: no acknowledged event lost or stored twice, the survivors
//! took over within the lease's bound, nobody got two different messages (at the outbox and at a real SMTP
//! server), and segment memberships equal a from-scratch evaluation. PostgreSQL only (`./test.sh` runs this
//! file with `KAIROS_TEST_BACKEND=postgres`); an embedded database serves one node.

mod common;
mod sends;
#[path = "../../channels/tests/support/mod.rs"]
mod support;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TestServer;
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};
use support::{SinkOptions, SmtpSink};

/// The failover bound the issue sets: a dead node's work moves to the survivors within this.
const FAILOVER_MAX: Duration = Duration::from_secs(10);
/// How long a client keeps retrying one request over the nodes before giving up.
const RETRY_FOR: Duration = Duration::from_secs(30);

/// Three nodes on one database: the first (started alone, so it runs the engine) and two that forward to it.
struct Cluster {
    nodes: Vec<TestServer>,
}

impl Cluster {
    fn start(setup: impl FnOnce(&std::path::Path)) -> Option<Cluster> {
        if !common::postgres_mode() {
            eprintln!("several nodes need a shared database: run with KAIROS_TEST_BACKEND=postgres (./test.sh does)");
            return None;
        }
        let first = TestServer::start_with(setup);
        let others: Vec<TestServer> =
            (0..2).map(|_| TestServer::serve(&first.dir, None, first.keys.clone(), &[], &[])).collect();
        let mut nodes = vec![first];
        nodes.extend(others);
        Some(Cluster { nodes })
    }

    fn addrs(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|n| n.addr).collect()
    }

    fn keys(&self) -> common::Keys {
        self.nodes[0].keys.clone()
    }
}

/// POSTs `body` to the nodes in turn from `start` until one answers 200 (a node may be dead or failing over:
/// 503 or no answer); the answer's time, or None after [`RETRY_FOR`].
async fn post_anywhere(addrs: &[SocketAddr], start: usize, path: &str, key: &str, body: &Value) -> Option<Instant> {
    let until = Instant::now() + RETRY_FOR;
    let mut i = start;
    while Instant::now() < until {
        let addr = addrs[i % addrs.len()];
        i += 1;
        if let Ok(mut c) = HttpClient::connect(addr).await {
            match c.post_json(path, key, body).await {
                Ok(r) if r.status == 200 => return Some(Instant::now()),
                Ok(r) if r.status == 503 => {}
                Ok(r) => panic!("{path} answered {}: {:?}", r.status, r.json()),
                Err(_) => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// A client of a live node, waiting (up to [`RETRY_FOR`]) until the engine answers through it.
async fn client_of(addr: SocketAddr) -> HttpClient {
    let until = Instant::now() + RETRY_FOR;
    loop {
        if let Ok(mut c) = HttpClient::connect(addr).await
            && c.get("/healthz", "").await.is_ok_and(|r| r.status == 200)
        {
            return c;
        }
        assert!(Instant::now() < until, "node {addr} never answered through a running engine");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Shoppers the ingestion test spreads its events over.
const SHOPPERS: usize = 300;
const WRITERS: usize = 6;
const BATCHES: usize = 60;
const BATCH_EVENTS: usize = 20;

fn user_of(writer: usize, n: usize, i: usize) -> usize {
    (writer * 7919 + n * 131 + i * 17) % SHOPPERS
}

/// What each shopper did, from the acknowledged events (each stored exactly once): (orders, product views).
fn activity(acked: &HashSet<String>) -> HashMap<String, (usize, usize)> {
    let mut out: HashMap<String, (usize, usize)> = HashMap::new();
    for id in acked {
        let parts: Vec<usize> = id.split('-').map(|p| p[1..].parse().unwrap()).collect();
        let (w, n, i) = (parts[0], parts[1], parts[2]);
        let a = out.entry(format!("user-{}", user_of(w, n, i))).or_default();
        if i % 5 == 4 { a.0 += 1 } else { a.1 += 1 }
    }
    out
}

fn ingest_batch(writer: usize, n: usize) -> (Vec<String>, Value) {
    let ids: Vec<String> = (0..BATCH_EVENTS).map(|i| format!("w{writer}-b{n}-e{i}")).collect();
    let items: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            json!({"type": "track", "messageId": id, "userId": format!("user-{}", user_of(writer, n, i)),
                   "event": if i % 5 == 4 { "Order Completed" } else { "Product Viewed" },
                   "properties": {"product_id": format!("p{}", i % 5), "price": 9.5, "total": 19.0}})
        })
        .collect();
    (ids, json!({ "batch": items }))
}

/// User ids of a saved segment's members (every page).
async fn members(c: &mut HttpClient, sk: &str, id: &str) -> HashSet<String> {
    let items = common::all_items(c, sk, &format!("/api/v1/segments/{id}/members?limit=500")).await;
    items.iter().map(|m| m["user_id"].as_str().expect("member user id").to_string()).collect()
}

/// How many contacts the stored data puts in `definition` (a preview evaluates it from scratch).
async fn preview_count(c: &mut HttpClient, sk: &str, definition: &str) -> u64 {
    let r = c.post_json("/api/v1/segments/preview", sk, &json!({"definition": definition, "sample": 1})).await;
    r.unwrap().json()["count"].as_u64().expect("a count")
}

/// Segments kept live through the failover, with the oracle of each over (orders, product views).
type Oracle = fn((usize, usize)) -> bool;
const SEGMENTS: [(&str, Oracle); 3] = [
    ("orders.count >= 5", |(orders, _)| orders >= 5),
    (r#"count("Product Viewed") >= 20"#, |(_, views)| views >= 20),
    (r#"did "Order Completed" within 7d and count("Product Viewed") < 20"#, |(orders, views)| orders > 0 && views < 20),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_the_engine_node_during_ingestion_over_three_nodes_loses_nothing() {
    let Some(mut cluster) = Cluster::start(|_| {}) else { return };
    let (keys, addrs) = (cluster.keys(), cluster.addrs());
    let mut c = client_of(addrs[1]).await;
    let mut segment_ids = Vec::new();
    for (n, (definition, _)) in SEGMENTS.iter().enumerate() {
        let body = json!({"name": format!("Segment {n}"), "definition": definition});
        let r = c.post_json("/api/v1/segments", &keys.secret_key, &body).await.unwrap();
        assert_eq!(r.status, 201, "created through a forwarding node: {:?}", r.json());
        segment_ids.push(r.json()["id"].as_str().unwrap().to_string());
    }

    // Six writers, each sending its batches to the nodes in turn (and to the next one when a node fails), until
    // every batch is acknowledged; the engine's node is killed a third of the way through.
    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let ack_times: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let (addrs, wk, acked, times) = (addrs.clone(), keys.write_key.clone(), acked.clone(), ack_times.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0..BATCHES {
                let (ids, body) = ingest_batch(w, n);
                let at = post_anywhere(&addrs, w + n, "/v1/batch", &wk, &body).await.expect("some node accepts");
                acked.lock().unwrap().extend(ids);
                times.lock().unwrap().push(at);
            }
        }));
    }
    let total = WRITERS * BATCHES * BATCH_EVENTS;
    while acked.lock().unwrap().len() < total / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cluster.nodes[0].kill();
    let kill = Instant::now();
    let at_kill = acked.lock().unwrap().len();
    for t in tasks {
        t.await.unwrap();
    }
    assert!(at_kill < total * 2 / 3, "ingestion had mostly finished before the kill");
    let first_after = ack_times.lock().unwrap().iter().copied().filter(|t| *t > kill).min().expect("acks after");
    let failover = first_after - kill;
    eprintln!("failover: first acknowledgement {failover:?} after the SIGKILL");
    assert!(failover < FAILOVER_MAX, "the survivors took {failover:?} to take over");

    // The killed node comes back as a follower and forwards to the new engine node.
    cluster.nodes[0].restart();
    let mut c = client_of(cluster.nodes[0].addr).await;
    let sk = keys.secret_key.as_str();
    let mut stored: HashMap<String, usize> = HashMap::new();
    for e in common::all_items(&mut c, sk, "/api/v1/events?limit=1000").await {
        // The clients' events (the engine adds its own: Segment Entered, ...).
        if !["Product Viewed", "Order Completed"].contains(&e["event"].as_str().unwrap_or_default()) {
            continue;
        }
        *stored.entry(e["message_id"].as_str().unwrap().to_string()).or_default() += 1;
    }
    let acked = acked.lock().unwrap().clone();
    assert_eq!(acked.len(), total, "every batch was acknowledged in the end");
    let lost: Vec<&String> = acked.iter().filter(|id| !stored.contains_key(*id)).collect();
    assert!(lost.is_empty(), "{} acknowledged events lost, e.g. {:?}", lost.len(), lost.first());
    assert!(stored.values().all(|&n| n == 1), "an event was stored twice");
    assert_eq!(stored.len(), acked.len());

    // Memberships kept live through the failover equal a from-scratch evaluation of the stored events: the
    // oracle's, over what each shopper did, and the preview's, over the stored data.
    let activity = activity(&acked);
    for (id, (definition, oracle)) in segment_ids.iter().zip(SEGMENTS) {
        let live = members(&mut c, sk, id).await;
        let want: HashSet<String> = activity.iter().filter(|(_, a)| oracle(**a)).map(|(u, _)| u.clone()).collect();
        assert!(
            want.len() > 20 && want.len() + 20 < activity.len(),
            "{definition}: {} of {}",
            want.len(),
            activity.len()
        );
        assert_eq!(live.len(), want.len(), "{definition}");
        assert_eq!(live, want, "{definition}");
        assert_eq!(preview_count(&mut c, sk, definition).await, want.len() as u64, "{definition}");
    }
}

/// Orders for users `users`, spread over the nodes; the acknowledged users.
async fn order_writers(addrs: Vec<SocketAddr>, wk: String, users: usize, acked: Arc<Mutex<HashSet<usize>>>) {
    let mut tasks = Vec::new();
    for w in 0..4 {
        let (addrs, wk, acked) = (addrs.clone(), wk.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            let mine: Vec<usize> = (w..users).step_by(4).collect();
            for (n, chunk) in mine.chunks(10).enumerate() {
                let batch: Vec<Value> = chunk
                    .iter()
                    .map(|i| {
                        json!({"type": "track", "messageId": format!("ord-{i}"), "userId": format!("u{i}"),
                               "event": "Order Completed", "properties": {"order": i, "total": 10}})
                    })
                    .collect();
                let body = json!({ "batch": batch });
                post_anywhere(&addrs, w + n, "/v1/batch", &wk, &body).await.expect("some node accepts");
                acked.lock().unwrap().extend(chunk);
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

const FLOW_USERS: usize = 800;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_the_engine_node_while_a_flow_mails_sends_each_order_once() {
    let sink = SmtpSink::start(SinkOptions { delay_ms: 15, ..Default::default() });
    let port = sink.port;
    let Some(mut cluster) = Cluster::start(|dir| sends::smtp_config(dir, port)) else { return };
    let (keys, addrs) = (cluster.keys(), cluster.addrs());
    let sk = keys.secret_key.clone();
    let mut c = client_of(addrs[2]).await;
    let flow_id = sends::receipt_flow(&mut c, &sk).await;
    sends::subscribed_contacts(&mut c, &sk, 0..FLOW_USERS).await;

    let acked: Arc<Mutex<HashSet<usize>>> = Arc::default();
    let writers = tokio::spawn(order_writers(addrs.clone(), keys.write_key.clone(), FLOW_USERS, acked.clone()));
    // Kill the engine's node once sending is well under way and orders are still coming in.
    for _ in 0..3000 {
        if acked.lock().unwrap().len() >= FLOW_USERS / 3 && sends::eml_count(&sink) >= 60 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cluster.nodes[0].kill();
    let mailed_at_kill = sends::eml_count(&sink);
    writers.await.unwrap();
    assert!(mailed_at_kill < FLOW_USERS / 2, "most sends had finished before the kill");

    let mut c = client_of(addrs[1]).await;
    let path = format!("/api/v1/messages?flow_id={flow_id}&limit=1000");
    let expected: HashSet<String> = (0..FLOW_USERS).map(sends::address).collect();
    let mut mails = HashMap::new();
    for _ in 0..600 {
        mails = sends::mails_by_recipient(&sink);
        if expected.iter().all(|a| mails.contains_key(a)) {
            break;
        }
        let queued = common::all_items(&mut c, &sk, &format!("{path}&status=queued")).await.len();
        let unconfirmed = sends::unconfirmed(&mut c, &sk, &path).await;
        if queued == 0 && expected.iter().all(|a| mails.contains_key(a) || unconfirmed.contains(a)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Only a message whose content was on its way when the node died may be missing, recorded as such.
    let unconfirmed = sends::unconfirmed(&mut c, &sk, &path).await;
    assert!(unconfirmed.len() <= sends::SMTP_SESSIONS, "{} unconfirmed", unconfirmed.len());
    let missing: Vec<_> = expected.iter().filter(|a| !mails.contains_key(*a) && !unconfirmed.contains(*a)).collect();
    assert!(missing.is_empty(), "{} orders never mailed, e.g. {}", missing.len(), missing[0]);
    let twice = sends::distinct_duplicates(&mails);
    assert!(twice.is_empty(), "two different messages for one order: {twice:?}");
    assert_eq!(sends::repeats(&mails), 0, "a message was delivered twice (its point of no return was passed)");
    // At the outbox: one message per order, every one sent.
    let outbox = common::all_items(&mut c, &sk, &path).await;
    assert_eq!(outbox.len(), FLOW_USERS, "one message per order");
    let unsent: Vec<_> = outbox.iter().filter(|m| m["status"] != "sent").collect();
    assert!(unsent.is_empty(), "not sent: {unsent:?}");
}

const CAMPAIGN_USERS: usize = 900;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_the_engine_node_during_a_campaign_mails_everyone_once() {
    let sink = SmtpSink::start(SinkOptions { delay_ms: 4, ..Default::default() });
    let port = sink.port;
    let Some(mut cluster) = Cluster::start(|dir| sends::smtp_config(dir, port)) else { return };
    let (keys, addrs) = (cluster.keys(), cluster.addrs());
    let sk = keys.secret_key.clone();
    let mut c = client_of(addrs[1]).await;
    sends::subscribed_contacts(&mut c, &sk, 0..CAMPAIGN_USERS).await;
    let id = sends::campaign_to_subscribers(&mut c, &sk, CAMPAIGN_USERS).await;
    sends::wait_for_mails(&sink, CAMPAIGN_USERS / 4).await;
    cluster.nodes[0].kill();
    let kill = Instant::now();
    let mailed_at_kill = sends::eml_count(&sink);
    assert!(mailed_at_kill < CAMPAIGN_USERS * 3 / 4, "the campaign had mostly gone out before the kill");

    // A survivor takes over within the bound and finishes the campaign.
    let mut c = client_of(addrs[2]).await;
    let took_over = kill.elapsed();
    assert!(took_over < FAILOVER_MAX, "the survivors took {took_over:?} to take over");
    let v = sends::campaign_settled(&mut c, &sk, &id).await;
    let mails = sends::mails_by_recipient(&sink);
    let unconfirmed = sends::unconfirmed(&mut c, &sk, &format!("/api/v1/messages?campaign_id={id}&limit=1000")).await;
    assert!(unconfirmed.len() <= sends::SMTP_SESSIONS, "{} unconfirmed", unconfirmed.len());
    let lost: Vec<String> = (0..CAMPAIGN_USERS)
        .map(sends::address)
        .filter(|a| !mails.contains_key(a) && !unconfirmed.contains(a))
        .collect();
    assert!(lost.is_empty(), "{} subscribers never got the campaign, e.g. {}", lost.len(), lost[0]);
    let twice = sends::distinct_duplicates(&mails);
    assert!(twice.is_empty(), "two different messages to one recipient: {twice:?}");
    assert_eq!(sends::repeats(&mails), 0, "a message was delivered twice (its point of no return was passed)");
    let stats = &v["stats"];
    assert_eq!(stats["messages"].as_u64(), Some(CAMPAIGN_USERS as u64), "one message per recipient: {v}");
    assert_eq!(stats["sent"].as_u64(), Some(CAMPAIGN_USERS as u64), "{v}");
}

/// `kairos demo` runs an engine of its own: never beside a node that runs one on the same database.
#[tokio::test]
async fn demo_refuses_a_database_whose_engine_runs_elsewhere() {
    if !common::postgres_mode() {
        return;
    }
    let node = TestServer::start();
    let elsewhere = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::BIN)
        .args(["demo", "--no-serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(elsewhere.path())
        .envs(common::backend_env(&node.dir))
        .env("KAIROS_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the demo started beside a running node");
    assert!(stderr.contains("another Kairos node runs the engine"), "{stderr}");
    assert!(stderr.contains(&node.addr.to_string()), "names where it runs: {stderr}");
}

/// A holder that stops answering (SIGSTOP: a long pause, a machine cut off) loses its lease to a survivor; when it
/// resumes, nothing it still had queued commits (its writers are fenced) and it exits with status 75 for its
/// supervisor to restart it as a follower.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paused_engine_node_is_fenced_off_and_exits_when_it_resumes() {
    let Some(mut cluster) = Cluster::start(|_| {}) else { return };
    let (keys, addrs) = (cluster.keys(), cluster.addrs());
    let signal = |sig: &str, pid: u32| {
        assert!(std::process::Command::new("kill").args([sig, &pid.to_string()]).status().unwrap().success());
    };
    let pid = cluster.nodes[0].pid();
    signal("-STOP", pid);
    // A request to the paused node waits in its listen queue.
    let wk = keys.write_key.clone();
    let stale = tokio::spawn(async move {
        let mut c = HttpClient::connect(addrs[0]).await.ok()?;
        let body =
            json!({"batch": [{"type": "track", "messageId": "to-the-paused-node", "userId": "ann", "event": "X"}]});
        c.post_json("/v1/batch", &wk, &body).await.ok().map(|r| r.status)
    });
    // The survivors take over and accept writes.
    let body = json!({"batch": [{"type": "track", "messageId": "after-takeover", "userId": "bob", "event": "X"}]});
    let took_over = post_anywhere(&cluster.addrs()[1..], 0, "/v1/batch", &keys.write_key, &body).await;
    assert!(took_over.is_some(), "no survivor took over");

    signal("-CONT", pid);
    let status = tokio::task::spawn_blocking(move || {
        let exited = cluster.nodes[0].wait_exit(Duration::from_secs(10));
        (exited, cluster)
    })
    .await
    .unwrap();
    let (exited, cluster) = status;
    assert_eq!(exited.and_then(|s| s.code()), Some(75), "the deposed node exits with EX_TEMPFAIL");
    let answer = stale.await.unwrap();
    assert_ne!(answer, Some(200), "the deposed node acknowledged a write");
    let mut c = client_of(cluster.nodes[1].addr).await;
    let events = common::all_items(&mut c, &keys.secret_key, "/api/v1/events?limit=100").await;
    let ids: Vec<&str> = events.iter().filter_map(|e| e["message_id"].as_str()).collect();
    assert!(ids.contains(&"after-takeover"), "{ids:?}");
    assert!(!ids.contains(&"to-the-paused-node"), "a write of the deposed node was stored: {ids:?}");
}

/// Login throttling counts the real client through a forwarding node (the engine's node trusts the address a node
/// forwards), and no client can pick its address by sending the forwarding headers itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_throttling_sees_the_real_client_and_ignores_forged_forwarding_headers() {
    let Some(cluster) = Cluster::start(|_| {}) else { return };
    let keys = cluster.keys();
    for user in ["ann@shop.example", "bob@shop.example"] {
        common::create_user(&cluster.nodes[0].dir, &keys.id, user, "correct horse battery");
    }
    let (engine, follower) = (cluster.nodes[0].addr, cluster.nodes[1].addr);
    let right = "correct horse battery";

    // An attacker at 127.0.0.3, through a forwarding node: throttled after five failures (six stay under the
    // account's own limit of ten) ...
    let mut throttled = false;
    for _ in 0..7 {
        throttled |= common::login_from(follower, [127, 0, 0, 3], "ann@shop.example", "wrong", &[]).await.0 == 429;
    }
    assert!(throttled, "failures through a forwarding node are throttled");
    // ... while the real user at 127.0.0.2, through the same node, is not (both reach the engine's node from
    // the forwarding node's own address).
    assert_eq!(common::login_from(follower, [127, 0, 0, 2], "ann@shop.example", right, &[]).await.0, 200);

    // Forged headers sent straight to the engine's node change nothing: still the attacker's own address.
    let forged = [("x-kairos-forwarded", "0123456789abcdef"), ("x-forwarded-for", "10.9.9.9")];
    let mut throttled = false;
    for _ in 0..7 {
        throttled |= common::login_from(engine, [127, 0, 0, 4], "bob@shop.example", "wrong", &forged).await.0 == 429;
    }
    assert!(throttled);
    let other = [("x-kairos-forwarded", "0123456789abcdef"), ("x-forwarded-for", "10.1.1.1")];
    let (status, _) = common::login_from(engine, [127, 0, 0, 4], "bob@shop.example", right, &other).await;
    assert_eq!(status, 429, "a forged X-Forwarded-For let a throttled client in");
}

//! `kairos bench flows`: the flow engine through the real HTTP API. Measures event → send decision latency
//! while ingestion load runs, entering N contacts into a flow that waits in a delay, the step transitions/s
//! when all their timers fire at once, and the time to load and resume N waiting runs after a restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::client::HttpClient;

async fn ok(c: &mut HttpClient, path: &str, key: &str, body: Value) -> anyhow::Result<Value> {
    let r = c.post_json(path, key, &body).await?;
    anyhow::ensure!((200..300).contains(&r.status), "{path}: {} {:?}", r.status, r.json());
    Ok(r.json())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

pub fn run(contacts: usize, dir: &std::path::Path, start: crate::Starter) -> anyhow::Result<()> {
    crate::runtime()?.block_on(bench(contacts, dir, start))
}

async fn bench(contacts: usize, dir: &std::path::Path, start: crate::Starter) -> anyhow::Result<()> {
    let store = std::sync::Arc::new(kairos_store_sqlite::SqliteStore::open(dir)?);
    let ws = kairos_store::Store::create_workspace(
        &*store,
        "bench",
        kairos_engine::Clock::now(&kairos_engine::SystemClock),
    )?;
    let (state, listener) = start(store.clone(), dir.to_path_buf(), true).await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(kairos_server::serve(listener, state, async move {
        let _ = stop_rx.await;
    }));
    let sk = ws.secret_key.clone();
    let wk = ws.write_key.clone();
    let mut c = HttpClient::connect(addr).await?;
    ok(
        &mut c,
        "/api/v1/templates",
        &sk,
        json!({"id": "t", "channel": "email", "subject": "Hi {{ contact.first_name }}", "text": "x"}),
    )
    .await?;
    let instant = json!({"name": "Instant", "trigger": {"type": "event", "event": "Ping"}, "entry": {"reentry": "always", "require_consent": false},
        "steps": [{"id": "send", "type": "send", "channel": "email", "template": "t", "transactional": true}]});
    let waiting = json!({"name": "Waiting", "trigger": {"type": "event", "event": "Product Added"}, "entry": {"reentry": "always", "require_consent": false},
        "steps": [{"id": "wait", "type": "delay", "duration": "1h", "next": "split"},
                  {"id": "split", "type": "split", "condition": "orders.count >= 1", "yes": "send", "no": "send"},
                  {"id": "send", "type": "send", "channel": "email", "template": "t", "transactional": true}]});
    for f in [instant, waiting] {
        let id = ok(&mut c, "/api/v1/flows", &sk, f).await?["id"].as_str().unwrap_or_default().to_string();
        ok(&mut c, &format!("/api/v1/flows/{id}/activate"), &sk, json!({})).await?;
    }

    // 1. N contacts enter the waiting flow (batches of 500 identify + Product Added).
    let bar = ProgressBar::new(contacts as u64);
    bar.set_style(
        ProgressStyle::with_template("entering {bar:40} {pos}/{len} contacts")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let mut n = 0;
    while n < contacts {
        let batch: Vec<Value> = (n..(n + 250).min(contacts))
            .flat_map(|i| {
                [
                    json!({"type": "identify", "userId": format!("u{i}"), "messageId": format!("i{i}"), "traits": {"email": format!("u{i}@example.com"), "first_name": "A"}}),
                    json!({"type": "track", "userId": format!("u{i}"), "messageId": format!("p{i}"), "event": "Product Added", "properties": {"product_id": "p1", "price": 10}}),
                ]
            })
            .collect();
        ok(&mut c, "/v1/batch", &wk, json!({ "batch": batch })).await?;
        n = (n + 250).min(contacts);
        bar.set_position(n as u64);
    }
    bar.finish_and_clear();
    let entering = started.elapsed();

    // 2. Event -> send decision latency under ingestion load (the decision commits with the event).
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for w in 0..2 {
        let (stop, wk) = (stop.clone(), wk.clone());
        load.push(tokio::spawn(async move {
            let mut c = HttpClient::connect(addr).await?;
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let batch: Vec<Value> = (0..100)
                    .map(|k| json!({"type": "track", "userId": format!("load{w}-{}", k % 50), "messageId": format!("l{w}-{i}-{k}"), "event": "Product Viewed", "properties": {"product_id": "p2"}}))
                    .collect();
                c.post_json("/v1/batch", &wk, &json!({ "batch": batch })).await?;
                i += 1;
            }
            anyhow::Ok(())
        }));
    }
    let mut latencies = Vec::new();
    for i in 0..300 {
        let t0 = Instant::now();
        let r = c.post_json("/v1/track", &wk, &json!({"userId": format!("u{}", i % contacts.max(1)), "event": "Ping", "messageId": format!("ping{i}")})).await?;
        anyhow::ensure!(r.status == 200, "ping failed");
        latencies.push(t0.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for l in load {
        l.await??;
    }
    latencies.sort_by(|a, b| a.total_cmp(b));

    // 3. Restart: time to load and resume the waiting runs.
    let _ = stop_tx.send(());
    server.await??;
    let started = Instant::now();
    let (state, listener) = start(store, dir.to_path_buf(), true).await?;
    let resume = started.elapsed();
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(kairos_server::serve(listener, state, async move {
        let _ = stop_rx.await;
    }));
    let mut c = HttpClient::connect(addr).await?;

    // 4. All timers fire at once: delay -> split -> send -> end for every run.
    let started = Instant::now();
    ok(&mut c, "/api/v1/dev/clock", &sk, json!({"advance": "61m"})).await?;
    let fired = started.elapsed();
    let _ = stop_tx.send(());
    server.await??;

    println!("kairos bench flows: {contacts} contacts waiting in a 1h delay");
    println!(
        "  entering: {:.0} contacts/s (identify + trigger event, with run creation)",
        contacts as f64 / entering.as_secs_f64()
    );
    println!(
        "  event -> send decision under ingest load: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0)
    );
    println!("  restart, load and resume {contacts} waiting runs: {:.2} s", resume.as_secs_f64());
    println!(
        "  {contacts} timers due at once: {:.2} s, {:.0} step transitions/s (delay, split, send, end)",
        fired.as_secs_f64(),
        contacts as f64 * 3.0 / fired.as_secs_f64()
    );
    Ok(())
}

//! `kairos bench flows`: the flow engine through the real HTTP API. Measures entering N contacts into a flow
//! that waits in a delay, event → send decision latency while ingestion load runs, then, in a fresh process on
//! the same data directory (so resident memory is the restarted node's own, not what the first process freed):
//! the time to load and resume the N waiting runs and the memory after it, and the step transitions/s when all
//! their timers fire at once. A control store then gets the same contacts and events with each run ending as it
//! enters (no run waits) and is restarted the same way, so the flow engine's share of the resume time and memory
//! can be told from the contacts' and the event log's.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use kairos_domain::{MessageStatus, RunStatus};
use serde_json::{Value, json};

use crate::client::HttpClient;

/// How the restart phases find the workspace's secret key (an environment variable of the child process).
const KEY_ENV: &str = "KAIROS_BENCH_FLOWS_KEY";
/// Batches of 100 events each of the two load clients sends while the latency is measured (about as long
/// as the 300 pings take on 2 cores).
const LOAD_BATCHES: u64 = 1_250;
/// Step transitions one run makes when its timer fires: delay → split, split → send, send → end.
const TRANSITIONS_PER_RUN: f64 = 3.0;
/// What one transition includes, printed with the figure.
const TRANSITION_MEANS: &str = "each run: its timer popped, the run loaded, delay -> split (a segment condition), split -> \
send (consent, suppression and sending rules checked, the email rendered, its message row keyed by (run, step), \
its Message Sent event through the event path), send -> end, the run saved; committed in transactions of the engine";

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

/// This process's resident set now (`VmRSS`), in bytes; 0 off Linux.
fn rss_now() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1));
    kb.and_then(|k| k.parse::<u64>().ok()).unwrap_or(0) * 1024
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

/// On PostgreSQL (`server_url`), each of the two stores is a database of its own made on that server for the
/// run and dropped after it; on SQLite, the data directory.
pub fn run(
    contacts: usize,
    dir: &std::path::Path,
    (start, release): (crate::Starter, crate::ReleaseLease),
    server_url: Option<&str>,
) -> anyhow::Result<()> {
    let database = || server_url.map(kairos_store_postgres::testing::TestDatabase::create).transpose();
    let runs_db = database()?;
    let url = runs_db.as_ref().map(|d| d.url.as_str());
    let key = crate::runtime()?.block_on(enter_and_measure(contacts, dir, url, (start.clone(), release), false))?;
    // The restarts, each a fresh process: its resident memory is what the restarted node holds.
    let resumed = restart_phase("resume", contacts, dir, url, &key)?;
    std::fs::remove_dir_all(dir)?;
    drop(runs_db);
    let control_db = database()?;
    let url = control_db.as_ref().map(|d| d.url.as_str());
    let key = crate::runtime()?.block_on(enter_and_measure(contacts, dir, url, (start, release), true))?;
    let baseline = restart_phase("baseline", contacts, dir, url, &key)?;
    let (secs, rss) = (|l: &str| field(l, "resume_s"), |l: &str| field(l, "rss_bytes"));
    let (t1, t0) = (secs(&resumed), secs(&baseline));
    let (m1, m0) = (rss(&resumed), rss(&baseline));
    println!(
        "  restart with {contacts} waiting runs: {t1:.2} s to load and resume, {:.0} MB resident after it",
        mb(m1 as u64)
    );
    println!(
        "  restart of a control store with the same contacts and events and no run waiting: {t0:.2} s, {:.0} MB resident",
        mb(m0 as u64)
    );
    println!(
        "  the flow engine's share at {contacts} waiting runs: {:.2} s of the resume, {:.0} MB resident ({:.0} bytes per run)",
        t1 - t0,
        mb((m1 - m0).max(0.0) as u64),
        (m1 - m0).max(0.0) / contacts.max(1) as f64
    );
    println!("{}", line_of(&resumed, "timers"));
    println!("  (one transition: {TRANSITION_MEANS})");
    println!("{}", line_of(&resumed, "peak"));
    Ok(())
}

/// Runs `kairos bench flows` again in a new process for one restart phase and returns what it printed.
fn restart_phase(
    phase: &str,
    contacts: usize,
    dir: &std::path::Path,
    url: Option<&str>,
    key: &str,
) -> anyhow::Result<String> {
    let mut command = std::process::Command::new(std::env::current_exe()?);
    command
        .args(["bench", "flows", "--contacts", &contacts.to_string(), "--flows-phase", phase, "--data-dir"])
        .arg(dir);
    match url {
        Some(url) => command.args(["--database-url", url]),
        None => command.env_remove("KAIROS_DATABASE_URL"),
    };
    let out = command.env(KEY_ENV, key).stderr(std::process::Stdio::inherit()).output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    anyhow::ensure!(out.status.success(), "the {phase} phase failed: {text}");
    Ok(text)
}

/// The bench's store: the PostgreSQL database at `url`, else SQLite in `dir` (opened off the async threads: a
/// server database's client blocks).
async fn open_store(dir: &std::path::Path, url: Option<&str>) -> anyhow::Result<Arc<dyn kairos_store::Store>> {
    let (dir, url) = (dir.to_path_buf(), url.map(str::to_string));
    tokio::task::spawn_blocking(move || -> anyhow::Result<Arc<dyn kairos_store::Store>> {
        std::fs::create_dir_all(&dir)?;
        Ok(match url {
            Some(u) => Arc::new(kairos_store_postgres::PgStore::open(&u)?),
            None => Arc::new(kairos_store_sqlite::SqliteStore::open(&dir)?),
        })
    })
    .await?
}

/// The number after `name=` in a phase's output.
fn field(out: &str, name: &str) -> f64 {
    let prefix = format!("{name}=");
    out.split_whitespace().find_map(|w| w.strip_prefix(&prefix)).and_then(|v| v.parse().ok()).unwrap_or(0.0)
}

fn line_of(out: &str, tag: &str) -> String {
    let prefix = format!("{tag}:");
    out.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap_or_default().to_string()
}

/// Phase one (this process): the store, the flows, N contacts entering, and the latency under load. Returns
/// the workspace's secret key for the restart phases. The `control` store gets the same contacts and events,
/// its runs ending as they enter, and measures nothing.
async fn enter_and_measure(
    contacts: usize,
    dir: &std::path::Path,
    url: Option<&str>,
    (start, release): (crate::Starter, crate::ReleaseLease),
    control: bool,
) -> anyhow::Result<String> {
    let store = open_store(dir, url).await?;
    let s = store.clone();
    let ws = tokio::task::spawn_blocking(move || {
        s.create_workspace("bench", kairos_engine::Clock::now(&kairos_engine::SystemClock))
    })
    .await??;
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
    // The control's flow ends each run as it enters: the same entries and `Flow Entered` events, no run waiting.
    let ends = json!({"name": "Waiting", "trigger": {"type": "event", "event": "Product Added"}, "entry": {"reentry": "always", "require_consent": false},
        "steps": [{"id": "end", "type": "exit"}]});
    for f in [instant, if control { ends } else { waiting }] {
        let id = ok(&mut c, "/api/v1/flows", &sk, f).await?["id"].as_str().unwrap_or_default().to_string();
        ok(&mut c, &format!("/api/v1/flows/{id}/activate"), &sk, json!({})).await?;
    }

    // 1. N contacts enter the waiting flow (batches of 250 identify + Product Added).
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

    // 2. Event -> send decision latency under ingestion load (the decision commits with the event). A fixed
    // number of load batches, so the control store gets the very same events.
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for w in 0..2 {
        let (stop, wk) = (stop.clone(), wk.clone());
        load.push(tokio::spawn(async move {
            let mut c = HttpClient::connect(addr).await?;
            let mut i = 0u64;
            while i < LOAD_BATCHES && !stop.load(Ordering::Relaxed) {
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
    for l in load {
        l.await??;
    }
    stop.store(true, Ordering::Relaxed);
    latencies.sort_by(|a, b| a.total_cmp(b));
    let _ = stop_tx.send(());
    server.await??;
    // The restart phases run in new processes: the engine's lease on a shared database is given up as a
    // stopped node gives it up.
    if let Some(leases) = store.leases() {
        tokio::task::spawn_blocking(move || release(&*leases)).await?;
    }
    drop(store);
    if control {
        return Ok(sk);
    }

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
    Ok(sk)
}

/// A restart phase, in its own process: `resume` (load and resume the waiting runs, then fire every timer at
/// once) or `baseline` (the same restart after every run ended). Prints `name=value` fields for the parent.
pub fn phase(
    phase: &str,
    contacts: usize,
    dir: &std::path::Path,
    url: Option<&str>,
    start: crate::Starter,
) -> anyhow::Result<()> {
    crate::runtime()?.block_on(async move {
        let sk = std::env::var(KEY_ENV).map_err(|_| anyhow::anyhow!("{KEY_ENV} is not set"))?;
        let started = Instant::now();
        let store = open_store(dir, url).await?;
        let (state, listener) = start(store, dir.to_path_buf(), true).await?;
        let resume = started.elapsed();
        let rss = rss_now();
        println!("resume_s={:.3} rss_bytes={rss}", resume.as_secs_f64());
        let addr = listener.local_addr()?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(kairos_server::serve(listener, state, async move {
            let _ = stop_rx.await;
        }));
        let mut c = HttpClient::connect(addr).await?;
        let flows = c.get("/api/v1/flows", &sk).await?.json();
        let waiting = flows["items"]
            .as_array()
            .and_then(|l| l.iter().find(|f| f["name"] == "Waiting"))
            .and_then(|f| f["id"].as_str())
            .ok_or_else(|| anyhow::anyhow!("the Waiting flow is missing"))?
            .to_string();
        if phase == "resume" {
            // All timers fire at once: delay -> split -> send -> end for every run.
            let started = Instant::now();
            ok(&mut c, "/api/v1/dev/clock", &sk, json!({"advance": "61m"})).await?;
            let fired = started.elapsed();
            let stats = c.get(&format!("/api/v1/flows/{waiting}/stats"), &sk).await?.json();
            // The run counts and step counters, keyed by the domain's names of the statuses they count.
            let sent = stats["steps"]["send"][MessageStatus::Sent.as_str()].as_u64().unwrap_or(0);
            let active = &stats[RunStatus::Active.as_str()];
            anyhow::ensure!(
                *active == 0 && sent == contacts as u64,
                "after the timers: {active} runs still active, {sent} of {contacts} sent"
            );
            println!(
                "timers:  {contacts} timers due at once: {:.2} s, {:.0} step transitions/s ({TRANSITIONS_PER_RUN} per run: delay, split, send, end)",
                fired.as_secs_f64(),
                contacts as f64 * TRANSITIONS_PER_RUN / fired.as_secs_f64()
            );
            let peak = crate::measure::peak_rss().unwrap_or(0);
            println!("peak:  peak resident memory of the restarted process (timers included): {:.0} MB", mb(peak));
        }
        let _ = stop_tx.send(());
        server.await??;
        Ok(())
    })
}

//! `kairos bench` (SPEC 14): drives the real HTTP API and the engines, and prints throughput and latency. Kept out
//! of the production crates: the binary's `bench` command calls [`run`] and hands it [`Starter`], the same start-up
//! path as `kairos serve`, so a benchmark measures the server as it really runs.

pub mod client;
mod flows;
mod render;
mod segments;
mod send;
mod simulate;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;

use crate::client::HttpClient;
use kairos_sample as sample;

/// A server started on a store the way `kairos serve` starts it: the state and the bound listener.
pub type Started = anyhow::Result<(kairos_server::AppState, tokio::net::TcpListener)>;
/// The binary's start-up path (`serve::start` on 127.0.0.1:0) on a store, with the node's data directory and the
/// dev clock or not.
pub type Starter = std::sync::Arc<
    dyn Fn(
            Arc<dyn kairos_store::Store>,
            std::path::PathBuf,
            bool,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Started> + Send>>
        + Send
        + Sync,
>;

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// Contacts the flows benchmark enters by default (entering 1 M through the HTTP API takes minutes on 2 cores;
/// pass `--contacts 1000000` for the full figure).
const FLOW_CONTACTS_DEFAULT: usize = 100_000;
const SEGMENT_CONTACTS_DEFAULT: usize = 1_000_000;
/// The committed test-only DKIM key (never for real mail): signing cost is what the send benchmark measures.
const TEST_DKIM_KEY: &str = include_str!("../../channels/tests/fixtures/dkim-test-only.pem");

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum BenchWhat {
    Ingest,
    Segments,
    Flows,
    Render,
    /// SMTP hand-off through the real transport to a local sink.
    Send,
    /// Ingest latency while a flow simulation replays a large history (issue 11: reads off the writer).
    SimulateUnderLoad,
    All,
}

#[derive(Args)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum, default_value = "ingest")]
    pub what: BenchWhat,
    /// Seconds of sustained load.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Concurrent client connections (4 saturates both cores here; more only adds queueing latency).
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Events per batch request.
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// Distinct shoppers the events come from.
    #[arg(long, default_value_t = 20_000)]
    pub shoppers: usize,
    /// Live segments to create before the ingest run (each event re-evaluates them for its contact).
    #[arg(long, default_value_t = 0)]
    pub segments: usize,
    /// Contacts for the segments benchmark (default 1 000 000) and the flows benchmark (default 100 000).
    #[arg(long)]
    pub contacts: Option<usize>,
    /// Messages for the send benchmark (and renders for the render benchmark: 200 000).
    #[arg(long)]
    pub messages: Option<usize>,
    /// Events of history for the simulate-under-load benchmark (default 1 000 000).
    #[arg(long)]
    pub events: Option<usize>,
    /// Sign the send benchmark's mail with DKIM (RSA-2048, the committed test-only key).
    #[arg(long)]
    pub dkim: bool,
    /// Data directory (default: a fresh temporary directory, removed afterwards).
    #[arg(long)]
    pub data_dir: Option<std::path::PathBuf>,
    /// Database for the ingest benchmark: `postgres://...` measures Kairos on PostgreSQL (the benchmark adds a
    /// workspace to it); without it, SQLite in the data directory.
    #[arg(long, env = "KAIROS_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Kairos nodes for the ingest benchmark on PostgreSQL: this process runs the engine and `nodes - 1` more
    /// `kairos serve` processes join it; client connections are spread over all of them.
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
}

pub fn run(args: BenchArgs, start: Starter) -> anyhow::Result<()> {
    match args.what {
        BenchWhat::Segments => {
            return crate::segments::run(args.contacts.unwrap_or(SEGMENT_CONTACTS_DEFAULT), 4, 200_000);
        }
        BenchWhat::Ingest => {}
        BenchWhat::All => {
            ingest_run(&args, &start)?;
            crate::segments::run(args.contacts.unwrap_or(SEGMENT_CONTACTS_DEFAULT), 4, 200_000)?;
            let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
            crate::render::run(200_000, threads)?;
            return crate::send::run(20_000, 64, 16, None);
        }
        BenchWhat::Flows => {
            let dir = std::env::temp_dir().join(format!("kairos-bench-flows-{}", std::process::id()));
            let contacts = args.contacts.unwrap_or(FLOW_CONTACTS_DEFAULT);
            let r = crate::flows::run(contacts, &dir, start);
            let _ = std::fs::remove_dir_all(&dir);
            return r;
        }
        BenchWhat::Render => {
            let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
            return crate::render::run(args.messages.unwrap_or(200_000), threads);
        }
        BenchWhat::Send => {
            let key = args.dkim.then(|| TEST_DKIM_KEY.to_string());
            return crate::send::run(args.messages.unwrap_or(20_000), 64, 16, key);
        }
        BenchWhat::SimulateUnderLoad => {
            let (dir, remove) = match &args.data_dir {
                Some(d) => (d.clone(), false),
                None => (std::env::temp_dir().join(format!("kairos-bench-simulate-{}", std::process::id())), true),
            };
            let r = crate::simulate::run(args.events.unwrap_or(crate::simulate::HISTORY_EVENTS_DEFAULT), &dir, start);
            if remove {
                let _ = std::fs::remove_dir_all(&dir);
            }
            return r;
        }
    }
    ingest_run(&args, &start)
}

fn ingest_run(args: &BenchArgs, start: &Starter) -> anyhow::Result<()> {
    let (dir, remove) = match &args.data_dir {
        Some(d) => (d.clone(), false),
        None => (std::env::temp_dir().join(format!("kairos-bench-{}", std::process::id())), true),
    };
    let result = runtime()?.block_on(ingest(args, &dir, start));
    if remove {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

/// A request body with the byte offsets of each message id's 12-digit counter, patched per send so every
/// request carries fresh ids without re-serializing.
struct Template {
    body: Vec<u8>,
    slots: Vec<usize>,
    time_slots: Vec<usize>,
}

const ID_MARK: &str = "bench-000000000000-";
/// Event timestamps in templates; replaced by the send time (same width) so history stays in order.
const TIME_MARK: &str = "2000-01-01T00:00:00.000Z";

fn templates(args: &BenchArgs, count: usize) -> Vec<Template> {
    templates_of(args.batch_size, args.shoppers, count)
}

/// `count` request bodies of `batch_size` events each from `shoppers` shoppers (see [`patch`]).
fn templates_of(batch_size: usize, shoppers: usize, count: usize) -> Vec<Template> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let catalog = sample::catalog(&mut rng);
    let mut shoppers: Vec<sample::Shopper> = (0..shoppers).map(|i| sample::shopper(i, &mut rng)).collect();
    let start: jiff::Timestamp = TIME_MARK.parse().expect("valid");
    let mut out = Vec::with_capacity(count);
    let mut n = 0usize;
    for _ in 0..count {
        let mut events = Vec::with_capacity(batch_size);
        while events.len() < batch_size {
            let idx = rand::RngExt::random_range(&mut rng, 0..shoppers.len());
            let mut next_id = || {
                n += 1;
                format!("{ID_MARK}{n:08}")
            };
            events.extend(sample::session(&mut shoppers[idx], &catalog, start, &mut rng, &mut next_id));
        }
        events.truncate(batch_size);
        for e in &mut events {
            e["timestamp"] = serde_json::json!(TIME_MARK);
        }
        let body = serde_json::to_vec(&serde_json::json!({ "batch": events })).expect("json");
        let slots = find_all(&body, ID_MARK.as_bytes()).map(|i| i + "bench-".len()).collect();
        let time_slots = find_all(&body, TIME_MARK.as_bytes()).collect();
        out.push(Template { body, slots, time_slots });
    }
    out
}

fn find_all<'a>(hay: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    hay.windows(needle.len()).enumerate().filter(move |(_, w)| *w == needle).map(|(i, _)| i)
}

fn patch(t: &Template, counter: u64) -> Bytes {
    let mut body = t.body.clone();
    let digits = format!("{counter:012}");
    for &at in &t.slots {
        body[at..at + 12].copy_from_slice(digits.as_bytes());
    }
    let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    if now.len() == TIME_MARK.len() {
        for &at in &t.time_slots {
            body[at..at + now.len()].copy_from_slice(now.as_bytes());
        }
    }
    Bytes::from(body)
}

/// Starts `args.nodes - 1` more `kairos serve` processes on the benchmark's PostgreSQL database (this process
/// runs the engine; they forward to it): the children, and the address of every node, this one first.
fn join_nodes(
    args: &BenchArgs,
    dir: &std::path::Path,
    first: std::net::SocketAddr,
) -> anyhow::Result<(Vec<std::process::Child>, Vec<std::net::SocketAddr>)> {
    use std::io::BufRead;
    let mut children = Vec::new();
    let mut addrs = vec![first];
    if args.nodes <= 1 {
        return Ok((children, addrs));
    }
    let url = args.database_url.as_deref().filter(|u| u.starts_with("postgres"));
    let url = url.ok_or_else(|| anyhow::anyhow!("--nodes needs --database-url postgres://..."))?;
    let exe = std::env::current_exe()?;
    for k in 1..args.nodes {
        let node_dir = dir.join(format!("node{k}"));
        std::fs::create_dir_all(&node_dir)?;
        let mut child = std::process::Command::new(&exe)
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url", url, "--data-dir"])
            .arg(&node_dir)
            .env("KAIROS_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let addr = line.trim().strip_prefix("listening on http://").and_then(|a| a.parse().ok());
        children.push(child);
        addrs.push(addr.ok_or_else(|| anyhow::anyhow!("node {k} did not start: {line:?}"))?);
    }
    eprintln!("{} nodes: {addrs:?} (the first runs the engine)", addrs.len());
    Ok((children, addrs))
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

async fn ingest(args: &BenchArgs, dir: &std::path::Path, start: &Starter) -> anyhow::Result<()> {
    anyhow::ensure!(args.batch_size >= 1 && args.concurrency >= 1, "batch size and concurrency must be at least 1");
    let url = args.database_url.clone();
    let dir_owned = dir.to_path_buf();
    // Opening and the first writes block (a server database's client may not block an async thread).
    let (store, ws) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        std::fs::create_dir_all(&dir_owned)?;
        let store: Arc<dyn kairos_store::Store> = match url.as_deref() {
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                Arc::new(kairos_store_postgres::PgStore::open(u)?)
            }
            Some(u) => Arc::new(kairos_store_sqlite::SqliteStore::open_url(u)?),
            None => Arc::new(kairos_store_sqlite::SqliteStore::open(&dir_owned)?),
        };
        let ws = store.create_workspace("bench", kairos_engine::Clock::now(&kairos_engine::SystemClock))?;
        Ok((store, ws))
    })
    .await??;
    eprintln!("backend: {}", if store.local_dir().is_some() { "SQLite (embedded)" } else { "PostgreSQL" });
    let (state, listener) = start(store, dir.to_path_buf(), false).await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(kairos_server::serve(listener, state, async move {
        let _ = stop_rx.await;
    }));

    let definitions = [
        "orders.count >= 3",
        "orders.total_spent > 1000",
        "did \"Checkout Started\" within 4h and not did \"Order Completed\" within 4h",
        "cart.value > 200",
        "count(\"Product Viewed\" where category = \"bicycles\", within 30d) >= 2",
        "last_seen_at before 90d ago and orders.count >= 1",
        "subscribed email and trait.city = \"Helsinki\"",
        "did \"Order Completed\" where products.category contains \"helmets\"",
        "did \"Product Added\" within 1h",
        "orders.count = 0 and did \"Product Viewed\" within 7d",
    ];
    let (mut others, addrs) = join_nodes(args, dir, addr)?;
    let mut admin = HttpClient::connect(addr).await?;
    for (i, d) in definitions.iter().cycle().take(args.segments).enumerate() {
        let body = serde_json::json!({"name": format!("bench segment {i}"), "definition": d});
        let r = admin.post_json("/api/v1/segments", &ws.secret_key, &body).await?;
        anyhow::ensure!(r.status == 201, "creating segment {d:?}: {:?}", r.body);
    }
    eprintln!("preparing {} distinct batches of {} events from {} shoppers...", 64, args.batch_size, args.shoppers);
    let templates = Arc::new(templates(args, 64));
    let avg_bytes = templates.iter().map(|t| t.body.len()).sum::<usize>() / templates.len();
    let counter = Arc::new(AtomicU64::new(1));
    let sent_events = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.duration);
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..args.concurrency {
        let templates = templates.clone();
        let counter = counter.clone();
        let sent_events = sent_events.clone();
        let key = ws.write_key.clone();
        let batch = args.batch_size as u64;
        let node = addrs[w % addrs.len()];
        workers.push(tokio::spawn(async move {
            let mut client = HttpClient::connect(node).await?;
            let mut latencies: Vec<u32> = Vec::new();
            let mut errors = 0u64;
            let mut i = w;
            while Instant::now() < deadline {
                let body = patch(&templates[i % templates.len()], counter.fetch_add(1, Ordering::Relaxed));
                i += 1;
                let t0 = Instant::now();
                let resp = client.send("POST", "/v1/batch", Some(&key), Some(body)).await?;
                latencies.push(t0.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                if resp.status == 200 {
                    sent_events.fetch_add(batch, Ordering::Relaxed);
                } else {
                    errors += 1;
                }
            }
            anyhow::Ok((latencies, errors))
        }));
    }
    let bar = ProgressBar::new(args.duration);
    bar.set_style(
        ProgressStyle::with_template("ingest {bar:40} {pos}/{len}s {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let secs = started.elapsed().as_secs_f64();
        bar.set_position(secs as u64);
        bar.set_message(format!("{:.0} events/s", sent_events.load(Ordering::Relaxed) as f64 / secs));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await??;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    latencies.sort_unstable();
    let events = sent_events.load(Ordering::Relaxed);
    for child in &mut others {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = stop_tx.send(());
    server.await??;
    let db_bytes = std::fs::metadata(dir.join(kairos_store_sqlite::DB_FILE_NAME)).map(|m| m.len()).unwrap_or(0);

    println!(
        "kairos bench ingest: {} s, {} node(s), {} connections, batches of {} events (~{} KB each), {} shoppers, {} live segments",
        args.duration,
        addrs.len(),
        args.concurrency,
        args.batch_size,
        avg_bytes / 1024,
        args.shoppers,
        args.segments
    );
    println!("  events acknowledged (durable): {events}");
    println!(
        "  throughput:    {:.0} events/s ({:.0} batches/s)",
        events as f64 / elapsed,
        latencies.len() as f64 / elapsed
    );
    println!(
        "  batch latency: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0)
    );
    println!("  errors:        {errors}");
    println!("  database size: {:.1} MB", db_bytes as f64 / 1e6);
    Ok(())
}

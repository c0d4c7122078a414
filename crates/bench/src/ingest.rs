//! `kairos bench ingest`: Segment batches over HTTP into a server started as `kairos serve` starts it, either
//! the synthetic batches (sample sessions, sequential ids, sent in time order, for `--duration` seconds) or a
//! file of batch lines sent whole (`--events FILE`, e.g. the anchor workload of `gen-events`). Reports
//! throughput per 10-second window, batch latency, bytes on disk per event and peak RSS.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use tokio::task::JoinHandle;

use crate::client::HttpClient;
use crate::measure::{Windows, dir_bytes, peak_rss, percentile};
use crate::{BenchArgs, Starter};
use kairos_sample as sample;

pub fn run(args: &BenchArgs, start: &Starter) -> anyhow::Result<()> {
    let (dir, remove) = match &args.data_dir {
        Some(d) => (d.clone(), false),
        None => (std::env::temp_dir().join(format!("kairos-bench-{}", std::process::id())), true),
    };
    let result = crate::runtime()?.block_on(ingest(args, &dir, start));
    if remove {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

/// A request body with the byte offsets of each message id's 12-digit counter, patched per send so every
/// request carries fresh ids without re-serializing.
pub(crate) struct Template {
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
pub(crate) fn templates_of(batch_size: usize, shoppers: usize, count: usize) -> Vec<Template> {
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

pub(crate) fn patch(t: &Template, counter: u64) -> Bytes {
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

/// Segments a run may create (`--segments N` cycles through them).
const DEFINITIONS: [&str; 10] = [
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

/// The server under test, its workspace, and the nodes that joined it.
struct Server {
    ws: kairos_store::NewWorkspace,
    addrs: Vec<std::net::SocketAddr>,
    others: Vec<std::process::Child>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
    local: bool,
}

async fn start_server(args: &BenchArgs, dir: &std::path::Path, start: &Starter) -> anyhow::Result<Server> {
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
    let local = store.local_dir().is_some();
    eprintln!("backend: {}", if local { "SQLite (embedded)" } else { "PostgreSQL" });
    let (state, listener) = start(store, dir.to_path_buf(), false).await?;
    let addr = listener.local_addr()?;
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(kairos_server::serve(listener, state, async move {
        let _ = stop_rx.await;
    }));
    let (others, addrs) = join_nodes(args, dir, addr)?;
    let mut admin = HttpClient::connect(addr).await?;
    for (i, d) in DEFINITIONS.iter().cycle().take(args.segments).enumerate() {
        let body = serde_json::json!({"name": format!("bench segment {i}"), "definition": d});
        let r = admin.post_json("/api/v1/segments", &ws.secret_key, &body).await?;
        anyhow::ensure!(r.status == 201, "creating segment {d:?}: {:?}", r.body);
    }
    Ok(Server { ws, addrs, others, stop, task, local })
}

impl Server {
    async fn stop(mut self) -> anyhow::Result<()> {
        for child in &mut self.others {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = self.stop.send(());
        self.task.await??;
        Ok(())
    }
}

/// What the workers of a run measured.
#[derive(Default)]
struct Tally {
    latencies: Vec<u32>,
    errors: u64,
}

/// Synthetic batches for `--duration` seconds.
fn synthetic_workers(
    args: &BenchArgs,
    server: &Server,
    acked: &Arc<AtomicU64>,
) -> Vec<JoinHandle<anyhow::Result<Tally>>> {
    eprintln!("preparing {} distinct batches of {} events from {} shoppers...", 64, args.batch_size, args.shoppers);
    let templates = Arc::new(templates(args, 64));
    let counter = Arc::new(AtomicU64::new(1));
    let deadline = Instant::now() + Duration::from_secs(args.duration);
    (0..args.concurrency)
        .map(|w| {
            let (templates, counter, acked) = (templates.clone(), counter.clone(), acked.clone());
            let key = server.ws.write_key.clone();
            let batch = args.batch_size as u64;
            let node = server.addrs[w % server.addrs.len()];
            tokio::spawn(async move {
                let mut client = HttpClient::connect(node).await?;
                let mut tally = Tally::default();
                let mut i = w;
                while Instant::now() < deadline {
                    let body = patch(&templates[i % templates.len()], counter.fetch_add(1, Ordering::Relaxed));
                    i += 1;
                    send(&mut client, &key, body, batch, &acked, &mut tally).await?;
                }
                anyhow::Ok(tally)
            })
        })
        .collect()
}

/// Lines of a batch file, read on a blocking thread and handed to the workers as they are ready for them (the
/// file is not held in memory: peak RSS is the server's).
fn file_workers(
    args: &BenchArgs,
    path: &std::path::Path,
    server: &Server,
    acked: &Arc<AtomicU64>,
) -> anyhow::Result<Vec<JoinHandle<anyhow::Result<Tally>>>> {
    use std::io::BufRead;
    let file = std::io::BufReader::new(std::fs::File::open(path)?);
    let (tx, rx) = tokio::sync::mpsc::channel::<(Bytes, u64)>(args.concurrency * 4);
    std::thread::spawn(move || {
        for line in file.lines().map_while(Result::ok) {
            // The bench counts events from the line itself: `"messageId"` once per event.
            let events = line.matches("\"messageId\"").count() as u64;
            if !line.trim().is_empty() && tx.blocking_send((Bytes::from(line), events)).is_err() {
                break;
            }
        }
    });
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    Ok((0..args.concurrency)
        .map(|w| {
            let (rx, acked) = (rx.clone(), acked.clone());
            let key = server.ws.write_key.clone();
            let node = server.addrs[w % server.addrs.len()];
            tokio::spawn(async move {
                let mut client = HttpClient::connect(node).await?;
                let mut tally = Tally::default();
                loop {
                    let next = rx.lock().await.recv().await;
                    let Some((body, events)) = next else { break };
                    send(&mut client, &key, body, events, &acked, &mut tally).await?;
                }
                anyhow::Ok(tally)
            })
        })
        .collect())
}

async fn send(
    client: &mut HttpClient,
    key: &str,
    body: Bytes,
    events: u64,
    acked: &AtomicU64,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let resp = client.send("POST", "/v1/batch", Some(key), Some(body)).await?;
    tally.latencies.push(t0.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
    if resp.status == 200 {
        acked.fetch_add(events, Ordering::Relaxed);
    } else {
        tally.errors += 1;
    }
    Ok(())
}

async fn ingest(args: &BenchArgs, dir: &std::path::Path, start: &Starter) -> anyhow::Result<()> {
    anyhow::ensure!(args.batch_size >= 1 && args.concurrency >= 1, "batch size and concurrency must be at least 1");
    let file = args.events.as_deref().map(std::path::PathBuf::from);
    if let Some(f) = &file {
        anyhow::ensure!(
            f.is_file(),
            "--events {}: no such file (make one with `kairos bench gen-events`)",
            f.display()
        );
    }
    let server = start_server(args, dir, start).await?;
    let acked = Arc::new(AtomicU64::new(0));
    let workers = match &file {
        Some(f) => file_workers(args, f, &server, &acked)?,
        None => synthetic_workers(args, &server, &acked),
    };
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("ingest {elapsed} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let mut windows = Windows::new(acked.clone());
    while !workers.iter().all(JoinHandle::is_finished) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        windows.tick();
        let n = acked.load(Ordering::Relaxed);
        bar.set_message(format!("{n} events, {:.0} events/s", n as f64 / windows.elapsed().as_secs_f64()));
    }
    let elapsed = windows.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let mut tally = Tally::default();
    for w in workers {
        let t = w.await??;
        tally.latencies.extend(t.latencies);
        tally.errors += t.errors;
    }
    tally.latencies.sort_unstable();
    let events = acked.load(Ordering::Relaxed);
    let (nodes, local) = (server.addrs.len(), server.local);
    server.stop().await?;

    let workload = match &file {
        Some(f) => format!("the batches of {}", f.display()),
        None => format!(
            "{} s of synthetic batches of {} events from {} shoppers",
            args.duration, args.batch_size, args.shoppers
        ),
    };
    println!(
        "kairos bench ingest: {workload}; {nodes} node(s), {} connections, {} live segments",
        args.concurrency, args.segments
    );
    println!("  events acknowledged (durable): {events} in {elapsed:.1} s");
    println!(
        "  throughput:    {:.0} events/s ({:.0} batches/s)",
        events as f64 / elapsed,
        tally.latencies.len() as f64 / elapsed
    );
    println!("{}", windows.report());
    println!(
        "  batch latency: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&tally.latencies, 0.5),
        percentile(&tally.latencies, 0.99),
        percentile(&tally.latencies, 1.0)
    );
    println!("  errors:        {}", tally.errors);
    if local {
        let bytes = dir_bytes(dir);
        println!(
            "  on disk:       {:.1} MB, {:.0} bytes per event",
            bytes as f64 / 1e6,
            bytes as f64 / events.max(1) as f64
        );
    } else {
        println!("  on disk:       in the PostgreSQL server (pg_database_size)");
    }
    if let Some(rss) = peak_rss() {
        println!("  peak RSS:      {:.0} MB (server and load generator in one process)", rss as f64 / 1e6);
    }
    Ok(())
}

//! `kairos bench` (SPEC 14): drives the real HTTP API and the engines, and prints throughput and latency. Kept out
//! of the production crates: the binary's `bench` command calls [`run`] and hands it [`Starter`], the same start-up
//! path as `kairos serve`, so a benchmark measures the server as it really runs.

mod anchor;
pub mod client;
mod dkim;
mod flows;
mod ingest;
mod measure;
mod render;
/// The anchor template and its contacts, shared with kairos-template's golden test that pins its output.
#[path = "../../template/tests/anchor/mod.rs"]
mod render_anchor;
mod render_liquid;
mod segments;
mod send;
mod simulate;

use std::sync::Arc;

use clap::{Args, ValueEnum};

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

/// The binary's release of the committer lease a [`Starter`] took on a shared database (`cluster::release_alone`):
/// a benchmark that restarts a node in a new process gives the lease up first, as a cleanly stopped node does.
pub type ReleaseLease = fn(&dyn kairos_store::Leases);

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
    /// DKIM signatures per second on one core (RSA-2048, Ed25519, both), beside `openssl speed rsa2048`.
    Dkim,
    /// Ingest latency while a flow simulation replays a large history (issue 11: reads off the writer).
    SimulateUnderLoad,
    /// Writes the anchor workload (`--events N` Segment events of `--shoppers` shoppers, random UUID message
    /// ids, out of time order) to `--out` as Segment batch lines, for `kairos bench ingest --events FILE`.
    GenEvents,
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
    /// Concurrent client connections, each waiting for its batch's answer before sending the next. On SQLite 4
    /// keep both cores busy; on PostgreSQL the committer waits on the server for each group, so more connections
    /// (12) fill larger groups and raise throughput at a higher latency per batch.
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
    /// `ingest`: a file of Segment batch lines (`{"batch": [...]}` per line, e.g. from `gen-events`) sent
    /// whole, once, instead of the synthetic batches (`--duration` is then ignored). `gen-events`: how many
    /// events to write (default 1 000 000). `simulate-under-load`: events of history (default 1 000 000).
    #[arg(long)]
    pub events: Option<String>,
    /// `gen-events`: the file to write.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Sign the send benchmark's mail with DKIM (RSA-2048, the committed test-only key).
    #[arg(long)]
    pub dkim: bool,
    /// Data directory (default: a fresh temporary directory, removed afterwards).
    #[arg(long)]
    pub data_dir: Option<std::path::PathBuf>,
    /// Database for the ingest and flows benchmarks: `postgres://...` measures Kairos on PostgreSQL (ingest adds
    /// a workspace to that database; flows makes two databases of its own on that server and drops them after);
    /// without it, SQLite in the data directory.
    #[arg(long, env = "KAIROS_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Kairos nodes for the ingest benchmark on PostgreSQL: this process runs the engine and `nodes - 1` more
    /// `kairos serve` processes join it; client connections are spread over all of them.
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// `flows`, internal: one restart phase (`resume` or `baseline`) on `--data-dir`, run by the benchmark in a
    /// fresh process of its own.
    #[arg(long, hide = true)]
    pub flows_phase: Option<String>,
}

pub fn run(args: BenchArgs, start: Starter, release: ReleaseLease) -> anyhow::Result<()> {
    match args.what {
        BenchWhat::Segments => {
            return crate::segments::run(args.contacts.unwrap_or(SEGMENT_CONTACTS_DEFAULT), 4, 200_000);
        }
        BenchWhat::Ingest => {}
        BenchWhat::GenEvents => {
            let out = args.out.as_deref().ok_or_else(|| anyhow::anyhow!("gen-events needs --out FILE"))?;
            let events = event_count(&args, crate::anchor::ANCHOR_EVENTS_DEFAULT)?;
            return crate::anchor::generate(events, args.shoppers, args.batch_size, out);
        }
        BenchWhat::All => {
            crate::ingest::run(&args, &start)?;
            crate::segments::run(args.contacts.unwrap_or(SEGMENT_CONTACTS_DEFAULT), 4, 200_000)?;
            let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
            crate::render::run(200_000, threads)?;
            return crate::send::run(20_000, 64, 16, None);
        }
        BenchWhat::Flows => {
            let contacts = args.contacts.unwrap_or(FLOW_CONTACTS_DEFAULT);
            if let (Some(phase), Some(dir)) = (&args.flows_phase, &args.data_dir) {
                return crate::flows::phase(phase, contacts, dir, args.database_url.as_deref(), start);
            }
            let dir = std::env::temp_dir().join(format!("kairos-bench-flows-{}", std::process::id()));
            let r = crate::flows::run(contacts, &dir, (start, release), args.database_url.as_deref());
            let _ = std::fs::remove_dir_all(&dir);
            return r;
        }
        BenchWhat::Render => {
            let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
            return crate::render::run(args.messages.unwrap_or(200_000), threads);
        }
        BenchWhat::Dkim => return crate::dkim::run(),
        BenchWhat::Send => {
            let key = args.dkim.then(|| TEST_DKIM_KEY.to_string());
            return crate::send::run(args.messages.unwrap_or(20_000), 64, 16, key);
        }
        BenchWhat::SimulateUnderLoad => {
            let (dir, remove) = match &args.data_dir {
                Some(d) => (d.clone(), false),
                None => (std::env::temp_dir().join(format!("kairos-bench-simulate-{}", std::process::id())), true),
            };
            let events = event_count(&args, crate::simulate::HISTORY_EVENTS_DEFAULT)?;
            let r = crate::simulate::run(events, &dir, start);
            if remove {
                let _ = std::fs::remove_dir_all(&dir);
            }
            return r;
        }
    }
    crate::ingest::run(&args, &start)
}

/// `--events` read as a number of events.
fn event_count(args: &BenchArgs, default: usize) -> anyhow::Result<usize> {
    match args.events.as_deref() {
        None => Ok(default),
        Some(n) => {
            n.replace('_', "").parse().map_err(|_| anyhow::anyhow!("--events takes a number of events here, not {n:?}"))
        }
    }
}

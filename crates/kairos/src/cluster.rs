//! `kairos serve` on a server database that several nodes may share (ARCHITECTURE.md, "Several nodes").
//!
//! Every node listens and accepts every request. The engine (the committer and all it owns: state, timers,
//! flow runs, campaign sending, the dispatcher) runs on one node at a time, the holder of the [`LEASE`]; the
//! others forward requests to it (`kairos_server::cluster`) and try to take the lease every [`CLAIM_EVERY`].
//! The holder renews it every [`HEARTBEAT_EVERY`] for [`LEASE_TTL`]; when it dies, a survivor takes the lease
//! once it expired and loads the committed state (failover in at most `LEASE_TTL + CLAIM_EVERY` plus the
//! load). A holder that finds its lease taken (it was paused or cut off longer than `LEASE_TTL`) exits at once
//! with [`EXIT_LEASE_LOST`]; its writers were fenced already (`kairos_store::lease`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use kairos_server::cluster::{Node, serve_node};
use kairos_store::{Lease, Leases, Store};

use crate::cli::ServeArgs;
use crate::serve::{announce, bind, shutdown_signal, start_engine};

/// The lease the engine runs under.
pub const LEASE: &str = "committer";
/// How long a lease lasts without renewal (on the database's clock).
pub const LEASE_TTL: Duration = Duration::from_secs(5);
/// How often the holder renews its lease.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// How often a node without the lease tries to take it.
pub const CLAIM_EVERY: Duration = Duration::from_secs(1);
/// Exit status of a node that lost its lease to another (EX_TEMPFAIL: a supervisor restarts it as a follower).
pub const EXIT_LEASE_LOST: i32 = 75;

/// What a node needs to take the lease and start the engine, whenever that happens.
struct Candidate {
    store: Arc<dyn Store>,
    leases: Arc<dyn Leases>,
    args: ServeArgs,
    node_id: String,
    address: String,
    local: std::net::SocketAddr,
    node: Arc<Node>,
    /// The lease held, to give it up on a clean stop.
    held: Mutex<Option<Lease>>,
}

pub async fn run(store: Arc<dyn Store>, leases: Arc<dyn Leases>, args: ServeArgs) -> anyhow::Result<()> {
    let listener = bind(&args.listen).await?;
    let local = listener.local_addr()?;
    let address = advertised(args.advertise_url.as_deref(), local)?;
    let token = crate::secrets::forwarding_token(&args.storage.data_dir, &args.secrets)?;
    let node_id = node_id();
    let find = {
        let leases = leases.clone();
        Arc::new(move || leases.holder(LEASE)) as kairos_server::cluster::FindHolder
    };
    let node = Arc::new(Node::new(address.clone(), &token, find));
    let me = Arc::new(Candidate {
        store,
        leases,
        args,
        node_id,
        address,
        local,
        node: node.clone(),
        held: Mutex::default(),
    });

    // A node that takes the lease at start announces itself once its engine runs (as a single node does); one
    // that finds it held forwards at once and keeps trying in the background.
    if let Some(lease) = me.claim().await? {
        me.lead(lease).await?;
    } else {
        tracing::info!(node = %me.node_id, "another node runs the engine; forwarding to it until this one takes over");
        let me = me.clone();
        tokio::spawn(async move { me.wait_for_lease().await });
    }
    announce(&listener)?;
    serve_node(listener, node, shutdown_signal()).await?;
    // The engine stopped (everything queued committed): give the lease up so a survivor need not wait for it.
    let held = me.held.lock().ok().and_then(|mut h| h.take());
    if let Some(lease) = held {
        let leases = me.leases.clone();
        match tokio::task::spawn_blocking(move || leases.release(&lease)).await? {
            Ok(()) => tracing::info!("gave the committer lease up"),
            Err(e) => tracing::warn!(error = %e, "cannot give the committer lease up; it expires by itself"),
        }
    }
    Ok(())
}

/// The lease [`hold_alone`] took for this process, if any.
static HELD_ALONE: std::sync::Mutex<Option<Lease>> = std::sync::Mutex::new(None);

/// For a process that runs the engine without joining a cluster (`kairos demo`, `kairos bench`): takes the lease
/// once per process (keeps it renewed from a thread of its own and fences this process's writers), or refuses to
/// start while another node holds it. Blocking.
pub fn hold_alone(leases: Arc<dyn Leases>, address: &str) -> anyhow::Result<()> {
    let mut held = HELD_ALONE.lock().unwrap_or_else(|p| p.into_inner());
    if held.is_some() {
        return Ok(());
    }
    let Some(lease) = leases.try_acquire(LEASE, &node_id(), address, LEASE_TTL)? else {
        let at = leases.holder(LEASE)?.map(|h| h.address).unwrap_or_default();
        anyhow::bail!(
            "another Kairos node runs the engine on this database (at {at}): stop it first, or start this one with \
             `kairos serve` to join it"
        );
    };
    leases.fence_writers(&lease);
    *held = Some(lease.clone());
    heartbeat(leases, lease);
    Ok(())
}

/// Gives up the lease [`hold_alone`] took (`kairos import`, once its engine stopped), so a server started next
/// need not wait for it to expire. Blocking.
pub fn release_alone(leases: &dyn Leases) {
    let held = HELD_ALONE.lock().unwrap_or_else(|p| p.into_inner()).take();
    ALONE_RELEASED.store(held.is_some(), std::sync::atomic::Ordering::SeqCst);
    if let Some(lease) = held
        && let Err(e) = leases.release(&lease)
    {
        tracing::warn!(error = %e, "cannot give the committer lease up; it expires by itself");
    }
}

fn node_id() -> String {
    format!("{}-{}-{:016x}", hostname(), std::process::id(), rand::random::<u64>())
}

impl Candidate {
    async fn claim(&self) -> anyhow::Result<Option<Lease>> {
        let (leases, id, address) = (self.leases.clone(), self.node_id.clone(), self.address.clone());
        Ok(tokio::task::spawn_blocking(move || leases.try_acquire(LEASE, &id, &address, LEASE_TTL)).await??)
    }

    async fn wait_for_lease(self: Arc<Self>) {
        loop {
            tokio::time::sleep(CLAIM_EVERY).await;
            match self.claim().await {
                Ok(Some(lease)) => {
                    if let Err(e) = self.lead(lease).await {
                        tracing::error!(error = %format!("{e:#}"), "took the committer lease over but cannot start the engine");
                        std::process::exit(1);
                    }
                    return;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot read the committer lease; trying again"),
            }
        }
    }

    /// Holds `lease`: fences this node's writers with it, keeps it renewed, starts the engine and serves.
    async fn lead(&self, lease: Lease) -> anyhow::Result<()> {
        tracing::info!(node = %self.node_id, epoch = lease.epoch, "took the committer lease; starting the engine");
        self.leases.fence_writers(&lease);
        if let Ok(mut held) = self.held.lock() {
            *held = Some(lease.clone());
        }
        heartbeat(self.leases.clone(), lease.clone());
        let a = &self.args;
        let started =
            start_engine(self.store.clone(), &a.storage.data_dir, &a.secrets, Some(self.local), a.dev_clock).await;
        match started {
            Ok(state) => {
                self.node.lead(state);
                tracing::info!(node = %self.node_id, epoch = lease.epoch, "the engine runs on this node");
                Ok(())
            }
            Err(e) => {
                let leases = self.leases.clone();
                let _ = tokio::task::spawn_blocking(move || leases.release(&lease)).await;
                Err(e)
            }
        }
    }
}

/// Renews `lease` until the process ends; exits at once when another node took it.
fn heartbeat(leases: Arc<dyn Leases>, lease: Lease) {
    // A thread of its own: it renews whatever the async runtime is doing, and survives the short-lived runtimes
    // `kairos demo` generates its store with.
    std::thread::spawn(move || {
        let mut failing = false;
        loop {
            std::thread::sleep(HEARTBEAT_EVERY);
            match leases.renew(&lease, LEASE_TTL) {
                Ok(true) => {
                    if std::mem::take(&mut failing) {
                        tracing::info!("renewing the committer lease again");
                    }
                }
                Ok(false) if released(&lease) => return,
                Ok(false) => {
                    tracing::error!(epoch = lease.epoch, "another node took the committer lease over; this node stops");
                    std::process::exit(EXIT_LEASE_LOST);
                }
                Err(e) => {
                    // The database is away: nothing commits here meanwhile, and the fence refuses every
                    // transaction once another node holds the lease. Keep trying.
                    if !std::mem::replace(&mut failing, true) {
                        tracing::warn!(error = %e, "cannot renew the committer lease");
                    }
                }
            }
        }
    });
}

/// Whether `lease` was one [`hold_alone`] took and [`release_alone`] gave up.
fn released(lease: &Lease) -> bool {
    let held = HELD_ALONE.lock().unwrap_or_else(|p| p.into_inner());
    held.is_none() && lease.name == LEASE && ALONE_RELEASED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Set once this process gave up the lease it held alone.
static ALONE_RELEASED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The URL the other nodes forward to: the one given, or `http://` and the listening address (loopback for an
/// unspecified one, with a warning: other machines cannot reach that).
fn advertised(given: Option<&str>, local: std::net::SocketAddr) -> anyhow::Result<String> {
    if let Some(url) = given {
        let parsed = url::Url::parse(url).with_context(|| format!("--advertise-url {url:?} is not a URL"))?;
        anyhow::ensure!(
            parsed.scheme() == "http" && parsed.host().is_some() && parsed.path() == "/",
            "--advertise-url must be http://HOST:PORT (the other nodes forward requests there), not {url:?}"
        );
        return Ok(format!(
            "http://{}:{}",
            parsed.host_str().unwrap_or_default(),
            parsed.port_or_known_default().unwrap_or(80)
        ));
    }
    if local.ip().is_unspecified() {
        tracing::warn!(
            "listening on every interface without --advertise-url: other nodes are told 127.0.0.1, which only works on this machine"
        );
        return Ok(format!("http://127.0.0.1:{}", local.port()));
    }
    Ok(format!("http://{local}"))
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "node".into())
}

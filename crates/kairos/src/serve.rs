use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use kairos_engine::{Clock, DevClock, Engine, SystemClock};
use kairos_server::AppState;
use kairos_store::Store;

use crate::cli::ServeArgs;
use crate::secrets::SecretArgs;

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// Starts the engine and binds the listener on `store` with `data_dir` as the node's directory and the master
/// key from the environment or that directory (benches); returns the state and listener.
pub async fn start(
    store: Arc<dyn Store>,
    data_dir: PathBuf,
    listen: &str,
    dev_clock: bool,
) -> anyhow::Result<(AppState, tokio::net::TcpListener)> {
    start_node(store, &data_dir, &SecretArgs::default(), listen, dev_clock).await
}

/// Starts the engine and binds the listener: `kairos.toml` from `data_dir`, the secrets from the store under
/// the master key `secrets` names (see `crate::secrets`).
pub async fn start_node(
    store: Arc<dyn Store>,
    data_dir: &Path,
    secrets: &SecretArgs,
    listen: &str,
    dev_clock: bool,
) -> anyhow::Result<(AppState, tokio::net::TcpListener)> {
    // Bind first: a busy address is reported before any state is loaded.
    let listener = bind(listen).await?;
    let local = listener.local_addr()?;
    if let Some(leases) = store.leases() {
        // A shared database: this process runs the engine only if no other node does (`crate::cluster`).
        let address = format!("http://{local}");
        tokio::task::spawn_blocking(move || crate::cluster::hold_alone(leases, &address)).await??;
    }
    let state = start_engine(store, data_dir, secrets, Some(local), dev_clock).await?;
    Ok((state, listener))
}

pub async fn bind(listen: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))
}

/// Loads the state and starts the engine of a node listening on `local` (the default public URL's address).
pub async fn start_engine(
    store: Arc<dyn Store>,
    data_dir: &Path,
    secrets: &SecretArgs,
    local: Option<std::net::SocketAddr>,
    dev_clock: bool,
) -> anyhow::Result<AppState> {
    let dev = dev_clock.then(|| Arc::new(DevClock::persistent(data_dir.join("dev-clock"))));
    let clock: Arc<dyn Clock> = match &dev {
        Some(d) => d.clone(),
        None => Arc::new(SystemClock),
    };
    let config = crate::config::Config::load(data_dir)?;
    let defaults = config.settings()?;
    let public_url = config.public_url(local);
    let (opened, dir, args, dkim, now) =
        (store.clone(), data_dir.to_path_buf(), secrets.clone(), config.dkim_keys()?, clock.now());
    let keys = tokio::task::spawn_blocking(move || crate::secrets::open(&*opened, &dir, &args, &dkim, now)).await??;
    let transports = config.transports(&public_url, &keys.dkim_pems)?;
    let url = public_url.clone();
    let engine = tokio::task::spawn_blocking(move || {
        Engine::start_with(store, clock, defaults, &url, keys.link_key, keys.sealer)
    })
    .await??;
    engine.attach_transports(transports).await?;
    let mut state = AppState::new(Arc::new(engine), dev);
    state.public_url = public_url;
    state.sms = config.sms.as_ref().map(|s| Arc::new(kairos_server::SmsHooks { auth_token: s.auth_token.clone() }));
    state.platforms =
        kairos_channels::HttpClient::guarded(kairos_server::PLATFORM_CALL_TIMEOUT, config.outbound_policy()?.into());
    // Backfills a stopped process left running continue from their last committed page.
    tokio::spawn(kairos_server::backfill::resume_interrupted(state.engine.clone(), state.platforms.clone()));
    tokio::spawn(kairos_server::backfill::sync_magento_forever(state.engine.clone(), state.platforms.clone()));
    tokio::spawn(kairos_server::coupon_stock::stock_forever(state.engine.clone(), state.platforms.clone()));
    Ok(state)
}

/// The start-up path above, on 127.0.0.1:0, for `kairos bench` (the benchmarks measure the server as it runs).
pub fn bench_starter() -> kairos_bench::Starter {
    Arc::new(|store, dir, dev_clock| Box::pin(async move { start(store, dir, "127.0.0.1:0", dev_clock).await }))
}

pub fn announce(listener: &tokio::net::TcpListener) -> anyhow::Result<std::net::SocketAddr> {
    let addr = listener.local_addr()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{addr}")?;
    out.flush()?;
    Ok(addr)
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let store = args.storage.open()?;
    if let Some(leases) = store.leases() {
        // A server database may be shared by several nodes: the engine runs under the committer lease.
        return runtime()?.block_on(crate::cluster::run(store, leases, args));
    }
    runtime()?.block_on(async move {
        let (state, listener) =
            start_node(store, &args.storage.data_dir, &args.secrets, &args.listen, args.dev_clock).await?;
        announce(&listener)?;
        kairos_server::serve(listener, state, shutdown_signal()).await?;
        Ok(())
    })
}

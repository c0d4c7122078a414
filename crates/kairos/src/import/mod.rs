//! `kairos import ...`: bring a store's data in from outside (SPEC 16 "Integrations"). Each source is a
//! subcommand with a file of its own here; all of them run an engine on the store the way a server does.

mod csv;
mod platform;

use anyhow::Context;
use clap::Subcommand;
use kairos_domain::WorkspaceId;
use kairos_server::AppState;
use kairos_store::Store;

pub use csv::CsvArgs;
pub use platform::PlatformArgs;

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Import a CSV file of contacts (with consent), orders (a line item per row) or products; prints
    /// `imported N, rejected M` last and writes rejected rows to FILE.rejected.csv.
    Csv(CsvArgs),
    /// Backfill the connected Shopify store's products, customers and orders through its Admin API
    /// (continues an interrupted backfill).
    Shopify(PlatformArgs),
    /// Backfill the connected WooCommerce store's products, customers and orders through its REST API.
    Woocommerce(PlatformArgs),
    /// Read the connected Magento store's products, customers, orders and credit memos through its REST API
    /// (the first run reads everything, later runs what changed since).
    Magento(PlatformArgs),
}

pub fn run(command: ImportCommand) -> anyhow::Result<()> {
    use kairos_engine::integrations::Platform;
    match command {
        ImportCommand::Csv(args) => csv::run(args),
        ImportCommand::Shopify(args) => platform::run(args, Platform::Shopify),
        ImportCommand::Woocommerce(args) => platform::run(args, Platform::Woocommerce),
        ImportCommand::Magento(args) => platform::run(args, Platform::Magento),
    }
}

/// A workspace by its public id (`ws_...`).
fn workspace(store: &dyn Store, public_id: &str) -> anyhow::Result<WorkspaceId> {
    store
        .workspaces()?
        .into_iter()
        .find(|(_, p, _)| p == public_id)
        .map(|(id, _, _)| id)
        .with_context(|| format!("no workspace {public_id} in this database (`kairos workspace create` prints the id)"))
}

/// Runs `work` with an engine started on the store as a server starts one (alone on a shared database: it
/// refuses while a server runs the engine there), then commits everything queued and gives the engine up.
fn with_engine<T>(
    target: &PlatformArgs,
    before: impl FnOnce() -> anyhow::Result<()>,
    work: impl FnOnce(&tokio::runtime::Runtime, &AppState, WorkspaceId) -> T,
) -> anyhow::Result<T> {
    let PlatformArgs { workspace: public_id, storage, secrets } = target;
    let store = storage.open()?;
    let ws = workspace(&*store, public_id)?;
    let leases = store.leases();
    if let Some(leases) = &leases {
        crate::cluster::hold_alone(leases.clone(), &format!("kairos-import-{}", std::process::id()))?;
    }
    let outcome = (|| {
        before()?;
        let runtime = crate::serve::runtime()?;
        let state = runtime.block_on(crate::serve::start_engine(store, &storage.data_dir, secrets, None, false))?;
        let out = work(&runtime, &state, ws);
        // Everything queued is committed before the process ends.
        state.engine.shutdown();
        drop(runtime);
        Ok(out)
    })();
    if let Some(leases) = &leases {
        crate::cluster::release_alone(&**leases);
    }
    outcome
}

//! `kairos import shopify|woocommerce|magento --data-dir DIR --workspace ID`: the backfill of a connected store
//! (`kairos_server::backfill`), run in this process with a progress bar on stderr. Progress is committed after
//! every page: run it again after an interruption and it continues where it stopped.

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use kairos_engine::integrations::Platform;
use kairos_server::backfill::{self, Progress};

use crate::cli::StorageArgs;
use crate::secrets::SecretArgs;

/// Where an import goes: the workspace, and the store with its secrets.
#[derive(Args)]
pub struct PlatformArgs {
    /// Workspace id, as `kairos workspace create` prints it (ws_...).
    #[arg(long)]
    pub workspace: String,
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(flatten)]
    pub secrets: SecretArgs,
}

/// The bar's message: what is being read and how far each resource got.
fn describe(p: &Progress) -> String {
    let counts: Vec<String> = p.counts.iter().map(|(r, c)| format!("{r} {}", c.imported)).collect();
    format!("reading {} · {}", p.resource, counts.join(", "))
}

pub fn run(args: PlatformArgs, p: Platform) -> anyhow::Result<()> {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {wide_bar} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = |progress: &Progress| {
        let (imported, total) = progress.totals();
        if let Some(total) = total {
            bar.set_length(total.max(imported));
        }
        bar.set_position(imported);
        bar.set_message(describe(progress));
    };
    let outcome = super::with_engine(
        &args,
        || Ok(()),
        |runtime, state, ws| runtime.block_on(backfill::run(&state.engine, &state.platforms, ws, p, &report)),
    )?;
    bar.finish_and_clear();
    let done =
        outcome.map_err(|e| anyhow::anyhow!("the {p} backfill stopped: {e} (run the command again to continue)"))?;
    let (imported, _) = done.totals();
    for (resource, count) in &done.counts {
        println!("{resource}: {}", count.imported);
    }
    if let Some(why) = &done.first_rejection {
        println!("{} records did not have the documented shape and were skipped, the first: {why}", done.rejected);
    }
    println!("imported {imported}, left out {} (erased people), rejected {}", done.erased, done.rejected);
    Ok(())
}

//! `kairos migrate --from <sqlite data dir or url> --to postgres://...` (issue 12): copies a whole store, table by
//! table in key order, with a progress bar, then verifies that every table has the same row count and checksum
//! on both sides. Rows the target already has (by key) are left alone, so running it twice is harmless and an
//! interrupted copy can be run again.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use kairos_store::Store;
use kairos_store::copy::{Cell, RowCopy, TABLES, Table, table_digest};

/// Rows read and written per transaction.
const COPY_PAGE_ROWS: usize = 1_000;

#[derive(Args)]
pub struct MigrateArgs {
    /// The store to copy: a data directory (its SQLite `kairos.db`), `sqlite:PATH`, or `postgres://...`.
    #[arg(long)]
    pub from: String,
    /// The database to copy into (created tables on first use): `postgres://...` or `sqlite:PATH`.
    #[arg(long)]
    pub to: String,
}

fn open(what: &str, url: &str) -> anyhow::Result<Arc<dyn Store>> {
    if url.contains("://") || url.starts_with("sqlite:") {
        return crate::cli::open_database(Some(url), std::path::Path::new("."))
            .with_context(|| format!("opening the {what} database"));
    }
    // A data directory: only an existing store (an empty new one would copy nothing, silently).
    let dir = PathBuf::from(url);
    let file = dir.join(kairos_store_sqlite::DB_FILE_NAME);
    if !file.is_file() {
        bail!("{} has no Kairos database ({} is missing)", dir.display(), file.display());
    }
    crate::cli::open_database(None, &dir).with_context(|| format!("opening the {what} database"))
}

pub fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let from = open("source", &args.from)?;
    let to = open("target", &args.to)?;
    let (src, dst) = (from.copier()?, to.copier()?);
    if let Some(why) = src.not_ready()? {
        bail!("the source cannot be copied yet: {why}");
    }
    let mut total = 0;
    for t in TABLES {
        total += src.count(t)?;
    }
    eprintln!("copying {total} rows in {} tables...", TABLES.len());
    let bar = progress(total, "copying");
    for t in TABLES {
        copy_table(&*src, &*dst, t, &bar)?;
    }
    dst.finish_copy()?;
    bar.finish_and_clear();

    eprintln!("verifying counts and checksums...");
    let bar = progress(total * 2, "verifying");
    let mut report = Vec::new();
    for t in TABLES {
        let a = table_digest(&*src, t, COPY_PAGE_ROWS, &mut |n| bar.inc(n))?;
        let b = table_digest(&*dst, t, COPY_PAGE_ROWS, &mut |n| bar.inc(n))?;
        report.push((t.name, a, b));
    }
    bar.finish_and_clear();
    let mut differ = Vec::new();
    for (name, (n, a), (m, b)) in &report {
        if n != m || a != b {
            differ.push(format!(
                "{name}: {n} rows in the source, {m} in the target{}",
                if n == m { ", contents differ" } else { "" }
            ));
        }
    }
    if !differ.is_empty() {
        bail!("the copy does not match its source (was the source still in use?):\n  {}", differ.join("\n  "));
    }
    println!("copied and verified {total} rows in {} tables: counts and checksums match", TABLES.len());
    if from.local_dir().is_some() {
        println!(
            "the secrets stay sealed under the same master key: give every node KAIROS_SECRET_KEY (or \
             --secret-key-file) with the key of the source (its data directory's secret-key file unless you set one)"
        );
    }
    Ok(())
}

fn progress(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(&format!("{what} {{bar:40}} {{pos}}/{{len}} rows ({{per_sec}}, {{eta}} left)"))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn copy_table(src: &dyn RowCopy, dst: &dyn RowCopy, t: &Table, bar: &ProgressBar) -> anyhow::Result<()> {
    let keys = t.key_positions();
    let mut after: Option<Vec<Cell>> = None;
    loop {
        let rows = src.read_page(t, after.as_deref(), COPY_PAGE_ROWS).with_context(|| format!("reading {}", t.name))?;
        dst.insert_rows(t, &rows).with_context(|| format!("writing {}", t.name))?;
        bar.inc(rows.len() as u64);
        match rows.last() {
            Some(last) if rows.len() == COPY_PAGE_ROWS => after = Some(keys.iter().map(|&i| last[i].clone()).collect()),
            _ => return Ok(()),
        }
    }
}

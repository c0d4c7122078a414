//! `kairos import csv --kind contacts|orders|products FILE --data-dir DIR --workspace ID`: streams the file
//! through the shared import (`kairos_server::csv_import`) into an engine started on the store the way a server
//! starts one, with a progress bar (bytes read of the file's size) on stderr, and the rejected rows in
//! `FILE.rejected.csv` (the file's columns, then `line`, `column`, `reason`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use kairos_domain::Timestamp;
use kairos_engine::Clock;
use kairos_integrations::csv_rows::{Kind, RowContext};
use kairos_server::csv_import::{self, EngineSink, ImportError, Report};

#[derive(Clone, Copy, ValueEnum)]
pub enum KindArg {
    Contacts,
    Orders,
    Products,
}

#[derive(Args)]
pub struct CsvArgs {
    /// What the file holds.
    #[arg(long, value_enum)]
    pub kind: KindArg,
    /// The CSV file (UTF-8; comma, semicolon or tab separated; the first line names the columns).
    pub file: PathBuf,
    #[command(flatten)]
    pub target: super::PlatformArgs,
}

pub fn run(args: CsvArgs) -> anyhow::Result<()> {
    let kind = match args.kind {
        KindArg::Contacts => Kind::Contacts,
        KindArg::Orders => Kind::Orders,
        KindArg::Products => Kind::Products,
    };
    let file = std::fs::File::open(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
    let meta = file.metadata()?;
    let now = kairos_engine::SystemClock.now();
    // Rows without a time of their own are dated by the file: importing it again gives them the same time.
    let as_of = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(now, |d| Timestamp::from_micros(d.as_micros().min(i64::MAX as u128) as i64))
        .min(now);
    let report_path = rejected_path(&args.file);
    let bar = ProgressBar::new(meta.len());
    bar.set_style(
        ProgressStyle::with_template("importing {bar:40} {bytes}/{total_bytes} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut report = RejectedFile { path: report_path.clone(), writer: None, header: Vec::new(), bar: bar.clone() };
    // A report left by an earlier run would describe another import.
    let clear_report = || match std::fs::remove_file(&report_path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    };
    let outcome = super::with_engine(&args.target, clear_report, |runtime, state, ws| {
        let mut sink = EngineSink { engine: state.engine.clone(), handle: runtime.handle().clone(), ws };
        csv_import::import(kind, file, RowContext { as_of, now }, &mut sink, &mut report)
    })?;
    bar.finish_and_clear();
    let flushed = report.finish();
    let summary = outcome.map_err(|e| match e {
        ImportError::Header(m) => anyhow::anyhow!("{}: {m}", args.file.display()),
        other => anyhow::Error::new(other),
    })?;
    flushed?;
    println!("{} events stored, {} already stored", summary.events_stored, summary.already_stored);
    if summary.rejected > 0 {
        println!("rejected rows, with their line, column and reason: {}", report_path.display());
    }
    println!("imported {}, rejected {}", summary.imported, summary.rejected);
    Ok(())
}

/// `FILE.rejected.csv` beside the file.
fn rejected_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".rejected.csv");
    file.with_file_name(name)
}

/// The rejected rows' report, created at the first rejected row.
struct RejectedFile {
    path: PathBuf,
    writer: Option<csv::Writer<std::fs::File>>,
    header: Vec<String>,
    bar: ProgressBar,
}

impl RejectedFile {
    fn finish(&mut self) -> anyhow::Result<()> {
        if let Some(w) = self.writer.as_mut() {
            w.flush().with_context(|| format!("writing {}", self.path.display()))?;
        }
        Ok(())
    }
}

impl Report for RejectedFile {
    fn header(&mut self, names: &[String]) -> Result<(), ImportError> {
        self.header = names.to_vec();
        Ok(())
    }

    fn rejected(&mut self, line: u64, cells: &[String], column: &str, reason: &str) -> Result<(), ImportError> {
        if self.writer.is_none() {
            let mut w = csv::WriterBuilder::new().flexible(true).from_path(&self.path).map_err(csv_error)?;
            let mut header = self.header.clone();
            header.extend(["line", "column", "reason"].map(String::from));
            w.write_record(&header).map_err(csv_error)?;
            self.writer = Some(w);
        }
        let w = self.writer.as_mut().expect("created above");
        let mut record: Vec<&str> = cells.iter().map(String::as_str).collect();
        // A short row keeps the report's last three columns where the header puts them.
        record.resize(record.len().max(self.header.len()), "");
        let line = line.to_string();
        record.extend([line.as_str(), column, reason]);
        w.write_record(&record).map_err(csv_error)
    }

    fn progress(&mut self, bytes: u64) {
        self.bar.set_position(bytes);
    }
}

fn csv_error(e: csv::Error) -> ImportError {
    ImportError::Io(std::io::Error::other(e))
}

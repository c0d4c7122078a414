use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Kairos: self-hostable e-commerce marketing automation.
#[derive(Parser)]
#[command(name = "kairos", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (ingestion, admin API).
    Serve(ServeArgs),
    /// Run the server with a generated sample store.
    Demo(DemoArgs),
    /// Manage workspaces (stores).
    Workspace {
        #[command(subcommand)]
        command: WorkspaceCommand,
    },
    /// Measure throughput and latency.
    Bench(crate::bench::BenchArgs),
}

#[derive(Args, Clone)]
pub struct StorageArgs {
    /// Data directory (database, kairos.toml).
    #[arg(long, env = "KAIROS_DATA_DIR", default_value = "./kairos-data")]
    pub data_dir: PathBuf,
    /// Database URL; defaults to SQLite in the data directory. `sqlite:PATH` is accepted.
    #[arg(long, env = "KAIROS_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl StorageArgs {
    pub fn open(&self) -> anyhow::Result<kairos_store::SqliteStore> {
        Ok(match &self.database_url {
            Some(url) => kairos_store::SqliteStore::open_url(url)?,
            None => kairos_store::SqliteStore::open(&self.data_dir)?,
        })
    }
}

#[derive(Args, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "KAIROS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Make the clock controllable through POST /api/v1/dev/clock (tests and demos only).
    #[arg(long)]
    pub dev_clock: bool,
}

#[derive(Args)]
pub struct DemoArgs {
    /// Data directory of the demo store (created and filled on first run, reused after).
    #[arg(long, env = "KAIROS_DATA_DIR", default_value = "./kairos-demo")]
    pub data_dir: PathBuf,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "KAIROS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Number of contacts to generate.
    #[arg(long, default_value_t = 3_000)]
    pub contacts: usize,
    /// Days of history to generate.
    #[arg(long, default_value_t = 90)]
    pub days: u32,
    /// Random seed, for a reproducible store.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Generate the store and exit without serving.
    #[arg(long)]
    pub no_serve: bool,
}

#[derive(Subcommand)]
enum WorkspaceCommand {
    /// Create a workspace and print its id, write key and secret key.
    Create {
        /// Display name of the store.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        storage: StorageArgs,
        /// Print JSON: {"id", "write_key", "secret_key"}.
        #[arg(long)]
        json: bool,
    },
}

fn init_logging() {
    use std::str::FromStr;
    let spec = std::env::var("KAIROS_LOG").or_else(|_| std::env::var("RUST_LOG")).unwrap_or_else(|_| "info".into());
    let filter = tracing_subscriber::filter::Targets::from_str(&spec)
        .unwrap_or_else(|_| tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO));
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_target(false))
        .with(filter)
        .try_init();
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Serve(args) => crate::serve::run(args),
        Command::Demo(args) => crate::demo::run(args),
        Command::Workspace { command: WorkspaceCommand::Create { name, storage, json } } => {
            create_workspace(&name, &storage, json)
        }
        Command::Bench(args) => crate::bench::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn create_workspace(name: &str, storage: &StorageArgs, json: bool) -> anyhow::Result<()> {
    let name = name.trim();
    anyhow::ensure!(!name.is_empty() && name.chars().count() <= 200, "--name must be 1 to 200 characters");
    let store = storage.open()?;
    let now = kairos_engine::Clock::now(&kairos_engine::SystemClock);
    let ws = store.create_workspace(name, now)?;
    if json {
        println!("{}", serde_json::to_string(&ws)?);
    } else {
        println!("workspace {}\nwrite key  {}\nsecret key {}", ws.id, ws.write_key, ws.secret_key);
    }
    Ok(())
}

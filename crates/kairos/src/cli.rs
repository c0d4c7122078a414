use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use kairos_store::Store;
use kairos_store_postgres::PgStore;
use kairos_store_sqlite::SqliteStore;

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
    /// Manage web UI logins.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Measure throughput and latency.
    Bench(kairos_bench::BenchArgs),
    /// Import a store's data (a CSV file of contacts, orders or products).
    Import {
        #[command(subcommand)]
        command: crate::import::ImportCommand,
    },
    /// Copy a whole store to another database (e.g. SQLite to PostgreSQL) and verify it.
    Migrate(crate::migrate::MigrateArgs),
}

#[derive(Args, Clone)]
pub struct StorageArgs {
    /// Data directory (database, kairos.toml, and the master key file when no other key is given).
    #[arg(long, env = "KAIROS_DATA_DIR", default_value = "./kairos-data")]
    pub data_dir: PathBuf,
    /// Database URL: `postgres://user:password@host:port/database` runs on PostgreSQL; `sqlite:PATH` names a
    /// SQLite file; without it, SQLite in the data directory.
    #[arg(long, env = "KAIROS_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl StorageArgs {
    /// Opens the database: the one place the binary chooses the backend.
    pub fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        open_database(self.database_url.as_deref(), &self.data_dir)
    }
}

/// The backend a `--database-url` names (SQLite in `data_dir` without one).
pub fn open_database(url: Option<&str>, data_dir: &std::path::Path) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Arc::new(PgStore::open(url)?)
        }
        Some(url) => Arc::new(SqliteStore::open_url(url)?),
        None => Arc::new(SqliteStore::open(data_dir)?),
    })
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
    /// On a shared PostgreSQL database: the URL the other nodes reach this one at (`http://10.0.0.5:8080`);
    /// by default `http://` and the address it listens on.
    #[arg(long, env = "KAIROS_ADVERTISE_URL")]
    pub advertise_url: Option<String>,
    #[command(flatten)]
    pub secrets: crate::secrets::SecretArgs,
}

#[derive(Args)]
pub struct DemoArgs {
    /// Data directory of the demo store (created and filled on first run, reused after).
    #[arg(long, env = "KAIROS_DATA_DIR", default_value = "./kairos-demo")]
    pub data_dir: PathBuf,
    /// Database URL (`postgres://...`); without it, SQLite in the data directory.
    #[arg(long, env = "KAIROS_DATABASE_URL")]
    pub database_url: Option<String>,
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
    #[command(flatten)]
    pub secrets: crate::secrets::SecretArgs,
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

#[derive(Subcommand)]
enum UserCommand {
    /// Add a web UI login to a workspace (the password is stored as an Argon2id hash).
    Create {
        /// Workspace id, as `kairos workspace create` prints it (ws_...).
        #[arg(long)]
        workspace: String,
        /// Email address to log in with.
        #[arg(long)]
        email: String,
        /// Password, at least 8 characters. Prefer KAIROS_USER_PASSWORD to keep it out of the shell history.
        #[arg(long, env = "KAIROS_USER_PASSWORD", hide_env_values = true)]
        password: String,
        /// Replace the password of an existing user (and end that user's sessions) instead of failing.
        #[arg(long)]
        update: bool,
        #[command(flatten)]
        storage: StorageArgs,
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
        Command::User { command: UserCommand::Create { workspace, email, password, update, storage } } => {
            create_user(&storage, &workspace, &email, &password, update)
        }
        Command::Bench(args) => kairos_bench::run(args, crate::serve::bench_starter(), crate::cluster::release_alone),
        Command::Import { command } => crate::import::run(command),
        Command::Migrate(args) => crate::migrate::run(args),
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

fn create_user(
    storage: &StorageArgs,
    workspace: &str,
    email: &str,
    password: &str,
    update: bool,
) -> anyhow::Result<()> {
    use kairos_store::users::UserError;
    let store = storage.open()?;
    let now = kairos_engine::Clock::now(&kairos_engine::SystemClock);
    let user = match store.create_user(workspace, email, password, now) {
        Err(UserError::Exists) if update => store.set_password(workspace, email, password)?,
        Err(UserError::Exists) => {
            anyhow::bail!("a user with this email already exists in {workspace}; add --update to change its password")
        }
        other => other?,
    };
    println!("user {} can now log in to workspace {workspace} at /ui/login", user.email);
    Ok(())
}

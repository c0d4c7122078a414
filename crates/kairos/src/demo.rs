//! `kairos demo`: a generated sample store (catalog, shoppers, and 90 days lived by the engine: browsing,
//! carts, orders, the library flows and three campaigns with their opens, clicks and revenue), then the server.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use kairos_domain::{Event, Product, Timestamp, WorkspaceId};
use kairos_engine::{Clock, Engine, ManualClock, SystemClock};
use kairos_store::{NewWorkspace, Store};
use rand::SeedableRng;

use crate::cli::DemoArgs;
use crate::demo_content;
use crate::demo_history::{DAY_US, History};
use kairos_sample as sample;

const CREDENTIALS_FILE: &str = "demo.json";
/// The demo's web UI login (email and generated password), kept beside the store so a rerun prints it again.
const LOGIN_FILE: &str = "demo-login.json";
const DEMO_EMAIL: &str = "demo@kairos.local";
const DEMO_NAME: &str = "Velo Demo Store";
/// The demo's high-value cart threshold (EUR): above it the abandoned-cart flow asks the team to call.
const DEMO_HIGH_VALUE_CART: f64 = 2_000.0;
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)?;
    let store = crate::cli::open_database(args.database_url.as_deref(), &args.data_dir)?;
    if let Some(leases) = store.leases() {
        // Generating runs an engine: only while no other node runs one on this database.
        crate::cluster::hold_alone(leases, &format!("http://{}", args.listen))?;
    }
    let creds_path = args.data_dir.join(CREDENTIALS_FILE);
    let fresh = !creds_path.exists();
    let creds: NewWorkspace = if creds_path.exists() {
        let c: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&creds_path)?)?;
        eprintln!("Reusing the demo store in {}", args.data_dir.display());
        NewWorkspace {
            id: c["id"].as_str().unwrap_or_default().into(),
            write_key: c["write_key"].as_str().unwrap_or_default().into(),
            secret_key: c["secret_key"].as_str().unwrap_or_default().into(),
        }
    } else {
        let creds = generate(&store, &args).context("generating the demo store")?;
        std::fs::write(&creds_path, serde_json::to_string_pretty(&creds)?)?;
        creds
    };
    let login = demo_login(&*store, &creds.id, &args.data_dir).context("creating the demo login")?;
    if args.no_serve {
        print_credentials(&creds, None, &args.data_dir, &login);
        return Ok(());
    }
    let ws = workspace_id(&*store, &creds.id)?;
    crate::serve::runtime()?.block_on(async move {
        let (state, listener) =
            crate::serve::start_node(store, &args.data_dir, &args.secrets, &args.listen, false).await?;
        if fresh {
            // Message ids are stable: a demo restarted before this ran sends nothing twice.
            state.engine.ingest(ws, true, live_signups(state.engine.clock().now())?).await?;
        }
        let addr = listener.local_addr()?;
        print_credentials(&creds, Some(addr), &args.data_dir, &login);
        crate::serve::announce(&listener)?;
        kairos_server::serve(listener, state, crate::serve::shutdown_signal()).await?;
        Ok(())
    })
}

/// The demo's UI login: created with a random password on first run (or when its file is missing), then reused.
fn demo_login(store: &dyn Store, workspace: &str, dir: &Path) -> anyhow::Result<(String, String)> {
    let path = dir.join(LOGIN_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let v: serde_json::Value = serde_json::from_str(&text)?;
        if let (Some(e), Some(p)) = (v["email"].as_str(), v["password"].as_str()) {
            return Ok((e.to_string(), p.to_string()));
        }
    }
    let password = kairos_store::keys::random_token("", 6);
    let now = SystemClock.now();
    match store.create_user(workspace, DEMO_EMAIL, &password, now) {
        Err(kairos_store::users::UserError::Exists) => {
            store.set_password(workspace, DEMO_EMAIL, &password)?;
        }
        other => {
            other?;
        }
    }
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&serde_json::json!({"email": DEMO_EMAIL, "password": password}))?,
    )?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok((DEMO_EMAIL.to_string(), password))
}

fn print_credentials(c: &NewWorkspace, addr: Option<std::net::SocketAddr>, dir: &Path, login: &(String, String)) {
    println!("Kairos demo store \"{DEMO_NAME}\" (data in {})", dir.display());
    println!("  workspace   {}", c.id);
    println!("  write key   {}   (ingestion: /v1/track, /v1/batch, ...)", c.write_key);
    println!("  secret key  {}   (admin API: /api/v1/...)", c.secret_key);
    match addr {
        Some(addr) => println!("UI: http://{addr}/ui/ — login {} / {}", login.0, login.1),
        None => println!("UI login: {} / {}   (serve the demo to use it)", login.0, login.1),
    }
    if let Some(addr) = addr {
        println!(
            "  try         curl -H 'Authorization: Bearer {}' 'http://{addr}/api/v1/contacts?limit=3'",
            c.secret_key
        );
    }
}

fn workspace_id(store: &dyn Store, public_id: &str) -> anyhow::Result<WorkspaceId> {
    store
        .workspaces()?
        .into_iter()
        .find(|(_, p, _)| p == public_id)
        .map(|(id, _, _)| id)
        .context("the new workspace is missing")
}

/// New subscribers who sign up once the server is up.
const DEMO_LIVE_SIGNUPS: usize = 12;

/// A few sign-ups arriving once the server runs (so links point at its address): their consent emits
/// `Email Subscribed` and the welcome series greets them, and the outbox and the flow numbers show something from the first minute.
fn live_signups(now: kairos_domain::Timestamp) -> anyhow::Result<Vec<Event>> {
    let mut live = Vec::new();
    for i in 0..DEMO_LIVE_SIGNUPS {
        let user = format!("demo-new-{i}");
        live.push(serde_json::json!({"type": "identify", "userId": user, "messageId": format!("demo-live-id-{i}"),
            "traits": {"email": format!("new.shopper{i}@example.com"),
                       "first_name": sample::FIRST_NAMES[i % sample::FIRST_NAMES.len()], "email_consent": "subscribed"}}));
    }
    live.into_iter()
        .map(|v| Event::from_segment(v, None, now, &mut || unreachable_id()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("sample event: {e}"))
}

fn generate(store: &Arc<dyn Store>, args: &DemoArgs) -> anyhow::Result<NewWorkspace> {
    let real_now = SystemClock.now();
    let first = real_now.as_micros() - i64::from(args.days) * DAY_US;
    // The engine lives the history on a clock that walks from before its first day up to now.
    let clock = Arc::new(ManualClock::new(Timestamp::from_micros(first - DAY_US * 200)));
    let creds = store.create_workspace(DEMO_NAME, real_now)?;
    let ws = workspace_id(&**store, &creds.id)?;
    // The keys the server will use: message ids derive from the link key, so they must not change after this.
    let keys = crate::secrets::open(&**store, &args.data_dir, &args.secrets, &[], real_now)?;
    let engine = Arc::new(Engine::start_with(
        store.clone(),
        clock.clone(),
        kairos_engine::settings::Settings::default(),
        "http://127.0.0.1:8080",
        keys.link_key,
        keys.sealer,
    )?);
    // Hourly in a running store; daily here, where a day passes in a second and each refresh reads 90 days.
    engine.set_recommendations_refresh(kairos_domain::Duration::from_secs(86_400));
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let mut catalog = sample::catalog(&mut rng);
    // Pictures drawn by the demo server itself: nothing points at a host that does not exist.
    let base = demo_base(&args.listen);
    for p in &mut catalog {
        p.image_url = format!("{base}/demo-images/{}.svg", p.id);
    }
    let shoppers: Vec<sample::Shopper> = (0..args.contacts).map(|i| sample::shopper(i, &mut rng)).collect();
    let bar = ProgressBar::new(u64::from(args.days));
    bar.set_style(
        ProgressStyle::with_template("living {bar:40} day {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let products = catalog.len();
    let mut history = History::new(engine.clone(), clock, ws, rng, catalog, shoppers);
    let tally = crate::serve::runtime()?.block_on(async {
        setup_store(&history).await?;
        history.existing_customers(first).await?;
        // The marketer turns Kairos on: segments, the library flows and the campaigns' emails.
        history.clock.advance_to(Timestamp::from_micros(first));
        history.segments().await?;
        for lib in kairos_flow::library::LIBRARY {
            engine.install_and_activate(ws, lib.key).await?;
        }
        for (id, source) in demo_content::templates() {
            engine.save_template(ws, id, source).await?;
        }
        history
            .live(first, args.days, |t| {
                bar.inc(1);
                bar.set_message(format!(
                    "{} events, {} emails, {} opens, {} clicks",
                    t.events, t.emails, t.opens, t.clicks
                ));
            })
            .await?;
        anyhow::Ok(std::mem::take(&mut history.tally))
    })?;
    bar.finish();
    engine.shutdown();
    eprintln!(
        "generated {products} products and {} shoppers over {} days: {} events, {} emails sent, {} opens, {} clicks, {} orders after a click",
        args.contacts, args.days, tally.events, tally.emails, tally.opens, tally.clicks, tally.orders_after_click
    );
    Ok(creds)
}

/// The store's settings and catalog, before anything happens in it.
async fn setup_store(history: &History) -> anyhow::Result<()> {
    let now = history.clock.now();
    let products = history
        .catalog
        .iter()
        .map(|p| Product::from_api(&p.api_json(), None, now))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("sample product: {e}"))?;
    history.engine.upsert_products(history.ws, products).await?;
    // The sample store's links go to its own domain: the one click tracking accepts.
    let settings = kairos_engine::settings::SettingsPatch::parse(serde_json::json!({
        "store": {"url": sample::STORE_URL, "name": DEMO_NAME, "currency": "EUR"},
        // A cart worth a call is a bike or two, in the demo's currency.
        "high_value_cart": DEMO_HIGH_VALUE_CART,
    }))
    .map_err(|e| anyhow::anyhow!("sample settings: {e:?}"))?;
    history.engine.update_settings(history.ws, settings).await?;
    Ok(())
}

/// The address the demo server is reached at (an unspecified or automatic address reads as the default one).
fn demo_base(listen: &str) -> String {
    match listen.parse::<std::net::SocketAddr>() {
        Ok(a) if a.port() != 0 && !a.ip().is_unspecified() => format!("http://{a}"),
        Ok(a) if a.port() != 0 => format!("http://127.0.0.1:{}", a.port()),
        _ => "http://127.0.0.1:8080".to_string(),
    }
}

/// Sample events always carry their own message id.
pub(crate) fn unreachable_id() -> String {
    "demo-missing-id".to_string()
}

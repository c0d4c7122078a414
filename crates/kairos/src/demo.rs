//! `kairos demo`: a generated sample store (catalog, shoppers, 90 days of browsing, carts and orders),
//! then the server.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use kairos_domain::{Event, Product, WorkspaceId};
use kairos_engine::{Clock, Engine, SystemClock};
use kairos_store::{NewWorkspace, Store};
use rand::{RngExt, SeedableRng};

use crate::cli::DemoArgs;
use kairos_sample as sample;

const CREDENTIALS_FILE: &str = "demo.json";
/// The demo's web UI login (email and generated password), kept beside the store so a rerun prints it again.
const LOGIN_FILE: &str = "demo-login.json";
const DEMO_EMAIL: &str = "demo@kairos.local";
const DEMO_NAME: &str = "Velo Demo Store";
/// The demo's high-value cart threshold (EUR): above it the abandoned-cart flow asks the team to call.
const DEMO_HIGH_VALUE_CART: f64 = 1_500.0;
/// Segments a marketer would start with.
const DEMO_SEGMENTS: &[(&str, &str)] = &[
    ("Repeat buyers", "orders.count >= 2"),
    ("VIP", "orders.total_spent > 2000"),
    ("Abandoned checkout (24h)", "did \"Checkout Started\" within 24h and not did \"Order Completed\" within 24h"),
    ("Bike buyers", "did \"Order Completed\" where products.category contains \"bicycles\""),
    (
        "Browsing helmets",
        "count(\"Product Viewed\" where category = \"helmets\", within 14d) >= 2 and orders.count = 0",
    ),
    ("Lapsed customers", "orders.count >= 1 and orders.last_at before 30d ago"),
    ("Email subscribers", "subscribed email"),
    ("Helsinki", "trait.city = \"Helsinki\""),
];
/// Events handed to the engine per call while generating.
const GENERATE_CHUNK_EVENTS: usize = 2_000;

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
    let clock = SystemClock;
    let now = clock.now();
    let creds = store.create_workspace(DEMO_NAME, now)?;
    let ws = workspace_id(&**store, &creds.id)?;
    // The keys the server will use: message ids derive from the link key, so they must not change after this.
    let keys = crate::secrets::open(&**store, &args.data_dir, &args.secrets, None, now)?;
    let engine = Engine::start_with(
        store.clone(),
        Arc::new(SystemClock),
        kairos_engine::settings::Settings::default(),
        "http://127.0.0.1:8080",
        keys.link_key,
        keys.sealer,
    )?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);

    let mut catalog = sample::catalog(&mut rng);
    // Pictures drawn by the demo server itself: nothing points at a host that does not exist.
    let base = demo_base(&args.listen);
    for p in &mut catalog {
        p.image_url = format!("{base}/demo-images/{}.svg", p.id);
    }
    let products = catalog
        .iter()
        .map(|p| Product::from_api(&p.api_json(), None, now))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("sample product: {e}"))?;
    engine.upsert_products_blocking(ws, products)?;
    // The sample store's links go to its own domain: the one click tracking accepts.
    let store_url = kairos_engine::settings::SettingsPatch::parse(serde_json::json!({
        "store": {"url": sample::STORE_URL, "name": DEMO_NAME, "currency": "EUR"},
        // A cart worth a call is a bike or two, in the demo's currency.
        "high_value_cart": DEMO_HIGH_VALUE_CART,
    }))
    .map_err(|e| anyhow::anyhow!("sample settings: {e:?}"))?;
    crate::serve::runtime()?.block_on(engine.update_settings(ws, store_url))?;

    let mut shoppers: Vec<sample::Shopper> = (0..args.contacts).map(|i| sample::shopper(i, &mut rng)).collect();
    let bar = ProgressBar::new(u64::from(args.days));
    bar.set_style(
        ProgressStyle::with_template("generating {bar:40} day {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let day_us = 86_400_000_000_i64;
    let first_day = now.as_micros() - i64::from(args.days) * day_us;
    let mut counter = 0u64;
    let mut total = 0usize;
    let mut pending: Vec<Event> = Vec::new();
    for day in 0..args.days {
        let day_start = first_day + i64::from(day) * day_us;
        let mut sessions = Vec::new();
        for s in shoppers.iter_mut() {
            // Engaged shoppers visit more often; everyone visits now and then.
            if !rng.random_bool(0.02 + 0.08 * s.propensity) {
                continue;
            }
            let start = jiff::Timestamp::from_microsecond(day_start + rng.random_range(0..day_us))
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
            let mut next_id = || {
                counter += 1;
                format!("demo-{counter:09}")
            };
            sessions.extend(sample::session(s, &catalog, start, &mut rng, &mut next_id));
        }
        let mut events = sessions
            .into_iter()
            .map(|v| Event::from_segment(v, None, now, &mut || unreachable_id()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("sample event: {e}"))?;
        events.sort_by_key(|e| e.timestamp);
        total += events.len();
        pending.extend(events);
        if pending.len() >= GENERATE_CHUNK_EVENTS || day + 1 == args.days {
            engine.ingest_blocking(ws, true, std::mem::take(&mut pending))?;
        }
        bar.inc(1);
        bar.set_message(format!("{total} events"));
    }
    bar.finish_with_message(format!("{total} events"));
    for (name, definition) in DEMO_SEGMENTS {
        let expr = kairos_segment::parse::parse(definition).map_err(|e| anyhow::anyhow!("demo segment {name}: {e}"))?;
        engine.segment_blocking(ws, kairos_engine::SegmentCmd::Create { name: name.to_string(), expr })?;
    }
    for lib in kairos_flow::library::LIBRARY {
        engine.install_and_activate_blocking(ws, lib.key)?;
    }
    engine.shutdown();
    eprintln!(
        "generated {} products, {} shoppers, {total} events over {} days",
        catalog.len(),
        args.contacts,
        args.days
    );
    Ok(creds)
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
fn unreachable_id() -> String {
    "demo-missing-id".to_string()
}

//! Backfills: a connected store's products, customers and orders read through its API (Shopify Admin API
//! with cursor pagination, WooCommerce REST API v3 by page, Magento 2 REST search lists by `updated_at`) and
//! taken in as the platform's webhooks would have been (the same mappers, the same message ids, so a backfill
//! and live webhooks never count anything twice; records naming an erased person are left out,
//! `kairos_engine::erasure`). Magento sends no webhooks: a finished Magento backfill keeps each list's newest
//! update time, and the next run (every [`MAGENTO_SYNC_INTERVAL`], or started by hand) reads only what changed
//! since.
//!
//! Progress is committed after every page under the sync state `backfill/{platform}`: a backfill stopped by
//! a crash continues from the page it was on (`kairos import` run again, or the server at start). Throttled
//! calls (HTTP 429, honouring `Retry-After`) and server errors are retried with a bounded wait; a refused
//! token stops the backfill with an error in words.

pub mod sources;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kairos_channels::HttpClient;
use kairos_domain::{Event, Timestamp, WorkspaceId};
use kairos_engine::integrations::Platform;
use kairos_engine::{Engine, EngineError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use sources::Source;

/// Attempts at one API call before the backfill stops (throttling and server errors are retried).
pub const CALL_ATTEMPTS_MAX: u32 = 8;
/// Longest wait before retrying a call, whatever `Retry-After` says.
pub const RETRY_WAIT_MAX: Duration = Duration::from_secs(60);
/// First wait after a server error or a failed connection (doubling with each attempt).
const RETRY_WAIT_FIRST: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("this workspace has no {0} connection")]
    NotConnected(Platform),
    #[error("backfills from {0} are not available")]
    Unsupported(Platform),
    #[error("a {0} backfill of this workspace is already running")]
    Running(Platform),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("the platform answered something unexpected: {0}")]
    Malformed(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Where a backfill is, as stored after each page and shown in the UI.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Progress {
    pub status: Status,
    /// The resource being read (`products`, `customers`, `orders`), or the last one.
    pub resource: String,
    /// Where the resource continues (a next-page URL or page number); None at its first page.
    pub cursor: Option<String>,
    /// Records taken in and (when the platform says) records in all, per resource.
    pub counts: BTreeMap<String, Count>,
    /// Records left out because they name an erased person.
    pub erased: u64,
    /// Orders left out because Kairos already counted them (a webhook, an earlier backfill or import brought
    /// them): beyond the engine's message-id window they would count twice.
    #[serde(default)]
    pub known: u64,
    /// Per resource, the newest record's update time seen (RFC 3339): where an incremental sync (Magento)
    /// starts next time.
    #[serde(default)]
    pub marks: BTreeMap<String, String>,
    /// Records that did not have the documented shape (skipped; the first reason is kept).
    pub rejected: u64,
    pub first_rejection: Option<String>,
    #[serde(with = "kairos_domain::time::rfc3339_option")]
    pub started_at: Option<Timestamp>,
    #[serde(with = "kairos_domain::time::rfc3339_option")]
    pub updated_at: Option<Timestamp>,
    pub error: Option<String>,
}

/// Where a backfill is: reading, finished, or stopped by an error (it continues from there when started again).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Running,
    Done,
    Failed,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Count {
    pub imported: u64,
    pub total: Option<u64>,
}

impl Progress {
    pub fn is_running(&self) -> bool {
        self.status == Status::Running
    }
    /// Records taken in and records in all (when every total is known).
    pub fn totals(&self) -> (u64, Option<u64>) {
        let imported = self.counts.values().map(|c| c.imported).sum();
        let total = self.counts.values().map(|c| c.total).sum();
        (imported, total)
    }
}

/// The sync-state name of a platform's backfill.
fn state_name(p: Platform) -> String {
    format!("backfill/{p}")
}

/// The backfill's stored progress, if it ever ran.
pub async fn progress(engine: &Engine, ws: WorkspaceId, p: Platform) -> Result<Option<Progress>, BackfillError> {
    let stored = engine.sync_state(ws, &state_name(p)).await?;
    Ok(stored.and_then(|s| serde_json::from_str(&s).ok()))
}

async fn save(engine: &Engine, ws: WorkspaceId, p: Platform, progress: &Progress) -> Result<(), BackfillError> {
    let text = serde_json::to_string(progress).unwrap_or_default();
    engine.set_sync_state(ws, &state_name(p), Some(text)).await?;
    Ok(())
}

/// Backfills running in this process, so one workspace's platform is not read twice at once.
static RUNNING: Mutex<Option<HashSet<(WorkspaceId, Platform)>>> = Mutex::new(None);

struct Claim(WorkspaceId, Platform);

impl Claim {
    fn take(ws: WorkspaceId, p: Platform) -> Result<Claim, BackfillError> {
        let mut running = RUNNING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !running.get_or_insert_with(HashSet::new).insert((ws, p)) {
            return Err(BackfillError::Running(p));
        }
        Ok(Claim(ws, p))
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut running = RUNNING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(set) = running.as_mut() {
            set.remove(&(self.0, self.1));
        }
    }
}

/// Whether a backfill of the workspace's platform runs in this process now.
pub fn is_running_here(ws: WorkspaceId, p: Platform) -> bool {
    let running = RUNNING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    running.as_ref().is_some_and(|s| s.contains(&(ws, p)))
}

/// A platform's messages validated as any ingested message would be: the events of one record.
pub(crate) fn events_of(
    source: impl std::fmt::Display,
    messages: Vec<Value>,
    now: Timestamp,
) -> Result<Vec<Event>, (String, String)> {
    let mut events = Vec::with_capacity(messages.len());
    for (i, message) in messages.into_iter().enumerate() {
        let e = Event::from_segment(message, None, now, &mut || format!("{source}-{}-{i}", now.as_micros()))
            .map_err(|e| (format!("event {i}: {}", e.field.as_deref().unwrap_or("body")), e.message))?;
        events.push(e);
    }
    Ok(events)
}

/// Runs (or continues) the workspace's backfill from `p` to the end, reporting progress after every page.
pub async fn run(
    engine: &Engine,
    http: &HttpClient,
    ws: WorkspaceId,
    p: Platform,
    report: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<Progress, BackfillError> {
    let _claim = Claim::take(ws, p)?;
    let Some(Value::Object(config)) = engine.integration(ws, p).await? else {
        return Err(BackfillError::NotConnected(p));
    };
    let source = Source::of(p, &config)?;
    let now = engine.clock().now();
    let mut progress = match progress(engine, ws, p).await? {
        Some(old) if old.status != Status::Done => old,
        // A new run; an incremental source keeps its high-water marks and reads only what changed since.
        old => {
            let marks = old.filter(|_| source.incremental()).map(|o| o.marks).unwrap_or_default();
            Progress { started_at: Some(now), resource: source.resources()[0].into(), marks, ..Progress::default() }
        }
    };
    progress.status = Status::Running;
    progress.error = None;
    save(engine, ws, p, &progress).await?;
    let outcome = pages(engine, http, ws, p, &source, &mut progress, report).await;
    progress.updated_at = Some(engine.clock().now());
    match outcome {
        Ok(()) => {
            progress.status = Status::Done;
            progress.cursor = None;
            save(engine, ws, p, &progress).await?;
            report(&progress);
            Ok(progress)
        }
        Err(e) => {
            progress.status = Status::Failed;
            progress.error = Some(e.to_string());
            // Best effort: the failure is also the answer.
            let _ = save(engine, ws, p, &progress).await;
            report(&progress);
            Err(e)
        }
    }
}

/// Reads every remaining page of every resource.
async fn pages(
    engine: &Engine,
    http: &HttpClient,
    ws: WorkspaceId,
    p: Platform,
    source: &Source,
    progress: &mut Progress,
    report: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<(), BackfillError> {
    let resources = source.resources();
    let start = resources.iter().position(|r| *r == progress.resource).unwrap_or(0);
    let mut known = None;
    for resource in &resources[start..] {
        if *resource == "orders" {
            known = Some(known_orders_of(engine, ws).await?);
        }
        if progress.resource != *resource {
            // Committed before anything is read: a restart continues here, not at the resource before.
            progress.resource = (*resource).into();
            progress.cursor = None;
            save(engine, ws, p, progress).await?;
        }
        if progress.cursor.is_none()
            && let Some(mark) = progress.marks.get(*resource).and_then(|m| Timestamp::parse(m))
        {
            progress.cursor = Some(sources::MagentoCursor { after: Some(mark), page: 1 }.text());
        }
        if progress.cursor.is_none()
            && let Some(url) = source.count_url(resource)
        {
            let (_, body) = call(http, source, &url).await?;
            progress.counts.entry((*resource).into()).or_default().total = source.count(&body);
        }
        loop {
            let url = source.url(resource, progress.cursor.as_deref());
            let (headers, body) = call(http, source, &url).await?;
            let page = source.page(resource, progress.cursor.as_deref(), &headers, &body)?;
            let count = progress.counts.entry((*resource).into()).or_default();
            if page.total.is_some() {
                count.total = page.total;
            }
            if let Some(newest) = source.newest(&page.records) {
                let mark = progress.marks.entry((*resource).into()).or_default();
                if Timestamp::parse(mark).is_none_or(|m| newest > m) {
                    *mark = newest.to_string();
                }
            }
            take_in(engine, ws, p, source, resource, page.records, known.as_ref(), progress).await?;
            progress.cursor = page.next;
            progress.updated_at = Some(engine.clock().now());
            save(engine, ws, p, progress).await?;
            report(progress);
            if progress.cursor.is_none() {
                break;
            }
        }
    }
    Ok(())
}

/// The order ids Kairos already counted (`crate::csv_import::known_orders`), read off the async threads.
async fn known_orders_of(engine: &Engine, ws: WorkspaceId) -> Result<HashSet<u64>, BackfillError> {
    let started = std::time::Instant::now();
    let known = tokio::task::block_in_place(|| crate::csv_import::known_orders(engine, ws))?;
    tracing::debug!(orders = known.len(), ms = started.elapsed().as_millis() as u64, "known orders read");
    Ok(known)
}

/// Whether a record's `Order Completed` names an order Kairos already counted.
fn already_counted(events: &[Event], known: Option<&HashSet<u64>>) -> bool {
    let Some(known) = known else { return false };
    events.iter().any(|e| {
        e.name.as_deref() == Some("Order Completed")
            && e.properties.get("order_id").is_some_and(|id| {
                known.contains(&crate::csv_import::order_key(&crate::csv_import::order_text(id.clone())))
            })
    })
}

/// Maps a page's records and commits them: products, then each record's events (one record each). An order
/// Kairos already counted is left out whole (`known`).
#[allow(clippy::too_many_arguments)]
async fn take_in(
    engine: &Engine,
    ws: WorkspaceId,
    p: Platform,
    source: &Source,
    resource: &str,
    records: Vec<Value>,
    known: Option<&HashSet<u64>>,
    progress: &mut Progress,
) -> Result<(), BackfillError> {
    let now = engine.clock().now();
    let (mut events, mut products, mut items, mut taken) = (Vec::new(), Vec::new(), Vec::new(), 0u64);
    for (i, record) in records.iter().enumerate() {
        let mapped = source.map(resource, record, now).map_err(|e| (e.field, e.message)).and_then(|m| {
            let evs = events_of(p, m.messages, now)?;
            Ok((evs, m.products, m.inventory_items))
        });
        match mapped {
            Ok((evs, _, _)) if already_counted(&evs, known) => progress.known += 1,
            Ok((evs, prods, its)) => {
                items.extend(its);
                if !evs.is_empty() {
                    events.push(evs);
                }
                products.extend(prods);
                taken += 1;
            }
            Err((field, message)) => {
                progress.rejected += 1;
                progress.first_rejection.get_or_insert_with(|| format!("{resource} record {i}: {field}: {message}"));
            }
        }
    }
    if !products.is_empty() {
        engine.upsert_platform_products(ws, products).await?;
    }
    crate::routes::inventory::remember_items(engine, ws, items).await?;
    let done = engine.ingest_records(ws, events).await?;
    progress.erased += done.erased as u64;
    progress.counts.entry(resource.into()).or_default().imported += taken - done.erased as u64;
    Ok(())
}

/// One GET to the platform, retried while throttled or failing on its side: (headers, JSON body).
async fn call(http: &HttpClient, source: &Source, url: &str) -> Result<(axum::http::HeaderMap, Value), BackfillError> {
    let shown = url.split('?').next().unwrap_or_default().to_string();
    let mut wait = RETRY_WAIT_FIRST;
    for attempt in 1..=CALL_ATTEMPTS_MAX {
        let (name, value) = source.auth();
        let request = axum::http::Request::get(url)
            .header(name, value)
            .header("accept", "application/json")
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .map_err(|e| BackfillError::Refused(format!("the connection's address is not usable: {e}")))?;
        let retry_in = match http.send(request).await {
            Ok(r) if (200..300).contains(&r.status) => {
                let body = serde_json::from_slice(&r.body)
                    .map_err(|e| BackfillError::Malformed(format!("{shown} did not answer JSON: {e}")))?;
                return Ok((r.headers, body));
            }
            Ok(r) if r.status == 401 || r.status == 403 => {
                return Err(BackfillError::Refused(format!(
                    "the platform refused the credentials (HTTP {}) at {shown}: check the access token or keys",
                    r.status
                )));
            }
            Ok(r) if r.status == 429 => {
                let after = r
                    .headers
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<f64>().ok());
                after.filter(|s| s.is_finite() && *s >= 0.0).map_or(wait, Duration::from_secs_f64)
            }
            Ok(r) if r.status >= 500 => wait,
            Ok(r) => return Err(BackfillError::Refused(format!("the platform answered HTTP {} at {shown}", r.status))),
            Err(kairos_channels::SendError::Permanent(why)) => {
                return Err(BackfillError::Unreachable(format!("could not call {shown}: {why}")));
            }
            Err(kairos_channels::SendError::Transient(_)) => wait,
        };
        if attempt == CALL_ATTEMPTS_MAX {
            break;
        }
        tracing::info!(url = %shown, attempt, wait_ms = retry_in.as_millis() as u64, "backfill call retried");
        tokio::time::sleep(retry_in.min(RETRY_WAIT_MAX)).await;
        wait = (wait * 2).min(RETRY_WAIT_MAX);
    }
    Err(BackfillError::Unreachable(format!("{shown} kept failing after {CALL_ATTEMPTS_MAX} attempts")))
}

/// Starts (or continues) a backfill in the background of a server; its progress is in the sync state.
pub fn spawn(engine: Arc<Engine>, http: HttpClient, ws: WorkspaceId, p: Platform) {
    tokio::spawn(async move {
        if let Err(e) = run(&engine, &http, ws, p, &|_| {}).await {
            tracing::warn!(%p, error = %e, "backfill stopped");
        }
    });
}

/// At start: continues every backfill a stopped process left running.
pub async fn resume_interrupted(engine: Arc<Engine>, http: HttpClient) {
    let store = engine.store().clone();
    let workspaces = match tokio::task::spawn_blocking(move || store.workspaces()).await {
        Ok(Ok(w)) => w,
        _ => return,
    };
    for (ws, ..) in workspaces {
        for p in Platform::ALL {
            if let Ok(Some(pr)) = progress(&engine, ws, *p).await
                && pr.is_running()
            {
                tracing::info!(%p, workspace = ws.0, "continuing an interrupted backfill");
                spawn(engine.clone(), http.clone(), ws, *p);
            }
        }
    }
}

/// How often a connected Magento store is read for what changed (Magento sends no webhooks).
pub const MAGENTO_SYNC_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// Every [`MAGENTO_SYNC_INTERVAL`]: an incremental sync of each workspace connected to Magento (from the
/// newest update time the last one saw), unless one is running.
pub async fn sync_magento_forever(engine: Arc<Engine>, http: HttpClient) {
    loop {
        tokio::time::sleep(MAGENTO_SYNC_INTERVAL).await;
        let store = engine.store().clone();
        let Ok(Ok(workspaces)) = tokio::task::spawn_blocking(move || store.workspaces()).await else { continue };
        for (ws, ..) in workspaces {
            let connected = matches!(engine.integration(ws, Platform::Magento).await, Ok(Some(_)));
            if !connected || is_running_here(ws, Platform::Magento) {
                continue;
            }
            if let Err(e) = run(&engine, &http, ws, Platform::Magento, &|_| {}).await {
                tracing::warn!(workspace = ws.0, error = %e, "the Magento sync stopped");
            }
        }
    }
}

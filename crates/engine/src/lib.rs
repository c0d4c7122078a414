//! The runtime: the committer thread that owns all writes (group commit), identity resolution, profile
//! aggregates, and the clock. HTTP handlers talk to it through [`Engine`].

pub mod campaign_life;
mod campaign_ops;
pub mod campaigns;
mod cart_log;
mod clock;
mod collections;
mod command;
mod committer;
mod coupon_ops;
pub mod coupons;
mod dedupe;
mod delivery;
pub mod dispatch;
mod durability;
pub mod erasure;
mod event_path;
mod flow_ops;
mod flow_runs;
mod flow_runtime;
mod flow_timers;
mod flow_triggers;
mod flows;
mod freshness;
mod handoff;
mod id_slots;
mod identity;
pub mod integrations;
mod lead;
mod lead_ops;
pub mod links;
mod message_ids;
mod message_ops;
pub mod messages;
pub mod profiles;
mod reads;
mod rec_cache;
mod recommend;
mod render;
mod reorder;
mod row_wait;
mod secrets;
mod segment_full;
mod segment_ops;
mod segment_preview;
mod segment_rows;
pub mod segments;
pub mod sending;
pub mod settings;
mod settings_ops;
mod sharded;
pub mod simulate;
pub mod site_products;
mod spent;
mod state;
mod stores;
pub mod subscriptions;
mod tasks;
pub mod templates;
pub mod topics;
pub mod tracking;
mod work;

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use kairos_domain::{ConsentStatus, Contact, Event, Product, Timestamp, WorkspaceId};
use kairos_store::{Background, Reads, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

use command::Command;

pub use campaigns::CAMPAIGN_WAVE_RECIPIENTS_MAX;
pub use clock::{Clock, DevClock, DevClockError, ManualClock, SystemClock};
pub use delivery::UNCONFIRMED_REASON;
pub use dispatch::HANDOFF_IN_FLIGHT_MAX;
pub use flows::FLOW_COUNTER_STEP;
pub use segment_preview::PREVIEW_SAMPLE_MAX as SEGMENT_PREVIEW_SAMPLE_MAX;

/// Requests queued for the committer before producers wait (back-pressure).
pub const QUEUE_OPS_MAX: usize = 4_096;
/// Longest a request waits for room in the committer queue before it is answered 503.
pub const QUEUE_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(10);
/// Most events written in one transaction; a larger backlog is split into several commits.
pub const GROUP_EVENTS_MAX: usize = 10_000;
/// Flow simulations running at once; more wait their turn. Each keeps a core busy for seconds (1 M events: about
/// 8 s), and the committer needs the other: in the committer they ran one at a time too.
pub const SIMULATIONS_RUNNING_MAX: usize = 1;
/// Segment previews running at once; more wait their turn. Each reads every profile of its workspace (100 000
/// contacts: about 3 s), so a marketer typing a definition cannot take every read connection.
pub const SEGMENT_PREVIEWS_RUNNING_MAX: usize = 1;
/// How long the committer remembers message ids for de-duplication (Segment uses about a day).
pub const DEDUPE_WINDOW: kairos_domain::Duration = kairos_domain::Duration::from_secs(7 * 86_400);

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the server is shutting down or overloaded")]
    Unavailable,
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Invalid { message: String, field: Option<String> },
    #[error("{0}")]
    Conflict(String),
}

/// A segment as the API shows it.
#[derive(Debug, Clone)]
pub struct SegmentInfo {
    pub id: String,
    pub name: String,
    pub expr: kairos_segment::Expr,
    pub size: u64,
    pub created_at: kairos_domain::Timestamp,
    pub updated_at: kairos_domain::Timestamp,
    /// Things worth knowing that do not make the definition invalid (unknown event names).
    pub warnings: Vec<String>,
}

/// A segment membership change, published after it is committed (flows subscribe to these).
#[derive(Debug, Clone)]
pub struct SegmentChange {
    pub workspace: WorkspaceId,
    pub contact: kairos_domain::ContactId,
    pub segment_id: String,
    pub entered: bool,
}

pub enum SegmentCmd {
    Create { name: String, expr: kairos_segment::Expr },
    Update { id: String, name: Option<String>, expr: Option<kairos_segment::Expr> },
    Delete { id: String },
    Get { id: String },
    List,
    Preview { expr: kairos_segment::Expr, sample: usize },
}

pub enum SegmentReply {
    Info(SegmentInfo),
    List(Vec<SegmentInfo>),
    Deleted,
    Preview { count: u64, sample: Vec<Contact>, warnings: Vec<String> },
}

/// Result of one ingestion request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    pub stored: usize,
    pub duplicates: usize,
}

/// What ingesting imported records did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    /// Events stored.
    pub stored: usize,
    /// Events already stored (same message id).
    pub duplicates: usize,
    /// Records left out because they name an erased person who has not consented again.
    pub erased: usize,
    /// Which records (their positions in the list given) were left out.
    pub erased_records: Vec<usize>,
}

/// What an erasure rewrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Erasure {
    pub contact: kairos_domain::ContactId,
    pub events: u64,
    pub messages: u64,
    pub flow_runs: u64,
}

/// Who a consent change is about.
#[derive(Debug, Clone)]
pub enum ContactRef {
    Id(kairos_domain::ContactId),
    UserId(String),
    Email(kairos_domain::Email),
    Phone(kairos_domain::Phone),
}

/// An event with its stored JSON, serialized by the requesting thread so the committer only writes.
pub(crate) struct Prepared {
    pub event: Event,
    pub data: String,
}

fn prepare(events: Vec<Event>) -> Vec<Prepared> {
    events
        .into_iter()
        .map(|event| {
            let data = serde_json::to_string(&event).unwrap_or_else(|_| "{}".into());
            Prepared { event, data }
        })
        .collect()
}

pub(crate) enum Op {
    /// A typed command (`crate::command`).
    Command(Command),
    /// Re-evaluate whatever time alone has changed (segment windows sliding).
    Tick {
        reply: Option<oneshot::Sender<Result<(), EngineError>>>,
    },
    Shutdown,
    /// Answered once every contact row waiting now is written (`crate::row_wait`, `Engine::settle`).
    Settle {
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    /// Answered once these contacts' rows, those of workspace `ws` that wait, are written
    /// (`Engine::settle_contacts`).
    SettleContacts {
        ws: WorkspaceId,
        contacts: Vec<kairos_domain::ContactId>,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    /// Stops like a crash: waiting contact rows stay unwritten (tests of the replay, `Engine::halt_for_tests`).
    Halt,
}

impl Op {
    fn weight(&self) -> usize {
        match self {
            Op::Command(c) => c.weight(),
            _ => 1,
        }
    }
}

/// Handle to the running engine; cheap to share behind an `Arc`.
pub struct Engine {
    ops: mpsc::Sender<Op>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    committer: Mutex<Option<JoinHandle<()>>>,
    /// The store's background upkeep (SQLite: WAL checkpoints), stopped after the committer.
    background: Mutex<Option<Background>>,
    changes: tokio::sync::broadcast::Sender<SegmentChange>,
    link_key: links::LinkKey,
    /// Queries run on read views with this, off the committer.
    reads: Arc<reads::ReadSide>,
    /// Turns of [`SIMULATIONS_RUNNING_MAX`]; a turn is held by the blocking work, which runs to its end even
    /// when the client goes away.
    simulations: Arc<tokio::sync::Semaphore>,
    /// Turns of [`SEGMENT_PREVIEWS_RUNNING_MAX`], held the same way.
    previews: Arc<tokio::sync::Semaphore>,
    /// False while the committer cannot reach the database (it refuses requests until it can again).
    healthy: Arc<std::sync::atomic::AtomicBool>,
    /// Store platforms' webhook health (`crate::integrations`).
    hooks: integrations::Health,
    /// Contact rows waiting for a later commit after the committer's last one (`crate::row_wait`).
    rows_waiting: Arc<std::sync::atomic::AtomicUsize>,
}

/// How often the committer looks for segment memberships that time alone has changed.
pub const TICK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Stack of the committer thread. Every parser and renderer it runs is bounded where it reads input (template
/// nesting and terms, segment depth and conditions, JSON depth), and all of them fit in the 2 MiB a thread gets by
/// default; this margin is defence in depth, because an overflow there aborts the whole process. Only the pages
/// used are ever committed.
const COMMITTER_STACK_BYTES: usize = 64 * 1024 * 1024;

impl Engine {
    /// Loads state from the store and starts the committer thread, with the default sending rules and keys
    /// made up for this process (a random link key and master key): for tests and benches whose store does not
    /// outlive the process. A server passes the keys it resolved to [`Engine::start_with`].
    pub fn start(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Result<Engine, EngineError> {
        use rand::RngExt as _;
        let link_key = links::LinkKey(rand::rng().random());
        let secrets = kairos_store::SecretBox::new(&kairos_store::MasterKey::generate());
        Self::start_with(store, clock, settings::Settings::default(), "http://127.0.0.1:8080", link_key, secrets)
    }

    /// Like [`Engine::start`] with the server-wide setting defaults from `kairos.toml` and the keys the binary
    /// resolved: the link-signing key (stored sealed in the store, shared by every node) and the box that opens
    /// the secrets the engine keeps in the store (webhook secrets).
    pub fn start_with(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        defaults: settings::Settings,
        public_url: &str,
        key: links::LinkKey,
        secrets: kairos_store::SecretBox,
    ) -> Result<Engine, EngineError> {
        let links = messages::LinkConfig { key: key.clone(), public_url: public_url.trim_end_matches('/').to_string() };
        let writer = store.writer()?;
        let read_side = reads::ReadSide {
            store: store.clone(),
            defaults: defaults.clone(),
            links: links.clone(),
            secrets: secrets.clone(),
            recs: Arc::default(),
        };
        let mut state = state::State::load(writer, clock.now(), defaults, links, secrets)?;
        state.recs = read_side.recs.clone();
        let rows_waiting = state.rows_waiting.clone();
        let (tx, rx) = mpsc::channel(QUEUE_OPS_MAX);
        let thread_clock = clock.clone();
        let healthy = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let thread_healthy = healthy.clone();
        let (changes, _) = tokio::sync::broadcast::channel(16_384);
        let publish = changes.clone();
        let committer = std::thread::Builder::new()
            .name("kairos-committer".into())
            .stack_size(COMMITTER_STACK_BYTES)
            .spawn(move || committer::run(state, rx, thread_clock, publish, thread_healthy))
            .map_err(|e| EngineError::Store(StoreError::Corrupt(format!("cannot start committer: {e}"))))?;
        let ticks = tx.clone();
        // Detached: it ends by itself within one tick of the committer stopping.
        std::thread::Builder::new()
            .name("kairos-ticker".into())
            .spawn(move || {
                // try_send: a busy committer will see the next tick; a closed queue ends the thread.
                while !ticks.is_closed() {
                    std::thread::sleep(TICK_EVERY);
                    let _ = ticks.try_send(Op::Tick { reply: None });
                }
            })
            .map_err(|e| EngineError::Store(StoreError::Corrupt(format!("cannot start ticker: {e}"))))?;
        let background = store.start_background()?;
        Ok(Engine {
            ops: tx,
            store,
            clock,
            committer: Mutex::new(Some(committer)),
            background: Mutex::new(Some(background)),
            changes,
            link_key: key,
            reads: Arc::new(read_side),
            simulations: Arc::new(tokio::sync::Semaphore::new(SIMULATIONS_RUNNING_MAX)),
            previews: Arc::new(tokio::sync::Semaphore::new(SEGMENT_PREVIEWS_RUNNING_MAX)),
            healthy,
            hooks: Default::default(),
            rows_waiting,
        })
    }

    /// Whether the node can take writes: false while the database is away (`GET /healthz` answers 503, so a
    /// load balancer sends traffic elsewhere).
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Verifies signed links.
    pub fn link_key(&self) -> &links::LinkKey {
        &self.link_key
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
    /// The store: read views, users and sessions, workspaces.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
    /// Makes every acknowledged change to contacts readable: contact rows the committer left for a later
    /// commit (`crate::row_wait`) are written first, when any wait. Call it before reading many contacts'
    /// rows or timelines on a read view (listings, searches, exports, segment members); nothing when no row
    /// waits, else as long as writing them takes (~16 µs a row, in slices between ingestion's groups). A read
    /// of one contact takes [`Engine::settle_contact`]; reads of the event log, messages, flows, products or
    /// settings need neither (consent, the identities table, new contacts and lifecycle stages are never left
    /// waiting; a profile's identity fields and first order may be).
    pub async fn settle(&self) -> Result<(), EngineError> {
        if self.rows_waiting.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            return Ok(());
        }
        self.call(|reply| Op::Settle { reply }).await
    }

    /// [`Engine::settle`] for one contact of workspace `ws`: its row written first when it waits (one committer
    /// round trip; an id of another workspace is left alone).
    pub async fn settle_contact(&self, ws: WorkspaceId, contact: kairos_domain::ContactId) -> Result<(), EngineError> {
        self.settle_contacts(ws, vec![contact]).await.map(drop)
    }

    /// [`Engine::settle`] for these contacts (a page of a listing, a report's buyers): their rows written first,
    /// those that wait. Whether any row could have waited (false: nothing was asked of the committer, a read made
    /// before is already as acknowledged). More contacts than a commit's slice settle every waiting row, a slice
    /// a commit: one commit writing them all would hold up ingestion (~16 µs a row).
    pub async fn settle_contacts(
        &self,
        ws: WorkspaceId,
        contacts: Vec<kairos_domain::ContactId>,
    ) -> Result<bool, EngineError> {
        if contacts.is_empty() || self.rows_waiting.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            return Ok(false);
        }
        if contacts.len() > row_wait::SETTLE_ROWS_PER_COMMIT {
            return self.call(|reply| Op::Settle { reply }).await.map(|()| true);
        }
        self.call(|reply| Op::SettleContacts { ws, contacts, reply }).await.map(|()| true)
    }

    /// [`Engine::settle`] for callers outside an async runtime (blocking).
    pub fn settle_blocking(&self) -> Result<(), EngineError> {
        if self.rows_waiting.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            return Ok(());
        }
        self.call_blocking(|reply| Op::Settle { reply })
    }

    /// Runs `f` on a read view of committed data (blocking: call it off async threads). Contact rows may
    /// wait for a later commit: [`Engine::settle_blocking`] first to read them as acknowledged.
    pub fn read<T>(&self, f: impl FnOnce(&dyn Reads) -> kairos_store::Result<T>) -> kairos_store::Result<T> {
        self.store.read(f)
    }

    /// Runs `f` on a read view of committed data, on a blocking thread: a query never waits for the committer
    /// and never holds it up.
    async fn query<T: Send + 'static>(
        &self,
        f: impl FnOnce(&reads::ReadSide, &dyn Reads, Timestamp) -> Result<T, EngineError> + Send + 'static,
    ) -> Result<T, EngineError> {
        let side = self.reads.clone();
        let now = self.clock.now();
        tokio::task::spawn_blocking(move || side.run(|r| f(&side, r, now))).await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "a query panicked");
            Err(EngineError::Unavailable)
        })
    }

    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, EngineError>>) -> Op,
    ) -> Result<T, EngineError> {
        let (reply, rx) = oneshot::channel();
        // A queue that stays full this long means overload: answer 503 rather than hang the client.
        tokio::time::timeout(QUEUE_WAIT_MAX, self.ops.send(make(reply)))
            .await
            .map_err(|_| EngineError::Unavailable)?
            .map_err(|_| EngineError::Unavailable)?;
        rx.await.map_err(|_| EngineError::Unavailable)?
    }

    async fn command<T>(&self, make: impl FnOnce(command::Reply<T>) -> Command) -> Result<T, EngineError> {
        self.call(|reply| Op::Command(make(reply))).await
    }

    /// [`Engine::command`] for callers outside an async runtime (demo generation).
    fn command_blocking<T>(&self, make: impl FnOnce(command::Reply<T>) -> Command) -> Result<T, EngineError> {
        self.call_blocking(|reply| Op::Command(make(reply)))
    }

    /// [`Engine::call`] for callers outside an async runtime.
    fn call_blocking<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, EngineError>>) -> Op,
    ) -> Result<T, EngineError> {
        let (reply, rx) = oneshot::channel();
        self.ops.blocking_send(make(reply)).map_err(|_| EngineError::Unavailable)?;
        rx.blocking_recv().map_err(|_| EngineError::Unavailable)?
    }

    /// Stores events (de-duplicated by message id) and updates profiles; returns once committed to disk.
    pub async fn ingest(
        &self,
        ws: WorkspaceId,
        trusted: bool,
        events: Vec<Event>,
    ) -> Result<IngestOutcome, EngineError> {
        let events = prepare(events);
        self.command(|reply| Command::Ingest { ws, trusted, events, reply }).await
    }

    /// Same as [`Engine::ingest`] for callers outside an async runtime (demo generation).
    pub fn ingest_blocking(
        &self,
        ws: WorkspaceId,
        trusted: bool,
        events: Vec<Event>,
    ) -> Result<IngestOutcome, EngineError> {
        let events = prepare(events);
        self.command_blocking(|reply| Command::Ingest { ws, trusted, events, reply })
    }

    pub async fn upsert_products(&self, ws: WorkspaceId, products: Vec<Product>) -> Result<(), EngineError> {
        self.command(|reply| Command::Products { ws, products, newer_only: false, reply }).await
    }

    /// Merges a checked patch into a stored product, inside the committer so that concurrent patches compose,
    /// and answers the merged product (not found when the product does not exist). A restock or price drop
    /// starts flows exactly as [`Engine::upsert_products`] does.
    pub async fn patch_product(
        &self,
        ws: WorkspaceId,
        id: String,
        patch: kairos_domain::ProductFields,
    ) -> Result<Product, EngineError> {
        self.command(|reply| Command::PatchProduct { ws, id, patch: Box::new(patch), reply }).await
    }

    pub async fn segment(&self, ws: WorkspaceId, cmd: SegmentCmd) -> Result<SegmentReply, EngineError> {
        match cmd {
            SegmentCmd::Get { id } => {
                self.query(move |_, r, _| reads::segment_info(r, ws, &id).map(SegmentReply::Info)).await
            }
            SegmentCmd::List => self.query(move |_, r, _| reads::segment_list(r, ws).map(SegmentReply::List)).await,
            SegmentCmd::Preview { expr, sample } => {
                self.settle().await?;
                let turn = self.previews.clone().acquire_owned().await.map_err(|_| EngineError::Unavailable)?;
                self.query(move |_, r, now| {
                    let _turn = turn;
                    segment_preview_reply(r, ws, &expr, sample, now)
                })
                .await
            }
            cmd => self.command(|reply| Command::Segment { ws, cmd, reply }).await,
        }
    }

    /// Stores a new version of a template (its Liquid is checked against the workspace's partials and
    /// layouts); returns its version number.
    pub async fn save_template(
        &self,
        ws: WorkspaceId,
        id: String,
        source: templates::TemplateSource,
    ) -> Result<i64, EngineError> {
        let data = source.to_json();
        self.command(|reply| Command::SaveTemplate { ws, id, data, reply }).await
    }

    /// Validates and stores a new flow as a draft.
    pub async fn create_flow(
        &self,
        ws: WorkspaceId,
        definition: kairos_flow::FlowDocument,
    ) -> Result<kairos_store::StoredFlow, EngineError> {
        self.command(|reply| Command::CreateFlow { ws, definition: Box::new(definition), reply }).await
    }

    /// Validates and stores a new version of a flow.
    pub async fn update_flow(
        &self,
        ws: WorkspaceId,
        id: String,
        definition: kairos_flow::FlowDocument,
    ) -> Result<kairos_store::StoredFlow, EngineError> {
        self.command(|reply| Command::UpdateFlow { ws, id, definition: Box::new(definition), reply }).await
    }

    /// Installs a flow of the built-in library (with its templates and segments) as a draft.
    pub async fn install_library_flow(
        &self,
        ws: WorkspaceId,
        key: String,
    ) -> Result<kairos_store::StoredFlow, EngineError> {
        self.command(|reply| Command::InstallLibraryFlow { ws, key, activate: false, reply }).await
    }

    /// Recomputes the store-wide recommendation statistics (trending, bought and viewed together) every `d`
    /// of engine time instead of hourly. `kairos demo` lives 90 days in seconds and refreshes them daily: a
    /// refresh reads the whole recommendation window of events.
    pub fn set_recommendations_refresh(&self, d: kairos_domain::Duration) {
        self.reads.recs.refresh_every(d);
    }

    /// Installs and activates a library flow (the demo's marketer turning the library on).
    pub async fn install_and_activate(&self, ws: WorkspaceId, key: &'static str) -> Result<(), EngineError> {
        let key = key.to_string();
        self.command(|reply| Command::InstallLibraryFlow { ws, key, activate: true, reply }).await.map(|_| ())
    }

    /// Enters a contact into an active API-triggered flow; returns whether a run started.
    pub async fn trigger_flow(
        &self,
        ws: WorkspaceId,
        flow_id: String,
        who: ContactRef,
        properties: kairos_domain::JsonMap,
    ) -> Result<bool, EngineError> {
        self.command(|reply| Command::TriggerFlow { ws, flow: flow_id, who, properties, reply }).await
    }

    /// Replays the workspace's history (the last `since`) through a definition; nothing is written.
    pub async fn simulate_flow(
        &self,
        ws: WorkspaceId,
        definition: kairos_flow::FlowDocument,
        since: kairos_domain::Duration,
    ) -> Result<simulate::Simulation, EngineError> {
        let turn = self.simulations.clone().acquire_owned().await.map_err(|_| EngineError::Unavailable)?;
        self.settle().await?;
        self.query(move |_, r, now| {
            let _turn = turn;
            simulate::simulate_flow(r, ws, definition.def(), since, now)
        })
        .await
    }

    /// Connects the configured transports: messages of their channels are `queued` and handed to them after
    /// commit (others are captured), including messages left queued by an earlier process. Call once, inside
    /// the async runtime.
    pub async fn attach_transports(&self, transports: dispatch::Transports) -> Result<(), EngineError> {
        let transports = Arc::new(transports);
        let real = transports.real();
        let policy = transports.webhook.policy();
        let (rx, withdrawn) = self.command(|reply| Command::ConnectDispatcher { real, policy, reply }).await?;
        tokio::spawn(delivery::run(transports, rx, self.ops.clone(), withdrawn));
        Ok(())
    }

    /// Renders a template for a contact (nothing stored); `event` stands in for the trigger event, `variant` is
    /// the subject line to show (0 is A, the template's own).
    pub async fn preview_template(
        &self,
        ws: WorkspaceId,
        template: String,
        contact: kairos_domain::ContactId,
        event: kairos_domain::JsonMap,
        variant: usize,
    ) -> Result<messages::Preview, EngineError> {
        self.settle_contact(ws, contact).await?;
        self.query(move |side, r, now| side.preview(r, ws, &template, contact, event, variant, now)).await
    }

    /// Renders unsaved template parts for a contact (live preview while editing), with subject line `variant`.
    pub async fn preview_draft(
        &self,
        ws: WorkspaceId,
        draft: kairos_template::TemplateParts,
        contact: kairos_domain::ContactId,
        event: kairos_domain::JsonMap,
        variant: usize,
    ) -> Result<messages::Preview, EngineError> {
        self.settle_contact(ws, contact).await?;
        self.query(move |side, r, now| side.preview_draft(r, ws, &draft, contact, event, variant, now)).await
    }

    /// A recipient followed a signed link (open pixel, click, unsubscribe, preference centre).
    pub async fn link_followed(
        &self,
        link: links::Link,
        user_agent: Option<String>,
    ) -> Result<messages::LinkOutcome, EngineError> {
        self.command(|reply| Command::LinkFollowed { link, user_agent, reply }).await
    }

    /// The preference centre form of the contact a message went to; false when the message is unknown.
    pub async fn save_preferences(
        &self,
        message: String,
        choice: messages::PreferenceChoice,
    ) -> Result<bool, EngineError> {
        self.command(|reply| Command::SavePreferences { message, choice: Box::new(choice), reply }).await
    }

    /// A bounce or complaint report.
    pub async fn bounce(
        &self,
        ws: WorkspaceId,
        address: String,
        kind: messages::BounceKind,
        message: Option<String>,
    ) -> Result<messages::Bounced, EngineError> {
        let report = Box::new(command::BounceReport { ws, address, kind, message });
        self.command(|reply| Command::Bounce(report, reply)).await
    }

    /// An inbound SMS to our number `to`: STOP/START change consent in the workspaces texting from `to`;
    /// answers the keyword recognised.
    pub async fn sms_inbound(
        &self,
        to: String,
        from: String,
        body: String,
    ) -> Result<Option<kairos_channels::SmsKeyword>, EngineError> {
        self.command(|reply| Command::SmsInbound { to, from, body, reply }).await
    }

    /// Whether an unsubscribe link still acts (`Confirm`), is stale (`Expired`) or names no message (`Gone`).
    pub async fn unsubscribe_check(&self, link: links::Link) -> Result<messages::LinkOutcome, EngineError> {
        let links::Link::Unsubscribe { message, issued } = link else { return Ok(messages::LinkOutcome::Gone) };
        self.query(move |_, r, _| reads::unsubscribe_check(r, &message, issued)).await
    }

    /// A provider's delivery report for an SMS (by the provider's message id).
    pub async fn sms_status(&self, provider_id: String, status: String) -> Result<bool, EngineError> {
        self.command(|reply| Command::SmsStatus { provider_id, status, reply }).await
    }

    /// Adds or removes an address on the workspace's suppression list.
    pub async fn set_suppressed(
        &self,
        ws: WorkspaceId,
        channel: kairos_domain::Channel,
        address: String,
        on: bool,
    ) -> Result<bool, EngineError> {
        self.command(|reply| Command::SetSuppressed { ws, channel, address, on, reply }).await
    }

    /// Validates and stores a campaign as a draft.
    pub async fn create_campaign(
        &self,
        ws: WorkspaceId,
        definition: campaigns::CampaignDocument,
    ) -> Result<kairos_store::StoredCampaign, EngineError> {
        self.command(|reply| Command::CreateCampaign { ws, definition: Box::new(definition), reply }).await
    }

    /// Schedules a draft campaign: its audience is taken now, each contact due per the schedule.
    pub async fn schedule_campaign(
        &self,
        ws: WorkspaceId,
        id: String,
    ) -> Result<kairos_store::StoredCampaign, EngineError> {
        self.command(|reply| Command::ScheduleCampaign { ws, id, reply }).await
    }

    /// Edits, cancels, pauses, resumes, duplicates or deletes a campaign (SPEC 16 "Campaign lifecycle"); answers
    /// the campaign as it is now (the copy for a duplicate), None once deleted.
    pub async fn campaign_action(
        &self,
        ws: WorkspaceId,
        id: String,
        action: campaign_life::CampaignAction,
    ) -> Result<Option<kairos_store::StoredCampaign>, EngineError> {
        self.command(|reply| Command::CampaignAction { ws, id, action, reply }).await
    }

    /// Who a campaign would reach if scheduled now, and when it would go (the confirmation step).
    pub async fn campaign_audience(&self, ws: WorkspaceId, id: String) -> Result<campaign_life::Audience, EngineError> {
        self.command(|reply| Command::CampaignAudience { ws, id, reply }).await
    }

    /// Progress and A/B numbers of a campaign.
    pub async fn campaign_report(&self, ws: WorkspaceId, id: String) -> Result<campaigns::CampaignReport, EngineError> {
        self.query(move |_, r, _| campaigns::campaign_report(r, ws, &id)).await
    }

    /// Creates or replaces a coupon pool.
    pub async fn save_coupon_pool(
        &self,
        ws: WorkspaceId,
        pool: coupons::Pool,
    ) -> Result<coupons::PoolInfo, EngineError> {
        self.command(|reply| Command::SaveCouponPool { ws, pool: Box::new(pool), reply }).await
    }

    /// Gives the contact `who` names (created when unknown) a code of `pool`: the one it holds, else a new one
    /// (`Coupon Issued` on its timeline); None when the pool has no code to give.
    pub async fn issue_coupon(
        &self,
        ws: WorkspaceId,
        pool: String,
        who: ContactRef,
    ) -> Result<Option<coupons::Coupon>, EngineError> {
        self.command(|reply| Command::IssueCoupon { ws, pool, who, reply }).await
    }

    /// Adds codes a shop created to a backed pool's stock; answers the stock's size.
    pub async fn stock_coupons(&self, ws: WorkspaceId, pool: String, codes: Vec<String>) -> Result<usize, EngineError> {
        self.command(|reply| Command::StockCoupons { ws, pool, codes, reply }).await
    }

    /// Takes codes the shop no longer accepts out of every stock; answers how many were there.
    pub async fn withdraw_coupons(&self, ws: WorkspaceId, codes: Vec<String>) -> Result<usize, EngineError> {
        self.command(|reply| Command::WithdrawCoupons { ws, codes, reply }).await
    }

    /// The workspace's coupon pools by id, or the one named (not found when it does not exist).
    pub async fn coupon_pools(
        &self,
        ws: WorkspaceId,
        id: Option<String>,
    ) -> Result<Vec<coupons::PoolInfo>, EngineError> {
        self.query(move |_, r, now| coupons::pools(r, ws, id.as_deref(), now)).await
    }

    /// Whether a coupon code can be used now (by a contact when given).
    pub async fn validate_coupon(
        &self,
        ws: WorkspaceId,
        code: String,
        who: Option<ContactRef>,
    ) -> Result<coupons::CouponCheck, EngineError> {
        self.query(move |_, r, now| {
            let contact = who.map(|w| reads::resolve(r, ws, w)).transpose()?;
            coupons::validate(r, ws, &code, contact, now)
        })
        .await
    }

    /// The workspace's effective settings.
    pub async fn settings(&self, ws: WorkspaceId) -> Result<settings::SettingsView, EngineError> {
        self.query(move |side, r, _| side.settings_view(r, ws)).await
    }

    /// Applies a partial settings update; answers the effective settings.
    pub async fn update_settings(
        &self,
        ws: WorkspaceId,
        patch: settings::SettingsPatch,
    ) -> Result<settings::SettingsView, EngineError> {
        self.command(|reply| Command::UpdateSettings { ws, patch: Box::new(patch), reply }).await
    }

    /// `active` (validated again) or `paused`.
    pub async fn set_flow_status(
        &self,
        ws: WorkspaceId,
        id: String,
        status: kairos_domain::FlowStatus,
    ) -> Result<kairos_store::StoredFlow, EngineError> {
        self.command(|reply| Command::SetFlowStatus { ws, id, status, reply }).await
    }

    /// Applies every time-driven change due now and returns once it is committed.
    pub async fn tick(&self) -> Result<(), EngineError> {
        self.call(|reply| Op::Tick { reply: Some(reply) }).await
    }

    /// Segment membership changes, as they are committed.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<SegmentChange> {
        self.changes.subscribe()
    }

    pub async fn set_consent(
        &self,
        ws: WorkspaceId,
        who: ContactRef,
        channel: kairos_domain::Channel,
        status: ConsentStatus,
        source: String,
    ) -> Result<Contact, EngineError> {
        let change = Box::new(command::ConsentChange { ws, who, channel, status, source });
        self.command(|reply| Command::Consent(change, reply)).await
    }

    /// Stops the committer at once, as a crash would, without writing the contact rows that wait
    /// (`crate::row_wait`): for tests of the replay a start makes. What was acknowledged stays committed.
    #[doc(hidden)]
    pub fn halt_for_tests(&self) {
        self.stop_with(|| Op::Halt);
    }

    /// Commits everything queued before this call, then stops the committer. Idempotent.
    pub fn shutdown(&self) {
        self.stop_with(|| Op::Shutdown);
    }

    /// Sends the committer its last operation, waits for it to end, then stops the store's upkeep.
    fn stop_with(&self, last: fn() -> Op) {
        let handle = self.committer.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle {
            // A full queue still drains: blocking_send waits for room. It runs on a plain thread because this may
            // be called (through Drop) from inside the async runtime, where blocking_send would panic.
            let ops = self.ops.clone();
            let _ = std::thread::spawn(move || ops.blocking_send(last()).is_ok()).join();
            let _ = handle.join();
        }
        let background = self.background.lock().ok().and_then(|mut c| c.take());
        drop(background);
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Answers a segment preview on a read view.
fn segment_preview_reply(
    r: &dyn Reads,
    ws: WorkspaceId,
    expr: &kairos_segment::Expr,
    sample: usize,
    now: Timestamp,
) -> Result<SegmentReply, EngineError> {
    let p = segment_preview::preview(r, ws, expr, sample, now)?;
    Ok(SegmentReply::Preview { count: p.count, sample: p.sample, warnings: p.warnings })
}

#[cfg(test)]
mod committer_tests {
    use super::*;

    /// A bug that panics inside the committer fails only its group (503, retryable): the single writer lives on,
    /// and nothing of the failed group was stored.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_panic_in_the_committer_fails_its_group_and_the_writer_lives() {
        let dir = tempfile::tempdir().unwrap();
        let store = kairos_store_sqlite::SqliteStore::open(dir.path()).unwrap();
        let engine = Engine::start(Arc::new(store), Arc::new(SystemClock)).unwrap();
        let panicked = engine.command(|reply| Command::Panic { reply }).await;
        assert!(matches!(panicked, Err(EngineError::Unavailable)), "{panicked:?}");
        let outcome = engine.ingest(WorkspaceId(1), true, Vec::new()).await.unwrap();
        assert_eq!(outcome, IngestOutcome::default(), "the committer still answers");
        tokio::task::spawn_blocking(move || engine.shutdown()).await.unwrap();
    }

    /// A store in a temporary folder with one workspace.
    fn shop_store() -> (tempfile::TempDir, kairos_store_sqlite::SqliteStore, WorkspaceId) {
        let dir = tempfile::tempdir().unwrap();
        let store = kairos_store_sqlite::SqliteStore::open(dir.path()).unwrap();
        store.create_workspace("Shop", SystemClock.now()).unwrap();
        let ws = store.workspaces().unwrap()[0].0;
        (dir, store, ws)
    }

    /// An identify repeating a known address leaves its identity row as it is (it was rewritten on every such
    /// event, a random page of `identities` per identify: issue 17), and a new address is still bound.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_repeated_address_does_not_rewrite_its_identity() {
        let (dir, store, ws) = shop_store();
        kairos_store_sqlite::testing::count_identity_rewrites(dir.path()).unwrap();
        let store = Arc::new(store);
        let engine = Engine::start(store.clone(), Arc::new(SystemClock)).unwrap();
        let identify = |n: u32, email: &str, phone: &str| {
            let v = serde_json::json!({"type": "identify", "userId": "u1", "messageId": format!("m{n}"),
                "traits": {"email": email, "phone": phone}});
            Event::from_segment(v, None, SystemClock.now(), &mut || format!("g{n}")).unwrap()
        };
        for (n, email) in [(1, "a@example.com"), (2, "a@example.com"), (3, "a@example.com"), (4, "b@example.com")] {
            engine.ingest(ws, true, vec![identify(n, email, "+358401234567")]).await.unwrap();
        }
        tokio::task::spawn_blocking(move || engine.shutdown()).await.unwrap();
        let found = |email: &str| {
            let r = store.reader().unwrap();
            r.contact_by_identity(ws, kairos_store::IdentityKind::Email, email).unwrap().map(|c| c.email)
        };
        let b = kairos_domain::Email::parse("b@example.com");
        assert_eq!(found("b@example.com"), Some(b), "the new address finds the contact");
        assert_eq!(found("a@example.com"), None, "the old one no longer does");
        assert_eq!(kairos_store_sqlite::testing::identity_rewrites(dir.path()).unwrap(), 0);
    }

    /// `f`'s answer, which must come while the committer is held (within seconds).
    async fn answers<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
        let quick = std::time::Duration::from_secs(5);
        tokio::time::timeout(quick, f).await.unwrap_or_else(|_| panic!("{what} waited for the committer"))
    }

    /// Queries run on read views: every one of them answers while the committer is held by a long job (in the
    /// committer, each would have waited for it).
    #[tokio::test(flavor = "multi_thread")]
    async fn queries_answer_while_the_committer_is_busy() {
        let (_dir, store, ws) = shop_store();
        let engine = Arc::new(Engine::start(Arc::new(store), Arc::new(SystemClock)).unwrap());
        let (started_tx, started) = oneshot::channel::<()>();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let busy = engine.clone();
        let job = tokio::spawn(async move {
            busy.command(|reply| Command::Hold { started: started_tx, release: released, reply }).await
        });
        started.await.unwrap();

        let flow = serde_json::json!({"name": "F", "trigger": {"type": "event", "event": "Checkout Started"},
            "steps": [{"id": "wait", "type": "delay", "duration": "1h"}]});
        let day = kairos_domain::Duration::from_secs(86_400);
        assert_eq!(
            answers("simulate", engine.simulate_flow(ws, kairos_flow::FlowDocument::parse(flow).unwrap(), day))
                .await
                .unwrap()
                .events_replayed,
            0
        );
        assert_eq!(answers("settings", engine.settings(ws)).await.unwrap().settings.timezone, "UTC");
        let list = answers("segment list", engine.segment(ws, SegmentCmd::List)).await;
        assert!(matches!(list, Ok(SegmentReply::List(l)) if l.is_empty()));
        let got = answers("segment", engine.segment(ws, SegmentCmd::Get { id: "seg_x".into() })).await;
        assert!(matches!(got, Err(EngineError::NotFound(_))));
        let expr = kairos_segment::parse::parse("did \"Order Completed\" within 30d").unwrap();
        let preview = answers("segment preview", engine.segment(ws, SegmentCmd::Preview { expr, sample: 5 })).await;
        assert!(matches!(preview, Ok(SegmentReply::Preview { count: 0, .. })));
        assert!(answers("pools", engine.coupon_pools(ws, None)).await.unwrap().is_empty());
        let check = answers("coupon check", engine.validate_coupon(ws, "NOPE".into(), None)).await.unwrap();
        assert_eq!(check.invalid, Some(coupons::Invalid::UnknownCode));
        let report = answers("campaign report", engine.campaign_report(ws, "cmp_x".into())).await;
        assert!(matches!(report, Err(EngineError::NotFound(_))));
        let link = links::Link::Unsubscribe { message: "msg_x".into(), issued: None };
        let page = answers("unsubscribe page", engine.unsubscribe_check(link)).await.unwrap();
        assert_eq!(page, messages::LinkOutcome::Gone);
        let contact = kairos_domain::ContactId(1);
        let draft =
            kairos_template::TemplateParts { subject: Some("Hi".into()), text: Some("t".into()), ..Default::default() };
        let preview = answers("draft preview", engine.preview_draft(ws, draft, contact, Default::default(), 0)).await;
        assert!(matches!(preview, Err(EngineError::NotFound(_))));
        let preview = answers("preview", engine.preview_template(ws, "t".into(), contact, Default::default(), 0)).await;
        assert!(matches!(preview, Err(EngineError::NotFound(_))));

        release.send(()).unwrap();
        job.await.unwrap().unwrap();
        let engine = Arc::try_unwrap(engine).ok().expect("the only handle");
        tokio::task::spawn_blocking(move || engine.shutdown()).await.unwrap();
    }
}

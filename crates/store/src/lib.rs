//! Storage boundary. The engine talks to [`Writer`] (owned by the single committer thread) and [`Reader`]
//! (shared by HTTP handlers); every SQL statement lives behind these traits. `sqlite` is the embedded default;
//! a PostgreSQL backend implements the same traits.

pub mod keys;
pub mod reports;
pub mod sqlite;
pub mod users;

use kairos_domain::{Contact, ContactId, Event, Product, Timestamp, WorkspaceId};

pub use keys::{KeyKind, NewWorkspace};
pub use sqlite::{ReadPool, SqliteStore};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("cannot open the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("unsupported database url {0:?}: this build supports sqlite only")]
    UnsupportedDatabase(String),
    #[error("{0}")]
    InvalidCursor(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The kinds of identity a contact can be found by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdentityKind {
    UserId = 1,
    Email = 2,
    Phone = 3,
    AnonymousId = 4,
}

impl IdentityKind {
    pub fn code(self) -> i64 {
        self as i64
    }
}

/// An event as stored: its place in the log and the contact it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub seq: i64,
    pub contact_id: ContactId,
    pub event: Event,
}

/// A saved segment definition (canonical JSON in `definition`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSegment {
    /// Internal row id (0 before the first save).
    pub row: i64,
    pub public_id: String,
    pub workspace: WorkspaceId,
    pub name: String,
    pub definition: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The current version of a template; `data` is its JSON (channel, subject, html, text, body, name).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTemplate {
    pub id: String,
    pub version: i64,
    pub data: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A saved flow: its current version's definition (JSON text) and status (`draft`, `active`, `paused`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFlow {
    pub row: i64,
    pub public_id: String,
    pub workspace: WorkspaceId,
    pub name: String,
    pub status: String,
    pub version: i64,
    pub definition: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One contact's run through a flow version. `trigger` is the trigger event's properties (JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRun {
    /// 0 before the first save.
    pub id: i64,
    pub flow_row: i64,
    pub version: i64,
    pub workspace: WorkspaceId,
    pub contact: ContactId,
    pub key: String,
    pub step: Option<String>,
    pub due_at: Option<Timestamp>,
    /// `active` or `ended`.
    pub status: String,
    pub end_reason: Option<String>,
    pub entered_at: Timestamp,
    pub updated_at: Timestamp,
    pub trigger: String,
}

/// One message (capture transport: what would have been sent). `data` holds subject, html, text, body.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    /// Deterministic idempotency key (run × step).
    pub id: String,
    pub workspace: WorkspaceId,
    pub contact: ContactId,
    pub channel: String,
    pub to: Option<String>,
    pub flow_id: Option<String>,
    pub campaign_id: Option<String>,
    pub step_id: Option<String>,
    pub status: String,
    pub data: String,
    pub created_at: Timestamp,
}

/// A campaign: its definition as validated JSON and its progress (`state`: A/B winner, schedule time...).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCampaign {
    pub row: i64,
    pub public_id: String,
    pub workspace: WorkspaceId,
    pub name: String,
    /// `draft`, `scheduled`, `sending`, `sent`, `cancelled`.
    pub status: String,
    pub definition: String,
    pub state: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One recipient of a campaign: due time and A/B variant (-1 while waiting for the test's winner).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recipient {
    pub contact: ContactId,
    pub due_at: Timestamp,
    pub variant: i64,
}

/// A coupon code handed to a contact.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuedCode {
    pub pool: String,
    pub contact: ContactId,
    pub issued_at: Timestamp,
    pub redeemed_at: Option<Timestamp>,
}

/// Which messages to list (every field optional).
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub to: Option<String>,
    pub contact: Option<ContactId>,
    pub flow_id: Option<String>,
    pub campaign_id: Option<String>,
    pub status: Option<String>,
}

/// Counts of one flow (SPEC 16 `GET /api/v1/flows/{id}/stats`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlowStats {
    pub entered: u64,
    pub active: u64,
    pub exited: std::collections::BTreeMap<String, u64>,
    pub converted: u64,
    pub steps: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>,
}

/// A page of a list, newest first.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Write operations, all inside the transaction opened by [`Writer::begin`].
pub trait Writer: Send {
    fn begin(&mut self) -> Result<()>;
    fn commit(&mut self) -> Result<()>;
    fn rollback(&mut self) -> Result<()>;

    /// Largest contact id and event sequence in use, to continue numbering after a restart.
    fn max_ids(&mut self) -> Result<(i64, i64)>;
    /// Message ids of events received at or after `since`, newest first, for the de-duplication window.
    fn recent_message_ids(&mut self, since: Timestamp, f: &mut dyn FnMut(WorkspaceId, &str, Timestamp)) -> Result<()>;

    /// `data` is the event serialized as JSON (done by the caller, off the committer thread).
    fn insert_event(&mut self, ws: WorkspaceId, contact: ContactId, seq: i64, event: &Event, data: &str) -> Result<()>;
    /// All events of a contact in (timestamp, sequence) order.
    fn contact_events_ordered(&mut self, contact: ContactId) -> Result<Vec<Event>>;
    fn reassign_events(&mut self, from: ContactId, to: ContactId) -> Result<()>;

    fn load_contact(&mut self, id: ContactId) -> Result<Option<Contact>>;
    fn upsert_contact(&mut self, contact: &Contact) -> Result<()>;
    fn mark_merged(&mut self, loser: ContactId, survivor: ContactId, at: Timestamp) -> Result<()>;

    fn lookup_identity(&mut self, ws: WorkspaceId, kind: IdentityKind, value: &str) -> Result<Option<ContactId>>;
    fn set_identity(&mut self, ws: WorkspaceId, kind: IdentityKind, value: &str, contact: ContactId) -> Result<()>;
    fn remove_identity(&mut self, ws: WorkspaceId, kind: IdentityKind, value: &str) -> Result<()>;

    /// Every live (not merged) contact, for the in-memory state segments evaluate against.
    fn all_contacts(&mut self, f: &mut dyn FnMut(Contact)) -> Result<()>;
    /// (merged-away contact, survivor) pairs.
    fn merged_contacts(&mut self, f: &mut dyn FnMut(ContactId, ContactId)) -> Result<()>;
    /// Events of a workspace with a given name, in log order: (contact, stored JSON).
    fn events_named(&mut self, ws: WorkspaceId, name: &str, f: &mut dyn FnMut(ContactId, &str)) -> Result<()>;

    /// Events of a workspace with a timestamp at or after `since`: (contact, stored JSON).
    fn events_since(&mut self, ws: WorkspaceId, since: Timestamp, f: &mut dyn FnMut(ContactId, &str)) -> Result<()>;
    /// Whether any event with this name was stored in the workspace.
    fn has_event_named(&mut self, ws: WorkspaceId, name: &str) -> Result<bool>;
    fn segments(&mut self) -> Result<Vec<StoredSegment>>;
    /// Inserts or updates (by public id); returns the row id.
    fn save_segment(&mut self, s: &StoredSegment) -> Result<i64>;
    fn delete_segment(&mut self, row: i64) -> Result<()>;
    fn segment_members(&mut self, row: i64, f: &mut dyn FnMut(ContactId)) -> Result<()>;
    fn set_member(&mut self, row: i64, contact: ContactId, member: bool, at: Timestamp) -> Result<()>;
    /// Size of a segment in the time bucket starting at `bucket` (the latest value wins).
    fn record_size(&mut self, row: i64, bucket: Timestamp, size: u64) -> Result<()>;

    /// Stores a new version of a template (JSON text); returns the version number.
    fn save_template(&mut self, ws: WorkspaceId, id: &str, data: &str, at: Timestamp) -> Result<i64>;
    fn template_exists(&mut self, ws: WorkspaceId, id: &str) -> Result<bool>;
    /// (id, data) of the workspace's templates whose channel is `channel` (partials, layouts).
    fn templates_of_channel(&mut self, ws: WorkspaceId, channel: &str) -> Result<Vec<(String, String)>>;
    /// Inserts or updates a flow (by public id) and records its version; returns the row id.
    fn save_flow(&mut self, f: &StoredFlow) -> Result<i64>;
    fn flow(&mut self, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredFlow>>;

    fn flow_version(&mut self, flow_row: i64, version: i64) -> Result<Option<String>>;
    fn flow_public_id(&mut self, flow_row: i64) -> Result<Option<String>>;
    fn active_flows(&mut self) -> Result<Vec<StoredFlow>>;
    /// Inserts (id 0) or updates a run; returns its id.
    fn save_run(&mut self, r: &StoredRun) -> Result<i64>;
    fn active_runs(&mut self, f: &mut dyn FnMut(StoredRun)) -> Result<()>;
    /// When the contact last entered the flow with this key.
    fn last_entry(&mut self, flow_row: i64, contact: ContactId, key: &str) -> Result<Option<Timestamp>>;
    fn count_step(&mut self, flow_row: i64, step: &str, counter: &str) -> Result<()>;
    /// Inserts unless a message with this id exists (idempotent sends); true when inserted.
    fn insert_message(&mut self, m: &StoredMessage) -> Result<bool>;
    /// Changes a message's status and data (a deferred send that went out or was skipped later).
    fn update_message(&mut self, id: &str, status: &str, data: &str) -> Result<()>;
    /// Messages with status `deferred`, and messages sent since `since` (for sending discipline at start).
    fn message(&mut self, id: &str) -> Result<Option<StoredMessage>>;
    /// Adds an address to the workspace's suppression list (hard bounce, complaint, manual); idempotent.
    fn suppress(&mut self, ws: WorkspaceId, channel: &str, address: &str, reason: &str, at: Timestamp) -> Result<()>;
    fn unsuppress(&mut self, ws: WorkspaceId, channel: &str, address: &str) -> Result<bool>;
    fn save_campaign(&mut self, c: &StoredCampaign) -> Result<i64>;
    fn campaign_by_id(&mut self, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredCampaign>>;
    /// Campaigns that are scheduled or sending.
    fn running_campaigns(&mut self) -> Result<Vec<StoredCampaign>>;
    fn insert_recipients(&mut self, campaign: i64, list: &[Recipient]) -> Result<()>;
    /// Pending recipients due at `now`, earliest first (not those waiting for an A/B winner).
    fn due_recipients(&mut self, campaign: i64, now: Timestamp, limit: usize) -> Result<Vec<Recipient>>;
    fn recipient_done(&mut self, campaign: i64, contact: ContactId) -> Result<()>;
    /// Gives the recipients waiting for the A/B winner its variant, due at `due` at the earliest.
    fn assign_winner(&mut self, campaign: i64, variant: i64, due: Timestamp) -> Result<u64>;
    /// (pending, waiting for a winner, done).
    fn recipient_counts(&mut self, campaign: i64) -> Result<(u64, u64, u64)>;
    /// Per A/B variant: (variant, sent, opened-or-better, clicked-or-better, revenue) of the campaign's messages.
    #[allow(clippy::type_complexity)]
    fn variant_results(&mut self, campaign_public_id: &str) -> Result<Vec<(i64, u64, u64, u64, f64)>>;
    /// Per A/B variant: revenue of `Order Completed` events by each message's contact within 5 days after it.
    fn campaign_revenue(&mut self, campaign_public_id: &str) -> Result<Vec<(i64, f64)>>;
    fn save_pool(&mut self, ws: WorkspaceId, id: &str, data: &str, at: Timestamp) -> Result<()>;
    /// Every coupon pool: (workspace, id, data).
    fn pools(&mut self, f: &mut dyn FnMut(WorkspaceId, String, String)) -> Result<()>;
    /// Records `code` as given to `contact`; false when that contact already has it.
    fn issue_code(
        &mut self,
        ws: WorkspaceId,
        pool: &str,
        code: &str,
        contact: ContactId,
        at: Timestamp,
    ) -> Result<bool>;
    /// The latest code of `pool` given to `contact`, with when.
    fn issued_code(&mut self, ws: WorkspaceId, pool: &str, contact: ContactId) -> Result<Option<(String, Timestamp)>>;
    /// Whether any contact holds `code` (generated codes must be unique).
    fn code_used(&mut self, ws: WorkspaceId, code: &str) -> Result<bool>;
    fn pool_issued(&mut self, ws: WorkspaceId, pool: &str) -> Result<u64>;
    /// A code as issued (to `contact` when given; unredeemed first).
    fn coupon_code(&mut self, ws: WorkspaceId, code: &str, contact: Option<ContactId>) -> Result<Option<IssuedCode>>;
    /// Marks a contact's code redeemed by an order; false when it was not issued to them or already redeemed.
    fn redeem_code(
        &mut self,
        ws: WorkspaceId,
        code: &str,
        contact: ContactId,
        order: &str,
        at: Timestamp,
    ) -> Result<bool>;
    /// Remembers the provider's id of a message (SMS sid) for its status callbacks.
    fn set_provider_id(&mut self, provider_id: &str, message: &str) -> Result<()>;
    fn message_by_provider_id(&mut self, provider_id: &str) -> Result<Option<String>>;
    fn is_suppressed(&mut self, ws: WorkspaceId, channel: &str, address: &str) -> Result<bool>;
    fn pending_and_recent_messages(&mut self, since: Timestamp, f: &mut dyn FnMut(StoredMessage)) -> Result<()>;
    fn insert_task(
        &mut self,
        ws: WorkspaceId,
        contact: ContactId,
        flow_id: &str,
        message: &str,
        at: Timestamp,
    ) -> Result<()>;
    /// (version, JSON) of a template.
    fn template_data(&mut self, ws: WorkspaceId, id: &str) -> Result<Option<(i64, String)>>;

    fn product_exists(&mut self, ws: WorkspaceId, id: &str) -> Result<bool>;
    /// Every workspace's stored setting overrides (a JSON object).
    fn workspace_settings(&mut self, f: &mut dyn FnMut(WorkspaceId, String)) -> Result<()>;
    fn save_workspace_settings(&mut self, ws: WorkspaceId, data: &str) -> Result<()>;
    fn load_product(&mut self, ws: WorkspaceId, id: &str) -> Result<Option<Product>>;
    fn upsert_product(&mut self, ws: WorkspaceId, product: &Product) -> Result<()>;
}

/// Read operations over committed data.
pub trait Reader {
    fn key(&self, secret: &str) -> Result<Option<(WorkspaceId, KeyKind)>>;
    /// The contact, following merges to the surviving contact.
    fn contact(&self, ws: WorkspaceId, id: ContactId) -> Result<Option<Contact>>;
    /// Contacts of a workspace, newest first (merged-away contacts are skipped).
    fn contacts(&self, ws: WorkspaceId, cursor: Option<&str>, limit: usize) -> Result<Page<Contact>>;
    /// Contacts whose email, phone, user id or name contains `q` (case-insensitive), newest first.
    fn search_contacts(&self, ws: WorkspaceId, q: &str, limit: usize) -> Result<Vec<Contact>>;
    fn contact_by_identity(&self, ws: WorkspaceId, kind: IdentityKind, value: &str) -> Result<Option<Contact>>;
    /// A contact's events, newest first (by timestamp, then sequence).
    fn contact_events(&self, contact: ContactId, cursor: Option<&str>, limit: usize) -> Result<Page<StoredEvent>>;
    /// All events of a workspace, most recently received first.
    fn workspace_events(&self, ws: WorkspaceId, cursor: Option<&str>, limit: usize) -> Result<Page<StoredEvent>>;
    /// Segments of a workspace with their current sizes.
    fn segments(&self, ws: WorkspaceId) -> Result<Vec<(StoredSegment, u64)>>;
    /// Row id of a live segment of the workspace.
    fn segment_row(&self, ws: WorkspaceId, public_id: &str) -> Result<Option<i64>>;
    /// Members of a segment (by row id), by ascending contact id.
    fn segment_member_page(&self, row: i64, cursor: Option<&str>, limit: usize) -> Result<Page<Contact>>;
    /// Size samples of a segment since `since`, oldest first.
    fn segment_sizes(&self, row: i64, since: Timestamp) -> Result<Vec<(Timestamp, u64)>>;
    fn template(&self, ws: WorkspaceId, id: &str) -> Result<Option<StoredTemplate>>;
    /// Every template of a workspace, by id.
    fn templates(&self, ws: WorkspaceId) -> Result<Vec<StoredTemplate>>;
    fn flows(&self, ws: WorkspaceId) -> Result<Vec<StoredFlow>>;
    /// Captured messages, newest first, optionally for one address or flow.
    fn outbox(
        &self,
        ws: WorkspaceId,
        to: Option<&str>,
        flow_id: Option<&str>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<StoredMessage>>;
    fn campaigns(&self, ws: WorkspaceId) -> Result<Vec<StoredCampaign>>;
    fn campaign(&self, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredCampaign>>;
    /// Message counts by status of a campaign.
    fn campaign_message_counts(&self, public_id: &str) -> Result<Vec<(String, u64)>>;
    /// Messages matching `filter`, newest first.
    fn messages(
        &self,
        ws: WorkspaceId,
        filter: &MessageFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<StoredMessage>>;
    fn message_of(&self, ws: WorkspaceId, id: &str) -> Result<Option<StoredMessage>>;
    /// A message by id in any workspace (links carry only the message id).
    fn message_any(&self, id: &str) -> Result<Option<StoredMessage>>;
    /// (channel, address, reason, created_at) of suppressed addresses, newest first.
    fn suppressions(&self, ws: WorkspaceId, limit: usize) -> Result<Vec<(String, String, String, Timestamp)>>;
    /// (id, contact, flow id, message, status, created_at) of team tasks, newest first.
    #[allow(clippy::type_complexity)]
    fn tasks(
        &self,
        ws: WorkspaceId,
        status: Option<&str>,
    ) -> Result<Vec<(i64, ContactId, String, String, String, Timestamp)>>;
    fn flow_stats(&self, flow_row: i64) -> Result<FlowStats>;
    fn product(&self, ws: WorkspaceId, id: &str) -> Result<Option<Product>>;
    fn products(&self, ws: WorkspaceId, cursor: Option<&str>, limit: usize) -> Result<Page<Product>>;
}

//! Storage boundary. The engine talks to [`Writer`] (owned by the single committer thread) and [`Reader`]
//! (shared by HTTP handlers); every SQL statement lives behind these traits. `sqlite` is the embedded default;
//! a PostgreSQL backend implements the same traits.

pub mod keys;
pub mod sqlite;

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

    fn product_exists(&mut self, ws: WorkspaceId, id: &str) -> Result<bool>;
    fn upsert_product(&mut self, ws: WorkspaceId, product: &Product) -> Result<()>;
}

/// Read operations over committed data.
pub trait Reader {
    fn key(&self, secret: &str) -> Result<Option<(WorkspaceId, KeyKind)>>;
    /// The contact, following merges to the surviving contact.
    fn contact(&self, ws: WorkspaceId, id: ContactId) -> Result<Option<Contact>>;
    /// Contacts of a workspace, newest first (merged-away contacts are skipped).
    fn contacts(&self, ws: WorkspaceId, cursor: Option<&str>, limit: usize) -> Result<Page<Contact>>;
    fn contact_by_identity(&self, ws: WorkspaceId, kind: IdentityKind, value: &str) -> Result<Option<Contact>>;
    /// A contact's events, newest first (by timestamp, then sequence).
    fn contact_events(&self, contact: ContactId, cursor: Option<&str>, limit: usize) -> Result<Page<StoredEvent>>;
    /// All events of a workspace, most recently received first.
    fn workspace_events(&self, ws: WorkspaceId, cursor: Option<&str>, limit: usize) -> Result<Page<StoredEvent>>;
    fn product(&self, ws: WorkspaceId, id: &str) -> Result<Option<Product>>;
    fn products(&self, ws: WorkspaceId, cursor: Option<&str>, limit: usize) -> Result<Page<Product>>;
}

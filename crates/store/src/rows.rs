//! The rows the storage traits exchange: plain data, no behaviour beyond small helpers.

use kairos_domain::{
    CampaignStatus, Channel, ContactId, Event, FlowStatus, MessageStatus, RunEnd, RunStatus, Timestamp, WorkspaceId,
};

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

    pub fn from_code(code: i64) -> Option<IdentityKind> {
        [IdentityKind::UserId, IdentityKind::Email, IdentityKind::Phone, IdentityKind::AnonymousId]
            .into_iter()
            .find(|k| k.code() == code)
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

/// A saved flow: its current version's definition (JSON text) and status.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFlow {
    pub row: i64,
    pub public_id: String,
    pub workspace: WorkspaceId,
    pub name: String,
    pub status: FlowStatus,
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
    pub status: RunStatus,
    pub end_reason: Option<RunEnd>,
    pub entered_at: Timestamp,
    pub updated_at: Timestamp,
    pub trigger: String,
    /// Whether an event can move the run where it is (its flow has an `exit_when`, or it waits at a `wait_for`):
    /// an event looks for its contact's listening runs only (`FlowWrites::listening_runs`).
    pub listening: bool,
}

/// The timer of an active run (`FlowWrites::due_runs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueRun {
    pub due_at: Timestamp,
    pub id: i64,
    pub flow_row: i64,
}

/// A contact's standing in a flow for one key (`FlowWrites::run_entry`): whether a run of it is active, and
/// when the contact last entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunEntry {
    pub active: bool,
    pub last_entered: Option<Timestamp>,
}

/// One message (capture transport: what would have been sent). `data` holds subject, html, text, body.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    /// Deterministic idempotency key (run × step).
    pub id: String,
    pub workspace: WorkspaceId,
    pub contact: ContactId,
    pub channel: Channel,
    pub to: Option<String>,
    pub flow_id: Option<String>,
    pub campaign_id: Option<String>,
    pub step_id: Option<String>,
    pub status: MessageStatus,
    /// The message's [`kairos_domain::MessageData`] as JSON.
    pub data: String,
    pub created_at: Timestamp,
    /// The A/B variant (index of the template) of a campaign message that is part of a test.
    pub variant: Option<i64>,
    /// The subject line (0 is A) of a message whose template tests subject variants.
    pub subject_variant: Option<i64>,
}

/// A reaction counted on a message (machine opens and clicks are not counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    Open,
    Click,
}

/// One A/B variant's messages of a campaign.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VariantResult {
    pub variant: i64,
    /// Messages that went out (not skipped, deferred, failed or bounced).
    pub sent: u64,
    /// Messages opened (status `opened` or `clicked`, or a counted open).
    pub opened: u64,
    /// Messages clicked (status `clicked`, or a counted click).
    pub clicked: u64,
}

/// A suppressed address: (channel, address, reason, created_at).
pub type Suppression = (String, String, String, Timestamp);
/// A team task opened by a flow's `task` step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: i64,
    pub contact: ContactId,
    pub flow_id: String,
    pub message: String,
    /// `open` or `done`.
    pub status: String,
    pub created_at: Timestamp,
    /// The user (UI login email) it is assigned to.
    pub assignee: Option<String>,
    /// When it was closed (status `done`).
    pub closed_at: Option<Timestamp>,
}

/// A campaign: its definition as validated JSON and its progress (`state`: A/B winner, schedule time...).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCampaign {
    pub row: i64,
    pub public_id: String,
    pub workspace: WorkspaceId,
    pub name: String,
    pub status: CampaignStatus,
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

/// A page of a list; `next_cursor` continues it (None on the last page).
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page from the rows a listing read (one more than `limit`, to know whether more follow): the first
    /// `limit`, and when there were more, the cursor `cursor` makes from the last one kept.
    pub fn from_rows(mut items: Vec<T>, limit: usize, cursor: impl Fn(&T) -> String) -> Page<T> {
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(cursor)
        } else {
            None
        };
        Page { items, next_cursor }
    }
}

//! The read side: one trait per aggregate over committed data, on read-only connections that never block the
//! writer. Listings page with opaque cursors: a cursor this listing did not hand out is
//! [`StoreError::InvalidCursor`](crate::StoreError::InvalidCursor).

use kairos_domain::{Contact, ContactId, MessageStatus, Product, SystemEvent, Timestamp, WorkspaceId};

use crate::reports::{Cohort, ConsentChange, MessageEventRow, MessageRow, OrderRow};
use crate::users::Session;
use crate::{
    FlowStats, IdentityKind, IssuedCode, KeyKind, MessageFilter, Page, Result, StoredCampaign, StoredEvent, StoredFlow,
    StoredMessage, StoredSegment, StoredTemplate, Suppression, Task, VariantResult,
};

/// API keys.
pub trait KeyReads {
    /// The workspace and kind of an API key (looked up by its hash).
    fn key(&self, secret: &str) -> Result<Option<(WorkspaceId, KeyKind)>>;
}

/// Contacts and their identities.
pub trait ContactReads {
    /// The contact, following merges to the surviving contact; None for another workspace's contact.
    fn contact(&self, ws: WorkspaceId, id: ContactId) -> Result<Option<Contact>>;
    /// Contacts of a workspace, newest first (merged-away contacts are skipped).
    fn contacts(&self, ws: WorkspaceId, cursor: Option<&str>, limit: usize) -> Result<Page<Contact>>;
    /// Contacts whose email, phone, user id or name contains `q` (case-insensitive), newest first.
    fn search_contacts(&self, ws: WorkspaceId, q: &str, limit: usize) -> Result<Vec<Contact>>;
    /// The contact an identity belongs to (following merges).
    fn contact_by_identity(&self, ws: WorkspaceId, kind: IdentityKind, value: &str) -> Result<Option<Contact>>;
}

/// The event log.
pub trait EventReads {
    /// A contact's events, newest first (by timestamp, then sequence); unreadable rows are skipped.
    fn contact_events(&self, contact: ContactId, cursor: Option<&str>, limit: usize) -> Result<Page<StoredEvent>>;
    /// All events of a workspace, most recently received first.
    fn workspace_events(&self, ws: WorkspaceId, cursor: Option<&str>, limit: usize) -> Result<Page<StoredEvent>>;
    /// Events of a workspace with a timestamp at or after `since`, in no particular order: (contact, JSON).
    /// Recommendations read these.
    fn events_since(&self, ws: WorkspaceId, since: Timestamp, f: &mut dyn FnMut(ContactId, &str)) -> Result<()>;
    /// Events of a workspace with a given name, in log order: (contact, stored JSON). Segment previews read these.
    fn events_named(&self, ws: WorkspaceId, name: &str, f: &mut dyn FnMut(ContactId, &str)) -> Result<()>;
    /// Whether any event with this name was stored in the workspace.
    fn has_event_named(&self, ws: WorkspaceId, name: &str) -> Result<bool>;
    /// The sequence of the newest committed event (0 when the log is empty). A replay that reads many pages
    /// bounds them with it, so it sees the log as it was when it began.
    fn last_event_seq(&self) -> Result<i64>;
    /// A page of the events of a workspace timestamped at or after `since` with a sequence up to `until_seq`,
    /// oldest first by (timestamp, sequence); unreadable rows are skipped. Flow simulation replays these, a page
    /// at a time, so memory stays bounded whatever the history.
    fn events_by_time(
        &self,
        ws: WorkspaceId,
        since: Timestamp,
        until_seq: i64,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<StoredEvent>>;
    /// A cursor for [`EventReads::events_by_time`] (same `ws`, `since`, `until_seq`) that starts the listing at
    /// its newest `n` events; None when there are no more than `n`.
    fn newest_events_cursor(
        &self,
        ws: WorkspaceId,
        since: Timestamp,
        until_seq: i64,
        n: usize,
    ) -> Result<Option<String>>;
}

/// Segments.
pub trait SegmentReads {
    /// Live segments of a workspace with their current sizes, by row id.
    fn segments(&self, ws: WorkspaceId) -> Result<Vec<(StoredSegment, u64)>>;
    /// A live segment of the workspace with its current size.
    fn segment(&self, ws: WorkspaceId, public_id: &str) -> Result<Option<(StoredSegment, u64)>>;
    /// Row id of a live segment of the workspace.
    fn segment_row(&self, ws: WorkspaceId, public_id: &str) -> Result<Option<i64>>;
    /// Members of a segment (by row id), by ascending contact id.
    fn segment_member_page(&self, row: i64, cursor: Option<&str>, limit: usize) -> Result<Page<Contact>>;
    /// Size samples of a segment since `since`, oldest first.
    fn segment_sizes(&self, row: i64, since: Timestamp) -> Result<Vec<(Timestamp, u64)>>;
    /// The workspace's live segments `contact` is a member of, with when it entered each, by segment row id.
    fn contact_segments(&self, ws: WorkspaceId, contact: ContactId) -> Result<Vec<(StoredSegment, Timestamp)>>;
}

/// Templates (previews render from these).
pub trait TemplateReads {
    fn template(&self, ws: WorkspaceId, id: &str) -> Result<Option<StoredTemplate>>;
    /// Every template of a workspace, by id.
    fn templates(&self, ws: WorkspaceId) -> Result<Vec<StoredTemplate>>;
    /// (version, JSON) of a template's current version.
    fn template_data(&self, ws: WorkspaceId, id: &str) -> Result<Option<(i64, String)>>;
    /// (id, JSON) of the workspace's templates of `channel` (partials, layouts), by id.
    fn templates_of_channel(&self, ws: WorkspaceId, channel: &str) -> Result<Vec<(String, String)>>;
}

/// Flows, their runs' numbers and team tasks.
pub trait FlowReads {
    /// Flows of a workspace, by row id (creation order).
    fn flows(&self, ws: WorkspaceId) -> Result<Vec<StoredFlow>>;
    fn flow(&self, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredFlow>>;
    fn flow_stats(&self, flow_row: i64) -> Result<FlowStats>;
    /// The flow runs of `contact` in progress, by run id.
    fn contact_runs(&self, contact: ContactId) -> Result<Vec<crate::StoredRun>>;
    /// Team tasks, newest first (at most 1 000), optionally with one status.
    fn tasks(&self, ws: WorkspaceId, status: Option<&str>) -> Result<Vec<Task>>;
    /// The workspace's task `id`.
    fn task(&self, ws: WorkspaceId, id: i64) -> Result<Option<Task>>;
}

/// Messages and the suppression list.
pub trait MessageReads {
    /// Messages matching `filter`, newest first.
    fn messages(
        &self,
        ws: WorkspaceId,
        filter: &MessageFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<StoredMessage>>;
    /// Messages, newest first, optionally for one address or flow.
    fn outbox(
        &self,
        ws: WorkspaceId,
        to: Option<&str>,
        flow_id: Option<&str>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<StoredMessage>> {
        let filter =
            MessageFilter { to: to.map(str::to_string), flow_id: flow_id.map(str::to_string), ..Default::default() };
        self.messages(ws, &filter, cursor, limit)
    }
    /// A message by its id, whatever its workspace: for signed links, whose signature is the authority.
    fn message(&self, id: &str) -> Result<Option<StoredMessage>>;
    /// A message of the workspace (None for another workspace's).
    fn message_of(&self, ws: WorkspaceId, id: &str) -> Result<Option<StoredMessage>>;
    /// Suppressed addresses, newest first.
    fn suppressions(&self, ws: WorkspaceId, limit: usize) -> Result<Vec<Suppression>>;
}

/// Campaigns and their numbers.
pub trait CampaignReads {
    /// Campaigns of a workspace, newest first.
    fn campaigns(&self, ws: WorkspaceId) -> Result<Vec<StoredCampaign>>;
    fn campaign(&self, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredCampaign>>;
    /// Message counts by status of a campaign.
    fn campaign_message_counts(&self, public_id: &str) -> Result<Vec<(MessageStatus, u64)>>;
    /// (pending, waiting for a winner, done) recipients of a campaign (by row id).
    fn recipient_counts(&self, campaign: i64) -> Result<(u64, u64, u64)>;
    /// Per A/B variant, by variant: what its messages did.
    fn variant_results(&self, campaign_public_id: &str) -> Result<Vec<VariantResult>>;
    /// Per A/B variant: revenue of `Order Completed` events by each message's contact within 5 days after it.
    fn campaign_revenue(&self, campaign_public_id: &str) -> Result<Vec<(i64, f64)>>;
}

/// Coupon codes.
pub trait CouponReads {
    /// A code as issued (to `contact` when given; unredeemed first, then the latest).
    fn coupon_code(&self, ws: WorkspaceId, code: &str, contact: Option<ContactId>) -> Result<Option<IssuedCode>>;
    /// How many codes of a pool were handed out.
    fn pool_issued(&self, ws: WorkspaceId, pool: &str) -> Result<u64>;
    /// The workspace's coupon pools: (id, definition JSON), by id.
    fn coupon_pools(&self, ws: WorkspaceId) -> Result<Vec<(String, String)>>;
}

/// Per-workspace setting overrides.
pub trait SettingsReads {
    /// The workspace's stored overrides (a JSON object; `{}` when none).
    fn settings_of(&self, ws: WorkspaceId) -> Result<Option<String>>;
}

/// Secrets as sealed bytes (see [`crate::write::SecretWrites`]).
pub trait SecretReads {
    /// The sealed value stored under `name`.
    fn secret(&self, name: &str) -> Result<Option<Vec<u8>>>;
    /// The names of every stored secret, sorted.
    fn secret_names(&self) -> Result<Vec<String>>;
}

/// The product catalog.
pub trait ProductReads {
    fn product(&self, ws: WorkspaceId, id: &str) -> Result<Option<Product>>;
    /// Products of a workspace by id.
    fn products(&self, ws: WorkspaceId, cursor: Option<&str>, limit: usize) -> Result<Page<Product>>;
}

/// UI sessions.
pub trait UserReads {
    /// The live session a cookie token belongs to (None when unknown, expired at `now`, or its user is gone).
    fn session(&self, token: &str, now: Timestamp) -> Result<Option<Session>>;
}

/// The rows reports are computed from (`kairos-analytics` turns them into numbers). Reads stay proportional to
/// the range asked for, not to the history of the workspace (apart from what the row kind says).
pub trait ReportReads {
    /// `Order Completed` events timestamped in `[from, to)`, in log order.
    fn order_rows(&self, ws: WorkspaceId, from: Timestamp, to: Timestamp) -> Result<Vec<OrderRow>>;
    /// Events named `name` timestamped in `[from, to)`, in log order, each with its properties (as an
    /// [`OrderRow`]): the landing pages' visits and signups.
    fn event_rows(&self, ws: WorkspaceId, name: &str, from: Timestamp, to: Timestamp) -> Result<Vec<OrderRow>>;
    /// Events `event` (one of [`crate::reports::MESSAGE_EVENTS`]) timestamped in `[from, to)`, in log order;
    /// with `sms_only`, those whose message's channel is `sms`.
    fn message_event_rows(
        &self,
        ws: WorkspaceId,
        event: SystemEvent,
        from: Timestamp,
        to: Timestamp,
        sms_only: bool,
    ) -> Result<Vec<MessageEventRow>>;
    /// (contact, timestamp) of the events named `name` timestamped in `[from, to)`, in log order.
    fn event_times(
        &self,
        ws: WorkspaceId,
        name: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<(ContactId, Timestamp)>>;
    /// Contacts with at least one event of their own (not one Kairos wrote) timestamped in `[from, to)`.
    fn active_contacts(&self, ws: WorkspaceId, from: Timestamp, to: Timestamp) -> Result<Vec<ContactId>>;
    /// Channel consents of live contacts whose latest change lies in `[from, to)` (reads every contact).
    fn consent_changes(&self, ws: WorkspaceId, from: Timestamp, to: Timestamp) -> Result<Vec<ConsentChange>>;
    /// When each of these contacts first ordered, as their profiles say.
    fn first_orders(&self, contacts: &[ContactId]) -> Result<Vec<(ContactId, Option<Timestamp>)>>;
    /// Messages of the cohort created in `[from, to)`, webhook calls left out.
    fn message_rows(&self, ws: WorkspaceId, from: Timestamp, to: Timestamp, cohort: &Cohort)
    -> Result<Vec<MessageRow>>;
}

/// Everything a read view can do: every aggregate's read trait.
pub trait Reads:
    KeyReads
    + ContactReads
    + EventReads
    + SegmentReads
    + TemplateReads
    + FlowReads
    + MessageReads
    + CampaignReads
    + CouponReads
    + SettingsReads
    + SecretReads
    + ProductReads
    + UserReads
    + ReportReads
    + crate::erasure::ErasureReads
    + crate::sync::SyncReads
    + crate::forms::SiteReads
{
}

impl<T> Reads for T where
    T: KeyReads
        + ContactReads
        + EventReads
        + SegmentReads
        + TemplateReads
        + FlowReads
        + MessageReads
        + CampaignReads
        + CouponReads
        + SettingsReads
        + SecretReads
        + ProductReads
        + UserReads
        + ReportReads
        + crate::erasure::ErasureReads
        + crate::sync::SyncReads
        + crate::forms::SiteReads
        + ?Sized
{
}

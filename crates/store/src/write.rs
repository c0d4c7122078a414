//! The write side: one trait per aggregate, all inside the transaction the single writer has open.
//!
//! Each trait also holds the reads the committer needs while it decides (they must see the transaction's own
//! uncommitted writes: a contact created earlier in the group, a message inserted a step ago). Reads that only
//! answer queries belong on the read side ([`crate::read`]).

use kairos_domain::{Channel, Contact, ContactId, Event, MessageStatus, Product, Timestamp, WorkspaceId};

use crate::{
    DueRun, IdentityKind, IssuedCode, Reaction, Recipient, Result, RunEntry, StoredCampaign, StoredFlow, StoredMessage,
    StoredRun, StoredSegment, VariantResult,
};

/// How far receive times may run against the sequence (a request parsed before another but committed after
/// it, a clock step): a store rebuilding the de-duplication window reads this much further back.
pub const RECEIVED_ORDER_SLACK: kairos_domain::Duration = kairos_domain::Duration::from_secs(3_600);

/// The event log.
pub trait EventWrites {
    /// Largest event sequence in use (0 when empty), to continue numbering after a restart.
    fn max_event_seq(&mut self) -> Result<i64>;
    /// Message ids of events received at or after `since`, in no particular order, for the de-duplication
    /// window.
    fn recent_message_ids(&mut self, since: Timestamp, f: &mut dyn FnMut(WorkspaceId, &str, Timestamp)) -> Result<()>;
    /// Appends an event. `data` is the event serialized as JSON (done by the caller, off the committer thread).
    fn insert_event(&mut self, ws: WorkspaceId, contact: ContactId, seq: i64, event: &Event, data: &str) -> Result<()>;
    /// All readable events of a contact in (timestamp, sequence) order; unreadable rows are skipped (logged).
    fn contact_events_ordered(&mut self, contact: ContactId) -> Result<Vec<Event>>;
    /// The contact's readable track events named in `kairos_domain::contact::CART_EVENTS` at or after `since`
    /// (all of them when None), in (timestamp, sequence) order: what a late cart event rebuilds the cart from.
    fn contact_cart_events(&mut self, contact: ContactId, since: Option<Timestamp>) -> Result<Vec<Event>>;
    /// Moves every event of `from` to `to` (a merge).
    fn reassign_events(&mut self, from: ContactId, to: ContactId) -> Result<()>;
    /// Events of a workspace with a given name, in log order: (contact, stored JSON).
    fn events_named(&mut self, ws: WorkspaceId, name: &str, f: &mut dyn FnMut(ContactId, &str)) -> Result<()>;
    /// Events of a workspace with a timestamp at or after `since`, in no particular order: (contact, JSON).
    fn events_since(&mut self, ws: WorkspaceId, since: Timestamp, f: &mut dyn FnMut(ContactId, &str)) -> Result<()>;
    /// Whether any event with this name was stored in the workspace.
    fn has_event_named(&mut self, ws: WorkspaceId, name: &str) -> Result<bool>;
}

/// Contacts and the identities (user id, email, phone, anonymous id) they are found by.
pub trait ContactWrites {
    /// Largest contact id in use (0 when empty).
    fn max_contact_id(&mut self) -> Result<i64>;
    /// A live contact (None once merged away).
    fn load_contact(&mut self, id: ContactId) -> Result<Option<Contact>>;
    fn upsert_contact(&mut self, contact: &Contact) -> Result<()>;
    /// Several contacts at once (the committer's changed profiles at commit); a server database writes them in
    /// one statement.
    fn upsert_contacts(&mut self, contacts: &[&Contact]) -> Result<()> {
        contacts.iter().try_for_each(|c| self.upsert_contact(c))
    }
    /// Marks `loser` merged into `survivor`; contacts merged into `loser` before now point at `survivor`.
    fn mark_merged(&mut self, loser: ContactId, survivor: ContactId, at: Timestamp) -> Result<()>;
    /// Every live (not merged) contact, for the in-memory state segments evaluate against.
    /// Each comes packed when its stored packed form verified, else decoded from its JSON (`crate::packed`).
    fn all_contacts(&mut self, f: &mut dyn FnMut(crate::packed::LoadedContact)) -> Result<()>;
    /// (merged-away contact, survivor) pairs.
    fn merged_contacts(&mut self, f: &mut dyn FnMut(ContactId, ContactId)) -> Result<()>;
    /// The contact an identity belongs to, following merges to the survivor.
    fn lookup_identity(&mut self, ws: WorkspaceId, kind: IdentityKind, value: &str) -> Result<Option<ContactId>>;
    /// [`Self::lookup_identity`] of several values of one kind: (value, contact) of those found, in no order. A
    /// server database answers in one statement (the committer looks up a whole group's identities at once).
    /// The default asks one by one: a store that overrides it says so in [`Self::batches_identity_lookups`].
    fn lookup_identities(
        &mut self,
        ws: WorkspaceId,
        kind: IdentityKind,
        values: &[&str],
    ) -> Result<Vec<(String, ContactId)>> {
        let mut found = Vec::new();
        for v in values {
            if let Some(id) = self.lookup_identity(ws, kind, v)? {
                found.push((v.to_string(), id));
            }
        }
        Ok(found)
    }
    /// Whether [`Self::lookup_identities`] answers many values in one round trip. False (the default, an
    /// embedded store answering in microseconds): the committer looks each identity up when it resolves it,
    /// instead of first sweeping a group's identities (a second hash look-up and copy per claim, for nothing).
    fn batches_identity_lookups(&self) -> bool {
        false
    }
    fn set_identity(&mut self, ws: WorkspaceId, kind: IdentityKind, value: &str, contact: ContactId) -> Result<()>;
    /// [`Self::set_identity`] for a binding made while resolving an ingested event (logged with its contact in
    /// this transaction): a store that writes contact rows later may keep it for a later transaction too
    /// ([`Self::write_identities`]), finding it in its own look-ups and its readers' until then, and telling
    /// [`Self::unwritten_events`] to replay from before it. Only called when [`Self::writes_contacts_later`].
    fn bind_identity_later(
        &mut self,
        ws: WorkspaceId,
        kind: IdentityKind,
        value: &str,
        contact: ContactId,
    ) -> Result<()> {
        self.set_identity(ws, kind, value, contact)
    }
    /// How many bindings [`Self::bind_identity_later`] keeps.
    fn identities_waiting(&self) -> usize {
        0
    }
    /// Writes every binding [`Self::bind_identity_later`] kept, inside the open transaction.
    fn write_identities(&mut self) -> Result<()> {
        Ok(())
    }
    fn remove_identity(&mut self, ws: WorkspaceId, kind: IdentityKind, value: &str) -> Result<()>;
    /// Whether this store can leave contacts' rows for a later transaction to write ([`Self::write_later`]).
    /// False (the default): every changed contact is written by the transaction that changed it.
    fn writes_contacts_later(&self) -> bool {
        false
    }
    /// These contacts changed only by folding events this store holds: their rows are written by a later
    /// transaction (with the events' list), and until then a load replays those events
    /// ([`Self::unwritten_events`]). Only called when [`Self::writes_contacts_later`].
    fn write_later(&mut self, contacts: &[ContactId]) -> Result<()> {
        let _ = contacts;
        Err(crate::StoreError::Corrupt("this store writes every changed contact at commit".into()))
    }
    /// The customer events whose contact rows a stop left unwritten ([`Self::write_later`]) or whose identity
    /// bindings it may have lost ([`Self::bind_identity_later`]), oldest first, each with its contact and
    /// sequence, a page at a time: those after sequence `after` (None: from the first one to replay), at most
    /// `max` of the log's events looked at. None by default.
    fn unwritten_events(&mut self, after: Option<i64>, max: usize) -> Result<UnwrittenEvents> {
        let _ = (after, max);
        Ok(UnwrittenEvents::default())
    }
    /// One of [`Self::unwritten_events`] is the contact's again, as if inserted in this transaction: the contact's
    /// reads see it from now on and its row, written next, lists it (replayed one by one, so that folding an
    /// event sees the contact's history up to it, not after).
    fn relist_event(&mut self, contact: ContactId, seq: i64) -> Result<()> {
        let _ = (contact, seq);
        Ok(())
    }
}

/// A page of [`ContactWrites::unwritten_events`].
#[derive(Debug, Default)]
pub struct UnwrittenEvents {
    /// The events to replay, oldest first.
    pub events: Vec<Unwritten>,
    /// The sequence the next page continues after; None: this was the last page.
    pub next: Option<i64>,
}

/// One event of [`UnwrittenEvents`].
#[derive(Debug)]
pub struct Unwritten {
    /// The contact the log names.
    pub contact: ContactId,
    pub seq: i64,
    pub event: Event,
    /// Its contact's row already lists it (took its profile changes): only its identity bindings may be missing.
    pub listed: bool,
}

/// Segment definitions, memberships and size samples.
pub trait SegmentWrites {
    /// Every live segment of every workspace, by row id.
    fn segments(&mut self) -> Result<Vec<StoredSegment>>;
    /// Inserts or updates (by public id); returns the row id.
    fn save_segment(&mut self, s: &StoredSegment) -> Result<i64>;
    /// Deletes a segment (its public id is never reused) and its memberships.
    fn delete_segment(&mut self, row: i64) -> Result<()>;
    fn segment_members(&mut self, row: i64, f: &mut dyn FnMut(ContactId)) -> Result<()>;
    /// Adds (idempotently) or removes a member.
    fn set_member(&mut self, row: i64, contact: ContactId, member: bool, at: Timestamp) -> Result<()>;
    /// Size of a segment in the time bucket starting at `bucket` (the latest value wins).
    fn record_size(&mut self, row: i64, bucket: Timestamp, size: u64) -> Result<()>;
}

/// Message templates, partials and layouts, with their versions.
pub trait TemplateWrites {
    /// Stores a new version of a template (`data`: its JSON; `channel`: email, sms, partial, layout...);
    /// returns the version number (1, 2, ...).
    fn save_template(&mut self, ws: WorkspaceId, id: &str, channel: &str, data: &str, at: Timestamp) -> Result<i64>;
    fn template_exists(&mut self, ws: WorkspaceId, id: &str) -> Result<bool>;
    /// (version, JSON) of a template's current version.
    fn template_data(&mut self, ws: WorkspaceId, id: &str) -> Result<Option<(i64, String)>>;
    /// (id, JSON) of the workspace's templates of `channel` (partials, layouts), by id.
    fn templates_of_channel(&mut self, ws: WorkspaceId, channel: &str) -> Result<Vec<(String, String)>>;
}

/// Flows, their versions, the runs of contacts through them, step counters and team tasks.
pub trait FlowWrites {
    /// Inserts or updates a flow (by public id) and records its version; returns the row id.
    fn save_flow(&mut self, f: &StoredFlow) -> Result<i64>;
    fn flow(&mut self, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredFlow>>;
    /// The definition of one version of a flow.
    fn flow_version(&mut self, flow_row: i64, version: i64) -> Result<Option<String>>;
    fn flow_public_id(&mut self, flow_row: i64) -> Result<Option<String>>;
    /// Flows with status `active`, by row id.
    fn active_flows(&mut self) -> Result<Vec<StoredFlow>>;
    /// Inserts (id 0) or updates a run; returns its id.
    fn save_run(&mut self, r: &StoredRun) -> Result<i64>;
    /// Updates runs saved before (no id 0), in as few statements as the backend can.
    fn update_runs(&mut self, runs: &[StoredRun]) -> Result<()>;
    /// The runs with these ids, whatever their status; unknown ids are left out; in no particular order.
    fn runs_by_id(&mut self, ids: &[i64]) -> Result<Vec<StoredRun>>;
    /// The timers of active runs after `after` in (due time, run id) order and due at or before `until`, at
    /// most `limit` of them, in that order (the engine's window of timers is filled from here).
    fn due_runs(&mut self, after: (Timestamp, i64), until: Timestamp, limit: usize) -> Result<Vec<DueRun>>;
    /// The active runs of `contact` in `ws` that an event can move (`listening`), by id.
    fn listening_runs(&mut self, ws: WorkspaceId, contact: ContactId) -> Result<Vec<StoredRun>>;
    /// Every contact with an active listening run (at start), in no particular order, possibly repeated.
    fn listening_contacts(&mut self, f: &mut dyn FnMut(ContactId)) -> Result<()>;
    /// Every active run of `contact`, by id.
    fn active_runs_of(&mut self, contact: ContactId) -> Result<Vec<StoredRun>>;
    /// Whether the contact is in the flow with this key now, and when it last entered it with the key.
    fn run_entry(&mut self, flow_row: i64, contact: ContactId, key: &str) -> Result<RunEntry>;
    /// Adds one to a step's counter (`sent`, `skipped`, `opened`...).
    fn count_step(&mut self, flow_row: i64, step: &str, counter: &str) -> Result<()>;
    /// Adds `n` to a step's counter (counters gathered over a transaction).
    fn count_step_by(&mut self, flow_row: i64, step: &str, counter: &str, n: u64) -> Result<()>;
    /// Opens a team task (status `open`); returns its id.
    fn insert_task(
        &mut self,
        ws: WorkspaceId,
        contact: ContactId,
        flow_id: &str,
        message: &str,
        at: Timestamp,
    ) -> Result<i64>;
    /// Changes the workspace's task `id`: its assignee (`Some(None)` unassigns) and whether it is done (closing
    /// records `at`, reopening clears it). False when the workspace has no such task.
    fn update_task(
        &mut self,
        ws: WorkspaceId,
        id: i64,
        assignee: Option<Option<&str>>,
        done: Option<bool>,
        at: Timestamp,
    ) -> Result<bool>;
}

/// Messages, their provider ids, and the suppression list.
pub trait MessageWrites {
    /// Inserts unless a message with this id exists (idempotent sends); true when inserted.
    fn insert_message(&mut self, m: &StoredMessage) -> Result<bool>;
    /// Changes a message's status and data; the store remembers every status a message has had.
    fn update_message(&mut self, id: &str, status: MessageStatus, data: &str) -> Result<()>;
    /// Counts a human open or click of a message (what A/B results and reports read).
    fn count_reaction(&mut self, id: &str, reaction: Reaction) -> Result<()>;
    fn message(&mut self, id: &str) -> Result<Option<StoredMessage>>;
    /// Remembers the provider's id of a message (SMS sid) for its status callbacks.
    fn set_provider_id(&mut self, provider_id: &str, message: &str) -> Result<()>;
    fn message_by_provider_id(&mut self, provider_id: &str) -> Result<Option<String>>;
    /// Messages with status `deferred`, `queued` or `retrying`, and those `sent` since `since`, in creation order.
    fn pending_and_recent_messages(&mut self, since: Timestamp, f: &mut dyn FnMut(StoredMessage)) -> Result<()>;
    /// Adds an address to the workspace's suppression list (hard bounce, complaint, manual); idempotent (the
    /// first reason stays).
    fn suppress(&mut self, ws: WorkspaceId, channel: Channel, address: &str, reason: &str, at: Timestamp)
    -> Result<()>;
    /// Lifts a suppression; false when the address was not suppressed.
    fn unsuppress(&mut self, ws: WorkspaceId, channel: Channel, address: &str) -> Result<bool>;
    fn is_suppressed(&mut self, ws: WorkspaceId, channel: Channel, address: &str) -> Result<bool>;
}

/// Campaigns and their recipients.
pub trait CampaignWrites {
    /// Inserts or updates (by public id); returns the row id.
    fn save_campaign(&mut self, c: &StoredCampaign) -> Result<i64>;
    fn campaign_by_id(&mut self, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredCampaign>>;
    /// Campaigns that are scheduled or sending, by row id.
    fn running_campaigns(&mut self) -> Result<Vec<StoredCampaign>>;
    /// Adds recipients; a contact already listed keeps its row.
    fn insert_recipients(&mut self, campaign: i64, list: &[Recipient]) -> Result<()>;
    /// Pending recipients due at `now`, earliest first (not those waiting for an A/B winner).
    fn due_recipients(&mut self, campaign: i64, now: Timestamp, limit: usize) -> Result<Vec<Recipient>>;
    fn recipient_done(&mut self, campaign: i64, contact: ContactId) -> Result<()>;
    /// Removes the recipients not yet sent to (a cancelled campaign, or a scheduled one taking a new audience);
    /// returns how many.
    fn drop_pending_recipients(&mut self, campaign: i64) -> Result<u64>;
    /// Removes a campaign and its recipients (a draft being deleted).
    fn delete_campaign(&mut self, campaign: i64) -> Result<()>;
    /// Gives the recipients waiting for the A/B winner its variant, due at `due` at the earliest; returns how many.
    fn assign_winner(&mut self, campaign: i64, variant: i64, due: Timestamp) -> Result<u64>;
    /// (pending, waiting for a winner, done).
    fn recipient_counts(&mut self, campaign: i64) -> Result<(u64, u64, u64)>;
    /// Per A/B variant, by variant: what its messages did (deciding the winner).
    fn variant_results(&mut self, campaign_public_id: &str) -> Result<Vec<VariantResult>>;
    /// Per A/B variant: revenue of `Order Completed` events by each message's contact within 5 days after it.
    fn campaign_revenue(&mut self, campaign_public_id: &str) -> Result<Vec<(i64, f64)>>;
}

/// Coupon pools and the codes handed out.
pub trait CouponWrites {
    /// Inserts or replaces a pool's definition (JSON).
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
    /// A code as issued (to `contact` when given; unredeemed first, then the latest).
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
}

/// Per-workspace setting overrides.
pub trait SettingsWrites {
    /// Every workspace's stored setting overrides (a JSON object), for workspaces that have any.
    fn workspace_settings(&mut self, f: &mut dyn FnMut(WorkspaceId, String)) -> Result<()>;
    fn save_workspace_settings(&mut self, ws: WorkspaceId, data: &str) -> Result<()>;
}

/// Secrets (the link-signing key, webhook secrets, DKIM keys), as sealed bytes: the backend never sees a
/// plaintext (sealing and opening are [`crate::secrets::SecretBox`]'s).
pub trait SecretWrites {
    /// The sealed value stored under `name`.
    fn secret(&mut self, name: &str) -> Result<Option<Vec<u8>>>;
    /// Stores `sealed` under `name` unless a value is stored there already, and answers the stored value (this
    /// one, or the one found): two nodes creating the same secret at once both end up with the first one.
    fn insert_secret(&mut self, name: &str, sealed: &[u8], at: Timestamp) -> Result<Vec<u8>>;
    /// Stores `sealed` under `name`, replacing any value.
    fn put_secret(&mut self, name: &str, sealed: &[u8], at: Timestamp) -> Result<()>;
    /// Removes the value under `name`; whether there was one.
    fn delete_secret(&mut self, name: &str) -> Result<bool>;
    /// The names of every stored secret, sorted.
    fn secret_names(&mut self) -> Result<Vec<String>>;
}

/// The product catalog.
pub trait ProductWrites {
    fn load_product(&mut self, ws: WorkspaceId, id: &str) -> Result<Option<Product>>;
    fn upsert_product(&mut self, ws: WorkspaceId, product: &Product) -> Result<()>;
    fn product_exists(&mut self, ws: WorkspaceId, id: &str) -> Result<bool>;
    /// At most `limit` products of a workspace with ids after `after`, by id (what a send reads of a catalog
    /// category, `collections` in templates; [`crate::read::ProductReads::products`] on the read side).
    fn products_after(&mut self, ws: WorkspaceId, after: Option<&str>, limit: usize) -> Result<Vec<Product>>;
}

/// Everything one write transaction can do: every aggregate's write trait.
pub trait WriteTx:
    EventWrites
    + ContactWrites
    + SegmentWrites
    + TemplateWrites
    + FlowWrites
    + MessageWrites
    + CampaignWrites
    + CouponWrites
    + SettingsWrites
    + SecretWrites
    + ProductWrites
    + crate::erasure::ErasureWrites
    + crate::sync::SyncWrites
    + crate::forms::SiteWrites
    + Send
{
}

impl<T> WriteTx for T where
    T: EventWrites
        + ContactWrites
        + SegmentWrites
        + TemplateWrites
        + FlowWrites
        + MessageWrites
        + CampaignWrites
        + CouponWrites
        + SettingsWrites
        + SecretWrites
        + ProductWrites
        + crate::erasure::ErasureWrites
        + crate::sync::SyncWrites
        + crate::forms::SiteWrites
        + Send
        + ?Sized
{
}

/// The single writer's connection: every write happens between [`Writer::begin`] and [`Writer::commit`]
/// (the committer's group commit), or through a [`Transaction`] guard.
pub trait Writer: WriteTx {
    /// Opens a write transaction (it takes the write lock at once: no deadlock with other writers).
    fn begin(&mut self) -> Result<()>;
    /// Makes the transaction durable (fsync) before returning, unless [`Writer::durable_later`] moved that step.
    fn commit(&mut self) -> Result<()>;
    /// Drops the open transaction's writes; nothing happens when none is open.
    fn rollback(&mut self) -> Result<()>;
    /// For a backend whose log can be flushed apart from `COMMIT` (SQLite's WAL): from now on `commit` returns
    /// once the transaction is written and visible but before it is on disk, and the answer makes everything
    /// committed before its `sync` began durable, from any thread. The committer answers requests only after that
    /// sync, and overlaps it with the next group. None (the default): `commit` stays durable by itself.
    fn durable_later(&mut self) -> Result<Option<Box<dyn DurableSync>>> {
        Ok(None)
    }
}

/// Makes every transaction committed before the call durable (see [`Writer::durable_later`]).
pub trait DurableSync: Send {
    fn sync(&self) -> Result<()>;
}

impl<'a> dyn Writer + 'a {
    /// Opens a transaction guarded by its handle: it dereferences to [`WriteTx`], commits with
    /// [`Transaction::commit`] and rolls back when dropped uncommitted.
    pub fn transaction(&mut self) -> Result<Transaction<'_>> {
        self.begin()?;
        Ok(Transaction { writer: self, open: true })
    }
}

/// An open write transaction (see [`Writer::transaction`](trait.Writer.html#method.transaction)).
pub struct Transaction<'a> {
    writer: &'a mut dyn Writer,
    open: bool,
}

impl Transaction<'_> {
    pub fn commit(mut self) -> Result<()> {
        self.open = false;
        self.writer.commit()
    }
    pub fn rollback(mut self) -> Result<()> {
        self.open = false;
        self.writer.rollback()
    }
}

impl<'a> std::ops::Deref for Transaction<'a> {
    type Target = dyn WriteTx + 'a;
    fn deref(&self) -> &Self::Target {
        &*self.writer
    }
}

impl<'a> std::ops::DerefMut for Transaction<'a> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut *self.writer
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open
            && let Err(e) = self.writer.rollback()
        {
            tracing::warn!(error = %e, "rolling back an abandoned write transaction failed");
        }
    }
}

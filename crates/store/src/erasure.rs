//! Erasure and the audit log (SPEC 16 "Data rights"): rewriting a person's rows, the keyed hashes of erased
//! addresses (so a backfill or an import does not bring the person back), and who exported or erased whom.

use kairos_domain::{ContactId, Timestamp, WorkspaceId};

use crate::Result;

/// The rows holding a person's data that erasure rewrites, one kind at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonalRows {
    /// `events.data` (the event JSON).
    Events,
    /// `messages.data`; the store also clears the message's address (`to`).
    Messages,
    /// `flow_runs.trigger` (the trigger event's properties).
    RunTriggers,
    /// `tasks.message` (a team task's text).
    Tasks,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub workspace: WorkspaceId,
    pub at: Timestamp,
    /// Who: `user:EMAIL`, `key:…LAST4`, or a platform (`shopify`).
    pub actor: String,
    /// What: `contact.export`, `contact.erase`, `privacy.data_request`...
    pub action: String,
    /// About whom or what: `contact:ID`, or a platform's reference.
    pub subject: String,
    /// A sentence for people (never the person's address).
    pub detail: String,
}

/// Writes of erasure, inside the committer's transaction.
pub trait ErasureWrites {
    /// Contacts merged into `survivor` (their rows may still hold messages, runs and tasks).
    fn merged_into(&mut self, survivor: ContactId) -> Result<Vec<ContactId>>;
    /// Rewrites each row of `rows` belonging to one of `contacts` with `f` (stored text in, stored text out);
    /// answers how many rows were rewritten.
    fn rewrite_personal(
        &mut self,
        rows: PersonalRows,
        contacts: &[ContactId],
        f: &mut dyn FnMut(&str) -> String,
    ) -> Result<u64>;
    /// Removes every identity (user id, email, phone, anonymous id) pointing at one of `contacts`; answers
    /// the identities removed.
    fn remove_identities_of(
        &mut self,
        ws: WorkspaceId,
        contacts: &[ContactId],
    ) -> Result<Vec<(crate::IdentityKind, String)>>;
    /// When the address with this keyed hash was erased, as the transaction sees it.
    fn erasure_time(&mut self, ws: WorkspaceId, hash: &[u8]) -> Result<Option<Timestamp>>;
    /// Remembers the keyed hash of an erased address (the latest erasure time wins).
    fn record_erasure(&mut self, ws: WorkspaceId, hash: &[u8], at: Timestamp) -> Result<()>;
    /// Forgets an erased address (the person consented again); whether it was remembered.
    fn forget_erasure(&mut self, ws: WorkspaceId, hash: &[u8]) -> Result<bool>;
    fn record_audit(&mut self, entry: &AuditEntry) -> Result<()>;
}

/// Reads of erasure, on committed data.
pub trait ErasureReads {
    /// When the address with this keyed hash was erased, if it was.
    fn erased_at(&self, ws: WorkspaceId, hash: &[u8]) -> Result<Option<Timestamp>>;
    /// Contacts with an anonymous id starting with `prefix` (`shopify-`: those a platform's records created),
    /// at most `limit`, by id.
    fn contacts_with_anonymous_prefix(&self, ws: WorkspaceId, prefix: &str, limit: usize) -> Result<Vec<ContactId>>;
    /// The workspace's audit log, newest first, at most `limit` lines.
    fn audit_log(&self, ws: WorkspaceId, limit: usize) -> Result<Vec<AuditEntry>>;
}

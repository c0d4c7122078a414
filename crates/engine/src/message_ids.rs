//! Message ids: one deterministic id per (run, step) and per (campaign, contact), so a retry after a crash
//! finds the same row and reuses the same `Message-ID` / `Idempotency-Key` (SPEC 18), derived under the
//! server's link key so that nobody can compute another send's id from row numbers (ids appear in mail headers,
//! and bounce reports name them). The key lives in the data directory, so ids are the same after a restart.
//! Rows written before this scheme keep their `msg_{run}_{step}` / `cmp_{row}_{contact}` ids.

use kairos_domain::ContactId;

use crate::state::State;

impl State {
    /// The id of the message a flow run sends at `step`.
    pub(crate) fn flow_message_id(&self, run: i64, step: &str) -> String {
        format!("msg_{}", self.links.key.derive_id(&format!("msg|{run}|{step}")))
    }

    /// The id of the message campaign `row` sends to `contact`.
    pub(crate) fn campaign_message_id(&self, row: i64, contact: ContactId) -> String {
        format!("cmp_{}", self.links.key.derive_id(&format!("cmp|{row}|{}", contact.0)))
    }
}

//! Message ids: one deterministic id per (run, step) and per (campaign, contact), so a retry after a crash
//! finds the same row and reuses the same `Message-ID` / `Idempotency-Key` (SPEC 18), derived under the
//! server's link key so that nobody can compute another send's id from row numbers (ids appear in mail headers,
//! and bounce reports name them). The key lives in the data directory, so ids are the same after a restart.
//! Rows written before this scheme keep their `msg_{run}_{step}` / `cmp_{row}_{contact}` ids.

use kairos_domain::{ContactId, Timestamp};

use crate::links::LinkKey;
use crate::state::State;

/// Hex digits of the entry second that leads a flow message's id (40 bits: past the year 30 000).
const ENTRY_SECOND_HEX_DIGITS: usize = 10;

/// `msg_` + the second the run entered its flow (hex, fixed width) + the keyed digest of (run, step).
///
/// The digest alone made every id random, so each send inserted into a random leaf of the messages' key index:
/// at a million waiting runs that was the largest single cost of firing their timers (issue 17: 72 700 → 114 700
/// transitions/s with the prefix). Timers fire in due order, and runs of a flow that entered together fall due
/// together, so with the entry second first a burst of sends appends to a few places of the index. The entry
/// time never changes for a run, so a retry still finds the same id; it tells the recipient only when they
/// entered the flow (their own email's date says as much), and the digest part still cannot be computed without
/// the key. Ids issued before this scheme (digest only) are kept as they are: a deferred send carries its id.
pub(crate) fn flow_message_id(key: &LinkKey, run: i64, entered_at: Timestamp, step: &str) -> String {
    let second = entered_at.as_micros().max(0) / 1_000_000;
    let digest = key.derive_id(&format!("msg|{run}|{step}"));
    format!("msg_{second:0width$x}{digest}", width = ENTRY_SECOND_HEX_DIGITS)
}

impl State {
    /// The id of the message a flow run sends at `step`; see [`flow_message_id`].
    pub(crate) fn flow_message_id(&self, run: i64, entered_at: Timestamp, step: &str) -> String {
        flow_message_id(&self.links.key, run, entered_at, step)
    }

    /// The id of the message campaign `row` sends to `contact`.
    pub(crate) fn campaign_message_id(&self, row: i64, contact: ContactId) -> String {
        format!("cmp_{}", self.links.key.derive_id(&format!("cmp|{row}|{}", contact.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_micros(seconds * 1_000_000 + 123)
    }

    #[test]
    fn flow_message_ids_are_stable_keyed_and_ordered_by_entry() {
        let key = LinkKey([7; 32]);
        let id = flow_message_id(&key, 42, at(1_796_566_218), "send");
        assert_eq!(id, flow_message_id(&key, 42, at(1_796_566_218), "send"), "a retry finds the same id");
        assert!(id.starts_with("msg_006b156cca"), "{id}");
        assert_eq!(id.len(), 4 + ENTRY_SECOND_HEX_DIGITS + 32);
        assert_ne!(id, flow_message_id(&key, 42, at(1_796_566_218), "other"));
        assert_ne!(id, flow_message_id(&key, 43, at(1_796_566_218), "send"));
        assert_ne!(id, flow_message_id(&LinkKey([8; 32]), 42, at(1_796_566_218), "send"), "keyed");
        // Later entries sort after earlier ones, whatever their digests.
        let mut ids: Vec<String> = (0..50).map(|i| flow_message_id(&key, 1000 - i, at(1_000 + i), "s")).collect();
        let entered = ids.clone();
        ids.sort();
        assert_eq!(ids, entered);
    }
}

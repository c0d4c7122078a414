//! The lead subsystem's state in the committer: when each contact's lead score or lifecycle stage next changes
//! by time alone (`crate::lead_ops` acts on it).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use kairos_domain::{ContactId, Timestamp};

/// Each contact's next instant its score or stage changes by time alone.
#[derive(Default)]
pub(crate) struct LeadTimers {
    heap: BinaryHeap<Reverse<(i64, ContactId)>>,
    /// The instant planned per contact; heap entries that disagree are stale and skipped. Keyed by the ids'
    /// own multiplicative hash (every contact with points is planned at start).
    due: crate::id_slots::IdMap<i64>,
}

impl LeadTimers {
    pub(crate) fn plan(&mut self, id: ContactId, at: Option<Timestamp>) {
        match at.map(Timestamp::as_micros) {
            Some(t) if self.due.get(&id) != Some(&t) => {
                self.due.insert(id, t);
                self.heap.push(Reverse((t, id)));
                // Replanned contacts leave stale entries behind: rebuild once they outnumber the live ones.
                if self.heap.len() > 2 * self.due.len() + 1_024 {
                    self.heap = self.due.iter().map(|(&c, &t)| Reverse((t, c))).collect();
                }
            }
            Some(_) => {}
            None => {
                self.due.remove(&id);
            }
        }
    }

    pub(crate) fn take_due(&mut self, now: Timestamp) -> Vec<ContactId> {
        let mut out = Vec::new();
        while let Some(&Reverse((t, id))) = self.heap.peek() {
            if t > now.as_micros() {
                break;
            }
            self.heap.pop();
            if self.due.get(&id) == Some(&t) {
                self.due.remove(&id);
                out.push(id);
            }
        }
        out
    }
}

//! Contact rows written later (issue 17, item 2; ARCHITECTURE "Contact rows written later").
//!
//! A contact changed only by folding its own events into its profile (traits, aggregates, lead points) need not
//! have its row rewritten by every commit: the events are committed, and a load replays those its row does not
//! list yet (`ContactWrites::unwritten_events`). Such a row waits here until [`ROW_WAIT_MAX`] after the first
//! change it misses, or until something else changes the contact (written at once, waiting changes included),
//! a reader asks for what was acknowledged (`Engine::settle`), or the engine stops. A busy shopper's row is then
//! written once per wait instead of once per event.
//!
//! A reader's request is answered once every row that waited when it came is written, [`SETTLE_ROWS_PER_COMMIT`]
//! a commit: at 30 000 events/s some 100 000 rows wait, ~1.6 s of writing that would otherwise stall
//! ingestion in one commit (measured: the one group of a stop that wrote them all).

use std::collections::{HashMap, VecDeque};

use kairos_domain::{ContactId, Duration, Timestamp};

/// Longest a contact's row waits after the first change it does not hold: also the most a start replays, like a
/// database's checkpoint interval (a crash at 55 000 events/s left 787 000 events to replay: 22.5 s of start).
/// A shopper's visit usually fits in it, so the row is written about once a visit; 10 s wrote it three times as
/// often and ingestion ran 1.14× slower over the 5-minute anchor run (ARCHITECTURE "Rows wait 30 s").
pub(crate) const ROW_WAIT_MAX: Duration = Duration::from_secs(30);
/// Most contacts whose rows wait at once; past it the longest-waiting are written.
pub(crate) const ROWS_WAITING_MAX: usize = 200_000;
/// Rows a commit writes for readers waiting on them ([`WaitingRows::settle`]): ~16 µs each, ~30 ms a commit.
pub(crate) const SETTLE_ROWS_PER_COMMIT: usize = 2_048;
/// Stale entries (rows written or re-queued since) the queue may hold beyond the waiting rows before it is
/// compacted (a frozen test clock never makes entries due).
const STALE_ENTRIES_MAX: usize = 65_536;

#[derive(Default)]
pub(crate) struct WaitingRows {
    /// Each waiting contact: when its row began to wait, and the number of that wait (entries of `order` that
    /// carry another number are stale, even at the same instant).
    since: HashMap<ContactId, (Timestamp, u64)>,
    /// The same in the order they began; entries whose contact was written (or began again) since are stale.
    order: VecDeque<(ContactId, Timestamp, u64)>,
    /// The number of the last wait begun.
    next: u64,
    /// Waits numbered up to this one are written [`SETTLE_ROWS_PER_COMMIT`] a commit ([`WaitingRows::settle`]).
    settle_through: u64,
}

impl WaitingRows {
    pub(crate) fn len(&self) -> usize {
        self.since.len()
    }

    /// `id`'s row waits (from `now`, unless it already was waiting).
    pub(crate) fn wait(&mut self, id: ContactId, now: Timestamp) {
        if let std::collections::hash_map::Entry::Vacant(v) = self.since.entry(id) {
            self.next += 1;
            v.insert((now, self.next));
            self.order.push_back((id, now, self.next));
        }
        if self.order.len() > self.since.len() + STALE_ENTRIES_MAX {
            let since = &self.since;
            self.order.retain(|(id, _, n)| since.get(id).is_some_and(|s| s.1 == *n));
        }
    }

    pub(crate) fn is_waiting(&self, id: &ContactId) -> bool {
        self.since.contains_key(id)
    }

    /// `id`'s row is written by this commit (or `id` is gone).
    pub(crate) fn written(&mut self, id: &ContactId) {
        self.since.remove(id);
    }

    /// Every row waiting now is to be written, [`SETTLE_ROWS_PER_COMMIT`] a commit, until [`Self::settled`].
    pub(crate) fn settle(&mut self) {
        self.settle_through = self.next;
    }

    /// Whether every row that waited at the last [`Self::settle`] is written.
    pub(crate) fn settled(&self) -> bool {
        self.order.front().is_none_or(|&(_, _, n)| n > self.settle_through)
    }

    /// Takes into `out` the rows whose wait is over at `now`, those past [`ROWS_WAITING_MAX`], and up to
    /// [`SETTLE_ROWS_PER_COMMIT`] of those a reader waits for.
    pub(crate) fn take_due(&mut self, now: Timestamp, out: &mut Vec<ContactId>) {
        let due = now.saturating_sub(ROW_WAIT_MAX);
        let mut settling = SETTLE_ROWS_PER_COMMIT;
        while let Some(&(id, at, n)) = self.order.front() {
            let over = at <= due || self.since.len() > ROWS_WAITING_MAX;
            if !over && (n > self.settle_through || settling == 0) {
                break;
            }
            self.order.pop_front();
            if self.since.get(&id).is_some_and(|s| s.1 == n) {
                self.since.remove(&id);
                out.push(id);
                if !over {
                    settling -= 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_micros(s * 1_000_000)
    }

    /// The wait, in seconds.
    const WAIT: i64 = ROW_WAIT_MAX.as_micros() / 1_000_000;

    #[test]
    fn a_row_waits_from_its_first_change_until_the_wait_is_over() {
        let mut w = WaitingRows::default();
        w.wait(ContactId(1), at(100));
        w.wait(ContactId(1), at(105));
        w.wait(ContactId(2), at(104));
        let mut out = Vec::new();
        w.take_due(at(100 + WAIT - 1), &mut out);
        assert!(out.is_empty());
        w.take_due(at(100 + WAIT), &mut out);
        assert_eq!(out, [ContactId(1)], "from the first change, not the last");
        w.take_due(at(200 + WAIT), &mut out);
        assert_eq!(out, [ContactId(1), ContactId(2)]);
        assert_eq!(w.len(), 0);
    }

    #[test]
    fn a_row_written_meanwhile_waits_again_from_its_next_change() {
        let mut w = WaitingRows::default();
        w.wait(ContactId(1), at(100));
        w.written(&ContactId(1));
        w.wait(ContactId(1), at(108));
        let mut out = Vec::new();
        w.take_due(at(100 + WAIT), &mut out);
        assert!(out.is_empty(), "the entry of the first wait is stale");
        w.take_due(at(108 + WAIT), &mut out);
        assert_eq!(out, [ContactId(1)]);
    }

    #[test]
    fn a_settle_writes_the_rows_waiting_then_a_slice_a_commit() {
        let mut w = WaitingRows::default();
        let n = SETTLE_ROWS_PER_COMMIT as i64 + 5;
        for i in 0..n {
            w.wait(ContactId(i), at(100));
        }
        assert!(w.settled(), "nobody asked");
        w.settle();
        w.wait(ContactId(n), at(100));
        assert!(!w.settled());
        let mut out = Vec::new();
        w.take_due(at(100), &mut out);
        assert_eq!(out.len(), SETTLE_ROWS_PER_COMMIT);
        assert!(!w.settled());
        out.clear();
        w.take_due(at(100), &mut out);
        assert_eq!(out, (SETTLE_ROWS_PER_COMMIT as i64..n).map(ContactId).collect::<Vec<_>>());
        assert!(w.settled(), "a row that began to wait after the request is not waited for");
        assert_eq!(w.len(), 1);
        out.clear();
        w.take_due(at(100), &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn rows_written_meanwhile_do_not_count_against_a_settle() {
        let mut w = WaitingRows::default();
        for i in 0..10 {
            w.wait(ContactId(i), at(100));
            w.written(&ContactId(i));
        }
        w.wait(ContactId(99), at(100));
        w.settle();
        let mut out = Vec::new();
        w.take_due(at(100), &mut out);
        assert_eq!(out, [ContactId(99)]);
        assert!(w.settled());
    }

    #[test]
    fn stale_entries_are_bounded_under_a_frozen_clock() {
        let mut w = WaitingRows::default();
        for _ in 0..(STALE_ENTRIES_MAX + 10) {
            w.wait(ContactId(1), at(100));
            w.written(&ContactId(1));
        }
        assert!(w.order.len() <= STALE_ENTRIES_MAX + 2, "{}", w.order.len());
    }
}

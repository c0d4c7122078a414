//! The timers of waiting runs the engine holds in memory: only (due time, run id), and only for a bounded window
//! ahead of now. The runs themselves (step, trigger data, key) stay in the store until they step
//! (`crate::flow_runs`).
//!
//! The window is a key (due time, run id) up to which every timer of an active run of an active flow is held,
//! give or take timers that have since moved (stale entries, skipped when their run is read). It is filled from
//! the store in (due time, id) order (`FlowWrites::due_runs`, an index on the due time) up to [`TIMER_WINDOW`]
//! ahead of now and at most [`TIMER_WINDOW_RUNS_MAX`] timers. A run saved with a timer inside the window is
//! added to it; one beyond it is left to the store, where a later fill finds it. When a timer inside the
//! window finds no room, the window gives up its farthest timer and ends just before it, so that timer is read
//! again when its turn comes: nothing is lost, and memory stays bounded however many runs wait.

use std::collections::{BTreeSet, HashSet};

use kairos_domain::{Duration, Timestamp};
use kairos_store::DueRun;

/// How far ahead of now the engine holds timers (beyond it they are only in the store).
pub(crate) const TIMER_WINDOW: Duration = Duration::from_secs(10 * 60);
/// Most timers held in memory at once (a key of 16 bytes each, in a B-tree: a few MB at most).
pub(crate) const TIMER_WINDOW_RUNS_MAX: usize = 100_000;
/// Timers read from the store per query when the window is filled.
pub(crate) const TIMER_FILL_ROWS: usize = 10_000;

/// (due time in microseconds, run id): the order timers fire in.
type Key = (i64, i64);

/// Before every timer.
const START: Key = (i64::MIN, i64::MIN);

pub(crate) struct TimerWindow {
    held: BTreeSet<Key>,
    /// Every timer of an active run of an active flow at or before this key is in `held`.
    loaded_to: Key,
}

impl Default for TimerWindow {
    fn default() -> Self {
        TimerWindow { held: BTreeSet::new(), loaded_to: START }
    }
}

/// What to read from the store to fill the window: timers after `after`, due at or before `until`, at most
/// `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fill {
    pub(crate) after: (Timestamp, i64),
    pub(crate) until: Timestamp,
    pub(crate) limit: usize,
}

impl TimerWindow {
    /// A run was saved with a timer at `due`: held when the window reaches it, else left to the store.
    pub(crate) fn schedule(&mut self, due: Timestamp, id: i64) {
        let key = (due.as_micros(), id);
        if key > self.loaded_to {
            return;
        }
        self.held.insert(key);
        if self.held.len() > TIMER_WINDOW_RUNS_MAX
            && let Some(last) = self.held.pop_last()
        {
            // The farthest goes back to the store only: the window now ends just before it.
            self.loaded_to = (last.0, last.1 - 1);
        }
    }

    /// A run's timer at `due` is no longer its timer (it moved, or the run ended).
    pub(crate) fn cancel(&mut self, due: Timestamp, id: i64) {
        self.held.remove(&(due.as_micros(), id));
    }

    /// What to read to fill the window at `now`; `None` when it is full or reaches far enough.
    pub(crate) fn wants(&self, now: Timestamp) -> Option<Fill> {
        let until = now.as_micros().saturating_add(TIMER_WINDOW.as_micros());
        let room = TIMER_WINDOW_RUNS_MAX.saturating_sub(self.held.len());
        if room == 0 || self.loaded_to >= (until, i64::MAX) {
            return None;
        }
        let after = (Timestamp::from_micros(self.loaded_to.0), self.loaded_to.1);
        Some(Fill { after, until: Timestamp::from_micros(until), limit: room.min(TIMER_FILL_ROWS) })
    }

    /// The rows `fill` read, in order: those `hold` accepts are held (the others are runs of paused flows,
    /// read again once their flow is active: [`TimerWindow::reset`]), and the window reaches the last row, or
    /// `fill.until` when fewer came than asked.
    pub(crate) fn filled(&mut self, fill: Fill, rows: &[DueRun], hold: impl Fn(&DueRun) -> bool) {
        for r in rows.iter().filter(|r| hold(r)) {
            self.held.insert((r.due_at.as_micros(), r.id));
        }
        self.loaded_to = match rows.last() {
            Some(last) if rows.len() >= fill.limit => (last.due_at.as_micros(), last.id),
            _ => (fill.until.as_micros(), i64::MAX),
        };
    }

    /// Takes the ids of the runs whose timers are due at `now`, earliest first, at most `max`.
    pub(crate) fn take_due(&mut self, now: Timestamp, max: usize) -> Vec<i64> {
        let mut ids = Vec::new();
        let mut seen = HashSet::new();
        while ids.len() < max {
            match self.held.first() {
                Some(&(t, id)) if t <= now.as_micros() => {
                    self.held.pop_first();
                    if seen.insert(id) {
                        ids.push(id);
                    }
                }
                _ => break,
            }
        }
        ids
    }

    /// Whether timers may be due at `now` that are not yet taken: held ones, or ones the window has not read.
    pub(crate) fn more_due(&self, now: Timestamp) -> bool {
        self.held.first().is_some_and(|&(t, _)| t <= now.as_micros()) || self.loaded_to < (now.as_micros(), i64::MAX)
    }

    /// Forgets every held timer: the next fill reads the store from the first timer on (runs of a flow
    /// activated again are among them).
    pub(crate) fn reset(&mut self) {
        *self = TimerWindow::default();
    }

    /// Timers held now.
    pub(crate) fn len(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    /// The window over a pretend store: fills until it asks for nothing more.
    fn fill(w: &mut TimerWindow, store: &[(i64, i64)], now: Timestamp) {
        while let Some(f) = w.wants(now) {
            let rows: Vec<DueRun> = store
                .iter()
                .filter(|&&(t, id)| (at(t).as_micros(), id) > (f.after.0.as_micros(), f.after.1) && at(t) <= f.until)
                .take(f.limit)
                .map(|&(t, id)| DueRun { due_at: at(t), id, flow_row: id % 2 })
                .collect();
            w.filled(f, &rows, |r| r.flow_row == 1);
        }
    }

    #[test]
    fn only_the_window_ahead_is_held_and_later_timers_are_read_when_it_moves() {
        let window = TIMER_WINDOW.as_micros() / 1_000_000;
        // Odd ids are runs of an active flow; (due second, id) sorted, as the store reads them.
        let store = [(10, 1), (10, 3), (20, 2), (window + 5, 5), (window * 3, 7)];
        let mut w = TimerWindow::default();
        fill(&mut w, &store, at(0));
        assert_eq!(w.len(), 2, "the two due within the window, not the paused flow's or the later ones");
        assert!(w.take_due(at(9), 10).is_empty());
        assert_eq!(w.take_due(at(10), 10), [1, 3]);
        assert!(!w.more_due(at(10)));
        // Saved within the window: held; beyond it: left to the store.
        w.schedule(at(30), 9);
        w.schedule(at(window * 2), 11);
        assert_eq!(w.len(), 1);
        // Time moves on: the window reaches the later timers.
        let later = at(window * 3);
        assert!(w.more_due(later));
        fill(&mut w, &store, later);
        assert_eq!(w.take_due(later, 10), [9, 5, 7]);
    }

    #[test]
    fn a_full_window_gives_up_its_farthest_timer_which_is_read_again() {
        let mut w = TimerWindow::default();
        fill(&mut w, &[], at(0));
        for id in 0..TIMER_WINDOW_RUNS_MAX as i64 {
            w.schedule(at(100), id * 2 + 1);
        }
        assert_eq!(w.len(), TIMER_WINDOW_RUNS_MAX);
        w.schedule(at(50), 1_000_001);
        assert_eq!(w.len(), TIMER_WINDOW_RUNS_MAX, "never more than the bound");
        // The farthest went back to the store; a timer after the new end is not held, and is found by a fill.
        let farthest = (TIMER_WINDOW_RUNS_MAX as i64 - 1) * 2 + 1;
        w.schedule(at(100), farthest + 2);
        assert_eq!(w.len(), TIMER_WINDOW_RUNS_MAX);
        let taken = w.take_due(at(100), usize::MAX);
        assert_eq!(taken.len(), TIMER_WINDOW_RUNS_MAX);
        assert_eq!(taken[0], 1_000_001, "earliest first");
        fill(&mut w, &[(100, farthest), (100, farthest + 2)], at(100));
        assert_eq!(w.take_due(at(100), 10), [farthest, farthest + 2]);
    }

    #[test]
    fn cancelled_and_repeated_timers_are_taken_once_or_not_at_all() {
        let mut w = TimerWindow::default();
        fill(&mut w, &[], at(0));
        w.schedule(at(5), 1);
        w.schedule(at(5), 1);
        w.schedule(at(6), 1); // moved: its old entry is stale until cancelled, and the run is taken once
        w.schedule(at(7), 3);
        w.cancel(at(7), 3);
        assert_eq!(w.take_due(at(10), 10), [1]);
        assert_eq!(w.len(), 0);
    }

    #[test]
    fn a_reset_reads_everything_again() {
        let store = [(1, 1), (2, 3)];
        let mut w = TimerWindow::default();
        fill(&mut w, &store, at(0));
        assert_eq!(w.take_due(at(5), 10), [1, 3]);
        w.reset();
        assert!(w.more_due(at(5)));
        fill(&mut w, &store, at(5));
        assert_eq!(w.take_due(at(5), 10), [1, 3]);
    }
}

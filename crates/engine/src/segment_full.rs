//! Full evaluation of one segment over its workspace (a new or edited definition), column-wise and split
//! across threads (issue 17: columnar segment state).
//!
//! Each thread takes a range of rows (starting on a 64-row word), evaluates the whole definition over it
//! (`kairos_segment::vector`), compares the result with the current members, and finds when time alone
//! changes each row's value. The calling thread then swaps in the new membership bitmap, lists the changed
//! contacts and plans the timers.

use std::cmp::Reverse;
use std::ops::Range;

use kairos_domain::{ContactId, Timestamp};
use kairos_segment::SegmentError;
use kairos_segment::columns::ColumnSource;
use kairos_segment::eval::{Node, SegIdx};
use kairos_segment::vector::{self, Bits};
use roaring::RoaringBitmap;

use crate::segment_rows::{Profiles, Table};
use crate::segments::Segments;

/// Most threads one full evaluation uses: the committer waits for it, and past a few threads the scan is
/// bound by memory bandwidth (the reference machine has two cores).
const FULL_EVALUATION_THREADS_MAX: usize = 4;
/// Rows below which one thread does all the work (starting threads would cost more than they save).
const PARALLEL_ROWS_MIN: usize = 1 << 16;

/// What one thread found over its rows.
struct Part {
    members: Bits,
    /// Rows whose membership changes.
    changed: Bits,
    /// (row, instant) of the rows whose value time alone will change.
    timers: Vec<(u32, i64)>,
}

fn evaluate_part(
    node: &Node,
    i: SegIdx,
    table: &Table,
    rows: Range<usize>,
    now: Timestamp,
) -> Result<Part, SegmentError> {
    let e = vector::evaluate(node, table, rows.clone(), now)?;
    let mut changed = Bits::zeros(rows);
    table.members_into(i, &mut changed);
    changed.xor(&e.value);
    let timers = e.changes.into_iter().map(|(row, t)| (row as u32, t.as_micros())).collect();
    Ok(Part { members: e.value, changed, timers })
}

/// Splits `0..rows` into `n` ranges that start on a 64-row word.
fn split(rows: usize, n: usize) -> Vec<Range<usize>> {
    let step = rows.div_ceil(n).div_ceil(64) * 64;
    (0..n).map(|k| (k * step).min(rows)..((k + 1) * step).min(rows)).filter(|r| !r.is_empty()).collect()
}

impl Segments {
    /// Evaluates one segment for every contact of its workspace (a new or edited definition), without
    /// announcing changes; returns (contact, member) for the rows to persist where membership changed.
    /// `dirty`: contacts changed since the last [`Segments::refresh`] (the open transaction's).
    pub fn full_evaluation(
        &mut self,
        i: SegIdx,
        profiles: &dyn Profiles,
        dirty: &[ContactId],
        now: Timestamp,
    ) -> Result<Vec<(ContactId, bool)>, SegmentError> {
        let Some(def) = self.def(i) else { return Ok(Vec::new()) };
        let (ws, node) = (def.ws, def.node.clone());
        self.refresh(dirty, profiles);
        let threads = self.full_evaluation_threads();
        let t = self.table_index(ws);
        let table = &mut self.tables[t];
        table.fill(profiles);
        let table: &Table = table;
        let threads = if table.rows() < PARALLEL_ROWS_MIN { 1 } else { threads };
        let ranges = split(table.rows(), threads);
        let parts: Vec<Result<Part, SegmentError>> = if ranges.len() <= 1 {
            ranges.into_iter().map(|r| evaluate_part(&node, i, table, r, now)).collect()
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = ranges
                    .into_iter()
                    .map(|r| {
                        let node = &node;
                        s.spawn(move || evaluate_part(node, i, table, r, now))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| Err(SegmentError::plain("a segment evaluation thread failed")))
                    })
                    .collect()
            })
        };
        let parts = parts.into_iter().collect::<Result<Vec<_>, _>>()?;
        Ok(self.apply(t, i, parts))
    }

    /// Threads a full evaluation of a large workspace uses.
    pub fn full_evaluation_threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()).min(FULL_EVALUATION_THREADS_MAX),
            n => n,
        }
    }

    /// Installs the new members, lists the changes and plans the timers found by the threads.
    fn apply(&mut self, t: usize, i: SegIdx, parts: Vec<Part>) -> Vec<(ContactId, bool)> {
        let table = &mut self.tables[t];
        let mut members = RoaringBitmap::new();
        let mut changed = Vec::new();
        let mut size = 0;
        for p in &parts {
            let bytes: Vec<u8> = p.members.words().iter().flat_map(|w| w.to_le_bytes()).collect();
            members |= RoaringBitmap::from_lsb0_bytes(p.members.rows().start as u32, &bytes);
            size += p.members.count();
            changed.extend(p.changed.ones().map(|row| (table.id(row as u32), p.members.get(row))));
        }
        table.set_members(i, members);
        for (row, due) in parts.iter().flat_map(|p| &p.timers) {
            // Keep the earlier of this segment's change and the one already planned for the contact.
            if *due < table.next_due(*row) {
                table.set_next_due(*row, *due);
                self.timers.push(Reverse((*due, table.id(*row))));
            }
        }
        self.sizes[i as usize] = size;
        self.sizes_changed.insert(i);
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn ranges_start_on_a_word_and_cover_every_row() {
        assert!(split(0, 2).is_empty());
        assert_eq!(split(10, 2), vec![0..10]);
        assert_eq!(split(200, 2), vec![0..128, 128..200]);
        assert_eq!(split(128, 2), vec![0..64, 64..128]);
        assert_eq!(split(1_000_001, 4).iter().map(|r| r.len()).sum::<usize>(), 1_000_001);
        assert!(split(1_000_001, 4).iter().all(|r| r.start % 64 == 0));
    }
}

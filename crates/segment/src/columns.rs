//! Segment state held column-wise (issue 17): what a full evaluation reads, one entry per contact row.
//!
//! A workspace numbers its contacts by dense rows. Each profile field a live segment reads is one column over
//! those rows: numbers as `f64` (NaN: missing), instants as microseconds ([`TIME_MISSING`]), text fields and
//! traits dictionary-encoded (a `u32` code per row, each distinct value stored once), and each event
//! condition's occurrences as a 16-byte [`Slot`] per row. Consent and memberships are bit columns the engine
//! keeps beside these. `vector.rs` evaluates compiled definitions over them.

use kairos_domain::{Duration, Timestamp};
use serde_json::Value;

use crate::ast::{Channel, ConsentIs};
pub use crate::dict::DictColumn;
use crate::eval::{Field, Kind, Known, Node, Occ, PredId, SegIdx, Val};

/// An instant column's value for a row that has none.
pub const TIME_MISSING: i64 = i64::MIN;
/// A dictionary column's code for a row that has no value (a trait the profile lacks).
pub const ABSENT: u32 = 0;

/// One bit per row.
#[derive(Debug, Default, Clone)]
pub struct BitColumn {
    words: Vec<u64>,
}

impl BitColumn {
    pub fn get(&self, row: usize) -> bool {
        self.words.get(row / 64).is_some_and(|w| w >> (row % 64) & 1 == 1)
    }

    pub fn set(&mut self, row: usize, on: bool) {
        let i = row / 64;
        if i >= self.words.len() {
            if !on {
                return;
            }
            self.words.resize(i + 1, 0);
        }
        if on {
            self.words[i] |= 1 << (row % 64);
        } else {
            self.words[i] &= !(1 << (row % 64));
        }
    }

    /// The words covering rows `64 * first ..`; rows past the column's end read as unset.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    pub fn memory_bytes(&self) -> usize {
        self.words.capacity() * 8
    }
}

/// The column a profile condition reads: a known field, or a top-level trait (a condition on
/// `trait.address.city` reads the `address` column: the whole value, so nested paths and arrays evaluate
/// exactly as on the profile).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ColumnKey {
    Known(Known),
    Trait(String),
}

impl ColumnKey {
    /// The column a field is read from, if it is a profile field.
    pub fn of(f: &Field) -> Option<ColumnKey> {
        match f {
            Field::Known(k, _) => Some(ColumnKey::Known(*k)),
            Field::Trait(path) => path.first().map(|top| ColumnKey::Trait(top.clone())),
            Field::Event(_) | Field::Prop(_) => None,
        }
    }
}

/// The profile columns a compiled definition reads, each once.
pub fn column_keys(n: &Node) -> Vec<ColumnKey> {
    fn walk(n: &Node, out: &mut Vec<ColumnKey>) {
        match n {
            Node::And(xs) | Node::Or(xs) => xs.iter().for_each(|x| walk(x, out)),
            Node::Not(x) => walk(x, out),
            Node::Compare { field, .. }
            | Node::Exists { field }
            | Node::In { field, .. }
            | Node::Relative { field, .. } => {
                if let Some(k) = ColumnKey::of(field)
                    && !out.contains(&k)
                {
                    out.push(k);
                }
            }
            Node::Did { .. } | Node::Count { .. } | Node::Consent { .. } | Node::InSegment(_) => {}
        }
    }
    let mut out = Vec::new();
    walk(n, &mut out);
    out
}

/// Values of one profile field by row.
#[derive(Debug, Clone)]
pub enum Column {
    /// NaN where the row has no value.
    Num(Vec<f64>),
    /// Microseconds; [`TIME_MISSING`] where the row has no value.
    Time(Vec<i64>),
    Dict(DictColumn),
}

impl Column {
    /// An empty column of the type the field's values have.
    pub fn for_key(key: &ColumnKey) -> Column {
        match key {
            ColumnKey::Known(k) => match crate::eval::kind_of(*k) {
                Kind::Number => Column::Num(Vec::new()),
                Kind::Time => Column::Time(Vec::new()),
                Kind::Text => Column::Dict(DictColumn::default()),
            },
            ColumnKey::Trait(_) => Column::Dict(DictColumn::default()),
        }
    }

    /// Stores a known field's value (what the evaluator's `Subject::known` answers for the row).
    pub fn set_known(&mut self, row: usize, v: Val<'_>) {
        match self {
            Column::Num(xs) => put(xs, row, if let Val::Num(n) = v { n } else { f64::NAN }, f64::NAN),
            Column::Time(xs) => {
                put(xs, row, if let Val::Time(t) = v { t.as_micros() } else { TIME_MISSING }, TIME_MISSING)
            }
            Column::Dict(d) => d.set_str(row, if let Val::Str(s) = v { Some(s) } else { None }),
        }
    }

    /// Stores a trait's value (None: the profile lacks the trait).
    pub fn set_json(&mut self, row: usize, v: Option<&Value>) {
        if let Column::Dict(d) = self {
            d.set(row, v);
        }
    }

    /// Forgets a row's value (the row is free).
    pub fn clear(&mut self, row: usize) {
        match self {
            Column::Num(xs) => put(xs, row, f64::NAN, f64::NAN),
            Column::Time(xs) => put(xs, row, TIME_MISSING, TIME_MISSING),
            Column::Dict(d) => d.set(row, None),
        }
    }

    pub fn memory_bytes(&self) -> usize {
        match self {
            Column::Num(xs) => xs.capacity() * 8,
            Column::Time(xs) => xs.capacity() * 8,
            Column::Dict(d) => d.memory_bytes(),
        }
    }
}

fn put<T: Copy>(xs: &mut Vec<T>, row: usize, v: T, missing: T) {
    if row >= xs.len() {
        xs.resize(row + 1, missing);
    }
    xs[row] = v;
}

/// One event condition's occurrences for one row, in 16 bytes: most contacts have none, only pruned ones,
/// or a single retained one; the rest spill to the heap.
#[derive(Debug, Clone, Default)]
pub enum Slot {
    #[default]
    Empty,
    /// Only occurrences older than every window of the condition (their count).
    Older(u64),
    /// One retained occurrence (microseconds) and none pruned.
    One(i64),
    Many(Box<Occurrences>),
}

/// Pruned count and retained times (ascending).
#[derive(Debug, Clone, Default)]
pub struct Occurrences {
    pub older: u64,
    pub times: Vec<i64>,
}

impl Slot {
    pub fn occ(&self) -> Occ<'_> {
        match self {
            Slot::Empty => Occ::default(),
            Slot::Older(n) => Occ { older: *n, times: &[] },
            Slot::One(t) => Occ { older: 0, times: std::slice::from_ref(t) },
            Slot::Many(m) => Occ { older: m.older, times: &m.times },
        }
    }

    /// Records one occurrence at `t` (after those at the same instant).
    pub fn add(&mut self, t: i64) {
        *self = match std::mem::take(self) {
            Slot::Empty => Slot::One(t),
            Slot::Older(older) => Slot::Many(Box::new(Occurrences { older, times: vec![t] })),
            Slot::One(a) => {
                Slot::Many(Box::new(Occurrences { older: 0, times: if a <= t { vec![a, t] } else { vec![t, a] } }))
            }
            Slot::Many(mut m) => {
                let at = m.times.partition_point(|&x| x <= t);
                m.times.insert(at, t);
                Slot::Many(m)
            }
        };
    }

    /// Folds occurrences older than every window of the condition (`retention`, None: keep all) into a count.
    pub fn prune(&mut self, retention: Option<Duration>, now: Timestamp) {
        let Some(d) = retention else { return };
        let cutoff = now.as_micros().saturating_sub(d.as_micros());
        match self {
            Slot::Empty | Slot::Older(_) => {}
            Slot::One(t) => {
                if *t < cutoff {
                    *self = Slot::Older(1);
                }
            }
            Slot::Many(m) => {
                let n = m.times.partition_point(|&t| t < cutoff);
                if n == 0 {
                    return;
                }
                m.older += n as u64;
                m.times.drain(..n);
                *self = match (m.older, m.times.as_slice()) {
                    (older, []) => Slot::Older(older),
                    (0, [t]) => Slot::One(*t),
                    _ => return,
                };
            }
        }
    }

    pub fn memory_bytes(&self) -> usize {
        match self {
            Slot::Many(m) => std::mem::size_of::<Occurrences>() + m.times.capacity() * 8,
            _ => 0,
        }
    }
}

/// One event condition's occurrences by row (rows past the end have none).
#[derive(Debug, Clone, Default)]
pub struct OccColumn {
    slots: Vec<Slot>,
}

impl OccColumn {
    pub fn slot(&self, row: usize) -> &Slot {
        static EMPTY: Slot = Slot::Empty;
        self.slots.get(row).unwrap_or(&EMPTY)
    }

    pub fn slot_mut(&mut self, row: usize) -> &mut Slot {
        if row >= self.slots.len() {
            self.slots.resize_with(row + 1, Slot::default);
        }
        &mut self.slots[row]
    }

    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    pub fn clear(&mut self, row: usize) {
        if let Some(s) = self.slots.get_mut(row) {
            *s = Slot::Empty;
        }
    }

    pub fn memory_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>() + self.slots.iter().map(Slot::memory_bytes).sum::<usize>()
    }
}

/// What the column-wise evaluator reads: one workspace's rows.
pub trait ColumnSource: Sync {
    /// Rows allocated (live or free).
    fn rows(&self) -> usize;
    /// Which rows hold a live contact.
    fn alive(&self) -> &BitColumn;
    /// A profile column; None when it is not held (the caller holds every column a definition reads).
    fn column(&self, key: &ColumnKey) -> Option<&Column>;
    /// Rows whose consent on `channel` is `status`.
    fn consent(&self, channel: Channel, status: ConsentIs) -> &BitColumn;
    /// An event condition's occurrences; None when no row has any.
    fn occurrences(&self, p: PredId) -> Option<&OccColumn>;
    fn is_member(&self, s: SegIdx, row: usize) -> bool;
    /// Sets the bit of every member of `s` among `out`'s rows.
    fn members_into(&self, s: SegIdx, out: &mut crate::vector::Bits);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_stay_sorted_and_fold_pruned_occurrences() {
        let mut s = Slot::default();
        for t in [50, 10, 30, 30] {
            s.add(t);
        }
        assert_eq!(s.occ().times, &[10, 30, 30, 50]);
        s.prune(Some(Duration(60)), Timestamp(100));
        assert!(matches!(s, Slot::Many(_)), "three pruned, one retained");
        assert_eq!((s.occ().older, s.occ().times), (3, &[50][..]));
        s.prune(Some(Duration(10)), Timestamp(100));
        assert!(matches!(s, Slot::Older(4)));
        s.prune(None, Timestamp(1_000));
        assert_eq!(s.occ().older, 4);
        let mut one = Slot::default();
        one.add(7);
        assert!(matches!(one, Slot::One(7)));
        one.prune(Some(Duration(1)), Timestamp(100));
        assert!(matches!(one, Slot::Older(1)));
    }
}

//! Segment state held column-wise (issue 17): what a full evaluation reads, one entry per contact row.
//!
//! A workspace numbers its contacts by dense rows. Each profile field a live segment reads is one column over
//! those rows: numbers as `f64` (NaN: missing), instants as microseconds ([`TIME_MISSING`]), text fields and
//! traits dictionary-encoded (a `u32` code per row, each distinct value stored once), and each event
//! condition's occurrences as a 16-byte [`Slot`] per row. Consent and memberships are bit columns the engine
//! keeps beside these. `vector.rs` evaluates compiled definitions over them.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};

use kairos_domain::{Duration, Timestamp};
use serde_json::Value;

use crate::ast::{Channel, ConsentIs};
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

/// A dictionary-encoded column: a code per row and each distinct value once, with the number of rows that
/// hold it (a value no row holds any more is dropped and its code reused, so churn does not grow it).
///
/// Values are found by a keyed hash of the value itself (no text form is built, so a refresh or a fill
/// allocates nothing for a value already held); two different values with one hash are told apart by
/// comparing them (`clashes`, almost always empty).
#[derive(Debug, Clone)]
pub struct DictColumn<S = RandomState> {
    codes: Vec<u32>,
    /// Distinct values by code; code [`ABSENT`] is reserved.
    values: Vec<Value>,
    refs: Vec<u32>,
    /// Hash of a value → its code.
    index: HashMap<u64, u32>,
    /// Codes whose value's hash is already taken by another value in `index`.
    clashes: Vec<u32>,
    free: Vec<u32>,
    hasher: S,
}

impl<S: Default> Default for DictColumn<S> {
    fn default() -> Self {
        DictColumn {
            codes: Vec::new(),
            values: vec![Value::Null],
            refs: vec![0],
            index: HashMap::new(),
            clashes: Vec::new(),
            free: Vec::new(),
            hasher: S::default(),
        }
    }
}

/// A value that hashes like `Value::String(s)` without building it.
enum Probe<'a> {
    Json(&'a Value),
    Str(&'a str),
}

impl Probe<'_> {
    fn matches(&self, v: &Value) -> bool {
        match self {
            Probe::Json(p) => *p == v,
            Probe::Str(s) => v.as_str() == Some(*s),
        }
    }
}

fn hash_json(v: &Value, h: &mut impl Hasher) {
    match v {
        Value::Null => h.write_u8(0),
        Value::Bool(b) => {
            h.write_u8(1);
            h.write_u8(u8::from(*b));
        }
        // Equal numbers are equal in representation (serde_json compares them so).
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                h.write_u8(2);
                h.write_u64(u);
            } else if let Some(i) = n.as_i64() {
                h.write_u8(3);
                h.write_i64(i);
            } else {
                h.write_u8(4);
                h.write_u64(n.as_f64().map_or(0, f64::to_bits));
            }
        }
        Value::String(s) => hash_str(s, h),
        Value::Array(items) => {
            h.write_u8(6);
            h.write_usize(items.len());
            items.iter().for_each(|i| hash_json(i, h));
        }
        // Maps iterate in key order, so equal maps hash alike.
        Value::Object(m) => {
            h.write_u8(7);
            h.write_usize(m.len());
            for (k, v) in m {
                h.write(k.as_bytes());
                h.write_u8(0xff);
                hash_json(v, h);
            }
        }
    }
}

fn hash_str(s: &str, h: &mut impl Hasher) {
    h.write_u8(5);
    h.write(s.as_bytes());
    h.write_u8(0xff);
}

impl<S: BuildHasher> DictColumn<S> {
    /// Codes by row ([`ABSENT`] past the end).
    pub fn codes(&self) -> &[u32] {
        &self.codes
    }

    /// The distinct values by code (index [`ABSENT`] and freed codes hold `null` and no row has them).
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    pub fn get(&self, row: usize) -> Option<&Value> {
        match self.codes.get(row) {
            Some(&c) if c != ABSENT => Some(&self.values[c as usize]),
            _ => None,
        }
    }

    /// Distinct values held.
    pub fn distinct(&self) -> usize {
        self.index.len() + self.clashes.len()
    }

    pub fn set(&mut self, row: usize, v: Option<&Value>) {
        self.set_probe(row, v.map(Probe::Json));
    }

    fn set_str(&mut self, row: usize, s: Option<&str>) {
        self.set_probe(row, s.map(Probe::Str));
    }

    fn set_probe(&mut self, row: usize, v: Option<Probe<'_>>) {
        if row >= self.codes.len() {
            if v.is_none() {
                return;
            }
            self.codes.resize(row + 1, ABSENT);
        }
        let old = self.codes[row];
        let unchanged = match &v {
            None => old == ABSENT,
            Some(p) => old != ABSENT && p.matches(&self.values[old as usize]),
        };
        if unchanged {
            return;
        }
        let new = v.map_or(ABSENT, |p| self.intern(p));
        self.release(old);
        self.codes[row] = new;
    }

    fn hash(&self, p: &Probe<'_>) -> u64 {
        let mut h = self.hasher.build_hasher();
        match p {
            Probe::Json(v) => hash_json(v, &mut h),
            Probe::Str(s) => hash_str(s, &mut h),
        }
        h.finish()
    }

    fn find(&self, h: u64, p: &Probe<'_>) -> Option<u32> {
        match self.index.get(&h) {
            Some(&c) if p.matches(&self.values[c as usize]) => Some(c),
            Some(_) => self.clashes.iter().copied().find(|&c| p.matches(&self.values[c as usize])),
            None => None,
        }
    }

    fn intern(&mut self, p: Probe<'_>) -> u32 {
        let h = self.hash(&p);
        if let Some(c) = self.find(h, &p) {
            self.refs[c as usize] += 1;
            return c;
        }
        let c = match self.free.pop() {
            Some(c) => c,
            None => {
                self.values.push(Value::Null);
                self.refs.push(0);
                (self.values.len() - 1) as u32
            }
        };
        self.values[c as usize] = match p {
            Probe::Json(v) => v.clone(),
            Probe::Str(s) => Value::String(s.to_string()),
        };
        self.refs[c as usize] = 1;
        match self.index.entry(h) {
            std::collections::hash_map::Entry::Occupied(_) => self.clashes.push(c),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(c);
            }
        }
        c
    }

    fn release(&mut self, c: u32) {
        if c == ABSENT {
            return;
        }
        let refs = &mut self.refs[c as usize];
        *refs -= 1;
        if *refs > 0 {
            return;
        }
        let h = self.hash(&Probe::Json(&self.values[c as usize]));
        if self.index.get(&h) == Some(&c) {
            self.index.remove(&h);
            // A clashing value with the same hash takes the freed place in the index.
            if let Some(i) = self.clashes.iter().position(|&d| self.hash(&Probe::Json(&self.values[d as usize])) == h) {
                let d = self.clashes.swap_remove(i);
                self.index.insert(h, d);
            }
        } else {
            self.clashes.retain(|&d| d != c);
        }
        self.values[c as usize] = Value::Null;
        self.free.push(c);
    }

    pub fn memory_bytes(&self) -> usize {
        // Strings inside values, counted by length (plus an allocation header).
        fn heap(v: &Value) -> usize {
            match v {
                Value::String(s) => s.capacity() + 16,
                Value::Array(items) => {
                    items.capacity() * std::mem::size_of::<Value>() + items.iter().map(heap).sum::<usize>()
                }
                Value::Object(m) => m.iter().map(|(k, v)| k.capacity() + 64 + heap(v)).sum(),
                _ => 0,
            }
        }
        self.codes.capacity() * 4
            + self.values.capacity() * std::mem::size_of::<Value>()
            + self.values.iter().map(heap).sum::<usize>()
            + self.refs.capacity() * 4
            + self.index.capacity() * (std::mem::size_of::<(u64, u32)>() + 1)
            + (self.clashes.capacity() + self.free.capacity()) * 4
    }
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
    use serde_json::json;

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

    #[test]
    fn dictionaries_reuse_codes_of_values_no_row_holds() {
        let mut d: DictColumn = DictColumn::default();
        d.set(0, Some(&json!("Helsinki")));
        d.set(1, Some(&json!("Helsinki")));
        d.set(2, Some(&json!(["a", 1])));
        assert_eq!(d.distinct(), 2);
        assert_eq!(d.codes()[0], d.codes()[1]);
        d.set(2, Some(&json!("Oulu")));
        assert_eq!(d.distinct(), 2, "the array is dropped");
        d.set(0, None);
        d.set(1, Some(&json!(5)));
        assert_eq!(d.distinct(), 2, "Helsinki dropped, 5 in the array's freed code");
        assert_eq!(d.get(0), None);
        assert_eq!(d.get(1), Some(&json!(5)));
        assert_eq!(d.get(2), Some(&json!("Oulu")));
        assert_eq!(d.values().len(), 4, "codes reused: absent, Helsinki, array then 5, Oulu");
        // Strings set from a known field and from JSON are one value.
        d.set_str(3, Some("Oulu"));
        assert_eq!((d.codes()[3], d.distinct()), (d.codes()[2], 2));
        // Numbers equal only in their representation: 1 and 1.0 are two values, as serde_json compares them.
        d.set(4, Some(&json!(1)));
        d.set(5, Some(&json!(1.0)));
        assert_ne!(d.codes()[4], d.codes()[5]);
    }

    /// Hashes every value alike: each value after the first is a clash.
    #[derive(Default)]
    struct OneHash;
    impl BuildHasher for OneHash {
        type Hasher = Zero;
        fn build_hasher(&self) -> Zero {
            Zero
        }
    }
    struct Zero;
    impl Hasher for Zero {
        fn write(&mut self, _: &[u8]) {}
        fn finish(&self) -> u64 {
            0
        }
    }

    #[test]
    fn values_with_one_hash_are_told_apart() {
        let mut d = DictColumn::<OneHash>::default();
        let (a, b, c) = (json!("a"), json!(["b"]), json!({"c": 1}));
        d.set(0, Some(&a));
        d.set(1, Some(&b));
        d.set(2, Some(&c));
        d.set(3, Some(&b));
        assert_eq!(d.distinct(), 3);
        assert_eq!(d.codes()[1], d.codes()[3]);
        assert_eq!((d.get(0), d.get(1), d.get(2)), (Some(&a), Some(&b), Some(&c)));
        // The value in the index goes: a clashing one takes its place and is still found.
        d.set(0, None);
        assert_eq!(d.distinct(), 2);
        d.set(4, Some(&c));
        d.set(5, Some(&b));
        assert_eq!((d.codes()[4], d.codes()[5]), (d.codes()[2], d.codes()[1]));
        d.set_str(6, Some("a"));
        assert_eq!(d.distinct(), 3, "a is new again");
        for row in [1, 2, 3, 4, 5, 6] {
            d.set(row, None);
        }
        assert_eq!((d.distinct(), d.index.len(), d.clashes.len()), (0, 0, 0));
    }
}

//! Column-wise evaluation of a compiled definition over a range of rows (`columns.rs`): each condition becomes
//! a bit per row, combined word by word. The result equals `eval::eval` row by row (the engine's proptest
//! checks it against the per-contact evaluation); the caller splits the rows across threads.
//!
//! Besides the value, each node yields `live`: the rows where time alone may change it, a superset of the rows
//! where `eval::next_change` answers (it prunes `and`/`or` the same way), so timers are computed for those
//! rows only ([`next_change_row`]).

use std::ops::Range;

use kairos_domain::{ConsentStatus, JsonMap, Timestamp};

use crate::SegmentError;
use crate::ast::{Channel, CompareOp, ConsentIs, Literal};
use crate::columns::{ABSENT, BitColumn, Column, ColumnKey, ColumnSource, DictColumn, Slot, TIME_MISSING};
use crate::eval::{self, Field, Known, Node, Occ, PredId, SegIdx, Subject, Val};

/// One bit per row of `start .. start + len` (`start` a multiple of 64); bits past the end are zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bits {
    start: usize,
    len: usize,
    words: Vec<u64>,
}

impl Bits {
    pub fn zeros(rows: Range<usize>) -> Bits {
        debug_assert_eq!(rows.start % 64, 0, "ranges start on a word");
        let len = rows.len();
        Bits { start: rows.start, len, words: vec![0; len.div_ceil(64)] }
    }

    /// The column's bits over `rows`.
    pub fn of_column(c: &BitColumn, rows: Range<usize>) -> Bits {
        let mut b = Bits::zeros(rows);
        let first = b.start / 64;
        for (i, w) in b.words.iter_mut().enumerate() {
            *w = c.words().get(first + i).copied().unwrap_or(0);
        }
        b.mask_tail();
        b
    }

    pub fn rows(&self) -> Range<usize> {
        self.start..self.start + self.len
    }

    pub fn words(&self) -> &[u64] {
        &self.words
    }

    pub fn set(&mut self, row: usize) {
        let i = row - self.start;
        self.words[i / 64] |= 1 << (i % 64);
    }

    pub fn get(&self, row: usize) -> bool {
        let i = row - self.start;
        self.words[i / 64] >> (i % 64) & 1 == 1
    }

    pub fn count(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// The rows whose bit is set, ascending.
    pub fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(move |(i, &w)| {
            let base = self.start + i * 64;
            let mut w = w;
            std::iter::from_fn(move || {
                (w != 0).then(|| {
                    let b = w.trailing_zeros() as usize;
                    w &= w - 1;
                    base + b
                })
            })
        })
    }

    pub fn and(&mut self, o: &Bits) {
        self.words.iter_mut().zip(&o.words).for_each(|(a, b)| *a &= b);
    }

    pub fn or(&mut self, o: &Bits) {
        self.words.iter_mut().zip(&o.words).for_each(|(a, b)| *a |= b);
    }

    /// `self &= !o`.
    pub fn and_not(&mut self, o: &Bits) {
        self.words.iter_mut().zip(&o.words).for_each(|(a, b)| *a &= !b);
    }

    /// `self ^= o`: the rows where the two differ.
    pub fn xor(&mut self, o: &Bits) {
        self.words.iter_mut().zip(&o.words).for_each(|(a, b)| *a ^= b);
    }

    /// Sets the bit of every row `test` holds for, 64 rows to a word (the test inlined into the loop).
    pub fn fill(&mut self, test: impl Fn(usize) -> bool) {
        let end = self.start + self.len;
        for (i, w) in self.words.iter_mut().enumerate() {
            let base = self.start + i * 64;
            let mut word = 0u64;
            for b in 0..(end - base).min(64) {
                word |= u64::from(test(base + b)) << b;
            }
            *w |= word;
        }
    }

    fn mask_tail(&mut self) {
        let rem = self.len % 64;
        if rem != 0
            && let Some(last) = self.words.last_mut()
        {
            *last &= (1u64 << rem) - 1;
        }
    }
}

/// A node's value over a range of rows, and where time alone may change it.
#[derive(Debug)]
pub struct Evaluated {
    pub value: Bits,
    pub live: Bits,
}

/// Evaluates `n` at `now` for the live rows of `rows` (`rows.start` a multiple of 64). Fails only when a
/// profile column the definition reads is not held.
pub fn eval_rows(
    n: &Node,
    src: &dyn ColumnSource,
    rows: Range<usize>,
    now: Timestamp,
) -> Result<Evaluated, SegmentError> {
    let alive = Bits::of_column(src.alive(), rows);
    let mut e = node(n, src, &alive, now)?;
    e.value.and(&alive);
    e.live.and(&alive);
    Ok(e)
}

fn node(n: &Node, src: &dyn ColumnSource, alive: &Bits, now: Timestamp) -> Result<Evaluated, SegmentError> {
    let rows = alive.rows();
    let none = || Bits::zeros(rows.clone());
    Ok(match n {
        Node::And(xs) | Node::Or(xs) => {
            let and = matches!(n, Node::And(_));
            let mut value = if and { alive.clone() } else { none() };
            let (mut live, mut pinned) = (none(), none());
            for x in xs {
                let e = node(x, src, alive, now)?;
                if and {
                    value.and(&e.value)
                } else {
                    value.or(&e.value)
                }
                if eval::depends_on_time(x) {
                    live.or(&e.live);
                } else if and {
                    // A part time cannot change that is false pins the `and` false (as in `eval::next_change`).
                    let mut f = alive.clone();
                    f.and_not(&e.value);
                    pinned.or(&f);
                } else {
                    pinned.or(&e.value);
                }
            }
            live.and_not(&pinned);
            Evaluated { value, live }
        }
        Node::Not(x) => {
            let e = node(x, src, alive, now)?;
            let mut value = alive.clone();
            value.and_not(&e.value);
            Evaluated { value, live: e.live }
        }
        Node::Consent { channel, status } => {
            Evaluated { value: Bits::of_column(src.consent(*channel, *status), rows.clone()), live: none() }
        }
        Node::InSegment(s) => {
            let mut value = none();
            src.members_into(*s, &mut value);
            Evaluated { value, live: none() }
        }
        Node::Did { pred, .. } | Node::Count { pred, .. } => events(n, *pred, src, alive, now),
        Node::Compare { field, .. }
        | Node::Exists { field }
        | Node::In { field, .. }
        | Node::Relative { field, .. } => profile(n, field, src, alive, now)?,
    })
}

/// `did` / `count` over the condition's occurrence slots.
fn events(n: &Node, pred: PredId, src: &dyn ColumnSource, alive: &Bits, now: Timestamp) -> Evaluated {
    let rows = alive.rows();
    let (mut value, mut live) = (Bits::zeros(rows.clone()), Bits::zeros(rows));
    let slots = src.occurrences(pred).map_or(&[][..], |c| c.slots());
    live.fill(|row| slots.get(row).is_some_and(|s| matches!(s, Slot::One(_) | Slot::Many(_))));
    match *n {
        Node::Did { window, .. } => {
            let (lo, hi) = eval::window_bounds(window, now, None);
            value.fill(|row| occurs(slots.get(row), lo, hi, |c| c > 0));
        }
        Node::Count { window, op, value: v, .. } => {
            let (lo, hi) = eval::window_bounds(window, now, None);
            value.fill(|row| occurs(slots.get(row), lo, hi, |c| eval::count_holds(c, op, v)));
        }
        _ => {}
    }
    Evaluated { value, live }
}

/// Whether the count of a slot's occurrences in `[lo, hi)` passes `test` (a row past the column's end has
/// none); the single-occurrence slot, the usual one, is decided inline.
#[inline]
fn occurs(slot: Option<&Slot>, lo: i64, hi: i64, test: impl Fn(u64) -> bool) -> bool {
    match slot {
        Some(Slot::One(t)) => test(u64::from(lo <= *t && *t < hi)),
        Some(s) => test(eval::count_in(s.occ(), lo, hi)),
        None => test(0),
    }
}

/// A comparison, existence or relative-time condition on a profile field.
fn profile(
    n: &Node,
    field: &Field,
    src: &dyn ColumnSource,
    alive: &Bits,
    now: Timestamp,
) -> Result<Evaluated, SegmentError> {
    let rows = alive.rows();
    let mut value = Bits::zeros(rows.clone());
    let mut live = Bits::zeros(rows.clone());
    let Some(key) = ColumnKey::of(field) else {
        // `event.*` has no value outside a flow: the same for every row.
        let empty = JsonMap::new();
        let v = eval::eval(n, &Single { val: Val::Missing, traits: &empty }, now);
        return Ok(Evaluated { value: if v { alive.clone() } else { value }, live });
    };
    let col = src.column(&key).ok_or_else(|| SegmentError::plain(format!("segment column {key:?} is not held")))?;
    match col {
        Column::Num(xs) => numbers(n, xs, &mut value, now),
        Column::Time(xs) => times(n, xs, &mut value, &mut live, now),
        Column::Dict(d) => {
            let lut = dictionary(n, field, d, now);
            let codes = d.codes();
            value.fill(|row| lut[codes.get(row).copied().unwrap_or(ABSENT) as usize]);
            if matches!(n, Node::Relative { .. }) {
                // A trait read as an instant: the per-row `next_change` decides.
                live = alive.clone();
            }
        }
    }
    Ok(Evaluated { value, live })
}

fn numbers(n: &Node, xs: &[f64], out: &mut Bits, now: Timestamp) {
    let at = |row: usize| xs.get(row).copied().unwrap_or(f64::NAN);
    match n {
        // The common case, decided inline: `compare` on two numbers (NaN, a missing value, satisfies none
        // but `!=`, the negation of `=`).
        Node::Compare { op, value: lit, .. } if op.is_numeric() && lit.raw != Literal::Null => {
            let l = lit.num.unwrap_or(f64::NAN);
            match op {
                CompareOp::Eq => out.fill(|row| at(row) == l),
                CompareOp::Ne => out.fill(|row| at(row) != l),
                CompareOp::Gt => out.fill(|row| at(row) > l),
                CompareOp::Ge => out.fill(|row| at(row) >= l),
                CompareOp::Lt => out.fill(|row| at(row) < l),
                _ => out.fill(|row| at(row) <= l),
            }
        }
        _ => per_row(n, out, now, |row| {
            let x = at(row);
            if x.is_nan() { Val::Missing } else { Val::Num(x) }
        }),
    }
}

fn times(n: &Node, xs: &[i64], out: &mut Bits, live: &mut Bits, now: Timestamp) {
    let at = |row: usize| xs.get(row).copied().unwrap_or(TIME_MISSING);
    match n {
        Node::Relative { rel, .. } => {
            live.fill(|row| at(row) != TIME_MISSING);
            out.fill(|row| {
                let t = at(row);
                t != TIME_MISSING && eval::relative_holds(Timestamp::from_micros(t), *rel, now)
            });
        }
        _ => per_row(n, out, now, |row| {
            let t = at(row);
            if t == TIME_MISSING { Val::Missing } else { Val::Time(Timestamp::from_micros(t)) }
        }),
    }
}

/// Evaluates the condition once per row through the scalar evaluator (shapes with no inline kernel).
fn per_row(n: &Node, out: &mut Bits, now: Timestamp, val: impl Fn(usize) -> Val<'static>) {
    let empty = JsonMap::new();
    out.fill(|row| eval::eval(n, &Single { val: val(row), traits: &empty }, now));
}

/// Whether the condition holds for each distinct value of a dictionary column (by code).
fn dictionary(n: &Node, field: &Field, d: &DictColumn, now: Timestamp) -> Vec<bool> {
    let empty = JsonMap::new();
    d.values()
        .iter()
        .enumerate()
        .map(|(code, v)| {
            let absent = code as u32 == ABSENT;
            match field {
                Field::Trait(path) => {
                    let mut traits = JsonMap::new();
                    if !absent {
                        traits.insert(path[0].clone(), v.clone());
                    }
                    eval::eval(n, &Single { val: Val::Missing, traits: &traits }, now)
                }
                _ => {
                    let val = if absent { Val::Missing } else { v.as_str().map_or(Val::Missing, Val::Str) };
                    eval::eval(n, &Single { val, traits: &empty }, now)
                }
            }
        })
        .collect()
}

/// One value for whichever field a single condition reads.
struct Single<'a> {
    val: Val<'a>,
    traits: &'a JsonMap,
}

impl Subject for Single<'_> {
    fn known(&self, _: Known) -> Val<'_> {
        self.val
    }
    fn traits(&self) -> &JsonMap {
        self.traits
    }
    fn consent(&self, _: Channel) -> ConsentStatus {
        ConsentStatus::NeverSubscribed
    }
    fn in_segment(&self, _: SegIdx) -> bool {
        false
    }
    fn occurrences(&self, _: PredId) -> Occ<'_> {
        Occ::default()
    }
}

/// One row read back from the columns as a contact, for the scalar evaluator.
pub struct RowSubject<'a> {
    src: &'a dyn ColumnSource,
    row: usize,
    traits: JsonMap,
}

impl<'a> RowSubject<'a> {
    /// `keys`: the columns the definition reads (`columns::column_keys`); its traits are gathered once.
    pub fn new(src: &'a dyn ColumnSource, keys: &[ColumnKey], row: usize) -> Self {
        let mut traits = JsonMap::new();
        for key in keys {
            if let ColumnKey::Trait(name) = key
                && let Some(Column::Dict(d)) = src.column(key)
                && let Some(v) = d.get(row)
            {
                traits.insert(name.clone(), v.clone());
            }
        }
        RowSubject { src, row, traits }
    }
}

impl Subject for RowSubject<'_> {
    fn known(&self, k: Known) -> Val<'_> {
        match self.src.column(&ColumnKey::Known(k)) {
            Some(Column::Num(xs)) => xs.get(self.row).filter(|x| !x.is_nan()).map_or(Val::Missing, |x| Val::Num(*x)),
            Some(Column::Time(xs)) => xs
                .get(self.row)
                .filter(|&&t| t != TIME_MISSING)
                .map_or(Val::Missing, |&t| Val::Time(Timestamp::from_micros(t))),
            Some(Column::Dict(d)) => d.get(self.row).and_then(|v| v.as_str()).map_or(Val::Missing, Val::Str),
            None => Val::Missing,
        }
    }
    fn traits(&self) -> &JsonMap {
        &self.traits
    }
    fn consent(&self, c: Channel) -> ConsentStatus {
        if self.src.consent(c, ConsentIs::Subscribed).get(self.row) {
            ConsentStatus::Subscribed
        } else if self.src.consent(c, ConsentIs::Unsubscribed).get(self.row) {
            ConsentStatus::Unsubscribed
        } else {
            ConsentStatus::NeverSubscribed
        }
    }
    fn in_segment(&self, s: SegIdx) -> bool {
        self.src.is_member(s, self.row)
    }
    fn occurrences(&self, p: PredId) -> Occ<'_> {
        self.src.occurrences(p).map_or(Occ::default(), |c| c.slot(self.row).occ())
    }
}

/// The next instant time alone may change `n` for one row (`eval::next_change` on the row's columns).
pub fn next_change_row(
    n: &Node,
    src: &dyn ColumnSource,
    keys: &[ColumnKey],
    row: usize,
    now: Timestamp,
) -> Option<Timestamp> {
    eval::next_change(n, &RowSubject::new(src, keys, row), now)
}

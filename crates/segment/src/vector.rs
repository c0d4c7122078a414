//! Column-wise evaluation of a compiled definition over a range of rows (`columns.rs`): each condition becomes
//! a bit per row, built 64 rows to a word and combined word by word ([`eval_rows`]); the rows' next
//! time-driven changes are found the same way ([`next_changes`]). Both equal the scalar `eval::eval` and
//! `eval::next_change` row by row (`vector_tests.rs`; the engine's proptest checks them against the
//! per-contact evaluation); the caller splits the rows across threads.

use std::ops::Range;

use kairos_domain::{ConsentStatus, JsonMap, Timestamp};

use crate::SegmentError;
use crate::ast::{Channel, CompareOp, Literal};
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

/// Evaluates `n` at `now` for the live rows of `rows` (`rows.start` a multiple of 64). Fails only when a
/// profile column the definition reads is not held.
pub fn eval_rows(n: &Node, src: &dyn ColumnSource, rows: Range<usize>, now: Timestamp) -> Result<Bits, SegmentError> {
    let alive = Bits::of_column(src.alive(), rows);
    let mut value = node(n, src, &alive, now)?;
    value.and(&alive);
    Ok(value)
}

fn node(n: &Node, src: &dyn ColumnSource, alive: &Bits, now: Timestamp) -> Result<Bits, SegmentError> {
    let rows = alive.rows();
    Ok(match n {
        Node::And(xs) => {
            let mut value = alive.clone();
            for x in xs {
                value.and(&node(x, src, alive, now)?);
            }
            value
        }
        Node::Or(xs) => {
            let mut value = Bits::zeros(rows);
            for x in xs {
                value.or(&node(x, src, alive, now)?);
            }
            value
        }
        Node::Not(x) => {
            let mut value = alive.clone();
            value.and_not(&node(x, src, alive, now)?);
            value
        }
        Node::Consent { channel, status } => Bits::of_column(src.consent(*channel, *status), rows),
        Node::InSegment(s) => {
            let mut value = Bits::zeros(rows);
            src.members_into(*s, &mut value);
            value
        }
        Node::Did { pred, .. } | Node::Count { pred, .. } => events(n, *pred, src, alive, now),
        Node::Compare { field, .. }
        | Node::Exists { field }
        | Node::In { field, .. }
        | Node::Relative { field, .. } => profile(n, field, src, alive, now)?,
    })
}

/// `did` / `count` over the condition's occurrence slots.
fn events(n: &Node, pred: PredId, src: &dyn ColumnSource, alive: &Bits, now: Timestamp) -> Bits {
    let mut value = Bits::zeros(alive.rows());
    let slots = src.occurrences(pred).map_or(&[][..], |c| c.slots());
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
    value
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
) -> Result<Bits, SegmentError> {
    let mut value = Bits::zeros(alive.rows());
    let Some(key) = ColumnKey::of(field) else {
        // `event.*` has no value outside a flow: the same for every row.
        let empty = JsonMap::new();
        let holds = eval::eval(n, &Single { val: Val::Missing, traits: &empty }, now);
        return Ok(if holds { alive.clone() } else { value });
    };
    match held(src, &key)? {
        Column::Num(xs) => numbers(n, xs, &mut value, now),
        Column::Time(xs) => times(n, xs, &mut value, now),
        Column::Dict(d) => {
            let lut = dictionary(d, field, |s| eval::eval(n, s, now));
            let codes = d.codes();
            value.fill(|row| lut[codes.get(row).copied().unwrap_or(ABSENT) as usize]);
        }
    }
    Ok(value)
}

fn held<'a>(src: &'a dyn ColumnSource, key: &ColumnKey) -> Result<&'a Column, SegmentError> {
    src.column(key).ok_or_else(|| SegmentError::plain(format!("segment column {key:?} is not held")))
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

fn times(n: &Node, xs: &[i64], out: &mut Bits, now: Timestamp) {
    let at = |row: usize| xs.get(row).copied().unwrap_or(TIME_MISSING);
    match n {
        Node::Relative { rel, .. } => {
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

/// `f` of each distinct value of a dictionary column (by code), seen as the contact's value of `field`.
fn dictionary<T>(d: &DictColumn, field: &Field, f: impl Fn(&Single<'_>) -> T) -> Vec<T> {
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
                    f(&Single { val: Val::Missing, traits: &traits })
                }
                _ => {
                    let val = if absent { Val::Missing } else { v.as_str().map_or(Val::Missing, Val::Str) };
                    f(&Single { val, traits: &empty })
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

/// The next instant time alone may change `n`, for each live row of `rows` that has one (ascending rows):
/// `eval::next_change` computed column-wise. A part that time cannot change prunes its `and` / `or` on the
/// rows where it pins the value, as there.
pub fn next_changes(
    n: &Node,
    src: &dyn ColumnSource,
    rows: Range<usize>,
    now: Timestamp,
) -> Result<Vec<(usize, Timestamp)>, SegmentError> {
    let alive = Bits::of_column(src.alive(), rows);
    let found = next_in(n, src, &alive, &alive, now)?;
    Ok(found.into_iter().map(|(row, t)| (row, Timestamp::from_micros(t))).collect())
}

/// `next_changes` over the rows of `reach`.
fn next_in(
    n: &Node,
    src: &dyn ColumnSource,
    alive: &Bits,
    reach: &Bits,
    now: Timestamp,
) -> Result<Vec<(usize, i64)>, SegmentError> {
    if !eval::depends_on_time(n) || reach.count() == 0 {
        return Ok(Vec::new());
    }
    let at = |t: Option<Timestamp>| t.map(Timestamp::as_micros);
    Ok(match n {
        Node::And(xs) | Node::Or(xs) => {
            let mut reach = reach.clone();
            for x in xs.iter().filter(|x| !eval::depends_on_time(x)) {
                let v = node(x, src, alive, now)?;
                if matches!(n, Node::And(_)) { reach.and(&v) } else { reach.and_not(&v) }
            }
            let mut out = Vec::new();
            for x in xs.iter().filter(|x| eval::depends_on_time(x)) {
                out = earliest(out, next_in(x, src, alive, &reach, now)?);
            }
            out
        }
        Node::Not(x) => next_in(x, src, alive, reach, now)?,
        Node::Did { pred, window } | Node::Count { pred, window, .. } => {
            let slots = src.occurrences(*pred).map_or(&[][..], |c| c.slots());
            reach
                .ones()
                .filter_map(|row| {
                    let occ = slots.get(row)?.occ();
                    at(eval::occurrences_next_change(occ, *window, now)).map(|t| (row, t))
                })
                .collect()
        }
        Node::Relative { field, rel } => match ColumnKey::of(field) {
            None => {
                let empty = JsonMap::new();
                let t = at(eval::next_change(n, &Single { val: Val::Missing, traits: &empty }, now));
                t.map_or(Vec::new(), |t| reach.ones().map(|row| (row, t)).collect())
            }
            Some(key) => match held(src, &key)? {
                Column::Time(xs) => reach
                    .ones()
                    .filter_map(|row| {
                        let t = xs.get(row).copied().filter(|&t| t != TIME_MISSING)?;
                        at(eval::relative_next_change(t, *rel, now)).map(|c| (row, c))
                    })
                    .collect(),
                Column::Dict(d) => {
                    let lut = dictionary(d, field, |s| at(eval::next_change(n, s, now)));
                    let codes = d.codes();
                    reach
                        .ones()
                        .filter_map(|row| lut[codes.get(row).copied().unwrap_or(ABSENT) as usize].map(|t| (row, t)))
                        .collect()
                }
                // Only instants compare with "ago": a number field here would not have compiled.
                Column::Num(_) => Vec::new(),
            },
        },
        _ => Vec::new(),
    })
}

/// Two ascending (row, instant) lists as one, the earlier instant where a row is in both.
fn earliest(a: Vec<(usize, i64)>, b: Vec<(usize, i64)>) -> Vec<(usize, i64)> {
    if a.is_empty() {
        return b;
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        match (a.peek().copied(), b.peek().copied()) {
            (Some(x), Some(y)) if x.0 == y.0 => {
                out.push((x.0, x.1.min(y.1)));
                a.next();
                b.next();
            }
            (Some(x), Some(y)) if x.0 < y.0 => out.extend(a.next()),
            (Some(_), Some(_)) | (None, Some(_)) => out.extend(b.next()),
            (Some(_), None) => out.extend(a.next()),
            (None, None) => return out,
        }
    }
}

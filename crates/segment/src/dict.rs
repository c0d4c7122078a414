//! A dictionary-encoded segment column (`columns.rs`): a `u32` code per row, each distinct value once.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};

use serde_json::Value;

use crate::columns::ABSENT;

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

    /// Stores a text value (a known field's), found without building a JSON value when held already.
    pub fn set_str(&mut self, row: usize, s: Option<&str>) {
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
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(c);
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

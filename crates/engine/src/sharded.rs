//! Hash maps that grow a piece at a time.
//!
//! A hash table doubles when full and moves every entry at once: at a million message ids or identity keys
//! that is tens of milliseconds of the committer, during which every request of the group and of the groups
//! queued behind it waits (measured on the anchor ingest, 2026-12-06: the slowest groups of a run spent
//! 75 % of their time in `reserve_rehash` of the de-duplication window and the identity cache). Split by bits
//! of the key's hash into [`SHARDS`] tables, each growth moves 1/[`SHARDS`] of the entries; look-ups hash the
//! key once, as before.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

/// Tables a map is split into.
pub(crate) const SHARDS: usize = 64;
/// Which bits of the hash choose the table: above the bits a table uses for its bucket (its low bits, up to
/// 2^40 buckets) and below its 7-bit tag (the top bits), so each table still sees well-spread hashes.
const SHARD_SHIFT: u32 = 40;

pub(crate) struct ShardedMap<K, V, S> {
    shards: Box<[HashTable<(K, V)>]>,
    build: S,
}

impl<K, V, S: Default> Default for ShardedMap<K, V, S> {
    fn default() -> Self {
        ShardedMap { shards: (0..SHARDS).map(|_| HashTable::new()).collect(), build: S::default() }
    }
}

impl<K: Hash + Eq, V, S: BuildHasher> ShardedMap<K, V, S> {
    /// Room for about `n` entries in all.
    pub(crate) fn with_capacity_and_hasher(n: usize, build: S) -> Self {
        let each = n.div_ceil(SHARDS);
        ShardedMap { shards: (0..SHARDS).map(|_| HashTable::with_capacity(each)).collect(), build }
    }

    fn locate<Q: Hash + ?Sized>(&self, key: &Q) -> (usize, u64) {
        let hash = self.build.hash_one(key);
        ((hash >> SHARD_SHIFT) as usize % SHARDS, hash)
    }

    /// The key's place in its table (a growth re-hashes that table's keys only).
    fn entry(&mut self, key: &K) -> Entry<'_, (K, V)> {
        let (shard, hash) = self.locate(key);
        let build = &self.build;
        self.shards[shard].entry(hash, |(k, _)| k == key, |(k, _)| build.hash_one(k))
    }

    pub(crate) fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (shard, hash) = self.locate(key);
        self.shards[shard].find(hash, |(k, _)| k.borrow() == key).map(|(_, v)| v)
    }

    pub(crate) fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (shard, hash) = self.locate(key);
        self.shards[shard].find_mut(hash, |(k, _)| k.borrow() == key).map(|(_, v)| v)
    }

    pub(crate) fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(key).is_some()
    }

    /// Inserts or replaces; the value replaced, if any.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.entry(&key) {
            Entry::Occupied(mut o) => Some(std::mem::replace(&mut o.get_mut().1, value)),
            Entry::Vacant(v) => {
                v.insert((key, value));
                None
            }
        }
    }

    pub(crate) fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (shard, hash) = self.locate(key);
        let found = self.shards[shard].find_entry(hash, |(k, _)| k.borrow() == key).ok()?;
        Some(found.remove().0.1)
    }

    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        for shard in self.shards.iter_mut() {
            shard.retain(|(k, v)| keep(k, v));
        }
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.shards.iter().flat_map(|s| s.iter().map(|(_, v)| v))
    }

    /// Takes every entry out, keeping the room.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = (K, V)> + '_ {
        self.shards.iter_mut().flat_map(HashTable::drain)
    }

    /// Takes up to `n` entries out (any of them).
    pub(crate) fn take(&mut self, n: usize) -> Vec<(K, V)> {
        let mut out = Vec::with_capacity(n.min(self.len()));
        for shard in self.shards.iter_mut() {
            let mut left = n - out.len();
            if left == 0 {
                break;
            }
            out.extend(shard.extract_if(|_| {
                let take = left > 0;
                left = left.saturating_sub(1);
                take
            }));
        }
        out
    }

    /// Empties the map, keeping its room.
    pub(crate) fn clear(&mut self) {
        self.shards.iter_mut().for_each(HashTable::clear);
    }

    /// Counted over the tables (64 reads: callers ask once a commit, not per entry).
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(HashTable::len).sum()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.shards.iter().all(HashTable::is_empty)
    }
}

/// A set on [`ShardedMap`].
pub(crate) struct ShardedSet<T, S>(ShardedMap<T, (), S>);

impl<T, S: Default> Default for ShardedSet<T, S> {
    fn default() -> Self {
        ShardedSet(ShardedMap::default())
    }
}

impl<T: Hash + Eq, S: BuildHasher> ShardedSet<T, S> {
    pub(crate) fn with_capacity_and_hasher(n: usize, build: S) -> Self {
        ShardedSet(ShardedMap::with_capacity_and_hasher(n, build))
    }

    /// False when an equal value was there already (it is kept, as `HashSet::insert` does).
    pub(crate) fn insert(&mut self, value: T) -> bool {
        match self.0.entry(&value) {
            Entry::Occupied(_) => false,
            Entry::Vacant(v) => {
                v.insert((value, ()));
                true
            }
        }
    }

    pub(crate) fn contains<Q>(&self, value: &Q) -> bool
    where
        T: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.contains_key(value)
    }

    pub(crate) fn remove<Q>(&mut self, value: &Q) -> bool
    where
        T: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.remove(value).is_some()
    }

    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        self.0.retain(|k, _| keep(k));
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};
    use std::hash::RandomState;

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16, u8),
        Remove(u16),
        Retain(u8),
        Bump(u16),
        Take(u8),
        Drain,
        Clear,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (any::<u16>(), any::<u8>()).prop_map(|(k, v)| Op::Insert(k, v)),
            3 => any::<u16>().prop_map(Op::Remove),
            1 => any::<u8>().prop_map(Op::Retain),
            2 => any::<u16>().prop_map(Op::Bump),
            1 => any::<u8>().prop_map(Op::Take),
            1 => Just(Op::Drain),
            1 => Just(Op::Clear),
        ]
    }

    proptest! {
        /// The map and the set answer as std's `HashMap` and `HashSet` do after the same operations.
        #[test]
        fn behaves_as_std(ops in proptest::collection::vec(op(), 1..2_000)) {
            let mut map: ShardedMap<Box<str>, u8, RandomState> = ShardedMap::default();
            let mut set: ShardedSet<u16, RandomState> = ShardedSet::default();
            let (mut map_oracle, mut set_oracle) = (HashMap::new(), HashSet::new());
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        let key: Box<str> = k.to_string().into();
                        prop_assert_eq!(map.insert(key.clone(), v), map_oracle.insert(key, v));
                        prop_assert_eq!(set.insert(k), set_oracle.insert(k));
                    }
                    Op::Remove(k) => {
                        let key = k.to_string();
                        prop_assert_eq!(map.remove(key.as_str()), map_oracle.remove(key.as_str()));
                        prop_assert_eq!(set.remove(&k), set_oracle.remove(&k));
                    }
                    Op::Retain(m) => {
                        map.retain(|_, v| v % 3 != m % 3);
                        map_oracle.retain(|_, v| *v % 3 != m % 3);
                        set.retain(|k| k % 5 != u16::from(m % 5));
                        set_oracle.retain(|k| k % 5 != u16::from(m % 5));
                    }
                    Op::Bump(k) => {
                        let key = k.to_string();
                        if let Some(v) = map.get_mut(key.as_str()) {
                            *v = v.wrapping_add(1);
                        }
                        if let Some(v) = map_oracle.get_mut(key.as_str()) {
                            *v = v.wrapping_add(1);
                        }
                    }
                    Op::Take(n) => {
                        let taken = map.take(usize::from(n));
                        prop_assert_eq!(taken.len(), usize::from(n).min(map_oracle.len()));
                        for (k, v) in taken {
                            prop_assert_eq!(map_oracle.remove(&k), Some(v));
                        }
                    }
                    Op::Drain => {
                        let mut drained: Vec<_> = map.drain().collect();
                        let mut expected: Vec<_> = map_oracle.drain().collect();
                        drained.sort();
                        expected.sort();
                        prop_assert_eq!(drained, expected);
                        prop_assert!(map.is_empty());
                    }
                    Op::Clear => {
                        map.clear();
                        map_oracle.clear();
                        set.clear();
                        set_oracle.clear();
                    }
                }
                prop_assert_eq!(map.len(), map_oracle.len());
                prop_assert_eq!(set.len(), set_oracle.len());
                let mut values: Vec<u8> = map.values().copied().collect();
                let mut expected: Vec<u8> = map_oracle.values().copied().collect();
                values.sort();
                expected.sort();
                prop_assert_eq!(values, expected);
            }
            for (k, v) in &map_oracle {
                prop_assert_eq!(map.get(k.as_ref()), Some(v));
            }
            for k in &set_oracle {
                prop_assert!(set.contains(k));
            }
        }
    }

    /// No table holds more than a few times its share: the shard bits are not the bits a table places by.
    #[test]
    fn entries_spread_over_the_tables() {
        let mut set: ShardedSet<u64, RandomState> = ShardedSet::default();
        for i in 0..64_000u64 {
            set.insert(i);
        }
        let most = set.0.shards.iter().map(HashTable::len).max().unwrap();
        let least = set.0.shards.iter().map(HashTable::len).min().unwrap();
        assert!(most < 2 * 1_000 && least > 1_000 / 2, "shards hold {least} to {most}");
    }
}

//! Values by contact id: in a vector indexed by id while the ids are dense ([`IdSlots`]), in maps placed by a
//! multiplicative hash of the id otherwise ([`IdMap`]).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use kairos_domain::ContactId;

/// Places contact ids by a multiplicative hash (Fibonacci hashing): ids are the store's sequence, never
/// chosen from outside, so no keyed hash is needed, and SipHash was most of a look-up's cost when columns
/// are filled from millions of packed profiles.
#[derive(Default, Clone, Copy)]
pub struct IdHash(u64);

impl Hasher for IdHash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_i64` (a `ContactId`) is used; anything else is still hashed, if slowly.
        for b in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(*b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_i64(&mut self, v: i64) {
        self.write_u64(v as u64);
    }
}

pub(crate) type IdMap<V> = HashMap<ContactId, V, BuildHasherDefault<IdHash>>;

/// Ids the dense part may run ahead of the values held.
const DENSE_IDS_SLACK: usize = 1 << 16;

/// A value that stands for "nothing here" in the dense part.
pub(crate) trait Vacant {
    const VACANT: Self;
    fn is_vacant(&self) -> bool;
}

impl<T> Vacant for Option<T> {
    const VACANT: Self = None;
    fn is_vacant(&self) -> bool {
        self.is_none()
    }
}

/// Contact id → value. The store hands ids out in sequence, so a vector indexed by id is dense: the value's
/// own size a contact, one memory access, iteration in id order (the order a store's load allocated the
/// values in), where a hash map costs more bytes and a cache miss per look-up. An id far beyond the others
/// (negative, or more than twice the ids held plus a slack: a node holding only some workspaces) goes to a
/// map instead of stretching the vector, and moves into the vector once the vector grows over it.
pub(crate) struct IdSlots<V> {
    dense: Vec<V>,
    sparse: IdMap<V>,
    held: usize,
}

impl<V> Default for IdSlots<V> {
    fn default() -> Self {
        IdSlots { dense: Vec::new(), sparse: IdMap::default(), held: 0 }
    }
}

impl<V: Vacant> IdSlots<V> {
    /// Room for ids below `n` in the vector.
    pub(crate) fn with_capacity(n: usize) -> Self {
        IdSlots { dense: Vec::with_capacity(n), ..IdSlots::default() }
    }

    fn dense_index(&self, id: ContactId) -> Option<usize> {
        usize::try_from(id.0).ok().filter(|i| *i < self.dense.len())
    }

    pub(crate) fn get(&self, id: ContactId) -> Option<&V> {
        match self.dense_index(id) {
            Some(i) => Some(&self.dense[i]).filter(|v| !v.is_vacant()),
            None => self.sparse.get(&id),
        }
    }

    pub(crate) fn contains(&self, id: ContactId) -> bool {
        self.get(id).is_some()
    }

    /// Sets the id's value; returns the one it replaces.
    pub(crate) fn insert(&mut self, id: ContactId, v: V) -> Option<V> {
        if self.dense_index(id).is_none()
            && let Ok(i) = usize::try_from(id.0)
            && i <= 2 * self.held + DENSE_IDS_SLACK
        {
            self.grow_over(i);
        }
        let old = match self.dense_index(id) {
            Some(i) => Some(std::mem::replace(&mut self.dense[i], v)).filter(|o| !o.is_vacant()),
            None => self.sparse.insert(id, v),
        };
        self.held += usize::from(old.is_none());
        old
    }

    pub(crate) fn remove(&mut self, id: ContactId) -> Option<V> {
        let old = match self.dense_index(id) {
            Some(i) => Some(std::mem::replace(&mut self.dense[i], V::VACANT)).filter(|o| !o.is_vacant()),
            None => self.sparse.remove(&id),
        };
        self.held -= usize::from(old.is_some());
        old
    }

    pub(crate) fn len(&self) -> usize {
        self.held
    }

    /// Every id and value: the vector's in id order, then the map's.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (ContactId, &V)> + '_ {
        let dense =
            self.dense.iter().enumerate().filter(|(_, v)| !v.is_vacant()).map(|(i, v)| (ContactId(i as i64), v));
        dense.chain(self.sparse.iter().map(|(id, v)| (*id, v)))
    }

    /// Bytes the slots take (not what values point to).
    pub(crate) fn memory_bytes(&self) -> usize {
        self.dense.capacity() * std::mem::size_of::<V>()
            + self.sparse.capacity() * (std::mem::size_of::<(ContactId, V)>() + 1)
    }

    /// Extends the vector over index `i`, a quarter more at a time (the vector is most of the memory), and moves
    /// the map's ids it now covers into it.
    fn grow_over(&mut self, i: usize) {
        let len = (i + 1).max(self.dense.len() + self.dense.len() / 4);
        if len > self.dense.capacity() {
            self.dense.reserve_exact(len - self.dense.len());
        }
        let from = self.dense.len();
        self.dense.resize_with(len, || V::VACANT);
        if self.sparse.is_empty() {
            return;
        }
        let covered: Vec<ContactId> = self
            .sparse
            .keys()
            .filter(|id| usize::try_from(id.0).is_ok_and(|j| (from..len).contains(&j)))
            .copied()
            .collect();
        for id in covered {
            if let Some(v) = self.sparse.remove(&id) {
                self.dense[id.0 as usize] = v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Against a plain map, through inserts and removals of ids near each other, far apart and negative.
        #[test]
        fn slots_behave_as_a_map(ops in prop::collection::vec(
            (any::<bool>(), prop_oneof![0i64..300, 100_000i64..100_400, -5i64..0, Just(i64::MAX)], any::<u16>()),
            1..400,
        )) {
            let mut slots: IdSlots<Option<u16>> = IdSlots::default();
            let mut oracle: HashMap<ContactId, u16> = HashMap::new();
            for (put, id, v) in ops {
                let id = ContactId(id);
                if put {
                    prop_assert_eq!(slots.insert(id, Some(v)).flatten(), oracle.insert(id, v));
                } else {
                    prop_assert_eq!(slots.remove(id).flatten(), oracle.remove(&id));
                }
                prop_assert_eq!(slots.len(), oracle.len());
            }
            for (id, v) in &oracle {
                prop_assert_eq!(slots.get(*id).copied().flatten(), Some(*v));
            }
            let mut listed: Vec<(ContactId, u16)> = slots.iter().map(|(id, v)| (id, v.unwrap())).collect();
            listed.sort();
            let mut expected: Vec<(ContactId, u16)> = oracle.into_iter().collect();
            expected.sort();
            prop_assert_eq!(listed, expected);
        }
    }

    #[test]
    fn an_id_kept_apart_moves_into_the_vector_when_it_reaches_it() {
        let mut slots: IdSlots<Option<u8>> = IdSlots::default();
        let far = ContactId(DENSE_IDS_SLACK as i64 + 10);
        slots.insert(far, Some(1));
        assert_eq!(slots.dense.len(), 0, "beyond the slack: in the map");
        for i in 0..=20 {
            slots.insert(ContactId(i), Some(2));
        }
        slots.insert(ContactId(DENSE_IDS_SLACK as i64 + 20), Some(3));
        assert!(slots.dense.len() > far.0 as usize);
        assert_eq!(slots.get(far), Some(&Some(1)), "found where it was moved");
        assert_eq!(slots.len(), 23);
    }
}

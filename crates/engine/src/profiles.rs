//! The committer's live profiles: those in use decoded, the rest packed (`kairos_domain::pack`).
//!
//! Issue 17: a decoded profile takes 1.3 KB and more in memory (the struct, a map node for two traits, a
//! vector per list), so a million contacts held that way took most of a node's memory and of its restart.
//! Most contacts are quiet at any moment, so only those used lately stay decoded, in two generations: a
//! contact used is decoded into `hot` (from `warm` or the packed form); `warm` is packed a share after each
//! commit, and once `hot` reached half of [`PROFILES_DECODED_MAX`], `hot` becomes `warm`. A profile changed in
//! a transaction is in `hot` until its commit writes it (a turn happens only after the commit), so the
//! store always receives the decoded profile that was changed.
//!
//! Reads through `&self` (segment evaluation, sends, the threads of a full evaluation) decode a packed
//! profile into a copy of their own (`Cow::Owned`) without moving it.

use std::borrow::Cow;
use std::hash::BuildHasherDefault;

use kairos_domain::pack::{pack, packed_workspace, unpack, unpack_lite};
use kairos_domain::{Contact, ContactId, WorkspaceId};
use kairos_store::packed::LoadedContact;

use crate::id_slots::{IdHash, IdSlots};
use crate::sharded::ShardedMap;

/// Profiles held decoded at most, both generations together (the rest are packed: a fraction of the memory
/// each). A memory budget, not a share of the store: ~1.35 KB each, so at most ~350 MB whatever the store's
/// size. Above a real store's busy shoppers over minutes: the anchor workload's 100 000 shoppers stay decoded
/// throughout (at 65 536 they were unpacked and packed again, 12 % of the committer; README, 2026-12-06).
/// Debug builds (the test suite) hold 8, so generations turn every few commits and every test reads and
/// changes packed profiles.
pub const PROFILES_DECODED_MAX: usize = if cfg!(debug_assertions) { 8 } else { 262_144 };

/// Boxed: a profile is ~630 bytes, so a table holding them inline moved every one at each growth (the first
/// 100 000 shoppers of the anchor workload: 10 % of the committer in `reserve_rehash` and the zeroing of its
/// new tables, 2026-12-07) and at each move between generations; a box moves 8 bytes, and a generation's
/// table sized at its bound up front costs ~4 MB.
type Decoded = ShardedMap<ContactId, Box<Contact>, BuildHasherDefault<IdHash>>;

/// A generation's table with room for its bound (half the decoded profiles), so it never grows.
fn generation(decoded_max: usize) -> Decoded {
    Decoded::with_capacity_and_hasher(decoded_max / 2 + 1, BuildHasherDefault::default())
}

/// Every live contact's profile.
pub struct ProfileMap {
    /// In shards, so a generation grows without a pause (`crate::sharded`).
    hot: Decoded,
    warm: Decoded,
    /// By id in a vector while ids are dense: filling a column reads them in id order, the order a store's
    /// load allocated them in, with no hash look-up (a cache miss each, half of a fill's time in a map).
    packed: IdSlots<Option<Box<[u8]>>>,
    decoded_max: usize,
    /// Where profiles are packed before being copied out at their size.
    scratch: Vec<u8>,
    /// `hot`'s size at the last [`ProfileMap::turn`].
    hot_seen: usize,
}

/// Keeps `profiles` (taken out of a decoded generation) in `packed` only.
fn pack_away(
    packed_slots: &mut IdSlots<Option<Box<[u8]>>>,
    scratch: &mut Vec<u8>,
    profiles: impl IntoIterator<Item = (ContactId, Box<Contact>)>,
) {
    for (id, c) in profiles {
        packed_slots.insert(id, Some(packed(&c, scratch)));
    }
}

/// Profiles of the older generation packed per commit at least while it lasts (fewer under a small bound: the
/// tests' generations of a few profiles are packed a share at a time too).
const PACKED_PER_COMMIT_MIN: usize = 64;

impl Default for ProfileMap {
    fn default() -> Self {
        ProfileMap::with_capacity(0)
    }
}

/// Only this process packs, from a valid profile: bytes that do not read back are memory corruption, not bad
/// input.
fn corrupt(id: ContactId, e: kairos_domain::pack::UnpackError) -> ! {
    panic!("profile of contact {id}: {e}")
}

fn decode(id: ContactId, bytes: &[u8]) -> Contact {
    unpack(bytes).unwrap_or_else(|e| corrupt(id, e))
}

/// `c` packed into `scratch` (reused between calls), then copied out at its exact size.
fn packed(c: &Contact, scratch: &mut Vec<u8>) -> Box<[u8]> {
    scratch.clear();
    pack(c, scratch);
    scratch.as_slice().into()
}

impl ProfileMap {
    /// Room for `n` packed profiles, so a large store's load does not grow the map step by step.
    pub fn with_capacity(n: usize) -> Self {
        ProfileMap {
            hot: generation(PROFILES_DECODED_MAX),
            warm: generation(PROFILES_DECODED_MAX),
            packed: IdSlots::with_capacity(n),
            decoded_max: PROFILES_DECODED_MAX,
            scratch: Vec::new(),
            hot_seen: 0,
        }
    }

    /// The same with another bound on decoded profiles (tests turn generations with a few contacts).
    pub fn with_decoded_max(mut self, n: usize) -> Self {
        self.decoded_max = n.max(2);
        self.hot = generation(self.decoded_max);
        self.warm = generation(self.decoded_max);
        self
    }

    pub fn len(&self) -> usize {
        self.hot.len() + self.warm.len() + self.packed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains_key(&self, id: &ContactId) -> bool {
        self.hot.contains_key(id) || self.warm.contains_key(id) || self.packed.contains(*id)
    }

    fn packed_of(&self, id: ContactId) -> Option<&[u8]> {
        self.packed.get(id).and_then(Option::as_deref)
    }

    fn packed_all(&self) -> impl Iterator<Item = (ContactId, &[u8])> + '_ {
        self.packed.iter().filter_map(|(id, b)| b.as_deref().map(|b| (id, b)))
    }

    /// The profile, decoded into a copy when it is packed.
    pub fn get(&self, id: &ContactId) -> Option<Cow<'_, Contact>> {
        if let Some(c) = self.in_use(id) {
            return Some(Cow::Borrowed(c));
        }
        self.packed_of(*id).map(|b| Cow::Owned(decode(*id, b)))
    }

    /// What segment columns read of the profile: a packed one decoded lite (`unpack_lite`: the scalar fields,
    /// the traits named, the profile's texts if `texts`), a decoded one as it is.
    pub fn get_lite(&self, id: &ContactId, traits: &[String], texts: bool) -> Option<Cow<'_, Contact>> {
        if let Some(c) = self.in_use(id) {
            return Some(Cow::Borrowed(c));
        }
        self.packed_of(*id).map(|b| Cow::Owned(unpack_lite(b, traits, texts).unwrap_or_else(|e| corrupt(*id, e))))
    }

    /// The profile when it is held decoded (no copy, nothing to decode).
    pub fn in_use(&self, id: &ContactId) -> Option<&Contact> {
        self.hot.get(id).or_else(|| self.warm.get(id)).map(|c| &**c)
    }

    /// The contact's workspace, without decoding a packed profile.
    pub fn workspace_of(&self, id: &ContactId) -> Option<WorkspaceId> {
        if let Some(c) = self.in_use(id) {
            return Some(c.workspace);
        }
        self.packed_of(*id).map(|b| packed_workspace(b).unwrap_or_else(|e| corrupt(*id, e)))
    }

    /// The profile to change: it is decoded (if it was packed) and stays so until a turn after the commit.
    pub fn get_mut(&mut self, id: &ContactId) -> Option<&mut Contact> {
        if !self.hot.contains_key(id) {
            let c = match self.warm.remove(id) {
                Some(c) => c,
                None => Box::new(decode(*id, &self.packed.remove(*id)??)),
            };
            self.hot.insert(*id, c);
        }
        self.hot.get_mut(id).map(|c| &mut **c)
    }

    /// Adds (or replaces) a profile in use.
    pub fn insert(&mut self, c: Contact) {
        let id = c.id;
        self.warm.remove(&id);
        self.packed.remove(id);
        self.hot.insert(id, Box::new(c));
    }

    /// Adds a profile not in use now (a store's load): packed at once.
    pub fn insert_packed(&mut self, c: &Contact) {
        self.hot.remove(&c.id);
        self.warm.remove(&c.id);
        self.packed.insert(c.id, Some(packed(c, &mut self.scratch)));
    }

    /// Adds a profile a store's load read: as it came when packed (the store verified it belongs to the row's
    /// JSON and this build's format, `kairos_store::packed`), else packed now.
    pub fn insert_loaded(&mut self, c: LoadedContact) {
        match c {
            LoadedContact::Packed(id, bytes) => {
                self.hot.remove(&id);
                self.warm.remove(&id);
                self.packed.insert(id, Some(bytes));
            }
            LoadedContact::Decoded(c) => self.insert_packed(&c),
        }
    }

    pub fn remove(&mut self, id: &ContactId) -> Option<Contact> {
        self.hot
            .remove(id)
            .or_else(|| self.warm.remove(id))
            .map(|c| *c)
            .or_else(|| self.packed.remove(*id).flatten().map(|b| decode(*id, &b)))
    }

    /// Every contact with its workspace (no profile is decoded).
    fn each_id(&self) -> impl Iterator<Item = (WorkspaceId, ContactId)> + '_ {
        let decoded = self.hot.values().chain(self.warm.values()).map(|c| (c.workspace, c.id));
        let packed = self.packed_all().map(|(id, b)| (packed_workspace(b).unwrap_or_else(|e| corrupt(id, e)), id));
        decoded.chain(packed)
    }

    /// Every contact with its workspace (no profile is decoded).
    pub fn ids(&self) -> Vec<(WorkspaceId, ContactId)> {
        self.each_id().collect()
    }

    /// The contacts of one workspace (no profile is decoded).
    pub fn ids_in(&self, ws: WorkspaceId) -> Vec<ContactId> {
        self.each_id().filter(|(w, _)| *w == ws).map(|(_, id)| id).collect()
    }

    /// Calls `f` with every profile (packed ones decoded one at a time).
    pub fn for_each(&self, mut f: impl FnMut(&Contact)) {
        self.hot.values().chain(self.warm.values()).for_each(|c| f(c));
        for (id, b) in self.packed_all() {
            f(&decode(id, b));
        }
    }

    /// After a commit: the older generation is packed a share at a time, paced so it is empty when `hot`
    /// reaches half the decoded bound; then `hot` becomes the older one. Packing a whole generation at once
    /// (32 768 profiles) held the committer 50 - 100 ms every few seconds of the anchor ingest (2026-12-06),
    /// the largest of its pauses; paced, a commit packs a few hundred.
    pub fn turn(&mut self) {
        let half = self.decoded_max / 2;
        if self.hot.len() >= half {
            // What pacing left (a transaction that decoded many profiles at once).
            pack_away(&mut self.packed, &mut self.scratch, self.warm.drain());
            std::mem::swap(&mut self.hot, &mut self.warm);
        } else if !self.warm.is_empty() {
            // The older generation's share of the room `hot` took since the last commit.
            let grown = self.hot.len().saturating_sub(self.hot_seen);
            let room = half.saturating_sub(self.hot_seen).max(1);
            let n = (self.warm.len() * grown).div_ceil(room).max(PACKED_PER_COMMIT_MIN.min(half / 2).max(1));
            pack_away(&mut self.packed, &mut self.scratch, self.warm.take(n));
        }
        self.hot_seen = self.hot.len();
    }

    /// Profiles held decoded now (both generations).
    pub fn decoded(&self) -> usize {
        self.hot.len() + self.warm.len()
    }

    /// Bytes of the packed profiles' own forms (not counting the map or the allocator's rounding).
    pub fn packed_bytes(&self) -> usize {
        self.packed_all().map(|(_, b)| b.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use kairos_domain::Timestamp;
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(i64),
        InsertPacked(i64),
        Change(i64, u64),
        Remove(i64),
        Turn,
    }

    fn op() -> impl Strategy<Value = Op> {
        let id = 1..12i64;
        prop_oneof![
            1 => id.clone().prop_map(Op::Insert),
            1 => id.clone().prop_map(Op::InsertPacked),
            3 => (id.clone(), any::<u64>()).prop_map(|(i, n)| Op::Change(i, n)),
            1 => id.prop_map(Op::Remove),
            2 => Just(Op::Turn),
        ]
    }

    proptest! {
        /// The map against a plain map of decoded profiles: whatever is packed, turned or changed, every
        /// profile reads back as the oracle holds it, and the decoded ones stay within the bound.
        #[test]
        fn the_map_holds_what_a_plain_map_holds(ops in prop::collection::vec(op(), 1..80), max in 2usize..8) {
            let mut m = ProfileMap::default().with_decoded_max(max);
            let mut oracle: HashMap<ContactId, Contact> = HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(i) => {
                        m.insert(contact(i, i % 3));
                        oracle.insert(ContactId(i), contact(i, i % 3));
                    }
                    Op::InsertPacked(i) => {
                        m.insert_packed(&contact(i, i % 3));
                        oracle.insert(ContactId(i), contact(i, i % 3));
                    }
                    Op::Change(i, n) => {
                        let id = ContactId(i);
                        prop_assert_eq!(m.get_mut(&id).is_some(), oracle.contains_key(&id));
                        for c in m.get_mut(&id).into_iter().chain(oracle.get_mut(&id)) {
                            c.computed.orders.count = n;
                            c.traits.insert(format!("t{}", n % 4), serde_json::json!(n));
                        }
                    }
                    Op::Remove(i) => {
                        prop_assert_eq!(m.remove(&ContactId(i)), oracle.remove(&ContactId(i)));
                    }
                    Op::Turn => {
                        m.turn();
                        // After a turn the newer generation is below half the bound, the older one was.
                        prop_assert!(m.hot.len() < max / 2 || m.warm.is_empty());
                    }
                }
                prop_assert_eq!(m.len(), oracle.len());
                for i in 1..12 {
                    let id = ContactId(i);
                    prop_assert_eq!(m.get(&id).map(Cow::into_owned), oracle.get(&id).cloned());
                    prop_assert_eq!(m.workspace_of(&id), oracle.get(&id).map(|c| c.workspace));
                }
            }
            let mut ids = m.ids();
            ids.sort();
            let mut want: Vec<_> = oracle.values().map(|c| (c.workspace, c.id)).collect();
            want.sort();
            prop_assert_eq!(ids, want);
        }
    }

    fn contact(id: i64, ws: i64) -> Contact {
        let mut c = Contact::new(ContactId(id), WorkspaceId(ws), Timestamp::from_secs(1_900_000_000));
        c.traits.insert("n".into(), serde_json::json!(id));
        c
    }

    #[test]
    fn profiles_read_back_the_same_through_turns_and_changes() {
        let mut m = ProfileMap::default().with_decoded_max(4);
        for id in 1..=10 {
            if id % 2 == 0 { m.insert(contact(id, id % 3)) } else { m.insert_packed(&contact(id, id % 3)) }
        }
        for round in 0..6 {
            for id in (1..=10).filter(|id| id % (round + 2) == 0) {
                m.get_mut(&ContactId(id)).unwrap().traits.insert("round".into(), serde_json::json!(round));
            }
            m.turn();
            assert!(m.decoded() <= 4 + 5, "{} decoded", m.decoded());
        }
        assert_eq!(m.len(), 10);
        assert!(m.packed.len() >= 4, "cold profiles are packed");
        for id in 1..=10 {
            let c = m.get(&ContactId(id)).unwrap();
            assert_eq!(c.traits["n"], serde_json::json!(id));
            let last = (0..6).rev().find(|round| id % (round + 2) == 0);
            assert_eq!(c.traits.get("round"), last.map(|r| serde_json::json!(r)).as_ref());
            assert_eq!(m.workspace_of(&ContactId(id)), Some(WorkspaceId(id % 3)));
        }
        let mut ids = m.ids_in(WorkspaceId(1));
        ids.sort();
        assert_eq!(ids, vec![ContactId(1), ContactId(4), ContactId(7), ContactId(10)]);
        assert_eq!(m.remove(&ContactId(7)).map(|c| c.id), Some(ContactId(7)));
        assert!(!m.contains_key(&ContactId(7)));
        let mut seen = 0;
        m.for_each(|_| seen += 1);
        assert_eq!(seen, 9);
    }

    /// A commit packs the older generation's share of the room the newer one took, never all of it at once:
    /// the older one is empty just as the newer one is full, and turns.
    #[test]
    fn the_older_generation_is_packed_a_share_at_a_time() {
        let mut m = ProfileMap::default().with_decoded_max(2_048);
        (1..=1_024).for_each(|id| m.insert(contact(id, 1)));
        m.turn();
        assert_eq!((m.hot.len(), m.warm.len()), (0, 1_024), "a full generation turns");
        for commit in 1..=8 {
            let first = 1_024 + 128 * (commit - 1) + 1;
            (first..first + 128).for_each(|id| m.insert(contact(id, 1)));
            let warm_before = m.warm.len();
            m.turn();
            if commit < 8 {
                assert_eq!(warm_before - m.warm.len(), 128, "commit {commit}: its share");
            }
        }
        assert_eq!((m.hot.len(), m.warm.len()), (0, 1_024), "turned with nothing left to pack");
        assert_eq!(m.len(), 2_048);
        assert_eq!(m.packed.len(), 1_024);
    }
}

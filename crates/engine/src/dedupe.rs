//! The message-id de-duplication window, held in memory and rebuilt from the event log at start.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::sync::OnceLock;

use kairos_domain::{Duration, Timestamp, WorkspaceId};

/// 128-bit digests of (workspace, message id): no index on the events table is needed (a random-key
/// B-tree index would rewrite scattered pages on every commit), and collisions are negligible (~2^-64 at
/// billions of ids).
#[derive(Default)]
pub struct Dedupe {
    /// Digests are keyed hashes already, so the set places them by their own low bits (hashing them again
    /// was 4 % of a restart).
    seen: HashSet<u128, BuildHasherDefault<LowBits>>,
    order: VecDeque<(Timestamp, u128)>,
}

/// The digest's keys: random per process (ids are digested again when the window is read back at start), so
/// nobody outside can choose message ids whose digests crowd one corner of the set.
fn keys() -> &'static std::collections::hash_map::RandomState {
    static KEYS: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    KEYS.get_or_init(Default::default)
}

pub fn digest(ws: WorkspaceId, message_id: &str) -> u128 {
    let half = |salt: u64| {
        let mut h = keys().build_hasher();
        salt.hash(&mut h);
        ws.0.hash(&mut h);
        message_id.hash(&mut h);
        h.finish()
    };
    (u128::from(half(0x6b61_6972)) << 64) | u128::from(half(0x6f73_2121))
}

/// A hasher of one digest: its low 64 bits.
#[derive(Default)]
pub struct LowBits(u64);

impl Hasher for LowBits {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u128` is used; anything else is still hashed, if slowly.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

impl Dedupe {
    /// An empty window with room for `n` ids (the window read back at start, without growing step by step).
    pub fn with_capacity(n: usize) -> Dedupe {
        Dedupe { seen: HashSet::with_capacity_and_hasher(n, Default::default()), order: VecDeque::with_capacity(n) }
    }

    /// Records the id; false when it was already seen inside the window.
    pub fn insert(&mut self, key: u128, received_at: Timestamp) -> bool {
        if !self.seen.insert(key) {
            return false;
        }
        self.order.push_back((received_at, key));
        true
    }

    /// Forgets ids received before `now - window`.
    pub fn expire(&mut self, now: Timestamp, window: Duration) {
        let cutoff = now.saturating_sub(window);
        while let Some(&(t, k)) = self.order.front() {
            if t >= cutoff {
                break;
            }
            self.order.pop_front();
            self.seen.remove(&k);
        }
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_forgets_old_ids() {
        let mut d = Dedupe::default();
        let k = digest(WorkspaceId(1), "m1");
        assert_ne!(k, digest(WorkspaceId(2), "m1"));
        assert!(d.insert(k, Timestamp::from_secs(0)));
        assert!(!d.insert(k, Timestamp::from_secs(1)));
        d.expire(Timestamp::from_secs(100), Duration::from_secs(50));
        assert_eq!(d.len(), 0);
        assert!(d.insert(k, Timestamp::from_secs(100)));
    }
}

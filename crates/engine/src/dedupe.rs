//! The message-id de-duplication window, held in memory and rebuilt from the event log at start.

use std::hash::{BuildHasherDefault, Hash, Hasher};

use siphasher::sip128::Hasher128 as _;
use std::sync::OnceLock;

use kairos_domain::{Duration, Timestamp, WorkspaceId};

use crate::sharded::ShardedSet;

/// How often ids older than the window are swept out: an id is forgotten between one window and one window
/// plus this after it was received. A sweep reads the whole set (about 10 ms at 3 M ids), so it is not done at
/// every commit.
pub const DEDUPE_SWEEP_EVERY: Duration = Duration::from_secs(600);

/// One remembered id: 96 bits of the keyed digest of (workspace, message id) and the second it was received,
/// 16 bytes with no separate list in receive order (which cost another 32 bytes per id: at 3 M ids the whole
/// window was 175 MB, a third of a node's memory after a restart). Equality is on the digest only.
#[derive(Clone, Copy, Debug)]
pub struct Seen {
    hi: u64,
    lo: u32,
    /// Seconds since the epoch (u32 reaches 2106).
    at: u32,
}

impl PartialEq for Seen {
    fn eq(&self, other: &Seen) -> bool {
        self.hi == other.hi && self.lo == other.lo
    }
}
impl Eq for Seen {}

impl Hash for Seen {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hi);
    }
}

/// No index on the events table is needed (a random-key B-tree index would rewrite scattered pages on every
/// commit); 96 bits make a false duplicate negligible (one id in 2^96 / ids in the window: ~2^-74 per event at
/// 10 M ids in the window).
#[derive(Default)]
pub struct Dedupe {
    /// Digests are keyed hashes already, so the set places them by their own bits (hashing them again was 4 %
    /// of a restart).
    /// In shards, so the window grows without a pause (`crate::sharded`).
    seen: ShardedSet<Seen, BuildHasherDefault<HighBits>>,
    /// The next sweep is due at or after this.
    sweep_at: Timestamp,
}

/// The digest's keys: random per process (ids are digested again when the window is read back at start), so
/// nobody outside can choose message ids whose digests crowd one corner of the set.
fn keys() -> (u64, u64) {
    static KEYS: OnceLock<(u64, u64)> = OnceLock::new();
    *KEYS.get_or_init(rand::random)
}

/// A 128-bit SipHash-1-3 keyed with this process's keys: what the window and the identity cache
/// (`crate::identity`) hold instead of the strings they digest.
pub(crate) fn keyed_hasher() -> siphasher::sip128::SipHasher13 {
    let (k0, k1) = keys();
    siphasher::sip128::SipHasher13::new_with_keys(k0, k1)
}

/// The id as the window holds it, received at `received_at`.
///
/// One pass of 128-bit SipHash-1-3, keyed per process (it was two passes of std's 64-bit one, each salted).
pub fn digest(ws: WorkspaceId, message_id: &str, received_at: Timestamp) -> Seen {
    let mut h = keyed_hasher();
    // The workspace is fixed-width, so (workspace, id) pairs cannot run into each other.
    h.write_i64(ws.0);
    h.write(message_id.as_bytes());
    let d = h.finish128().as_u128();
    Seen { hi: (d >> 64) as u64, lo: d as u32, at: secs_of(received_at) }
}

/// Whole seconds since the epoch, clamped to what a [`Seen`] holds.
fn secs_of(t: Timestamp) -> u32 {
    u32::try_from(t.as_micros().div_euclid(1_000_000).max(0)).unwrap_or(u32::MAX)
}

/// A hasher of one digest: its high 64 bits, as they are.
#[derive(Default)]
pub struct HighBits(u64);

impl Hasher for HighBits {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; anything else is still hashed, if slowly.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

impl Dedupe {
    /// An empty window with room for `n` ids (the window read back at start, without growing step by step).
    pub fn with_capacity(n: usize) -> Dedupe {
        Dedupe { seen: ShardedSet::with_capacity_and_hasher(n, Default::default()), sweep_at: Timestamp::default() }
    }

    /// Records the id; false when it was already seen inside the window (the first receipt's time is kept).
    pub fn insert(&mut self, id: Seen) -> bool {
        self.seen.insert(id)
    }

    /// Forgets ids received before `now - window`, at most every [`DEDUPE_SWEEP_EVERY`].
    pub fn expire(&mut self, now: Timestamp, window: Duration) {
        if now < self.sweep_at {
            return;
        }
        self.sweep_at = now.saturating_add(DEDUPE_SWEEP_EVERY);
        let cutoff = secs_of(now.saturating_sub(window));
        self.seen.retain(|s| s.at >= cutoff);
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
        const SWEEP: i64 = 600;
        assert_eq!(DEDUPE_SWEEP_EVERY, Duration::from_secs(SWEEP));
        let mut d = Dedupe::default();
        let at = |s| Timestamp::from_secs(s);
        let k = |s| digest(WorkspaceId(1), "m1", at(s));
        assert_ne!(k(0), digest(WorkspaceId(2), "m1", at(0)));
        assert_ne!(k(0), digest(WorkspaceId(1), "m2", at(0)));
        assert!(d.insert(k(0)));
        assert!(!d.insert(k(1)), "the same id later is a duplicate");
        d.expire(at(10), Duration::from_secs(50));
        assert_eq!(d.len(), 1, "inside the window");
        // The next sweep is not due yet: the id stays until it is, even past the window.
        d.expire(at(100), Duration::from_secs(50));
        assert_eq!(d.len(), 1);
        d.expire(at(10 + SWEEP), Duration::from_secs(50));
        assert_eq!(d.len(), 0);
        assert!(d.insert(k(700)));
        assert!(d.insert(digest(WorkspaceId(1), "m3", at(700))));
        d.expire(at(700 + SWEEP), Duration::from_secs(SWEEP));
        assert_eq!(d.len(), 2, "received at the cutoff's second: kept");
        d.expire(at(701 + 2 * SWEEP), Duration::from_secs(SWEEP));
        assert_eq!(d.len(), 0);
    }
}

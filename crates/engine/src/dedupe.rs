//! The message-id de-duplication window, held in memory and rebuilt from the event log at start.

use std::collections::{HashSet, VecDeque};
use std::hash::{Hash, Hasher};

use kairos_domain::{Duration, Timestamp, WorkspaceId};

/// 128-bit digests of (workspace, message id): no index on the events table is needed (a random-key
/// B-tree index would rewrite scattered pages on every commit), and collisions are negligible (~2^-64 at
/// billions of ids).
#[derive(Default)]
pub struct Dedupe {
    seen: HashSet<u128>,
    order: VecDeque<(Timestamp, u128)>,
}

pub fn digest(ws: WorkspaceId, message_id: &str) -> u128 {
    let half = |salt: u64| {
        // DefaultHasher::new() uses fixed keys: stable within a process, which is all the window needs.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        salt.hash(&mut h);
        ws.0.hash(&mut h);
        message_id.hash(&mut h);
        h.finish()
    };
    (u128::from(half(0x6b61_6972)) << 64) | u128::from(half(0x6f73_2121))
}

impl Dedupe {
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

//! Answers a node keeps for a few seconds because the public asks for them on every page view (a workspace's
//! on-site forms, a catalog category's products): per node, in memory, bounded; a value read on another node may
//! be that many seconds old.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Values by key, each answered for `ttl` after it was kept; past `max` keys the cache starts again empty.
pub struct TtlCache<K, V> {
    ttl: Duration,
    max: usize,
    kept: Mutex<Option<HashMap<K, (Instant, V)>>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub const fn new(ttl: Duration, max: usize) -> Self {
        TtlCache { ttl, max, kept: Mutex::new(None) }
    }

    /// The value kept for `key`, unless older than the ttl.
    pub fn fresh(&self, key: &K) -> Option<V> {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let (at, v) = kept.as_ref()?.get(key)?;
        (at.elapsed() < self.ttl).then(|| v.clone())
    }

    pub fn keep(&self, key: K, value: V) {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let map = kept.get_or_insert_with(HashMap::new);
        if map.len() >= self.max {
            map.clear();
        }
        map.insert(key, (Instant::now(), value));
    }

    /// Drops the value of `key` (it changed on this node).
    pub fn forget(&self, key: &K) {
        if let Some(map) = self.kept.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_answered_until_they_age_or_are_forgotten() {
        let c: TtlCache<u32, &str> = TtlCache::new(Duration::from_millis(50), 2);
        assert_eq!(c.fresh(&1), None);
        c.keep(1, "a");
        assert_eq!(c.fresh(&1), Some("a"));
        c.forget(&1);
        assert_eq!(c.fresh(&1), None);
        c.keep(1, "a");
        c.keep(2, "b");
        c.keep(3, "c");
        assert_eq!((c.fresh(&1), c.fresh(&3)), (None, Some("c")), "bounded: full, it starts again");
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(c.fresh(&3), None, "aged out");
    }
}

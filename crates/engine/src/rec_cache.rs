//! Each workspace's recommendation statistics (trending, co-purchases, co-views), computed by `recommend` at most
//! once an hour and shared by the committer and the read side.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kairos_domain::{Duration, Timestamp, WorkspaceId};

/// How long computed statistics stay fresh.
pub(crate) const REFRESH: Duration = Duration::from_secs(3_600);
/// How long computed reorder intervals (`crate::reorder`) stay fresh.
pub(crate) const REORDER_REFRESH: Duration = Duration::from_secs(86_400);

#[derive(Default)]
pub(crate) struct WsStats {
    pub(crate) trending: Vec<String>,
    pub(crate) also_bought: HashMap<String, Vec<String>>,
    pub(crate) also_viewed: HashMap<String, Vec<String>>,
}

/// Each workspace's statistics with when they were computed. Shared by the committer (sends) and the read
/// side (previews): both compute from committed history and either may refresh them.
#[derive(Default)]
pub(crate) struct RecCache {
    per_ws: Mutex<HashMap<WorkspaceId, (Timestamp, Arc<WsStats>)>>,
    /// A longer freshness than [`REFRESH`] (µs), when set ([`RecCache::refresh_every`]).
    refresh_us: std::sync::atomic::AtomicI64,
    /// Typical reorder interval per product (`crate::reorder`), with when it was computed.
    reorder: Mutex<HashMap<WorkspaceId, (Timestamp, Reorder)>>,
    collections: Collections,
}

/// Typical reorder interval per product id.
pub(crate) type Reorder = Arc<HashMap<String, Duration>>;

/// Product ids of a catalog category (`collections` in templates), by (workspace, lower-case category).
pub(crate) type Collections = Mutex<HashMap<(WorkspaceId, String), (Timestamp, Arc<Vec<String>>)>>;
/// How long a category's product ids are kept: a product added to the catalog shows in emails within this.
pub(crate) const COLLECTION_REFRESH: Duration = Duration::from_secs(300);
/// Most (workspace, category) listings kept; all are dropped when full (they are cheap to read again).
const COLLECTIONS_KEPT_MAX: usize = 10_000;

impl RecCache {
    pub(crate) fn fresh(&self, ws: WorkspaceId, now: Timestamp) -> Option<Arc<WsStats>> {
        let cache = self.per_ws.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let custom = self.refresh_us.load(std::sync::atomic::Ordering::Relaxed);
        let refresh = if custom > 0 { Duration(custom) } else { REFRESH };
        cache.get(&ws).filter(|(at, _)| now.saturating_sub(refresh) < *at).map(|(_, s)| s.clone())
    }

    /// Keeps statistics fresh for `d` instead of [`REFRESH`].
    pub(crate) fn refresh_every(&self, d: Duration) {
        self.refresh_us.store(d.as_micros(), std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn put(&self, ws: WorkspaceId, now: Timestamp, stats: Arc<WsStats>) {
        self.per_ws.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(ws, (now, stats));
    }

    pub(crate) fn reorder(&self, ws: WorkspaceId, now: Timestamp) -> Option<Reorder> {
        let cache = self.reorder.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.get(&ws).filter(|(at, _)| now.saturating_sub(REORDER_REFRESH) < *at).map(|(_, r)| r.clone())
    }

    pub(crate) fn collection(&self, key: &(WorkspaceId, String), now: Timestamp) -> Option<Arc<Vec<String>>> {
        let cache = self.collections.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.get(key).filter(|(at, _)| now.saturating_sub(COLLECTION_REFRESH) < *at).map(|(_, ids)| ids.clone())
    }

    pub(crate) fn put_collection(&self, key: (WorkspaceId, String), now: Timestamp, ids: Arc<Vec<String>>) {
        let mut cache = self.collections.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.len() >= COLLECTIONS_KEPT_MAX {
            cache.clear();
        }
        cache.insert(key, (now, ids));
    }

    pub(crate) fn put_reorder(&self, ws: WorkspaceId, now: Timestamp, intervals: Reorder) {
        self.reorder.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(ws, (now, intervals));
    }
}

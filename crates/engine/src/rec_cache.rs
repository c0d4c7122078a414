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
}

/// Typical reorder interval per product id.
pub(crate) type Reorder = Arc<HashMap<String, Duration>>;

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

    pub(crate) fn put_reorder(&self, ws: WorkspaceId, now: Timestamp, intervals: Reorder) {
        self.reorder.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(ws, (now, intervals));
    }
}

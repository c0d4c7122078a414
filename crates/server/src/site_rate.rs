//! Per-address rate limits of the public site endpoints (form submissions, quiz steps): each (item, address) may
//! post a set number of times in any minute. In memory and per node, like the login throttle: a spammer spread
//! over several nodes gets a few more tries, never an unbounded number.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Tracked (item, address) pairs past which idle ones are forgotten.
const TRACKED_PAIRS_MAX: usize = 100_000;
const MINUTE: Duration = Duration::from_secs(60);

/// When each (item, address) posted in the last minute.
type Recent = HashMap<(String, IpAddr), Vec<Instant>>;

/// A limit of posts per (item, address) in any minute.
pub struct PerMinute {
    limit: usize,
    recent: Mutex<Option<Recent>>,
}

impl PerMinute {
    pub const fn new(limit: usize) -> PerMinute {
        PerMinute { limit, recent: Mutex::new(None) }
    }

    /// Whether `ip` may post to `item` now (and counts it).
    pub fn allow(&self, item: &str, ip: IpAddr, now: Instant) -> bool {
        let mut all = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        let all = all.get_or_insert_with(HashMap::new);
        if all.len() > TRACKED_PAIRS_MAX {
            all.retain(|_, v| v.iter().any(|t| now.duration_since(*t) < MINUTE));
        }
        let seen = all.entry((item.to_string(), ip)).or_default();
        seen.retain(|t| now.duration_since(*t) < MINUTE);
        if seen.len() >= self.limit {
            return false;
        }
        seen.push(now);
        true
    }
}

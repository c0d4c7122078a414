//! Login throttling: failed logins are counted per (account, client address), per client address and per
//! account; past a few free failures each further one must wait a growing delay (answered 429 with
//! `Retry-After`, without checking the password).
//!
//! Why three counters: per (account, address) stops one client guessing one password; per address stops one
//! client spraying many accounts; per account stops a botnet rotating addresses on one account. The per-account
//! delay is capped low (30 s) because anyone can fail logins for any account: a real user is slowed down while
//! an attack runs, never locked out. Attempts refused by the throttle are not counted, so an attacker cannot make
//! a delay longer than its cap; a success clears its (account, address) counter.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per (account, address) before delays start.
const FREE_FAILURES_ACCOUNT_ADDR: u32 = 5;
/// Failures allowed per client address (any account) before delays start.
const FREE_FAILURES_ADDR: u32 = 20;
/// Failures allowed per account (any address) before delays start.
const FREE_FAILURES_ACCOUNT: u32 = 10;
/// Longest delay per (account, address).
const DELAY_MAX_ACCOUNT_ADDR: Duration = Duration::from_secs(15 * 60);
/// Longest delay per address.
const DELAY_MAX_ADDR: Duration = Duration::from_secs(60 * 60);
/// Longest delay per account: short, so an attacker can only slow a real user down.
const DELAY_MAX_ACCOUNT: Duration = Duration::from_secs(30);
/// A counter with no failure for this long starts again from zero.
const FAILURE_MEMORY: Duration = Duration::from_secs(60 * 60);
/// Most counters kept; past it, the stalest are dropped first (memory stays bounded under address spraying).
const ENTRIES_MAX: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    AccountAddr(String, IpAddr),
    Addr(IpAddr),
    Account(String),
}

impl Key {
    fn rule(&self) -> (u32, Duration) {
        match self {
            Key::AccountAddr(..) => (FREE_FAILURES_ACCOUNT_ADDR, DELAY_MAX_ACCOUNT_ADDR),
            Key::Addr(_) => (FREE_FAILURES_ADDR, DELAY_MAX_ADDR),
            Key::Account(_) => (FREE_FAILURES_ACCOUNT, DELAY_MAX_ACCOUNT),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    blocked_until: Instant,
}

#[derive(Default)]
pub struct LoginThrottle {
    entries: Mutex<HashMap<Key, Entry>>,
}

fn keys(account: &str, addr: IpAddr) -> [Key; 3] {
    let account = account.trim().to_lowercase();
    [Key::AccountAddr(account.clone(), addr), Key::Addr(addr), Key::Account(account)]
}

/// The delay after the `failures`-th failure: none while free, then 1 s, 2 s, 4 s... up to `max`.
fn delay(failures: u32, free: u32, max: Duration) -> Duration {
    match failures.checked_sub(free) {
        None | Some(0) => Duration::ZERO,
        Some(n) => Duration::from_secs(1u64 << (n - 1).min(20)).min(max),
    }
}

impl LoginThrottle {
    /// How long this attempt must wait, if at all (None: go ahead and check the password).
    pub fn wait(&self, account: &str, addr: IpAddr, now: Instant) -> Option<Duration> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        keys(account, addr)
            .iter()
            .filter_map(|k| entries.get(k))
            .map(|e| e.blocked_until.saturating_duration_since(now))
            .filter(|d| !d.is_zero())
            .max()
    }

    pub fn failed(&self, account: &str, addr: IpAddr, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= ENTRIES_MAX {
            entries.retain(|_, e| now.saturating_duration_since(e.last_failure) < FAILURE_MEMORY);
            if entries.len() >= ENTRIES_MAX {
                let mut ages: Vec<Instant> = entries.values().map(|e| e.last_failure).collect();
                ages.sort_unstable();
                let cut = ages[ages.len() / 2];
                entries.retain(|_, e| e.last_failure > cut);
            }
        }
        for key in keys(account, addr) {
            let (free, max) = key.rule();
            let e = entries.entry(key).or_insert(Entry { failures: 0, last_failure: now, blocked_until: now });
            if now.saturating_duration_since(e.last_failure) >= FAILURE_MEMORY {
                e.failures = 0;
            }
            e.failures = e.failures.saturating_add(1);
            e.last_failure = now;
            e.blocked_until = now + delay(e.failures, free, max);
        }
    }

    pub fn succeeded(&self, account: &str, addr: IpAddr) {
        let [pair, ..] = keys(account, addr);
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).remove(&pair);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn delays_grow_after_free_failures_and_are_capped() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..FREE_FAILURES_ACCOUNT_ADDR {
            assert_eq!(t.wait("ann@shop.example", A, now), None);
            t.failed("ann@shop.example", A, now);
        }
        assert_eq!(t.wait("ann@shop.example", A, now), None, "the free failures cost nothing");
        t.failed("Ann@Shop.example", A, now);
        assert_eq!(t.wait("ann@shop.example", A, now), Some(Duration::from_secs(1)));
        t.failed("ann@shop.example", A, now);
        assert_eq!(t.wait("ann@shop.example", A, now), Some(Duration::from_secs(2)));
        assert_eq!(delay(60, 5, DELAY_MAX_ACCOUNT_ADDR), DELAY_MAX_ACCOUNT_ADDR);
        assert_eq!(delay(u32::MAX, 5, DELAY_MAX_ACCOUNT), DELAY_MAX_ACCOUNT);
    }

    #[test]
    fn another_address_is_only_slowed_by_the_account_counter() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..9 {
            t.failed("ann@shop.example", A, now);
        }
        assert!(t.wait("ann@shop.example", A, now).is_some());
        assert_eq!(t.wait("ann@shop.example", B, now), None);
        for _ in 0..50 {
            t.failed("ann@shop.example", A, now);
        }
        let wait_b = t.wait("ann@shop.example", B, now).unwrap();
        assert!(wait_b <= DELAY_MAX_ACCOUNT, "a real user elsewhere waits at most {DELAY_MAX_ACCOUNT:?}");
        assert_eq!(t.wait("ann@shop.example", B, now + DELAY_MAX_ACCOUNT), None);
    }

    #[test]
    fn spraying_accounts_from_one_address_is_throttled() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for i in 0..FREE_FAILURES_ADDR + 1 {
            t.failed(&format!("user{i}@shop.example"), A, now);
        }
        assert!(t.wait("someone-else@shop.example", A, now).is_some());
        assert_eq!(t.wait("someone-else@shop.example", B, now), None);
    }

    #[test]
    fn success_clears_and_memory_fades() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..7 {
            t.failed("ann@shop.example", A, now);
        }
        t.succeeded("ann@shop.example", A);
        assert_eq!(t.wait("ann@shop.example", A, now), None);
        let later = now + FAILURE_MEMORY;
        t.failed("bob@shop.example", B, later);
        assert_eq!(t.wait("bob@shop.example", B, later), None);
    }
}

//! Per-recipient-domain limits: a concurrency cap (semaphore) and an optional token-bucket rate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Above this many tracked domains, idle ones are forgotten (their state is recreated on the next send).
const TRACKED_DOMAINS_MAX: usize = 10_000;

pub(crate) struct DomainLimits {
    concurrency: usize,
    per_second: Option<f64>,
    domains: Mutex<HashMap<String, Arc<Domain>>>,
}

struct Domain {
    sends: Arc<Semaphore>,
    bucket: Option<Mutex<Bucket>>,
}

/// Tokens may go negative: each caller reserves its slot and sleeps until it is due, so waiters are served in
/// arrival order without re-polling.
struct Bucket {
    tokens: f64,
    capacity: f64,
    per_second: f64,
    refilled_at: Instant,
}

impl Bucket {
    /// Takes one token; answers how long the caller must wait before using it.
    fn reserve(&mut self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.refilled_at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.refilled_at = now;
        self.tokens -= 1.0;
        if self.tokens >= 0.0 { Duration::ZERO } else { Duration::from_secs_f64(-self.tokens / self.per_second) }
    }
}

/// Held for the duration of one send to the domain.
pub(crate) struct DomainPermit {
    _permit: OwnedSemaphorePermit,
}

impl DomainLimits {
    pub(crate) fn new(concurrency: usize, per_second: Option<f64>) -> Self {
        DomainLimits { concurrency: concurrency.max(1), per_second, domains: Mutex::new(HashMap::new()) }
    }

    /// Waits for a concurrency slot and then, if a rate is set, for the domain's next send slot.
    pub(crate) async fn acquire(&self, domain: &str) -> DomainPermit {
        let state = self.domain(domain);
        // The semaphore is never closed, so acquiring cannot fail.
        let permit = match Arc::clone(&state.sends).acquire_owned().await {
            Ok(permit) => permit,
            Err(_) => unreachable!("domain semaphores are never closed"),
        };
        if let Some(bucket) = &state.bucket {
            let wait = bucket.lock().unwrap_or_else(|e| e.into_inner()).reserve(Instant::now());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        DomainPermit { _permit: permit }
    }

    fn domain(&self, domain: &str) -> Arc<Domain> {
        let mut domains = self.domains.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(state) = domains.get(domain) {
            return Arc::clone(state);
        }
        if domains.len() >= TRACKED_DOMAINS_MAX {
            // Keep domains with a send in flight (someone else holds their Arc); the rest start afresh.
            domains.retain(|_, state| Arc::strong_count(state) > 1);
        }
        let bucket = self.per_second.filter(|r| r.is_finite() && *r > 0.0).map(|per_second| {
            let capacity = per_second.max(1.0);
            Mutex::new(Bucket { tokens: capacity, capacity, per_second, refilled_at: Instant::now() })
        });
        let state = Arc::new(Domain { sends: Arc::new(Semaphore::new(self.concurrency)), bucket });
        domains.insert(domain.to_owned(), Arc::clone(&state));
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_paces() {
        let start = Instant::now();
        let mut b = Bucket { tokens: 2.0, capacity: 2.0, per_second: 2.0, refilled_at: start };
        assert_eq!(b.reserve(start), Duration::ZERO);
        assert_eq!(b.reserve(start), Duration::ZERO);
        assert_eq!(b.reserve(start), Duration::from_millis(500));
        assert_eq!(b.reserve(start), Duration::from_millis(1000));
        // After 2 s the debt of 2 tokens is repaid and nothing more accumulates beyond capacity.
        let later = start + Duration::from_secs(10);
        assert_eq!(b.reserve(later), Duration::ZERO);
        assert!((b.tokens - 1.0).abs() < 1e-9);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_and_rate_per_domain() {
        let limits = Arc::new(DomainLimits::new(2, Some(1.0)));
        let a1 = limits.acquire("a.example").await;
        let start = tokio::time::Instant::now();
        let a2 = limits.acquire("a.example").await; // second token: waits ~1 s (capacity 1)
        assert!(start.elapsed() >= Duration::from_millis(990));
        // Two permits held: a third waits until one is dropped.
        let l = Arc::clone(&limits);
        let third = tokio::spawn(async move { l.acquire("a.example").await });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!third.is_finished());
        // Another domain is independent.
        let _b = limits.acquire("b.example").await;
        drop(a1);
        third.await.unwrap();
        drop(a2);
    }
}

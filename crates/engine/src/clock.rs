use std::sync::atomic::{AtomicI64, Ordering};

use kairos_domain::{Duration, Timestamp};

/// Source of "now" for every engine. Pure crates take `now` as an argument; only this reads the clock.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

pub struct SystemClock;

fn system_now() -> Timestamp {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp::from_micros(d.as_micros() as i64)
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        system_now()
    }
}

/// `serve --dev-clock`: real time plus an offset that tests move forward. Never moves backwards.
#[derive(Default)]
pub struct DevClock {
    offset_us: AtomicI64,
}

impl DevClock {
    pub fn advance(&self, d: Duration) -> Timestamp {
        self.offset_us.fetch_add(d.as_micros().max(0), Ordering::SeqCst);
        self.now()
    }

    /// Moves to `t` if it is later than now; returns the resulting time.
    pub fn set(&self, t: Timestamp) -> Timestamp {
        let real = system_now().as_micros();
        self.offset_us.fetch_max(t.as_micros() - real, Ordering::SeqCst);
        self.now()
    }
}

impl Clock for DevClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_micros(system_now().as_micros() + self.offset_us.load(Ordering::SeqCst))
    }
}

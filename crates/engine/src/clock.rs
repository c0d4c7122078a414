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

/// `serve --dev-clock`: real time plus an offset that tests move forward. Never moves backwards, also across
/// restarts: its offset from real time is kept in a file in the data directory.
#[derive(Default)]
pub struct DevClock {
    offset_us: AtomicI64,
    file: Option<std::path::PathBuf>,
}

impl DevClock {
    /// A dev clock remembering its time in `file` (created on first move), resumed from it if present.
    pub fn persistent(file: std::path::PathBuf) -> Self {
        let saved = std::fs::read_to_string(&file).ok().and_then(|s| s.trim().parse::<i64>().ok());
        DevClock { offset_us: AtomicI64::new(saved.unwrap_or(0).max(0)), file: Some(file) }
    }

    fn remember(&self) -> Timestamp {
        if let Some(f) = &self.file
            && let Err(e) = std::fs::write(f, self.offset_us.load(Ordering::SeqCst).to_string())
        {
            tracing::warn!(error = %e, "cannot save the dev clock");
        }
        self.now()
    }

    pub fn advance(&self, d: Duration) -> Timestamp {
        self.offset_us.fetch_add(d.as_micros().max(0), Ordering::SeqCst);
        self.remember()
    }

    /// Moves to `t` if it is later than now; returns the resulting time.
    pub fn set(&self, t: Timestamp) -> Timestamp {
        let real = system_now().as_micros();
        self.offset_us.fetch_max(t.as_micros() - real, Ordering::SeqCst);
        self.remember()
    }
}

impl Clock for DevClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_micros(system_now().as_micros() + self.offset_us.load(Ordering::SeqCst))
    }
}

/// A clock that only moves when told to (property tests and benchmarks).
pub struct ManualClock {
    now_us: AtomicI64,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        ManualClock { now_us: AtomicI64::new(start.as_micros()) }
    }
    pub fn advance(&self, d: Duration) -> Timestamp {
        Timestamp::from_micros(self.now_us.fetch_add(d.as_micros().max(0), Ordering::SeqCst) + d.as_micros().max(0))
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_micros(self.now_us.load(Ordering::SeqCst))
    }
}

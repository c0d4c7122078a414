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

    /// Moves time forward by `d`; refuses a negative move or one past [`DEV_CLOCK_LATEST_SECS`].
    pub fn advance(&self, d: Duration) -> Result<Timestamp, DevClockError> {
        if d.as_micros() < 0 {
            return Err(DevClockError::Backwards);
        }
        let target = self.now().as_micros().checked_add(d.as_micros()).ok_or(DevClockError::TooLate)?;
        self.set(Timestamp::from_micros(target))
    }

    /// Moves to `t`, which must not be earlier than now nor later than [`DEV_CLOCK_LATEST_SECS`].
    pub fn set(&self, t: Timestamp) -> Result<Timestamp, DevClockError> {
        if t.as_micros() > DEV_CLOCK_LATEST_SECS * 1_000_000 {
            return Err(DevClockError::TooLate);
        }
        let real = system_now().as_micros();
        let wanted = t.as_micros() - real;
        let before = self.offset_us.fetch_max(wanted, Ordering::SeqCst);
        // Real time runs on between reading `now` and here: a target a few microseconds behind is "now".
        if wanted < before - MOVE_TOLERANCE_US {
            return Err(DevClockError::Backwards);
        }
        Ok(self.remember())
    }
}

/// The latest instant the dev clock may reach: 9999-12-30, the last day every time zone can still write as a
/// date (past it, times would wrap to 1970 when formatted).
pub const DEV_CLOCK_LATEST_SECS: i64 = 253_402_128_000;
/// A `set` this far (µs) behind the current dev time is treated as "now" rather than as a move backwards.
const MOVE_TOLERANCE_US: i64 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DevClockError {
    #[error("the dev clock never moves backwards")]
    Backwards,
    #[error("the dev clock cannot move past 9999-12-30")]
    TooLate,
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
    /// Moves to `t` when it is later than now (never backwards); answers the time now.
    pub fn advance_to(&self, t: Timestamp) -> Timestamp {
        Timestamp::from_micros(self.now_us.fetch_max(t.as_micros(), Ordering::SeqCst).max(t.as_micros()))
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_micros(self.now_us.load(Ordering::SeqCst))
    }
}

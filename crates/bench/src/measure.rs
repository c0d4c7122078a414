//! What a benchmark reports besides throughput and latency: acknowledged events per 10-second window (so decay
//! as the store grows is visible), bytes on disk, and the process's peak resident memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Length of one throughput window.
pub const WINDOW: Duration = Duration::from_secs(10);

/// Events per second of each full window, sampled from a counter of acknowledged events.
pub struct Windows {
    counter: Arc<AtomicU64>,
    started: Instant,
    last: (Instant, u64),
    rates: Vec<f64>,
}

impl Windows {
    pub fn new(counter: Arc<AtomicU64>) -> Self {
        let now = Instant::now();
        Self { counter, started: now, last: (now, 0), rates: Vec::new() }
    }

    /// Closes the window if it is over; call often.
    pub fn tick(&mut self) {
        let now = Instant::now();
        if now.duration_since(self.last.0) >= WINDOW {
            let n = self.counter.load(Ordering::Relaxed);
            self.rates.push((n - self.last.1) as f64 / now.duration_since(self.last.0).as_secs_f64());
            self.last = (now, n);
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// "window events/s: 48 210, 47 900, …" and the last window over the first.
    pub fn report(&self) -> String {
        if self.rates.is_empty() {
            return "  per 10 s window: (the run was shorter than one window)".into();
        }
        let list: Vec<String> = self.rates.iter().map(|r| format!("{r:.0}")).collect();
        let first = self.rates[0];
        let last = *self.rates.last().unwrap_or(&first);
        format!(
            "  per 10 s window (events/s): {}\n  last window / first window: {:.2}",
            list.join(", "),
            if first > 0.0 { last / first } else { 0.0 }
        )
    }
}

/// Bytes of every file under `dir` (the SQLite database with its WAL), 0 when unreadable.
pub fn dir_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// This process's peak resident set (`VmHWM`), in bytes; None off Linux.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Latency percentile of sorted microsecond samples, in milliseconds.
pub fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

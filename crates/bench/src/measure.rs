//! What a benchmark reports besides throughput and latency: acknowledged events per 10-second window (so decay
//! as the store grows is visible) with the committer's CPU time per event in each (the engine's own cost of an
//! event, without the load generator and the waits; on a shared virtual machine it also swings with the host),
//! bytes on disk, and the process's peak resident memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Length of one throughput window.
pub const WINDOW: Duration = Duration::from_secs(10);

/// The engine's committer thread as the kernel names it (`kairos-committer`, cut to 15 bytes).
const COMMITTER_COMM: &str = "kairos-committe";

/// Events per second of each full window, sampled from a counter of acknowledged events, and the committers'
/// CPU time per acknowledged event in each.
pub struct Windows {
    counter: Arc<AtomicU64>,
    started: Instant,
    /// When the open window began, events acknowledged then, committer CPU nanoseconds then.
    last: (Instant, u64, Option<u64>),
    rates: Vec<f64>,
    /// Committer CPU microseconds per event of each window (None: not measurable here, or no event).
    costs: Vec<Option<f64>>,
}

impl Windows {
    pub fn new(counter: Arc<AtomicU64>) -> Self {
        let now = Instant::now();
        Self { counter, started: now, last: (now, 0, committer_cpu_ns()), rates: Vec::new(), costs: Vec::new() }
    }

    /// Closes the window if it is over; call often.
    pub fn tick(&mut self) {
        let now = Instant::now();
        if now.duration_since(self.last.0) >= WINDOW {
            let (n, cpu) = (self.counter.load(Ordering::Relaxed), committer_cpu_ns());
            let events = n - self.last.1;
            self.rates.push(events as f64 / now.duration_since(self.last.0).as_secs_f64());
            let cost = match (self.last.2, cpu) {
                (Some(a), Some(b)) if events > 0 => Some(b.saturating_sub(a) as f64 / 1000.0 / events as f64),
                _ => None,
            };
            self.costs.push(cost);
            self.last = (now, n, cpu);
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
        let mut out = format!(
            "  per 10 s window (events/s): {}\n  last window / first window: {:.2}",
            list.join(", "),
            if first > 0.0 { last / first } else { 0.0 }
        );
        if let (Some(Some(first)), Some(Some(last))) = (self.costs.first(), self.costs.last()) {
            let list: Vec<String> =
                self.costs.iter().map(|c| c.map_or_else(|| "-".into(), |c| format!("{c:.1}"))).collect();
            out.push_str(&format!(
                "\n  committer CPU per event, per window (µs): {}\n  last window / first window: {:.2}",
                list.join(", "),
                last / first
            ));
        }
        out
    }
}

/// CPU time the engine's committer threads of this process have run, in nanoseconds (Linux `schedstat`); None
/// elsewhere, or when the server runs in another process.
pub fn committer_cpu_ns() -> Option<u64> {
    let mut total = None;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() != COMMITTER_COMM {
            continue;
        }
        // A thread that ended since the listing is skipped, not the whole reading.
        let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        if let Some(ns) = stat.split_whitespace().next().and_then(|s| s.parse::<u64>().ok()) {
            total = Some(total.unwrap_or(0) + ns);
        }
    }
    total
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committers_cpu_is_read_from_its_thread_and_only_its_thread() {
        assert_eq!(committer_cpu_ns(), None, "no committer runs yet");
        // Each thread spins until it has run 100 ms (whatever the machine's load) and then waits, so the reading
        // below counts the committer's 100 ms, not the other thread's.
        let spun = std::sync::Arc::new(std::sync::Barrier::new(3));
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let threads: Vec<_> = ["kairos-committer", "kairos-other"]
            .into_iter()
            .map(|name| {
                let (spun, rx) = (spun.clone(), rx.clone());
                std::thread::Builder::new()
                    .name(name.into())
                    .spawn(move || {
                        spin_cpu(100_000_000);
                        spun.wait();
                        let _ = rx.lock().unwrap().recv();
                    })
                    .unwrap()
            })
            .collect();
        spun.wait();
        let ns = committer_cpu_ns().expect("the committer's thread is found");
        drop(tx);
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert!((100_000_000..180_000_000).contains(&ns), "100 ms of the committer's CPU read as {ns} ns");
    }

    /// Spins until this thread has run `ns` nanoseconds.
    fn spin_cpu(ns: u64) {
        let ran = || -> u64 {
            let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
            s.split_whitespace().next().unwrap().parse().unwrap()
        };
        while ran() < ns {
            for _ in 0..10_000 {
                std::hint::spin_loop();
            }
        }
    }

    #[test]
    fn the_report_gives_each_windows_cost_and_the_last_over_the_first() {
        let mut w = Windows::new(Arc::new(AtomicU64::new(0)));
        w.rates = vec![1000.0, 900.0, 1100.0];
        w.costs = vec![Some(12.0), None, Some(15.0)];
        let report = w.report();
        assert!(report.contains("(events/s): 1000, 900, 1100\n  last window / first window: 1.10"), "{report}");
        assert!(report.contains("(µs): 12.0, -, 15.0\n  last window / first window: 1.25"), "{report}");
        w.costs = vec![None, None, None];
        assert!(!w.report().contains("µs"), "no cost line without a committer");
    }
}

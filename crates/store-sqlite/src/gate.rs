//! The write gate between the committer and the WAL checkpointer of one database.
//!
//! A WAL restart (`wal_checkpoint(RESTART)`) needs a moment with no write transaction. SQLite's busy handler
//! only polls for one, and a committer that starts its next transaction as soon as the last one commits (long
//! transactions under load: the anchor workload's late cart events) never leaves it one: the restart timed out
//! every time and the WAL grew to 15 GB in a minute, slowing every commit as it grew. So the committer passes
//! this gate around each transaction, and the checkpointer closes it for the restart: the committer waits at its
//! next `begin` (for the few frames written since the last passive checkpoint to be copied), never in the middle
//! of a transaction.

use std::sync::{Condvar, Mutex};

#[derive(Debug, Default)]
struct State {
    /// Write transactions open (the committer's; another writer connection may wait in SQLite's lock).
    writing: usize,
    /// The checkpointer holds the gate (new transactions wait).
    closed: bool,
}

#[derive(Debug, Default)]
pub struct WriteGate {
    state: Mutex<State>,
    changed: Condvar,
}

impl WriteGate {
    /// Before a write transaction: waits while the checkpointer holds the gate, unless another writer is still
    /// inside (it may be this thread's own: blocking then would wait on ourselves; SQLite serialises the two).
    pub(crate) fn enter(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while s.closed && s.writing == 0 {
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        s.writing += 1;
    }

    /// After the transaction committed or rolled back.
    pub(crate) fn leave(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.writing = s.writing.saturating_sub(1);
        drop(s);
        self.changed.notify_all();
    }

    /// Runs `f` with no write transaction open and none starting.
    pub(crate) fn closed<T>(&self, f: impl FnOnce() -> T) -> T {
        {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            while s.closed {
                s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
            }
            s.closed = true;
            while s.writing > 0 {
                s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
            }
        }
        let out = f();
        self.state.lock().unwrap_or_else(|e| e.into_inner()).closed = false;
        self.changed.notify_all();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn the_checkpointer_gets_its_moment_between_back_to_back_transactions() {
        let gate = Arc::new(WriteGate::default());
        let inside = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (gate, inside, stop) = (gate.clone(), inside.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    gate.enter();
                    inside.store(true, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_micros(200));
                    inside.store(false, Ordering::SeqCst);
                    gate.leave();
                    n += 1;
                }
                n
            })
        };
        for _ in 0..20 {
            std::thread::sleep(std::time::Duration::from_millis(2));
            gate.closed(|| assert!(!inside.load(Ordering::SeqCst), "no transaction while the gate is closed"));
        }
        stop.store(true, Ordering::Relaxed);
        assert!(writer.join().unwrap() > 20, "the writer went on between checkpoints");
    }

    #[test]
    fn a_second_writer_inside_does_not_wait_on_the_first() {
        let gate = Arc::new(WriteGate::default());
        gate.enter();
        let closer = {
            let gate = gate.clone();
            std::thread::spawn(move || gate.closed(|| ()))
        };
        while !gate.state.lock().unwrap().closed {
            std::thread::yield_now();
        }
        // A second writer while the first is inside and the checkpointer waits: let in, not blocked.
        let (tx, rx) = std::sync::mpsc::channel();
        let second = {
            let gate = gate.clone();
            std::thread::spawn(move || {
                gate.enter();
                gate.leave();
                let _ = tx.send(());
            })
        };
        let let_in = rx.recv_timeout(std::time::Duration::from_secs(5)).is_ok();
        gate.leave();
        second.join().unwrap();
        closer.join().unwrap();
        assert!(let_in, "the second writer waited for the checkpointer, which waited for the first writer");
    }
}

//! Answers once a group is on disk, while the committer goes on with the next group.
//!
//! A store whose log can be flushed apart from `COMMIT` (SQLite's WAL, `kairos_store::Writer::durable_later`)
//! commits each group without waiting for the disk; what the group must not do before it is durable — answering
//! its requests (2xx only once stored), handing claimed messages to the transports (a message must not leave for
//! a run a power cut could undo), announcing segment changes, answering the dev clock's ticks — goes to the
//! syncing thread as an [`AfterSync`]. That thread flushes the log once for every group queued meanwhile and then
//! delivers them in order. With PostgreSQL (`COMMIT` durable by itself) everything is delivered at once, as before.
//!
//! Measured (README, 2026-12-06): the committer had spent ~10 – 15 % of its time blocked in the WAL's fsync.

use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;

use kairos_store::DurableSync;
use tokio::sync::{broadcast, mpsc};

use crate::SegmentChange;
use crate::command::{Pending, Reply};
use crate::dispatch::Outbound;

/// What a committed group does once it is durable.
#[derive(Default)]
pub(crate) struct AfterSync {
    pub(crate) replies: Vec<Pending>,
    pub(crate) ticks: Vec<Reply<()>>,
    pub(crate) changes: Vec<SegmentChange>,
    /// Messages claimed by the group, with the dispatcher's queue.
    pub(crate) outbound: Option<(mpsc::Sender<Outbound>, Vec<Outbound>)>,
}

impl AfterSync {
    fn deliver(self, publish: &broadcast::Sender<SegmentChange>) {
        // In the committer's order before: replies, the hand-off, ticks (a tick's answer means its sends are
        // handed off), then segment changes.
        self.replies.into_iter().for_each(Pending::send);
        if let Some((tx, out)) = self.outbound {
            for o in out {
                // This thread is not the committer: waiting for room in the dispatcher's queue holds no group.
                if tx.blocking_send(o).is_err() {
                    tracing::warn!("the dispatcher stopped; queued messages are sent at the next start");
                    break;
                }
            }
        }
        for t in self.ticks {
            let _ = t.send(Ok(()));
        }
        for ch in self.changes {
            // No subscriber is no error: flows subscribe when they exist.
            let _ = publish.send(ch);
        }
    }
}

pub(crate) enum Durability {
    /// `COMMIT` is durable by itself.
    AtCommit,
    /// The syncing thread flushes the log and then delivers.
    Later { tx: std_mpsc::Sender<AfterSync>, thread: JoinHandle<()> },
}

impl Durability {
    /// Starts the syncing thread if the store agreed to commit without waiting for the disk (`offer`, from
    /// `State::durable_later`).
    pub(crate) fn start(
        offer: kairos_store::Result<Option<Box<dyn DurableSync>>>,
        publish: broadcast::Sender<SegmentChange>,
    ) -> Durability {
        let sync = match offer {
            Ok(Some(sync)) => sync,
            Ok(None) => return Durability::AtCommit,
            Err(e) => {
                tracing::warn!(error = %e, "the store cannot commit ahead of its flush; each commit waits for the disk");
                return Durability::AtCommit;
            }
        };
        Durability::syncing_with(sync, publish)
    }

    /// The syncing thread over `sync`.
    fn syncing_with(sync: Box<dyn DurableSync>, publish: broadcast::Sender<SegmentChange>) -> Durability {
        let (tx, rx) = std_mpsc::channel::<AfterSync>();
        let spawned =
            std::thread::Builder::new().name("kairos-syncer".into()).spawn(move || syncing(&*sync, &rx, &publish));
        match spawned {
            Ok(thread) => Durability::Later { tx, thread },
            Err(e) => {
                // Commits no longer flush by themselves: without the thread nothing could be answered safely.
                tracing::error!(error = %e, "cannot start the syncing thread; stopping");
                std::process::abort();
            }
        }
    }

    pub(crate) fn is_later(&self) -> bool {
        matches!(self, Durability::Later { .. })
    }

    /// Delivers `after` once everything committed so far is durable.
    pub(crate) fn after_commit(&self, after: AfterSync, publish: &broadcast::Sender<SegmentChange>) {
        match self {
            Durability::AtCommit => after.deliver(publish),
            // The thread lives until `stop`; if it is gone, the replies are dropped (the requests see 503).
            Durability::Later { tx, .. } => drop(tx.send(after)),
        }
    }

    /// Delivers what is queued (after a last flush) and stops the syncing thread.
    pub(crate) fn stop(self) {
        if let Durability::Later { tx, thread } = self {
            drop(tx);
            if thread.join().is_err() {
                tracing::error!("the syncing thread panicked");
            }
        }
    }
}

fn syncing(sync: &dyn DurableSync, rx: &std_mpsc::Receiver<AfterSync>, publish: &broadcast::Sender<SegmentChange>) {
    while let Ok(first) = rx.recv() {
        // Every group queued while the last flush ran shares the next one.
        let batch: Vec<AfterSync> = std::iter::once(first).chain(rx.try_iter()).collect();
        if let Err(e) = sync.sync() {
            // After a failed flush the OS may have dropped the pages it could not write: what these groups
            // committed cannot be known to be on disk, and answering later groups would build on it. As
            // PostgreSQL does on a failed fsync, stop; a restart recovers from what the disk holds.
            tracing::error!(error = %e, "the database's log could not be flushed to disk; stopping");
            std::process::abort();
        }
        for after in batch {
            after.deliver(publish);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tokio::sync::oneshot;

    use super::*;

    /// A flush that waits to be let through, counting flushes.
    struct Held {
        go: Mutex<std_mpsc::Receiver<()>>,
        flushes: Arc<AtomicUsize>,
    }

    impl DurableSync for Held {
        fn sync(&self) -> kairos_store::Result<()> {
            self.go.lock().unwrap().recv().unwrap();
            self.flushes.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    fn reply() -> (Pending, oneshot::Receiver<Result<u32, crate::EngineError>>) {
        let (tx, rx) = oneshot::channel();
        (Pending::new(tx, Ok(7)), rx)
    }

    /// Nothing is answered before the flush that follows its commit; groups queued meanwhile share one flush.
    #[test]
    fn answers_wait_for_the_flush() {
        let (go, gate) = std_mpsc::channel();
        let flushes = Arc::new(AtomicUsize::new(0));
        let (publish, _) = broadcast::channel(4);
        let held = Held { go: Mutex::new(gate), flushes: flushes.clone() };
        let durability = Durability::syncing_with(Box::new(held), publish.clone());
        let (first, mut first_rx) = reply();
        durability.after_commit(AfterSync { replies: vec![first], ..AfterSync::default() }, &publish);
        std::thread::sleep(Duration::from_millis(50));
        let (second, mut second_rx) = reply();
        durability.after_commit(AfterSync { replies: vec![second], ..AfterSync::default() }, &publish);
        std::thread::sleep(Duration::from_millis(50));
        assert!(first_rx.try_recv().is_err() && second_rx.try_recv().is_err(), "answered before the flush");
        go.send(()).unwrap();
        for _ in 0..200 {
            if first_rx.try_recv().is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(flushes.load(Ordering::SeqCst), 1);
        // The second group queued while the first flush ran: it waits for a flush of its own.
        std::thread::sleep(Duration::from_millis(50));
        assert!(second_rx.try_recv().is_err(), "the second group's commit came after the first flush began");
        go.send(()).unwrap();
        durability.stop();
        assert_eq!(second_rx.try_recv().unwrap().unwrap(), 7);
        assert_eq!(flushes.load(Ordering::SeqCst), 2);
    }
}

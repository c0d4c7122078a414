//! Events the committer is done with, freed on another thread.
//!
//! An ingested event is a tree of small allocations (its properties and context as JSON values, made by the HTTP
//! workers); freeing it took ~8 % of the committer on the synthetic bench, the one thread every event waits for.
//! A group's applied events are handed, all at once after the group, to a thread that only drops them. The
//! channel is bounded: when that thread falls behind, the committer frees them itself, as before.
#![expect(clippy::vec_box, reason = "events arrive boxed (`Work`); unboxing would copy each and free its box here")]

use std::sync::OnceLock;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};

use kairos_domain::Event;

/// Groups of freed events queued for the dropping thread before the committer frees them itself.
const QUEUED_GROUPS_MAX: usize = 64;

fn dropper() -> Option<&'static SyncSender<Vec<Box<Event>>>> {
    static TX: OnceLock<Option<SyncSender<Vec<Box<Event>>>>> = OnceLock::new();
    TX.get_or_init(|| {
        let (tx, rx) = sync_channel::<Vec<Box<Event>>>(QUEUED_GROUPS_MAX);
        let spawned = std::thread::Builder::new().name("kairos-dropper".into()).spawn(move || {
            for spent in rx {
                drop(spent);
            }
        });
        spawned.ok().map(|_| tx)
    })
    .as_ref()
}

/// Frees `spent` on the dropping thread, or here when it cannot take them.
pub(crate) fn free_later(spent: Vec<Box<Event>>) {
    if spent.is_empty() {
        return;
    }
    match dropper() {
        Some(tx) => match tx.try_send(spent) {
            Ok(()) | Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {}
        },
        None => drop(spent),
    }
}

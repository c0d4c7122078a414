//! What the engine's integration tests share.

use std::sync::Arc;

use kairos_domain::event::EventKind;
use kairos_domain::{Event, MessageId, Timestamp, WorkspaceId};
use kairos_engine::{Engine, ManualClock};
use kairos_store::Store;
use kairos_store_sqlite::SqliteStore;

/// An engine on a fresh SQLite store with one workspace, its clock at `t0`: (the store's directory, the
/// workspace, the clock, the engine).
#[allow(dead_code)] // not every test binary starts its engine this way
pub fn engine_on_sqlite(t0: Timestamp) -> (tempfile::TempDir, WorkspaceId, Arc<ManualClock>, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let keys = store.create_workspace("t", Timestamp(0)).unwrap();
    let ws = store.workspaces().unwrap().into_iter().find(|w| w.1 == keys.id).unwrap().0;
    let clock = Arc::new(ManualClock::new(t0));
    let engine = Engine::start(Arc::new(store), clock.clone()).unwrap();
    (dir, ws, clock, engine)
}

/// A bare event: message id `m{n}`, of `kind`, by `user_id` and `anonymous_id`, at `at`, received at
/// `received_at`; the caller fills in the rest.
pub fn event(
    n: usize,
    kind: EventKind,
    (user_id, anonymous_id): (Option<String>, Option<String>),
    at: Timestamp,
    received_at: Timestamp,
) -> Event {
    Event {
        message_id: MessageId::generated(format!("m{n}")),
        kind,
        name: None,
        user_id,
        anonymous_id,
        previous_id: None,
        group_id: None,
        category: None,
        properties: Default::default(),
        traits: Default::default(),
        context: Default::default(),
        timestamp: at,
        received_at,
        system: false,
    }
}

//! The committer's queue of work (`crate::event_path` drains it).

use std::collections::VecDeque;

use kairos_domain::{ContactId, Event, WorkspaceId};

/// Emitted events in one chain of causes (an ingested event starts a chain at 0) that may still reach flows.
pub(crate) const EMITTED_CHAIN_MAX: u8 = 8;

/// A unit of work for the committer.
#[derive(Debug)]
pub(crate) enum Work {
    /// An event accepted by the API (already de-duplicated), with its stored JSON.
    Ingested { ws: WorkspaceId, trusted: bool, event: Box<Event>, data: String },
    /// An event Kairos emitted for a contact.
    System { ws: WorkspaceId, contact: ContactId, event: Box<Event>, reach: Reach, chain: u8 },
}

/// How far an emitted event travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Profiles, segments and flows, like any event.
    Everything,
    /// Stored and counted by segments, but no flow moves: opens and clicks from scanners and privacy proxies
    /// (a machine did not show interest).
    NoFlows,
}

/// The committer's queue of work and the chain of the item being applied.
#[derive(Debug, Default)]
pub(crate) struct WorkQueue {
    pub(crate) items: VecDeque<Work>,
    pub(crate) chain: u8,
    /// Events applied in the current group, freed after it (`crate::spent`).
    #[expect(clippy::vec_box, reason = "events arrive boxed (`Work`); unboxing would copy each")]
    pub(crate) spent: Vec<Box<kairos_domain::Event>>,
}

//! The one event path. Every event — ingested through the API or emitted by Kairos itself (opens, clicks,
//! bounces, unsubscribes, `Message Sent`, `Segment Entered`, ...) — reaches profiles, segments and flows the same
//! way: it is queued as [`Work`] and applied by [`State::drain`] inside the committer's current transaction, so
//! what an event causes commits (or fails) with it.
//!
//! Work is drained iteratively, never by recursion: an event that makes a contact enter a segment queues the
//! `Segment Entered` event, which may start a flow, whose step may change the profile, and so on. Each emitted
//! event records how many emitted events led to it; past [`EMITTED_CHAIN_MAX`] it is still stored and counted by
//! segments but starts and moves no flow, so two flows that feed each other cannot loop forever.

use kairos_domain::event::EventKind;
use kairos_domain::{ContactId, Event, Timestamp, WorkspaceId};

use crate::EngineError;
use crate::state::State;
use crate::work::{EMITTED_CHAIN_MAX, Reach, Work};

impl State {
    /// Queues an event Kairos emits for `contact`; it is applied before the current command's reply.
    pub(crate) fn emit(&mut self, ws: WorkspaceId, contact: ContactId, event: Event, reach: Reach) {
        let chain = self.work.chain.saturating_add(1);
        self.work.items.push_back(Work::System { ws, contact, event: Box::new(event), reach, chain });
    }

    /// Queues an ingested event and applies it with everything it causes.
    pub(crate) fn ingest_one(
        &mut self,
        ws: WorkspaceId,
        trusted: bool,
        event: Event,
        data: String,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        self.work.items.push_back(Work::Ingested { ws, trusted, event: Box::new(event), data });
        self.drain(now)
    }

    /// Applies queued work, oldest first, until none is left.
    pub(crate) fn drain(&mut self, now: Timestamp) -> Result<(), EngineError> {
        while let Some(item) = self.work.items.pop_front() {
            match item {
                Work::Ingested { ws, trusted, event, data } => {
                    self.work.chain = 0;
                    let contact = self.resolve_event(ws, &event, now)?;
                    self.store_event(ws, contact, &event, &data)?;
                    self.learn_products(ws, &event, now)?;
                    self.apply_event(ws, contact, &event, trusted, true, now)?;
                    self.work.spent.push(event);
                }
                Work::System { ws, contact, event, reach, chain } => {
                    self.work.chain = chain;
                    let contact = self.follow(contact);
                    if !self.identity.contacts.contains_key(&contact) {
                        continue; // erased since: nothing to record it on
                    }
                    let data = serde_json::to_string(&event).unwrap_or_else(|_| "{}".into());
                    self.store_event(ws, contact, &event, &data)?;
                    let flows = reach == Reach::Everything && chain <= EMITTED_CHAIN_MAX;
                    if reach == Reach::Everything && !flows {
                        tracing::warn!(event.name = ?event.name, chain, "emitted event too deep in a chain of causes: no flow moves");
                    }
                    self.apply_event(ws, contact, &event, true, flows, now)?;
                    self.work.spent.push(event);
                }
            }
        }
        self.work.chain = 0;
        Ok(())
    }

    /// What every stored event does: the profile and its aggregates, segments, coupons redeemed by orders,
    /// flows (unless `flows` is false), interest for recommendations and date triggers.
    fn apply_event(
        &mut self,
        ws: WorkspaceId,
        id: ContactId,
        ev: &Event,
        trusted: bool,
        flows: bool,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        self.update_profile(id, ev, trusted, now)?;
        self.score_event(ws, id, ev, now)?;
        self.segments.record(ws, id, ev, now);
        self.evaluate_contact(ws, id, now)?;
        self.redeem_from_order(ws, id, ev, now)?;
        if flows {
            self.flows_on_event(ws, id, ev, now)?;
        }
        self.note_interest(ws, id, ev);
        if ev.kind == EventKind::Identify {
            self.schedule_dates(ws, id, now);
        }
        Ok(())
    }
}

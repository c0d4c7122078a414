//! The committer's segment work: loading, evaluating contacts after events and timers, announcing
//! membership changes as `Segment Entered` / `Segment Exited` events, and segment definitions CRUD.

use kairos_domain::{ContactId, Event, JsonMap, SystemEvent, Timestamp, WorkspaceId};
use kairos_segment::Expr;
use kairos_segment::eval::SegIdx;
use kairos_store::StoredSegment;
use serde_json::json;

use crate::segment_preview::invalid;
use crate::segments::{Change, SegDef};
use crate::state::State;
use crate::work::Reach;
use crate::{EngineError, SegmentInfo};

/// Rounds of re-evaluation after announced changes (a `Segment Entered` event can itself move the contact
/// into another segment); bounded so definitions that flip each other cannot loop.
const ANNOUNCE_ROUNDS_MAX: usize = 4;
/// Progress is logged every this many events while a new condition is filled from history.
const BACKFILL_PROGRESS_EVERY: usize = 500_000;
/// Size history resolution.
const SIZE_BUCKET_MICROS: i64 = 3_600_000_000;

impl State {
    /// At start: compile saved definitions, rebuild event occurrences from history, load memberships, then
    /// re-evaluate everyone at `now` (time passed while the server was down) and announce the differences.
    pub(crate) fn load_segments(&mut self, now: Timestamp) -> Result<(), EngineError> {
        let stored = self.w.segment_tx().segments()?;
        // Install in an order where referenced segments come first; retry the rest until no progress.
        let mut pending: Vec<(StoredSegment, Expr)> = Vec::new();
        for s in stored {
            let v: serde_json::Value = serde_json::from_str(&s.definition)
                .map_err(|e| kairos_store::StoreError::Corrupt(format!("segment {}: {e}", s.public_id)))?;
            match kairos_segment::json::from_json(&v) {
                Ok(expr) => pending.push((s, expr)),
                Err(e) => {
                    tracing::error!(segment.id = %s.public_id, error = %e, "stored segment no longer compiles; skipped")
                }
            }
        }
        while !pending.is_empty() {
            let before = pending.len();
            let mut rest = Vec::new();
            for (s, expr) in pending {
                match self.segments.compile(s.workspace, &expr, None) {
                    Ok((node, refs)) => {
                        let idx = self.segments.install(
                            SegDef {
                                row: s.row,
                                public_id: s.public_id,
                                ws: s.workspace,
                                name: s.name,
                                expr,
                                node,
                                refs,
                                created_at: s.created_at,
                                updated_at: s.updated_at,
                            },
                            None,
                        );
                        let row = self.segments.def(idx).map_or(0, |d| d.row);
                        let mut members = Vec::new();
                        self.w.segment_tx().segment_members(row, &mut |c| members.push(c))?;
                        for c in members {
                            self.segments.load_member(idx, c);
                        }
                    }
                    Err(_) => rest.push((s, expr)),
                }
            }
            if rest.len() == before {
                for (s, _) in &rest {
                    tracing::error!(segment.id = %s.public_id, "segment refers to a missing segment; skipped");
                }
                break;
            }
            pending = rest;
        }
        self.backfill_pending()?;
        let started = std::time::Instant::now();
        // In id order, the order profiles were loaded in, so their packed forms are read in the order they lie
        // in memory (8 % faster than the map's order at 1 M contacts), now and whenever a column is filled (rows
        // are given in this order).
        let mut ids: Vec<(WorkspaceId, ContactId)> = self.identity.contacts.ids();
        ids.sort_unstable_by_key(|(_, id)| *id);
        self.segments.refresh_all(&ids, &self.identity.contacts);
        self.evaluate_all_at_start(&ids, now)?;
        tracing::info!(
            contacts = ids.len(),
            duration_ms = started.elapsed().as_millis() as u64,
            "segments and lead scores evaluated at start"
        );
        Ok(())
    }

    /// Fills newly registered predicates from the stored events.
    pub(crate) fn backfill_pending(&mut self) -> Result<(), EngineError> {
        for (ws, pred, event) in self.segments.take_pending_backfill() {
            let mut seen: Vec<(ContactId, Event)> = Vec::new();
            let started = std::time::Instant::now();
            self.w.event_tx().events_named(ws, &event, &mut |contact, data| {
                if let Ok(ev) = serde_json::from_str::<Event>(data) {
                    seen.push((contact, ev));
                    if seen.len().is_multiple_of(BACKFILL_PROGRESS_EVERY) {
                        tracing::info!(event.name = %event, events.read = seen.len(), "filling a segment condition from history");
                    }
                }
            })?;
            tracing::info!(event.name = %event, events.read = seen.len(), duration_ms = started.elapsed().as_millis() as u64,
                "segment condition filled from history");
            for (contact, ev) in seen {
                let contact = self.follow(contact);
                self.segments.record_past(pred, contact, &ev);
            }
        }
        Ok(())
    }

    /// Re-evaluates one contact's segments and announces what changed.
    pub(crate) fn evaluate_contact(
        &mut self,
        ws: WorkspaceId,
        id: ContactId,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        self.refresh_lead(ws, id, now)?;
        self.evaluate_segments(ws, id, now)
    }

    /// The contact's segments evaluated (its lead score as it is), each membership change announced.
    pub(crate) fn evaluate_segments(
        &mut self,
        ws: WorkspaceId,
        id: ContactId,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        if self.segments.workspace_segments(ws).is_empty() {
            return Ok(());
        }
        for _ in 0..ANNOUNCE_ROUNDS_MAX {
            let mut changes = Vec::new();
            match self.identity.contacts.get(&id) {
                Some(c) => self.segments.evaluate(ws, &c, now, &mut changes),
                None => return Ok(()),
            }
            if changes.is_empty() {
                return Ok(());
            }
            for ch in changes {
                self.announce(ws, ch, now)?;
            }
        }
        Ok(())
    }

    /// Persists a membership change and writes the matching event into the contact's timeline.
    fn announce(&mut self, ws: WorkspaceId, ch: Change, now: Timestamp) -> Result<(), EngineError> {
        let Some(def) = self.segments.def(ch.segment) else { return Ok(()) };
        let (row, public_id, name) = (def.row, def.public_id.clone(), def.name.clone());
        self.w.segment_tx().set_member(row, ch.contact, ch.entered, now)?;
        let seq = self.next_seq;
        let verb = if ch.entered { SystemEvent::SegmentEntered } else { SystemEvent::SegmentExited };
        let mut props = JsonMap::new();
        props.insert("segment_id".into(), json!(public_id));
        props.insert("segment_name".into(), json!(name));
        let ev = Event::emitted(verb, format!("kairos-segment-{public_id}-{}-{seq}", ch.contact), props, now);
        self.emit(ws, ch.contact, ev, Reach::Everything);
        self.emitted.push((ws, ch));
        self.flows_on_segment(ws, ch, now)
    }

    /// After a merge: the loser's memberships end silently (it no longer exists) and the survivor's event
    /// occurrences are rebuilt from the combined history.
    pub(crate) fn merge_segments(
        &mut self,
        ws: WorkspaceId,
        loser: ContactId,
        survivor: ContactId,
        history: &[Event],
        now: Timestamp,
    ) -> Result<(), EngineError> {
        for s in self.segments.forget(loser) {
            if let Some(row) = self.segments.def(s).map(|d| d.row) {
                self.w.segment_tx().set_member(row, loser, false, now)?;
            }
        }
        self.rescore_lead(ws, survivor, history, now);
        self.segments.reset_occurrences(survivor);
        for ev in history {
            self.segments.record(ws, survivor, ev, now);
        }
        self.evaluate_contact(ws, survivor, now)
    }

    /// Re-evaluates contacts whose segments can change by time alone at `now`.
    /// Applies what time alone changed. With a `limit` (the background ticker), at most that many flow runs
    /// advance per transaction so a burst of timers never holds ingestion for long; returns whether more are due.
    pub(crate) fn tick(&mut self, now: Timestamp, limit: Option<usize>) -> Result<bool, EngineError> {
        let more = self.flows_tick(now, limit)?;
        let more = self.campaigns_tick(now)? || more;
        self.lead_tick(now)?;
        self.identity.repack_some();
        let due = self.segments.due(now);
        for id in due {
            let id = self.follow(id);
            if let Some(ws) = self.identity.contacts.workspace_of(&id) {
                self.evaluate_contact(ws, id, now)?;
            }
        }
        Ok(more)
    }

    pub(crate) fn persist_sizes(&mut self, now: Timestamp) -> Result<(), EngineError> {
        if self.segments.sizes_changed.is_empty() {
            return Ok(());
        }
        let bucket = Timestamp::from_micros(now.as_micros() - now.as_micros().rem_euclid(SIZE_BUCKET_MICROS));
        for s in std::mem::take(&mut self.segments.sizes_changed) {
            if let Some(row) = self.segments.def(s).map(|d| d.row) {
                self.w.segment_tx().record_size(row, bucket, self.segments.size(s))?;
            }
        }
        Ok(())
    }

    fn info(&self, i: SegIdx, warnings: Vec<String>) -> Option<SegmentInfo> {
        let d = self.segments.def(i)?;
        Some(SegmentInfo {
            id: d.public_id.clone(),
            name: d.name.clone(),
            expr: d.expr.clone(),
            size: self.segments.size(i),
            created_at: d.created_at,
            updated_at: d.updated_at,
            warnings,
        })
    }

    fn check_name(&self, ws: WorkspaceId, name: &str, me: Option<SegIdx>) -> Result<(), EngineError> {
        let clash = self
            .segments
            .workspace_segments(ws)
            .iter()
            .any(|&i| Some(i) != me && self.segments.def(i).is_some_and(|d| d.name == name));
        if clash {
            return Err(EngineError::Conflict(format!("a segment named {name:?} already exists")));
        }
        Ok(())
    }

    fn unknown_events(&mut self, ws: WorkspaceId, expr: &Expr) -> Result<Vec<String>, EngineError> {
        let events = self.w.event_tx();
        crate::segment_preview::unknown_events(expr, &mut |name| Ok(events.has_event_named(ws, name)?))
    }

    /// Evaluates a (new or edited) segment over every contact of its workspace and stores the memberships.
    fn populate(&mut self, i: SegIdx, now: Timestamp) -> Result<(), EngineError> {
        self.backfill_pending()?;
        let started = std::time::Instant::now();
        let changes = self
            .segments
            .full_evaluation(i, &self.identity.contacts, &self.identity.dirty, now)
            .map_err(|e| kairos_store::StoreError::Corrupt(format!("segment state: {e}")))?;
        let row = self.segments.def(i).map_or(0, |d| d.row);
        for (contact, member) in &changes {
            self.w.segment_tx().set_member(row, *contact, *member, now)?;
        }
        tracing::info!(
            segment.row = row,
            size = self.segments.size(i),
            changed = changes.len(),
            duration_ms = started.elapsed().as_millis() as u64,
            "segment evaluated"
        );
        Ok(())
    }

    pub(crate) fn create_segment(
        &mut self,
        ws: WorkspaceId,
        name: String,
        expr: Expr,
        now: Timestamp,
    ) -> Result<SegmentInfo, EngineError> {
        self.check_name(ws, &name, None)?;
        let (node, refs) = self.segments.compile(ws, &expr, None).map_err(invalid)?;
        let warnings = self.unknown_events(ws, &expr)?;
        let mut stored = StoredSegment {
            row: 0,
            public_id: kairos_store::keys::random_token("seg_", 8),
            workspace: ws,
            name,
            definition: kairos_segment::json::to_json(&expr).to_string(),
            created_at: now,
            updated_at: now,
        };
        stored.row = self.w.segment_tx().save_segment(&stored)?;
        let i = self.segments.install(
            SegDef {
                row: stored.row,
                public_id: stored.public_id,
                ws,
                name: stored.name,
                expr,
                node,
                refs,
                created_at: now,
                updated_at: now,
            },
            None,
        );
        self.populate(i, now)?;
        self.info(i, warnings).ok_or_else(|| EngineError::NotFound("segment vanished".into()))
    }

    fn find(&self, ws: WorkspaceId, id: &str) -> Result<SegIdx, EngineError> {
        self.segments
            .lookup(ws, id)
            .filter(|&i| self.segments.def(i).is_some_and(|d| d.public_id == id))
            .ok_or_else(|| EngineError::NotFound(format!("segment {id:?} not found")))
    }

    pub(crate) fn update_segment(
        &mut self,
        ws: WorkspaceId,
        id: &str,
        name: Option<String>,
        expr: Option<Expr>,
        now: Timestamp,
    ) -> Result<SegmentInfo, EngineError> {
        let i = self.find(ws, id)?;
        let old = self.segments.def(i).ok_or_else(|| EngineError::NotFound(format!("segment {id:?} not found")))?;
        let name = name.unwrap_or_else(|| old.name.clone());
        let (row, public_id, created_at) = (old.row, old.public_id.clone(), old.created_at);
        let expr = expr.unwrap_or_else(|| old.expr.clone());
        self.check_name(ws, &name, Some(i))?;
        let (node, refs) = self.segments.compile(ws, &expr, Some(i)).map_err(invalid)?;
        let warnings = self.unknown_events(ws, &expr)?;
        let stored = StoredSegment {
            row,
            public_id: public_id.clone(),
            workspace: ws,
            name: name.clone(),
            definition: kairos_segment::json::to_json(&expr).to_string(),
            created_at,
            updated_at: now,
        };
        self.w.segment_tx().save_segment(&stored)?;
        self.segments
            .install(SegDef { row, public_id, ws, name, expr, node, refs, created_at, updated_at: now }, Some(i));
        self.populate(i, now)?;
        self.info(i, warnings).ok_or_else(|| EngineError::NotFound("segment vanished".into()))
    }

    pub(crate) fn delete_segment(&mut self, ws: WorkspaceId, id: &str) -> Result<(), EngineError> {
        let i = self.find(ws, id)?;
        let users: Vec<String> = self
            .segments
            .workspace_segments(ws)
            .iter()
            .filter_map(|&j| self.segments.def(j))
            .filter(|d| d.refs.contains(&i))
            .map(|d| d.name.clone())
            .collect();
        if !users.is_empty() {
            return Err(EngineError::Conflict(format!("segment is used by other segments: {}", users.join(", "))));
        }
        let row = self.segments.def(i).map_or(0, |d| d.row);
        self.w.segment_tx().delete_segment(row)?;
        self.segments.remove(i);
        Ok(())
    }
}

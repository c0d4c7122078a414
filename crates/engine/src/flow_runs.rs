//! Flow runs in the store (issue 17). A waiting run is a row of `flow_runs`; the engine holds at most its timer
//! (due time and id, for timers due within `crate::flow_timers`' window) and, when an event can move it (its
//! flow has a goal, or it waits at a `wait_for`), its contact's id in the set of listening contacts. A run is
//! read from the store only to step: when its timer fires (read and written in batches), when an event of its
//! contact arrives, when its contact is erased. So memory does not grow with the runs waiting, a restart reads
//! only the window, and a node that takes over carries on from what is committed.

use std::collections::HashSet;
use std::sync::Arc;

use kairos_domain::{ContactId, RunEnd, RunStatus, Timestamp, WorkspaceId};
use kairos_flow::run::Input;
use kairos_store::{StoredFlow, StoredRun};

use crate::EngineError;
use crate::flows::{CompiledFlow, trigger_value};
use crate::state::State;

/// Runs read, stepped and written per batch when timers fire: one read and one write per batch.
const TIMER_BATCH_RUNS: usize = 1_000;

impl State {
    /// At start: the contacts whose events may move a run, and the timers of the window ahead.
    pub(crate) fn load_runs(&mut self, now: Timestamp) -> Result<(), EngineError> {
        let started = std::time::Instant::now();
        let mut listening = HashSet::new();
        self.w.flow_tx().listening_contacts(&mut |c| {
            listening.insert(c);
        })?;
        self.flows.listening = listening;
        self.flows.timers.reset();
        self.fill_timers(now)?;
        tracing::info!(
            runs.listening_contacts = self.flows.listening.len(),
            runs.timers_held = self.flows.timers.len(),
            duration_ms = started.elapsed().as_millis() as u64,
            "flow runs resumed from the store"
        );
        Ok(())
    }

    /// Reads timers from the store until the window is full or reaches far enough ahead of `now`.
    fn fill_timers(&mut self, now: Timestamp) -> Result<(), EngineError> {
        while let Some(fill) = self.flows.timers.wants(now) {
            let rows = self.w.flow_tx().due_runs(fill.after, fill.until, fill.limit)?;
            let active = &self.flows.active_rows;
            self.flows.timers.filled(fill, &rows, |r| active.contains(&r.flow_row));
        }
        Ok(())
    }

    /// Advances the runs whose timers are due, at most `limit` of them (None: all); returns whether more are due.
    pub(crate) fn run_timers(&mut self, now: Timestamp, limit: Option<usize>) -> Result<bool, EngineError> {
        let mut done = 0;
        loop {
            self.fill_timers(now)?;
            let room = limit.map_or(usize::MAX, |l| l.saturating_sub(done)).min(TIMER_BATCH_RUNS);
            if room == 0 {
                return Ok(self.flows.timers.more_due(now));
            }
            let ids = self.flows.timers.take_due(now, room);
            if ids.is_empty() {
                return Ok(false);
            }
            done += ids.len();
            self.step_due(&ids, now)?;
        }
    }

    /// One batch of fired timers: their runs read at once, stepped, and written at once.
    fn step_due(&mut self, ids: &[i64], now: Timestamp) -> Result<(), EngineError> {
        let runs = self.w.flow_tx().runs_by_id(ids)?;
        let mut stepped = Vec::with_capacity(runs.len());
        for stored in runs {
            // A timer that moved later, or a run that ended, since it was held: not due. A paused flow's runs
            // wait for its activation, which reads the window again.
            let due = stored.status == RunStatus::Active && stored.due_at.is_some_and(|d| d <= now);
            if !due || !self.flows.active_rows.contains(&stored.flow_row) {
                continue;
            }
            if let Some(r) = self.step_run(stored, Input::Timer, now)? {
                stepped.push(r);
            }
        }
        self.w.flow_tx().update_runs(&stepped)?;
        for r in &stepped {
            self.after_save(r, None);
        }
        Ok(())
    }

    /// An event of `contact`: the runs it can move step (those of a keyed flow only when the event carries
    /// their key, or no key).
    pub(crate) fn runs_on_event(
        &mut self,
        ws: WorkspaceId,
        contact: ContactId,
        name: &str,
        properties: &kairos_domain::JsonMap,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        if !self.flows.listening.contains(&contact) {
            return Ok(());
        }
        let runs = self.w.flow_tx().listening_runs(ws, contact)?;
        if runs.is_empty() {
            self.flows.listening.remove(&contact);
        }
        for stored in runs {
            let flow = self.compiled(ws, stored.flow_row, stored.version)?;
            let keyed_elsewhere = flow
                .and_then(|f| f.def.key.as_deref().and_then(|k| trigger_value(properties, k)))
                .is_some_and(|v| v != stored.key);
            if keyed_elsewhere {
                continue;
            }
            let was_due = stored.due_at;
            if let Some(r) = self.step_run(stored, Input::Event { name, properties }, now)? {
                self.save_stepped(r, was_due)?;
            }
        }
        Ok(())
    }

    /// Saves a run stepped on its own (by an event, or as it entered), and keeps its timer and listener.
    pub(crate) fn save_stepped(&mut self, r: StoredRun, was_due: Option<Timestamp>) -> Result<(), EngineError> {
        self.w.flow_tx().save_run(&r)?;
        self.after_save(&r, was_due);
        Ok(())
    }

    /// A saved run's timer joins the window (when it reaches it) and its old one leaves; a run an event can
    /// move marks its contact as listening.
    fn after_save(&mut self, r: &StoredRun, was_due: Option<Timestamp>) {
        let active = r.status == RunStatus::Active;
        if let Some(old) = was_due.filter(|d| !active || r.due_at != Some(*d)) {
            self.flows.timers.cancel(old, r.id);
        }
        if !active {
            return;
        }
        if let Some(due) = r.due_at {
            self.flows.timers.schedule(due, r.id);
        }
        if r.listening {
            self.flows.listening.insert(r.contact);
        }
    }

    /// Ends the active runs of `contact` (reason `end`) with their trigger data cleared; answers how many.
    pub(crate) fn end_contact_runs(
        &mut self,
        contact: ContactId,
        end: RunEnd,
        now: Timestamp,
    ) -> Result<u64, EngineError> {
        let runs = self.w.flow_tx().active_runs_of(contact)?;
        for mut r in runs.iter().cloned() {
            let was_due = r.due_at;
            r.status = RunStatus::Ended;
            r.end_reason = Some(end);
            (r.step, r.due_at, r.listening) = (None, None, false);
            r.updated_at = now;
            r.trigger = "{}".into();
            self.save_stepped(r, was_due)?;
        }
        self.flows.listening.remove(&contact);
        Ok(runs.len() as u64)
    }

    /// A flow version ready to run, compiled on first use (runs of older versions continue on theirs).
    pub(crate) fn compiled(
        &mut self,
        ws: WorkspaceId,
        row: i64,
        version: i64,
    ) -> Result<Option<Arc<CompiledFlow>>, EngineError> {
        if let Some(f) = self.flows.versions.get(&(row, version)) {
            return Ok(Some(f.clone()));
        }
        let Some(definition) = self.w.flow_tx().flow_version(row, version)? else { return Ok(None) };
        let public_id = self.w.flow_tx().flow_public_id(row)?.unwrap_or_default();
        let meta = StoredFlow {
            row,
            public_id,
            workspace: ws,
            name: String::new(),
            status: kairos_domain::FlowStatus::Active,
            version,
            definition: definition.clone(),
            created_at: Timestamp::from_micros(0),
            updated_at: Timestamp::from_micros(0),
        };
        let compiled = self.compile_flow(ws, &meta, version, &definition)?;
        self.flows.versions.insert((row, version), compiled.clone());
        Ok(Some(compiled))
    }

    /// Adds one to a step's counter; the counts reach the store before the transaction commits.
    pub(crate) fn count_step(&mut self, flow_row: i64, step: &str, counter: &str) {
        let steps = self.flows.counts.entry(flow_row).or_default();
        let counters = match steps.get_mut(step) {
            Some(c) => c,
            None => steps.entry(step.to_string()).or_default(),
        };
        match counters.get_mut(counter) {
            Some(n) => *n += 1,
            None => {
                counters.insert(counter.to_string(), 1);
            }
        }
    }

    /// Writes the step counters gathered in this transaction (before it commits).
    pub(crate) fn flush_step_counts(&mut self) -> Result<(), EngineError> {
        for (row, steps) in std::mem::take(&mut self.flows.counts) {
            for (step, counters) in steps {
                for (counter, n) in counters {
                    self.w.flow_tx().count_step_by(row, &step, &counter, n)?;
                }
            }
        }
        Ok(())
    }
}

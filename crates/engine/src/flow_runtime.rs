//! Running flows inside the committer: entries on events and segment changes, runs advanced by events and
//! timers, effects carried out in the same transaction as the run state (the outbox pattern), so a crash
//! never loses or repeats a step: a send is a message row keyed by (run, step). Runs are read from the store
//! and written back as they step (`crate::flow_runs`).

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::Arc;

use kairos_domain::Duration;
use kairos_domain::{
    Channel, ConsentStatus, Contact, ContactId, Event, FlowStatus, JsonMap, MessageData, MessageStatus, RunStatus,
    SkipReason, SystemEvent, Timestamp, WebhookCall, WorkspaceId,
};
use kairos_flow::run::{Ctx, EXIT_KEY, Effect, End, Input, Run, advance};
use kairos_flow::{Reentry, SendPolicy, StepKind, Trigger};

use crate::sending::Decision;
use kairos_segment::Expr;
use kairos_segment::eval::{self};
use kairos_store::{StoredFlow, StoredMessage, StoredRun};
use serde_json::{Value, json};

use crate::EngineError;
use crate::flows::{CompiledFlow, FLOW_COUNTER_STEP, PendingSend, RunRec, trigger_value};
use crate::segments::{Change, FlowView, Segments, View};
use crate::state::State;

struct FlowCtx<'a> {
    now: Timestamp,
    flow: &'a CompiledFlow,
    contact: &'a Contact,
    segments: &'a Segments,
    trigger: &'a JsonMap,
    entered_at: Timestamp,
    run_id: i64,
    ws: WorkspaceId,
    coupons: &'a crate::coupons::Coupons,
    /// The trigger order's typical reorder interval, for a flow with a `reorder_interval` delay.
    reorder_after: Option<Duration>,
}

impl Ctx for FlowCtx<'_> {
    fn now(&self) -> Timestamp {
        self.now
    }
    fn holds(&mut self, at: &str, _: &Expr) -> bool {
        let Some(node) = self.flow.conditions.get(at) else { return false };
        let view = View { contact: self.contact, seg: self.segments.contact_state(self.contact.id) };
        eval::eval(node, &FlowView { view, event: self.trigger, entered_at: Some(self.entered_at) }, self.now)
    }
    fn matches(&mut self, at: &str, _: &Expr, properties: &JsonMap) -> bool {
        self.flow.filters.get(at).is_some_and(|n| eval::matches_filter(n, properties))
    }
    fn next_local_time(&mut self, minutes: u32, weekdays: &[u8]) -> Timestamp {
        crate::sending::next_local_slot(self.now, self.contact.timezone.as_deref(), minutes, weekdays)
    }
    fn coupon_available(&mut self, _step: &str, pool: &str) -> bool {
        self.coupons.available(self.ws, pool, self.now)
    }
    fn reorder_after(&mut self) -> Option<Duration> {
        self.reorder_after
    }
    fn draw(&mut self, step: &str, total: u64) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.run_id, step).hash(&mut h);
        h.finish() % total.max(1)
    }
}

impl State {
    pub(crate) fn compile_flow(
        &mut self,
        ws: WorkspaceId,
        f: &StoredFlow,
        version: i64,
        definition: &str,
    ) -> Result<Arc<CompiledFlow>, EngineError> {
        let corrupt =
            |e: String| EngineError::Store(kairos_store::StoreError::Corrupt(format!("flow {}: {e}", f.public_id)));
        let v: Value = serde_json::from_str(definition).map_err(|e| corrupt(e.to_string()))?;
        let def = kairos_flow::parse_flow(&v).map_err(|e| corrupt(e.to_string()))?;
        let mut flow = CompiledFlow {
            row: f.row,
            public_id: f.public_id.clone(),
            version,
            def,
            trigger_filter: None,
            entry: None,
            conditions: HashMap::new(),
            filters: HashMap::new(),
            marketing_channels: Vec::new(),
        };
        let compile =
            |segs: &mut Segments, e: &Expr| segs.compile_flow_condition(ws, e).map_err(|e| corrupt(e.to_string()));
        if let Trigger::Event { filter: Some(f), .. } = &flow.def.trigger {
            flow.trigger_filter = Some(eval::compile_filter(f).map_err(|e| corrupt(e.to_string()))?);
        }
        if let Some(e) = &flow.def.entry.filter {
            flow.entry = Some(compile(&mut self.segments, e)?);
        }
        if let Some(e) = &flow.def.exit_when {
            let node = compile(&mut self.segments, e)?;
            flow.conditions.insert(EXIT_KEY.to_string(), node);
        }
        for s in &flow.def.steps {
            match &s.kind {
                StepKind::Split { condition, .. } => {
                    let node = compile(&mut self.segments, condition)?;
                    flow.conditions.insert(s.id.clone(), node);
                }
                StepKind::WaitFor { filter: Some(f), .. } => {
                    flow.filters.insert(s.id.clone(), eval::compile_filter(f).map_err(|e| corrupt(e.to_string()))?);
                }
                StepKind::Send { channel, transactional: false, .. } if !flow.marketing_channels.contains(channel) => {
                    flow.marketing_channels.push(*channel);
                }
                _ => {}
            }
        }
        self.backfill_pending()?;
        Ok(Arc::new(flow))
    }

    /// Loads active flows and the runs in progress (at start).
    pub(crate) fn load_flows(&mut self, now: Timestamp) -> Result<(), EngineError> {
        for f in self.w.flow_tx().active_flows()? {
            let compiled = self.compile_flow(f.workspace, &f, f.version, &f.definition)?;
            self.flows.versions.insert((f.row, f.version), compiled.clone());
            self.flows.active.entry(f.workspace).or_default().push(compiled);
            self.flows.active_rows.insert(f.row);
        }
        // Waiting runs stay in the store: only the window of timers and the listening contacts are read.
        self.load_runs(now)?;
        self.load_interest(self.flows_workspaces(), now)?;
        for ws in self.flows_workspaces() {
            if self.active_flows_of(ws).iter().any(|f| matches!(f.def.trigger, Trigger::Date { .. })) {
                self.schedule_all_dates(ws, now);
            }
        }
        Ok(())
    }

    /// Re-reads a flow after it was saved, activated or paused.
    pub(crate) fn refresh_flow(&mut self, f: &StoredFlow, now: Timestamp) -> Result<(), EngineError> {
        if let Some(list) = self.flows.active.get_mut(&f.workspace) {
            list.retain(|x| x.row != f.row);
        }
        let was_active = self.flows.active_rows.remove(&f.row);
        if f.status == FlowStatus::Active {
            self.flows.active_rows.insert(f.row);
            if !was_active {
                // Runs held while the flow was paused go on at the next tick: the window of timers is read again
                // from the first (it left the paused flow's timers to the store).
                self.flows.timers.reset();
            }
            let compiled = self.compile_flow(f.workspace, f, f.version, &f.definition)?;
            self.flows.versions.insert((f.row, f.version), compiled.clone());
            let dated = matches!(compiled.def.trigger, Trigger::Date { .. });
            let catalog = matches!(compiled.def.trigger, Trigger::BackInStock | Trigger::PriceDrop { .. });
            self.flows.active.entry(f.workspace).or_default().push(compiled);
            if dated {
                self.schedule_all_dates(f.workspace, now);
            }
            if catalog {
                self.load_interest(vec![f.workspace], now)?;
            }
        }
        Ok(())
    }

    /// Whether an active flow of `ws` has a trigger matching `pred` (no allocation).
    pub(crate) fn has_active_flow(&self, ws: WorkspaceId, pred: impl Fn(&Trigger) -> bool) -> bool {
        self.flows.active.get(&ws).is_some_and(|l| l.iter().any(|f| pred(&f.def.trigger)))
    }

    pub(crate) fn active_flows_of(&self, ws: WorkspaceId) -> Vec<Arc<CompiledFlow>> {
        self.flows.active.get(&ws).cloned().unwrap_or_default()
    }

    /// Workspaces with active flows.
    pub(crate) fn flows_workspaces(&self) -> Vec<WorkspaceId> {
        self.flows.active.iter().filter(|(_, l)| !l.is_empty()).map(|(ws, _)| *ws).collect()
    }

    /// Enters a contact into a flow if its entry rules allow; true when a run started.
    pub(crate) fn enter(
        &mut self,
        ws: WorkspaceId,
        f: &Arc<CompiledFlow>,
        contact: ContactId,
        trigger: JsonMap,
        now: Timestamp,
    ) -> Result<bool, EngineError> {
        self.try_enter(ws, f, contact, trigger, now, now)
    }

    /// An event of a contact: advances its runs, then enters the flows it triggers.
    pub(crate) fn flows_on_event(
        &mut self,
        ws: WorkspaceId,
        contact: ContactId,
        ev: &Event,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let Some(name) = ev.name.as_deref() else { return Ok(()) };
        self.runs_on_event(ws, contact, name, &ev.properties, now)?;
        let flows: Vec<Arc<CompiledFlow>> = self
            .flows
            .active
            .get(&ws)
            .map(|l| {
                l.iter()
                    .filter(|f| entered_by(&f.def.trigger, name, &ev.properties))
                    .filter(|f| f.trigger_filter.as_ref().is_none_or(|n| eval::matches_filter(n, &ev.properties)))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        // `since entry` counts from the trigger event's own time, so an order stamped the same instant as the
        // checkout that entered the flow (and ingested after it) counts as placed since entry.
        let entered = Timestamp::from_micros(ev.timestamp.as_micros().min(now.as_micros()));
        for f in flows {
            self.try_enter(ws, &f, contact, ev.properties.clone(), entered, now)?;
        }
        Ok(())
    }

    /// A segment membership change: enters flows triggered by it.
    pub(crate) fn flows_on_segment(&mut self, ws: WorkspaceId, ch: Change, now: Timestamp) -> Result<(), EngineError> {
        let Some(def) = self.segments.def(ch.segment) else { return Ok(()) };
        let (id, name) = (def.public_id.clone(), def.name.clone());
        let flows: Vec<Arc<CompiledFlow>> = self
            .flows
            .active
            .get(&ws)
            .map(|l| {
                l.iter()
                    .filter(|f| match &f.def.trigger {
                        Trigger::SegmentEntered { segment } => ch.entered && (*segment == id || *segment == name),
                        Trigger::SegmentExited { segment } => !ch.entered && (*segment == id || *segment == name),
                        _ => false,
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let mut props = JsonMap::new();
        props.insert("segment_id".into(), json!(id));
        props.insert("segment_name".into(), json!(name));
        for f in flows {
            self.try_enter(ws, &f, ch.contact, props.clone(), now, now)?;
        }
        Ok(())
    }

    /// `POST /api/v1/flows/{id}/trigger`: enters a contact into an active flow with an `api` trigger.
    /// Returns whether a run started (entry rules may refuse it).
    pub(crate) fn api_trigger(
        &mut self,
        ws: WorkspaceId,
        flow_id: &str,
        who: crate::ContactRef,
        properties: JsonMap,
        now: Timestamp,
    ) -> Result<bool, EngineError> {
        let flow = self
            .flows
            .active
            .get(&ws)
            .and_then(|l| l.iter().find(|f| f.public_id == flow_id).cloned())
            .ok_or_else(|| EngineError::NotFound(format!("no active flow {flow_id:?}")))?;
        if flow.def.trigger != Trigger::Api {
            return Err(EngineError::Invalid {
                message: "this flow is not triggered through the API (its trigger type is not \"api\")".into(),
                field: Some("trigger".into()),
            });
        }
        let contact = self.resolve_ref(ws, who, now)?;
        self.try_enter(ws, &flow, contact, properties, now, now)
    }

    /// Runs whose delay ended or whose wait timed out.
    /// Advances due runs, at most `limit` of them (None: all); returns whether more are due.
    pub(crate) fn flows_tick(&mut self, now: Timestamp, limit: Option<usize>) -> Result<bool, EngineError> {
        self.deliver_deferred(now)?;
        self.dispatch.tick(now);
        self.date_tick(now)?;
        let more = self.run_timers(now, limit)?;
        self.flows.more_due = more;
        Ok(more)
    }

    fn try_enter(
        &mut self,
        ws: WorkspaceId,
        f: &Arc<CompiledFlow>,
        contact: ContactId,
        trigger: JsonMap,
        entered: Timestamp,
        now: Timestamp,
    ) -> Result<bool, EngineError> {
        let key = match &f.def.key {
            Some(k) => match trigger_value(&trigger, k) {
                Some(v) => v,
                None => return Ok(false), // keyed flows need the key on the trigger event
            },
            None => String::new(),
        };
        // The checks in memory first: a contact the entry filter or consent turns away costs the store nothing.
        let Some(c) = self.identity.contacts.get(&contact) else { return Ok(false) };
        if let Some(entry) = &f.entry {
            let view = View { contact: &c, seg: self.segments.contact_state(contact) };
            if !eval::eval(entry, &FlowView { view, event: &trigger, entered_at: None }, now) {
                return Ok(false);
            }
        }
        if f.def.entry.require_consent && !f.marketing_channels.is_empty() {
            let settings = self.settings.of(ws);
            let ok = f.marketing_channels.iter().any(|ch| match ch {
                Channel::Email => settings.marketing_allowed(c.consent.email.status),
                Channel::Sms => settings.marketing_allowed(c.consent.sms.status),
                _ => true,
            });
            if !ok {
                return Ok(false);
            }
        }
        let entry = self.w.flow_tx().run_entry(f.row, contact, &key)?;
        let again = match f.def.entry.reentry {
            Reentry::Always => true,
            Reentry::Once => entry.last_entered.is_none(),
            Reentry::OncePer(d) => entry.last_entered.is_none_or(|t| t <= now.saturating_sub(d)),
        };
        if entry.active || !again {
            return Ok(false);
        }
        let mut stored = StoredRun {
            id: 0,
            flow_row: f.row,
            version: f.version,
            workspace: ws,
            contact,
            key,
            step: None,
            due_at: None,
            status: RunStatus::Active,
            end_reason: None,
            entered_at: entered,
            updated_at: now,
            trigger: Value::Object(trigger).to_string(),
            listening: false,
        };
        stored.id = self.w.flow_tx().save_run(&stored)?;
        let id = stored.id;
        let mut props = JsonMap::new();
        props.insert("flow_id".into(), Value::from(f.public_id.as_str()));
        props.insert("flow_name".into(), Value::from(f.def.name.as_str()));
        let ev = Event::emitted(SystemEvent::FlowEntered, format!("kairos-run-{id}"), props, now);
        self.emit(ws, contact, ev, crate::work::Reach::Everything);
        if let Some(r) = self.step_run(stored, Input::Enter, now)? {
            self.save_stepped(r, None)?;
        }
        Ok(true)
    }

    /// Advances a run read from the store; answers the run to write back, or `None` when nothing changed (or
    /// it cannot step now: its flow is paused, its contact gone). The caller writes it
    /// (`crate::flow_runs`).
    pub(crate) fn step_run(
        &mut self,
        stored: StoredRun,
        input: Input<'_>,
        now: Timestamp,
    ) -> Result<Option<StoredRun>, EngineError> {
        if !self.flows.active_rows.contains(&stored.flow_row) {
            // A paused flow holds its runs: nothing advances (and nothing is sent) until it is activated again.
            return Ok(None);
        }
        let Some(flow) = self.compiled(stored.workspace, stored.flow_row, stored.version)? else { return Ok(None) };
        let trigger = serde_json::from_str(&stored.trigger).unwrap_or_default();
        let run = Run { step: stored.step.clone(), due_at: stored.due_at, ended: None };
        let mut rec = RunRec { stored, run, trigger };
        let contact_id = self.follow(rec.stored.contact);
        rec.stored.contact = contact_id;
        if !self.identity.contacts.contains_key(&contact_id) {
            return Ok(None);
        }
        let before = (rec.run.step.clone(), rec.run.due_at);
        let uses_reorder =
            flow.def.steps.iter().any(|s| {
                matches!(&s.kind, kairos_flow::StepKind::Delay { delay: kairos_flow::Delay::Reorder { .. }, .. })
            });
        let reorder_after =
            if uses_reorder { self.reorder_after(rec.stored.workspace, &rec.trigger, now)? } else { None };
        let Some(contact) = self.identity.contacts.get(&contact_id) else { return Ok(None) };
        let effects = {
            let mut ctx = FlowCtx {
                reorder_after,
                now,
                flow: &flow,
                contact: &contact,
                segments: &self.segments,
                trigger: &rec.trigger,
                entered_at: rec.stored.entered_at,
                run_id: rec.stored.id,
                ws: rec.stored.workspace,
                coupons: &self.coupons,
            };
            advance(&flow.def, &mut rec.run, input, &mut ctx)
        };
        for e in &effects {
            if let Effect::IssueCoupon { step } = e {
                // The code goes into the run's data, for the templates of later steps.
                let pool = flow.def.steps.iter().find(|s| &s.id == step).and_then(|s| match &s.kind {
                    StepKind::IssueCoupon { pool, .. } => Some(pool.clone()),
                    _ => None,
                });
                let issued = match pool {
                    Some(pool) => self.issue_coupon(rec.stored.workspace, &pool, contact_id, now)?,
                    None => None,
                };
                let counter = if issued.is_some() { "issued" } else { "unavailable" };
                if let Some(c) = issued {
                    let value = serde_json::to_value(&c).unwrap_or_default();
                    rec.trigger.insert(crate::coupons::RUN_COUPON_KEY.into(), value);
                    rec.stored.trigger = Value::Object(rec.trigger.clone()).to_string();
                }
                self.count_step(flow.row, step, counter);
                continue;
            }
            self.apply_effect(&flow, &rec, e, now)?;
        }
        let changed =
            !effects.is_empty() || before != (rec.run.step.clone(), rec.run.due_at) || rec.run.ended.is_some();
        if !changed {
            return Ok(None);
        }
        rec.stored.step = rec.run.step.clone();
        rec.stored.due_at = rec.run.due_at;
        rec.stored.updated_at = now;
        rec.stored.listening = flow.listens_at(rec.stored.step.as_deref());
        if let Some(end) = rec.run.ended {
            rec.stored.status = RunStatus::Ended;
            rec.stored.end_reason = Some(end);
            rec.stored.listening = false;
            if end == End::Goal {
                self.count_step(flow.row, FLOW_COUNTER_STEP, MessageStatus::Converted.as_str());
            }
        }
        Ok(Some(rec.stored))
    }

    fn apply_effect(
        &mut self,
        flow: &CompiledFlow,
        rec: &RunRec,
        e: &Effect,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let step_of = |id: &str| flow.def.steps.iter().find(|s| s.id == id).map(|s| &s.kind);
        match e {
            Effect::Entered { step } => self.count_step(flow.row, step, "entered"),
            Effect::Variant { step, variant } => self.count_step(flow.row, step, &format!("variant:{variant}")),
            Effect::Task { step, message } => {
                let contact = self.follow(rec.stored.contact);
                let text = self.render_text(rec.stored.workspace, message, contact, &rec.trigger, now)?;
                let ws = rec.stored.workspace;
                let id = self.w.flow_tx().insert_task(ws, rec.stored.contact, &flow.public_id, &text, now)?;
                self.count_step(flow.row, step, "tasks");
                let (flow_id, flow_name) = (flow.public_id.as_str(), flow.def.name.as_str());
                let task = crate::tasks::NewTask { ws, id, contact, flow_id, flow_name, text: &text };
                self.notify_team(&task, now)?;
                let mut props = JsonMap::new();
                props.insert("flow_id".into(), Value::from(flow.public_id.as_str()));
                props.insert("step_id".into(), Value::from(step.as_str()));
                props.insert("task".into(), Value::from(text));
                let key = format!("kairos-task-{}-{step}-{}", rec.stored.id, now.as_micros());
                let ev = Event::emitted(SystemEvent::TaskCreated, key, props, now);
                self.emit(rec.stored.workspace, contact, ev, crate::work::Reach::Everything);
            }
            Effect::Send { step } => self.send(flow, rec, step, now)?,
            Effect::UpdateProfile { step } => {
                if let Some(StepKind::UpdateProfile { set, increment, .. }) = step_of(step)
                    && let Some(c) = self.identity.contacts.get_mut(&rec.stored.contact)
                {
                    let before = c.consent.statuses();
                    for (k, v) in set {
                        // Consent keys change consent (the re-engagement sunset), everything else is a trait.
                        let channel = match k.as_str() {
                            "email_consent" => Some("email"),
                            "sms_consent" => Some("sms"),
                            _ => None,
                        };
                        match (channel, v.as_str().and_then(ConsentStatus::parse)) {
                            (Some(ch), Some(status)) => {
                                c.set_consent(ch, status, now, "flow");
                            }
                            _ => {
                                c.traits.insert(k.clone(), v.clone());
                            }
                        }
                    }
                    for (k, by) in increment {
                        let old = c.traits.get(k).and_then(Value::as_f64).unwrap_or(0.0);
                        c.traits.insert(k.clone(), json!(old + by.as_f64().unwrap_or(0.0)));
                    }
                    c.updated_at = now;
                    let (id, ws) = (c.id, c.workspace);
                    self.mark_dirty(id);
                    self.announce_subscriptions(ws, id, before, now);
                    self.count_step(flow.row, step, "updated");
                }
            }
            Effect::Tag { step } => {
                if let Some(StepKind::Tag { add, remove, .. }) = step_of(step)
                    && let Some(c) = self.identity.contacts.get_mut(&rec.stored.contact)
                {
                    let mut tags: Vec<String> = c
                        .traits
                        .get("tags")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect())
                        .unwrap_or_default();
                    tags.retain(|t| !remove.contains(t));
                    for t in add {
                        if !tags.contains(t) {
                            tags.push(t.clone());
                        }
                    }
                    c.traits.insert("tags".into(), json!(tags));
                    c.updated_at = now;
                    let id = c.id;
                    self.mark_dirty(id);
                    self.count_step(flow.row, step, "tagged");
                }
            }
            Effect::Webhook { step } => self.webhook_step(flow, rec, step, now)?,
            Effect::IssueCoupon { .. } => {} // carried out in `step_run`, which holds the run mutably
            Effect::CouponUnavailable { step } => self.count_step(flow.row, step, "unavailable"),
        }
        Ok(())
    }

    /// A webhook step: a signed call to the store's system, queued for the dispatcher (retried with backoff),
    /// keyed by (run, step) like a send. The body is the step's `body` (string values rendered), or by default
    /// the contact, the trigger event and the flow.
    fn webhook_step(
        &mut self,
        flow: &CompiledFlow,
        rec: &RunRec,
        step: &str,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let Some(StepKind::Webhook { url, method, body, .. }) =
            flow.def.steps.iter().find(|s| s.id == step).map(|s| &s.kind)
        else {
            return Ok(());
        };
        let ws = rec.stored.workspace;
        let contact_id = self.follow(rec.stored.contact);
        let id = self.flow_message_id(rec.stored.id, rec.stored.entered_at, step);
        let body = match body {
            Some(b) => self.render_json(ws, b, contact_id, &rec.trigger, now)?,
            None => {
                let Some(c) = self.identity.contacts.get(&contact_id) else { return Ok(()) };
                json!({
                "type": "flow.webhook", "message_id": id, "flow_id": flow.public_id, "step_id": step,
                "contact": {"id": contact_id.0, "email": c.email.as_ref().map(|e| e.as_str()),
                    "phone": c.phone.as_ref().map(|p| p.as_str()), "user_id": c.user_id, "traits": c.traits},
                "event": rec.trigger, "sent_at": now.to_string(),
                })
            }
        };
        // Generated at the first call, so that the settings show it; the call itself is signed with the value
        // stored when it is handed to its transport (`handoff`), never copied into the message row.
        crate::secrets::webhook_secret_or_new(self.w.secret_tx(), &self.secrets, ws, now)?;
        let mut data = MessageData {
            webhook: Some(WebhookCall {
                url: url.clone(),
                method: method.clone(),
                body,
                secret: None,
                timestamp: now.as_micros() / 1_000_000,
            }),
            flow_row: Some(flow.row),
            flow_id: Some(flow.public_id.clone()),
            step_id: Some(step.to_string()),
            channel: Some(Channel::Webhook),
            run_id: Some(rec.stored.id),
            ..MessageData::default()
        };
        data.push_history(MessageStatus::Queued, now, None);
        let m = StoredMessage {
            id: id.clone(),
            workspace: ws,
            contact: contact_id,
            channel: Channel::Webhook,
            to: Some(url.clone()),
            flow_id: Some(flow.public_id.clone()),
            campaign_id: None,
            step_id: Some(step.to_string()),
            status: MessageStatus::Queued,
            data: data.to_json(),
            created_at: now,
            variant: None,
            subject_variant: None,
        };
        if self.w.message_tx().insert_message(&m)? {
            self.count_step(flow.row, step, MessageStatus::Queued.as_str());
            self.queue_outbound(&m, &data, None);
        }
        Ok(())
    }

    /// Carries out a send step: a message keyed by (run, step), sent now, skipped, or deferred by the sending
    /// discipline (and retried by the timer).
    fn send(&mut self, flow: &CompiledFlow, rec: &RunRec, step: &str, now: Timestamp) -> Result<(), EngineError> {
        let Some(StepKind::Send { channel, template, transactional, smart_sending, on_blocked, best_hour, .. }) =
            flow.def.steps.iter().find(|s| s.id == step).map(|s| &s.kind)
        else {
            return Ok(());
        };
        let p = PendingSend {
            message_id: self.flow_message_id(rec.stored.id, rec.stored.entered_at, step),
            workspace: rec.stored.workspace,
            contact: rec.stored.contact,
            flow_row: flow.row,
            flow_id: flow.public_id.clone(),
            step: step.to_string(),
            channel: *channel,
            template: template.clone(),
            transactional: *transactional,
            skip_when_blocked: *on_blocked == SendPolicy::Skip,
            smart_sending: smart_sending.map(|o| o.map(Duration::as_micros)),
            best_hour: *best_hour,
            trigger: rec.trigger.clone(),
            run_id: rec.stored.id,
            campaign_id: None,
            variant: None,
            consent_request: None,
            topic: flow.def.topic.clone(),
            priority: if *transactional {
                kairos_domain::priority::PRIORITY_TRANSACTIONAL
            } else {
                flow.def.priority()
            },
        };
        self.deliver(p, true, now)
    }

    /// Decides and records one attempt of a send. Consent, address and the discipline are checked now, at
    /// send time, also for a message deferred earlier.
    pub(crate) fn deliver(&mut self, mut p: PendingSend, first: bool, now: Timestamp) -> Result<(), EngineError> {
        let ws = p.workspace;
        let contact_id = self.follow(p.contact);
        let channel = p.channel;
        let Some(c) = self.identity.contacts.get(&contact_id) else { return Ok(()) };
        let (to, consent) = match channel {
            Channel::Email => (c.email.as_ref().map(|e| e.as_str().to_string()), c.consent.email.status),
            Channel::Sms => (c.phone.as_ref().map(|p| p.as_str().to_string()), c.consent.sms.status),
            // Telegram: contacts who connected the bot carry their chat id as a trait.
            Channel::Chat | Channel::Webhook => (
                c.traits.get("telegram_chat_id").and_then(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                }),
                ConsentStatus::Subscribed,
            ),
        };
        let suppressed = match &to {
            Some(addr) if channel.needs_consent() => self.w.message_tx().is_suppressed(ws, channel, addr)?,
            _ => false,
        };
        let Some(c) = self.identity.contacts.get(&contact_id) else { return Ok(()) };
        let mut outcome: (MessageStatus, Option<SkipReason>, Option<Timestamp>) = if to.is_none() {
            (MessageStatus::Skipped, Some(SkipReason::NoAddress), None)
        } else if suppressed {
            // Hard bounces and complaints: never again, not even transactional mail.
            (MessageStatus::Skipped, Some(SkipReason::Suppressed), None)
        } else if !p.transactional
            && (consent == ConsentStatus::Unsubscribed || !self.settings.of(ws).marketing_allowed(consent))
        {
            // Transactional mail (a receipt, a confirmation) needs no subscription (SPEC 5); only suppression stops it.
            (MessageStatus::Skipped, Some(SkipReason::NoConsent), None)
        } else if !p.transactional && p.topic.as_ref().is_some_and(|t| c.consent.topics_out.contains(t)) {
            (MessageStatus::Skipped, Some(SkipReason::TopicUnsubscribed), None)
        } else {
            (MessageStatus::Sent, None, None)
        };
        if outcome.0 == MessageStatus::Sent && !p.transactional && first && p.best_hour {
            // Send-time optimisation: wait (at most a day) for the contact's best local hour.
            let hour = c
                .traits
                .get("best_send_hour")
                .and_then(Value::as_u64)
                .filter(|h| *h < 24)
                .map_or(self.settings.of(ws).default_send_hour, |h| h as u8);
            let tz = c.timezone.as_deref().unwrap_or(&self.settings.of(ws).timezone);
            let zone = jiff::tz::db().get(tz).unwrap_or(jiff::tz::TimeZone::UTC);
            if now.to_jiff().to_zoned_datetime(zone).hour() as u8 != hour {
                let at = crate::sending::next_local_slot(now, Some(tz), u32::from(hour) * 60, &[]);
                outcome = (MessageStatus::Deferred, Some(SkipReason::SendTime), Some(at));
            }
        }
        let mut waited_for: Option<String> = None;
        if outcome.0 == MessageStatus::Sent && !p.transactional {
            let smart = p.smart_sending.map(|o| o.map(Duration));
            if let Decision::Blocked { until, reason, behind } = {
                let settings = self.settings.of(ws);
                let tz = c.timezone.as_deref().unwrap_or(&settings.timezone);
                // The person's own choice of how often (preference centre) counts their marketing email.
                let chosen_per_week =
                    c.consent.frequency.filter(|_| channel == Channel::Email).and_then(|f| f.per_week());
                let ask = crate::sending::Ask {
                    contact: contact_id,
                    tz: Some(tz),
                    channel,
                    smart,
                    chosen_per_week,
                    priority: p.priority,
                    now,
                };
                crate::sending::decide_for(&settings.rules, &self.flows.send_log, &ask)
            } {
                waited_for = behind;
                outcome = if p.skip_when_blocked {
                    (MessageStatus::Skipped, Some(reason), None)
                } else {
                    (MessageStatus::Deferred, Some(reason), Some(until))
                };
            }
        }
        // Rendered at send time: stock, prices and consent are what they are now (a deferred message renders
        // again when it goes out).
        let (mut status, skip, until) = outcome;
        let mut reason: Option<String> = skip.map(|r| r.as_str().to_string());
        if matches!(status, MessageStatus::Sent | MessageStatus::Deferred)
            && let Some(problem) = self.fresh_coupon(ws, &mut p.trigger, contact_id, now)?
        {
            // Fresh at send time: never promote a coupon that expired or was used meanwhile (and could not be
            // replaced from its pool).
            status = MessageStatus::Skipped;
            reason = Some(problem.as_str().to_string());
        }
        // A deferred message going out: its row so far (history, and the subject line it was given).
        let earlier = if first {
            None
        } else {
            self.w.message_tx().message(&p.message_id)?.map(|m| crate::dispatch::message_data(&m))
        };
        let given = earlier.as_ref().and_then(|d| d.subject_variant).map(usize::from);
        let (version, parts, links, warnings, variant) =
            match self.compose(ws, &p.template, contact_id, &p.trigger, &p.message_id, now, true, given)? {
                crate::messages::Composed::Ready { version, parts, links, warnings, variant } => {
                    (version, parts, links, warnings, variant)
                }
                crate::messages::Composed::Skip { version, reason: why } => {
                    if status != MessageStatus::Skipped {
                        status = MessageStatus::Skipped;
                        reason = Some(why);
                    }
                    (version, kairos_template::Rendered::default(), Vec::new(), Vec::new(), None)
                }
            };
        let subject_variant = variant.and_then(|v| u8::try_from(v).ok());
        let until = if status == MessageStatus::Deferred { until } else { None };
        // A channel with a transport is `queued` for the dispatcher; a captured one is `sent` into the outbox.
        if status == MessageStatus::Sent && self.dispatch.real.has(channel) {
            status = MessageStatus::Queued;
        }
        let mut data = MessageData {
            subject: parts.subject,
            preview_text: parts.preview_text,
            subject_variant,
            html: parts.html,
            text: parts.text,
            body: parts.body,
            links,
            template_id: Some(p.template.clone()),
            template_version: Some(version),
            unsubscribe_url: (channel == Channel::Email).then(|| self.unsubscribe_link(&p.message_id, now)),
            from: if channel == Channel::Sms { self.settings.of(ws).sms_from.clone() } else { None },
            warnings,
            reason: reason.clone(),
            run_id: Some(p.run_id),
            deliver_at: until,
            // Kept while it waits (its time, or a transport): rendered again when it goes (`crate::handoff`).
            pending: matches!(status, MessageStatus::Deferred | MessageStatus::Queued).then(|| p.clone()),
            rendered_at: (status == MessageStatus::Queued).then_some(now),
            flow_row: (p.flow_row != 0).then_some(p.flow_row),
            flow_id: (!p.flow_id.is_empty()).then(|| p.flow_id.clone()),
            step_id: (!p.step.is_empty()).then(|| p.step.clone()),
            campaign_id: p.campaign_id.clone(),
            variant: p.variant,
            channel: Some(channel),
            transactional: Some(p.transactional),
            consent_request: p.consent_request.clone(),
            priority: Some(p.priority),
            ..MessageData::default()
        };
        let m = StoredMessage {
            id: p.message_id.clone(),
            workspace: ws,
            contact: contact_id,
            channel,
            to: to.clone(),
            flow_id: data.flow_id.clone(),
            campaign_id: p.campaign_id.clone(),
            step_id: data.step_id.clone(),
            status,
            data: String::new(),
            created_at: now,
            variant: p.variant,
            subject_variant: subject_variant.map(i64::from),
        };
        let push_history = |data: &mut MessageData| match (&waited_for, status, reason.as_deref()) {
            (Some(behind), MessageStatus::Deferred, Some(why)) => data.push_waiting(now, why, behind.clone()),
            _ => data.push_history(status, now, reason.as_deref()),
        };
        if first {
            push_history(&mut data);
            if !self.w.message_tx().insert_message(&StoredMessage { data: data.to_json(), ..m.clone() })? {
                return Ok(()); // this very step was already carried out by an earlier attempt
            }
        } else {
            // A deferred message going out: its history so far, then this attempt.
            if let Some(old) = earlier {
                data.history = old.history;
            }
            push_history(&mut data);
            self.w.message_tx().update_message(&p.message_id, status, &data.to_json())?;
        }
        if (status != MessageStatus::Deferred || first) && p.flow_row != 0 {
            self.count_step(p.flow_row, &p.step, status.as_str());
        }
        if let (Some(t), MessageStatus::Deferred) = (until, status) {
            self.flows.deferred.push(Reverse((t.as_micros(), u8::MAX - p.priority, p.message_id.clone())));
            self.flows.pending.insert(p.message_id.clone(), (t, p));
            return Ok(());
        }
        self.flows.pending.remove(&p.message_id);
        if matches!(status, MessageStatus::Sent | MessageStatus::Queued) && !p.transactional {
            self.flows.send_log.record(contact_id, channel, now, p.priority, &p.message_id);
        }
        if status == MessageStatus::Sent {
            self.message_sent_event(ws, contact_id, &p.message_id, &data, now)?;
        } else if status == MessageStatus::Queued {
            self.queue_outbound(&m, &data, None);
        }
        Ok(())
    }

    /// Retries deferred sends whose time has come.
    fn deliver_deferred(&mut self, now: Timestamp) -> Result<(), EngineError> {
        while let Some(Reverse((t, _, id))) = self.flows.deferred.peek().cloned() {
            if t > now.as_micros() {
                break;
            }
            self.flows.deferred.pop();
            match self.flows.pending.get(&id) {
                Some((due, _)) if due.as_micros() == t => {
                    let (_, p) = self.flows.pending.remove(&id).expect("checked above");
                    self.deliver(p, false, now)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Remembers a stored message's send for smart sending and caps (at start), at the time it went out.
    fn log_send(&mut self, m: &StoredMessage, data: &MessageData) {
        use kairos_domain::priority::{PRIORITY_CAMPAIGN, PRIORITY_FLOW};
        if data.transactional == Some(true) {
            return; // as when it was sent: transactional mail counts for no rule
        }
        let priority = data.priority.unwrap_or(if m.campaign_id.is_some() { PRIORITY_CAMPAIGN } else { PRIORITY_FLOW });
        let at = data.sent_at().unwrap_or(m.created_at);
        self.flows.send_log.record(m.contact, m.channel, at, priority, &m.id);
    }

    /// Rebuilds the send log and the deferred queue from the messages table (at start).
    pub(crate) fn load_sends(&mut self, now: Timestamp) -> Result<(), EngineError> {
        let mut rows = Vec::new();
        let mut handed = Vec::new();
        self.w
            .message_tx()
            .pending_and_recent_messages(now.saturating_sub(crate::sending::SEND_LOG_WINDOW), &mut |m| rows.push(m))?;
        for m in rows {
            let data = crate::dispatch::message_data(&m);
            if m.status == MessageStatus::Deferred {
                if let Some(p) = data.pending.clone() {
                    let due = data.deliver_at.unwrap_or(now);
                    self.flows.deferred.push(Reverse((due.as_micros(), u8::MAX - p.priority, m.id.clone())));
                    self.flows.pending.insert(m.id.clone(), (due, p));
                }
                continue;
            }
            if m.status.awaiting_transport() && data.handed_at.is_some() {
                // Past its point of no return in a process that stopped before recording the outcome: the
                // server had it (or the content was cut off): never sent twice (`crate::dispatch`).
                handed.push((m, data));
                continue;
            }
            if m.status.awaiting_transport() {
                // Not yet handed off, or handed off by a process that stopped before recording the outcome.
                let at = data.deliver_at.filter(|_| m.status == MessageStatus::Retrying);
                if !self.dispatch.is_in_flight(&m.id) {
                    self.queue_outbound(&m, &data, at);
                }
            }
            self.log_send(&m, &data);
        }
        for (m, data) in handed {
            tracing::info!(message = %m.id, "recorded as sent: it was past its point of no return when the node stopped");
            self.log_send(&m, &data);
            self.settle_unconfirmed(&m, &data, now)?;
        }
        Ok(())
    }
}

/// Whether an event named `name` enters a flow with this trigger: its event, or (`form_submitted`) a `Form
/// Submitted` of the form the trigger names (any form when it names none).
fn entered_by(trigger: &Trigger, name: &str, properties: &JsonMap) -> bool {
    match trigger {
        Trigger::Event { events, .. } => events.iter().any(|e| e == name),
        Trigger::FormSubmitted { form } => {
            name == kairos_domain::SystemEvent::FormSubmitted.as_str()
                && form.as_deref().is_none_or(|id| properties.get("form_id").and_then(Value::as_str) == Some(id))
        }
        _ => false,
    }
}

//! `POST /api/v1/flows/{id}/simulate`: replays stored history through a flow definition (draft or live) and
//! reports who would have entered, waited, converted and been sent what, without writing anything.
//!
//! The replay is exact for the event side (triggers, filters, `wait_for`, `did ... since entry`, delays and
//! timeouts in event time). Profile fields in conditions (`orders.count`, traits, consent) are read as they are
//! now, not as they were at each moment: stores rarely keep profile history, and the report says so.

use std::collections::{BTreeMap, HashMap};

use kairos_domain::{Contact, ContactId, Duration, JsonMap, RunEnd, Timestamp, WorkspaceId};
use kairos_flow::run::{Ctx, EXIT_KEY, Effect, Input, Run, advance};
use kairos_flow::{FlowDef, Reentry, StepKind, Trigger};
use kairos_segment::Expr;
use kairos_segment::eval::{self, Node};
use kairos_store::Reads;

use crate::EngineError;
use crate::segments::{FlowView, Segments, View};

/// Most events one simulation replays (newest history is kept).
pub const SIMULATION_EVENTS_MAX: usize = 2_000_000;
/// Events read from the store at a time: what a simulation holds of the history at once.
const SIMULATION_PAGE_EVENTS: usize = 2_000;
/// Contacts listed in the report's sample.
const SAMPLE_MAX: usize = 20;

/// What a simulation says besides its numbers.
const SIMULATION_NOTES: [&str; 2] =
    ["profile fields in conditions are evaluated with their current values", "nothing was sent or stored"];

/// What a flow would have done over the stored history.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    pub from: Timestamp,
    pub to: Timestamp,
    pub events_replayed: u64,
    /// Runs started.
    pub entered: u64,
    /// Runs still waiting at `to`.
    pub active: u64,
    /// Runs ended, by why.
    pub exited: BTreeMap<RunEnd, u64>,
    /// Runs that reached the flow's goal (`exit_when`).
    pub converted: u64,
    /// Per step: how many runs entered it and what it would have done (`would_send`, `would_run`...).
    pub steps: BTreeMap<String, BTreeMap<&'static str, u64>>,
    /// A few runs, ended ones first.
    pub sample: Vec<SimulatedRun>,
    pub notes: Vec<&'static str>,
}

/// One simulated run.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedRun {
    pub contact: ContactId,
    pub entered_at: Timestamp,
    /// The steps it went through.
    pub path: Vec<String>,
    pub ended: Option<RunEnd>,
    /// The step it waits at.
    pub waiting_at: Option<String>,
}

struct SimRun {
    contact: ContactId,
    key: String,
    entered_at: Timestamp,
    trigger: JsonMap,
    run: Run,
    path: Vec<String>,
}

struct SimCtx<'a> {
    now: Timestamp,
    nodes: &'a HashMap<String, Node>,
    filters: &'a HashMap<String, Node>,
    view: View<'a>,
    trigger: &'a JsonMap,
    entered_at: Timestamp,
}

impl Ctx for SimCtx<'_> {
    fn now(&self) -> Timestamp {
        self.now
    }
    fn holds(&mut self, at: &str, _: &Expr) -> bool {
        let Some(n) = self.nodes.get(at) else { return false };
        let view = View { contact: self.view.contact, seg: self.view.seg };
        eval::eval(n, &FlowView { view, event: self.trigger, entered_at: Some(self.entered_at) }, self.now)
    }
    fn matches(&mut self, at: &str, _: &Expr, props: &JsonMap) -> bool {
        self.filters.get(at).is_some_and(|n| eval::matches_filter(n, props))
    }
    fn draw(&mut self, _: &str, total: u64) -> u64 {
        total / 2
    }
    fn next_local_time(&mut self, minutes: u32, weekdays: &[u8]) -> Timestamp {
        crate::sending::next_local_slot(self.now, self.view.contact.timezone.as_deref(), minutes, weekdays)
    }
}

#[derive(Clone, Copy)]
enum Wake {
    Timer,
    Enter,
    Event,
}

struct Sim<'a> {
    def: &'a FlowDef,
    nodes: &'a HashMap<String, Node>,
    filters: &'a HashMap<String, Node>,
    steps: BTreeMap<String, BTreeMap<&'static str, u64>>,
    ended: BTreeMap<RunEnd, u64>,
    /// The earliest timer of the runs (None: no run waits for one): events before it need no look at timers.
    next_due: Option<Timestamp>,
}

impl Sim<'_> {
    /// Advances every run `pick` wakes; ended runs move to `finished`.
    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        runs: &mut Vec<SimRun>,
        finished: &mut Vec<SimRun>,
        reg: &Segments,
        contacts: &Profiles,
        pick: &dyn Fn(&SimRun) -> Option<Wake>,
        event: Option<(&str, &JsonMap)>,
        now: Timestamp,
    ) {
        let mut i = 0;
        while i < runs.len() {
            let Some(wake) = pick(&runs[i]) else {
                i += 1;
                continue;
            };
            let Some(contact) = contacts.held(runs[i].contact) else {
                i += 1;
                continue;
            };
            let input = match (wake, event) {
                (Wake::Timer, _) => Input::Timer,
                (Wake::Enter, _) => Input::Enter,
                (Wake::Event, Some((name, properties))) => Input::Event { name, properties },
                (Wake::Event, None) => {
                    i += 1;
                    continue;
                }
            };
            let r = &mut runs[i];
            let mut ctx = SimCtx {
                now,
                nodes: self.nodes,
                filters: self.filters,
                view: View { contact, seg: reg.contact_state(r.contact) },
                trigger: &r.trigger,
                entered_at: r.entered_at,
            };
            for e in advance(self.def, &mut r.run, input, &mut ctx) {
                let (step, what) = match e {
                    Effect::Entered { step } => {
                        r.path.push(step.clone());
                        (step, "entered")
                    }
                    Effect::Send { step } => (step, "would_send"),
                    Effect::Task { step, .. } => (step, "would_create_task"),
                    Effect::Webhook { step }
                    | Effect::UpdateProfile { step }
                    | Effect::Tag { step }
                    | Effect::IssueCoupon { step }
                    | Effect::CouponUnavailable { step }
                    | Effect::Variant { step, .. } => (step, "would_run"),
                };
                *self.steps.entry(step).or_default().entry(what).or_default() += 1;
            }
            if let Some(end) = r.run.ended {
                *self.ended.entry(end).or_default() += 1;
                finished.push(runs.swap_remove(i));
            } else {
                i += 1;
            }
        }
        self.next_due = runs.iter().filter_map(|r| r.run.due_at).min();
    }
}

/// The profiles of the contacts with runs, read from the store when their run starts and dropped when their last
/// run ends, so a simulation holds the profiles of its active runs only.
struct Profiles<'r> {
    r: &'r dyn Reads,
    ws: WorkspaceId,
    /// Each profile with how many active runs it has (0 while an entry is being decided).
    held: HashMap<ContactId, (Contact, usize)>,
}

impl Profiles<'_> {
    fn held(&self, id: ContactId) -> Option<&Contact> {
        self.held.get(&id).map(|(c, _)| c)
    }

    /// The contact's profile, read when not held (None for a contact that no longer exists).
    fn load(&mut self, id: ContactId) -> Result<Option<&Contact>, EngineError> {
        if !self.held.contains_key(&id) {
            let Some(c) = self.r.contact(self.ws, id)? else { return Ok(None) };
            self.held.insert(id, (c, 0));
        }
        Ok(self.held(id))
    }

    /// A run of the contact started (its profile is loaded).
    fn retain(&mut self, id: ContactId) {
        if let Some((_, runs)) = self.held.get_mut(&id) {
            *runs += 1;
        }
    }

    /// A run of the contact ended, or (`runs` 0) no run started: the profile goes when no run needs it.
    fn release(&mut self, id: ContactId, ended: bool) {
        if let Some((_, runs)) = self.held.get_mut(&id) {
            *runs = runs.saturating_sub(usize::from(ended));
            if *runs == 0 {
                self.held.remove(&id);
            }
        }
    }
}

/// Replays the workspace's events of the last `since` (read a page at a time from a read view of committed
/// data, in time order) through a flow definition; nothing is written.
pub(crate) fn simulate_flow(
    r: &dyn Reads,
    ws: WorkspaceId,
    def: &FlowDef,
    since: Duration,
    now: Timestamp,
) -> Result<Simulation, EngineError> {
    let Trigger::Event { events: trigger_events, filter } = &def.trigger else {
        return Err(EngineError::Invalid {
            message: "simulation replays events: only flows with an event trigger can be simulated".into(),
            field: Some("trigger".into()),
        });
    };
    // A private registry: the live segment state is not touched.
    let mut reg = Segments::default();
    let invalid = |e: kairos_segment::SegmentError| EngineError::Invalid { message: e.to_string(), field: None };
    let trigger_filter = filter.as_ref().map(eval::compile_filter).transpose().map_err(invalid)?;
    let entry = def.entry.filter.as_ref().map(|e| reg.compile_flow_condition(ws, e)).transpose().map_err(invalid)?;
    let mut nodes = HashMap::new();
    let mut filters = HashMap::new();
    if let Some(e) = &def.exit_when {
        nodes.insert(EXIT_KEY.to_string(), reg.compile_flow_condition(ws, e).map_err(invalid)?);
    }
    for s in &def.steps {
        match &s.kind {
            StepKind::Split { condition, .. } => {
                nodes.insert(s.id.clone(), reg.compile_flow_condition(ws, condition).map_err(invalid)?);
            }
            StepKind::WaitFor { filter: Some(f), .. } => {
                filters.insert(s.id.clone(), eval::compile_filter(f).map_err(invalid)?);
            }
            _ => {}
        }
    }
    let _ = reg.take_pending_backfill(); // occurrences are fed in event order below

    let start = now.saturating_sub(since);
    // The log as committed now: pages read later do not take in events committed meanwhile.
    let until = r.last_event_seq()?;
    let mut cursor = r.newest_events_cursor(ws, start, until, SIMULATION_EVENTS_MAX)?;
    let mut profiles = Profiles { r, ws, held: HashMap::new() };
    let mut runs: Vec<SimRun> = Vec::new();
    let mut last_entry: HashMap<(ContactId, String), Timestamp> = HashMap::new();
    let mut finished: Vec<SimRun> = Vec::new();
    let (mut entered, mut replayed) = (0u64, 0u64);

    let mut sim =
        Sim { def, nodes: &nodes, filters: &filters, steps: BTreeMap::new(), ended: BTreeMap::new(), next_due: None };
    // Ended runs no longer need their contact's profile.
    let release = |profiles: &mut Profiles, finished: &[SimRun], from: usize| {
        for r in &finished[from..] {
            profiles.release(r.contact, true);
        }
    };
    loop {
        let page = r.events_by_time(ws, start, until, cursor.as_deref(), SIMULATION_PAGE_EVENTS)?;
        for stored in &page.items {
            let (contact, ev) = (stored.contact_id, &stored.event);
            replayed += 1;
            let t = ev.timestamp;
            // Timers that fell due before this event. (Each step looks at every run: it is skipped when it
            // would find none to wake, which keeps a replay linear in the events rather than events × runs.)
            if sim.next_due.is_some_and(|d| d <= t) {
                let before = finished.len();
                sim.step(
                    &mut runs,
                    &mut finished,
                    &reg,
                    &profiles,
                    &|r| r.run.due_at.filter(|d| *d <= t).map(|_| Wake::Timer),
                    None,
                    t,
                );
                release(&mut profiles, &finished, before);
            }
            reg.record(ws, contact, ev, t);
            let Some(name) = ev.name.as_deref() else { continue };
            // Runs of this contact (whose profile is held while it has one) see the event (wait_for, exit_when).
            if profiles.held(contact).is_some() {
                let before = finished.len();
                sim.step(
                    &mut runs,
                    &mut finished,
                    &reg,
                    &profiles,
                    &|r| (r.contact == contact).then_some(Wake::Event),
                    Some((name, &ev.properties)),
                    t,
                );
                release(&mut profiles, &finished, before);
            }
            if !trigger_events.iter().any(|e| e == name)
                || !trigger_filter.as_ref().is_none_or(|f| eval::matches_filter(f, &ev.properties))
            {
                continue;
            }
            let key = match &def.key {
                Some(k) => match crate::flows::trigger_value(&ev.properties, k) {
                    Some(v) => v,
                    None => continue,
                },
                None => String::new(),
            };
            if profiles.held(contact).is_some() && runs.iter().any(|r| r.contact == contact && r.key == key) {
                continue;
            }
            let allowed = match (def.entry.reentry, last_entry.get(&(contact, key.clone()))) {
                (_, None) | (Reentry::Always, _) => true,
                (Reentry::Once, Some(_)) => false,
                (Reentry::OncePer(d), Some(prev)) => *prev <= t.saturating_sub(d),
            };
            if !allowed {
                continue;
            }
            let Some(c) = profiles.load(contact)? else { continue };
            let passes = entry.as_ref().is_none_or(|n| {
                eval::eval(
                    n,
                    &FlowView {
                        view: View { contact: c, seg: reg.contact_state(contact) },
                        event: &ev.properties,
                        entered_at: None,
                    },
                    t,
                )
            });
            if !passes {
                profiles.release(contact, false);
                continue;
            }
            profiles.retain(contact);
            last_entry.insert((contact, key.clone()), t);
            entered += 1;
            runs.push(SimRun {
                contact,
                key,
                entered_at: t,
                trigger: ev.properties.clone(),
                run: Run::default(),
                path: Vec::new(),
            });
            let before = finished.len();
            sim.step(
                &mut runs,
                &mut finished,
                &reg,
                &profiles,
                &|r| (r.path.is_empty() && r.run.ended.is_none()).then_some(Wake::Enter),
                None,
                t,
            );
            release(&mut profiles, &finished, before);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    // Let time run up to now.
    sim.step(
        &mut runs,
        &mut finished,
        &reg,
        &profiles,
        &|r| r.run.due_at.filter(|d| *d <= now).map(|_| Wake::Timer),
        None,
        now,
    );
    let (steps, ended) = (sim.steps, sim.ended);
    let sample = finished
        .iter()
        .chain(runs.iter())
        .take(SAMPLE_MAX)
        .map(|r| SimulatedRun {
            contact: r.contact,
            entered_at: r.entered_at,
            path: r.path.clone(),
            ended: r.run.ended,
            waiting_at: r.run.step.clone(),
        })
        .collect();
    Ok(Simulation {
        from: start,
        to: now,
        events_replayed: replayed,
        entered,
        active: runs.len() as u64,
        converted: ended.get(&RunEnd::Goal).copied().unwrap_or(0),
        exited: ended,
        steps,
        sample,
        notes: SIMULATION_NOTES.to_vec(),
    })
}

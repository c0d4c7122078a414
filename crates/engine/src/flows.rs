//! The flows subsystem's state: compiled flow versions, the timers of waiting runs due soon (the runs
//! themselves are in the store), the contacts with runs an event can move, sends waiting for the sending
//! discipline, and the interest and date triggers. The committer acts on it in `flow_runtime`, `flow_runs`,
//! `flow_triggers` and `flow_ops`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

use kairos_domain::{Channel, ContactId, JsonMap, Timestamp, WorkspaceId};
use kairos_flow::run::Run;
use kairos_flow::{FlowDef, Trigger};
use kairos_segment::eval::Node;
use kairos_store::StoredRun;
use serde_json::Value;

use crate::sending::SendLog;

/// The step name under which a flow's own counters (conversions) are kept.
pub const FLOW_COUNTER_STEP: &str = "$flow";

/// A flow version ready to run: its definition and compiled conditions (split conditions and wait_for filters
/// by step id, `exit_when` under `EXIT_KEY`).
pub(crate) struct CompiledFlow {
    pub(crate) row: i64,
    pub(crate) public_id: String,
    pub(crate) version: i64,
    pub(crate) def: FlowDef,
    pub(crate) trigger_filter: Option<Node>,
    pub(crate) entry: Option<Node>,
    pub(crate) conditions: HashMap<String, Node>,
    pub(crate) filters: HashMap<String, Node>,
    pub(crate) marketing_channels: Vec<Channel>,
}

/// A run read from the store while it steps (it is never kept: waiting runs live in the store).
pub(crate) struct RunRec {
    pub(crate) stored: StoredRun,
    pub(crate) run: Run,
    /// The trigger event's properties, parsed from `stored.trigger`.
    pub(crate) trigger: JsonMap,
}

#[derive(Default)]
pub(crate) struct Flows {
    pub(crate) active: HashMap<WorkspaceId, Vec<Arc<CompiledFlow>>>,
    pub(crate) versions: HashMap<(i64, i64), Arc<CompiledFlow>>,
    /// The timers of waiting runs due within the window ahead (`crate::flow_timers`).
    pub(crate) timers: crate::flow_timers::TimerWindow,
    /// Whether timers were due that the last tick left for the next transaction.
    pub(crate) more_due: bool,
    /// Contacts that may have a run an event can move (`StoredRun::listening`): only their events read runs
    /// from the store. A contact stays until one of its events finds none.
    pub(crate) listening: HashSet<ContactId>,
    /// Step counters of the open transaction, added to the store's before it commits: by flow row, step and
    /// counter.
    pub(crate) counts: HashMap<i64, HashMap<String, HashMap<String, u64>>>,
    pub(crate) send_log: SendLog,
    /// By due time, then highest priority first (`u8::MAX - priority`): two sends to one person due at once go
    /// in priority order, so the lower one is the one smart sending defers again.
    pub(crate) deferred: BinaryHeap<Reverse<(i64, u8, String)>>,
    /// Rows of active flows; runs of other (paused) flows hold where they are until the flow is activated.
    pub(crate) active_rows: HashSet<i64>,
    pub(crate) pending: HashMap<String, (Timestamp, PendingSend)>,
}

/// A send waiting for the sending discipline (stored in the message row, so it survives restarts).
pub(crate) type PendingSend = kairos_domain::DeferredSend;

impl CompiledFlow {
    pub(crate) fn trigger(&self) -> &Trigger {
        &self.def.trigger
    }
    /// Whether an event can move a run of this version waiting at `step`: the goal (`exit_when`) is checked on
    /// every event, and a `wait_for` step waits for one.
    pub(crate) fn listens_at(&self, step: Option<&str>) -> bool {
        self.def.exit_when.is_some()
            || step.is_some_and(|id| {
                self.def.steps.iter().any(|s| s.id == id && matches!(s.kind, kairos_flow::StepKind::WaitFor { .. }))
            })
    }
    pub(crate) fn row(&self) -> i64 {
        self.row
    }
}

/// The value of a `key` path (`event.order_id`) in the trigger event's properties, as text.
pub(crate) fn trigger_value(props: &JsonMap, key: &str) -> Option<String> {
    let mut parts = key.strip_prefix("event.")?.split('.');
    let mut v = props.get(parts.next()?)?;
    for p in parts {
        v = v.get(p)?;
    }
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

#[derive(Default)]
pub(crate) struct Triggers {
    /// (workspace, product) -> contacts with the time of their latest interest.
    pub(crate) interest: HashMap<(WorkspaceId, String), HashMap<ContactId, Timestamp>>,
    /// (due, contact, flow row): the next date trigger of a contact for a flow.
    pub(crate) dates: BinaryHeap<Reverse<(i64, ContactId, i64)>>,
}

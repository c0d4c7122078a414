//! The flows subsystem's state: compiled flow versions, runs in memory with their timers, sends waiting for
//! the sending discipline, and the interest and date triggers. The committer acts on it in `flow_runtime`,
//! `flow_triggers` and `flow_ops`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
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

pub(crate) struct RunRec {
    pub(crate) stored: StoredRun,
    pub(crate) run: Run,
    /// The trigger event's properties, parsed from `stored.trigger` only while the run steps: a million waiting
    /// runs keep the compact JSON text, not a parsed map each.
    pub(crate) trigger: JsonMap,
}

#[derive(Default)]
pub(crate) struct Flows {
    pub(crate) active: HashMap<WorkspaceId, Vec<Arc<CompiledFlow>>>,
    pub(crate) versions: HashMap<(i64, i64), Arc<CompiledFlow>>,
    pub(crate) runs: HashMap<i64, RunRec>,
    pub(crate) by_contact: HashMap<ContactId, Vec<i64>>,
    pub(crate) timers: BinaryHeap<Reverse<(i64, i64)>>,
    pub(crate) send_log: SendLog,
    /// By due time, then highest priority first (`u8::MAX - priority`): two sends to one person due at once go
    /// in priority order, so the lower one is the one smart sending defers again.
    pub(crate) deferred: BinaryHeap<Reverse<(i64, u8, String)>>,
    /// Rows of active flows; runs of other (paused) flows hold where they are until the flow is activated.
    pub(crate) active_rows: std::collections::HashSet<i64>,
    /// Due runs of paused flows, by flow row.
    pub(crate) parked: HashMap<i64, Vec<i64>>,
    pub(crate) pending: HashMap<String, (Timestamp, PendingSend)>,
}

/// A send waiting for the sending discipline (stored in the message row, so it survives restarts).
pub(crate) type PendingSend = kairos_domain::DeferredSend;

impl CompiledFlow {
    pub(crate) fn trigger(&self) -> &Trigger {
        &self.def.trigger
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

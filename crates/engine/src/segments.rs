//! Live segment memberships, owned by the committer thread.
//!
//! Each `did` / `count` condition becomes an event predicate (event name + property filter + how long its
//! occurrences must be kept). Segment state is held per workspace by contact row (`segment_rows.rs`): the
//! profile fields segments read column-wise, each predicate's occurrences, memberships as bitmaps. An event
//! updates the predicates it matches and re-evaluates the contact's segments; a timer per contact (the earliest
//! instant one of its segments can change by time alone) re-evaluates it when time passes; the profile columns
//! take each changed contact once per transaction ([`Segments::refresh`], at commit). Nothing scans all
//! contacts except a full evaluation of a new or edited segment, which runs column-wise (`segment_full.rs`).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use kairos_domain::{ConsentStatus, Contact, ContactId, Duration, Event, JsonMap, Timestamp, WorkspaceId};
use kairos_segment::columns::column_keys;
use kairos_segment::eval::{self, Known, Node, Occ, PredId, Resolver, SegIdx, Subject, Val};
use kairos_segment::{Channel, Expr, SegmentError, Window};

pub use crate::segment_rows::{ContactState, Profiles};
use crate::segment_rows::{Loc, NO_DUE, RowIndex, Table, known_of};

/// A compiled, live segment.
pub struct SegDef {
    pub row: i64,
    pub public_id: String,
    pub ws: WorkspaceId,
    pub name: String,
    pub expr: Expr,
    pub node: Node,
    /// Segments this one refers to with `in segment`.
    pub refs: Vec<SegIdx>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

pub(crate) struct Pred {
    ws: WorkspaceId,
    event: String,
    filter: Option<Node>,
    pub(crate) retention: Option<Duration>,
}

/// A contact seen by a flow condition: the profile plus the trigger event and the entry time.
pub struct FlowView<'a> {
    pub view: View<'a>,
    pub event: &'a JsonMap,
    pub entered_at: Option<Timestamp>,
}

impl Subject for FlowView<'_> {
    fn known(&self, k: Known) -> Val<'_> {
        self.view.known(k)
    }
    fn traits(&self) -> &JsonMap {
        self.view.traits()
    }
    fn consent(&self, c: Channel) -> ConsentStatus {
        self.view.consent(c)
    }
    fn in_segment(&self, s: SegIdx) -> bool {
        self.view.in_segment(s)
    }
    fn occurrences(&self, p: PredId) -> Occ<'_> {
        self.view.occurrences(p)
    }
    fn event_properties(&self) -> Option<&JsonMap> {
        Some(self.event)
    }
    fn entered_at(&self) -> Option<Timestamp> {
        self.entered_at
    }
}

/// A contact seen by the evaluator.
pub struct View<'a> {
    pub contact: &'a Contact,
    pub seg: Option<ContactState<'a>>,
}

impl Subject for View<'_> {
    fn known(&self, k: Known) -> Val<'_> {
        known_of(self.contact, k)
    }
    fn traits(&self) -> &JsonMap {
        &self.contact.traits
    }
    fn consent(&self, c: Channel) -> ConsentStatus {
        match c {
            Channel::Email => self.contact.consent.email.status,
            Channel::Sms => self.contact.consent.sms.status,
        }
    }
    fn in_segment(&self, s: SegIdx) -> bool {
        self.seg.is_some_and(|x| x.is_member(s))
    }
    fn occurrences(&self, p: PredId) -> Occ<'_> {
        self.seg.map_or(Occ::default(), |x| x.occurrences(p))
    }
}

/// A membership change to persist and announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub contact: ContactId,
    pub segment: SegIdx,
    pub entered: bool,
}

#[derive(Default)]
pub struct Segments {
    pub defs: Vec<Option<SegDef>>,
    by_public: HashMap<String, SegIdx>,
    order: HashMap<WorkspaceId, Vec<SegIdx>>,
    preds: Vec<Pred>,
    pred_keys: HashMap<(WorkspaceId, String, String, Option<i64>), PredId>,
    preds_by_event: HashMap<WorkspaceId, HashMap<String, Vec<PredId>>>,
    /// Predicates registered but not yet filled from the stored history.
    pending_backfill: Vec<(WorkspaceId, PredId)>,
    /// Each workspace's rows and columns, and where each contact's row is.
    pub(crate) tables: Vec<Table>,
    table_of: HashMap<WorkspaceId, u32>,
    pub(crate) rows: RowIndex,
    pub sizes: Vec<u64>,
    pub sizes_changed: HashSet<SegIdx>,
    pub(crate) timers: BinaryHeap<Reverse<(i64, ContactId)>>,
    /// Threads a full evaluation may use; 0: as many as the machine has, up to the cap (`segment_full.rs`).
    pub(crate) threads: usize,
}

/// Compiles for one workspace, registering predicates in the registry.
struct Compiler<'a> {
    reg: &'a mut Segments,
    ws: WorkspaceId,
    refs: Vec<SegIdx>,
    flow: bool,
}

impl Resolver for Compiler<'_> {
    fn predicate(
        &mut self,
        event: &str,
        filter: Option<&Node>,
        filter_expr: Option<&Expr>,
        window: Option<Window>,
    ) -> PredId {
        let retention = eval::retention([window]);
        let filter_key = filter_expr.map(|f| kairos_segment::json::to_json(f).to_string()).unwrap_or_default();
        let key = (self.ws, event.to_string(), filter_key, retention.map(Duration::as_micros));
        if let Some(&p) = self.reg.pred_keys.get(&key) {
            return p;
        }
        let p = self.reg.preds.len() as PredId;
        self.reg.preds.push(Pred { ws: self.ws, event: event.to_string(), filter: filter.cloned(), retention });
        self.reg.pred_keys.insert(key, p);
        self.reg.preds_by_event.entry(self.ws).or_default().entry(event.to_string()).or_default().push(p);
        self.reg.pending_backfill.push((self.ws, p));
        p
    }

    fn segment(&mut self, reference: &str) -> Result<SegIdx, String> {
        let found =
            self.reg.lookup(self.ws, reference).ok_or_else(|| format!("no segment {reference:?} in this workspace"))?;
        self.refs.push(found);
        Ok(found)
    }

    fn allows_since_entry(&self) -> bool {
        self.flow
    }
}

impl Segments {
    /// A segment of `ws` by public id or by name.
    pub fn lookup(&self, ws: WorkspaceId, reference: &str) -> Option<SegIdx> {
        if let Some(&i) = self.by_public.get(reference)
            && self.defs[i as usize].as_ref().is_some_and(|d| d.ws == ws)
        {
            return Some(i);
        }
        self.order
            .get(&ws)?
            .iter()
            .copied()
            .find(|&i| self.defs[i as usize].as_ref().is_some_and(|d| d.name == reference))
    }

    pub fn def(&self, i: SegIdx) -> Option<&SegDef> {
        self.defs.get(i as usize).and_then(Option::as_ref)
    }

    /// Compiles `expr` for `ws`. `replacing` is the segment being edited (for cycle detection).
    pub fn compile(
        &mut self,
        ws: WorkspaceId,
        expr: &Expr,
        replacing: Option<SegIdx>,
    ) -> Result<(Node, Vec<SegIdx>), SegmentError> {
        let mut c = Compiler { reg: self, ws, refs: Vec::new(), flow: false };
        let node = eval::compile(expr, &mut c)?;
        let refs = c.refs;
        if let Some(me) = replacing {
            // A cycle exists if `me` is reachable from what it would refer to.
            let mut stack = refs.clone();
            let mut seen = HashSet::new();
            while let Some(s) = stack.pop() {
                if s == me {
                    return Err(SegmentError::plain(
                        "this definition would make segments refer to each other in a cycle",
                    ));
                }
                if seen.insert(s)
                    && let Some(d) = self.def(s)
                {
                    stack.extend(d.refs.iter().copied());
                }
            }
        }
        Ok((node, refs))
    }

    /// Compiles a flow condition (entry filter, split, exit): like a segment, plus `event.*` and `since entry`.
    pub fn compile_flow_condition(&mut self, ws: WorkspaceId, expr: &Expr) -> Result<Node, SegmentError> {
        let mut c = Compiler { reg: self, ws, refs: Vec::new(), flow: true };
        eval::compile(expr, &mut c)
    }

    /// Adds or replaces a compiled segment and recomputes the workspace's evaluation order.
    pub fn install(&mut self, def: SegDef, at: Option<SegIdx>) -> SegIdx {
        let ws = def.ws;
        let i = match at {
            Some(i) => {
                self.defs[i as usize] = Some(def);
                i
            }
            None => {
                self.defs.push(Some(def));
                self.sizes.push(0);
                (self.defs.len() - 1) as SegIdx
            }
        };
        if let Some(d) = self.def(i) {
            self.by_public.insert(d.public_id.clone(), i);
        }
        self.reorder(ws);
        self.set_columns(ws);
        i
    }

    pub fn remove(&mut self, i: SegIdx) {
        if let Some(d) = self.defs[i as usize].take() {
            self.by_public.remove(&d.public_id);
            self.reorder(d.ws);
            self.set_columns(d.ws);
            if let Some(&t) = self.table_of.get(&d.ws) {
                self.tables[t as usize].drop_members(i);
            }
            self.sizes[i as usize] = 0;
        }
    }

    /// The workspace's table holds the profile columns its segments read, no more.
    fn set_columns(&mut self, ws: WorkspaceId) {
        let mut keys = Vec::new();
        for &i in self.workspace_segments(ws) {
            for k in self.def(i).map(|d| column_keys(&d.node)).unwrap_or_default() {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        let t = self.table_index(ws);
        self.tables[t].set_columns(keys);
    }

    pub(crate) fn table_index(&mut self, ws: WorkspaceId) -> usize {
        table_index(&mut self.tables, &mut self.table_of, ws)
    }

    /// The contact's row, allocated on first use (its profile columns are filled at the next refresh).
    pub(crate) fn locate(&mut self, ws: WorkspaceId, contact: ContactId) -> Loc {
        locate(&mut self.rows, &mut self.tables, &mut self.table_of, ws, contact)
    }

    /// Copies changed profiles into their rows (the committer calls it with the contacts changed in the
    /// transaction, before they are written; a full evaluation with those changed since).
    pub fn refresh(&mut self, ids: &[ContactId], profiles: &dyn Profiles) {
        for &id in ids {
            if let Some(c) = profiles.profile(id) {
                let loc = self.locate(c.workspace, id);
                self.tables[loc.table as usize].refresh(loc.row, &c);
            }
        }
    }

    /// Gives every contact of `ids` a row, in that order, and fills every column (at start).
    pub fn refresh_all(&mut self, ids: &[(WorkspaceId, ContactId)], profiles: &crate::profiles::ProfileMap) {
        for &(ws, id) in ids {
            self.locate(ws, id);
        }
        for t in &mut self.tables {
            t.load(profiles);
        }
    }

    /// Dependencies first, so `in segment` reads memberships already updated in the same pass.
    fn reorder(&mut self, ws: WorkspaceId) {
        let ids: Vec<SegIdx> =
            (0..self.defs.len() as SegIdx).filter(|&i| self.def(i).is_some_and(|d| d.ws == ws)).collect();
        let mut done: HashSet<SegIdx> = HashSet::new();
        let mut out = Vec::with_capacity(ids.len());
        fn visit(s: &Segments, i: SegIdx, done: &mut HashSet<SegIdx>, out: &mut Vec<SegIdx>, depth: usize) {
            if depth > 64 || !done.insert(i) {
                return;
            }
            if let Some(d) = s.def(i) {
                for &r in &d.refs {
                    visit(s, r, done, out, depth + 1);
                }
                out.push(i);
            }
        }
        for i in ids {
            visit(self, i, &mut done, &mut out, 0);
        }
        self.order.insert(ws, out);
    }

    pub fn workspace_segments(&self, ws: WorkspaceId) -> &[SegIdx] {
        self.order.get(&ws).map_or(&[], Vec::as_slice)
    }

    /// Predicates waiting to be filled from history (the caller scans the events and feeds `record_past`).
    pub fn take_pending_backfill(&mut self) -> Vec<(WorkspaceId, PredId, String)> {
        std::mem::take(&mut self.pending_backfill)
            .into_iter()
            .map(|(ws, p)| (ws, p, self.preds[p as usize].event.clone()))
            .collect()
    }

    /// Feeds one stored event to one predicate during a backfill.
    pub fn record_past(&mut self, p: PredId, contact: ContactId, ev: &Event) {
        let pred = &self.preds[p as usize];
        if pred.filter.as_ref().is_none_or(|f| eval::matches_filter(f, &ev.properties)) {
            let loc = self.locate(pred.ws, contact);
            self.tables[loc.table as usize].occ_mut(p).slot_mut(loc.row as usize).add(ev.timestamp.as_micros());
        }
    }

    /// Records a new event for its contact in every predicate it matches.
    pub fn record(&mut self, ws: WorkspaceId, contact: ContactId, ev: &Event, now: Timestamp) {
        let Some(name) = ev.name.as_deref() else { return };
        let Segments { preds_by_event, preds, rows, tables, table_of, .. } = self;
        let Some(list) = preds_by_event.get(&ws).and_then(|m| m.get(name)) else { return };
        let mut loc = None;
        for &p in list {
            let pred = &preds[p as usize];
            if pred.filter.as_ref().is_none_or(|f| eval::matches_filter(f, &ev.properties)) {
                let Loc { table, row } = *loc.get_or_insert_with(|| locate(rows, tables, table_of, ws, contact));
                let slot = tables[table as usize].occ_mut(p).slot_mut(row as usize);
                slot.add(ev.timestamp.as_micros());
                slot.prune(pred.retention, now);
            }
        }
    }

    /// Forgets a contact merged into another (its history now belongs to the survivor, which the caller
    /// rebuilds). Returns the segments it was in.
    pub fn forget(&mut self, contact: ContactId) -> Vec<SegIdx> {
        let Some(loc) = self.rows.remove(contact) else { return Vec::new() };
        let gone = self.tables[loc.table as usize].release(loc.row);
        for &s in &gone {
            self.sizes[s as usize] = self.sizes[s as usize].saturating_sub(1);
            self.sizes_changed.insert(s);
        }
        gone
    }

    /// Drops a contact's occurrences so they can be rebuilt from its (merged) history.
    pub fn reset_occurrences(&mut self, contact: ContactId) {
        if let Some(loc) = self.rows.get(contact) {
            self.tables[loc.table as usize].slots_of(loc.row).for_each(|(_, s)| *s = Default::default());
        }
    }

    /// Re-evaluates the segments of `ws` for one contact; returns the changes (already applied in memory) and
    /// schedules the contact's next time-driven evaluation.
    pub fn evaluate(&mut self, ws: WorkspaceId, c: &Contact, now: Timestamp, out: &mut Vec<Change>) {
        if self.order.get(&ws).is_none_or(Vec::is_empty) {
            return;
        }
        let loc = self.locate(ws, c.id);
        let Segments { defs, order, preds, tables, sizes, sizes_changed, timers, .. } = self;
        let table = &mut tables[loc.table as usize];
        table.slots_of(loc.row).for_each(|(p, s)| s.prune(preds[p as usize].retention, now));
        let mut due = NO_DUE;
        for &i in &order[&ws] {
            let Some(def) = defs[i as usize].as_ref() else { continue };
            let view = View { contact: c, seg: Some(ContactState { table, row: loc.row }) };
            let now_in = eval::eval(&def.node, &view, now);
            if let Some(t) = eval::next_change(&def.node, &view, now) {
                due = due.min(t.as_micros());
            }
            if table.set_member(i, loc.row, now_in) {
                let size = &mut sizes[i as usize];
                *size = if now_in { *size + 1 } else { size.saturating_sub(1) };
                sizes_changed.insert(i);
                out.push(Change { contact: c.id, segment: i, entered: now_in });
            }
        }
        if due != table.next_due(loc.row) {
            table.set_next_due(loc.row, due);
            if due != NO_DUE {
                timers.push(Reverse((due, c.id)));
            }
        }
    }

    /// Contacts whose time-driven evaluation is due at `now`.
    pub fn due(&mut self, now: Timestamp) -> Vec<ContactId> {
        let mut out = Vec::new();
        while let Some(&Reverse((t, id))) = self.timers.peek() {
            if t > now.as_micros() {
                break;
            }
            self.timers.pop();
            if let Some(loc) = self.rows.get(id) {
                let table = &mut self.tables[loc.table as usize];
                if table.next_due(loc.row) == t {
                    table.set_next_due(loc.row, NO_DUE);
                    out.push(id);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Marks memberships loaded from storage (at start).
    pub fn load_member(&mut self, i: SegIdx, contact: ContactId) {
        let Some(ws) = self.def(i).map(|d| d.ws) else { return };
        let loc = self.locate(ws, contact);
        if self.tables[loc.table as usize].set_member(i, loc.row, true) {
            self.sizes[i as usize] += 1;
        }
    }

    /// Segment state of a contact (event occurrences, memberships), if it has any.
    pub fn contact_state(&self, id: ContactId) -> Option<ContactState<'_>> {
        let loc = self.rows.get(id)?;
        Some(ContactState { table: &self.tables[loc.table as usize], row: loc.row })
    }

    /// When the contact's next time-driven evaluation is planned (tests and the benchmark).
    pub fn next_due(&self, id: ContactId) -> Option<Timestamp> {
        let loc = self.rows.get(id)?;
        let t = self.tables[loc.table as usize].next_due(loc.row);
        (t != NO_DUE).then(|| Timestamp::from_micros(t))
    }

    /// Caps the threads of a full evaluation (the benchmark compares one thread with two); 0: automatic.
    pub fn set_full_evaluation_threads(&mut self, n: usize) {
        self.threads = n;
    }

    pub fn size(&self, i: SegIdx) -> u64 {
        self.sizes.get(i as usize).copied().unwrap_or(0)
    }

    /// Bytes held by segment state (for the benchmark): the row tables, the contact → row map, the timers.
    pub fn memory_bytes(&self) -> usize {
        self.tables.iter().map(Table::memory_bytes).sum::<usize>()
            + self.rows.memory_bytes()
            + self.timers.capacity() * std::mem::size_of::<Reverse<(i64, ContactId)>>()
    }
}

fn table_index(tables: &mut Vec<Table>, table_of: &mut HashMap<WorkspaceId, u32>, ws: WorkspaceId) -> usize {
    let next = tables.len() as u32;
    let t = *table_of.entry(ws).or_insert(next);
    if t == next {
        tables.push(Table::default());
    }
    t as usize
}

fn locate(
    rows: &mut RowIndex,
    tables: &mut Vec<Table>,
    table_of: &mut HashMap<WorkspaceId, u32>,
    ws: WorkspaceId,
    contact: ContactId,
) -> Loc {
    if let Some(loc) = rows.get(contact) {
        return loc;
    }
    let t = table_index(tables, table_of, ws);
    let loc = Loc { table: t as u32, row: tables[t].allocate(contact) };
    rows.insert(contact, loc);
    loc
}

//! Live segment memberships, owned by the committer thread.
//!
//! Each `did` / `count` condition becomes an event predicate (event name + property filter + how long its
//! occurrences must be kept). Every contact keeps the occurrence times of the predicates of its workspace,
//! and the list of segments it belongs to. An event updates the predicates it matches and re-evaluates the
//! contact's segments; a timer per contact (the earliest instant one of its segments can change by time alone)
//! re-evaluates it when time passes. Nothing ever scans all contacts except a full evaluation of a new or
//! edited segment.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use kairos_domain::{ConsentStatus, Contact, ContactId, Duration, Event, JsonMap, Timestamp, WorkspaceId};
use kairos_segment::eval::{self, Known, Node, Occ, PredId, Resolver, SegIdx, Subject, Val};
use kairos_segment::{Channel, Expr, SegmentError, Window};

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

struct Pred {
    event: String,
    filter: Option<Node>,
    retention: Option<Duration>,
}

/// Occurrences of one predicate for one contact.
#[derive(Default, Clone)]
pub struct OccState {
    older: u64,
    times: Vec<i64>,
}

impl OccState {
    fn add(&mut self, t: i64) {
        let at = self.times.partition_point(|&x| x <= t);
        self.times.insert(at, t);
    }
    /// Folds occurrences older than every window of the predicate into a count.
    fn prune(&mut self, retention: Option<Duration>, now: Timestamp) {
        if let Some(d) = retention {
            let cutoff = now.as_micros().saturating_sub(d.as_micros());
            let n = self.times.partition_point(|&t| t < cutoff);
            if n > 0 {
                self.older += n as u64;
                self.times.drain(..n);
            }
        }
    }
}

/// What segments keep per contact.
#[derive(Default)]
pub struct ContactSeg {
    occ: Vec<(PredId, OccState)>,
    member_of: Vec<SegIdx>,
    next_due: Option<i64>,
}

impl ContactSeg {
    fn occ_mut(&mut self, p: PredId) -> &mut OccState {
        match self.occ.iter().position(|(q, _)| *q == p) {
            Some(i) => &mut self.occ[i].1,
            None => {
                self.occ.push((p, OccState::default()));
                &mut self.occ.last_mut().expect("pushed").1
            }
        }
    }
    pub fn is_member(&self, s: SegIdx) -> bool {
        self.member_of.binary_search(&s).is_ok()
    }
    fn set_member(&mut self, s: SegIdx, yes: bool) {
        match (self.member_of.binary_search(&s), yes) {
            (Err(i), true) => self.member_of.insert(i, s),
            (Ok(i), false) => {
                self.member_of.remove(i);
            }
            _ => {}
        }
    }
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.occ.capacity() * std::mem::size_of::<(PredId, OccState)>()
            + self.occ.iter().map(|(_, o)| o.times.capacity() * 8).sum::<usize>()
            + self.member_of.capacity() * 4
    }
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
    pub seg: Option<&'a ContactSeg>,
}

impl Subject for View<'_> {
    fn known(&self, k: Known) -> Val<'_> {
        let c = self.contact;
        let o = &c.computed.orders;
        let time = |t: Option<Timestamp>| t.map_or(Val::Missing, Val::Time);
        match k {
            Known::OrdersCount => Val::Num(o.count as f64),
            Known::OrdersTotalSpent => Val::Num(o.total_spent.as_major()),
            Known::OrdersAverageValue => Val::Num(o.average_value().as_major()),
            Known::OrdersRefundedTotal => Val::Num(o.refunded_total.as_major()),
            Known::OrdersFirstAt => time(o.first_at),
            Known::OrdersLastAt => time(o.last_at),
            Known::CartValue => Val::Num(c.computed.cart.value().as_major()),
            Known::CartItemCount => Val::Num(c.computed.cart.items.iter().map(|i| i.quantity).sum::<i64>() as f64),
            Known::CartUpdatedAt => time(c.computed.cart.updated_at),
            Known::LastSeenAt => time(c.computed.last_seen_at),
            Known::CreatedAt => Val::Time(c.created_at),
            Known::Email => c.email.as_ref().map_or(Val::Missing, |e| Val::Str(e.as_str())),
            Known::Phone => c.phone.as_ref().map_or(Val::Missing, |p| Val::Str(p.as_str())),
            Known::UserId => c.user_id.as_deref().map_or(Val::Missing, Val::Str),
            Known::Timezone => c.timezone.as_deref().map_or(Val::Missing, Val::Str),
            Known::Locale => c.locale.as_deref().map_or(Val::Missing, Val::Str),
            // Kept current on the profile by `crate::lead_ops` (events, and a timer for what time changes).
            Known::LeadScore => Val::Num(c.lead.score as f64),
            Known::LifecycleStage => c.lead.stage.map_or(Val::Missing, |s| Val::Str(s.as_str())),
            // Not computed yet (engagement, RFM, predictions): missing until they are.
            _ => Val::Missing,
        }
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
        match self.seg.and_then(|x| x.occ.iter().find(|(q, _)| *q == p)) {
            Some((_, o)) => Occ { older: o.older, times: &o.times },
            None => Occ::default(),
        }
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
    pub contacts: HashMap<ContactId, ContactSeg>,
    pub sizes: Vec<u64>,
    pub sizes_changed: HashSet<SegIdx>,
    timers: BinaryHeap<Reverse<(i64, ContactId)>>,
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
        self.reg.preds.push(Pred { event: event.to_string(), filter: filter.cloned(), retention });
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
        i
    }

    pub fn remove(&mut self, i: SegIdx) {
        if let Some(d) = self.defs[i as usize].take() {
            self.by_public.remove(&d.public_id);
            self.reorder(d.ws);
            for seg in self.contacts.values_mut() {
                seg.set_member(i, false);
            }
            self.sizes[i as usize] = 0;
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
            self.contacts.entry(contact).or_default().occ_mut(p).add(ev.timestamp.as_micros());
        }
    }

    /// Records a new event for its contact in every predicate it matches.
    pub fn record(&mut self, ws: WorkspaceId, contact: ContactId, ev: &Event, now: Timestamp) {
        let Some(name) = ev.name.as_deref() else { return };
        let Some(preds) = self.preds_by_event.get(&ws).and_then(|m| m.get(name)) else { return };
        for &p in preds {
            let pred = &self.preds[p as usize];
            if pred.filter.as_ref().is_none_or(|f| eval::matches_filter(f, &ev.properties)) {
                let retention = pred.retention;
                let occ = self.contacts.entry(contact).or_default().occ_mut(p);
                occ.add(ev.timestamp.as_micros());
                occ.prune(retention, now);
            }
        }
    }

    /// Forgets a contact merged into another (its history now belongs to the survivor, which the caller
    /// rebuilds). Returns the segments it was in.
    pub fn forget(&mut self, contact: ContactId) -> Vec<SegIdx> {
        let gone = self.contacts.remove(&contact).map(|s| s.member_of).unwrap_or_default();
        for &s in &gone {
            self.sizes[s as usize] = self.sizes[s as usize].saturating_sub(1);
            self.sizes_changed.insert(s);
        }
        gone
    }

    /// Drops a contact's occurrences so they can be rebuilt from its (merged) history.
    pub fn reset_occurrences(&mut self, contact: ContactId) {
        if let Some(s) = self.contacts.get_mut(&contact) {
            s.occ.clear();
        }
    }

    /// Re-evaluates the segments of `ws` for one contact; returns the changes (already applied in memory) and
    /// schedules the contact's next time-driven evaluation.
    pub fn evaluate(&mut self, ws: WorkspaceId, c: &Contact, now: Timestamp, out: &mut Vec<Change>) {
        let order = self.order.get(&ws).cloned().unwrap_or_default();
        let mut seg = self.contacts.remove(&c.id).unwrap_or_default();
        for (p, o) in seg.occ.iter_mut() {
            o.prune(self.preds[*p as usize].retention, now);
        }
        let mut due: Option<i64> = None;
        for i in order {
            let Some(def) = self.defs[i as usize].as_ref() else { continue };
            let view = View { contact: c, seg: Some(&seg) };
            let now_in = eval::eval(&def.node, &view, now);
            if let Some(t) = eval::next_change(&def.node, &view, now) {
                due = Some(due.map_or(t.as_micros(), |d| d.min(t.as_micros())));
            }
            if now_in != seg.is_member(i) {
                seg.set_member(i, now_in);
                let size = &mut self.sizes[i as usize];
                *size = if now_in { *size + 1 } else { size.saturating_sub(1) };
                self.sizes_changed.insert(i);
                out.push(Change { contact: c.id, segment: i, entered: now_in });
            }
        }
        if due != seg.next_due {
            seg.next_due = due;
            if let Some(d) = due {
                self.timers.push(Reverse((d, c.id)));
            }
        }
        let keep = !seg.occ.is_empty() || !seg.member_of.is_empty() || seg.next_due.is_some();
        if keep {
            self.contacts.insert(c.id, seg);
        }
    }

    /// Evaluates one segment for every contact of its workspace (a new or edited definition), without
    /// announcing changes; returns (contact, member) for the rows to persist where membership changed.
    pub fn full_evaluation<'a>(
        &mut self,
        i: SegIdx,
        contacts: impl Iterator<Item = &'a Contact>,
        now: Timestamp,
    ) -> Vec<(ContactId, bool)> {
        let Some(def) = self.defs[i as usize].as_ref() else { return Vec::new() };
        let ws = def.ws;
        let mut changed = Vec::new();
        let mut size = 0u64;
        let mut timers = Vec::new();
        for c in contacts.filter(|c| c.workspace == ws) {
            let seg = self.contacts.get(&c.id);
            let view = View { contact: c, seg };
            let member = eval::eval(&def.node, &view, now);
            let due = eval::next_change(&def.node, &view, now);
            let was = seg.is_some_and(|s| s.is_member(i));
            size += u64::from(member);
            if member != was || due.is_some() {
                timers.push((c.id, member, member != was, due));
            }
        }
        for (id, member, flipped, due) in timers {
            let seg = self.contacts.entry(id).or_default();
            if flipped {
                seg.set_member(i, member);
                changed.push((id, member));
            }
            if let Some(d) = due.map(Timestamp::as_micros)
                && seg.next_due.is_none_or(|n| d < n)
            {
                seg.next_due = Some(d);
                self.timers.push(Reverse((d, id)));
            }
        }
        self.sizes[i as usize] = size;
        self.sizes_changed.insert(i);
        changed
    }

    /// Contacts whose time-driven evaluation is due at `now`.
    pub fn due(&mut self, now: Timestamp) -> Vec<ContactId> {
        let mut out = Vec::new();
        while let Some(&Reverse((t, id))) = self.timers.peek() {
            if t > now.as_micros() {
                break;
            }
            self.timers.pop();
            if let Some(seg) = self.contacts.get_mut(&id)
                && seg.next_due == Some(t)
            {
                seg.next_due = None;
                out.push(id);
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Marks memberships loaded from storage (at start).
    pub fn load_member(&mut self, i: SegIdx, contact: ContactId) {
        let seg = self.contacts.entry(contact).or_default();
        if !seg.is_member(i) {
            seg.set_member(i, true);
            self.sizes[i as usize] += 1;
        }
    }

    /// Segment state of a contact (event occurrences, memberships), if it has any.
    pub fn contact_state(&self, id: ContactId) -> Option<&ContactSeg> {
        self.contacts.get(&id)
    }

    pub fn size(&self, i: SegIdx) -> u64 {
        self.sizes.get(i as usize).copied().unwrap_or(0)
    }

    /// Approximate bytes held per contact by segment state (for the benchmark).
    pub fn memory_bytes(&self) -> usize {
        self.contacts.values().map(ContactSeg::memory_bytes).sum::<usize>()
            + self.contacts.capacity() * (std::mem::size_of::<ContactId>() + std::mem::size_of::<ContactSeg>())
    }
}

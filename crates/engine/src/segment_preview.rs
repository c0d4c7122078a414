//! `POST /api/v1/segments/preview`: counts the contacts an unsaved definition matches and returns a few, on a
//! read view of committed data (issue 11: never inside the committer, so a marketer typing a definition over a
//! million contacts does not hold up ingestion).
//!
//! The answer is the one the live registry would give: `did` / `count` conditions are filled from the stored
//! events of their name, `in segment` reads the committed memberships, and profile fields are read as stored.

use std::collections::{HashMap, HashSet};

use kairos_domain::{ConsentStatus, Contact, ContactId, Event, JsonMap, Timestamp, WorkspaceId};
use kairos_segment::eval::{self, Known, Node, Occ, PredId, Resolver, SegIdx, Subject, Val};
use kairos_segment::{Channel, Expr, SegmentError, Window};
use kairos_store::Reads;

use crate::EngineError;
use crate::segments::View;

/// Contacts read from the store at a time while counting.
const PREVIEW_PAGE_CONTACTS: usize = 2_000;
/// Most contacts a preview lists.
pub const PREVIEW_SAMPLE_MAX: usize = 100;

/// What a preview answers.
pub(crate) struct SegmentPreview {
    pub count: u64,
    pub sample: Vec<Contact>,
    pub warnings: Vec<String>,
}

/// Compiles against the workspace's stored segments, numbering predicates and references locally.
struct PreviewCompiler {
    /// (public id, name, row) of the workspace's segments.
    stored: Vec<(String, String, i64)>,
    /// Rows of the segments the definition refers to, by local index.
    refs: Vec<i64>,
    /// (event name, property filter) per predicate.
    preds: Vec<(String, Option<Node>)>,
}

impl Resolver for PreviewCompiler {
    fn predicate(&mut self, event: &str, filter: Option<&Node>, _: Option<&Expr>, _: Option<Window>) -> PredId {
        self.preds.push((event.to_string(), filter.cloned()));
        (self.preds.len() - 1) as PredId
    }

    fn segment(&mut self, reference: &str) -> Result<SegIdx, String> {
        // By public id first, then by name, as the live registry resolves them.
        let row = self
            .stored
            .iter()
            .find(|(id, ..)| id == reference)
            .or_else(|| self.stored.iter().find(|(_, name, _)| name == reference))
            .map(|(.., row)| *row)
            .ok_or_else(|| format!("no segment {reference:?} in this workspace"))?;
        self.refs.push(row);
        Ok((self.refs.len() - 1) as SegIdx)
    }
}

/// One contact as the preview sees it: the stored profile, its occurrences and its committed memberships.
struct PreviewView<'a> {
    view: View<'a>,
    occ: Option<&'a Vec<Vec<i64>>>,
    members: &'a [HashSet<ContactId>],
}

impl Subject for PreviewView<'_> {
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
        self.members.get(s as usize).is_some_and(|m| m.contains(&self.view.contact.id))
    }
    fn occurrences(&self, p: PredId) -> Occ<'_> {
        match self.occ.and_then(|o| o.get(p as usize)) {
            Some(times) => Occ { older: 0, times },
            None => Occ::default(),
        }
    }
}

/// Counts the contacts of `ws` that `expr` matches at `now` and returns up to `sample` of them (newest first).
pub(crate) fn preview(
    r: &dyn Reads,
    ws: WorkspaceId,
    expr: &Expr,
    sample: usize,
    now: Timestamp,
) -> Result<SegmentPreview, EngineError> {
    let stored = r.segments(ws)?.into_iter().map(|(s, _)| (s.public_id, s.name, s.row)).collect();
    let mut c = PreviewCompiler { stored, refs: Vec::new(), preds: Vec::new() };
    let node = eval::compile(expr, &mut c).map_err(invalid)?;
    let warnings = unknown_events(expr, &mut |name| Ok(r.has_event_named(ws, name)?))?;
    let occ = occurrences(r, ws, &c.preds)?;
    let members = c.refs.iter().map(|&row| members(r, row)).collect::<Result<Vec<_>, _>>()?;
    let mut out = SegmentPreview { count: 0, sample: Vec::new(), warnings };
    let mut cursor: Option<String> = None;
    loop {
        let page = r.contacts(ws, cursor.as_deref(), PREVIEW_PAGE_CONTACTS)?;
        for contact in page.items {
            let subject = PreviewView {
                view: View { contact: &contact, seg: None },
                occ: occ.get(&contact.id),
                members: &members,
            };
            if eval::eval(&node, &subject, now) {
                out.count += 1;
                if out.sample.len() < sample.min(PREVIEW_SAMPLE_MAX) {
                    out.sample.push(contact);
                }
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

pub(crate) fn invalid(e: SegmentError) -> EngineError {
    EngineError::Invalid { message: e.to_string(), field: Some("definition".into()) }
}

/// Per contact, the sorted occurrence times of every predicate (indexed by predicate).
fn occurrences(
    r: &dyn Reads,
    ws: WorkspaceId,
    preds: &[(String, Option<Node>)],
) -> Result<HashMap<ContactId, Vec<Vec<i64>>>, EngineError> {
    let mut occ: HashMap<ContactId, Vec<Vec<i64>>> = HashMap::new();
    for (p, (event, filter)) in preds.iter().enumerate() {
        r.events_named(ws, event, &mut |contact, data| {
            let Ok(ev) = serde_json::from_str::<Event>(data) else { return };
            if filter.as_ref().is_none_or(|f| eval::matches_filter(f, &ev.properties)) {
                let times = occ.entry(contact).or_insert_with(|| vec![Vec::new(); preds.len()]);
                times[p].push(ev.timestamp.as_micros());
            }
        })?;
    }
    for times in occ.values_mut().flatten() {
        times.sort_unstable();
    }
    Ok(occ)
}

/// The committed members of a stored segment.
fn members(r: &dyn Reads, row: i64) -> Result<HashSet<ContactId>, EngineError> {
    let mut out = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = r.segment_member_page(row, cursor.as_deref(), PREVIEW_PAGE_CONTACTS)?;
        out.extend(page.items.iter().map(|c| c.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

/// Warnings for event names the workspace has never received (a typo is the usual cause); `received` says
/// whether the workspace has stored an event of that name.
pub(crate) fn unknown_events(
    expr: &Expr,
    received: &mut dyn FnMut(&str) -> Result<bool, EngineError>,
) -> Result<Vec<String>, EngineError> {
    let mut names = Vec::new();
    expr.walk(&mut |e| {
        if let Expr::Did { event, .. } | Expr::Count { event, .. } = e {
            names.push(event.clone());
        }
    });
    names.sort();
    names.dedup();
    let mut warnings = Vec::new();
    for n in names {
        if kairos_domain::SystemEvent::named(&n).is_none() && !received(&n)? {
            warnings.push(format!("no event named {n:?} has been received in this workspace yet"));
        }
    }
    Ok(warnings)
}

//! Compiling a segment expression against the field catalogue, evaluating it for one contact at an instant,
//! and computing the next instant at which its value can change by the passage of time alone.
//!
//! Semantics (the oracle test and the docs rely on these):
//! - a missing value satisfies no comparison except `!=` (and `= null`);
//! - a path through a list (`products.category`) yields every element: a comparison holds if it holds for any;
//!   `!=` is the negation of `=`;
//! - numbers compare numerically (a numeric string counts as a number); instants compare with ISO-8601 strings;
//!   other strings compare exactly (case-sensitive), `contains` is substring (or list membership), `starts_with`
//!   a prefix;
//! - event windows: `within D` and `after D ago` take occurrences in (now − D, now] ... precisely `t >= now − D`,
//!   `before D ago` takes `t < now − D`; occurrences later than `now` are ignored.

use kairos_domain::{ConsentStatus, Duration, JsonMap, Timestamp};
use serde_json::Value;

use crate::SegmentError;
use crate::ast::{Channel, CompareOp, ConsentIs, Expr, FieldPath, Literal, Relative, Window};

/// Profile fields with a known type (SPEC 4). Fields not computed yet evaluate as missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Known {
    OrdersCount,
    OrdersTotalSpent,
    OrdersAverageValue,
    OrdersRefundedTotal,
    OrdersFirstAt,
    OrdersLastAt,
    CartValue,
    CartItemCount,
    CartUpdatedAt,
    LastSeenAt,
    CreatedAt,
    EmailLastOpenAt,
    EmailLastClickAt,
    EngagementScore,
    LeadScore,
    LifecycleStage,
    RfmRecency,
    RfmFrequency,
    RfmMonetary,
    PredictedClv,
    PredictedChurnRisk,
    PredictedOrders,
    PredictedNextOrderAt,
    Email,
    Phone,
    UserId,
    Timezone,
    Locale,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Number,
    Time,
    Text,
}

const KNOWN: &[(&str, Known, Kind)] = &[
    ("orders.count", Known::OrdersCount, Kind::Number),
    ("orders.total_spent", Known::OrdersTotalSpent, Kind::Number),
    ("orders.average_value", Known::OrdersAverageValue, Kind::Number),
    ("orders.refunded_total", Known::OrdersRefundedTotal, Kind::Number),
    ("orders.first_at", Known::OrdersFirstAt, Kind::Time),
    ("orders.last_at", Known::OrdersLastAt, Kind::Time),
    ("cart.value", Known::CartValue, Kind::Number),
    ("cart.item_count", Known::CartItemCount, Kind::Number),
    ("cart.updated_at", Known::CartUpdatedAt, Kind::Time),
    ("last_seen_at", Known::LastSeenAt, Kind::Time),
    ("created_at", Known::CreatedAt, Kind::Time),
    ("email.last_open_at", Known::EmailLastOpenAt, Kind::Time),
    ("email.last_click_at", Known::EmailLastClickAt, Kind::Time),
    ("engagement.score", Known::EngagementScore, Kind::Number),
    ("lead.score", Known::LeadScore, Kind::Number),
    ("lifecycle.stage", Known::LifecycleStage, Kind::Text),
    ("rfm.recency", Known::RfmRecency, Kind::Number),
    ("rfm.frequency", Known::RfmFrequency, Kind::Number),
    ("rfm.monetary", Known::RfmMonetary, Kind::Number),
    ("predicted.clv", Known::PredictedClv, Kind::Number),
    ("predicted.churn_risk", Known::PredictedChurnRisk, Kind::Number),
    ("predicted.orders", Known::PredictedOrders, Kind::Number),
    ("predicted.next_order_at", Known::PredictedNextOrderAt, Kind::Time),
    ("email", Known::Email, Kind::Text),
    ("phone", Known::Phone, Kind::Text),
    ("user_id", Known::UserId, Kind::Text),
    ("timezone", Known::Timezone, Kind::Text),
    ("locale", Known::Locale, Kind::Text),
];

/// The type of a profile field's values.
pub fn kind_of(k: Known) -> Kind {
    KNOWN.iter().find(|(_, known, _)| *known == k).map_or(Kind::Text, |(_, _, kind)| *kind)
}

/// Names of the profile fields, for error messages and documentation.
pub fn known_field_names() -> impl Iterator<Item = &'static str> {
    KNOWN.iter().map(|(n, _, _)| *n)
}

/// Where a path points, resolved once at compile time.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Known(Known, Kind),
    /// `trait.<path>`
    Trait(Vec<String>),
    /// `event.<path>`: the flow's trigger event.
    Event(Vec<String>),
    /// A property path inside a `where` filter.
    Prop(Vec<String>),
}

/// A literal prepared for fast comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Lit {
    pub raw: Literal,
    pub num: Option<f64>,
    pub time: Option<Timestamp>,
}

impl Lit {
    fn new(raw: Literal) -> Lit {
        let (num, time) = match &raw {
            Literal::Num(n) => (Some(*n), None),
            Literal::Str(s) => (s.trim().parse::<f64>().ok().filter(|n| n.is_finite()), looks_like_time(s)),
            _ => (None, None),
        };
        Lit { raw, num, time }
    }
}

fn looks_like_time(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    // Only ISO dates (YYYY-MM-DD...) count as instants, so "2024" stays a number and "abc" a string.
    if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' { Timestamp::parse(s) } else { None }
}

/// Index of an event predicate (event name + filter) in the engine's registry.
pub type PredId = u32;
/// Index of a segment in the engine's registry.
pub type SegIdx = u32;

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Compare { field: Field, op: CompareOp, value: Lit },
    Exists { field: Field },
    In { field: Field, values: Vec<Lit> },
    Relative { field: Field, rel: Relative },
    Did { pred: PredId, window: Option<Window> },
    Count { pred: PredId, window: Option<Window>, op: CompareOp, value: u64 },
    Consent { channel: Channel, status: ConsentIs },
    InSegment(SegIdx),
}

/// Callbacks the compiler uses to register event predicates and resolve `in segment` references.
pub trait Resolver {
    /// Registers (or finds) the predicate "event `name` whose properties match `filter`".
    /// `window` is the window this use looks through (it decides how long occurrences must be kept).
    fn predicate(
        &mut self,
        event: &str,
        filter: Option<&Node>,
        filter_expr: Option<&Expr>,
        window: Option<Window>,
    ) -> PredId;
    /// Resolves a segment id or name; errors for unknown segments (cycles are the engine's to detect).
    fn segment(&mut self, reference: &str) -> Result<SegIdx, String>;
    /// Whether `since entry` windows are allowed (flow conditions only).
    fn allows_since_entry(&self) -> bool {
        false
    }
}

/// Compiles a profile-level expression.
pub fn compile(e: &Expr, r: &mut dyn Resolver) -> Result<Node, SegmentError> {
    compile_at(e, r, false, "")
}

/// Compiles an event-property filter (the `where` of `did` / `count`) on its own.
pub fn compile_filter(e: &Expr) -> Result<Node, SegmentError> {
    struct NoResolve;
    impl Resolver for NoResolve {
        fn predicate(&mut self, _: &str, _: Option<&Node>, _: Option<&Expr>, _: Option<Window>) -> PredId {
            0
        }
        fn segment(&mut self, _: &str) -> Result<SegIdx, String> {
            Err("not allowed here".into())
        }
    }
    compile_at(e, &mut NoResolve, true, "where")
}

fn child(path: &str, part: &str) -> String {
    if path.is_empty() { part.to_string() } else { format!("{path}.{part}") }
}

fn compile_at(e: &Expr, r: &mut dyn Resolver, in_filter: bool, path: &str) -> Result<Node, SegmentError> {
    let err = |m: String| SegmentError::at_path(if path.is_empty() { "$".to_string() } else { path.to_string() }, m);
    Ok(match e {
        Expr::And(xs) | Expr::Or(xs) => {
            let key = if matches!(e, Expr::And(_)) { "and" } else { "or" };
            let nodes = xs
                .iter()
                .enumerate()
                .map(|(i, x)| compile_at(x, r, in_filter, &format!("{}[{i}]", child(path, key))))
                .collect::<Result<Vec<_>, _>>()?;
            if key == "and" { Node::And(nodes) } else { Node::Or(nodes) }
        }
        Expr::Not(x) => Node::Not(Box::new(compile_at(x, r, in_filter, &child(path, "not"))?)),
        Expr::Compare { field, op, value } => {
            let f = resolve_field(field, in_filter).map_err(err)?;
            check_type(&f, field, *op, value).map_err(err)?;
            Node::Compare { field: f, op: *op, value: Lit::new(value.clone()) }
        }
        Expr::Exists { field } => Node::Exists { field: resolve_field(field, in_filter).map_err(err)? },
        Expr::In { field, values } => {
            let f = resolve_field(field, in_filter).map_err(err)?;
            for v in values {
                check_type(&f, field, CompareOp::Eq, v).map_err(err)?;
            }
            Node::In { field: f, values: values.iter().cloned().map(Lit::new).collect() }
        }
        Expr::Relative { field, rel } => {
            let f = resolve_field(field, in_filter).map_err(err)?;
            if let Field::Known(_, kind) = f
                && kind != Kind::Time
            {
                return Err(err(format!(
                    "{} is not a date, so it cannot be compared with \"ago\" or \"within\"",
                    field.0
                )));
            }
            Node::Relative { field: f, rel: *rel }
        }
        Expr::Did { event, filter, window } | Expr::Count { event, filter, window, .. } => {
            if in_filter {
                return Err(err("did and count cannot be used inside a where filter".into()));
            }
            if matches!(window, Some(Window::SinceEntry)) && !r.allows_since_entry() {
                return Err(err("\"since entry\" is only available in flow conditions".into()));
            }
            let compiled = filter.as_deref().map(compile_filter).transpose().map_err(|mut e| {
                e.path = Some(child(path, e.path.as_deref().unwrap_or("where")));
                e
            })?;
            let pred = r.predicate(event, compiled.as_ref(), filter.as_deref(), *window);
            match e {
                Expr::Count { op, value, .. } => {
                    if !op.is_numeric() {
                        return Err(err(format!("count cannot use {}; use =, !=, >, >=, < or <=", op.as_str())));
                    }
                    Node::Count { pred, window: *window, op: *op, value: *value }
                }
                _ => Node::Did { pred, window: *window },
            }
        }
        Expr::Consent { channel, status } => {
            if in_filter {
                return Err(err("consent cannot be used inside a where filter".into()));
            }
            Node::Consent { channel: *channel, status: *status }
        }
        Expr::InSegment(s) => {
            if in_filter {
                return Err(err("in segment cannot be used inside a where filter".into()));
            }
            Node::InSegment(r.segment(s).map_err(err)?)
        }
    })
}

fn resolve_field(f: &FieldPath, in_filter: bool) -> Result<Field, String> {
    let parts: Vec<String> = f.segments().map(str::to_string).collect();
    if parts.iter().any(String::is_empty) {
        return Err(format!("{:?} is not a valid field path", f.0));
    }
    if in_filter {
        return Ok(Field::Prop(parts));
    }
    if let Some((_, k, kind)) = KNOWN.iter().find(|(n, _, _)| *n == f.0) {
        return Ok(Field::Known(*k, *kind));
    }
    match parts.first().map(String::as_str) {
        Some("trait" | "traits") if parts.len() > 1 => Ok(Field::Trait(parts[1..].to_vec())),
        Some("event") if parts.len() > 1 => Ok(Field::Event(parts[1..].to_vec())),
        _ => Err(format!(
            "unknown field {:?}: use trait.<name> for traits, or one of {}",
            f.0,
            known_field_names().collect::<Vec<_>>().join(", ")
        )),
    }
}

fn check_type(f: &Field, path: &FieldPath, op: CompareOp, v: &Literal) -> Result<(), String> {
    let Field::Known(known, kind) = f else { return Ok(()) };
    let lit = Lit::new(v.clone());
    match (kind, &lit.raw) {
        (_, Literal::Null) => Ok(()),
        // A misspelt stage would match nobody, silently.
        (Kind::Text, Literal::Str(s))
            if *known == Known::LifecycleStage
                && matches!(op, CompareOp::Eq | CompareOp::Ne)
                && kairos_domain::LifecycleStage::parse(s).is_none() =>
        {
            let stages: Vec<&str> = kairos_domain::LifecycleStage::ALL.iter().map(|s| s.as_str()).collect();
            Err(format!("{} is one of {}; not {s:?}", path.0, stages.join(", ")))
        }
        (Kind::Number, _) if lit.num.is_none() => Err(format!("{} is a number; {} is not", path.0, show(v))),
        (Kind::Number, _) if matches!(op, CompareOp::Contains | CompareOp::StartsWith) => {
            Err(format!("{} is a number: {} does not apply", path.0, op.as_str()))
        }
        (Kind::Time, _) if lit.time.is_none() => Err(format!(
            "{} is a date; compare it with an ISO-8601 date like \"2026-01-31\" or use \"before 30d ago\"",
            path.0
        )),
        _ => Ok(()),
    }
}

fn show(v: &Literal) -> String {
    match v {
        Literal::Str(s) => format!("{s:?}"),
        Literal::Num(n) => n.to_string(),
        Literal::Bool(b) => b.to_string(),
        Literal::Null => "null".into(),
    }
}

/// A value read from a contact or an event.
#[derive(Debug, Clone, Copy)]
pub enum Val<'a> {
    Missing,
    Num(f64),
    Time(Timestamp),
    Str(&'a str),
    Bool(bool),
    Json(&'a Value),
}

/// Occurrences of one event predicate for one contact: `older` counts pruned occurrences (all earlier than
/// any retention window), `times` holds the retained ones in ascending order.
#[derive(Debug, Clone, Copy, Default)]
pub struct Occ<'a> {
    pub older: u64,
    pub times: &'a [i64],
}

/// What evaluation needs to know about one contact.
pub trait Subject {
    fn known(&self, k: Known) -> Val<'_>;
    fn traits(&self) -> &JsonMap;
    fn consent(&self, c: Channel) -> ConsentStatus;
    fn in_segment(&self, s: SegIdx) -> bool;
    fn occurrences(&self, p: PredId) -> Occ<'_>;
    /// The trigger event's properties (flow conditions); empty for segments.
    fn event_properties(&self) -> Option<&JsonMap> {
        None
    }
    /// When the contact entered the flow (for `since entry`).
    fn entered_at(&self) -> Option<Timestamp> {
        None
    }
}

/// Walks a JSON path, flattening arrays, and calls `f` on every value found; stops early when `f` is true.
pub(crate) fn any_at_path(root: &JsonMap, path: &[String], f: &mut dyn FnMut(Val<'_>) -> bool) -> bool {
    fn go(v: &Value, rest: &[String], f: &mut dyn FnMut(Val<'_>) -> bool) -> bool {
        match (v, rest.split_first()) {
            (Value::Array(items), _) => items.iter().any(|i| go(i, rest, f)),
            (_, None) => f(json_val(v)),
            (Value::Object(m), Some((k, tail))) => m.get(k.as_str()).is_some_and(|x| go(x, tail, f)),
            _ => false,
        }
    }
    match path.split_first() {
        Some((k, tail)) => root.get(k.as_str()).is_some_and(|v| go(v, tail, f)),
        None => false,
    }
}

fn json_val(v: &Value) -> Val<'_> {
    match v {
        Value::Null => Val::Missing,
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => n.as_f64().map_or(Val::Missing, Val::Num),
        Value::String(s) => Val::Str(s),
        other => Val::Json(other),
    }
}

pub(crate) fn compare(v: Val<'_>, op: CompareOp, lit: &Lit) -> bool {
    use std::cmp::Ordering;
    let ord = |o: Option<Ordering>| match (o, op) {
        (Some(o), CompareOp::Eq) => o == Ordering::Equal,
        (Some(o), CompareOp::Ne) => o != Ordering::Equal,
        (Some(o), CompareOp::Gt) => o == Ordering::Greater,
        (Some(o), CompareOp::Ge) => o != Ordering::Less,
        (Some(o), CompareOp::Lt) => o == Ordering::Less,
        (Some(o), CompareOp::Le) => o != Ordering::Greater,
        _ => false,
    };
    match v {
        Val::Missing => matches!(lit.raw, Literal::Null) && op == CompareOp::Eq,
        Val::Num(n) => match lit.num {
            Some(l) if op.is_numeric() => ord(n.partial_cmp(&l)),
            _ => false,
        },
        Val::Time(t) => match lit.time {
            Some(l) if op.is_numeric() => ord(Some(t.cmp(&l))),
            _ => false,
        },
        Val::Bool(b) => match (&lit.raw, op) {
            (Literal::Bool(l), CompareOp::Eq) => b == *l,
            (Literal::Bool(l), CompareOp::Ne) => b != *l,
            (Literal::Str(s), CompareOp::Eq) => s == if b { "true" } else { "false" },
            _ => false,
        },
        Val::Str(s) => match op {
            CompareOp::Contains => matches!(&lit.raw, Literal::Str(l) if s.contains(l.as_str())),
            CompareOp::StartsWith => matches!(&lit.raw, Literal::Str(l) if s.starts_with(l.as_str())),
            _ => {
                if let Some(l) = lit.time
                    && let Some(t) = looks_like_time(s)
                {
                    return ord(Some(t.cmp(&l)));
                }
                match (&lit.raw, lit.num, s.trim().parse::<f64>().ok()) {
                    (Literal::Str(l), _, _) if !matches!(op, CompareOp::Eq | CompareOp::Ne) || lit.num.is_none() => {
                        ord(Some(s.cmp(l.as_str())))
                    }
                    (_, Some(l), Some(n)) => ord(n.partial_cmp(&l)),
                    (Literal::Str(l), _, _) => ord(Some(s.cmp(l.as_str()))),
                    _ => false,
                }
            }
        },
        Val::Json(_) => false,
    }
}

/// `!=` is the negation of `=` over all values (missing included); other operators hold if any value does.
fn compare_field(s: &dyn Subject, f: &Field, op: CompareOp, lit: &Lit) -> bool {
    if op == CompareOp::Ne {
        return !compare_field(s, f, CompareOp::Eq, lit);
    }
    if lit.raw == Literal::Null {
        // `= null`: the field is absent (or null).
        return op == CompareOp::Eq && !exists(s, f);
    }
    let mut test = |v: Val<'_>| compare(v, op, lit);
    match f {
        Field::Known(k, _) => test(s.known(*k)),
        Field::Trait(path) => any_at_path(s.traits(), path, &mut test),
        Field::Event(path) => s.event_properties().is_some_and(|p| any_at_path(p, path, &mut test)),
        Field::Prop(_) => false,
    }
}

fn exists(s: &dyn Subject, f: &Field) -> bool {
    let mut present = |v: Val<'_>| !matches!(v, Val::Missing);
    match f {
        Field::Known(k, _) => present(s.known(*k)),
        Field::Trait(path) => any_at_path(s.traits(), path, &mut present),
        Field::Event(path) => s.event_properties().is_some_and(|p| any_at_path(p, path, &mut present)),
        Field::Prop(_) => false,
    }
}

fn time_of(s: &dyn Subject, f: &Field) -> Option<Timestamp> {
    let v = match f {
        Field::Known(k, _) => s.known(*k),
        Field::Trait(path) => {
            let mut found = None;
            any_at_path(s.traits(), path, &mut |v| {
                found = as_time(v);
                found.is_some()
            });
            return found;
        }
        Field::Event(path) => {
            let mut found = None;
            s.event_properties().map(|p| {
                any_at_path(p, path, &mut |v| {
                    found = as_time(v);
                    found.is_some()
                })
            });
            return found;
        }
        Field::Prop(_) => Val::Missing,
    };
    as_time(v)
}

fn as_time(v: Val<'_>) -> Option<Timestamp> {
    match v {
        Val::Time(t) => Some(t),
        Val::Str(s) => looks_like_time(s),
        _ => None,
    }
}

/// Lower bound (inclusive) and upper bound (exclusive) of a window's instants, in microseconds.
pub(crate) fn window_bounds(w: Option<Window>, now: Timestamp, entered: Option<Timestamp>) -> (i64, i64) {
    let upper = now.as_micros().saturating_add(1);
    match w {
        None => (i64::MIN, upper),
        Some(Window::Within(d) | Window::AfterAgo(d)) => (now.as_micros().saturating_sub(d.as_micros()), upper),
        Some(Window::BeforeAgo(d)) => (i64::MIN, now.as_micros().saturating_sub(d.as_micros())),
        Some(Window::SinceEntry) => (entered.map_or(i64::MAX, Timestamp::as_micros), upper),
    }
}

pub(crate) fn count_in(occ: Occ<'_>, lo: i64, hi: i64) -> u64 {
    let start = occ.times.partition_point(|&t| t < lo);
    let end = occ.times.partition_point(|&t| t < hi);
    // Pruned occurrences are older than every retained one and than any window's lower bound except "ever"
    // and "before D ago", which include them.
    let older = if lo == i64::MIN { occ.older } else { 0 };
    older + (end.saturating_sub(start)) as u64
}

pub(crate) fn count_holds(n: u64, op: CompareOp, v: u64) -> bool {
    match op {
        CompareOp::Eq => n == v,
        CompareOp::Ne => n != v,
        CompareOp::Gt => n > v,
        CompareOp::Ge => n >= v,
        CompareOp::Lt => n < v,
        CompareOp::Le => n <= v,
        _ => false,
    }
}

/// Evaluates a compiled profile expression for `s` at `now`.
pub fn eval(n: &Node, s: &dyn Subject, now: Timestamp) -> bool {
    match n {
        Node::And(xs) => xs.iter().all(|x| eval(x, s, now)),
        Node::Or(xs) => xs.iter().any(|x| eval(x, s, now)),
        Node::Not(x) => !eval(x, s, now),
        Node::Compare { field, op, value } => compare_field(s, field, *op, value),
        Node::Exists { field } => exists(s, field),
        Node::In { field, values } => values.iter().any(|v| compare_field(s, field, CompareOp::Eq, v)),
        Node::Relative { field, rel } => time_of(s, field).is_some_and(|t| relative_holds(t, *rel, now)),
        Node::Did { pred, window } => {
            let (lo, hi) = window_bounds(*window, now, s.entered_at());
            count_in(s.occurrences(*pred), lo, hi) > 0
        }
        Node::Count { pred, window, op, value } => {
            let (lo, hi) = window_bounds(*window, now, s.entered_at());
            count_holds(count_in(s.occurrences(*pred), lo, hi), *op, *value)
        }
        Node::Consent { channel, status } => {
            let c = s.consent(*channel);
            match status {
                ConsentIs::Subscribed => c == ConsentStatus::Subscribed,
                ConsentIs::Unsubscribed => c == ConsentStatus::Unsubscribed,
            }
        }
        Node::InSegment(i) => s.in_segment(*i),
    }
}

pub(crate) fn relative_holds(t: Timestamp, rel: Relative, now: Timestamp) -> bool {
    let ago = |d: Duration| now.as_micros().saturating_sub(d.as_micros());
    match rel {
        Relative::BeforeAgo(d) => t.as_micros() < ago(d),
        Relative::AfterAgo(d) => t.as_micros() >= ago(d) && t <= now,
        Relative::Within(d) => t.as_micros() >= ago(d) && t <= now,
    }
}

/// Evaluates a compiled `where` filter against one event's properties.
pub fn matches_filter(n: &Node, props: &JsonMap) -> bool {
    match n {
        Node::And(xs) => xs.iter().all(|x| matches_filter(x, props)),
        Node::Or(xs) => xs.iter().any(|x| matches_filter(x, props)),
        Node::Not(x) => !matches_filter(x, props),
        Node::Compare { field: Field::Prop(path), op, value } => {
            if *op == CompareOp::Ne {
                return !any_at_path(props, path, &mut |v| compare(v, CompareOp::Eq, value));
            }
            any_at_path(props, path, &mut |v| compare(v, *op, value))
        }
        Node::Exists { field: Field::Prop(path) } => any_at_path(props, path, &mut |v| !matches!(v, Val::Missing)),
        Node::In { field: Field::Prop(path), values } => {
            any_at_path(props, path, &mut |v| values.iter().any(|l| compare(v, CompareOp::Eq, l)))
        }
        Node::Relative { field: Field::Prop(path), rel } => {
            // Property instants relative to "now" are not meaningful inside an event filter: only absolute
            // comparisons are kept; a relative one never matches.
            let _ = (path, rel);
            false
        }
        _ => false,
    }
}

/// The earliest instant after `now` at which `n` may change value for `s` with no new event, or None.
/// Over-approximations are fine (the engine re-evaluates and finds no change); misses are not.
pub fn next_change(n: &Node, s: &dyn Subject, now: Timestamp) -> Option<Timestamp> {
    match n {
        // A part that time cannot change and that is false now holds an `and` false (true: an `or` true) until
        // an event or a profile change moves it, and those re-evaluate the contact: no timer is needed then.
        Node::And(xs) if xs.iter().any(|x| !depends_on_time(x) && !eval(x, s, now)) => None,
        Node::Or(xs) if xs.iter().any(|x| !depends_on_time(x) && eval(x, s, now)) => None,
        Node::And(xs) | Node::Or(xs) => xs.iter().filter_map(|x| next_change(x, s, now)).min(),
        Node::Not(x) => next_change(x, s, now),
        Node::Relative { field, rel } => relative_next_change(time_of(s, field)?.as_micros(), *rel, now),
        Node::Did { pred, window } | Node::Count { pred, window, .. } => {
            occurrences_next_change(s.occurrences(*pred), *window, now)
        }
        _ => None,
    }
}

/// When `field <rel>` next changes for an instant `t` (microseconds) of the field.
pub(crate) fn relative_next_change(t: i64, rel: Relative, now: Timestamp) -> Option<Timestamp> {
    let after = |t: i64| (t > now.as_micros()).then_some(Timestamp::from_micros(t));
    match rel {
        // true from t + d on (strictly after now − d ⇔ t < now − d)
        Relative::BeforeAgo(d) => after(t.saturating_add(d.as_micros()).saturating_add(1)),
        Relative::AfterAgo(d) | Relative::Within(d) => {
            if t > now.as_micros() {
                after(t)
            } else {
                after(t.saturating_add(d.as_micros()).saturating_add(1))
            }
        }
    }
}

/// When a `did` / `count` over these occurrences next changes by time alone: a future-dated occurrence starts
/// counting, or one crosses the window's edge.
pub(crate) fn occurrences_next_change(occ: Occ<'_>, window: Option<Window>, now: Timestamp) -> Option<Timestamp> {
    let after = |t: i64| (t > now.as_micros()).then_some(Timestamp::from_micros(t));
    let future = occ.times.iter().copied().find(|&t| t > now.as_micros());
    let by_window = match window {
        Some(Window::Within(d) | Window::AfterAgo(d)) => {
            // The oldest occurrence still inside the window leaves it first.
            let lo = now.as_micros().saturating_sub(d.as_micros());
            let i = occ.times.partition_point(|&t| t < lo);
            occ.times.get(i).and_then(|&t| after(t.saturating_add(d.as_micros()).saturating_add(1)))
        }
        Some(Window::BeforeAgo(d)) => {
            // The next occurrence to become older than D: the window holds t < now − D (its upper
            // bound is exclusive), so t is in from t + D + 1 on, not at t + D (where a change planned
            // for t + D found nothing new and planned nothing more: the contact never entered).
            let lo = now.as_micros().saturating_sub(d.as_micros());
            let i = occ.times.partition_point(|&t| t < lo);
            occ.times.get(i).and_then(|&t| after(t.saturating_add(d.as_micros()).saturating_add(1)))
        }
        _ => None,
    };
    [future.and_then(after), by_window].into_iter().flatten().min()
}

/// Whether time alone can change `n`'s value: it has a relative-time condition or an event condition
/// (occurrences leave windows, and a future-dated one starts counting when its time comes). `in segment` counts
/// as fixed: the segment it names keeps its own timer, and a contact's evaluation runs every segment of its
/// workspace, so the reference is re-read when that timer fires.
pub fn depends_on_time(n: &Node) -> bool {
    match n {
        Node::And(xs) | Node::Or(xs) => xs.iter().any(depends_on_time),
        Node::Not(x) => depends_on_time(x),
        Node::Relative { .. } | Node::Did { .. } | Node::Count { .. } => true,
        _ => false,
    }
}

/// The longest look-back a predicate needs, over all the windows it is used with (None = keep everything).
pub fn retention(windows: impl IntoIterator<Item = Option<Window>>) -> Option<Duration> {
    let mut longest = Duration::default();
    for w in windows {
        match w {
            Some(Window::Within(d) | Window::AfterAgo(d) | Window::BeforeAgo(d)) => longest = longest.max(d),
            // "ever", and "since entry" (entry can be long ago): nothing may be pruned.
            None | Some(Window::SinceEntry) => return None,
        }
    }
    Some(longest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::FieldPath;
    use serde_json::json;

    struct Reg(Vec<(String, Option<Node>)>);
    impl Resolver for Reg {
        fn predicate(&mut self, event: &str, filter: Option<&Node>, _: Option<&Expr>, _: Option<Window>) -> PredId {
            self.0.push((event.to_string(), filter.cloned()));
            (self.0.len() - 1) as PredId
        }
        fn segment(&mut self, reference: &str) -> Result<SegIdx, String> {
            if reference == "VIP" { Ok(0) } else { Err(format!("no segment {reference:?}")) }
        }
    }

    struct C {
        traits: JsonMap,
        orders: f64,
        last_seen: Option<Timestamp>,
        occ: Vec<Vec<i64>>,
        vip: bool,
    }
    impl Subject for C {
        fn known(&self, k: Known) -> Val<'_> {
            match k {
                Known::OrdersCount => Val::Num(self.orders),
                Known::LastSeenAt => self.last_seen.map_or(Val::Missing, Val::Time),
                _ => Val::Missing,
            }
        }
        fn traits(&self) -> &JsonMap {
            &self.traits
        }
        fn consent(&self, c: Channel) -> ConsentStatus {
            if c == Channel::Email { ConsentStatus::Subscribed } else { ConsentStatus::NeverSubscribed }
        }
        fn in_segment(&self, _: SegIdx) -> bool {
            self.vip
        }
        fn occurrences(&self, p: PredId) -> Occ<'_> {
            Occ { older: 0, times: &self.occ[p as usize] }
        }
    }

    fn f(p: &str) -> FieldPath {
        FieldPath(p.into())
    }
    const H: i64 = 3_600_000_000;

    #[test]
    fn compares_typed_values_and_lists() {
        let mut r = Reg(vec![]);
        let c = C {
            traits:
                json!({"city": "Helsinki", "age": "31", "tags": ["vip", "bike"], "vip": true, "birthday": "1990-05-01"})
                    .as_object()
                    .unwrap()
                    .clone(),
            orders: 3.0,
            last_seen: Some(Timestamp(100 * H)),
            occ: vec![],
            vip: true,
        };
        let now = Timestamp(100 * H);
        let t = |e: Expr| eval(&compile(&e, &mut Reg(vec![])).unwrap(), &c, now);
        let cmp = |p: &str, op, v: Literal| Expr::Compare { field: f(p), op, value: v };
        assert!(t(cmp("orders.count", CompareOp::Ge, Literal::Num(3.0))));
        assert!(!t(cmp("orders.count", CompareOp::Gt, Literal::Num(3.0))));
        assert!(t(cmp("trait.age", CompareOp::Gt, Literal::Num(30.0))), "numeric strings compare as numbers");
        assert!(t(cmp("trait.city", CompareOp::StartsWith, Literal::Str("Hel".into()))));
        assert!(t(cmp("trait.tags", CompareOp::Contains, Literal::Str("bike".into()))));
        assert!(t(cmp("trait.tags", CompareOp::Eq, Literal::Str("vip".into()))), "any element");
        assert!(t(cmp("trait.vip", CompareOp::Eq, Literal::Bool(true))));
        assert!(t(cmp("trait.birthday", CompareOp::Lt, Literal::Str("2000-01-01".into()))));
        assert!(t(cmp("trait.missing", CompareOp::Ne, Literal::Str("x".into()))), "missing != x");
        assert!(!t(cmp("trait.missing", CompareOp::Eq, Literal::Str("x".into()))));
        assert!(t(cmp("trait.missing", CompareOp::Eq, Literal::Null)));
        assert!(!t(Expr::Exists { field: f("trait.missing") }));
        assert!(t(Expr::In {
            field: f("trait.city"),
            values: vec![Literal::Str("Tampere".into()), Literal::Str("Helsinki".into())]
        }));
        assert!(t(Expr::Consent { channel: Channel::Email, status: ConsentIs::Subscribed }));
        assert!(t(Expr::InSegment("VIP".into())));
        // Type errors and unknown fields are compile errors.
        for bad in [
            cmp("orders.count", CompareOp::Eq, Literal::Str("abc".into())),
            cmp("nope", CompareOp::Eq, Literal::Num(1.0)),
            cmp("lifecycle.stage", CompareOp::Eq, Literal::Str("VIP".into())),
        ] {
            assert!(compile(&bad, &mut r).is_err(), "{bad:?}");
        }
        assert!(compile(&Expr::InSegment("Other".into()), &mut r).is_err());
        assert!(compile(&cmp("lifecycle.stage", CompareOp::Eq, Literal::Str("at_risk".into())), &mut r).is_ok());
    }

    #[test]
    fn windows_and_time_triggers() {
        let mut r = Reg(vec![]);
        let did =
            compile(&Expr::Did { event: "X".into(), filter: None, window: Some(Window::Within(Duration(H))) }, &mut r)
                .unwrap();
        let before =
            compile(&Expr::Relative { field: f("last_seen_at"), rel: Relative::BeforeAgo(Duration(2 * H)) }, &mut r)
                .unwrap();
        let count = compile(
            &Expr::Count {
                event: "X".into(),
                filter: None,
                window: Some(Window::Within(Duration(3 * H))),
                op: CompareOp::Ge,
                value: 2,
            },
            &mut r,
        )
        .unwrap();
        let c = C {
            traits: JsonMap::new(),
            orders: 0.0,
            last_seen: Some(Timestamp(10 * H)),
            occ: vec![vec![9 * H, 10 * H], vec![9 * H, 10 * H]],
            vip: false,
        };
        let now = Timestamp(10 * H + 1);
        assert!(eval(&did, &c, now));
        assert_eq!(next_change(&did, &c, now), Some(Timestamp(11 * H + 1)));
        assert!(!eval(&did, &c, Timestamp(11 * H + 1)));
        assert!(!eval(&before, &c, now));
        let flip = next_change(&before, &c, now).unwrap();
        assert!(!eval(&before, &c, Timestamp(flip.0 - 1)) && eval(&before, &c, flip));
        assert!(eval(&count, &c, now));
        let drop = next_change(&count, &c, now).unwrap();
        assert!(eval(&count, &c, Timestamp(drop.0 - 1)) && !eval(&count, &c, drop));
    }

    #[test]
    fn filters_match_event_properties() {
        let filter = compile_filter(&Expr::Compare {
            field: f("products.category"),
            op: CompareOp::Contains,
            value: Literal::Str("bicycles".into()),
        })
        .unwrap();
        let props = json!({"products": [{"category": "helmets"}, {"category": "bicycles/gravel"}]});
        assert!(matches_filter(&filter, props.as_object().unwrap()));
        let props = json!({"products": [{"category": "helmets"}]});
        assert!(!matches_filter(&filter, props.as_object().unwrap()));
        assert!(compile_filter(&Expr::InSegment("VIP".into())).is_err());
    }
}

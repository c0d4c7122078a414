//! The typed flow definition and its reader from JSON.

use kairos_domain::Duration;
use kairos_domain::system_event::canonical;
use kairos_segment::Expr;
use serde_json::{Map, Value};

use crate::{FlowError, STEP_ID_CHARS_MAX, STEPS_MAX, VARIANTS_MAX};

#[derive(Debug, Clone, PartialEq)]
pub struct FlowDef {
    pub name: String,
    pub trigger: Trigger,
    pub entry: Entry,
    /// Checked before every step; when it holds the run ends as converted (SPEC 6 "exit conditions / goals").
    pub exit_when: Option<Expr>,
    /// `event.cart_id`: one run per value of this trigger-event property (keyed runs).
    pub key: Option<String>,
    /// The topic (one of the workspace's lists) the flow's marketing is about: people who opted out of it in
    /// the preference centre are skipped.
    pub topic: Option<String>,
    /// `priority` 0..100 as written (SPEC 16); [`FlowDef::priority`] gives the default when absent.
    pub priority: Option<u8>,
    pub start: String,
    pub steps: Vec<Step>,
}

impl FlowDef {
    /// The flow's priority: as written, else by its trigger (carts over browsing over other flows).
    pub fn priority(&self) -> u8 {
        self.priority.unwrap_or_else(|| match &self.trigger {
            Trigger::Event { events, .. } => {
                events.iter().map(|e| kairos_domain::priority::flow_default(Some(e), false)).max().unwrap_or_default()
            }
            Trigger::BackInStock | Trigger::PriceDrop { .. } => kairos_domain::priority::flow_default(None, true),
            _ => kairos_domain::priority::flow_default(None, false),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// Any of `events` (one, or up to [`TRIGGER_EVENTS_MAX`] for "whichever comes": cart activity).
    Event {
        events: Vec<String>,
        filter: Option<Expr>,
    },
    SegmentEntered {
        segment: String,
    },
    SegmentExited {
        segment: String,
    },
    Date {
        trait_name: String,
        days_before: i64,
    },
    BackInStock,
    PriceDrop {
        min_percent: f64,
    },
    FormSubmitted {
        form: Option<String>,
    },
    Api,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reentry {
    Once,
    Always,
    OncePer(Duration),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub filter: Option<Expr>,
    pub reentry: Reentry,
    /// Skip contacts without consent for the flow's marketing channels.
    pub require_consent: bool,
}

/// An event name as a definition gives it, with SPEC 2's generic names read as the events Kairos emits.
fn event_name(name: String) -> String {
    match canonical(&name) {
        c if c == name => name,
        c => c.to_string(),
    }
}

/// The channels of send steps are the domain's.
pub use kairos_domain::Channel;

/// What a marketing send does when smart sending, a frequency cap or quiet hours block it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendPolicy {
    Defer,
    Skip,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Delay {
    For(Duration),
    /// Until the next local `time` (HH:MM) on one of `weekdays` (0 = Monday; empty = any day).
    Until {
        time_minutes: u32,
        weekdays: Vec<u8>,
    },
    /// Until the trigger order's products are typically bought again (`reorder_interval: true`): the shortest
    /// reorder interval among them, learned from the store's orders; `default` when none is known (none: the run
    /// ends there, nothing to remind of).
    Reorder {
        default: Option<Duration>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct AbVariant {
    pub name: String,
    pub weight: u32,
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: String,
    pub kind: StepKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    Delay {
        delay: Delay,
        next: Option<String>,
    },
    WaitFor {
        event: String,
        filter: Option<Expr>,
        timeout: Duration,
        next: Option<String>,
        timeout_next: Option<String>,
    },
    Split {
        condition: Expr,
        yes: Option<String>,
        no: Option<String>,
    },
    AbSplit {
        variants: Vec<AbVariant>,
    },
    Send {
        channel: Channel,
        template: String,
        transactional: bool,
        smart_sending: Option<Option<Duration>>,
        on_blocked: SendPolicy,
        /// `"send_time": "best_hour"`: send-time optimisation; the message waits for the contact's best local
        /// hour (its `best_send_hour` trait, else the workspace's `default_send_hour`), at most a day.
        best_hour: bool,
        next: Option<String>,
    },
    UpdateProfile {
        set: Map<String, Value>,
        increment: Map<String, Value>,
        next: Option<String>,
    },
    Tag {
        add: Vec<String>,
        remove: Vec<String>,
        next: Option<String>,
    },
    IssueCoupon {
        pool: String,
        next: Option<String>,
        fallback_next: Option<String>,
    },
    Webhook {
        url: String,
        method: String,
        body: Option<Value>,
        next: Option<String>,
    },
    Task {
        message: String,
        next: Option<String>,
    },
    Exit,
}

impl StepKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            StepKind::Delay { .. } => "delay",
            StepKind::WaitFor { .. } => "wait_for",
            StepKind::Split { .. } => "split",
            StepKind::AbSplit { .. } => "ab_split",
            StepKind::Send { .. } => "send",
            StepKind::UpdateProfile { .. } => "update_profile",
            StepKind::Tag { .. } => "tag",
            StepKind::IssueCoupon { .. } => "issue_coupon",
            StepKind::Webhook { .. } => "webhook",
            StepKind::Task { .. } => "task",
            StepKind::Exit => "exit",
        }
    }

    /// Every step this one can lead to, with the JSON key naming it.
    pub fn successors(&self) -> Vec<(&'static str, &str)> {
        let list: Vec<Option<(&'static str, &str)>> = match self {
            StepKind::Delay { next, .. }
            | StepKind::Send { next, .. }
            | StepKind::UpdateProfile { next, .. }
            | StepKind::Tag { next, .. }
            | StepKind::Webhook { next, .. }
            | StepKind::Task { next, .. } => vec![next.as_deref().map(|s| ("next", s))],
            StepKind::WaitFor { next, timeout_next, .. } => {
                vec![next.as_deref().map(|s| ("next", s)), timeout_next.as_deref().map(|s| ("timeout_next", s))]
            }
            StepKind::Split { yes, no, .. } => {
                vec![yes.as_deref().map(|s| ("yes", s)), no.as_deref().map(|s| ("no", s))]
            }
            StepKind::IssueCoupon { next, fallback_next, .. } => {
                vec![next.as_deref().map(|s| ("next", s)), fallback_next.as_deref().map(|s| ("fallback_next", s))]
            }
            StepKind::AbSplit { variants } => {
                variants.iter().map(|v| v.next.as_deref().map(|s| ("variants", s))).collect()
            }
            StepKind::Exit => Vec::new(),
        };
        list.into_iter().flatten().collect()
    }

    /// Steps that make a run wait for time to pass (a loop must contain one).
    pub fn waits(&self) -> bool {
        matches!(self, StepKind::Delay { .. } | StepKind::WaitFor { .. })
    }
}

/// Reads the JSON fields of one object, tracking its path for errors and rejecting unknown keys.
struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
    used: Vec<&'static str>,
}

impl<'a> Obj<'a> {
    fn new(path: &str, v: &'a Value) -> Result<Obj<'a>, FlowError> {
        match v {
            Value::Object(map) => Ok(Obj { path: path.to_string(), map, used: Vec::new() }),
            _ => Err(FlowError::new(path_or_root(path), "must be a JSON object")),
        }
    }
    fn at(&self, key: &str) -> String {
        if self.path.is_empty() { key.to_string() } else { format!("{}.{key}", self.path) }
    }
    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.used.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }
    fn string(&mut self, key: &'static str) -> Result<Option<String>, FlowError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
            Some(_) => Err(FlowError::new(self.at(key), format!("{key} must be a non-empty string"))),
        }
    }
    fn required(&mut self, key: &'static str) -> Result<String, FlowError> {
        self.string(key)?.ok_or_else(|| FlowError::new(self.at(key), format!("{key} is required")))
    }
    fn duration(&mut self, key: &'static str) -> Result<Option<Duration>, FlowError> {
        match self.string(key)? {
            None => Ok(None),
            Some(s) => Duration::parse(&s).map(Some).ok_or_else(|| {
                FlowError::new(
                    self.at(key),
                    format!("{key} must be a duration like 30s, 15m, 4h, 2d or 1w (got {s:?})"),
                )
            }),
        }
    }
    fn boolean(&mut self, key: &'static str, default: bool) -> Result<bool, FlowError> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(FlowError::new(self.at(key), format!("{key} must be true or false"))),
        }
    }
    fn expr(&mut self, key: &'static str) -> Result<Option<Expr>, FlowError> {
        let at = self.at(key);
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(t)) => {
                kairos_segment::parse::parse(t).map(Some).map_err(|e| FlowError::new(at, e.to_string()))
            }
            Some(v @ Value::Object(_)) => kairos_segment::json::from_json(v)
                .map(Some)
                .map_err(|e| FlowError::new(e.path.as_deref().map_or(at.clone(), |p| format!("{at}.{p}")), e.message)),
            Some(_) => Err(FlowError::new(at, format!("{key} must be a condition, as text or JSON"))),
        }
    }
    /// Rejects keys this object does not define.
    fn finish(self) -> Result<(), FlowError> {
        for k in self.map.keys() {
            if !self.used.contains(&k.as_str()) {
                return Err(FlowError::new(self.at(k), format!("unknown field {k:?}")));
            }
        }
        Ok(())
    }
}

fn path_or_root(p: &str) -> String {
    if p.is_empty() { "$".into() } else { p.to_string() }
}

/// Parses a flow definition. Structure and types are checked here; graph rules in [`crate::validate`].
pub fn parse_flow(v: &Value) -> Result<FlowDef, FlowError> {
    let mut o = Obj::new("", v)?;
    let name = o.required("name")?;
    if name.chars().count() > 200 {
        return Err(FlowError::new("name", "name is longer than 200 characters"));
    }
    let trigger = parse_trigger(o.get("trigger").ok_or_else(|| FlowError::new("trigger", "trigger is required"))?)?;
    let entry = match o.get("entry") {
        None => Entry { filter: None, reentry: Reentry::Once, require_consent: true },
        Some(e) => parse_entry(e)?,
    };
    let exit_when = o.expr("exit_when")?;
    let key = o.string("key")?;
    if let Some(k) = &key
        && !(k.starts_with("event.") && k.len() > "event.".len())
    {
        return Err(FlowError::new("key", "key must name a trigger event property, like \"event.cart_id\""));
    }
    let topic = o.string("topic")?;
    if let Some(t) = &topic
        && !crate::is_topic_id(t)
    {
        return Err(FlowError::new("topic", "topic is a topic's id: lower-case letters, digits, - or _"));
    }
    let priority = kairos_domain::priority::parse(o.get("priority")).map_err(|m| FlowError::new("priority", m))?;
    let steps_v = match o.get("steps") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        Some(Value::Array(_)) | None => return Err(FlowError::new("steps", "steps must be a non-empty array")),
        Some(_) => return Err(FlowError::new("steps", "steps must be an array of steps")),
    };
    if steps_v.len() > STEPS_MAX {
        return Err(FlowError::new("steps", format!("a flow has at most {STEPS_MAX} steps")));
    }
    let steps = steps_v
        .iter()
        .enumerate()
        .map(|(i, s)| parse_step(&format!("steps[{i}]"), s))
        .collect::<Result<Vec<_>, _>>()?;
    let start = o.string("start")?.unwrap_or_else(|| steps[0].id.clone());
    // Settings are accepted and ignored until the sending discipline lands (kept in the stored JSON).
    let _ = o.get("settings");
    let _ = o.get("description");
    o.finish()?;
    Ok(FlowDef { name, trigger, entry, exit_when, key, topic, priority, start, steps })
}

/// Most events one trigger names.
pub const TRIGGER_EVENTS_MAX: usize = 5;

/// `"event": "Checkout Started"`, or `"events": ["Product Added", "Cart Viewed", "Checkout Started"]` (whichever
/// comes first enters the flow).
fn trigger_events(o: &mut Obj) -> Result<Vec<String>, FlowError> {
    match (o.string("event")?, o.get("events")) {
        (Some(e), None) => Ok(vec![event_name(e)]),
        (None, Some(Value::Array(list))) if !list.is_empty() && list.len() <= TRIGGER_EVENTS_MAX => {
            let mut out: Vec<String> = Vec::with_capacity(list.len());
            for (i, v) in list.iter().enumerate() {
                let name = v.as_str().map(str::trim).filter(|s| !s.is_empty() && s.len() <= 200).ok_or_else(|| {
                    FlowError::new(format!("trigger.events[{i}]"), "each event is a name of 1 to 200 bytes")
                })?;
                let name = event_name(name.to_string());
                if !out.contains(&name) {
                    out.push(name);
                }
            }
            Ok(out)
        }
        (None, Some(_)) => {
            Err(FlowError::new("trigger.events", format!("events is a list of 1 to {TRIGGER_EVENTS_MAX} event names")))
        }
        (Some(_), Some(_)) => Err(FlowError::new("trigger.events", "give event or events, not both")),
        (None, None) => Err(FlowError::new("trigger.event", "trigger.event is required")),
    }
}

fn parse_trigger(v: &Value) -> Result<Trigger, FlowError> {
    let mut o = Obj::new("trigger", v)?;
    let kind = o.required("type")?;
    let t = match kind.as_str() {
        // SPEC 2's generic message event names are read as the events Kairos emits (`Message Clicked`: `Email
        // Clicked`), here and in `wait_for`.
        "event" => Trigger::Event { events: trigger_events(&mut o)?, filter: o.expr("where")? },
        "segment_entered" => Trigger::SegmentEntered { segment: o.required("segment")? },
        "segment_exited" => Trigger::SegmentExited { segment: o.required("segment")? },
        "date" => {
            let trait_name = o.required("trait")?;
            let days_before = match o.get("days_before") {
                None => 0,
                Some(n) => n.as_i64().filter(|d| (0..=366).contains(d)).ok_or_else(|| {
                    FlowError::new("trigger.days_before", "days_before must be a whole number from 0 to 366")
                })?,
            };
            Trigger::Date { trait_name, days_before }
        }
        "back_in_stock" => Trigger::BackInStock,
        "price_drop" => {
            let min_percent = match o.get("min_percent") {
                None => 0.0,
                Some(n) => n.as_f64().filter(|p| (0.0..=100.0).contains(p)).ok_or_else(|| {
                    FlowError::new("trigger.min_percent", "min_percent must be a number from 0 to 100")
                })?,
            };
            Trigger::PriceDrop { min_percent }
        }
        "form_submitted" => Trigger::FormSubmitted { form: o.string("form")? },
        "api" => Trigger::Api,
        other => {
            return Err(FlowError::new(
                "trigger.type",
                format!(
                    "unknown trigger type {other:?}: use event, segment_entered, segment_exited, date, back_in_stock, price_drop, form_submitted or api"
                ),
            ));
        }
    };
    o.finish()?;
    Ok(t)
}

fn parse_entry(v: &Value) -> Result<Entry, FlowError> {
    let mut o = Obj::new("entry", v)?;
    let filter = o.expr("filter")?;
    let reentry = match o.string("reentry")?.as_deref() {
        None | Some("once") => Reentry::Once,
        Some("always") => Reentry::Always,
        Some(s) => match s.strip_prefix("once_per").map(str::trim).and_then(Duration::parse) {
            Some(d) => Reentry::OncePer(d),
            None => {
                return Err(FlowError::new(
                    "entry.reentry",
                    format!("reentry must be \"once\", \"always\" or \"once_per 7d\" (got {s:?})"),
                ));
            }
        },
    };
    let require_consent = o.boolean("require_consent", true)?;
    o.finish()?;
    Ok(Entry { filter, reentry, require_consent })
}

fn step_id(path: &str, o: &mut Obj<'_>) -> Result<String, FlowError> {
    let id = o.required("id")?;
    if id.chars().count() > STEP_ID_CHARS_MAX || !id.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
        return Err(FlowError::new(
            format!("{path}.id"),
            format!("a step id is 1 to {STEP_ID_CHARS_MAX} letters, digits, '_' or '-' (got {id:?})"),
        ));
    }
    Ok(id)
}

fn parse_time(path: &str, s: &str) -> Result<u32, FlowError> {
    let bad = || FlowError::new(path, format!("time must be HH:MM, like 09:30 (got {s:?})"));
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 || s.len() != 5 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn parse_step(path: &str, v: &Value) -> Result<Step, FlowError> {
    let mut o = Obj::new(path, v)?;
    let id = step_id(path, &mut o)?;
    let kind = o.required("type")?;
    let next = o.string("next")?;
    let has_next = next.is_some();
    let kind = match kind.as_str() {
        "delay" => {
            let reorder = o.boolean("reorder_interval", false)?;
            let delay = match (o.duration("duration")?, o.string("until")?) {
                (default, None) if reorder => Delay::Reorder { default },
                (_, Some(_)) if reorder => {
                    return Err(FlowError::new(
                        format!("{path}.until"),
                        "a reorder_interval delay waits for the order's products: give no until time",
                    ));
                }
                (Some(d), None) => Delay::For(d),
                (None, Some(t)) => {
                    let time_minutes = parse_time(&format!("{path}.until"), &t)?;
                    let weekdays = match o.get("weekdays") {
                        None => Vec::new(),
                        Some(Value::Array(days)) => days
                            .iter()
                            .enumerate()
                            .map(|(i, d)| {
                                d.as_str().and_then(weekday).ok_or_else(|| {
                                    FlowError::new(
                                        format!("{path}.weekdays[{i}]"),
                                        "weekdays are mon, tue, wed, thu, fri, sat, sun",
                                    )
                                })
                            })
                            .collect::<Result<_, _>>()?,
                        Some(_) => {
                            return Err(FlowError::new(
                                format!("{path}.weekdays"),
                                "weekdays must be a list like [\"mon\", \"fri\"]",
                            ));
                        }
                    };
                    Delay::Until { time_minutes, weekdays }
                }
                (Some(_), Some(_)) => {
                    return Err(FlowError::new(format!("{path}.until"), "give either duration or until, not both"));
                }
                (None, None) => {
                    return Err(FlowError::new(
                        format!("{path}.duration"),
                        "a delay needs a duration (\"4h\"), an until time (\"09:00\") or reorder_interval: true",
                    ));
                }
            };
            StepKind::Delay { delay, next }
        }
        "wait_for" => StepKind::WaitFor {
            event: event_name(o.required("event")?),
            filter: o.expr("where")?,
            timeout: o
                .duration("timeout")?
                .ok_or_else(|| FlowError::new(format!("{path}.timeout"), "timeout is required"))?,
            next,
            timeout_next: o.string("timeout_next")?,
        },
        "split" => StepKind::Split {
            condition: o
                .expr("condition")?
                .ok_or_else(|| FlowError::new(format!("{path}.condition"), "condition is required"))?,
            yes: o.string("yes")?,
            no: o.string("no")?,
        },
        "ab_split" => {
            let variants = match o.get("variants") {
                Some(Value::Array(vs)) if (2..=VARIANTS_MAX).contains(&vs.len()) => vs
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let vp = format!("{path}.variants[{i}]");
                        let mut vo = Obj::new(&vp, v)?;
                        let name = vo.string("name")?.unwrap_or_else(|| ((b'A' + i as u8) as char).to_string());
                        let weight = match vo.get("weight") {
                            None => 1,
                            Some(w) => w.as_u64().filter(|w| (1..=1_000_000).contains(w)).ok_or_else(|| {
                                FlowError::new(
                                    format!("{vp}.weight"),
                                    "weight must be a whole number from 1 to 1000000",
                                )
                            })? as u32,
                        };
                        let next = vo.string("next")?;
                        vo.finish()?;
                        Ok(AbVariant { name, weight, next })
                    })
                    .collect::<Result<Vec<_>, FlowError>>()?,
                _ => {
                    return Err(FlowError::new(
                        format!("{path}.variants"),
                        format!("variants must be a list of 2 to {VARIANTS_MAX} variants"),
                    ));
                }
            };
            StepKind::AbSplit { variants }
        }
        "send" => {
            let channel_name = o.required("channel")?;
            let channel = match Channel::parse(&channel_name) {
                Some(c @ (Channel::Email | Channel::Sms | Channel::Chat)) => c,
                Some(Channel::Webhook) => {
                    return Err(FlowError::new(
                        format!("{path}.channel"),
                        "a webhook is its own step: use {\"type\": \"webhook\", \"url\": ...}",
                    ));
                }
                None => {
                    return Err(FlowError::new(
                        format!("{path}.channel"),
                        format!("unknown channel {channel_name:?}: use email, sms or chat"),
                    ));
                }
            };
            let smart_sending = match o.get("smart_sending") {
                None => None,
                Some(Value::Bool(false)) => Some(None),
                Some(Value::String(s)) => Some(Some(Duration::parse(s).ok_or_else(|| {
                    FlowError::new(
                        format!("{path}.smart_sending"),
                        "smart_sending must be false or a duration like 16h",
                    )
                })?)),
                Some(_) => {
                    return Err(FlowError::new(
                        format!("{path}.smart_sending"),
                        "smart_sending must be false or a duration like 16h",
                    ));
                }
            };
            let on_blocked = match o.string("on_blocked")?.as_deref() {
                None | Some("defer") => SendPolicy::Defer,
                Some("skip") => SendPolicy::Skip,
                Some(other) => {
                    return Err(FlowError::new(
                        format!("{path}.on_blocked"),
                        format!("on_blocked must be \"defer\" or \"skip\" (got {other:?})"),
                    ));
                }
            };
            let best_hour = match o.string("send_time")?.as_deref() {
                None | Some("now") => false,
                Some("best_hour") => true,
                Some(other) => {
                    return Err(FlowError::new(
                        format!("{path}.send_time"),
                        format!("send_time must be \"now\" or \"best_hour\" (got {other:?})"),
                    ));
                }
            };
            StepKind::Send {
                channel,
                template: o.required("template")?,
                transactional: o.boolean("transactional", false)?,
                smart_sending,
                on_blocked,
                best_hour,
                next,
            }
        }
        "update_profile" => {
            let object = |o: &mut Obj<'_>, key: &'static str| -> Result<Map<String, Value>, FlowError> {
                match o.get(key) {
                    None => Ok(Map::new()),
                    Some(Value::Object(m)) => Ok(m.clone()),
                    Some(_) => {
                        Err(FlowError::new(format!("{path}.{key}"), format!("{key} must be an object of traits")))
                    }
                }
            };
            let set = object(&mut o, "set")?;
            let increment = object(&mut o, "increment")?;
            if let Some((k, _)) = increment.iter().find(|(_, v)| !v.is_number()) {
                return Err(FlowError::new(format!("{path}.increment.{k}"), "increments must be numbers"));
            }
            if set.is_empty() && increment.is_empty() {
                return Err(FlowError::new(format!("{path}.set"), "update_profile needs set or increment"));
            }
            StepKind::UpdateProfile { set, increment, next }
        }
        "tag" => {
            let list = |o: &mut Obj<'_>, key: &'static str| -> Result<Vec<String>, FlowError> {
                match o.get(key) {
                    None => Ok(Vec::new()),
                    Some(Value::Array(a)) => a
                        .iter()
                        .map(|t| t.as_str().filter(|s| !s.is_empty()).map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| {
                            FlowError::new(format!("{path}.{key}"), format!("{key} must be a list of tag names"))
                        }),
                    Some(_) => {
                        Err(FlowError::new(format!("{path}.{key}"), format!("{key} must be a list of tag names")))
                    }
                }
            };
            let add = list(&mut o, "add")?;
            let remove = list(&mut o, "remove")?;
            if add.is_empty() && remove.is_empty() {
                return Err(FlowError::new(format!("{path}.add"), "tag needs add or remove"));
            }
            StepKind::Tag { add, remove, next }
        }
        "issue_coupon" => {
            StepKind::IssueCoupon { pool: o.required("pool")?, next, fallback_next: o.string("fallback_next")? }
        }
        "webhook" => {
            let url = o.required("url")?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(FlowError::new(format!("{path}.url"), "url must start with http:// or https://"));
            }
            let method = o.string("method")?.unwrap_or_else(|| "POST".into()).to_ascii_uppercase();
            if !["POST", "PUT", "PATCH", "GET"].contains(&method.as_str()) {
                return Err(FlowError::new(format!("{path}.method"), "method must be POST, PUT, PATCH or GET"));
            }
            StepKind::Webhook { url, method, body: o.get("body").cloned(), next }
        }
        "task" => StepKind::Task { message: o.required("message")?, next },
        "exit" => StepKind::Exit,
        other => {
            return Err(FlowError::new(
                format!("{path}.type"),
                format!(
                    "unknown step type {other:?}: use delay, wait_for, split, ab_split, send, update_profile, tag, issue_coupon, webhook, task or exit"
                ),
            ));
        }
    };
    if matches!(kind, StepKind::Exit | StepKind::Split { .. } | StepKind::AbSplit { .. }) && has_next {
        return Err(FlowError::new(format!("{path}.next"), format!("a {} step does not take next", kind.type_name())));
    }
    o.finish()?;
    Ok(Step { id, kind })
}

fn weekday(s: &str) -> Option<u8> {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].iter().position(|d| s.eq_ignore_ascii_case(d)).map(|i| i as u8)
}

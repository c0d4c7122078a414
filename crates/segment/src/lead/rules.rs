//! The workspace's lead-scoring rules and lifecycle thresholds: read from the settings document
//! (`lead_scoring`, `lifecycle`), checked whole with the field of every problem, and shown back.

use kairos_domain::{Duration, SystemEvent};
use serde_json::{Map, Value, json};

use crate::ast::{Expr, FieldPath, Literal};
use crate::eval::{Node, compile_filter};

/// Most event rules in a workspace.
pub const LEAD_EVENT_RULES_MAX: usize = 100;
/// Most trait rules in a workspace.
pub const LEAD_TRAIT_RULES_MAX: usize = 100;
/// Largest points (either sign) one rule gives.
pub const LEAD_RULE_POINTS_ABS_MAX: i64 = 1_000;
/// Largest `max_times` of an event rule.
pub const LEAD_RULE_TIMES_MAX: u64 = 1_000;
/// Longest event name or trait path of a rule, in bytes.
pub const LEAD_RULE_NAME_BYTES_MAX: usize = 200;
/// Longest `where` condition of an event rule (as text), in bytes.
pub const LEAD_RULE_WHERE_BYTES_MAX: usize = 4 * 1024;
/// Shortest and longest half-life.
pub const LEAD_HALF_LIFE_MIN: Duration = Duration::from_secs(3_600);
pub const LEAD_HALF_LIFE_MAX: Duration = Duration::from_secs(3_650 * 86_400);
/// Longest at-risk or lapsed delay.
pub const LIFECYCLE_DELAY_MAX: Duration = Duration::from_secs(3_650 * 86_400);

/// The event name that also counts page calls (`kairos.page()`, Segment's `page`), whatever the page's name.
pub const PAGE_VIEWED: &str = "Page Viewed";

/// A rejected rule or threshold: the settings path (`lead_scoring.events[2].points`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadError {
    pub field: String,
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> LeadError {
    LeadError { field: field.into(), message: message.into() }
}

/// Points for an event, optionally only when its properties match `where`, optionally counted at most
/// `max_times` at once (the rule then holds at most `max_times × points`; as they decay it counts again).
#[derive(Debug, Clone, PartialEq)]
pub struct EventRule {
    /// The event's name (a generic alias such as `Message Clicked` is stored as the emitted `Email Clicked`).
    pub event: String,
    pub filter: Option<Expr>,
    pub(crate) node: Option<Node>,
    pub points: i64,
    pub max_times: Option<u64>,
    /// Identifies the rule's share of a profile's points across edits of its points or cap.
    pub(crate) key: u32,
}

/// What a trait rule tests.
#[derive(Debug, Clone, PartialEq)]
pub enum TraitTest {
    Exists,
    Equals(Value),
}

/// Points while a profile trait exists or equals a value (not decayed: they describe who the person is).
#[derive(Debug, Clone, PartialEq)]
pub struct TraitRule {
    /// The trait's path below `trait.` (`plan`, `address.country`).
    pub path: String,
    pub test: TraitTest,
    pub points: i64,
    pub(crate) node: Node,
}

/// How points are earned and how they fade.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadScoring {
    /// Event points lose half their value every `half_life`; none: they never fade.
    pub half_life: Option<Duration>,
    pub events: Vec<EventRule>,
    pub traits: Vec<TraitRule>,
}

impl LeadScoring {
    /// The top-level traits the trait rules read (`address` for `address.country`): what a profile read for
    /// the score needs of its traits.
    pub fn trait_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> =
            self.traits.iter().map(|r| r.path.split('.').next().unwrap_or_default().to_string()).collect();
        keys.sort();
        keys.dedup();
        keys
    }
}

/// Thresholds of the lifecycle stages.
#[derive(Debug, Clone, PartialEq)]
pub struct Lifecycle {
    /// A contact without orders is a `lead` from this score on.
    pub lead_score: i64,
    /// A customer is `vip` from this lifetime value (store currency, net of refunds) ...
    pub vip_lifetime_value: f64,
    /// ... or from this many orders (none: value only).
    pub vip_orders: Option<u64>,
    /// A customer is `at_risk` this long after their last order, and `lapsed` after `lapsed_after`.
    pub at_risk_after: Duration,
    pub lapsed_after: Duration,
}

/// Both, as one workspace's settings hold them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LeadSettings {
    pub scoring: LeadScoring,
    pub lifecycle: Lifecycle,
}

impl Default for LeadScoring {
    /// What a store would start with: browsing, carts, checkouts, forms and clicks earn points (each capped,
    /// so a busy browser does not outscore a buyer-to-be), an unsubscribe costs some; a birthday given counts.
    fn default() -> Self {
        let rule =
            |event: &str, points: i64, max_times: u64| EventRule::new(event.into(), None, points, Some(max_times));
        LeadScoring {
            half_life: Some(Duration::from_secs(30 * 86_400)),
            events: vec![
                rule(PAGE_VIEWED, 1, 20),
                rule("Product Viewed", 3, 10),
                rule("Product Added", 10, 3),
                rule("Checkout Started", 15, 2),
                rule(SystemEvent::FormSubmitted.as_str(), 20, 2),
                rule(SystemEvent::EmailClicked.as_str(), 5, 6),
                rule(SystemEvent::Unsubscribed.as_str(), -20, 1),
            ],
            traits: vec![TraitRule::new("birthday".into(), TraitTest::Exists, 5)],
        }
    }
}

impl Default for Lifecycle {
    /// In line with the flow library: its VIP segment (`orders.total_spent > 1000 or orders.count >= 5`) and
    /// its win-back segment (no order for 90 days).
    fn default() -> Self {
        Lifecycle {
            lead_score: 50,
            vip_lifetime_value: 1_000.0,
            vip_orders: Some(5),
            at_risk_after: Duration::from_secs(90 * 86_400),
            lapsed_after: Duration::from_secs(180 * 86_400),
        }
    }
}

/// FNV-1a: a hash that stays the same across builds (the key is stored on profiles).
fn stable_hash(parts: &[&str]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h = (h ^ 0xff).wrapping_mul(0x0100_0193);
        }
        for b in p.bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
    }
    h
}

impl EventRule {
    /// A rule whose `filter` is known to compile (defaults, tests); [`LeadScoring::apply`] checks user input.
    pub fn new(event: String, filter: Option<Expr>, points: i64, max_times: Option<u64>) -> EventRule {
        let node = filter.as_ref().and_then(|f| compile_filter(f).ok());
        let where_key = filter.as_ref().map(|f| crate::json::to_json(f).to_string()).unwrap_or_default();
        let key = stable_hash(&[&event, &where_key]);
        EventRule { event, filter, node, points, max_times, key }
    }

    fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("event".into(), json!(self.event));
        if let Some(f) = &self.filter {
            o.insert("where".into(), json!(crate::print::to_text(f)));
        }
        o.insert("points".into(), json!(self.points));
        if let Some(n) = self.max_times {
            o.insert("max_times".into(), json!(n));
        }
        Value::Object(o)
    }
}

impl TraitRule {
    pub fn new(path: String, test: TraitTest, points: i64) -> TraitRule {
        let field = FieldPath(path.clone());
        let expr = match &test {
            TraitTest::Exists => Expr::Exists { field },
            TraitTest::Equals(v) => {
                let value = match v {
                    Value::String(s) => Literal::Str(s.clone()),
                    Value::Bool(b) => Literal::Bool(*b),
                    Value::Number(n) => Literal::Num(n.as_f64().unwrap_or(0.0)),
                    _ => Literal::Null,
                };
                Expr::Compare { field, op: crate::CompareOp::Eq, value }
            }
        };
        // A trait path read as an event-property path: the same walk (lists, numeric strings) as `trait.x`.
        let node = compile_filter(&expr).unwrap_or(Node::And(Vec::new()));
        TraitRule { path, test, points, node }
    }

    fn to_json(&self) -> Value {
        match &self.test {
            TraitTest::Exists => json!({"trait": self.path, "exists": true, "points": self.points}),
            TraitTest::Equals(v) => json!({"trait": self.path, "equals": v, "points": self.points}),
        }
    }
}

/// The keys of one object, each read at most once; the ones left over are errors.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    at: String,
    used: Vec<&'static str>,
}

impl<'a> Obj<'a> {
    fn new(v: &'a Value, at: &str) -> Result<Obj<'a>, LeadError> {
        let map = v.as_object().ok_or_else(|| err(at, "expected an object"))?;
        Ok(Obj { map, at: at.to_string(), used: Vec::new() })
    }
    fn field(&self, key: &str) -> String {
        format!("{}.{key}", self.at)
    }
    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.used.push(key);
        self.map.get(key)
    }
    fn finish(self) -> Result<(), LeadError> {
        match self.map.keys().find(|k| !self.used.contains(&k.as_str())) {
            Some(k) => Err(err(self.field(k), format!("unknown key {k:?}"))),
            None => Ok(()),
        }
    }
}

fn points(v: Option<&Value>, field: String) -> Result<i64, LeadError> {
    let max = LEAD_RULE_POINTS_ABS_MAX;
    match v.and_then(Value::as_i64) {
        Some(p) if p != 0 && p.abs() <= max => Ok(p),
        _ => Err(err(field, format!("expected a whole number of points from -{max} to {max}, not 0"))),
    }
}

fn duration(v: &Value, field: &str, min: Duration, max: Duration) -> Result<Duration, LeadError> {
    let d = v.as_str().and_then(Duration::parse);
    match d {
        Some(d) if d >= min && d <= max => Ok(d),
        _ => Err(err(field, format!("expected a duration like 30d, from {min} to {max}"))),
    }
}

fn name(v: Option<&Value>, field: &str, what: &str) -> Result<String, LeadError> {
    match v.and_then(Value::as_str).map(str::trim) {
        Some(s) if !s.is_empty() && s.len() <= LEAD_RULE_NAME_BYTES_MAX => Ok(s.to_string()),
        _ => Err(err(field, format!("expected {what} (a text of 1 to {LEAD_RULE_NAME_BYTES_MAX} bytes)"))),
    }
}

/// Events Kairos writes about its own work: scoring them could feed back into itself (a stage change or a
/// segment entry earning the points that change it again).
fn bookkeeping(event: &str) -> bool {
    use SystemEvent as S;
    matches!(
        SystemEvent::named(event),
        Some(
            S::SegmentEntered
                | S::SegmentExited
                | S::FlowEntered
                | S::MessageSent
                | S::CouponIssued
                | S::TaskCreated
                | S::LifecycleStageChanged
        )
    )
}

fn event_rule(v: &Value, at: &str) -> Result<EventRule, LeadError> {
    let mut o = Obj::new(v, at)?;
    let event = name(o.get("event"), &o.field("event"), "an event name")?;
    let event = kairos_domain::system_event::canonical(&event).to_string();
    if bookkeeping(&event) {
        return Err(err(
            o.field("event"),
            format!("{event:?} is written by Kairos about its own work and cannot score"),
        ));
    }
    let where_at = o.field("where");
    let filter = match o.get("where") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if t.len() > LEAD_RULE_WHERE_BYTES_MAX => {
            return Err(err(where_at, format!("at most {LEAD_RULE_WHERE_BYTES_MAX} bytes")));
        }
        Some(Value::String(t)) => Some(crate::parse::parse(t).map_err(|e| err(&where_at, e.to_string()))?),
        Some(j @ Value::Object(_)) => Some(crate::json::from_json(j).map_err(|e| err(&where_at, e.to_string()))?),
        Some(_) => return Err(err(where_at, "expected a condition on the event's properties, as text or JSON")),
    };
    if let Some(f) = &filter {
        compile_filter(f).map_err(|e| err(&where_at, e.to_string()))?;
    }
    let points = points(o.get("points"), o.field("points"))?;
    let max_times = match o.get("max_times") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=LEAD_RULE_TIMES_MAX).contains(&n) => Some(n),
            _ => {
                return Err(err(
                    o.field("max_times"),
                    format!("expected a whole number from 1 to {LEAD_RULE_TIMES_MAX}, or null"),
                ));
            }
        },
    };
    o.finish()?;
    Ok(EventRule::new(event, filter, points, max_times))
}

fn trait_rule(v: &Value, at: &str) -> Result<TraitRule, LeadError> {
    let mut o = Obj::new(v, at)?;
    let path = name(o.get("trait"), &o.field("trait"), "a trait name like plan or address.country")?;
    let path = path.strip_prefix("trait.").or_else(|| path.strip_prefix("traits.")).unwrap_or(&path).to_string();
    if path.split('.').any(str::is_empty) {
        return Err(err(o.field("trait"), format!("{path:?} is not a trait path")));
    }
    let test = match (o.get("exists"), o.get("equals")) {
        (Some(Value::Bool(true)), None) => TraitTest::Exists,
        (None, Some(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_)))) => TraitTest::Equals(v.clone()),
        (None, Some(_)) => return Err(err(o.field("equals"), "expected a text, a number or true/false")),
        (Some(_), None) => return Err(err(o.field("exists"), "expected true")),
        _ => return Err(err(at, "give either \"exists\": true or \"equals\": a value")),
    };
    let points = points(o.get("points"), o.field("points"))?;
    o.finish()?;
    Ok(TraitRule::new(path, test, points))
}

fn list<T>(
    v: &Value,
    at: &str,
    max: usize,
    default: Vec<T>,
    item: fn(&Value, &str) -> Result<T, LeadError>,
) -> Result<Vec<T>, LeadError> {
    if v.is_null() {
        return Ok(default);
    }
    let items = v.as_array().ok_or_else(|| err(at, "expected a list of rules"))?;
    if items.len() > max {
        return Err(err(at, format!("at most {max} rules")));
    }
    items.iter().enumerate().map(|(i, x)| item(x, &format!("{at}[{i}]"))).collect()
}

impl LeadScoring {
    /// These rules with the keys of `patch` applied (`null` returns a key to its default; `"off"` stops decay).
    pub fn apply(&self, patch: &Value, at: &str) -> Result<LeadScoring, LeadError> {
        if patch.is_null() {
            return Ok(LeadScoring::default());
        }
        let mut s = self.clone();
        let mut o = Obj::new(patch, at)?;
        if let Some(v) = o.get("half_life") {
            s.half_life = match v {
                Value::Null => LeadScoring::default().half_life,
                Value::String(t) if t == "off" => None,
                _ => Some(duration(v, &o.field("half_life"), LEAD_HALF_LIFE_MIN, LEAD_HALF_LIFE_MAX)?),
            };
        }
        if let Some(v) = o.get("events") {
            let at = o.field("events");
            s.events = list(v, &at, LEAD_EVENT_RULES_MAX, LeadScoring::default().events, event_rule)?;
            // Two rules for the same event and condition would share one cap: one rule says it all.
            for (i, r) in s.events.iter().enumerate() {
                if let Some(j) = s.events[..i].iter().position(|q| q.key == r.key) {
                    return Err(err(format!("{at}[{i}]"), format!("same event and condition as {at}[{j}]")));
                }
            }
        }
        if let Some(v) = o.get("traits") {
            s.traits = list(v, &o.field("traits"), LEAD_TRAIT_RULES_MAX, LeadScoring::default().traits, trait_rule)?;
        }
        o.finish()?;
        Ok(s)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "half_life": self.half_life.map_or_else(|| json!("off"), |d| json!(d.to_string())),
            "events": self.events.iter().map(EventRule::to_json).collect::<Vec<_>>(),
            "traits": self.traits.iter().map(TraitRule::to_json).collect::<Vec<_>>(),
        })
    }
}

impl Lifecycle {
    /// These thresholds with the keys of `patch` applied (`null` returns a key to its default).
    pub fn apply(&self, patch: &Value, at: &str) -> Result<Lifecycle, LeadError> {
        if patch.is_null() {
            return Ok(Lifecycle::default());
        }
        let d = Lifecycle::default();
        let mut s = self.clone();
        let mut o = Obj::new(patch, at)?;
        if let Some(v) = o.get("lead_score") {
            s.lead_score = match v {
                Value::Null => d.lead_score,
                _ => v
                    .as_i64()
                    .filter(|n| (1..=1_000_000).contains(n))
                    .ok_or_else(|| err(o.field("lead_score"), "expected a whole number of points from 1 to 1000000"))?,
            };
        }
        if let Some(v) = o.get("vip_lifetime_value") {
            s.vip_lifetime_value = match v {
                Value::Null => d.vip_lifetime_value,
                _ => v.as_f64().filter(|n| n.is_finite() && *n > 0.0 && *n <= 1e12).ok_or_else(|| {
                    err(o.field("vip_lifetime_value"), "expected an amount in the store currency, above 0")
                })?,
            };
        }
        if let Some(v) = o.get("vip_orders") {
            s.vip_orders = match v {
                Value::Null => d.vip_orders,
                Value::String(t) if t == "off" => None,
                _ => Some(
                    v.as_u64()
                        .filter(|n| (1..=1_000_000).contains(n))
                        .ok_or_else(|| err(o.field("vip_orders"), "expected a number of orders from 1, or \"off\""))?,
                ),
            };
        }
        for (key, slot, default) in [
            ("at_risk_after", &mut s.at_risk_after, d.at_risk_after),
            ("lapsed_after", &mut s.lapsed_after, d.lapsed_after),
        ] {
            if let Some(v) = o.get(key) {
                let min = Duration::from_secs(86_400);
                *slot = if v.is_null() { default } else { duration(v, &o.field(key), min, LIFECYCLE_DELAY_MAX)? };
            }
        }
        let lapsed = o.field("lapsed_after");
        o.finish()?;
        if s.lapsed_after <= s.at_risk_after {
            return Err(err(lapsed, format!("must be longer than at_risk_after ({})", s.at_risk_after)));
        }
        Ok(s)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "lead_score": self.lead_score,
            "vip_lifetime_value": self.vip_lifetime_value,
            "vip_orders": self.vip_orders.map_or_else(|| json!("off"), |n| json!(n)),
            "at_risk_after": self.at_risk_after.to_string(),
            "lapsed_after": self.lapsed_after.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_and_patches_merge() {
        let d = LeadScoring::default();
        assert_eq!(d.apply(&d.to_json(), "lead_scoring").unwrap(), d);
        let l = Lifecycle::default();
        assert_eq!(l.apply(&l.to_json(), "lifecycle").unwrap(), l);
        let s = d
            .apply(
                &json!({"half_life": "off", "events": [{"event": "Message Clicked", "where": "url contains \"sale\"",
                    "points": 4}], "traits": [{"trait": "trait.plan", "equals": "pro", "points": 7}]}),
                "lead_scoring",
            )
            .unwrap();
        assert_eq!(s.half_life, None);
        assert_eq!(s.events[0].event, "Email Clicked", "an alias is stored as the emitted name");
        assert_eq!(s.traits[0].path, "plan");
        assert_eq!(s.apply(&s.to_json(), "x").unwrap(), s);
        assert_eq!(s.apply(&json!({"events": null}), "x").unwrap().events, d.events);
        let l2 = l.apply(&json!({"vip_orders": "off", "at_risk_after": "30d"}), "lifecycle").unwrap();
        assert_eq!((l2.vip_orders, l2.at_risk_after), (None, Duration::from_secs(30 * 86_400)));
        assert_eq!(l2.lapsed_after, l.lapsed_after);
    }

    #[test]
    fn the_key_survives_edits_of_points_but_not_of_the_condition() {
        let a = EventRule::new("X".into(), None, 3, Some(2));
        assert_eq!(a.key, EventRule::new("X".into(), None, 9, None).key);
        let f = crate::parse::parse("price > 10").unwrap();
        assert_ne!(a.key, EventRule::new("X".into(), Some(f), 3, Some(2)).key);
        assert_ne!(stable_hash(&["ab", "c"]), stable_hash(&["a", "bc"]));
    }

    #[test]
    fn bad_rules_name_their_field() {
        let d = LeadScoring::default();
        for (patch, field) in [
            (json!({"half_life": "soon"}), "lead_scoring.half_life"),
            (json!({"half_life": "10m"}), "lead_scoring.half_life"),
            (json!({"events": {}}), "lead_scoring.events"),
            (json!({"events": [{"event": "A", "points": 1}, {"points": 1}]}), "lead_scoring.events[1].event"),
            (json!({"events": [{"event": "A", "points": 0}]}), "lead_scoring.events[0].points"),
            (json!({"events": [{"event": "A", "points": 1.5}]}), "lead_scoring.events[0].points"),
            (json!({"events": [{"event": "A", "points": 5000}]}), "lead_scoring.events[0].points"),
            (json!({"events": [{"event": "A", "points": 1, "max_times": 0}]}), "lead_scoring.events[0].max_times"),
            (json!({"events": [{"event": "A", "points": 1, "where": "price >"}]}), "lead_scoring.events[0].where"),
            (
                json!({"events": [{"event": "A", "points": 1, "where": "in segment \"x\""}]}),
                "lead_scoring.events[0].where",
            ),
            (json!({"events": [{"event": "A", "points": 1, "colour": 1}]}), "lead_scoring.events[0].colour"),
            (json!({"events": [{"event": "Segment Entered", "points": 1}]}), "lead_scoring.events[0].event"),
            (json!({"events": [{"event": "Lifecycle Stage Changed", "points": 1}]}), "lead_scoring.events[0].event"),
            (json!({"traits": [{"trait": "plan", "points": 1}]}), "lead_scoring.traits[0]"),
            (json!({"traits": [{"trait": "plan", "equals": [1], "points": 1}]}), "lead_scoring.traits[0].equals"),
            (json!({"traits": [{"trait": "a..b", "exists": true, "points": 1}]}), "lead_scoring.traits[0].trait"),
            (json!({"decay": "30d"}), "lead_scoring.decay"),
        ] {
            assert_eq!(d.apply(&patch, "lead_scoring").unwrap_err().field, field, "{patch}");
        }
        let many: Vec<Value> = (0..=LEAD_EVENT_RULES_MAX).map(|_| json!({"event": "A", "points": 1})).collect();
        assert_eq!(d.apply(&json!({"events": many}), "lead_scoring").unwrap_err().field, "lead_scoring.events");
        let l = Lifecycle::default();
        for (patch, field) in [
            (json!({"lead_score": 0}), "lifecycle.lead_score"),
            (json!({"vip_lifetime_value": -1}), "lifecycle.vip_lifetime_value"),
            (json!({"vip_orders": 0}), "lifecycle.vip_orders"),
            (json!({"at_risk_after": "2h"}), "lifecycle.at_risk_after"),
            (json!({"at_risk_after": "200d"}), "lifecycle.lapsed_after"),
            (json!({"lapsed": "1d"}), "lifecycle.lapsed"),
        ] {
            assert_eq!(l.apply(&patch, "lifecycle").unwrap_err().field, field, "{patch}");
        }
    }
}

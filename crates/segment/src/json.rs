//! Canonical JSON form (the stored form of segments and flow conditions).
//!
//! ```text
//! {"and": [e, ...]}  {"or": [e, ...]}  (non-empty; one element means just that element)   {"not": e}
//! {"field": "orders.count", "op": ">=", "value": 3}     op: = != > >= < <= contains starts_with ("==" is read as "=")
//!                                                        value: string | number | true | false | null
//! {"field": "trait.email", "op": "exists"}
//! {"field": "trait.city", "op": "in", "value": ["Helsinki", "Tampere"]}      (1 to 1000 values)
//! {"field": "last_seen_at", "op": "before_ago" | "after_ago" | "within", "value": "90d"}
//! {"did": "Checkout Started", "where": e?, window?}
//! {"count": "Product Viewed", "where": e?, window?, "op": ">=", "value": 2}  op: = != > >= < <=; value: u64
//!     window: one of "within" | "before_ago" | "after_ago": "4h", or "since_entry": true
//! {"consent": "email" | "sms", "status": "subscribed" | "unsubscribed"}
//! {"in_segment": "VIP"}
//! ```
//!
//! Errors carry the JSON path of the offending value (`and[1].value`, `not.where.op`; none for the root
//! object itself). Unknown keys are errors. The limits and rules of the text language apply (see
//! `parse`), checked by [`validate`], so every accepted definition round-trips through the text form.

use kairos_domain::Duration;
use serde_json::{Map, Value, json};

use crate::ast::{
    CONDITIONS_MAX, Channel, CompareOp, ConsentIs, DEPTH_MAX, Expr, FieldPath, IN_VALUES_MAX, Literal, Relative,
    TEXT_BYTES_MAX, Window,
};
use crate::error::SegmentError;
use crate::parse::{FILTER_ONLY_PROPERTIES, too_deep, too_many_conditions, too_many_values};
use crate::print::to_text;

const KINDS: [&str; 8] = ["and", "or", "not", "field", "did", "count", "consent", "in_segment"];
const WINDOW_KEYS: [&str; 4] = ["within", "before_ago", "after_ago", "since_entry"];
const FIELD_OPS: &str =
    "expected an operator (=, !=, >, >=, <, <=, contains, starts_with, in, exists, before_ago, after_ago, within)";
const COUNT_OPS: &str = "expected one of =, !=, >, >=, <, <=";
const DURATION_EXPECTED: &str = "expected a duration like 4h";
const VALUE_EXPECTED: &str = "expected a string, number, true, false or null";

/// Reads the canonical JSON form.
pub fn from_json(v: &Value) -> Result<Expr, SegmentError> {
    let e = Reader { conditions: 0 }.expr(v, "", 1, false)?;
    validate(&e)?;
    Ok(e)
}

/// Writes the canonical JSON form.
pub fn to_json(e: &Expr) -> Value {
    match e {
        Expr::And(xs) => json!({ "and": xs.iter().map(to_json).collect::<Vec<_>>() }),
        Expr::Or(xs) => json!({ "or": xs.iter().map(to_json).collect::<Vec<_>>() }),
        Expr::Not(x) => json!({ "not": to_json(x) }),
        Expr::Compare { field, op, value } => {
            json!({ "field": field.as_str(), "op": op.as_str(), "value": literal_json(value) })
        }
        Expr::Exists { field } => json!({ "field": field.as_str(), "op": "exists" }),
        Expr::In { field, values } => {
            json!({ "field": field.as_str(), "op": "in", "value": values.iter().map(literal_json).collect::<Vec<_>>() })
        }
        Expr::Relative { field, rel } => {
            let (op, d) = match rel {
                Relative::BeforeAgo(d) => ("before_ago", d),
                Relative::AfterAgo(d) => ("after_ago", d),
                Relative::Within(d) => ("within", d),
            };
            json!({ "field": field.as_str(), "op": op, "value": d.to_string() })
        }
        Expr::Did { event, filter, window } => {
            let mut m = Map::new();
            m.insert("did".into(), Value::from(event.as_str()));
            event_parts(&mut m, filter.as_deref(), window.as_ref());
            Value::Object(m)
        }
        Expr::Count { event, filter, window, op, value } => {
            let mut m = Map::new();
            m.insert("count".into(), Value::from(event.as_str()));
            event_parts(&mut m, filter.as_deref(), window.as_ref());
            m.insert("op".into(), Value::from(op.as_str()));
            m.insert("value".into(), Value::from(*value));
            Value::Object(m)
        }
        Expr::Consent { channel, status } => json!({ "consent": channel.as_str(), "status": status.as_str() }),
        Expr::InSegment(name) => json!({ "in_segment": name }),
    }
}

fn event_parts(m: &mut Map<String, Value>, filter: Option<&Expr>, window: Option<&Window>) {
    if let Some(f) = filter {
        m.insert("where".into(), to_json(f));
    }
    match window {
        None => {}
        Some(Window::Within(d)) => _ = m.insert("within".into(), Value::from(d.to_string())),
        Some(Window::BeforeAgo(d)) => _ = m.insert("before_ago".into(), Value::from(d.to_string())),
        Some(Window::AfterAgo(d)) => _ = m.insert("after_ago".into(), Value::from(d.to_string())),
        Some(Window::SinceEntry) => _ = m.insert("since_entry".into(), Value::Bool(true)),
    }
}

/// Integral numbers as JSON integers (`3`, not `3.0`); others as floats. Non-finite numbers (not valid in a
/// tree) become `null`.
fn literal_json(v: &Literal) -> Value {
    match v {
        Literal::Str(s) => Value::from(s.as_str()),
        Literal::Num(n) if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_992.0 => Value::from(*n as i64),
        Literal::Num(n) => serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number),
        Literal::Bool(b) => Value::Bool(*b),
        Literal::Null => Value::Null,
    }
}

// ---------------------------------------------------------------------------------------------------------
// Paths and errors

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// An error at `path`; the root object itself has no path.
fn err(path: &str, msg: impl Into<String>) -> SegmentError {
    if path.is_empty() { SegmentError::plain(msg) } else { SegmentError::at_path(path, msg) }
}

// ---------------------------------------------------------------------------------------------------------
// Reader

struct Reader {
    conditions: usize,
}

impl Reader {
    fn leaf(&mut self, path: &str, in_filter: bool, property_test: bool) -> Result<(), SegmentError> {
        if in_filter && !property_test {
            return Err(err(path, FILTER_ONLY_PROPERTIES));
        }
        self.conditions += 1;
        if self.conditions > CONDITIONS_MAX { Err(err(path, too_many_conditions())) } else { Ok(()) }
    }

    fn expr(&mut self, v: &Value, path: &str, depth: usize, f: bool) -> Result<Expr, SegmentError> {
        if depth > DEPTH_MAX {
            return Err(err(path, too_deep()));
        }
        let Some(obj) = v.as_object() else {
            return Err(err(path, "expected an object like {\"field\": ..., \"op\": ..., \"value\": ...}"));
        };
        let mut kinds = KINDS.iter().copied().filter(|k| obj.contains_key(*k));
        let Some(kind) = kinds.next() else {
            let expected = "expected one of the keys \"and\", \"or\", \"not\", \"field\", \"did\", \"count\", \
                            \"consent\", \"in_segment\"";
            return Err(match obj.keys().next() {
                Some(k) => err(&join(path, k), format!("unknown key \"{k}\" ({expected})")),
                None => err(path, expected),
            });
        };
        if let Some(other) = kinds.next() {
            return Err(err(&join(path, other), format!("\"{kind}\" and \"{other}\" cannot be in the same object")));
        }
        let allowed: &[&str] = match kind {
            "and" | "or" | "not" | "in_segment" => &[],
            "field" => &["op", "value"],
            "did" => &["where", "within", "before_ago", "after_ago", "since_entry"],
            "count" => &["where", "within", "before_ago", "after_ago", "since_entry", "op", "value"],
            _ => &["status"],
        };
        if let Some(k) = obj.keys().find(|k| k.as_str() != kind && !allowed.contains(&k.as_str())) {
            return Err(err(&join(path, k), format!("unknown key \"{k}\" in a \"{kind}\" expression")));
        }
        let at = join(path, kind);
        let body = &obj[kind];
        match kind {
            "and" | "or" => {
                let Some(items) = body.as_array() else {
                    return Err(err(&at, "expected a list of expressions"));
                };
                if items.is_empty() {
                    return Err(err(&at, "expected a non-empty list of expressions"));
                }
                if items.len() > CONDITIONS_MAX {
                    return Err(err(&at, too_many_conditions()));
                }
                if items.len() == 1 {
                    return self.expr(&items[0], &format!("{at}[0]"), depth + 1, f);
                }
                let xs = items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| self.expr(x, &format!("{at}[{i}]"), depth + 1, f))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(if kind == "and" { Expr::And(xs) } else { Expr::Or(xs) })
            }
            "not" => Ok(Expr::Not(Box::new(self.expr(body, &at, depth + 1, f)?))),
            "field" => self.field(obj, path, f),
            "did" | "count" => {
                self.leaf(path, f, false)?;
                let event = kairos_domain::system_event::canonical(string(body, &at)?).to_string();
                if event.is_empty() {
                    return Err(err(&at, "the event name cannot be empty"));
                }
                let filter = match obj.get("where") {
                    Some(w) => Some(Box::new(self.expr(w, &join(path, "where"), depth + 1, true)?)),
                    None => None,
                };
                let window = window(obj, path)?;
                if kind == "did" {
                    return Ok(Expr::Did { event, filter, window });
                }
                let op_at = join(path, "op");
                let op = match obj.get("op") {
                    None => return Err(err(path, "missing \"op\"")),
                    Some(op) => match op.as_str().and_then(CompareOp::parse) {
                        Some(op) if op.is_numeric() => op,
                        _ => return Err(err(&op_at, COUNT_OPS)),
                    },
                };
                let value = match obj.get("value") {
                    None => return Err(err(path, "missing \"value\"")),
                    Some(v) => v.as_u64().ok_or_else(|| err(&join(path, "value"), "expected a whole number"))?,
                };
                Ok(Expr::Count { event, filter, window, op, value })
            }
            "consent" => {
                self.leaf(path, f, false)?;
                let channel =
                    body.as_str().and_then(Channel::parse).ok_or_else(|| err(&at, "expected \"email\" or \"sms\""))?;
                let status = match obj.get("status").map(|s| s.as_str()) {
                    None => return Err(err(path, "missing \"status\"")),
                    Some(Some("subscribed")) => ConsentIs::Subscribed,
                    Some(Some("unsubscribed")) => ConsentIs::Unsubscribed,
                    Some(_) => return Err(err(&join(path, "status"), "expected \"subscribed\" or \"unsubscribed\"")),
                };
                Ok(Expr::Consent { channel, status })
            }
            _ => {
                self.leaf(path, f, false)?;
                let name = string(body, &at)?;
                if name.is_empty() {
                    return Err(err(&at, "the segment name cannot be empty"));
                }
                Ok(Expr::InSegment(name.to_string()))
            }
        }
    }

    /// `{"field": ..., "op": ..., "value": ...}`.
    fn field(&mut self, obj: &Map<String, Value>, path: &str, f: bool) -> Result<Expr, SegmentError> {
        self.leaf(path, f, true)?;
        let field_at = join(path, "field");
        let field = FieldPath(string(&obj["field"], &field_at)?.to_string());
        check_field(&field, path)?;
        let op_at = join(path, "op");
        let value_at = join(path, "value");
        let op = match obj.get("op") {
            None => return Err(err(path, "missing \"op\"")),
            Some(op) => op.as_str().ok_or_else(|| err(&op_at, FIELD_OPS))?,
        };
        if op == "exists" {
            if obj.contains_key("value") {
                return Err(err(&value_at, "\"exists\" takes no value"));
            }
            return Ok(Expr::Exists { field });
        }
        let Some(value) = obj.get("value") else {
            return Err(err(path, "missing \"value\""));
        };
        Ok(match op {
            "in" => {
                let Some(items) = value.as_array() else {
                    return Err(err(&value_at, "expected a list of values"));
                };
                if items.is_empty() {
                    return Err(err(&value_at, "expected a non-empty list of values"));
                }
                if items.len() > IN_VALUES_MAX {
                    return Err(err(&value_at, too_many_values()));
                }
                let values = items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| literal(x, &format!("{value_at}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?;
                Expr::In { field, values }
            }
            "before_ago" => Expr::Relative { field, rel: Relative::BeforeAgo(duration(value, &value_at)?) },
            "after_ago" => Expr::Relative { field, rel: Relative::AfterAgo(duration(value, &value_at)?) },
            "within" => Expr::Relative { field, rel: Relative::Within(duration(value, &value_at)?) },
            _ => {
                let op = CompareOp::parse(op).ok_or_else(|| err(&op_at, FIELD_OPS))?;
                Expr::Compare { field, op, value: literal(value, &value_at)? }
            }
        })
    }
}

fn string<'v>(v: &'v Value, path: &str) -> Result<&'v str, SegmentError> {
    v.as_str().ok_or_else(|| err(path, "expected a string"))
}

fn literal(v: &Value, path: &str) -> Result<Literal, SegmentError> {
    Ok(match v {
        Value::String(s) => Literal::Str(s.clone()),
        Value::Number(n) => Literal::Num(n.as_f64().ok_or_else(|| err(path, "the number is out of range"))?),
        Value::Bool(b) => Literal::Bool(*b),
        Value::Null => Literal::Null,
        _ => return Err(err(path, VALUE_EXPECTED)),
    })
}

fn duration(v: &Value, path: &str) -> Result<Duration, SegmentError> {
    v.as_str().and_then(Duration::parse).ok_or_else(|| err(path, DURATION_EXPECTED))
}

fn window(obj: &Map<String, Value>, path: &str) -> Result<Option<Window>, SegmentError> {
    let mut found: Option<Window> = None;
    for key in WINDOW_KEYS {
        let Some(v) = obj.get(key) else { continue };
        let at = join(path, key);
        if found.is_some() {
            return Err(err(&at, "only one window is allowed (within, before_ago, after_ago or since_entry)"));
        }
        found = Some(match key {
            "within" => Window::Within(duration(v, &at)?),
            "before_ago" => Window::BeforeAgo(duration(v, &at)?),
            "after_ago" => Window::AfterAgo(duration(v, &at)?),
            _ if *v == Value::Bool(true) => Window::SinceEntry,
            _ => return Err(err(&at, "expected true")),
        });
    }
    Ok(found)
}

// ---------------------------------------------------------------------------------------------------------
// Validation

/// Checks the rules and limits every definition obeys, whichever form it came from (both `parse` and
/// `from_json` call it; use it for trees built in code). Errors carry the JSON path of the offending node.
///
/// - at most `DEPTH_MAX` levels deep (a leaf is one level; and / or / not / a `where` add one),
/// - at most `CONDITIONS_MAX` conditions (all nodes but and / or / not, filter contents included),
/// - `and` / `or` have at least two operands; `in` lists have 1 to `IN_VALUES_MAX` values,
/// - numbers are finite; durations are whole, non-negative seconds; field paths have no empty part;
///   event and segment names are not empty; `count` compares with = != > >= < <= only,
/// - `where` filters test event properties only (no did / count / consent / in segment inside),
/// - the canonical text form is at most `TEXT_BYTES_MAX` bytes.
pub fn validate(e: &Expr) -> Result<(), SegmentError> {
    Validator { conditions: 0 }.node(e, "", 1, false)?;
    let len = to_text(e).len();
    if len > TEXT_BYTES_MAX {
        return Err(SegmentError::plain(format!(
            "the definition is too long ({len} bytes as text, at most {TEXT_BYTES_MAX})"
        )));
    }
    Ok(())
}

struct Validator {
    conditions: usize,
}

impl Validator {
    fn leaf(&mut self, path: &str, in_filter: bool, property_test: bool) -> Result<(), SegmentError> {
        if in_filter && !property_test {
            return Err(err(path, FILTER_ONLY_PROPERTIES));
        }
        self.conditions += 1;
        if self.conditions > CONDITIONS_MAX { Err(err(path, too_many_conditions())) } else { Ok(()) }
    }

    fn node(&mut self, e: &Expr, path: &str, depth: usize, in_filter: bool) -> Result<(), SegmentError> {
        if depth > DEPTH_MAX {
            return Err(err(path, too_deep()));
        }
        match e {
            Expr::And(xs) | Expr::Or(xs) => {
                let at = join(path, if matches!(e, Expr::And(_)) { "and" } else { "or" });
                if xs.len() < 2 {
                    return Err(err(&at, "expected at least two expressions"));
                }
                for (i, x) in xs.iter().enumerate() {
                    self.node(x, &format!("{at}[{i}]"), depth + 1, in_filter)?;
                }
                Ok(())
            }
            Expr::Not(x) => self.node(x, &join(path, "not"), depth + 1, in_filter),
            Expr::Compare { field, value, .. } => {
                self.leaf(path, in_filter, true)?;
                check_field(field, path)?;
                check_literal(value, &join(path, "value"))
            }
            Expr::Exists { field } => {
                self.leaf(path, in_filter, true)?;
                check_field(field, path)
            }
            Expr::In { field, values } => {
                self.leaf(path, in_filter, true)?;
                check_field(field, path)?;
                let at = join(path, "value");
                if values.is_empty() {
                    return Err(err(&at, "expected a non-empty list of values"));
                }
                if values.len() > IN_VALUES_MAX {
                    return Err(err(&at, too_many_values()));
                }
                values.iter().enumerate().try_for_each(|(i, v)| check_literal(v, &format!("{at}[{i}]")))
            }
            Expr::Relative { field, rel } => {
                self.leaf(path, in_filter, true)?;
                check_field(field, path)?;
                let (Relative::BeforeAgo(d) | Relative::AfterAgo(d) | Relative::Within(d)) = rel;
                check_duration(*d, &join(path, "value"))
            }
            Expr::Did { event, filter, window } | Expr::Count { event, filter, window, .. } => {
                self.leaf(path, in_filter, false)?;
                let key = if matches!(e, Expr::Did { .. }) { "did" } else { "count" };
                if event.is_empty() {
                    return Err(err(&join(path, key), "the event name cannot be empty"));
                }
                if let Expr::Count { op, .. } = e
                    && !op.is_numeric()
                {
                    return Err(err(&join(path, "op"), COUNT_OPS));
                }
                if let Some(f) = filter {
                    self.node(f, &join(path, "where"), depth + 1, true)?;
                }
                match window {
                    Some(Window::Within(d)) => check_duration(*d, &join(path, "within")),
                    Some(Window::BeforeAgo(d)) => check_duration(*d, &join(path, "before_ago")),
                    Some(Window::AfterAgo(d)) => check_duration(*d, &join(path, "after_ago")),
                    Some(Window::SinceEntry) | None => Ok(()),
                }
            }
            Expr::Consent { .. } => self.leaf(path, in_filter, false),
            Expr::InSegment(name) => {
                self.leaf(path, in_filter, false)?;
                if name.is_empty() {
                    return Err(err(&join(path, "in_segment"), "the segment name cannot be empty"));
                }
                Ok(())
            }
        }
    }
}

fn check_field(field: &FieldPath, node: &str) -> Result<(), SegmentError> {
    if field.as_str().is_empty() {
        return Err(err(&join(node, "field"), "the field cannot be empty"));
    }
    if field.segments().any(str::is_empty) {
        return Err(err(&join(node, "field"), "a field path cannot have an empty part (like \"a..b\")"));
    }
    Ok(())
}

fn check_literal(v: &Literal, path: &str) -> Result<(), SegmentError> {
    match v {
        Literal::Num(n) if !n.is_finite() => Err(err(path, "numbers must be finite")),
        _ => Ok(()),
    }
}

fn check_duration(d: Duration, path: &str) -> Result<(), SegmentError> {
    if d.as_micros() < 0 || d.as_micros() % 1_000_000 != 0 {
        return Err(err(path, "a duration must be a whole, non-negative number of seconds"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;
    use proptest::prelude::*;

    fn bad(v: Value) -> (String, Option<String>) {
        let e = from_json(&v).expect_err(&v.to_string());
        assert_eq!(e.column, None);
        (e.message, e.path)
    }

    #[test]
    fn reads_every_form() {
        let cases = [
            (
                json!({"and": [{"field": "orders.count", "op": ">=", "value": 3}, {"field": "orders.total_spent", "op": ">", "value": 10000}]}),
                "orders.count >= 3 and orders.total_spent > 10000",
            ),
            (
                json!({"or": [{"field": "trait.city", "op": "=", "value": "Helsinki"}, {"field": "trait.city", "op": "==", "value": "Tampere"}]}),
                r#"trait.city = "Helsinki" or trait.city = "Tampere""#,
            ),
            (json!({"not": {"field": "trait.email", "op": "exists"}}), "not trait.email exists"),
            (
                json!({"field": "trait.city", "op": "in", "value": ["Helsinki", 2.5, true, null]}),
                r#"trait.city in ["Helsinki", 2.5, true, null]"#,
            ),
            (json!({"field": "last_seen_at", "op": "before_ago", "value": "90d"}), "last_seen_at before 90d ago"),
            (json!({"field": "last_seen_at", "op": "after_ago", "value": "2160h"}), "last_seen_at after 90d ago"),
            (json!({"field": "cart.updated_at", "op": "within", "value": "4h"}), "cart.updated_at within 4h"),
            (json!({"did": "Checkout Started", "within": "4h"}), r#"did "Checkout Started" within 4h"#),
            (
                json!({"did": "Order Completed", "where": {"field": "products.category", "op": "contains", "value": "bicycles"}}),
                r#"did "Order Completed" where products.category contains "bicycles""#,
            ),
            (json!({"did": "Order Completed", "since_entry": true}), r#"did "Order Completed" since entry"#),
            (json!({"did": "X", "before_ago": "1w"}), r#"did "X" before 1w ago"#),
            (
                json!({"count": "Product Viewed", "where": {"field": "category", "op": "=", "value": "bicycles"}, "within": "30d", "op": ">=", "value": 2}),
                r#"count("Product Viewed" where category = "bicycles", within 30d) >= 2"#,
            ),
            (json!({"count": "X", "after_ago": "1d", "op": "<", "value": 1}), r#"count("X", after 1d ago) < 1"#),
            (json!({"consent": "email", "status": "subscribed"}), "subscribed email"),
            (json!({"consent": "sms", "status": "unsubscribed"}), "unsubscribed sms"),
            (json!({"in_segment": "VIP"}), r#"in segment "VIP""#),
            (json!({"and": [{"in_segment": "VIP"}]}), r#"in segment "VIP""#),
            (
                json!({"field": "trait.first name", "op": "starts_with", "value": "Jo"}),
                r#"trait."first name" starts_with "Jo""#,
            ),
        ];
        for (v, text) in cases {
            let e = from_json(&v).unwrap_or_else(|e| panic!("{v}: {e}"));
            assert_eq!(e, parse(text).unwrap(), "{v}");
            assert_eq!(crate::print::to_text(&e), text);
        }
    }

    #[test]
    fn writes_the_canonical_form() {
        let e = parse(r#"orders.count >= 3 and did "X" where (a = 1.5 or b exists) within 4h"#).unwrap();
        assert_eq!(
            to_json(&e),
            json!({"and": [
                {"field": "orders.count", "op": ">=", "value": 3},
                {"did": "X", "within": "4h", "where": {"or": [
                    {"field": "a", "op": "=", "value": 1.5},
                    {"field": "b", "op": "exists"},
                ]}},
            ]})
        );
        assert_eq!(
            to_json(&parse(r#"count("X", since entry) != 2"#).unwrap()),
            json!({"count": "X", "since_entry": true, "op": "!=", "value": 2})
        );
        assert_eq!(to_json(&parse("a = 1e300").unwrap()).to_string(), r#"{"field":"a","op":"=","value":1e+300}"#);
    }

    #[test]
    fn errors_name_the_path() {
        let cases: Vec<(Value, &str, Option<&str>)> = vec![
            (json!([]), "expected an object like {\"field\": ..., \"op\": ..., \"value\": ...}", None),
            (
                json!({}),
                "expected one of the keys \"and\", \"or\", \"not\", \"field\", \"did\", \"count\", \"consent\", \"in_segment\"",
                None,
            ),
            (
                json!({"feild": "a"}),
                "unknown key \"feild\" (expected one of the keys \"and\", \"or\", \"not\", \"field\", \"did\", \"count\", \"consent\", \"in_segment\")",
                Some("feild"),
            ),
            (json!({"and": []}), "expected a non-empty list of expressions", Some("and")),
            (json!({"and": {}}), "expected a list of expressions", Some("and")),
            (
                json!({"and": [{"in_segment": "A"}, {"field": "x", "op": "=", "value": [1]}]}),
                VALUE_EXPECTED,
                Some("and[1].value"),
            ),
            (
                json!({"and": [{"in_segment": "A"}, {"field": "x", "op": "=", "value": 1, "extra": 2}]}),
                "unknown key \"extra\" in a \"field\" expression",
                Some("and[1].extra"),
            ),
            (
                json!({"not": {"did": "X", "where": {"field": "a", "op": "~", "value": 1}}}),
                FIELD_OPS,
                Some("not.where.op"),
            ),
            (json!({"not": {"did": "X", "where": {"did": "Y"}}}), FILTER_ONLY_PROPERTIES, Some("not.where")),
            (
                json!({"did": "X", "where": {"or": [{"field": "a", "op": "exists"}, {"consent": "email", "status": "subscribed"}]}}),
                FILTER_ONLY_PROPERTIES,
                Some("where.or[1]"),
            ),
            (
                json!({"and": [{"did": "X", "where": {"in_segment": "A"}}]}),
                FILTER_ONLY_PROPERTIES,
                Some("and[0].where"),
            ),
            (
                json!({"and": [{"field": "a.", "op": "exists"}]}),
                "a field path cannot have an empty part (like \"a..b\")",
                Some("and[0].field"),
            ),
            (json!({"did": "X", "field": "a"}), "\"field\" and \"did\" cannot be in the same object", Some("did")),
            (json!({"did": ""}), "the event name cannot be empty", Some("did")),
            (json!({"did": 3}), "expected a string", Some("did")),
            (json!({"did": "X", "within": "soon"}), DURATION_EXPECTED, Some("within")),
            (
                json!({"did": "X", "within": "4h", "since_entry": true}),
                "only one window is allowed (within, before_ago, after_ago or since_entry)",
                Some("since_entry"),
            ),
            (json!({"did": "X", "since_entry": false}), "expected true", Some("since_entry")),
            (json!({"did": "X", "op": ">"}), "unknown key \"op\" in a \"did\" expression", Some("op")),
            (json!({"count": "X", "op": "contains", "value": 1}), COUNT_OPS, Some("op")),
            (json!({"count": "X", "value": 1}), "missing \"op\"", None),
            (json!({"count": "X", "op": ">"}), "missing \"value\"", None),
            (json!({"count": "X", "op": ">", "value": -1}), "expected a whole number", Some("value")),
            (json!({"count": "X", "op": ">", "value": 1.5}), "expected a whole number", Some("value")),
            (json!({"field": "a", "op": "exists", "value": 1}), "\"exists\" takes no value", Some("value")),
            (json!({"field": "a", "op": "="}), "missing \"value\"", None),
            (json!({"field": "a", "value": 1}), "missing \"op\"", None),
            (json!({"field": "a", "op": 1, "value": 1}), FIELD_OPS, Some("op")),
            (json!({"field": "", "op": "exists"}), "the field cannot be empty", Some("field")),
            (
                json!({"field": "a..b", "op": "exists"}),
                "a field path cannot have an empty part (like \"a..b\")",
                Some("field"),
            ),
            (json!({"field": 1, "op": "exists"}), "expected a string", Some("field")),
            (json!({"field": "a", "op": "in", "value": []}), "expected a non-empty list of values", Some("value")),
            (json!({"field": "a", "op": "in", "value": "x"}), "expected a list of values", Some("value")),
            (json!({"field": "a", "op": "in", "value": [1, {}]}), VALUE_EXPECTED, Some("value[1]")),
            (json!({"field": "a", "op": "within", "value": 4}), DURATION_EXPECTED, Some("value")),
            (json!({"field": "a", "op": "before_ago", "value": "-4h"}), DURATION_EXPECTED, Some("value")),
            (json!({"consent": "push", "status": "subscribed"}), "expected \"email\" or \"sms\"", Some("consent")),
            (json!({"consent": "sms"}), "missing \"status\"", None),
            (
                json!({"consent": "sms", "status": "maybe"}),
                "expected \"subscribed\" or \"unsubscribed\"",
                Some("status"),
            ),
            (json!({"in_segment": ""}), "the segment name cannot be empty", Some("in_segment")),
            (json!({"in_segment": "A", "x": 1}), "unknown key \"x\" in a \"in_segment\" expression", Some("x")),
        ];
        for (v, message, path) in cases {
            assert_eq!(bad(v.clone()), (message.to_string(), path.map(str::to_string)), "{v}");
        }
        let e = from_json(&json!({"and": [{"in_segment": "A"}, {"field": "x", "op": "=", "value": [1]}]})).unwrap_err();
        assert_eq!(e.to_string(), format!("{VALUE_EXPECTED} (at and[1].value)"));
    }

    #[test]
    fn limits() {
        let mut v = json!({"field": "a", "op": "exists"});
        for _ in 0..40 {
            v = json!({"not": v});
        }
        let e = from_json(&v).unwrap_err();
        assert_eq!(e.message, too_deep());
        assert_eq!(e.path.as_deref(), Some(&*vec!["not"; DEPTH_MAX].join(".")));

        let mut v = json!({"field": "a", "op": "exists"});
        for _ in 0..DEPTH_MAX - 1 {
            v = json!({"not": v});
        }
        assert!(from_json(&v).is_ok());

        let values: Vec<Value> = (0..IN_VALUES_MAX as u64).map(Value::from).collect();
        assert!(from_json(&json!({"field": "a", "op": "in", "value": values})).is_ok());
        let values: Vec<Value> = (0..=IN_VALUES_MAX as u64).map(Value::from).collect();
        assert_eq!(
            bad(json!({"field": "a", "op": "in", "value": values})),
            (too_many_values(), Some("value".to_string()))
        );

        let leaf = json!({"field": "a", "op": "exists"});
        assert!(from_json(&json!({"or": vec![leaf.clone(); CONDITIONS_MAX]})).is_ok());
        assert_eq!(
            bad(json!({"or": vec![leaf.clone(); CONDITIONS_MAX + 1]})),
            (too_many_conditions(), Some("or".into()))
        );
        let nested = json!({"or": [{"or": vec![leaf.clone(); 150]}, {"or": vec![leaf.clone(); 150]}]});
        assert_eq!(bad(nested), (too_many_conditions(), Some("or[1].or[50]".into())));

        let long = "x".repeat(TEXT_BYTES_MAX);
        let (msg, path) = bad(json!({"field": "a", "op": "=", "value": long}));
        assert!(msg.starts_with("the definition is too long"), "{msg}");
        assert_eq!(path, None);
    }

    #[test]
    fn validate_rejects_trees_that_cannot_round_trip() {
        let leaf = || Expr::Exists { field: FieldPath("a".into()) };
        let cases = vec![
            (Expr::And(vec![leaf()]), "expected at least two expressions", "and"),
            (Expr::Or(vec![]), "expected at least two expressions", "or"),
            (
                Expr::Compare { field: FieldPath("a".into()), op: CompareOp::Eq, value: Literal::Num(f64::NAN) },
                "numbers must be finite",
                "value",
            ),
            (Expr::In { field: FieldPath("a".into()), values: vec![] }, "expected a non-empty list of values", "value"),
            (
                Expr::Relative { field: FieldPath("a".into()), rel: Relative::Within(Duration(1)) },
                "a duration must be a whole, non-negative number of seconds",
                "value",
            ),
            (
                Expr::Not(Box::new(Expr::Count {
                    event: "X".into(),
                    filter: None,
                    window: None,
                    op: CompareOp::Contains,
                    value: 1,
                })),
                COUNT_OPS,
                "not.op",
            ),
            (Expr::InSegment(String::new()), "the segment name cannot be empty", "in_segment"),
        ];
        for (e, message, path) in cases {
            let got = validate(&e).unwrap_err();
            assert_eq!((got.message.as_str(), got.path.as_deref()), (message, Some(path)), "{e:?}");
        }
        let mut deep = leaf();
        for _ in 0..1000 {
            deep = Expr::Not(Box::new(deep));
        }
        assert_eq!(validate(&deep).unwrap_err().message, too_deep());
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            prop::sample::select(vec![
                "a",
                "",
                "4h",
                "x.y",
                "=",
                ">",
                "in",
                "exists",
                "within",
                "before_ago",
                "email",
                "subscribed",
                "contains",
            ])
            .prop_map(Value::from),
        ];
        let keys = prop::sample::select(vec![
            "and",
            "or",
            "not",
            "field",
            "op",
            "value",
            "did",
            "count",
            "where",
            "within",
            "before_ago",
            "after_ago",
            "since_entry",
            "consent",
            "status",
            "in_segment",
            "zzz",
        ]);
        leaf.prop_recursive(6, 64, 4, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(keys.clone(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn json_round_trips(e in crate::parse::tests::arb_expr()) {
            let v = to_json(&e);
            prop_assert_eq!(from_json(&v), Ok(e.clone()), "{}", v);
        }

        #[test]
        fn reader_never_panics(v in arb_json()) {
            if let Ok(e) = from_json(&v) {
                prop_assert_eq!(parse(&crate::print::to_text(&e)), Ok(e.clone()));
                prop_assert_eq!(from_json(&to_json(&e)), Ok(e));
            }
        }
    }
}

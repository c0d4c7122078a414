//! Graph and reference rules of a flow: every `next` names a step, every step is reachable from the start,
//! no loop runs without waiting, and referenced templates and segments exist.

use std::collections::{HashMap, HashSet};

use kairos_segment::{Expr, Window};

use crate::FlowError;
use crate::def::{FlowDef, StepKind, Trigger};

/// What a flow may refer to, answered by the engine.
pub trait Catalog {
    fn template_exists(&self, id: &str) -> bool;
    fn segment_exists(&self, reference: &str) -> bool;
    /// Whether a coupon pool exists (the default accepts any: the library installs flows before pools).
    fn coupon_pool_exists(&self, _pool: &str) -> bool {
        true
    }
}

/// Checks a parsed flow. The first problem found is returned, with the JSON path of the field at fault.
pub fn validate(f: &FlowDef, catalog: &dyn Catalog) -> Result<(), FlowError> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, s) in f.steps.iter().enumerate() {
        if index.insert(s.id.as_str(), i).is_some() {
            return Err(FlowError::new(format!("steps[{i}].id"), format!("step id {:?} is used twice", s.id)));
        }
    }
    if !index.contains_key(f.start.as_str()) {
        return Err(FlowError::new("start", format!("no step with id {:?}", f.start)));
    }
    for (i, s) in f.steps.iter().enumerate() {
        for (key, target) in s.kind.successors() {
            if !index.contains_key(target) {
                return Err(FlowError::new(format!("steps[{i}].{key}"), format!("no step with id {target:?}")));
            }
        }
    }
    // Reachability from the start.
    let mut seen = HashSet::new();
    let mut stack = vec![f.start.as_str()];
    while let Some(id) = stack.pop() {
        if seen.insert(id) {
            stack.extend(f.steps[index[id]].kind.successors().into_iter().map(|(_, t)| t));
        }
    }
    if let Some((i, s)) = f.steps.iter().enumerate().find(|(_, s)| !seen.contains(s.id.as_str())) {
        return Err(FlowError::new(
            format!("steps[{i}]"),
            format!("step {:?} can never be reached from the start", s.id),
        ));
    }
    // A loop must wait somewhere, or a run would spin forever in one instant.
    if let Some(cycle) = instant_cycle(f, &index) {
        return Err(FlowError::new(
            "steps",
            format!("steps {} form a loop with no delay or wait_for", cycle.join(" → ")),
        ));
    }
    // References.
    for (i, s) in f.steps.iter().enumerate() {
        match &s.kind {
            StepKind::Send { template, .. } if !catalog.template_exists(template) => {
                return Err(FlowError::new(
                    format!("steps[{i}].template"),
                    format!("no template with id {template:?}"),
                ));
            }
            StepKind::Split { condition, .. } => check_segments(condition, catalog, &format!("steps[{i}].condition"))?,
            StepKind::IssueCoupon { pool, .. } if !catalog.coupon_pool_exists(pool) => {
                return Err(FlowError::new(format!("steps[{i}].pool"), format!("no coupon pool {pool:?}")));
            }
            _ => {}
        }
    }
    match &f.trigger {
        Trigger::SegmentEntered { segment } | Trigger::SegmentExited { segment }
            if !catalog.segment_exists(segment) =>
        {
            return Err(FlowError::new("trigger.segment", format!("no segment {segment:?} in this workspace")));
        }
        _ => {}
    }
    if let Some(e) = &f.entry.filter {
        check_segments(e, catalog, "entry.filter")?;
        if uses_since_entry(e) {
            return Err(FlowError::new(
                "entry.filter",
                "\"since entry\" cannot be used before the contact has entered",
            ));
        }
    }
    if let Some(e) = &f.exit_when {
        check_segments(e, catalog, "exit_when")?;
    }
    Ok(())
}

fn check_segments(e: &Expr, catalog: &dyn Catalog, field: &str) -> Result<(), FlowError> {
    for s in e.segment_refs() {
        if !catalog.segment_exists(s) {
            return Err(FlowError::new(field, format!("no segment {s:?} in this workspace")));
        }
    }
    Ok(())
}

fn uses_since_entry(e: &Expr) -> bool {
    let mut found = false;
    e.walk(&mut |x| {
        if let Expr::Did { window: Some(Window::SinceEntry), .. }
        | Expr::Count { window: Some(Window::SinceEntry), .. } = x
        {
            found = true;
        }
    });
    found
}

/// A cycle through steps that never wait, as step ids, if one exists.
fn instant_cycle(f: &FlowDef, index: &HashMap<&str, usize>) -> Option<Vec<String>> {
    // Depth-first search over the graph restricted to non-waiting steps.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let n = f.steps.len();
    let mut mark = vec![Mark::New; n];
    for root in 0..n {
        if mark[root] != Mark::New || f.steps[root].kind.waits() {
            continue;
        }
        // Iterative DFS with an explicit path so deep graphs cannot overflow the stack.
        let mut path: Vec<(usize, Vec<usize>)> = Vec::new();
        let succ = |i: usize| -> Vec<usize> {
            f.steps[i]
                .kind
                .successors()
                .into_iter()
                .map(|(_, t)| index[t])
                .filter(|&j| !f.steps[j].kind.waits())
                .collect()
        };
        mark[root] = Mark::Active;
        path.push((root, succ(root)));
        while let Some((node, pending)) = path.last_mut() {
            let node = *node;
            match pending.pop() {
                Some(next) => match mark[next] {
                    Mark::Active => {
                        let start = path.iter().position(|(i, _)| *i == next).unwrap_or(0);
                        let mut ids: Vec<String> = path[start..].iter().map(|(i, _)| f.steps[*i].id.clone()).collect();
                        ids.push(f.steps[next].id.clone());
                        return Some(ids);
                    }
                    Mark::New => {
                        mark[next] = Mark::Active;
                        let s = succ(next);
                        path.push((next, s));
                    }
                    Mark::Done => {}
                },
                None => {
                    mark[node] = Mark::Done;
                    path.pop();
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_flow;
    use serde_json::{Value, json};

    struct Known;
    impl Catalog for Known {
        fn template_exists(&self, id: &str) -> bool {
            id.starts_with("abandoned")
        }
        fn segment_exists(&self, r: &str) -> bool {
            r == "VIP"
        }
    }

    fn spec_example() -> Value {
        json!({
          "name": "Abandoned checkout",
          "trigger": {"type": "event", "event": "Checkout Started", "where": "value > 100"},
          "entry": {"filter": "subscribed email", "reentry": "once_per 7d"},
          "exit_when": "did \"Order Completed\" since entry",
          "steps": [
            {"id": "wait",  "type": "delay", "duration": "4h", "next": "route"},
            {"id": "route", "type": "split", "condition": "event.value > 20000", "yes": "call", "no": "email"},
            {"id": "call",  "type": "task", "message": "Call {{ contact.first_name }} about a {{ event.value | money }} cart"},
            {"id": "email", "type": "send", "channel": "email", "template": "abandoned-cart-1", "next": "wait2"},
            {"id": "wait2", "type": "wait_for", "event": "Order Completed", "timeout": "1d", "timeout_next": "sms"},
            {"id": "sms",   "type": "send", "channel": "sms", "template": "abandoned-cart-sms"}
          ]
        })
    }

    fn check(v: &Value) -> Result<(), FlowError> {
        validate(&parse_flow(v)?, &Known)
    }

    #[test]
    fn the_spec_example_is_valid() {
        let f = parse_flow(&spec_example()).unwrap();
        assert_eq!(f.start, "wait");
        assert_eq!(f.steps.len(), 6);
        assert_eq!(f.entry.reentry, crate::Reentry::OncePer(kairos_domain::Duration::from_secs(7 * 86_400)));
        validate(&f, &Known).unwrap();
    }

    #[test]
    fn errors_name_the_field() {
        type Edit = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Edit, &str, &str)> = vec![
            (Box::new(|v| v["steps"][3]["next"] = json!("nope")), "steps[3].next", "no step with id \"nope\""),
            (Box::new(|v| v["steps"][0]["duration"] = json!("soon")), "steps[0].duration", "duration"),
            (Box::new(|v| v["steps"][1]["condition"] = json!("event.value >")), "steps[1].condition", "column"),
            (Box::new(|v| v["steps"][5]["template"] = json!("missing")), "steps[5].template", "no template"),
            (Box::new(|v| v["steps"][2]["id"] = json!("wait")), "steps[2].id", "used twice"),
            (
                Box::new(|v| v["trigger"] = json!({"type": "segment_entered", "segment": "Gone"})),
                "trigger.segment",
                "no segment",
            ),
            (Box::new(|v| v["trigger"]["type"] = json!("telepathy")), "trigger.type", "unknown trigger type"),
            (Box::new(|v| v["entry"]["reentry"] = json!("sometimes")), "entry.reentry", "reentry"),
            (Box::new(|v| v["steps"][0]["colour"] = json!("red")), "steps[0].colour", "unknown field"),
            (Box::new(|v| v["steps"][4]["type"] = json!("teleport")), "steps[4].type", "unknown step type"),
            (Box::new(|v| v["start"] = json!("sms")), "steps[0]", "never be reached"),
            (Box::new(|v| v["exit_when"] = json!("in segment \"Nope\"")), "exit_when", "no segment"),
            (Box::new(|v| v["entry"]["filter"] = json!("did \"X\" since entry")), "entry.filter", "since entry"),
            (Box::new(|v| v["steps"] = json!([])), "steps", "non-empty"),
            (Box::new(|v| v["key"] = json!("cart_id")), "key", "event."),
        ];
        for (edit, field, message) in cases {
            let mut v = spec_example();
            edit(&mut v);
            let e = check(&v).expect_err(field);
            assert_eq!(e.field, field, "{e:?}");
            assert!(e.message.contains(message), "{e:?}");
        }
    }

    #[test]
    fn loops_must_wait() {
        let mut v = spec_example();
        v["steps"][2]["next"] = json!("route");
        let e = check(&v).unwrap_err();
        assert_eq!(e.field, "steps");
        assert!(e.message.contains("route → call → route") || e.message.contains("call → route → call"), "{e:?}");
        // A loop through a delay is fine.
        let mut v = spec_example();
        v["steps"][5]["next"] = json!("wait");
        check(&v).unwrap();
    }
}

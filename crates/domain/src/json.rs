//! Bounds on client-supplied JSON. Stored rows are read back with serde_json's recursion limit (128 levels), and
//! a stored event wraps what the client sent in an envelope, so what is accepted must stay well below that: a row
//! that could be written but not read back would break every timeline that includes it.

use serde_json::Value;

/// Deepest nesting accepted inside an event's `properties`, `traits` and `context` (each object or array is one
/// level; `{"a": {"b": 1}}` is 2 deep).
pub const EVENT_JSON_DEPTH_MAX: usize = 32;
/// Deepest nesting accepted in an admin API request body (flows, segments, settings, products...).
pub const REQUEST_JSON_DEPTH_MAX: usize = 64;

/// How deeply `v` nests objects and arrays (a scalar is 0). Iterative, so no input can exhaust the stack.
pub fn depth(v: &Value) -> usize {
    let mut deepest = 0;
    let mut stack: Vec<(&Value, usize)> = vec![(v, 0)];
    while let Some((v, d)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Array(a) => Box::new(a.iter()),
            Value::Object(o) => Box::new(o.values()),
            _ => continue,
        };
        deepest = deepest.max(d + 1);
        stack.extend(children.map(|c| (c, d + 1)));
    }
    deepest
}

/// How deeply a JSON text nests, read from its bytes without building a tree (brackets outside strings), so a
/// request can be refused before serde_json recurses into it. Malformed text gives some number; the parser that
/// runs afterwards reports the syntax error.
pub fn text_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The scalar JSON values property tests build documents from (each test adds the leaves and keys its subject
/// reads).
#[cfg(test)]
pub(crate) fn arb_json_scalar() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    use serde_json::Value;
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<i64>().prop_map(|i| Value::Number(i.into())),
        ".{0,12}".prop_map(Value::String),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(levels: usize) -> String {
        format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
    }

    #[test]
    fn depth_counts_containers() {
        assert_eq!(depth(&json!(1)), 0);
        assert_eq!(depth(&json!({})), 1);
        assert_eq!(depth(&json!({"a": {"b": [1]}, "c": 2})), 3);
        let deep: Value = serde_json::from_str(&nested(100)).unwrap();
        assert_eq!(depth(&deep), 100);
    }

    #[test]
    fn text_depth_matches_and_ignores_strings() {
        for v in [json!({"a": "}{[[[", "b": [{"c": "\"]"}]}), json!([[["x\\"]]]), json!("[[[")] {
            assert_eq!(text_depth(v.to_string().as_bytes()), depth(&v), "{v}");
        }
        assert_eq!(text_depth(nested(10_000).as_bytes()), 10_000);
    }
}

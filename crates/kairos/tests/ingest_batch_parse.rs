//! `/v1/batch`'s parser reads the top of the body in one pass (issue 17: it was read into a map, then the batch
//! again into a list, before each item was parsed). This checks it against the former parser, kept here as the
//! oracle, on bodies an attacker or a sloppy client might send: the same events, or the same error (status,
//! code, field, message; for a JSON syntax error its place), for each.

use std::collections::HashMap;

use kairos_domain::{BATCH_BYTES_MAX, EVENT_BYTES_MAX, Event, Timestamp, ValidationError};
use kairos_server::error::{ApiError, ErrorCode};
use kairos_server::ingest::{BATCH_EVENTS_MAX, parse_batch};
use proptest::prelude::*;
use serde_json::value::RawValue;
use serde_json::{Value, json};

/// The parser before the change, as it was (its message ids are made here, and compared apart).
fn parse_batch_before(bytes: &[u8], now: Timestamp) -> Result<Vec<Event>, ApiError> {
    let top: HashMap<String, &RawValue> = serde_json::from_slice(bytes).map_err(|e| {
        if bytes.first().is_some_and(|b| *b != b'{') && serde_json::from_slice::<Value>(bytes).is_ok() {
            ApiError::invalid_type("batch", "the body must be a JSON object with a batch array")
        } else {
            ApiError::invalid_json(&e)
        }
    })?;
    let items: Vec<&RawValue> = match top.get("batch") {
        None => return Err(ApiError::missing_field("batch", "batch is required")),
        Some(raw) => serde_json::from_str(raw.get())
            .map_err(|_| ApiError::invalid_type("batch", "batch must be an array of events"))?,
    };
    if items.len() > BATCH_EVENTS_MAX {
        return Err(ApiError::too_large(BATCH_BYTES_MAX, Some("batch".into())));
    }
    let shared_context: Option<Value> = match top.get("context") {
        Some(raw) => Some(serde_json::from_str(raw.get()).map_err(|e| ApiError::invalid_json(&e))?),
        None => None,
    };
    let shared_len = top.get("context").map_or(0, |raw| raw.get().len());
    if let Some(Value::Object(ctx)) = &shared_context {
        kairos_domain::event::check_depth("context", ctx)?;
    }
    let mut n = 0;
    let mut make_id = || {
        n += 1;
        format!("generated-{n}")
    };
    let mut events = Vec::with_capacity(items.len());
    for (i, raw) in items.iter().enumerate() {
        let path = format!("batch[{i}]");
        if raw.get().len() > EVENT_BYTES_MAX {
            return Err(ApiError::too_large(EVENT_BYTES_MAX, Some(path)));
        }
        let mut item: Value = serde_json::from_str(raw.get()).map_err(|e| ApiError::invalid_json(&e))?;
        if let (Some(Value::Object(ctx)), Some(obj)) = (&shared_context, item.as_object_mut())
            && !obj.get("context").is_some_and(Value::is_object)
        {
            if raw.get().len() + shared_len > EVENT_BYTES_MAX {
                return Err(ApiError::too_large(EVENT_BYTES_MAX, Some(path)));
            }
            obj.insert("context".into(), Value::Object(ctx.clone()));
        }
        let event = Event::from_segment(item, None, now, &mut make_id).map_err(|e: ValidationError| e.within(&path))?;
        events.push(event);
    }
    Ok(events)
}

/// What a parse gave, with generated message ids blanked (each parser numbers its own).
fn outcome(r: Result<Vec<Event>, ApiError>) -> Result<Vec<Value>, (u16, String, Option<String>, String)> {
    match r {
        Ok(events) => Ok(events
            .into_iter()
            .map(|e| {
                let mut v = serde_json::to_value(&e).expect("event");
                let id = v["message_id"].as_str().unwrap_or_default();
                if id.starts_with("generated-") || id.starts_with("kairos-") {
                    v["message_id"] = json!("(generated)");
                }
                v
            })
            .collect()),
        // A syntax error's wording may differ (the list's commas are read by another visitor), not its place.
        Err(e) if e.code == ErrorCode::InvalidJson => {
            let at = e.message.rfind(" at line ").map_or(e.message.as_str(), |i| &e.message[i..]).to_string();
            Err((e.status.as_u16(), format!("{:?}", e.code), e.field, at))
        }
        Err(e) => Err((e.status.as_u16(), format!("{:?}", e.code), e.field, e.message)),
    }
}

fn same(body: &[u8]) {
    let now = Timestamp::from_secs(1_790_000_000);
    assert_eq!(
        outcome(parse_batch(body, now)),
        outcome(parse_batch_before(body, now)),
        "{}",
        String::from_utf8_lossy(body)
    );
}

fn item() -> impl Strategy<Value = Value> {
    let kind = prop_oneof![
        Just(json!("track")),
        Just(json!("identify")),
        Just(json!("page")),
        Just(json!("alias")),
        Just(json!("group")),
        Just(json!("nope")),
        Just(json!(7)),
        Just(Value::Null),
    ];
    let id = prop_oneof![
        Just(json!("u-1")),
        Just(json!("")),
        Just(json!(12)),
        Just(Value::Null),
        "[a-z0-9-]{1,12}".prop_map(Value::from)
    ];
    let object = prop_oneof![
        Just(json!({})),
        Just(json!({"a": {"b": [1, 2]}})),
        Just(json!("x")),
        Just(Value::Null),
        Just(json!({"total": -1}))
    ];
    (
        proptest::option::of(kind),
        proptest::option::of(id.clone()),
        proptest::option::of(id.clone()),
        proptest::option::of(prop_oneof![Just(json!("Order Completed")), Just(json!(" ")), Just(json!(3))]),
        proptest::option::of(id),
        proptest::option::of(object.clone()),
        proptest::option::of(object),
        proptest::option::of(prop_oneof![
            Just(json!("2026-03-01T10:00:00Z")),
            Just(json!("yesterday")),
            Just(json!(5))
        ]),
    )
        .prop_map(|(kind, user, anon, name, message, properties, context, timestamp)| {
            let mut o = serde_json::Map::new();
            for (k, v) in [
                ("type", kind),
                ("userId", user),
                ("anonymousId", anon),
                ("event", name),
                ("messageId", message),
                ("properties", properties),
                ("context", context),
                ("timestamp", timestamp),
            ] {
                if let Some(v) = v {
                    o.insert(k.into(), v);
                }
            }
            Value::Object(o)
        })
}

/// A body as text: the keys the parser reads, given or not, once or twice, other keys, and broken endings.
fn body() -> impl Strategy<Value = String> {
    let items = prop_oneof![
        proptest::collection::vec(prop_oneof![4 => item(), 1 => Just(json!(5)), 1 => Just(json!([]))], 0..5)
            .prop_map(|v| Value::Array(v).to_string()),
        Just("null".to_string()),
        Just("{}".to_string()),
        Just("\"batch\"".to_string()),
        Just("12".to_string()),
        Just("true".to_string()),
    ];
    let context = prop_oneof![Just("{\"ip\":\"192.0.2.1\"}"), Just("null"), Just("[1]"), Just("\"c\"")];
    let entry = prop_oneof![
        3 => items.prop_map(|b| format!("\"batch\":{b}")),
        1 => context.prop_map(|c| format!("\"context\":{c}")),
        1 => Just("\"writeKey\":\"wk\"".to_string()),
        1 => Just("\"b\\u0061tch\":[]".to_string()),
        1 => Just("\"sentAt\":{\"x\":[null]}".to_string()),
    ];
    let ending = prop_oneof![8 => Just(""), 1 => Just(" x"), 1 => Just(","), 1 => Just("]")];
    (proptest::collection::vec(entry, 0..4), ending)
        .prop_map(|(entries, end)| format!("{{{}}}{end}", entries.join(",")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]
    #[test]
    fn the_one_pass_parser_answers_as_the_former_one(body in body()) {
        same(body.as_bytes());
    }

    #[test]
    fn any_bytes_get_the_same_answer(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        same(&bytes);
    }
}

#[test]
fn bodies_that_are_not_a_batch_object_get_the_same_answer() {
    for body in [
        "",
        "[]",
        "\"batch\"",
        "null",
        "{\"batch\":null}",
        "{\"batch\":{}}",
        "{\"batch\":[],\"batch\":null}",
        "{\"batch\":null,\"batch\":[]}",
        "{\"context\":null,\"batch\":[{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E\"}]}",
        "{\"batch\":[{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E\"}],\"context\":{\"ip\":\"192.0.2.9\"}}",
        "{\"batch\":[1,]}",
        "{\"batch\":[] ",
    ] {
        same(body.as_bytes());
    }
    let many = format!("{{\"batch\":[{}]}}", vec!["{}"; BATCH_EVENTS_MAX + 1].join(","));
    same(many.as_bytes());
    // Nesting far past the parser's depth limit, skipped or kept: no stack overflow, the same answer, and an
    // error for anything that would be stored.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for (body, stored) in [
        (format!("{{\"sentAt\":{deep},\"batch\":[]}}"), false),
        (format!("{{\"batch\":{deep}}}"), true),
        (format!("{{\"batch\":[{deep}]}}"), true),
        (format!("{{\"context\":{deep},\"batch\":[]}}"), true),
    ] {
        same(body.as_bytes());
        let answer = parse_batch(body.as_bytes(), Timestamp::from_secs(1));
        assert_eq!(answer.is_err(), stored, "{}", &body[..20]);
    }
}

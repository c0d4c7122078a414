//! Topics (issue 14): the workspace's lists a person can opt out of one by one in the preference centre
//! (`settings.topics`: `[{"id": "newsletter", "name": "Newsletter", "description": "..."}]`). A flow or campaign
//! names the topic it is about (`"topic": "newsletter"`); its sends skip the people who opted out of it.

use serde_json::{Value, json};

/// Most topics a workspace has.
pub const TOPICS_MAX: usize = 20;
/// Longest topic name, in characters.
const TOPIC_NAME_CHARS_MAX: usize = 100;
/// Longest topic description, in characters.
const TOPIC_DESCRIPTION_CHARS_MAX: usize = 300;

/// A rejected topic list: the JSON path and what is wrong.
pub(crate) type TopicError = (String, String);

fn err(field: &str, message: impl Into<String>) -> TopicError {
    (field.to_string(), message.into())
}

/// One of the workspace's topics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub id: String,
    pub name: String,
    pub description: String,
}

impl Topic {
    pub fn to_json(&self) -> Value {
        json!({"id": self.id, "name": self.name, "description": self.description})
    }
}

fn text(v: Option<&Value>, field: &str, max: usize, required: bool) -> Result<String, TopicError> {
    match v {
        None | Some(Value::Null) if !required => Ok(String::new()),
        Some(Value::String(s)) if s.chars().count() <= max && (!required || !s.trim().is_empty()) => {
            Ok(s.trim().to_string())
        }
        _ => Err(err(field, format!("expected text of 1 to {max} characters"))),
    }
}

/// `settings.topics` checked entry by entry (the list replaces the previous one).
pub(crate) fn parse(v: &Value) -> Result<Vec<Topic>, TopicError> {
    let list = v.as_array().ok_or_else(|| err("topics", "expected a list of topics"))?;
    if list.len() > TOPICS_MAX {
        return Err(err("topics", format!("at most {TOPICS_MAX} topics")));
    }
    let mut topics: Vec<Topic> = Vec::with_capacity(list.len());
    for (i, t) in list.iter().enumerate() {
        let at = |k: &str| format!("topics[{i}].{k}");
        let o = t.as_object().ok_or_else(|| err(&format!("topics[{i}]"), "expected an object"))?;
        let id = o.get("id").and_then(Value::as_str).filter(|id| kairos_flow::is_topic_id(id));
        let id = id.ok_or_else(|| err(&at("id"), "expected lower-case letters, digits, - or _ (at most 40)"))?;
        if topics.iter().any(|x| x.id == id) {
            return Err(err(&at("id"), format!("two topics are named {id}")));
        }
        topics.push(Topic {
            id: id.to_string(),
            name: text(o.get("name"), &at("name"), TOPIC_NAME_CHARS_MAX, true)?,
            description: text(o.get("description"), &at("description"), TOPIC_DESCRIPTION_CHARS_MAX, false)?,
        });
    }
    Ok(topics)
}

//! Topics (issue 14): the workspace's lists a person can opt out of one by one in the preference centre
//! (`settings.topics`: `[{"id": "newsletter", "name": "Newsletter", "description": "..."}]`). A flow or campaign
//! names the topic it is about (`"topic": "newsletter"`); its sends skip the people who opted out of it.

use kairos_domain::vocab::EmailFrequency;
use kairos_domain::{Contact, Timestamp, WorkspaceId};
use serde_json::{Value, json};

use crate::command::Command;
use crate::settings::{Settings, SettingsError, err};
use crate::state::State;
use crate::{ContactRef, Engine, EngineError};

/// Most topics a workspace has.
pub const TOPICS_MAX: usize = 20;
/// Longest topic name, in characters.
const TOPIC_NAME_CHARS_MAX: usize = 100;
/// Longest topic description, in characters.
const TOPIC_DESCRIPTION_CHARS_MAX: usize = 300;

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

fn text(v: Option<&Value>, field: &str, max: usize, required: bool) -> Result<String, SettingsError> {
    match v {
        None | Some(Value::Null) if !required => Ok(String::new()),
        Some(Value::String(s)) if s.chars().count() <= max && (!required || !s.trim().is_empty()) => {
            Ok(s.trim().to_string())
        }
        _ => Err(err(field, format!("expected text of 1 to {max} characters"))),
    }
}

/// `settings.topics` checked entry by entry (the list replaces the previous one).
pub(crate) fn parse(v: &Value) -> Result<Vec<Topic>, SettingsError> {
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

impl Settings {
    /// Whether a flow or campaign may name topic `id`.
    pub fn topic_known(&self, id: &str) -> Result<(), SettingsError> {
        if self.topics.iter().any(|t| t.id == id) {
            return Ok(());
        }
        Err(err("topic", format!("no topic {id:?} in this workspace's settings (settings.topics)")))
    }
}

impl State {
    /// Sets a contact's topic opt-outs and chosen frequency (None: unchanged). Topics must be the workspace's.
    pub(crate) fn set_contact_preferences(
        &mut self,
        ws: WorkspaceId,
        who: ContactRef,
        topics_out: Option<Vec<String>>,
        frequency: Option<EmailFrequency>,
        now: Timestamp,
    ) -> Result<Contact, EngineError> {
        if let Some(list) = &topics_out {
            for (i, t) in list.iter().enumerate() {
                self.settings.of(ws).topic_known(t).map_err(|e| EngineError::Invalid {
                    message: e.message,
                    field: Some(format!("topics_out[{i}]")),
                })?;
            }
        }
        let id = self.resolve_existing(ws, who)?;
        let c = self.contact_mut(id)?;
        if let Some(mut list) = topics_out {
            list.dedup();
            c.consent.topics_out = list;
        }
        if let Some(f) = frequency {
            c.consent.frequency = (f != EmailFrequency::All).then_some(f);
        }
        c.updated_at = now;
        let contact = c.clone();
        self.mark_dirty(id);
        Ok(contact)
    }
}

impl Engine {
    /// Sets what a contact chose in the preference centre, on their behalf (an import, a support request).
    pub async fn set_preferences(
        &self,
        ws: WorkspaceId,
        who: ContactRef,
        topics_out: Option<Vec<String>>,
        frequency: Option<EmailFrequency>,
    ) -> Result<Contact, EngineError> {
        self.command(|reply| Command::SetPreferences { ws, who, topics_out, frequency, reply }).await
    }
}

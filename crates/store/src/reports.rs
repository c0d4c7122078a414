//! The rows reports read ([`crate::read::ReportReads`]); the numbers are computed from them by the pure
//! `kairos-analytics` crate. Instants are microseconds; ranges are half-open `[from, to)`.

use kairos_domain::{ContactId, Event, JsonMap, SystemEvent, Timestamp};

/// Events about one message (Kairos writes them; a client's events of these names are read the same way).
/// Reports find them through their message, so a backend stores [`MessageRef::of`] beside each of them.
pub const MESSAGE_EVENTS: [SystemEvent; 6] = [
    SystemEvent::MessageSent,
    SystemEvent::EmailOpened,
    SystemEvent::EmailClicked,
    SystemEvent::Unsubscribed,
    SystemEvent::EmailBounced,
    SystemEvent::EmailMarkedAsSpam,
];

/// What reports need of an event about a message: the message and where it came from. Filled on write, so a
/// report never reads the serialized event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageRef {
    pub message_id: Option<String>,
    pub flow_id: Option<String>,
    pub step_id: Option<String>,
    pub campaign_id: Option<String>,
    pub channel: Option<String>,
    /// Recorded from a scanner or privacy proxy, not a person.
    pub machine: bool,
}

impl MessageRef {
    /// The reference an event carries when it is one of [`MESSAGE_EVENTS`] (a text property that is not text
    /// counts as absent).
    pub fn of(e: &Event) -> Option<MessageRef> {
        let name = e.name.as_deref()?;
        if !MESSAGE_EVENTS.iter().any(|e| e.as_str() == name) {
            return None;
        }
        let text = |k: &str| e.properties.get(k).and_then(|v| v.as_str()).map(str::to_string);
        Some(MessageRef {
            message_id: text("message_id"),
            flow_id: text("flow_id"),
            step_id: text("step_id"),
            campaign_id: text("campaign_id"),
            channel: text("channel"),
            machine: e.properties.get("machine").and_then(|v| v.as_bool()).unwrap_or(false),
        })
    }
}

/// One `Order Completed` event: its place in the log, contact, timestamp and (client) properties.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRow {
    pub seq: i64,
    pub contact: ContactId,
    pub at: Timestamp,
    /// Empty when the stored properties cannot be read.
    pub properties: JsonMap,
}

/// One event about a message ([`MESSAGE_EVENTS`]) with its [`MessageRef`].
#[derive(Debug, Clone, PartialEq)]
pub struct MessageEventRow {
    pub seq: i64,
    pub contact: ContactId,
    pub at: Timestamp,
    pub name: String,
    pub message: MessageRef,
}

/// A channel consent whose latest change is the one reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentChange {
    /// `email` or `sms`.
    pub channel: String,
    /// `subscribed`, `unsubscribed` or `never_subscribed`.
    pub status: String,
}

/// Which messages a message report covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cohort {
    /// Messages of flows: every flow, or the one with this public id.
    Flows(Option<String>),
    /// Messages of campaigns.
    Campaigns,
}

/// One message of a report's cohort.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow {
    pub id: String,
    pub contact: ContactId,
    pub flow_id: Option<String>,
    pub campaign_id: Option<String>,
    pub step_id: Option<String>,
    pub variant: Option<i64>,
    /// The subject line (0 is A) of a message whose template tests subject variants.
    pub subject_variant: Option<i64>,
    /// The current status.
    pub status: String,
    /// Every status the message has had (the current one included), in no particular order.
    pub statuses: Vec<String>,
}

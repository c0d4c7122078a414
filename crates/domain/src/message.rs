//! What a message row keeps besides its columns (the JSON `data` of `messages`): the rendered parts, where it
//! came from, its status history and what its transport said. Rows written before this type existed read back
//! unchanged (every field is optional, keys this type does not know are kept in `other`), and the API shows the
//! same values: a field left out reads as `null` there, as it did when it was stored as `null`.

use serde::{Deserialize, Serialize};

use crate::{Channel, ContactId, JsonMap, MessageStatus, Timestamp, WorkspaceId};

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The JSON `data` of a message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// An email's preview text as rendered (it is also in `html`, hidden at the top).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_text: Option<String>,
    /// The subject line it was given when its template tests subject variants: 0 is A (the template's own
    /// subject), 1 is B, ... Kept through retries and re-renders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_variant: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// SMS and chat text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Click-tracked destinations, by the index their signed link carries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_version: Option<i64>,
    /// The one-click unsubscribe URL (`List-Unsubscribe`) of an email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsubscribe_url: Option<String>,
    /// The sender an SMS goes out from (the workspace's `sms.from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Links left untracked or removed while rendering.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Why it was skipped, deferred, retried or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<i64>,
    /// When a deferred or retrying message is due.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::rfc3339_option")]
    pub deliver_at: Option<Timestamp>,
    /// When the transport's point of no return was committed (SMTP: the message content is about to go, after
    /// DATA): a node that stops after it never sends the message again (see `kairos_engine::dispatch`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::rfc3339_option")]
    pub handed_at: Option<Timestamp>,
    /// The send as it is rendered again: while deferred (it survives restarts in the row), and while it waits
    /// for its transport (re-validated at hand-off). Cleared once the message is settled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<DeferredSend>,
    /// When its content was last rendered (a message that waited for its transport longer than the engine's
    /// freshness window is rendered again at hand-off).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::rfc3339_option")]
    pub rendered_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_row: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
    /// The A/B variant of a campaign message that is part of a test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// Needs no marketing consent. Unknown on rows written before the flag existed (they passed the marketing
    /// check when they were queued, so they count as transactional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactional: Option<bool>,
    /// A message to the store's team about this contact (a new task): the contact's consent is not theirs to give,
    /// and it is no message to the contact (no `Message Sent` in their timeline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<bool>,
    /// Its flow's or campaign's priority (`crate::priority`): the send log ranks sends by it after a restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// A webhook step's call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookCall>,
    /// The sign-up a double opt-in confirmation email asks to confirm, with its evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_request: Option<ConsentRequest>,
    /// Attempts at the transport so far.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u64,
    /// The provider's id for it (an SMS sid; a webhook's HTTP status).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// Human reactions, for display.
    #[serde(default, skip_serializing_if = "Counts::is_empty")]
    pub counts: Counts,
    /// Every status the message has had, oldest first.
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
    /// Keys of rows written by other versions, kept as they are.
    #[serde(flatten)]
    pub other: JsonMap,
}

impl MessageData {
    /// Reads a row's data; unreadable data (damaged, or not an object) reads as empty and is logged by the
    /// caller's row id.
    pub fn parse(data: &str) -> Option<MessageData> {
        serde_json::from_str(data).ok()
    }

    /// The stored form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// Appends a status change to the history.
    pub fn push_history(&mut self, status: MessageStatus, at: Timestamp, reason: Option<&str>) {
        self.history.push(HistoryEntry { status, at, reason: reason.map(str::to_string), behind: None });
    }

    /// A history entry of a message that waits for `behind` (an earlier send to the same person).
    pub fn push_waiting(&mut self, at: Timestamp, reason: &str, behind: String) {
        self.history.push(HistoryEntry {
            status: crate::MessageStatus::Deferred,
            at,
            reason: Some(reason.to_string()),
            behind: Some(behind),
        });
    }

    /// When it went out: the last `sent` or `queued` entry of its history (a deferred message goes out after it
    /// is created).
    pub fn sent_at(&self) -> Option<Timestamp> {
        self.history
            .iter()
            .rev()
            .find(|e| matches!(e.status, MessageStatus::Sent | MessageStatus::Queued))
            .map(|e| e.at)
    }

    /// When it first went out (the first `sent` or `queued` entry).
    pub fn first_sent_at(&self) -> Option<Timestamp> {
        self.history.iter().find(|e| matches!(e.status, MessageStatus::Sent | MessageStatus::Queued)).map(|e| e.at)
    }
}

/// One status change of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub status: MessageStatus,
    #[serde(with = "crate::time::rfc3339")]
    pub at: Timestamp,
    /// Written as `null` when there is none (the API shows entries as stored).
    #[serde(default)]
    pub reason: Option<String>,
    /// The message it waited for (smart sending or a cap: an earlier send of at least its priority).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behind: Option<String>,
}

/// A webhook step's signed call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookCall {
    pub url: String,
    pub method: String,
    /// The JSON sent: the step's `body` rendered, or the contact, trigger event and flow.
    pub body: serde_json::Value,
    /// Added at hand-off from the sealed store; never written to the message row.
    #[serde(default, skip_serializing)]
    pub secret: Option<String>,
    /// Seconds since the epoch, signed with the body.
    pub timestamp: i64,
}

/// Human opens, clicks and unsubscribes counted on a message (machine ones are not).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub opened: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub clicked: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unsubscribed: u64,
}

impl Counts {
    pub fn is_empty(&self) -> bool {
        *self == Counts::default()
    }

    /// The counter of a reaction status (`opened`, `clicked`, `unsubscribed`).
    pub fn of_mut(&mut self, status: MessageStatus) -> Option<&mut u64> {
        match status {
            MessageStatus::Opened => Some(&mut self.opened),
            MessageStatus::Clicked => Some(&mut self.clicked),
            MessageStatus::Unsubscribed => Some(&mut self.unsubscribed),
            _ => None,
        }
    }
}

/// A sign-up waiting for confirmation (double opt-in): what was asked, where and when, kept with the confirmation
/// message so that confirming records the evidence of the request as well as of the confirmation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsentRequest {
    /// `email` (only email is confirmed by a link).
    pub channel: Channel,
    pub form_id: String,
    pub form_name: String,
    /// The page the form was submitted on.
    pub page: String,
    /// The address the submission came from.
    pub ip: String,
    /// The exact consent text the visitor was shown.
    pub text: String,
    pub at: Timestamp,
}

/// A send waiting for the sending discipline (stored with its message, so it survives restarts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeferredSend {
    pub message_id: String,
    pub workspace: WorkspaceId,
    pub contact: ContactId,
    /// 0 for a campaign message.
    pub flow_row: i64,
    pub flow_id: String,
    pub run_id: i64,
    pub step: String,
    pub channel: Channel,
    pub template: String,
    pub transactional: bool,
    pub skip_when_blocked: bool,
    /// The step's smart-sending window in microseconds (`Some(None)`: off; None: the workspace's).
    pub smart_sending: Option<Option<i64>>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub best_hour: bool,
    /// The trigger event's properties (with the run's coupon).
    pub trigger: JsonMap,
    #[serde(default)]
    pub campaign_id: Option<String>,
    /// The A/B variant of a campaign message.
    #[serde(default)]
    pub variant: Option<i64>,
    /// The sign-up a confirmation message confirms (double opt-in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_request: Option<ConsentRequest>,
    /// The topic (list) the flow or campaign writes about: skipped for people who opted out of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Its flow's or campaign's priority (`crate::priority`); rows from before priorities read as a flow's.
    #[serde(default = "default_priority")]
    pub priority: u8,
}

fn default_priority() -> u8 {
    crate::priority::PRIORITY_FLOW
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_of_the_untyped_era_read_back_and_keep_unknown_keys() {
        let old = json!({
            "subject": "Hi", "html": null, "text": "t", "links": [], "body": null, "template_id": "a",
            "template_version": 2, "unsubscribe_url": null, "from": null, "warnings": [], "reason": null,
            "run_id": 7, "deliver_at": null, "pending": null, "flow_row": 3, "flow_id": "flow_x", "step_id": "s",
            "campaign_id": null, "variant": null, "channel": "email", "transactional": false,
            "history": [{"status": "queued", "at": "2030-01-01T00:00:00Z", "reason": null}],
            "counts": {"opened": 2}, "attempts": 1, "someday": {"a": 1},
        });
        let d: MessageData = serde_json::from_value(old).unwrap();
        assert_eq!(d.subject.as_deref(), Some("Hi"));
        assert_eq!(d.channel, Some(Channel::Email));
        assert_eq!(d.counts.opened, 2);
        assert_eq!(d.history[0].at, Timestamp::parse("2030-01-01T00:00:00Z").unwrap());
        assert_eq!(d.other.get("someday"), Some(&json!({"a": 1})));
        let again: serde_json::Value = serde_json::from_str(&d.to_json()).unwrap();
        assert_eq!(again["history"][0], json!({"status": "queued", "at": "2030-01-01T00:00:00Z", "reason": null}));
        assert_eq!(again["someday"], json!({"a": 1}));
        assert_eq!(again["subject"], "Hi");
        assert!(again.get("html").is_none(), "absent reads as null in the API, as the stored null did");
    }

    #[test]
    fn deferred_sends_keep_their_stored_shape() {
        let d = DeferredSend {
            message_id: "m".into(),
            workspace: WorkspaceId(1),
            contact: ContactId(2),
            flow_row: 0,
            flow_id: String::new(),
            run_id: 0,
            step: String::new(),
            channel: Channel::Sms,
            template: "t".into(),
            transactional: false,
            skip_when_blocked: false,
            smart_sending: None,
            best_hour: false,
            trigger: JsonMap::new(),
            campaign_id: Some("cmp_a".into()),
            variant: None,
            consent_request: None,
            topic: None,
            priority: 20,
        };
        let mut v = serde_json::to_value(&d).unwrap();
        assert_eq!((v["workspace"].clone(), v["channel"].clone()), (json!(1), json!("sms")));
        assert_eq!(serde_json::from_value::<DeferredSend>(v.clone()).unwrap(), d);
        v.as_object_mut().unwrap().remove("priority");
        let old = serde_json::from_value::<DeferredSend>(v).unwrap();
        assert_eq!(old.priority, crate::priority::PRIORITY_FLOW, "rows from before priorities");
    }
}

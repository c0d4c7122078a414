//! Team tasks (issue 15 item 5): a flow's `task` step opens one ("call this customer"); the team hears of it by
//! email and / or a signed webhook (`settings.tasks`), and assigns and closes it (`Engine::update_task`).
//!
//! Notifications are messages like the others (durable, retried, idempotent per task), about the task's contact
//! but to the team: `MessageData::team` keeps the contact's consent out of it (only the suppression list of the
//! team's own address can stop one) and keeps them out of the contact's timeline.

use kairos_domain::{Channel, ContactId, MessageData, MessageStatus, Timestamp, WebhookCall, WorkspaceId};
use kairos_store::StoredMessage;
use kairos_template::html_escape;
use serde_json::json;

use crate::command::Command;
use crate::state::State;
use crate::{Engine, EngineError};

/// What a new task is about, for its notifications.
pub(crate) struct NewTask<'a> {
    pub(crate) ws: WorkspaceId,
    pub(crate) id: i64,
    pub(crate) contact: ContactId,
    pub(crate) flow_id: &'a str,
    pub(crate) flow_name: &'a str,
    pub(crate) text: &'a str,
}

impl Engine {
    /// Assigns (`Some(None)`: unassigns) or closes / reopens one of the workspace's team tasks; false when it
    /// has none with that id.
    pub async fn update_task(
        &self,
        ws: WorkspaceId,
        id: i64,
        assignee: Option<Option<String>>,
        done: Option<bool>,
    ) -> Result<bool, EngineError> {
        self.command(|reply| Command::UpdateTask { ws, id, assignee, done, reply }).await
    }
}

impl State {
    /// Tells the team of a new task, as the workspace's settings say (nothing when they name no one).
    pub(crate) fn notify_team(&mut self, t: &NewTask, now: Timestamp) -> Result<(), EngineError> {
        let notify = self.settings.of(t.ws).task_notify.clone();
        let Some(c) = self.identity.contacts.get(&t.contact) else { return Ok(()) };
        let who = c.traits.get("first_name").and_then(|v| v.as_str()).map(str::to_string);
        let email = c.email.as_ref().map(|e| e.as_str().to_string());
        let phone = c.phone.as_ref().map(|p| p.as_str().to_string());
        let name = match (&who, &email) {
            (Some(n), Some(e)) => format!("{n} <{e}>"),
            (Some(n), None) => n.clone(),
            (None, Some(e)) => e.clone(),
            (None, None) => format!("contact {}", t.contact.0),
        };
        let profile = format!("{}/ui/contacts/{}", self.links.public_url.trim_end_matches('/'), t.contact.0);
        if let Some(to) = notify.email {
            let subject = format!("New task: {}", first_line(t.text));
            let text = format!(
                "{}\n\nCustomer: {name}{}\nFlow: {}\nProfile: {profile}\n",
                t.text,
                phone.as_deref().map(|p| format!("\nPhone: {p}")).unwrap_or_default(),
                t.flow_name
            );
            let html = format!(
                "<p>{}</p><p>Customer: {}{}<br>Flow: {}</p><p><a href=\"{}\">Open their profile</a></p>",
                html_escape(t.text),
                html_escape(&name),
                phone.as_deref().map(|p| format!("<br>Phone: {}", html_escape(p))).unwrap_or_default(),
                html_escape(t.flow_name),
                html_escape(&profile)
            );
            let data = MessageData {
                subject: Some(subject),
                html: Some(html),
                text: Some(text),
                channel: Some(Channel::Email),
                transactional: Some(true),
                team: Some(true),
                ..MessageData::default()
            };
            self.store_team_message(t, Channel::Email, to, data, now)?;
        }
        if let Some(url) = notify.webhook_url {
            crate::secrets::webhook_secret_or_new(self.w.secret_tx(), &self.secrets, t.ws, now)?;
            let body = json!({
                "type": "task.created", "task": {"id": t.id, "message": t.text, "flow_id": t.flow_id,
                    "flow_name": t.flow_name, "status": "open", "created_at": now.to_string()},
                "contact": {"id": t.contact.0, "email": email, "phone": phone, "first_name": who, "url": profile},
            });
            let data = MessageData {
                webhook: Some(WebhookCall {
                    url: url.clone(),
                    method: "POST".into(),
                    body,
                    secret: None,
                    timestamp: now.as_micros() / 1_000_000,
                }),
                channel: Some(Channel::Webhook),
                transactional: Some(true),
                team: Some(true),
                ..MessageData::default()
            };
            self.store_team_message(t, Channel::Webhook, url, data, now)?;
        }
        Ok(())
    }

    /// Stores a notification keyed by (task, channel) and hands it to its transport (captured: `sent` at once).
    fn store_team_message(
        &mut self,
        t: &NewTask,
        channel: Channel,
        to: String,
        mut data: MessageData,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let status = if self.dispatch.real.has(channel) { MessageStatus::Queued } else { MessageStatus::Sent };
        data.push_history(status, now, None);
        let m = StoredMessage {
            id: format!("task-{}-{}", t.id, channel.as_str()),
            workspace: t.ws,
            contact: t.contact,
            channel,
            to: Some(to),
            flow_id: Some(t.flow_id.to_string()),
            campaign_id: None,
            step_id: None,
            status,
            data: data.to_json(),
            created_at: now,
            variant: None,
            subject_variant: None,
        };
        if self.w.message_tx().insert_message(&m)? && status == MessageStatus::Queued {
            self.queue_outbound(&m, &data, None);
        }
        Ok(())
    }
}

/// The first line of a task's text, at most 100 characters (an email subject).
fn first_line(text: &str) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or_default().trim();
    let mut s: String = line.chars().take(100).collect();
    if line.chars().count() > 100 {
        s.push('…');
    }
    s
}

//! Subscriptions (SPEC 16 "Site", issue 14). Whatever changes a contact's consent — an identify from a trusted
//! sender or a platform, the consent API, a flow, an SMS keyword, the preference centre, a confirmed double
//! opt-in — a channel that becomes subscribed emits `Email Subscribed` / `SMS Subscribed` with its `source`, so
//! the library's welcome series starts on a confirmed subscription from any source and on nothing else.
//!
//! Double opt-in: a sign-up is not consent yet. [`State::request_confirmation`] sends a transactional email whose
//! signed link names that very message; the message keeps the request's evidence (form, page, address, the text
//! shown). [`State::confirm_subscription`] subscribes the contact when the link comes back within
//! [`CONFIRMATION_LINK_TTL_DAYS`] to the address it was sent to, recording the evidence of both steps.

use kairos_domain::vocab::EmailFrequency;
use kairos_domain::{
    Channel, ConsentRequest, ConsentStatus, Contact, ContactId, DeferredSend, Email, Event, SystemEvent, Timestamp,
    WorkspaceId,
};
use serde_json::{Map, Value, json};

use crate::command::Command;
use crate::links::Link;
use crate::messages::{Confirmation, ConfirmationRequest};
use crate::state::State;
use crate::work::Reach;
use crate::{ContactRef, Engine, EngineError};

/// How long a confirmation link works, in days; an unconfirmed request expires with it.
pub const CONFIRMATION_LINK_TTL_DAYS: i64 = 7;
/// At most one confirmation email per contact in this many minutes, however often the form is submitted.
pub const CONFIRMATION_RESEND_MINUTES: i64 = 10;
/// The template a double opt-in form sends unless it names its own; installed in the workspace on first use.
pub const CONFIRMATION_TEMPLATE_ID: &str = "kairos-confirm-subscription";

const MICROS_PER_MINUTE: i64 = 60_000_000;

impl State {
    /// Emits `Email Subscribed` / `SMS Subscribed` for each channel of `id` that became subscribed since
    /// `before` (from [`consent_statuses`]).
    pub(crate) fn announce_subscriptions(
        &mut self,
        ws: WorkspaceId,
        id: ContactId,
        before: [ConsentStatus; 2],
        now: Timestamp,
    ) {
        let Some(c) = self.identity.contacts.get(&id) else { return };
        let after = c.consent.statuses();
        let mut events = Vec::new();
        for (i, (event, consent)) in
            [(SystemEvent::EmailSubscribed, &c.consent.email), (SystemEvent::SmsSubscribed, &c.consent.sms)]
                .into_iter()
                .enumerate()
        {
            if before[i] == ConsentStatus::Subscribed || after[i] != ConsentStatus::Subscribed {
                continue;
            }
            let source = consent.source.clone().unwrap_or_else(|| "identify".into());
            let mut props = Map::new();
            props.insert("source".into(), json!(source));
            if let Some(form) = c.traits.get("consent_form").filter(|_| source == "form") {
                props.insert("form_id".into(), form.clone());
            }
            let key = format!("kairos-subscribed-{}-{}-{}", id.0, event.as_str(), now.as_micros());
            events.push(Event::emitted(event, key, props, now));
        }
        for ev in events {
            self.emit(ws, id, ev, Reach::Everything);
        }
    }

    /// Sends the confirmation email of a double opt-in sign-up by `email` (the contact exists: the submission
    /// was ingested first). `template`: the form's own, or the default one installed on first use.
    pub(crate) fn request_confirmation(
        &mut self,
        ws: WorkspaceId,
        email: &Email,
        request: ConsentRequest,
        template: Option<String>,
        now: Timestamp,
    ) -> Result<ConfirmationRequest, EngineError> {
        let id = self.resolve_ref(ws, crate::ContactRef::Email(email.clone()), now)?;
        if self.contact_mut(id)?.consent.email.status == ConsentStatus::Subscribed {
            return Ok(ConfirmationRequest::AlreadySubscribed);
        }
        let template = match template {
            Some(t) => t,
            None => {
                if !self.w.template_tx().template_exists(ws, CONFIRMATION_TEMPLATE_ID)? {
                    let source = kairos_flow::library::confirmation_template();
                    self.save_template(ws, CONFIRMATION_TEMPLATE_ID, &source, now)?;
                }
                CONFIRMATION_TEMPLATE_ID.to_string()
            }
        };
        let bucket = now.as_micros() / (CONFIRMATION_RESEND_MINUTES * MICROS_PER_MINUTE);
        let message_id = format!("cnf_{}", self.links.key.derive_id(&format!("confirm|{}|{}|{bucket}", ws.0, id.0)));
        if self.w.message_tx().message(&message_id)?.is_some() {
            return Ok(ConfirmationRequest::AlreadySent);
        }
        let mut trigger = Map::new();
        trigger.insert("confirm_url".into(), json!(self.links.url(Link::Confirm { message: message_id.clone() })));
        trigger.insert("form_id".into(), json!(request.form_id));
        trigger.insert("form_name".into(), json!(request.form_name));
        trigger.insert("expires_in_days".into(), json!(CONFIRMATION_LINK_TTL_DAYS));
        let send = DeferredSend {
            message_id,
            workspace: ws,
            contact: id,
            flow_row: 0,
            flow_id: String::new(),
            run_id: 0,
            step: String::new(),
            channel: Channel::Email,
            template,
            transactional: true,
            skip_when_blocked: true,
            smart_sending: Some(None),
            best_hour: false,
            trigger,
            campaign_id: None,
            variant: None,
            consent_request: Some(request),
            topic: None,
            priority: kairos_domain::priority::PRIORITY_TRANSACTIONAL,
        };
        self.deliver(send, true, now)?;
        Ok(ConfirmationRequest::Sent)
    }

    /// A confirmation link came back: subscribes the contact its message was sent to, with the evidence of the
    /// request and of this confirmation (`ip`).
    pub(crate) fn confirm_subscription(
        &mut self,
        message: &str,
        ip: &str,
        now: Timestamp,
    ) -> Result<Confirmation, EngineError> {
        let Some(m) = self.w.message_tx().message(message)? else { return Ok(Confirmation::Unknown) };
        let data = crate::dispatch::message_data(&m);
        let Some(request) = data.consent_request else { return Ok(Confirmation::Unknown) };
        let id = self.follow(m.contact);
        let Some(c) = self.identity.contacts.get(&id) else { return Ok(Confirmation::Unknown) };
        // Only the address the link was sent to can confirm (the profile's address may have changed since).
        if c.erased_at.is_some() || c.email.as_ref().map(Email::as_str) != m.to.as_deref() {
            return Ok(Confirmation::Unknown);
        }
        if c.consent.email.status == ConsentStatus::Subscribed {
            return Ok(Confirmation::AlreadyConfirmed);
        }
        if now.as_micros() - m.created_at.as_micros() > CONFIRMATION_LINK_TTL_DAYS * 24 * 60 * MICROS_PER_MINUTE {
            return Ok(Confirmation::Expired);
        }
        let before = c.consent.statuses();
        let ws = m.workspace;
        let c = self.contact_mut(id)?;
        if !c.set_consent(Channel::Email.as_str(), ConsentStatus::Subscribed, now, "form") {
            return Ok(Confirmation::Unknown); // a later change (an unsubscribe) is already recorded
        }
        let evidence = [
            ("consent_text", json!(request.text)),
            ("consent_form", json!(request.form_id)),
            ("consent_ip", json!(request.ip)),
            ("consent_page", json!(request.page)),
            ("consent_requested_at", json!(request.at.to_string())),
            ("consent_confirmed_at", json!(now.to_string())),
            ("consent_confirmed_ip", json!(ip)),
            ("consent_double_opt_in", Value::Bool(true)),
        ];
        for (k, v) in evidence {
            c.traits.insert(k.into(), v);
        }
        c.updated_at = now;
        self.mark_dirty(id);
        self.announce_subscriptions(ws, id, before, now);
        self.evaluate_contact(ws, id, now)?;
        Ok(Confirmation::Confirmed)
    }
}

impl Engine {
    /// Sends the confirmation email of a double opt-in sign-up (after the submission itself was ingested).
    pub async fn request_confirmation(
        &self,
        ws: WorkspaceId,
        email: Email,
        request: ConsentRequest,
        template: Option<String>,
    ) -> Result<ConfirmationRequest, EngineError> {
        let request = Box::new(request);
        self.command(|reply| Command::RequestConfirmation { ws, email, request, template, reply }).await
    }

    /// Follows a confirmation link (already verified as [`Link::Confirm`]).
    pub async fn confirm_subscription(&self, message: String, ip: String) -> Result<Confirmation, EngineError> {
        self.command(|reply| Command::ConfirmSubscription { message, ip, reply }).await
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

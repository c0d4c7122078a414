//! Messages as the committer composes them and hears back: rendering for a contact, tracked links, opens, clicks, unsubscribes, the preference centre, bounces and complaints, SMS keywords and status reports.

use crate::EngineError;
use crate::links::Link;
use crate::messages::*;
use crate::render::{Render, invalid};
use crate::state::State;
use crate::work::Reach;
use kairos_domain::{
    Channel, ConsentStatus, ContactId, Event, JsonMap, MessageStatus, SkipReason, SystemEvent, Timestamp, WorkspaceId,
};
use kairos_template::TemplateParts;
use serde_json::{Value, json};

impl State {
    /// Rendering for workspace `ws` inside the committer's transaction (reads see its own writes).
    pub(crate) fn render(&mut self, ws: WorkspaceId) -> Render<'_> {
        self.render_with_profiles(ws).0
    }

    /// [`State::render`] beside the live profiles, so a render can borrow its contact's profile (not copy it).
    fn render_with_profiles(&mut self, ws: WorkspaceId) -> (Render<'_>, &crate::profiles::ProfileMap) {
        let render = Render {
            src: &mut self.w,
            settings: self.settings.of(ws),
            links: &self.links,
            templates: &mut self.templates,
            recs: &self.recs,
        };
        (render, &self.identity.contacts)
    }

    pub(crate) fn renderer(
        &mut self,
        ws: WorkspaceId,
    ) -> Result<std::sync::Arc<kairos_template::Renderer>, EngineError> {
        self.render(ws).renderer(ws)
    }

    /// Validates a template before it is stored: its Liquid parses with known filters, its layout and partials
    /// exist; a new partial or layout must itself be valid. Errors name the part (`html`, `subject`, ...).
    pub(crate) fn check_template(&mut self, ws: WorkspaceId, id: &str, data: &Value) -> Result<(), EngineError> {
        let channel = data["channel"].as_str().unwrap_or_default();
        if channel == "partial" || channel == "layout" {
            let source = data["html"].as_str().or(data["body"].as_str()).unwrap_or_default();
            self.render(ws).build_renderer(ws, Some((id, channel, source))).map_err(|e| EngineError::Invalid {
                message: e.to_string(),
                field: Some(if data["html"].is_string() { "html" } else { "body" }.into()),
            })?;
            return Ok(());
        }
        let parts: TemplateParts = serde_json::from_value(data.clone()).unwrap_or_default();
        self.renderer(ws)?.validate(&parts).map_err(invalid)?;
        if let Some(w) = data.get("winner").filter(|w| !w.is_null()) {
            let count = 1 + parts.variants.len();
            if w.as_str().and_then(kairos_template::variant_index).is_none_or(|i| i >= count) {
                let last = kairos_template::variant_letter(count - 1);
                return Err(EngineError::Invalid {
                    message: format!("winner must be one of the template's subject lines, A to {last}"),
                    field: Some("winner".into()),
                });
            }
        }
        Ok(())
    }

    /// Forgets compiled templates after a template of `ws` changed (a partial or layout affects them all).
    pub(crate) fn template_saved(&mut self, ws: WorkspaceId, id: &str, data: &Value) {
        if matches!(data["channel"].as_str(), Some("partial" | "layout")) {
            self.templates.renderers.remove(&ws);
            self.templates.compiled.retain(|(w, _), _| *w != ws);
        } else {
            self.templates.compiled.remove(&(ws, id.to_string()));
        }
    }

    /// Renders a short text (a task message, a webhook body string) for a contact; on an error the source is
    /// kept as it is (these texts were validated with their flow).
    pub(crate) fn render_text(
        &mut self,
        ws: WorkspaceId,
        source: &str,
        contact: ContactId,
        trigger: &JsonMap,
        now: Timestamp,
    ) -> Result<String, EngineError> {
        if !source.contains("{{") && !source.contains("{%") {
            return Ok(source.to_string());
        }
        let Some(c) = self.identity.contacts.get(&contact).map(std::borrow::Cow::into_owned) else {
            return Ok(source.to_string());
        };
        self.render(ws).render_text(ws, source, &c, trigger, now)
    }

    /// Renders every string of a JSON value (a webhook step's body).
    pub(crate) fn render_json(
        &mut self,
        ws: WorkspaceId,
        v: &Value,
        contact: ContactId,
        trigger: &JsonMap,
        now: Timestamp,
    ) -> Result<Value, EngineError> {
        Ok(match v {
            Value::String(s) => Value::String(self.render_text(ws, s, contact, trigger, now)?),
            Value::Array(a) => Value::Array(
                a.iter().map(|x| self.render_json(ws, x, contact, trigger, now)).collect::<Result<_, _>>()?,
            ),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| Ok((k.clone(), self.render_json(ws, x, contact, trigger, now)?)))
                    .collect::<Result<_, EngineError>>()?,
            ),
            other => other.clone(),
        })
    }

    /// The one-click unsubscribe URL of a message (`List-Unsubscribe`), issued `now`.
    pub(crate) fn unsubscribe_link(&self, message: &str, now: Timestamp) -> String {
        self.links.unsubscribe_url(message, now)
    }

    /// Renders template `id` for contact `contact` as message `message_id` (`track`: signed links and pixel);
    /// `variant`: the subject line the message was given when first rendered, if it was.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn compose(
        &mut self,
        ws: WorkspaceId,
        template: &str,
        contact: ContactId,
        trigger: &JsonMap,
        message_id: &str,
        now: Timestamp,
        track: bool,
        variant: Option<usize>,
    ) -> Result<Composed, EngineError> {
        let Some(compiled) = self.render(ws).compiled(ws, template)? else {
            return Ok(Composed::Skip { version: 0, reason: SkipReason::TemplateMissing.as_str().into() });
        };
        let (mut render, profiles) = self.render_with_profiles(ws);
        let Some(c) = profiles.get(&contact) else {
            return Ok(Composed::Skip { version: compiled.version, reason: SkipReason::NoContact.as_str().into() });
        };
        let pick = crate::render::Pick::Send(variant);
        render.render_compiled(ws, template, &compiled, &c, trigger, message_id, now, track, pick)
    }

    /// A recipient followed a signed link. Answers the click's destination, or the page to show.
    pub(crate) fn link_followed(
        &mut self,
        link: Link,
        user_agent: Option<&str>,
        now: Timestamp,
    ) -> Result<LinkOutcome, EngineError> {
        let id = match &link {
            Link::Open { message }
            | Link::Click { message, .. }
            | Link::Unsubscribe { message, .. }
            | Link::Preferences { message } => message.clone(),
            // Confirmation has its own command (`confirm_subscription`).
            Link::Confirm { message } => message.clone(),
        };
        let Some(m) = self.w.message_tx().message(&id)? else { return Ok(LinkOutcome::Gone) };
        if let Link::Unsubscribe { issued, .. } = link
            && unsubscribe_stale(&m, self.identity.contacts.get(&self.follow(m.contact)).as_deref(), issued)
        {
            return Ok(LinkOutcome::Expired);
        }
        let mut data = crate::dispatch::message_data(&m);
        let contact = self.follow(m.contact);
        // Opens and clicks within seconds of sending come from scanners and privacy proxies, not people.
        let ua = user_agent.unwrap_or_default().to_ascii_lowercase();
        let scanner = ["bot", "scanner", "proofpoint", "mimecast", "barracuda", "safelinks", "urldefense"]
            .iter()
            .any(|s| ua.contains(s));
        let sent_at = data.sent_at().unwrap_or(m.created_at);
        let machine = scanner || now.as_micros() - sent_at.as_micros() < MACHINE_REACTION_MICROS;
        let mut props = crate::dispatch::message_props(&m.id, &data);
        props.insert("machine".into(), json!(machine));
        let (event, status, outcome) = match link {
            Link::Open { .. } => (SystemEvent::EmailOpened, MessageStatus::Opened, LinkOutcome::Pixel),
            Link::Click { index, .. } => {
                let Some(url) = data.links.get(index).cloned() else {
                    return Ok(LinkOutcome::Gone);
                };
                props.insert("url".into(), json!(url));
                (SystemEvent::EmailClicked, MessageStatus::Clicked, LinkOutcome::Redirect(url))
            }
            Link::Unsubscribe { .. } => {
                self.unsubscribe(contact, m.channel, "unsubscribe_link", now)?;
                (SystemEvent::Unsubscribed, MessageStatus::Unsubscribed, LinkOutcome::Unsubscribed)
            }
            Link::Preferences { .. } => return Ok(LinkOutcome::Preferences(Box::new(self.preference_view(contact)))),
            Link::Confirm { .. } => return Ok(LinkOutcome::Gone),
        };
        // Machine opens/clicks are recorded (flagged) but do not move the message's status.
        if !machine || status == MessageStatus::Unsubscribed {
            if let Some(n) = data.counts.of_mut(status) {
                *n += 1;
            }
            match status {
                MessageStatus::Opened => self.w.message_tx().count_reaction(&m.id, kairos_store::Reaction::Open)?,
                MessageStatus::Clicked => self.w.message_tx().count_reaction(&m.id, kairos_store::Reaction::Click)?,
                _ => {}
            }
            let first = m.status.progress().is_some_and(|now_at| status.progress() > Some(now_at));
            if first {
                data.push_history(status, now, None);
                self.w.message_tx().update_message(&m.id, status, &data.to_json())?;
                if let (Some(flow_row), Some(step)) = (data.flow_row, m.step_id.as_deref()) {
                    self.w.flow_tx().count_step(flow_row, step, status.as_str())?;
                }
            } else {
                self.w.message_tx().update_message(&m.id, m.status, &data.to_json())?;
            }
        }
        let ev = Event::emitted(event, format!("kairos-{}-{}-{}", m.id, status, now.as_micros()), props, now);
        // A scanner's open or click is on record, but it moves no flow: no person showed interest.
        let reach = if machine { Reach::NoFlows } else { Reach::Everything };
        self.emit(m.workspace, contact, ev, reach);
        Ok(outcome)
    }

    /// Sets a channel's consent to unsubscribed (the preference centre and one-click links); a message on
    /// another channel (chat, a webhook) unsubscribes from email.
    pub(crate) fn unsubscribe(
        &mut self,
        contact: ContactId,
        channel: Channel,
        source: &str,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let ch = if channel == Channel::Sms { Channel::Sms } else { Channel::Email };
        if self.identity.contacts.contains_key(&contact) {
            self.change_consent(contact, ch, ConsentStatus::Unsubscribed, source, now)?;
        }
        Ok(())
    }

    /// What the preference centre shows for `contact`.
    fn preference_view(&self, contact: ContactId) -> crate::messages::PreferenceView {
        let c = self.identity.contacts.get(&contact);
        let c = c.as_deref();
        let ws = c.map(|c| c.workspace);
        let consent =
            |ch: Channel| c.and_then(|c| c.consent.of(ch)).map_or(ConsentStatus::NeverSubscribed, |x| x.status);
        let settings = ws.map(|ws| self.settings.of(ws));
        let out = c.map(|c| c.consent.topics_out.as_slice()).unwrap_or_default();
        crate::messages::PreferenceView {
            email: consent(Channel::Email).as_str().to_string(),
            sms: consent(Channel::Sms).as_str().to_string(),
            store: settings.map(|s| s.store.name.clone()).unwrap_or_default(),
            topics: settings
                .map_or_else(Vec::new, |s| s.topics.iter().map(|t| (t.clone(), !out.contains(&t.id))).collect()),
            frequency: c.and_then(|c| c.consent.frequency).unwrap_or(kairos_domain::vocab::EmailFrequency::All),
        }
    }

    /// The preference centre's form for the contact of a signed message: each channel's consent, the topics kept
    /// and how often. False when the message is unknown.
    pub(crate) fn save_preferences(
        &mut self,
        message: &str,
        choice: crate::messages::PreferenceChoice,
        now: Timestamp,
    ) -> Result<bool, EngineError> {
        let Some(m) = self.w.message_tx().message(message)? else { return Ok(false) };
        let contact = self.follow(m.contact);
        if !self.identity.contacts.contains_key(&contact) {
            return Ok(false);
        }
        for (ch, on) in [(Channel::Email, choice.email), (Channel::Sms, choice.sms)] {
            if let Some(on) = on {
                let status = if on { ConsentStatus::Subscribed } else { ConsentStatus::Unsubscribed };
                self.change_consent(contact, ch, status, "preference_centre", now)?;
            }
        }
        let topics: Vec<String> = self.settings.of(m.workspace).topics.iter().map(|t| t.id.clone()).collect();
        let c = self.contact_mut(contact)?;
        if let Some(kept) = choice.topics {
            c.consent.topics_out = topics.into_iter().filter(|t| !kept.contains(t)).collect();
        }
        if let Some(f) = choice.frequency {
            c.consent.frequency = (f != kairos_domain::vocab::EmailFrequency::All).then_some(f);
        }
        c.updated_at = now;
        self.mark_dirty(contact);
        Ok(true)
    }

    /// A bounce or complaint for `address` reported to workspace `ws` (a DSN, a provider webhook): a hard bounce
    /// or complaint suppresses the address, a complaint also unsubscribes, a soft bounce is recorded only.
    /// `message` marks that message too when it is one of `ws`'s sent to `address`; any other id (another
    /// workspace's, a guess) is treated as unknown, so a report never touches another workspace's rows.
    pub(crate) fn bounce(
        &mut self,
        ws: WorkspaceId,
        address: &str,
        kind: BounceKind,
        message: Option<&str>,
        now: Timestamp,
    ) -> Result<Bounced, EngineError> {
        let address = address.trim().to_ascii_lowercase();
        let msg = match message {
            Some(id) => self.w.message_tx().message(id)?.filter(|m| {
                m.workspace == ws
                    && m.channel == Channel::Email
                    && m.to.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(&address))
            }),
            None => None,
        };
        if kind != BounceKind::Soft {
            let reason = if kind == BounceKind::Complaint { "complaint" } else { "hard_bounce" };
            self.suppress(ws, Channel::Email, &address, reason, now)?;
        }
        if let Some(c) = self.lookup(ws, kairos_store::IdentityKind::Email, &address)? {
            if kind == BounceKind::Complaint {
                self.change_consent(c, Channel::Email, ConsentStatus::Unsubscribed, "complaint", now)?;
            }
            let mut props = JsonMap::new();
            props.insert("kind".into(), json!(kind.as_str()));
            if let Some(m) = &msg {
                props.insert("message_id".into(), json!(m.id));
            }
            let name =
                if kind == BounceKind::Complaint { SystemEvent::EmailMarkedAsSpam } else { SystemEvent::EmailBounced };
            let ev = Event::emitted(
                name,
                format!("kairos-bounce-{address}-{}-{}", kind.as_str(), now.as_micros()),
                props,
                now,
            );
            self.emit(ws, c, ev, Reach::Everything);
        }
        let matched = msg.as_ref().map(|m| m.id.clone());
        if let Some(m) = msg {
            let status = match kind {
                BounceKind::Complaint => MessageStatus::Complained,
                BounceKind::Soft => MessageStatus::SoftBounced,
                BounceKind::Hard => MessageStatus::Bounced,
            };
            let mut data = crate::dispatch::message_data(&m);
            data.push_history(status, now, None);
            self.w.message_tx().update_message(&m.id, status, &data.to_json())?;
        }
        Ok(Bounced { address, kind, message_id: matched })
    }

    /// An inbound SMS (the provider's webhook) from `from` to our number `to`: STOP / START keywords change
    /// the SMS consent of the contacts with that phone number in the workspaces that text from `to` (their
    /// `sms.from` setting), and nowhere else. Answers the keyword seen.
    pub(crate) fn sms_inbound(
        &mut self,
        to: &str,
        from: &str,
        body: &str,
        now: Timestamp,
    ) -> Result<Option<kairos_channels::SmsKeyword>, EngineError> {
        let keyword = kairos_channels::sms_keyword(body);
        let status = match keyword {
            Some(kairos_channels::SmsKeyword::Stop) => Some(ConsentStatus::Unsubscribed),
            Some(kairos_channels::SmsKeyword::Start) => Some(ConsentStatus::Subscribed),
            _ => None,
        };
        let sender =
            |s: &str| kairos_domain::Phone::parse(s).map_or_else(|| s.trim().to_string(), |p| p.as_str().to_string());
        let to = sender(to);
        let owns = |ws: WorkspaceId| !to.is_empty() && self.settings.of(ws).sms_from.as_deref() == Some(to.as_str());
        let phone = kairos_domain::Phone::parse(from);
        let mut ids: Vec<ContactId> = Vec::new();
        if phone.is_some() {
            // Every profile is read (decoded when packed): STOP and START are rare, and a number may be on
            // profiles that no identity points to (a phone set before it was an identity).
            self.identity.contacts.for_each(|c| {
                if c.phone == phone && owns(c.workspace) {
                    ids.push(c.id);
                }
            });
        }
        if let Some(status) = status {
            for id in ids {
                self.change_consent(id, Channel::Sms, status, "sms_keyword", now)?;
            }
        }
        Ok(keyword)
    }
}

impl State {
    /// A provider's status callback: `delivered`, `undelivered` / `failed` (Twilio's `MessageStatus`).
    pub(crate) fn sms_status(&mut self, provider_id: &str, status: &str, now: Timestamp) -> Result<bool, EngineError> {
        let Some(id) = self.w.message_tx().message_by_provider_id(provider_id)? else { return Ok(false) };
        let Some(m) = self.w.message_tx().message(&id)?.filter(|m| m.channel == Channel::Sms) else { return Ok(false) };
        let (new, event) = match kairos_channels::SmsDelivery::parse(status) {
            kairos_channels::SmsDelivery::Delivered => (MessageStatus::Delivered, SystemEvent::SmsDelivered),
            kairos_channels::SmsDelivery::Failed => (MessageStatus::Failed, SystemEvent::SmsFailed),
            kairos_channels::SmsDelivery::Pending => return Ok(true), // nothing new
        };
        if m.status != MessageStatus::Sent && m.status != MessageStatus::Queued {
            return Ok(true);
        }
        let mut data = crate::dispatch::message_data(&m);
        data.push_history(new, now, Some(status));
        self.w.message_tx().update_message(&m.id, new, &data.to_json())?;
        if let (Some(flow_row), Some(step)) = (data.flow_row, m.step_id.as_deref()) {
            self.w.flow_tx().count_step(flow_row, step, new.as_str())?;
        }
        let mut props = crate::dispatch::message_props(&m.id, &data);
        props.insert("provider_status".into(), json!(status));
        let ev = Event::emitted(event, format!("kairos-{}-{}", m.id, new), props, now);
        self.emit(m.workspace, self.follow(m.contact), ev, Reach::Everything);
        Ok(true)
    }
}

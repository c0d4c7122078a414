//! Claiming queued messages for their transports, and what an unsubscribe answer waits for.
//!
//! A message is queued (`queued` row) when its send is decided, possibly a while before a transport is free.
//! At the end of every committer transaction, after all of its operations, the committer claims queued
//! messages (transactional first, then flows, then campaigns; oldest first within each) up to
//! [`HANDOFF_IN_FLIGHT_MAX`] in flight and, for each, reads the recipient's consent and
//! the suppression list again: a message whose recipient unsubscribed or was suppressed since it was queued is
//! `skipped` (reason `unsubscribed`, `no_consent` or `suppressed`) instead of being handed off. A message
//! that waited longer than [`crate::freshness::RERENDER_AFTER`] (a retry, a busy transport) is also rendered
//! again from its send (`crate::freshness`): stock, prices and its coupon as they are now. Claimed
//! messages go to the dispatcher only after that transaction commits.
//!
//! An unsubscribe committed after a claim could still race with that message. So after every operation the
//! committer looks at the messages in flight (at most [`HANDOFF_IN_FLIGHT_MAX`]): if the operation withdrew
//! consent from one of their recipients, the operation's reply is held back until those messages are settled
//! (`crate::committer`), and the dispatcher is told not to start them if it has not yet. Together: once an
//! unsubscribe (or a suppression) is answered, no message to that recipient is in a transport conversation
//! and none will be started.

use kairos_domain::{Channel, ConsentStatus, ContactId, MessageStatus, SkipReason, Timestamp, WorkspaceId};

use crate::EngineError;
use crate::dispatch::Mark;
use crate::dispatch::{HANDOFF_IN_FLIGHT_MAX, Outbound, message_data};
use crate::state::State;

impl State {
    /// Adds an address to the suppression list (every suppression goes through here, so messages in flight
    /// to it are checked again).
    pub(crate) fn suppress(
        &mut self,
        ws: WorkspaceId,
        channel: Channel,
        address: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        self.w.message_tx().suppress(ws, channel, address, reason, now)?;
        self.suppressions += 1;
        Ok(())
    }

    /// The recipient's consent mark for a channel that needs consent (email, SMS); `None` for the others.
    fn mark(&self, contact: ContactId, channel: Channel) -> Option<Mark> {
        let c = self.identity.contacts.get(&self.follow(contact))?;
        let consent = match channel {
            Channel::Email => &c.consent.email,
            Channel::Sms => &c.consent.sms,
            Channel::Webhook | Channel::Chat => return None,
        };
        Some(Mark { consent: consent.status, changed: consent.updated_at, suppressions: self.suppressions })
    }

    /// Why a queued message must not go out now, or `None`. Only email and SMS need consent; a contact
    /// that no longer exists gets nothing.
    fn withheld(
        &mut self,
        ws: WorkspaceId,
        contact: ContactId,
        channel: Channel,
        to: &str,
        transactional: bool,
        team: bool,
    ) -> Result<Option<SkipReason>, EngineError> {
        if !channel.needs_consent() {
            return Ok(None);
        }
        if team {
            // The team's own address: the contact's consent is not in question, a bounce of that address is.
            let suppressed = self.w.message_tx().is_suppressed(ws, channel, to)?;
            return Ok(suppressed.then_some(SkipReason::Suppressed));
        }
        let Some(mark) = self.mark(contact, channel) else { return Ok(Some(SkipReason::NoContact)) };
        if self.w.message_tx().is_suppressed(ws, channel, to)? {
            return Ok(Some(SkipReason::Suppressed));
        }
        if transactional {
            return Ok(None); // needs no subscription (SPEC 5): only the suppression list stops it
        }
        if mark.consent == ConsentStatus::Unsubscribed {
            return Ok(Some(SkipReason::Unsubscribed));
        }
        if !self.settings.of(ws).marketing_allowed(mark.consent) {
            return Ok(Some(SkipReason::NoConsent));
        }
        Ok(None)
    }

    /// Claims queued messages for their transports by priority, up to [`HANDOFF_IN_FLIGHT_MAX`] in flight,
    /// skipping those whose recipient may no longer receive them. Runs last in every transaction.
    pub(crate) fn hand_off(&mut self, now: Timestamp) -> Result<(), EngineError> {
        if !self.dispatch.connected() {
            return Ok(());
        }
        while self.dispatch.claimed() < HANDOFF_IN_FLIGHT_MAX {
            let Some(o) = self.dispatch.pending.pop_front() else { break };
            match self.withheld(o.workspace, o.contact, o.channel, &o.to, o.transactional, o.team)? {
                Some(reason) => self.skip_at_handoff(&o.message_id, reason.as_str(), now)?,
                None => {
                    let mut o = o;
                    if let Some(reason) = self.refresh_outbound(&mut o, now)? {
                        self.skip_at_handoff(&o.message_id, &reason, now)?;
                        continue;
                    }
                    if let Some(call) = o.data.webhook.as_mut() {
                        // Signed with the workspace's secret as stored now (kept out of the message row).
                        let secret =
                            crate::secrets::webhook_secret_or_new(self.w.secret_tx(), &self.secrets, o.workspace, now)?;
                        call.secret = Some(secret);
                    }
                    let mark = self.mark(o.contact, o.channel);
                    self.dispatch.claim(o, mark);
                }
            }
        }
        Ok(())
    }

    /// After one operation: the messages in flight whose recipient it withdrew (their consent or the
    /// suppression list changed, and they may no longer receive them). The dispatcher is told not to start
    /// them; the operation's reply waits until they are settled.
    pub(crate) fn withdrawn_by_last_op(&mut self) -> Result<Vec<String>, EngineError> {
        if self.dispatch.in_flight.is_empty() {
            return Ok(Vec::new());
        }
        let changed: Vec<(String, Option<Mark>)> = self
            .dispatch
            .in_flight
            .iter()
            .filter_map(|(id, f)| {
                let mark = self.mark(f.contact, f.channel);
                (mark != f.mark).then(|| (id.clone(), mark))
            })
            .collect();
        let mut out = Vec::new();
        for (id, mark) in changed {
            let Some(f) = self.dispatch.in_flight.get_mut(&id) else { continue };
            f.mark = mark;
            let f = f.clone();
            if self.withheld(f.workspace, f.contact, f.channel, &f.to, f.transactional, f.team)?.is_some() {
                self.dispatch.withdraw(&id);
                out.push(id);
            }
        }
        Ok(out)
    }

    /// A message the dispatcher did not start because it was withdrawn: skipped, or (consent given back
    /// meanwhile) queued again at the front.
    pub(crate) fn recheck_withdrawn(&mut self, o: Outbound, now: Timestamp) -> Result<(), EngineError> {
        match self.withheld(o.workspace, o.contact, o.channel, &o.to, o.transactional, o.team)? {
            Some(reason) => self.skip_at_handoff(&o.message_id, reason.as_str(), now),
            None => {
                self.dispatch.pending.push_front(o);
                Ok(())
            }
        }
    }

    /// Records a queued message as `skipped` at hand-off, for `reason` (a [`SkipReason`]'s name, or a render
    /// error).
    pub(crate) fn skip_at_handoff(&mut self, id: &str, reason: &str, now: Timestamp) -> Result<(), EngineError> {
        let Some(m) = self.w.message_tx().message(id)? else { return Ok(()) };
        if !m.status.awaiting_transport() {
            return Ok(());
        }
        tracing::debug!(message = %m.id, reason, "withheld at hand-off");
        let mut data = message_data(&m);
        data.reason = Some(reason.to_string());
        data.deliver_at = None;
        data.pending = None;
        data.push_history(MessageStatus::Skipped, now, Some(reason));
        self.w.message_tx().update_message(&m.id, MessageStatus::Skipped, &data.to_json())?;
        if let (Some(flow_row), Some(step)) = (data.flow_row, m.step_id.as_deref()) {
            self.w.flow_tx().count_step(flow_row, step, MessageStatus::Skipped.as_str())?;
        }
        Ok(())
    }
}

//! Delivery as the committer sees it: the dispatcher task that hands claimed messages to their transports and
//! reports each outcome back as a command, and what the committer does with an outcome (status, history, retries,
//! bounces, the `Message Sent` event).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use kairos_channels::SendError;
use kairos_domain::{Channel, Duration};
use kairos_domain::{ContactId, Event, MessageData, MessageStatus, SystemEvent, Timestamp, WorkspaceId};
use kairos_store::StoredMessage;
use tokio::sync::mpsc;

use crate::EngineError;
use crate::dispatch::{BACKOFF_SECS, CONCURRENCY, Outbound, Report, Transports, message_data, message_props};
use crate::state::State;

/// Why a message is `sent` without its server's answer: the process sending it stopped past its point of no
/// return (`crate::dispatch`). The server most likely has it; it is not sent again.
pub const UNCONFIRMED_REASON: &str =
    "unconfirmed: the node sending it stopped after handing it to the server, before the answer; not sent again";

/// Runs the dispatcher: hands each message to its transport (at most `CONCURRENCY` at once) and reports the
/// outcome to the committer. Ends when the engine stops.
pub(crate) async fn run(
    transports: Arc<Transports>,
    mut rx: mpsc::Receiver<Outbound>,
    ops: mpsc::Sender<crate::Op>,
    withdrawn: Arc<Mutex<HashSet<String>>>,
) {
    let limit = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    while let Some(o) = rx.recv().await {
        let Ok(permit) = limit.clone().acquire_owned().await else { break };
        let (t, ops, withdrawn) = (transports.clone(), ops.clone(), withdrawn.clone());
        tokio::spawn(async move {
            // Withdrawn before its transport started (its recipient unsubscribed meanwhile): not sent.
            let is_withdrawn =
                || withdrawn.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(&o.message_id);
            let commit = {
                let (ops, id) = (ops.clone(), o.message_id.clone());
                move || async move {
                    let (reply, answer) = tokio::sync::oneshot::channel();
                    let handing = crate::command::Command::Handing { message_id: id, reply };
                    ops.send(crate::Op::Command(handing)).await.is_ok() && matches!(answer.await, Ok(Ok(true)))
                }
            };
            let report = t.deliver(&o, is_withdrawn, commit).await;
            drop(permit);
            let delivered = crate::command::Command::Delivered { outbound: Box::new(o), report };
            if ops.send(crate::Op::Command(delivered)).await.is_err() {
                tracing::debug!("engine stopped before a delivery was recorded; it is sent again at start");
            }
        });
    }
}

impl State {
    /// Queues a committed message for its transport (called in the transaction that wrote it); `data` is
    /// the row's data as written.
    pub(crate) fn queue_outbound(&mut self, m: &StoredMessage, data: &MessageData, at: Option<Timestamp>) {
        let o = self.outbound(m, data);
        self.dispatch.queue(o, at);
    }

    /// The hand-off of a stored message.
    pub(crate) fn outbound(&self, m: &StoredMessage, data: &MessageData) -> Outbound {
        Outbound {
            message_id: m.id.clone(),
            workspace: m.workspace,
            contact: m.contact,
            channel: m.channel,
            to: m.to.clone().unwrap_or_default(),
            // Rows written before this flag existed passed the marketing check when they were queued.
            transactional: data.transactional.unwrap_or(true),
            team: data.team == Some(true),
            attempt: data.attempts as u32,
            data: data.clone(),
        }
    }

    /// The point of no return of a claimed message (`crate::dispatch`): recorded, to commit before its content
    /// goes, unless the message was withdrawn or settled meanwhile (then false: it is not sent).
    pub(crate) fn mark_handed(&mut self, id: &str, now: Timestamp) -> Result<bool, EngineError> {
        if self.dispatch.is_withdrawn(id) {
            return Ok(false);
        }
        let Some(m) = self.w.message_tx().message(id)? else { return Ok(false) };
        if !m.status.awaiting_transport() {
            return Ok(false);
        }
        let mut data = message_data(&m);
        data.handed_at = Some(now);
        self.w.message_tx().update_message(&m.id, m.status, &data.to_json())?;
        Ok(true)
    }

    /// Records as `sent`, with [`UNCONFIRMED_REASON`], a message a stopped process handed to its server
    /// without reading the answer (`crate::dispatch`: never sent twice).
    pub(crate) fn settle_unconfirmed(
        &mut self,
        m: &StoredMessage,
        data: &MessageData,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let o = self.outbound(m, data);
        self.record_delivery(o, Report::Done(Ok(None)), now)?;
        if let Some(m) = self.w.message_tx().message(&m.id)? {
            let mut data = message_data(&m);
            data.reason = Some(UNCONFIRMED_REASON.to_string());
            self.w.message_tx().update_message(&m.id, m.status, &data.to_json())?;
        }
        Ok(())
    }

    /// Records what the dispatcher reported: sent, a retry with backoff, a final failure, or a withdrawn
    /// message checked again.
    pub(crate) fn record_delivery(&mut self, o: Outbound, report: Report, now: Timestamp) -> Result<(), EngineError> {
        self.dispatch.settled(&o.message_id);
        let outcome = match report {
            Report::Done(outcome) => outcome,
            Report::Withdrawn => return self.recheck_withdrawn(o, now),
        };
        let Some(m) = self.w.message_tx().message(&o.message_id)? else { return Ok(()) };
        if !m.status.awaiting_transport() {
            return Ok(()); // already settled (a duplicate report)
        }
        let mut data = message_data(&m);
        data.attempts += 1;
        data.handed_at = None;
        let attempts = data.attempts;
        let (status, reason, retry_at) = match &outcome {
            Ok(provider_id) => {
                if let Some(id) = provider_id {
                    data.provider_id = Some(id.clone());
                    if m.channel == Channel::Sms {
                        self.w.message_tx().set_provider_id(id, &m.id)?;
                    }
                }
                (MessageStatus::Sent, None, None)
            }
            Err(SendError::Transient(why)) if (attempts as usize) <= BACKOFF_SECS.len() => {
                let wait = Duration::from_secs(BACKOFF_SECS[attempts as usize - 1]);
                (MessageStatus::Retrying, Some(why.clone()), Some(now.saturating_add(wait)))
            }
            Err(SendError::Transient(why)) => {
                (MessageStatus::Failed, Some(format!("gave up after {attempts} attempts: {why}")), None)
            }
            Err(SendError::Permanent(why)) if m.channel == Channel::Email => {
                (MessageStatus::Bounced, Some(why.clone()), None)
            }
            Err(SendError::Permanent(why)) => (MessageStatus::Failed, Some(why.clone()), None),
        };
        data.reason = reason.clone();
        data.deliver_at = retry_at;
        if status != MessageStatus::Retrying {
            data.pending = None; // settled: nothing will render it again
        }
        data.push_history(status, now, reason.as_deref());
        self.w.message_tx().update_message(&m.id, status, &data.to_json())?;
        if let (Some(flow_row), Some(step)) = (data.flow_row, m.step_id.as_deref())
            && status != MessageStatus::Retrying
        {
            self.w.flow_tx().count_step(flow_row, step, status.as_str())?;
        }
        match status {
            MessageStatus::Retrying => self.queue_outbound(&m, &data, retry_at),
            MessageStatus::Sent if data.team != Some(true) => {
                self.message_sent_event(m.workspace, m.contact, &m.id, &data, now)?
            }
            MessageStatus::Bounced => {
                tracing::info!(message = %m.id, "hard bounce: the address is suppressed");
                if let Some(to) = &m.to {
                    self.suppress(m.workspace, m.channel, to, "hard_bounce", now)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The `Message Sent` event in the contact's timeline.
    pub(crate) fn message_sent_event(
        &mut self,
        ws: WorkspaceId,
        contact: ContactId,
        id: &str,
        data: &MessageData,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let ev = Event::emitted(SystemEvent::MessageSent, format!("kairos-{id}"), message_props(id, data), now);
        self.emit(ws, self.follow(contact), ev, crate::work::Reach::Everything);
        Ok(())
    }
}

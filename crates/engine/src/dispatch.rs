//! Delivery through real transports (SMTP, the SMS provider, webhooks, Telegram), after commit.
//!
//! A send decided in the committer is a message row with status `queued`, written in the same transaction as
//! the run state. Queued messages wait in [`Dispatch`] until the committer claims them for the transport, at
//! most [`HANDOFF_IN_FLIGHT_MAX`] at a time (`crate::handoff`): the claim re-reads consent and the suppression
//! list in the committer's transaction, so an unsubscribe committed before the claim stops the message
//! (`skipped`). Once the claiming transaction commits, the message goes to the dispatcher task, which hands
//! it to its transport and reports the outcome back to the committer: `sent`, `retrying` (a transient failure,
//! with backoff), `failed` or `bounced`. A crash between hand-off and report leaves the row `queued`: it is
//! claimed again at start (consent re-checked) and sent with the same Message-ID / Idempotency-Key, so
//! receivers can de-duplicate (SPEC 18).
//!
//! Email has a point of no return: the SMTP server delivers once it has the content's final dot. Just before
//! the content goes (the server accepted DATA), the dispatcher asks the committer to record `handed_at` on
//! the row (`Command::Handing`, committed like any command, refused when the message was withdrawn meanwhile)
//! and sends the content only once that committed. After a crash, a row still awaiting its transport with
//! `handed_at` is recorded `sent` and never sent again; one without it was never delivered (no dot went out)
//! and is sent again. So a crash sends no email twice; the price is that one whose content was cut off in
//! the milliseconds between that commit and the dot is lost (SMTP offers nothing better: the server may have
//! delivered any transaction whose reply was not read). Channels without a configured transport are captured: their messages
//! are `sent` into the outbox at once.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use kairos_channels::{OutboundPolicy, SendError};
use kairos_domain::ConsentStatus;
use kairos_domain::{Channel, ContactId, JsonMap, MessageData, Timestamp, WorkspaceId};
use kairos_store::StoredMessage;
use serde_json::json;
use tokio::sync::mpsc;

/// Waits before the 2nd, 3rd... attempt of a transient failure; after the last the message has `failed`.
pub(crate) const BACKOFF_SECS: [i64; 5] = [30, 120, 600, 3600, 6 * 3600];
/// Deliveries in flight at once (SMTP pools and per-domain limits bound each transport further).
pub(crate) const CONCURRENCY: usize = 64;
/// Most messages claimed for transports and not yet settled: what an unsubscribe may have to wait for.
pub const HANDOFF_IN_FLIGHT_MAX: usize = CONCURRENCY;

/// The configured transports. A channel without one is captured into the outbox.
pub struct Transports {
    pub smtp: Option<kairos_channels::Smtp>,
    /// `From:` of marketing email.
    pub email_from: String,
    pub sms: Option<kairos_channels::Sms>,
    pub webhook: kairos_channels::Webhook,
    pub telegram: Option<kairos_channels::Telegram>,
}

/// Which channels go through a transport.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Real {
    pub email: bool,
    pub sms: bool,
    pub chat: bool,
}

impl Real {
    pub(crate) fn has(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => self.email,
            Channel::Sms => self.sms,
            Channel::Chat => self.chat,
            Channel::Webhook => true, // webhooks are always real calls
        }
    }
}

/// One hand-off to a transport: the message row's id, recipient and data.
#[derive(Debug, Clone)]
pub struct Outbound {
    pub message_id: String,
    pub workspace: WorkspaceId,
    pub contact: ContactId,
    pub channel: Channel,
    pub to: String,
    /// Transactional messages need no subscription (SPEC 5): only a suppression stops them.
    pub transactional: bool,
    /// To the store's team (a task notification): only the suppression list can stop it.
    pub team: bool,
    pub attempt: u32,
    pub data: MessageData,
}

/// A claimed message not yet settled, and the recipient's consent as it was last checked.
#[derive(Debug, Clone)]
pub(crate) struct Flight {
    pub(crate) workspace: WorkspaceId,
    pub(crate) contact: ContactId,
    pub(crate) channel: Channel,
    pub(crate) to: String,
    pub(crate) transactional: bool,
    pub(crate) team: bool,
    pub(crate) mark: Option<Mark>,
}

/// What the dispatcher reports for a message.
pub(crate) enum Report {
    /// The transport's answer.
    Done(Outcome),
    /// Not handed to the transport: the committer withdrew it (its recipient unsubscribed meanwhile).
    Withdrawn,
}

/// Queued messages waiting to be claimed, by priority (SPEC 6: transactional, then triggered, then
/// promotional), oldest first within each: a receipt never waits behind a campaign wave.
#[derive(Default)]
pub(crate) struct Pending([VecDeque<Outbound>; 3]);

impl Pending {
    fn class(o: &Outbound) -> usize {
        if o.transactional {
            0
        } else if o.data.campaign_id.is_some() {
            2
        } else {
            1
        }
    }

    pub(crate) fn push_back(&mut self, o: Outbound) {
        self.0[Self::class(&o)].push_back(o);
    }

    /// Back at the head of its class (a withdrawn message whose recipient may receive it again).
    pub(crate) fn push_front(&mut self, o: Outbound) {
        self.0[Self::class(&o)].push_front(o);
    }

    pub(crate) fn pop_front(&mut self) -> Option<Outbound> {
        self.0.iter_mut().find_map(VecDeque::pop_front)
    }

    pub(crate) fn len(&self) -> usize {
        self.0.iter().map(VecDeque::len).sum()
    }

    /// Takes the queued messages `pred` picks out, keeping the others in their order.
    pub(crate) fn take_where(&mut self, pred: impl Fn(&Outbound) -> bool) -> Vec<Outbound> {
        let mut taken = Vec::new();
        for q in &mut self.0 {
            let (out, keep): (VecDeque<_>, VecDeque<_>) = q.drain(..).partition(|o| pred(o));
            *q = keep;
            taken.extend(out);
        }
        taken
    }
}

/// What a recipient's right to a message depends on: the channel's consent (status and when it last
/// changed) and the suppression list's generation. A message in flight is checked again when it changes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Mark {
    pub(crate) consent: ConsentStatus,
    pub(crate) changed: Option<Timestamp>,
    pub(crate) suppressions: u64,
}

#[derive(Default)]
pub(crate) struct Dispatch {
    pub(crate) real: Real,
    tx: Option<mpsc::Sender<Outbound>>,
    /// Committed (or being committed) `queued` messages waiting to be claimed.
    pub(crate) pending: Pending,
    /// Claimed in the current transaction; handed off once it commits.
    ready: Vec<(Outbound, Option<Mark>)>,
    retries: BinaryHeap<Reverse<(i64, String)>>,
    waiting: HashMap<String, Outbound>,
    pub(crate) in_flight: HashMap<String, Flight>,
    /// Claimed messages the dispatcher must not start (shared with it).
    withdrawn: Arc<Mutex<HashSet<String>>>,
    /// Which addresses workspace-defined calls (webhook steps) may reach.
    pub(crate) outbound: Arc<OutboundPolicy>,
}

impl Dispatch {
    /// Carries the connection to the dispatcher over a state reload (after a failed commit).
    pub(crate) fn carry_over(&mut self, from: &mut Dispatch) {
        self.real = from.real;
        self.tx = from.tx.take();
        self.in_flight = std::mem::take(&mut from.in_flight);
        self.withdrawn = from.withdrawn.clone();
        self.outbound = from.outbound.clone();
    }

    /// Hands off what the committed transaction claimed.
    pub(crate) fn flush(&mut self) {
        let Some((tx, ready)) = self.take_ready() else { return };
        for o in ready {
            match tx.try_send(o) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(o)) => {
                    // Cannot happen while claims stay under HANDOFF_IN_FLIGHT_MAX; if it does, claim it again later.
                    tracing::error!(message = %o.message_id, "the dispatcher's queue is full; the message waits");
                    self.in_flight.remove(&o.message_id);
                    self.pending.push_back(o);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    tracing::warn!("the dispatcher stopped; queued messages are sent at the next start")
                }
            }
        }
    }

    /// What the committed transaction claimed, now counted in flight, with the dispatcher's queue to hand it to
    /// (None without a dispatcher: nothing was claimed). For a hand-off once the commit is on disk
    /// (`crate::durability`).
    pub(crate) fn take_ready(&mut self) -> Option<(mpsc::Sender<Outbound>, Vec<Outbound>)> {
        let tx = self.tx.clone()?;
        let in_flight = &mut self.in_flight;
        let ready = self
            .ready
            .drain(..)
            .map(|(o, mark)| {
                let flight = Flight {
                    workspace: o.workspace,
                    contact: o.contact,
                    channel: o.channel,
                    to: o.to.clone(),
                    transactional: o.transactional,
                    team: o.team,
                    mark,
                };
                in_flight.insert(o.message_id.clone(), flight);
                o
            })
            .collect();
        Some((tx, ready))
    }

    pub(crate) fn is_in_flight(&self, id: &str) -> bool {
        self.in_flight.contains_key(id)
    }

    /// Whether a dispatcher is attached (nothing is claimed before).
    pub(crate) fn connected(&self) -> bool {
        self.tx.is_some()
    }

    /// Messages claimed and not yet settled (including those claimed in the current transaction).
    pub(crate) fn claimed(&self) -> usize {
        self.in_flight.len() + self.ready.len()
    }

    /// Messages queued for a transport and not yet settled (retries waiting for their backoff excluded).
    pub(crate) fn backlog(&self) -> usize {
        self.pending.len() + self.claimed()
    }

    pub(crate) fn claim(&mut self, o: Outbound, mark: Option<Mark>) {
        self.ready.push((o, mark));
    }

    /// Asks the dispatcher not to start a claimed message (it reports it `Withdrawn` instead).
    pub(crate) fn withdraw(&mut self, id: &str) {
        self.withdrawn.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id.to_string());
    }

    pub(crate) fn is_withdrawn(&self, id: &str) -> bool {
        self.withdrawn.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(id)
    }

    /// A claimed message was settled: it is no longer in flight.
    pub(crate) fn settled(&mut self, id: &str) {
        self.in_flight.remove(id);
        self.withdrawn.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(id);
    }

    pub(crate) fn queue(&mut self, o: Outbound, at: Option<Timestamp>) {
        match at {
            Some(t) => {
                self.retries.push(Reverse((t.as_micros(), o.message_id.clone())));
                self.waiting.insert(o.message_id.clone(), o);
            }
            None => self.pending.push_back(o),
        }
    }

    pub(crate) fn tick(&mut self, now: Timestamp) {
        while let Some(Reverse((t, _))) = self.retries.peek() {
            if *t > now.as_micros() {
                break;
            }
            let Some(Reverse((_, id))) = self.retries.pop() else { break };
            if let Some(o) = self.waiting.remove(&id) {
                self.pending.push_back(o);
            }
        }
    }
}

/// What a transport answered.
pub type Outcome = Result<Option<String>, SendError>;

impl Transports {
    /// Hands one message to its transport (`Some(id)` is the provider's id for it), unless `withdrawn` says
    /// before the transport starts (for email: once the domain's limits let it go) that it is no longer wanted.
    ///
    /// Email goes through SMTP with `commit` awaited at its point of no return (see the module documentation):
    /// when it answers false, nothing was delivered and the message is reported `Withdrawn`.
    pub(crate) async fn deliver<F: Future<Output = bool>>(
        &self,
        o: &Outbound,
        withdrawn: impl Fn() -> bool,
        commit: impl FnOnce() -> F,
    ) -> Report {
        if withdrawn() {
            return Report::Withdrawn;
        }
        if o.channel == Channel::Email {
            return match self.email(o, withdrawn, commit).await {
                Ok(true) => Report::Done(Ok(None)),
                Ok(false) => Report::Withdrawn,
                Err(e) => Report::Done(Err(e)),
            };
        }
        Report::Done(self.call(o).await)
    }

    async fn email<F: Future<Output = bool>>(
        &self,
        o: &Outbound,
        withdrawn: impl Fn() -> bool,
        commit: impl FnOnce() -> F,
    ) -> Result<bool, SendError> {
        let Some(smtp) = &self.smtp else {
            return Err(SendError::Permanent("no SMTP server configured".into()));
        };
        let d = &o.data;
        let m = kairos_channels::EmailMessage {
            message_id: o.message_id.clone(),
            from: d.from.clone().unwrap_or_else(|| self.email_from.clone()),
            to: o.to.clone(),
            subject: d.subject.clone().unwrap_or_default(),
            html: d.html.clone(),
            text: d.text.clone(),
            list_unsubscribe_url: d.unsubscribe_url.clone(),
            headers: vec![("X-Kairos-Message".into(), o.message_id.clone())],
        };
        smtp.send_committing(&m, withdrawn, commit).await
    }

    /// The HTTP-based channels: SMS, Telegram, webhooks.
    async fn call(&self, o: &Outbound) -> Outcome {
        let body = o.data.body.clone().unwrap_or_default();
        match o.channel {
            Channel::Sms => {
                let Some(sms) = &self.sms else {
                    return Err(SendError::Permanent("no SMS provider configured".into()));
                };
                sms.send_from(o.data.from.as_deref(), &o.to, &body).await.map(Some)
            }
            Channel::Chat => {
                let Some(tg) = &self.telegram else {
                    return Err(SendError::Permanent("no Telegram bot configured".into()));
                };
                tg.send(&o.to, &body).await.map(|()| None)
            }
            Channel::Webhook | Channel::Email => {
                let Some(w) = &o.data.webhook else {
                    return Err(SendError::Permanent("a webhook message without its call".into()));
                };
                self.webhook
                    .post(&w.url, w.secret.as_deref().unwrap_or_default(), &o.message_id, &w.body, w.timestamp)
                    .await
                    .map(|status| Some(status.to_string()))
            }
        }
    }

    pub(crate) fn real(&self) -> Real {
        Real { email: self.smtp.is_some(), sms: self.sms.is_some(), chat: self.telegram.is_some() }
    }
}

/// The dispatcher's end of the channel and the shared set of withdrawn messages.
pub(crate) type Connection = (mpsc::Receiver<Outbound>, Arc<Mutex<HashSet<String>>>);

/// Messages the channel to the dispatcher holds. No more than [`HANDOFF_IN_FLIGHT_MAX`] are ever claimed and
/// unsettled, so the committer's `try_send` never finds it full.
const DISPATCH_QUEUE_MAX: usize = HANDOFF_IN_FLIGHT_MAX;

/// Attaches a dispatcher: answers its end of the channel and the shared set of withdrawn messages.
pub(crate) fn connect(d: &mut Dispatch, real: Real, outbound: Arc<OutboundPolicy>) -> Connection {
    let (tx, rx) = mpsc::channel(DISPATCH_QUEUE_MAX);
    d.real = real;
    d.tx = Some(tx);
    d.outbound = outbound;
    (rx, d.withdrawn.clone())
}

/// A message row's data; a row that cannot be read (damaged) reads as empty, and is logged.
pub(crate) fn message_data(m: &StoredMessage) -> MessageData {
    MessageData::parse(&m.data).unwrap_or_else(|| {
        tracing::warn!(message = %m.id, "a message's data cannot be read; it is treated as empty");
        MessageData::default()
    })
}

/// The properties of an event about a message (`Message Sent`, `Email Opened`...): the message and where it
/// came from.
pub(crate) fn message_props(id: &str, data: &MessageData) -> JsonMap {
    let mut props = JsonMap::new();
    props.insert("message_id".into(), json!(id));
    for (k, v) in [("flow_id", &data.flow_id), ("step_id", &data.step_id), ("campaign_id", &data.campaign_id)] {
        if let Some(v) = v {
            props.insert(k.into(), json!(v));
        }
    }
    if let Some(c) = data.channel {
        props.insert("channel".into(), json!(c.as_str()));
    }
    props
}

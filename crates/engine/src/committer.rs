//! The single writer. It takes every queued operation (up to [`GROUP_EVENTS_MAX`] events), applies them in
//! one transaction, claims queued messages for their transports (`crate::handoff`), commits (one fsync for
//! all, made by the syncing thread while the next group is applied on SQLite: `crate::durability`), and only
//! once the group is on disk answers each waiting request. A request that withdrew consent from the recipient of a
//! message in flight is answered once that message is settled (at most [`HELD_REPLY_WAIT_MAX`] later).

use std::sync::Arc;
use std::time::{Duration, Instant};

use kairos_domain::Timestamp;
use tokio::sync::mpsc;

use crate::state::{Seed, State};
/// Most flow runs a tick advances in one transaction (the ticker's and the dev clock's alike: a million timers
/// due at once commit in slices, with other work in between).
const TICK_RUNS_MAX: usize = 5_000;
/// Longest a reply waits for messages in flight to the person it unsubscribed (transports time out sooner:
/// SMTP 30 s, HTTP 15 s); past it the reply goes anyway and a warning is logged.
pub const HELD_REPLY_WAIT_MAX: Duration = Duration::from_secs(60);
/// How often the committer tries to load its state again while the database is away.
const RELOAD_RETRY_EVERY: Duration = Duration::from_secs(1);
/// How long the committer sleeps between looks at the queue while the database is away.
const AWAY_POLL_EVERY: Duration = Duration::from_millis(50);

use crate::command::{Pending, Reply};
use crate::durability::{AfterSync, Durability};
use crate::{Clock, EngineError, GROUP_EVENTS_MAX, Op, SegmentChange};
use tokio::sync::broadcast;

/// A committed request's reply, held until the messages in flight to the recipient it unsubscribed settle.
struct Held {
    reply: Pending,
    messages: Vec<String>,
    since: Instant,
}

/// The held replies whose messages are settled (or that waited too long) join `out`.
fn release(held: &mut Vec<Held>, state: &State, all: bool, out: &mut Vec<Pending>) {
    let (go, keep): (Vec<Held>, Vec<Held>) = std::mem::take(held).into_iter().partition(|h| {
        all || h.since.elapsed() >= HELD_REPLY_WAIT_MAX || h.messages.iter().all(|m| !state.dispatch.is_in_flight(m))
    });
    *held = keep;
    for h in go {
        if h.messages.iter().any(|m| state.dispatch.is_in_flight(m)) {
            tracing::warn!(messages = ?h.messages, "answering an unsubscribe while a message to them is still in flight");
        }
        out.push(h.reply);
    }
}

pub fn run(
    mut state: State,
    mut rx: mpsc::Receiver<Op>,
    clock: Arc<dyn Clock>,
    publish: broadcast::Sender<SegmentChange>,
    healthy: Arc<std::sync::atomic::AtomicBool>,
) {
    let mut ops: Vec<Op> = Vec::new();
    let mut more_due = false;
    let mut held: Vec<Held> = Vec::new();
    // Explicit ticks (the dev clock) waiting for the timers they made due to be all advanced.
    let mut ticks: Vec<Reply<()>> = Vec::new();
    // Readers waiting for the contact rows that waited when they asked (`crate::row_wait`).
    let mut settles: Vec<Reply<()>> = Vec::new();
    // A stop writes every waiting row first, a slice a commit, then leaves the loop.
    let mut stopping = false;
    let durability = Durability::start(state.durable_later(), publish.clone());
    loop {
        // With timers still due, go on at once (other queued work joins the same group) instead of waiting.
        let first = if more_due {
            match rx.try_recv() {
                Ok(op) => op,
                Err(_) => Op::Tick { reply: None },
            }
        } else {
            match rx.blocking_recv() {
                Some(op) => op,
                None => break,
            }
        };
        if more_due && !matches!(first, Op::Tick { .. }) {
            ops.push(Op::Tick { reply: None });
        }
        let mut weight = first.weight();
        ops.push(first);
        while weight < GROUP_EVENTS_MAX {
            match rx.try_recv() {
                Ok(op) => {
                    weight += op.weight();
                    ops.push(op);
                }
                Err(_) => break,
            }
        }
        stopping |= ops.iter().any(|o| matches!(o, Op::Shutdown));
        let halt = ops.iter().any(|o| matches!(o, Op::Halt));
        more_due = false;
        let group = Group {
            ops: &mut ops,
            more_due: &mut more_due,
            held: &mut held,
            ticks: &mut ticks,
            settles: &mut settles,
            durability: &durability,
        };
        state = match apply_group(state, group, clock.now(), &publish) {
            Ok(state) => state,
            Err(seed) => match recover(seed, &mut rx, &*clock, &healthy) {
                Some(state) => state,
                None => {
                    durability.stop();
                    tracing::info!("committer stopped while the database was away");
                    return;
                }
            },
        };
        if halt || (stopping && state.identity.waiting.settled()) {
            break;
        }
    }
    let mut last = AfterSync::default();
    release(&mut held, &state, true, &mut last.replies);
    durability.after_commit(last, &publish);
    durability.stop();
    tracing::info!("committer stopped");
}

/// One group's operations and what the committer carries from group to group.
struct Group<'a> {
    ops: &'a mut Vec<Op>,
    /// Set when work is left due (timers, campaign waves): the next group starts at once.
    more_due: &'a mut bool,
    held: &'a mut Vec<Held>,
    ticks: &'a mut Vec<Reply<()>>,
    settles: &'a mut Vec<Reply<()>>,
    /// When a committed group is on disk (`crate::durability`).
    durability: &'a Durability,
}

/// Runs one group in one transaction. On a storage failure every request of the group gets an error
/// (nothing of it was committed) and the state is reloaded from the store.
fn apply_group(
    mut state: State,
    group: Group<'_>,
    now: Timestamp,
    publish: &broadcast::Sender<SegmentChange>,
) -> Result<State, Box<Seed>> {
    let Group { ops, more_due, held, ticks, settles, durability } = group;
    // Each reply with the messages in flight its operation withdrew (usually none).
    let mut replies: Vec<(Pending, Vec<String>)> = Vec::with_capacity(ops.len());
    // Readers of some contacts each, answered with this group (`Op::SettleContacts`).
    let mut contact_settles: Vec<Reply<()>> = Vec::new();
    let started = std::time::Instant::now();
    let weight: usize = ops.iter().map(Op::weight).sum();
    // A panic while applying the group (a bug; inputs are validated before they are queued) must not kill the
    // only writer: it fails this group like a storage error (503, retryable) and the state is reloaded.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<(), EngineError> {
        state.begin()?;
        for op in ops.drain(..) {
            let before = replies.len();
            match op {
                Op::Command(cmd) => {
                    let (reply, fatal) = cmd.apply(&mut state, now);
                    replies.push((reply, Vec::new()));
                    if fatal {
                        return Err(EngineError::Unavailable);
                    }
                }
                Op::Tick { reply } => {
                    // Bounded per group; an explicit tick (dev clock) is answered once the timers it made due
                    // are all advanced, by this group or the ones right after it.
                    *more_due = state.tick(now, Some(TICK_RUNS_MAX))?;
                    ticks.extend(reply);
                }
                // Every waiting contact row is written before the engine stops (`crate::row_wait`).
                Op::Shutdown => state.identity.settle(),
                Op::Settle { reply } => {
                    state.identity.settle();
                    settles.push(reply);
                }
                Op::SettleContacts { ws, contacts, reply } => {
                    for contact in contacts {
                        let id = state.follow(contact);
                        // Only the caller's workspace: an id of another one is left as it is.
                        let theirs = state.identity.contacts.workspace_of(&id) == Some(ws);
                        if theirs && state.identity.waiting.is_waiting(&id) {
                            state.mark_dirty(id);
                        }
                    }
                    contact_settles.push(reply);
                }
                Op::Halt => {}
            }
            // What the operation emitted (opens, clicks, segment changes, ...) reaches profiles, segments and
            // flows before the next operation, in this transaction (`crate::work`).
            state.drain(now)?;
            // Did this operation unsubscribe (or suppress) the recipient of a message in flight?
            let withdrawn = state.withdrawn_by_last_op()?;
            if !withdrawn.is_empty() {
                match replies.get_mut(before) {
                    Some((_, held)) => *held = withdrawn,
                    None => tracing::debug!(messages = ?withdrawn, "a timer withdrew messages in flight"),
                }
            }
        }
        // Campaign waves top up as the previous ones go out; then claim what transports can take.
        *more_due |= state.campaign_waves(now)?;
        state.drain(now)?;
        state.hand_off(now)?;
        let applied = started.elapsed();
        state.commit(now)?;
        tracing::debug!(
            group.ops = replies.len(),
            group.weight = weight,
            apply_us = applied.as_micros() as u64,
            total_us = started.elapsed().as_micros() as u64,
            "group committed"
        );
        Ok(())
    }))
    .unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(panic = %what, "the committer panicked applying a group; it is rolled back");
        Err(EngineError::Unavailable)
    });
    crate::spent::free_later(std::mem::take(&mut state.work.spent));
    match outcome {
        Ok(()) => {
            // Answers, hand-offs and announcements wait until the group is on disk.
            let mut after = AfterSync::default();
            for (reply, messages) in replies {
                if messages.is_empty() {
                    after.replies.push(reply);
                } else {
                    held.push(Held { reply, messages, since: Instant::now() });
                }
            }
            if durability.is_later() {
                after.outbound = state.dispatch.take_ready();
            } else {
                state.dispatch.flush();
            }
            release(held, &state, false, &mut after.replies);
            if !state.flows.more_due {
                after.ticks.append(ticks);
            }
            after.ticks.append(&mut contact_settles);
            if state.identity.waiting.settled() {
                after.ticks.append(settles);
            } else {
                *more_due = true;
            }
            for (workspace, ch) in state.emitted.drain(..) {
                if let Some(d) = state.segments.def(ch.segment) {
                    let change = SegmentChange {
                        workspace,
                        contact: ch.contact,
                        segment_id: d.public_id.clone(),
                        entered: ch.entered,
                    };
                    after.changes.push(change);
                }
            }
            durability.after_commit(after, publish);
            Ok(state)
        }
        Err(e) => {
            tracing::error!(error = %e, "group commit failed; nothing of this group was stored");
            ops.clear();
            replies.into_iter().for_each(|(reply, _)| reply.fail());
            // A tick waiting for its timers learns that not all of them were advanced.
            let waiting = ticks.drain(..).chain(settles.drain(..)).chain(contact_settles);
            waiting.for_each(|t| drop(t.send(Err(EngineError::Unavailable))));
            match state.into_seed().load(now) {
                Ok(s) => Ok(s),
                Err((e, seed)) => {
                    tracing::error!(error = %e, "cannot reload state after a failed commit; retrying");
                    Err(seed)
                }
            }
        }
    }
}

/// The database is away: every request waiting or arriving is refused (its reply is dropped, which answers
/// 503 with `Retry-After`; nothing of it was stored) while the state is loaded again every
/// [`RELOAD_RETRY_EVERY`], until it loads (the node goes on by itself) or the engine shuts down (None).
fn recover(
    mut seed: Box<Seed>,
    rx: &mut mpsc::Receiver<Op>,
    clock: &dyn Clock,
    healthy: &std::sync::atomic::AtomicBool,
) -> Option<State> {
    use std::sync::atomic::Ordering::Relaxed;
    healthy.store(false, Relaxed);
    let mut attempts: u64 = 0;
    loop {
        let until = Instant::now() + RELOAD_RETRY_EVERY;
        while Instant::now() < until {
            while let Ok(op) = rx.try_recv() {
                if matches!(op, Op::Shutdown | Op::Halt) {
                    return None;
                }
                drop(op);
            }
            std::thread::sleep(AWAY_POLL_EVERY);
        }
        attempts += 1;
        match seed.load(clock.now()) {
            Ok(state) => {
                healthy.store(true, Relaxed);
                tracing::info!(attempts, "the database is back: state reloaded, accepting requests again");
                return Some(state);
            }
            Err((e, back)) => {
                if attempts == 1 || attempts.is_multiple_of(60) {
                    tracing::error!(error = %e, attempts, "the database is still away; refusing requests");
                }
                seed = back;
            }
        }
    }
}

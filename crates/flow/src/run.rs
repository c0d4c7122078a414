//! The run state machine: `advance(run, input, ctx)` moves one contact's run through the steps of its flow
//! version until it has to wait (a delay, a wait_for) or ends, and returns the effects to carry out (sends,
//! tasks, ...). Deterministic: time and the A/B draw come from the caller.

use kairos_domain::{Duration, JsonMap, Timestamp};
use kairos_segment::Expr;

use crate::def::{Delay, FlowDef, StepKind};

/// The key under which `exit_when` is evaluated.
pub const EXIT_KEY: &str = "$exit";

/// Most steps one `advance` may pass through (a guard; validation already forbids loops that never wait).
pub const STEPS_PER_ADVANCE_MAX: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Run {
    /// The step the run is at (None once it ended).
    pub step: Option<String>,
    /// When the current delay ends, or when the current wait_for times out.
    pub due_at: Option<Timestamp>,
    pub ended: Option<End>,
}

/// Why a run ended (the domain's closed set).
pub use kairos_domain::RunEnd as End;

/// What woke the run up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Input<'a> {
    /// The contact just entered: start at the first step.
    Enter,
    /// Its timer fired.
    Timer,
    /// An event of the contact (already matched to this run's key by the caller).
    Event { name: &'a str, properties: &'a JsonMap },
}

/// Something the engine must do on behalf of the run.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Send {
        step: String,
    },
    Task {
        step: String,
        message: String,
    },
    Webhook {
        step: String,
    },
    UpdateProfile {
        step: String,
    },
    Tag {
        step: String,
    },
    IssueCoupon {
        step: String,
    },
    /// The pool of an `issue_coupon` step had nothing to give (expired or exhausted): the fallback branch.
    CouponUnavailable {
        step: String,
    },
    /// The A/B variant chosen at a step (recorded for the experiment).
    Variant {
        step: String,
        variant: String,
    },
    /// The run visited a step (for per-step counts).
    Entered {
        step: String,
    },
}

/// The world as the run sees it while advancing.
pub trait Ctx {
    fn now(&self) -> Timestamp;
    /// Evaluates a condition for the contact (segment language plus `event.*` and `since entry`). `at` is the
    /// step id of a split, or `"$exit"` for the flow's `exit_when`.
    fn holds(&mut self, at: &str, condition: &Expr) -> bool;
    /// Whether the event matches the `wait_for` filter of step `at`.
    fn matches(&mut self, at: &str, filter: &Expr, properties: &JsonMap) -> bool;
    /// A uniform number in 0..total for an A/B draw (deterministic per run and step in the engine).
    fn draw(&mut self, step: &str, total: u64) -> u64;
    /// The next instant after now at local `time_minutes` on one of `weekdays` (0 = Monday; empty = any day), in
    /// the contact's time zone. The default reads the clock as UTC.
    fn next_local_time(&mut self, time_minutes: u32, weekdays: &[u8]) -> Timestamp {
        next_slot(self.now(), time_minutes, weekdays)
    }
    /// Whether coupon pool `pool` can give this contact a code now (not expired, not exhausted). An unavailable
    /// pool takes the step's `fallback_next` branch. The default (simulation) assumes it can.
    fn coupon_available(&mut self, _step: &str, _pool: &str) -> bool {
        true
    }
    /// How long until the trigger event's products are typically bought again (the shortest known reorder
    /// interval among them), if any is known. The default (simulation) knows none.
    fn reorder_after(&mut self) -> Option<Duration> {
        None
    }
}

fn ago(now: Timestamp, d: Duration) -> Timestamp {
    now.saturating_add(d)
}

/// Next instant at `time_minutes` (UTC) on allowed weekdays.
pub fn next_slot(now: Timestamp, time_minutes: u32, weekdays: &[u8]) -> Timestamp {
    const DAY: i64 = 86_400_000_000;
    let us = now.as_micros();
    let day_start = us - us.rem_euclid(DAY);
    for d in 0..=7 {
        let candidate = day_start + d * DAY + i64::from(time_minutes) * 60_000_000;
        // 1970-01-01 was a Thursday (weekday 3 with Monday = 0).
        let weekday = ((candidate.div_euclid(DAY) + 3).rem_euclid(7)) as u8;
        if candidate > us && (weekdays.is_empty() || weekdays.contains(&weekday)) {
            return Timestamp::from_micros(candidate);
        }
    }
    Timestamp::from_micros(day_start + 8 * DAY)
}

/// Advances `run` as far as it can go now. Returns the effects in order.
pub fn advance(def: &FlowDef, run: &mut Run, input: Input<'_>, ctx: &mut dyn Ctx) -> Vec<Effect> {
    let mut out = Vec::new();
    if run.ended.is_some() {
        return out;
    }
    let now = ctx.now();
    let mut arrived = false; // true when the run moved to `run.step` during this call
    match input {
        Input::Enter => {
            run.step = Some(def.start.clone());
            run.due_at = None;
            arrived = true;
        }
        Input::Timer | Input::Event { .. } => {}
    }
    for _ in 0..STEPS_PER_ADVANCE_MAX {
        let Some(id) = run.step.clone() else {
            run.ended = Some(End::Completed);
            return out;
        };
        if let Some(goal) = &def.exit_when
            && ctx.holds(EXIT_KEY, goal)
        {
            run.step = None;
            run.due_at = None;
            run.ended = Some(End::Goal);
            return out;
        }
        let Some(step) = def.steps.iter().find(|s| s.id == id) else {
            // The version the run started on always has its steps; a missing one means corrupt state.
            run.ended = Some(End::Completed);
            run.step = None;
            return out;
        };
        if arrived {
            out.push(Effect::Entered { step: id.clone() });
        }
        let next: Option<String> = match &step.kind {
            StepKind::Delay { delay, next } => {
                if arrived {
                    run.due_at = Some(match delay {
                        Delay::For(d) => ago(now, *d),
                        Delay::Until { time_minutes, weekdays } => ctx.next_local_time(*time_minutes, weekdays),
                        Delay::Reorder { default } => match ctx.reorder_after().or(*default) {
                            Some(d) => ago(now, d),
                            None => {
                                // Nothing in the order is bought again at a known pace: nothing to remind of.
                                run.step = None;
                                run.due_at = None;
                                run.ended = Some(End::Completed);
                                return out;
                            }
                        },
                    });
                    return out;
                }
                match (input, run.due_at) {
                    (Input::Timer, Some(due)) if now >= due => next.clone(),
                    _ => return out,
                }
            }
            StepKind::WaitFor { event, filter, timeout, next, timeout_next } => {
                if arrived {
                    run.due_at = Some(ago(now, *timeout));
                    return out;
                }
                match input {
                    Input::Event { name, properties }
                        if name == event && filter.as_ref().is_none_or(|f| ctx.matches(&id, f, properties)) =>
                    {
                        next.clone()
                    }
                    Input::Timer if run.due_at.is_some_and(|d| now >= d) => timeout_next.clone(),
                    _ => return out,
                }
            }
            StepKind::Split { condition, yes, no } => {
                if ctx.holds(&id, condition) {
                    yes.clone()
                } else {
                    no.clone()
                }
            }
            StepKind::AbSplit { variants } => {
                let total: u64 = variants.iter().map(|v| u64::from(v.weight)).sum();
                let mut pick = ctx.draw(&id, total.max(1));
                let mut chosen = &variants[0];
                for v in variants {
                    if pick < u64::from(v.weight) {
                        chosen = v;
                        break;
                    }
                    pick -= u64::from(v.weight);
                }
                out.push(Effect::Variant { step: id.clone(), variant: chosen.name.clone() });
                chosen.next.clone()
            }
            StepKind::Send { next, .. } => {
                out.push(Effect::Send { step: id.clone() });
                next.clone()
            }
            StepKind::Task { message, next } => {
                out.push(Effect::Task { step: id.clone(), message: message.clone() });
                next.clone()
            }
            StepKind::Webhook { next, .. } => {
                out.push(Effect::Webhook { step: id.clone() });
                next.clone()
            }
            StepKind::UpdateProfile { next, .. } => {
                out.push(Effect::UpdateProfile { step: id.clone() });
                next.clone()
            }
            StepKind::Tag { next, .. } => {
                out.push(Effect::Tag { step: id.clone() });
                next.clone()
            }
            StepKind::IssueCoupon { pool, next, fallback_next } => {
                if ctx.coupon_available(&id, pool) {
                    out.push(Effect::IssueCoupon { step: id.clone() });
                    next.clone()
                } else {
                    out.push(Effect::CouponUnavailable { step: id.clone() });
                    fallback_next.clone()
                }
            }
            StepKind::Exit => {
                run.step = None;
                run.due_at = None;
                run.ended = Some(End::ExitStep);
                return out;
            }
        };
        run.step = next;
        run.due_at = None;
        arrived = true;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_flow;
    use serde_json::json;

    struct World {
        now: Timestamp,
        ordered: bool,
        big_cart: bool,
    }
    impl Ctx for World {
        fn now(&self) -> Timestamp {
            self.now
        }
        fn holds(&mut self, _: &str, c: &Expr) -> bool {
            match c {
                Expr::Did { .. } => self.ordered,
                _ => self.big_cart,
            }
        }
        fn matches(&mut self, _: &str, _: &Expr, _: &JsonMap) -> bool {
            true
        }
        fn draw(&mut self, _: &str, total: u64) -> u64 {
            total - 1
        }
    }

    fn flow() -> FlowDef {
        parse_flow(&json!({
          "name": "Abandoned checkout",
          "trigger": {"type": "event", "event": "Checkout Started"},
          "exit_when": "did \"Order Completed\" since entry",
          "steps": [
            {"id": "wait",  "type": "delay", "duration": "4h", "next": "route"},
            {"id": "route", "type": "split", "condition": "event.value > 20000", "yes": "call", "no": "email"},
            {"id": "call",  "type": "task", "message": "Call"},
            {"id": "email", "type": "send", "channel": "email", "template": "t1", "next": "wait2"},
            {"id": "wait2", "type": "wait_for", "event": "Order Completed", "timeout": "1d", "timeout_next": "sms"},
            {"id": "sms",   "type": "send", "channel": "sms", "template": "t2"}
          ]
        }))
        .unwrap()
    }

    const H: i64 = 3_600_000_000;

    #[test]
    fn abandoned_cart_path() {
        let f = flow();
        let mut w = World { now: Timestamp(0), ordered: false, big_cart: false };
        let mut run = Run::default();
        let fx = advance(&f, &mut run, Input::Enter, &mut w);
        assert_eq!(fx, vec![Effect::Entered { step: "wait".into() }]);
        assert_eq!(run.due_at, Some(Timestamp(4 * H)));
        // A timer that fires early changes nothing.
        w.now = Timestamp(H);
        assert!(advance(&f, &mut run, Input::Timer, &mut w).is_empty());
        w.now = Timestamp(4 * H);
        let fx = advance(&f, &mut run, Input::Timer, &mut w);
        assert!(fx.contains(&Effect::Send { step: "email".into() }));
        assert_eq!(run.step.as_deref(), Some("wait2"));
        assert_eq!(run.due_at, Some(Timestamp(28 * H)));
        w.now = Timestamp(28 * H);
        let fx = advance(&f, &mut run, Input::Timer, &mut w);
        assert!(fx.contains(&Effect::Send { step: "sms".into() }));
        assert_eq!(run.ended, Some(End::Completed));
    }

    #[test]
    fn goal_and_wait_for_and_split() {
        let f = flow();
        let mut w = World { now: Timestamp(0), ordered: false, big_cart: true };
        let mut run = Run::default();
        advance(&f, &mut run, Input::Enter, &mut w);
        w.now = Timestamp(4 * H);
        let fx = advance(&f, &mut run, Input::Timer, &mut w);
        assert!(fx.contains(&Effect::Task { step: "call".into(), message: "Call".into() }));
        assert_eq!(run.ended, Some(End::Completed));

        let mut w = World { now: Timestamp(0), ordered: false, big_cart: false };
        let mut run = Run::default();
        advance(&f, &mut run, Input::Enter, &mut w);
        w.now = Timestamp(4 * H);
        advance(&f, &mut run, Input::Timer, &mut w);
        let props = JsonMap::new();
        let fx = advance(&f, &mut run, Input::Event { name: "Product Viewed", properties: &props }, &mut w);
        assert!(fx.is_empty() && run.step.as_deref() == Some("wait2"), "other events do not move a wait_for");
        w.ordered = true;
        advance(&f, &mut run, Input::Event { name: "Order Completed", properties: &props }, &mut w);
        assert_eq!(run.ended, Some(End::Goal), "the goal is checked before every step");
    }

    #[test]
    fn until_time_picks_the_next_allowed_slot() {
        // 1970-01-01 00:00 is a Thursday; 09:00 on the next Monday is 4 days + 9 h later.
        let t = next_slot(Timestamp(0), 9 * 60, &[0]);
        assert_eq!(t, Timestamp(4 * 24 * H + 9 * H));
        assert_eq!(next_slot(Timestamp(10 * H), 9 * 60, &[]), Timestamp(33 * H));
    }

    struct Reordering(Option<Duration>);
    impl Ctx for Reordering {
        fn now(&self) -> Timestamp {
            Timestamp(0)
        }
        fn holds(&mut self, _: &str, _: &Expr) -> bool {
            false
        }
        fn matches(&mut self, _: &str, _: &Expr, _: &JsonMap) -> bool {
            false
        }
        fn draw(&mut self, _: &str, _: u64) -> u64 {
            0
        }
        fn reorder_after(&mut self) -> Option<Duration> {
            self.0
        }
    }

    #[test]
    fn a_reorder_delay_waits_for_the_known_interval_or_its_default_or_ends() {
        let def = |delay: serde_json::Value| {
            let mut step = json!({"id": "wait", "type": "delay", "reorder_interval": true, "next": "mail"});
            step.as_object_mut().unwrap().extend(delay.as_object().unwrap().clone());
            parse_flow(&json!({"name": "Refill", "trigger": {"type": "event", "event": "Order Completed"},
                "steps": [step, {"id": "mail", "type": "exit"}]}))
            .unwrap()
        };
        let day = Duration::from_secs(86_400);
        for (delay, known, due) in [
            (json!({}), Some(Duration::from_secs(30 * 86_400)), Some(Timestamp(30 * 24 * H))),
            (json!({"duration": "45d"}), None, Some(Timestamp(45 * 24 * H))),
            (json!({"duration": "45d"}), Some(day), Some(Timestamp(24 * H))),
            (json!({}), None, None),
        ] {
            let mut run = Run::default();
            advance(&def(delay.clone()), &mut run, Input::Enter, &mut Reordering(known));
            assert_eq!(run.due_at, due, "{delay} {known:?}");
            assert_eq!(run.ended.is_some(), due.is_none(), "{delay} {known:?}");
        }
        let bad = json!({"name": "Bad", "trigger": {"type": "event", "event": "Order Completed"}, "steps": [
            {"id": "wait", "type": "delay", "reorder_interval": true, "until": "09:00"}]});
        assert_eq!(parse_flow(&bad).unwrap_err().field, "steps[0].until");
    }
}

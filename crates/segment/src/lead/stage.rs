//! Lifecycle stages: derived from consent, the score, the order count, the lifetime value and the time since
//! the last order; and the next instant time alone changes one.

use kairos_domain::{ConsentStatus, Contact, LifecycleStage, Timestamp};

use super::rules::Lifecycle;

/// What a stage is derived from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StageFacts {
    pub orders: u64,
    /// Spent minus refunded, in the store currency.
    pub net_value: f64,
    pub last_order_at: Option<Timestamp>,
    /// Subscribed to email or SMS.
    pub subscribed: bool,
    pub score: i64,
}

impl StageFacts {
    pub fn of(c: &Contact, score: i64) -> StageFacts {
        let o = &c.computed.orders;
        StageFacts {
            orders: o.count,
            net_value: (o.total_spent.as_major() - o.refunded_total.as_major()).max(0.0),
            last_order_at: o.last_at,
            subscribed: [c.consent.email.status, c.consent.sms.status].contains(&ConsentStatus::Subscribed),
            score,
        }
    }
}

impl Lifecycle {
    /// The stage at `now`. Recency comes first: a VIP with no order for the at-risk delay is `at_risk` (the
    /// moment a win-back matters most), then value, then the order count. Without orders, a score at the lead
    /// threshold makes a `lead`, a subscription a `subscriber`; anyone else (an anonymous visitor, an
    /// unsubscribed prospect) has no stage.
    pub fn stage(&self, f: &StageFacts, now: Timestamp) -> Option<LifecycleStage> {
        use LifecycleStage as S;
        if f.orders == 0 {
            return if f.score >= self.lead_score {
                Some(S::Lead)
            } else if f.subscribed {
                Some(S::Subscriber)
            } else {
                None
            };
        }
        let since = f.last_order_at.map_or(0, |t| now.as_micros().saturating_sub(t.as_micros()));
        Some(if since >= self.lapsed_after.as_micros() {
            S::Lapsed
        } else if since >= self.at_risk_after.as_micros() {
            S::AtRisk
        } else if f.net_value >= self.vip_lifetime_value || self.vip_orders.is_some_and(|n| f.orders >= n) {
            S::Vip
        } else if f.orders >= 2 {
            S::RepeatCustomer
        } else {
            S::FirstTimeCustomer
        })
    }

    /// The next instant after `now` at which time alone moves a customer to `at_risk` or `lapsed` (the score's
    /// own changes are [`super::LeadScoring::next_score_change`]).
    pub fn next_stage_change(&self, f: &StageFacts, now: Timestamp) -> Option<Timestamp> {
        let last = f.last_order_at.filter(|_| f.orders > 0)?;
        [self.at_risk_after, self.lapsed_after].into_iter().map(|d| last.saturating_add(d)).find(|t| *t > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LifecycleStage as S;
    use kairos_domain::Duration;

    const DAY: i64 = 86_400_000_000;

    fn facts(orders: u64, net_value: f64, last_day: i64, subscribed: bool, score: i64) -> StageFacts {
        StageFacts { orders, net_value, last_order_at: Some(Timestamp(last_day * DAY)), subscribed, score }
    }

    #[test]
    fn stages_by_recency_value_and_orders() {
        let l = Lifecycle::default();
        let now = Timestamp(100 * DAY);
        let at = |f: StageFacts| l.stage(&f, now);
        assert_eq!(at(facts(0, 0.0, 0, false, 10)), None);
        assert_eq!(at(facts(0, 0.0, 0, true, 10)), Some(S::Subscriber));
        assert_eq!(at(facts(0, 0.0, 0, true, 50)), Some(S::Lead));
        assert_eq!(at(facts(1, 40.0, 99, true, 0)), Some(S::FirstTimeCustomer));
        assert_eq!(at(facts(2, 40.0, 99, false, 0)), Some(S::RepeatCustomer));
        assert_eq!(at(facts(2, 1000.0, 99, false, 0)), Some(S::Vip));
        assert_eq!(at(facts(5, 100.0, 99, false, 0)), Some(S::Vip));
        assert_eq!(at(facts(5, 5000.0, 10, false, 0)), Some(S::AtRisk), "90 days without an order");
        assert_eq!(l.stage(&facts(5, 5000.0, 10, false, 0), Timestamp(190 * DAY)), Some(S::Lapsed));
        let off = Lifecycle { vip_orders: None, ..Lifecycle::default() };
        assert_eq!(off.stage(&facts(5, 100.0, 99, false, 0), now), Some(S::RepeatCustomer));
    }

    #[test]
    fn time_moves_customers_at_the_exact_delays() {
        let l =
            Lifecycle { at_risk_after: Duration(30 * DAY), lapsed_after: Duration(60 * DAY), ..Lifecycle::default() };
        let f = facts(1, 10.0, 10, false, 0);
        let now = Timestamp(11 * DAY);
        let t = l.next_stage_change(&f, now).unwrap();
        assert_eq!(t, Timestamp(40 * DAY));
        assert_eq!((l.stage(&f, Timestamp(t.0 - 1)), l.stage(&f, t)), (Some(S::FirstTimeCustomer), Some(S::AtRisk)));
        assert_eq!(l.next_stage_change(&f, t), Some(Timestamp(70 * DAY)));
        assert_eq!(l.next_stage_change(&f, Timestamp(70 * DAY)), None);
        assert_eq!(l.next_stage_change(&facts(0, 0.0, 10, true, 0), now), None);
    }
}

//! What a profile keeps for lead scoring and its lifecycle stage (SPEC 12): the points its events earned, as
//! they stood at one instant, and the score and stage last derived from them. The rules and the arithmetic
//! (decay, caps, stages, the next instant a value changes) live in `kairos_segment::lead`; the engine keeps
//! the derived values current as events arrive and as time passes.

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::vocab::wire_enum;

wire_enum! {
    /// Where a contact stands with the store (`lifecycle.stage`).
    pub enum LifecycleStage {
        /// Subscribed to email or SMS, no order yet, score below the lead threshold.
        Subscriber = "subscriber",
        /// No order yet, score at or above the lead threshold: shows buying intent.
        Lead = "lead",
        /// One order, recent.
        FirstTimeCustomer = "first_time_customer",
        /// Two orders or more, recent.
        RepeatCustomer = "repeat_customer",
        /// Lifetime value (net of refunds) or order count at the workspace's VIP threshold, recent.
        Vip = "vip",
        /// A customer whose last order is older than the at-risk delay.
        AtRisk = "at_risk",
        /// A customer whose last order is older than the lapsed delay.
        Lapsed = "lapsed",
    }
}

/// A profile's lead-scoring state.
///
/// Event points decay with one half-life for all rules, so their sum is one exponential: it is kept as its
/// value at `at` (every rule's share decays alike, so a later value is `points × ½^(elapsed / half-life)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Lead {
    /// Event points as they stood at `at` (after decay, before trait points).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub points: f64,
    /// The instant `points` and `capped` are valued at: the latest event scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Timestamp>,
    /// The share of each rule with a `max_times` cap, by rule key, valued at `at`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capped: Vec<(u32, f64)>,
    /// `lead.score` as last derived: event points now plus trait points, rounded.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub score: i64,
    /// `lifecycle.stage` as last derived (none: no order, not subscribed, below the lead threshold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<LifecycleStage>,
    /// When the stage last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_at: Option<Timestamp>,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

fn is_zero_i64(x: &i64) -> bool {
    *x == 0
}

impl Lead {
    /// Nothing scored and nothing derived (not written with the profile).
    pub fn is_empty(&self) -> bool {
        *self == Lead::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_travel_as_snake_case_and_empty_state_is_omitted() {
        assert_eq!(LifecycleStage::parse("first_time_customer"), Some(LifecycleStage::FirstTimeCustomer));
        assert_eq!(serde_json::to_string(&LifecycleStage::AtRisk).unwrap(), "\"at_risk\"");
        assert_eq!(serde_json::to_string(&Lead::default()).unwrap(), "{}");
        let l = Lead { points: 2.5, at: Some(Timestamp(7)), capped: vec![(3, 1.0)], score: 3, ..Lead::default() };
        let back: Lead = serde_json::from_str(&serde_json::to_string(&l).unwrap()).unwrap();
        assert_eq!(back, l);
    }
}

//! Lead scoring and lifecycle stages (SPEC 12): `lead.score` and `lifecycle.stage`, pure.
//!
//! - Rules (`rules.rs`, the workspace settings `lead_scoring` and `lifecycle`): points per event (optionally
//!   filtered on its properties and capped at `max_times` at once) and per trait; stage thresholds.
//! - Points (`score.rs`): event points fade with one half-life (½ every `half_life`), trait points hold while
//!   the trait does. The score is their sum rounded to a whole point.
//! - Stages (`stage.rs`): from consent, the score, the orders, the net lifetime value and the last order's age.
//! - [`LeadSettings::derive`]: both values at an instant, and the next instant either changes with no new
//!   event, so the engine keeps them current with one timer per contact and never scans.

mod rules;
mod score;
mod stage;
#[cfg(test)]
mod tests;

pub use rules::*;
pub use score::{LEAD_POINTS_ABS_MAX, decay};
pub use stage::StageFacts;

use kairos_domain::{Contact, LifecycleStage, Timestamp};

/// A profile's values at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Derived {
    pub score: i64,
    pub stage: Option<LifecycleStage>,
    /// The next instant the score or the stage changes if nothing else happens (None: never).
    pub next_change: Option<Timestamp>,
}

impl LeadSettings {
    /// `lead.score` and `lifecycle.stage` of `c` at `now`, and when time alone changes either.
    pub fn derive(&self, c: &Contact, now: Timestamp) -> Derived {
        let traits = self.scoring.trait_points(&c.traits);
        let score = self.scoring.score_at(&c.lead, traits, now);
        let facts = StageFacts::of(c, score);
        let stage = self.lifecycle.stage(&facts, now);
        let next_change =
            [self.scoring.next_score_change(&c.lead, traits, now), self.lifecycle.next_stage_change(&facts, now)]
                .into_iter()
                .flatten()
                .min();
        Derived { score, stage, next_change }
    }

    /// Applies one top-level settings key (`lead_scoring` or `lifecycle`).
    pub fn apply(&self, key: &str, patch: &serde_json::Value) -> Result<LeadSettings, LeadError> {
        let mut s = self.clone();
        match key {
            "lead_scoring" => s.scoring = self.scoring.apply(patch, key)?,
            "lifecycle" => s.lifecycle = self.lifecycle.apply(patch, key)?,
            _ => return Err(LeadError { field: key.into(), message: "unknown setting".into() }),
        }
        Ok(s)
    }
}

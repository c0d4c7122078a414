//! What the engine's integration tests share.

use kairos_domain::event::EventKind;
use kairos_domain::{Event, MessageId, Timestamp};

/// A bare event: message id `m{n}`, of `kind`, by `user_id` and `anonymous_id`, at `at`, received at
/// `received_at`; the caller fills in the rest.
pub fn event(
    n: usize,
    kind: EventKind,
    (user_id, anonymous_id): (Option<String>, Option<String>),
    at: Timestamp,
    received_at: Timestamp,
) -> Event {
    Event {
        message_id: MessageId::generated(format!("m{n}")),
        kind,
        name: None,
        user_id,
        anonymous_id,
        previous_id: None,
        group_id: None,
        category: None,
        properties: Default::default(),
        traits: Default::default(),
        context: Default::default(),
        timestamp: at,
        received_at,
        system: false,
    }
}

//! Flow definitions (SPEC 6 and 16): the JSON a marketer saves, parsed into typed steps and validated with
//! precise errors (`steps[3].next: no step with id "sms"`). No I/O: whether templates and segments exist is
//! asked through [`Catalog`].

mod def;
mod document;
pub mod library;
pub mod run;
mod validate;

pub use def::{AbVariant, Channel, Delay, Entry, FlowDef, Reentry, SendPolicy, Step, StepKind, Trigger, parse_flow};
pub use document::FlowDocument;
pub use validate::{Catalog, validate};

/// A definition that cannot be saved: the JSON path of the problem and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at {field})")]
pub struct FlowError {
    pub field: String,
    pub message: String,
}

impl FlowError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FlowError { field: field.into(), message: message.into() }
    }
}

/// Most steps in one flow.
pub const STEPS_MAX: usize = 200;
/// Most variants in one A/B split.
pub const VARIANTS_MAX: usize = 10;
/// Longest step id.
pub const STEP_ID_CHARS_MAX: usize = 64;

/// Longest topic id, in bytes.
pub const TOPIC_ID_BYTES_MAX: usize = 40;

/// Whether `s` can be a topic's id (`newsletter`, `new-arrivals`): what flows, campaigns and the preference
/// centre name topics by.
pub fn is_topic_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= TOPIC_ID_BYTES_MAX
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

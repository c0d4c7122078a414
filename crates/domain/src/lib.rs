//! Kairos domain: identifiers, validated newtypes, events, contacts and their computed fields.
//!
//! This crate does no I/O: it never reads the clock, the environment, files or the network.
//! Time and generated ids are passed in by the caller, which keeps every rule here deterministic.

pub mod cart;
pub mod contact;
pub mod erasure;
pub mod error;
pub mod event;
pub mod ids;
pub mod json;
pub mod lead;
pub mod message;
pub mod money;
pub mod pack;
pub mod priority;
pub mod product;
pub mod quiz;
pub mod system_event;
pub mod time;
pub mod vocab;

pub use cart::{CartLog, CartOp, item_bytes};
pub use contact::{Cart, CartItem, Computed, Consent, ConsentStatus, Contact, Orders};
pub use error::ValidationError;
pub use event::{BATCH_BYTES_MAX, EVENT_BYTES_MAX, Event, EventKind};
pub use ids::{ContactId, Email, MessageId, Phone, WorkspaceId};
pub use lead::{Lead, LifecycleStage};
pub use message::{ConsentRequest, Counts, DeferredSend, HistoryEntry, MessageData, WebhookCall};
pub use money::Money;
pub use product::{Product, ProductFields};
pub use system_event::SystemEvent;
pub use time::{Duration, Timestamp};
pub use vocab::{CampaignStatus, Channel, FlowStatus, MessageStatus, RunEnd, RunStatus, SkipReason};

/// A JSON object, as used for traits, properties and context.
pub type JsonMap = serde_json::Map<String, serde_json::Value>;

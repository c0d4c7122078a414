//! Personalised messages: composing a send with its template (rendering itself is `crate::render`), the
//! editor's previews, and the reactions to messages: opens, clicks, one-click unsubscribes, the preference
//! centre, bounces and SMS keywords.

use kairos_domain::{Channel, ConsentStatus, Contact, ContactId};

pub(crate) use crate::render::Composed;
pub use crate::render::LinkConfig;
pub use kairos_channels::BounceKind;

/// How an unsaved template is named in logs while it renders for a preview.
pub(crate) const DRAFT_NAME: &str = "(draft)";

/// A template rendered for a contact without storing anything: the editor's preview.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    /// The saved template and its version (None for a draft).
    pub template: Option<(String, i64)>,
    pub contact: ContactId,
    /// The parts and the links left untracked, or why nothing would be sent (`nothing_promotable`...).
    pub outcome: Result<Rendered, String>,
}

/// The rendered parts of a preview (`variant`: the subject line shown, when the template has variants).
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: Option<String>,
    pub preview_text: Option<String>,
    pub variant: Option<usize>,
    pub html: Option<String>,
    pub text: Option<String>,
    pub body: Option<String>,
    pub warnings: Vec<String>,
}

impl Preview {
    pub(crate) fn of(template: Option<&str>, contact: ContactId, composed: Composed) -> Preview {
        let (version, outcome) = match composed {
            Composed::Ready { version, parts, warnings, variant, .. } => (
                version,
                Ok(Rendered {
                    subject: parts.subject,
                    preview_text: parts.preview_text,
                    variant,
                    html: parts.html,
                    text: parts.text,
                    body: parts.body,
                    warnings,
                }),
            ),
            Composed::Skip { version, reason } => (version, Err(reason)),
        };
        Preview { template: template.map(|t| (t.to_string(), version)), contact, outcome }
    }
}

/// An open or click this soon after sending comes from a scanner or a privacy proxy, not a person.
pub(crate) const MACHINE_REACTION_MICROS: i64 = 2_000_000;

/// Whether an unsubscribe link of message `m` issued at `issued` (microseconds; links from before issue times
/// were recorded: when the message went out) predates its recipient `contact` subscribing again on the message's
/// channel. Replaying such a link must not undo that choice; a repeated "subscribed" does not count.
pub(crate) fn unsubscribe_stale(
    m: &kairos_store::StoredMessage,
    contact: Option<&Contact>,
    issued: Option<i64>,
) -> bool {
    let issued =
        issued.unwrap_or_else(|| crate::dispatch::message_data(m).first_sent_at().unwrap_or(m.created_at).as_micros());
    let Some(c) = contact else { return false };
    let channel = if m.channel == Channel::Sms { Channel::Sms } else { Channel::Email };
    let Some(consent) = c.consent.of(channel) else { return false };
    consent.status == ConsentStatus::Subscribed && consent.subscribed_at.is_some_and(|t| t.as_micros() > issued)
}

/// What a bounce report changed: the address as recorded, and the message it named when that message is one
/// of the workspace's sent to the address.
#[derive(Debug, Clone, PartialEq)]
pub struct Bounced {
    pub address: String,
    pub kind: BounceKind,
    pub message_id: Option<String>,
}

/// What a double opt-in sign-up led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmationRequest {
    /// The confirmation email was queued.
    Sent,
    /// One was sent moments ago: not another.
    AlreadySent,
    /// The address is already subscribed: nothing to confirm.
    AlreadySubscribed,
}

/// What following a confirmation link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// Subscribed now.
    Confirmed,
    /// The address was already subscribed (a second click).
    AlreadyConfirmed,
    /// The link is older than `CONFIRMATION_LINK_TTL_DAYS`: sign up again.
    Expired,
    /// No such request (erased, another address since, or not a confirmation).
    Unknown,
}

/// What the preference centre shows: each channel's consent, the workspace's topics with whether the person
/// gets them, and how often they want marketing email.
#[derive(Debug, Clone, PartialEq)]
pub struct PreferenceView {
    pub email: String,
    pub sms: String,
    pub store: String,
    pub topics: Vec<(crate::topics::Topic, bool)>,
    pub frequency: kairos_domain::vocab::EmailFrequency,
}

/// What the preference centre's form chose (None: left as it is).
#[derive(Debug, Clone, Default)]
pub struct PreferenceChoice {
    pub email: Option<bool>,
    pub sms: Option<bool>,
    /// The topics the person keeps; every other topic of the workspace is opted out of.
    pub topics: Option<Vec<String>>,
    pub frequency: Option<kairos_domain::vocab::EmailFrequency>,
}

/// What a followed link leads to.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkOutcome {
    Pixel,
    Redirect(String),
    Unsubscribed,
    Preferences(Box<PreferenceView>),
    /// A valid unsubscribe link: ask before acting (`GET /u/`).
    Confirm,
    /// An unsubscribe link issued before the contact subscribed again.
    Expired,
    Gone,
}

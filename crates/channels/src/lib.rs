//! Delivery transports: SMTP email (pooled, DKIM-signed, per-domain limits), Twilio-shaped SMS, signed
//! webhooks and Telegram, plus the pure helpers of the inbound side (bounce/complaint parsing, Twilio
//! signatures, SMS keywords, webhook signature checks).
//!
//! Nothing here knows about the database or the engine: a transport takes a fully rendered message and
//! answers `Ok` or a [`SendError`] saying whether a retry can help. Calls to destinations workspaces choose
//! (webhooks) go through an [`OutboundPolicy`] that refuses internal addresses.

mod bounce;
mod email;
mod http;
mod net;
mod sms;
mod telegram;
mod webhook;

pub use bounce::{Bounce, BounceKind, parse_dsn};
pub use email::{
    DkimConfig, DkimError, DkimSecondKey, DkimSigner, EmailMessage, SMTP_PER_DOMAIN_CONCURRENCY_DEFAULT,
    SMTP_POOL_SIZE_DEFAULT, SMTP_TIMEOUT_DEFAULT, Smtp, SmtpConfig, TlsMode, build_email,
};
pub use http::{HTTP_RESPONSE_BYTES_MAX, HTTP_TIMEOUT_DEFAULT, HttpClient, HttpResponse};
pub use net::{OutboundPolicy, Refused, internal_reason};
pub use sms::{
    SMS_BODY_CHARS_MAX, Sms, SmsConfig, SmsDelivery, SmsKeyword, sms_keyword, twilio_signature, verify_twilio_signature,
};
pub use telegram::{TELEGRAM_API_BASE, TELEGRAM_TEXT_CHARS_MAX, Telegram};
pub use webhook::{WEBHOOK_SIGNATURE_HEADER, Webhook, verify_webhook_signature, webhook_signature};

/// Why a send failed, and whether retrying can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later: 4xx SMTP replies, connection failures, timeouts, HTTP 408/429/5xx.
    #[error("transient: {0}")]
    Transient(String),
    /// Do not retry: SMTP 5xx (a 5xx at RCPT is a hard bounce), HTTP 4xx other than 408/429, a malformed message.
    #[error("permanent: {0}")]
    Permanent(String),
}

impl SendError {
    pub fn is_transient(&self) -> bool {
        matches!(self, SendError::Transient(_))
    }
}

/// A configuration or message that can never work as given; `field` names the offending input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {message}")]
pub struct ConfigError {
    pub field: &'static str,
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(field: &'static str, message: impl Into<String>) -> Self {
        ConfigError { field, message: message.into() }
    }
}

/// Replaces every word containing `@` with `<redacted>`, so provider replies quoted in errors (which end up
/// in logs and message records) carry no email addresses.
pub(crate) fn redact_addresses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(if word.contains('@') { "<redacted>" } else { word });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_removes_addresses() {
        assert_eq!(
            redact_addresses("550 5.1.1 <bob@example.com>: Recipient address rejected"),
            "550 5.1.1 <redacted> Recipient address rejected"
        );
        assert!(SendError::Transient("x".into()).is_transient());
        assert!(!SendError::Permanent("x".into()).is_transient());
    }
}

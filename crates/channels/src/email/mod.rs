//! Email over SMTP: message formatting with DKIM ([`build_email`], [`DkimSigner`]) and the pooled transport
//! ([`Smtp`]).

mod dkim;
mod limits;
mod message;
mod pool;
mod smtp;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::ConfigError;

pub use dkim::{DkimError, DkimSigner};
pub use message::build_email;
pub use smtp::Smtp;

/// Connection security towards the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain text (a local relay such as Postfix on 127.0.0.1).
    None,
    /// Plain connection upgraded with STARTTLS; refuses to continue without it (typically port 587).
    StartTls,
    /// Implicit TLS from the first byte (SMTPS, typically port 465).
    Tls,
}

impl FromStr for TlsMode {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(TlsMode::None),
            "starttls" => Ok(TlsMode::StartTls),
            "tls" => Ok(TlsMode::Tls),
            other => Err(ConfigError::new("tls", format!("{other:?} is not one of \"none\", \"starttls\", \"tls\""))),
        }
    }
}

/// DKIM signing identity. The key is an RSA key (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY` PEM, 2048 to
/// 4096 bits) or an Ed25519 key (PKCS#8 PEM, or a base64 32-byte seed). With `ed25519` set, each message carries
/// two signatures (RFC 8463 §1): one with the RSA key, one with the Ed25519 key under its own selector.
#[derive(Clone, PartialEq, Eq)]
pub struct DkimConfig {
    pub domain: String,
    pub selector: String,
    pub private_key_pem: String,
    /// The Ed25519 key of dual signing, beside an RSA `private_key_pem`.
    pub ed25519: Option<DkimSecondKey>,
}

/// The second key of dual signing and the selector its public key is published under.
#[derive(Clone, PartialEq, Eq)]
pub struct DkimSecondKey {
    pub selector: String,
    pub private_key_pem: String,
}

impl DkimConfig {
    /// One key (no dual signing).
    pub fn new(domain: impl Into<String>, selector: impl Into<String>, private_key_pem: impl Into<String>) -> Self {
        DkimConfig {
            domain: domain.into(),
            selector: selector.into(),
            private_key_pem: private_key_pem.into(),
            ed25519: None,
        }
    }

    /// Whether the domain, selectors and keys are usable (the keys parse), without building a transport: so a
    /// key can be checked before it is stored.
    pub fn check(&self) -> Result<(), ConfigError> {
        DkimSigner::new(self).map(|_| ())
    }
}

impl fmt::Debug for DkimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DkimConfig")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("private_key_pem", &"<redacted>")
            .field("ed25519", &self.ed25519)
            .finish()
    }
}

impl fmt::Debug for DkimSecondKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DkimSecondKey")
            .field("selector", &self.selector)
            .field("private_key_pem", &"<redacted>")
            .finish()
    }
}

/// Default number of SMTP sessions open at once (and kept idle in the pool).
pub const SMTP_POOL_SIZE_DEFAULT: u32 = 10;
/// Default number of concurrent sends to one recipient domain.
pub const SMTP_PER_DOMAIN_CONCURRENCY_DEFAULT: usize = 5;
/// Default bound on one SMTP transaction (and on each SMTP command).
pub const SMTP_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);

#[derive(Clone, PartialEq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// AUTH (PLAIN or LOGIN, whichever the server offers) when set.
    pub username: Option<String>,
    pub password: Option<String>,
    pub dkim: Option<DkimConfig>,
    /// Most SMTP sessions open at once; also the number kept idle for reuse.
    pub pool_size: u32,
    /// Most concurrent sends to one recipient domain.
    pub per_domain_concurrency: usize,
    /// Optional sustained rate per recipient domain (messages per second, bursts up to one second's worth).
    pub per_domain_per_second: Option<f64>,
    /// Bound on one whole SMTP transaction, and on each SMTP command.
    pub timeout: Duration,
}

impl SmtpConfig {
    /// A configuration with the defaults: no AUTH, no DKIM, pool of 10, 5 per domain, no rate, 30 s timeout.
    pub fn new(host: impl Into<String>, port: u16, tls: TlsMode) -> Self {
        SmtpConfig {
            host: host.into(),
            port,
            tls,
            username: None,
            password: None,
            dkim: None,
            pool_size: SMTP_POOL_SIZE_DEFAULT,
            per_domain_concurrency: SMTP_PER_DOMAIN_CONCURRENCY_DEFAULT,
            per_domain_per_second: None,
            timeout: SMTP_TIMEOUT_DEFAULT,
        }
    }
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("dkim", &self.dkim)
            .field("pool_size", &self.pool_size)
            .field("per_domain_concurrency", &self.per_domain_concurrency)
            .field("per_domain_per_second", &self.per_domain_per_second)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A fully rendered email.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EmailMessage {
    /// Deterministic id of the send (e.g. `msg_12_email`); the header becomes `Message-ID: <id@from-domain>`, so
    /// a retry of the same send carries the same Message-ID.
    pub message_id: String,
    /// `Velo Shop <shop@velo.example>`; also the envelope sender.
    pub from: String,
    pub to: String,
    pub subject: String,
    pub html: Option<String>,
    pub text: Option<String>,
    /// One-click unsubscribe URL: adds `List-Unsubscribe: <URL>` and `List-Unsubscribe-Post` (RFC 8058).
    pub list_unsubscribe_url: Option<String>,
    /// Extra headers (e.g. `X-Kairos-Flow`); the standard ones above cannot be overridden here.
    pub headers: Vec<(String, String)>,
}

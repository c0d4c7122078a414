//! The SMTP transport: formatting, per-domain limits, the session pool and error classification.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::TlsParameters;
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::{self};
use tokio::sync::Semaphore;

use super::limits::DomainLimits;
use super::message::{compose, formatted};
use super::pool::{Pool, PoolError, Security};
use super::{DkimSigner, EmailMessage, SmtpConfig, TlsMode};
use crate::{ConfigError, SendError, redact_addresses};

/// SMTP reply codes about authentication (RFC 4954): a configuration problem of ours, never the recipient's,
/// so they are retried rather than treated as a hard bounce.
const AUTH_REPLY_CODES: [u16; 4] = [530, 534, 535, 538];

/// Sends email through one SMTP server. Cheap to clone; clones share the pool and the limits.
#[derive(Clone)]
pub struct Smtp {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    signer: Option<DkimSigner>,
    domains: DomainLimits,
    timeout: Duration,
}

impl Smtp {
    /// Validates the configuration and parses the DKIM key. Connects lazily, on the first send.
    pub fn new(cfg: SmtpConfig) -> Result<Smtp, ConfigError> {
        if cfg.host.trim().is_empty() {
            return Err(ConfigError::new("host", "must not be empty"));
        }
        if cfg.pool_size == 0 {
            return Err(ConfigError::new("pool_size", "must be at least 1"));
        }
        if cfg.per_domain_concurrency == 0 {
            return Err(ConfigError::new("per_domain_concurrency", "must be at least 1"));
        }
        if cfg.per_domain_per_second.is_some_and(|r| !r.is_finite() || r <= 0.0) {
            return Err(ConfigError::new("per_domain_per_second", "must be a positive number"));
        }
        if cfg.timeout.is_zero() {
            return Err(ConfigError::new("timeout", "must be positive"));
        }
        let signer = cfg.dkim.as_ref().map(DkimSigner::new).transpose()?;

        let tls_parameters =
            || TlsParameters::new(cfg.host.clone()).map_err(|e| ConfigError::new("tls", format!("{e}")));
        let security = match cfg.tls {
            TlsMode::None => Security::Plain,
            TlsMode::StartTls => Security::StartTls(tls_parameters()?),
            TlsMode::Tls => Security::Wrapper(tls_parameters()?),
        };
        let credentials = match (&cfg.username, &cfg.password) {
            (Some(user), password) if !user.is_empty() => {
                Some(Credentials::new(user.clone(), password.clone().unwrap_or_default()))
            }
            (_, Some(password)) if !password.is_empty() => {
                return Err(ConfigError::new("username", "a password is set without a username"));
            }
            _ => None,
        };
        let size = cfg.pool_size as usize;
        let pool = Pool {
            host: cfg.host.trim().to_owned(),
            port: cfg.port,
            security,
            credentials,
            connect_timeout: cfg.timeout,
            hello: ClientId::default(),
            sessions: Semaphore::new(size),
            size,
            idle: Mutex::new(Vec::with_capacity(size)),
        };
        Ok(Smtp {
            inner: Arc::new(Inner {
                pool,
                signer,
                domains: DomainLimits::new(cfg.per_domain_concurrency, cfg.per_domain_per_second),
                timeout: cfg.timeout,
            }),
        })
    }

    /// The bytes [`send`](Self::send) transmits for `m` (signed with the key parsed once in [`new`](Self::new)).
    pub fn format(&self, m: &EmailMessage) -> Result<Vec<u8>, ConfigError> {
        formatted(&compose(m)?, self.inner.signer.as_ref())
    }

    /// Formats, signs and hands the message to the server, within the per-domain limits and the timeout.
    ///
    /// `Permanent` for a message that can never be sent (bad address or header) and for 5xx replies (a 5xx at
    /// RCPT is a hard bounce); `Transient` for 4xx replies, authentication failures, connection and TLS
    /// failures and timeouts. The timeout covers the SMTP conversation, not the wait for a domain slot.
    pub async fn send(&self, m: &EmailMessage) -> Result<(), SendError> {
        self.send_unless(m, || false).await.map(|_| ())
    }

    /// [`Smtp::send`], asking `withdrawn` once the domain's limits let the message go, just before the SMTP
    /// conversation starts: when it answers true nothing is sent and the result is `Ok(false)`.
    pub async fn send_unless(&self, m: &EmailMessage, withdrawn: impl Fn() -> bool) -> Result<bool, SendError> {
        self.send_committing(m, withdrawn, || async { true }).await
    }

    /// [`Smtp::send_unless`], awaiting `commit` at the point of no return (the server accepted DATA; the
    /// content and the final dot, after which it delivers, are next). When `commit` answers false the
    /// transaction is abandoned before the dot (nothing is delivered) and the result is `Ok(false)`. The
    /// sender records there that the message is as good as sent, so that a crash after it never sends it twice.
    pub async fn send_committing<F: Future<Output = bool>>(
        &self,
        m: &EmailMessage,
        withdrawn: impl Fn() -> bool,
        commit: impl FnOnce() -> F,
    ) -> Result<bool, SendError> {
        let message = compose(m).map_err(|e| SendError::Permanent(e.to_string()))?;
        let envelope = message.envelope().clone();
        let domain = envelope.to().first().map(|a| a.domain().to_ascii_lowercase()).unwrap_or_default();
        // A signing failure is ring's random source failing, not the message: worth a retry.
        let bytes = formatted(&message, self.inner.signer.as_ref()).map_err(|e| SendError::Transient(e.to_string()))?;

        let _domain_slot = self.inner.domains.acquire(&domain).await;
        if withdrawn() {
            return Ok(false);
        }
        let sent = tokio::time::timeout(self.inner.timeout, self.inner.pool.send(&envelope, &bytes, commit)).await;
        let result = match sent {
            Ok(Ok(sent)) => Ok(sent),
            Ok(Err(e)) => Err(classify(&e)),
            Err(_elapsed) => Err(SendError::Transient(format!("SMTP send timed out after {:?}", self.inner.timeout))),
        };
        match &result {
            Ok(true) => tracing::debug!(email.domain = %domain, "smtp accepted"),
            Ok(false) => tracing::debug!(email.domain = %domain, "smtp transaction abandoned before the content"),
            Err(e) => tracing::debug!(email.domain = %domain, error = %e, "smtp send failed"),
        }
        result
    }
}

fn classify(e: &PoolError) -> SendError {
    match e {
        // Connection, greeting, STARTTLS and AUTH problems concern our server or configuration, whatever the code.
        PoolError::Session(e) => SendError::Transient(redact_addresses(&error_chain(e))),
        PoolError::Unsupported(why) => SendError::Permanent((*why).to_string()),
        PoolError::Transaction(e) => {
            let message = redact_addresses(&error_chain(e));
            let code = e.status().map(u16::from);
            // A server that wants AUTH answers MAIL with 530: ours to fix, not the recipient's.
            if e.is_permanent() && !code.is_some_and(|c| AUTH_REPLY_CODES.contains(&c)) {
                SendError::Permanent(message)
            } else if e.is_client() {
                // Refused before the transaction (e.g. a non-ASCII address and a server without SMTPUTF8).
                SendError::Permanent(message)
            } else {
                SendError::Transient(message)
            }
        }
    }
}

fn error_chain(e: &smtp::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

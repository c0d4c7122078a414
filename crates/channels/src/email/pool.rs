//! A small SMTP session pool over lettre's `AsyncSmtpConnection`.
//!
//! lettre's own pool returns a connection to the pool when the future using it is dropped, so cancelling a
//! send (our timeout) mid-transaction could hand a half-finished session to the next message and shift every
//! reply after it. Here a session is only returned after a completed transaction; a cancelled one is dropped
//! with its socket.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::Error;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::sync::Semaphore;

/// A session idle longer than this is closed rather than reused (servers commonly drop idle clients after 60 s+).
const SESSION_IDLE_MAX: Duration = Duration::from_secs(50);
/// Bound on the polite QUIT sent when a session is retired.
const QUIT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a send failed: opening the session (connect, TLS, AUTH: never the recipient's doing) or in the mail
/// transaction itself (MAIL, RCPT, DATA).
pub(crate) enum PoolError {
    Session(Error),
    Transaction(Error),
    /// Refused before the transaction: the message needs an extension the server lacks (SMTPUTF8, 8BITMIME).
    Unsupported(&'static str),
}

pub(crate) enum Security {
    Plain,
    StartTls(TlsParameters),
    Wrapper(TlsParameters),
}

pub(crate) struct Pool {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) security: Security,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) connect_timeout: Duration,
    pub(crate) hello: ClientId,
    /// Caps the sessions open at once; the idle list holds at most as many.
    pub(crate) sessions: Semaphore,
    pub(crate) size: usize,
    pub(crate) idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl Pool {
    /// One mail transaction on a pooled (or new) session. Cancel-safe: a session in use is never shared.
    ///
    /// `commit` is awaited once the server accepted DATA, just before the content and the final dot, the point
    /// after which the server delivers: when it answers false the session is dropped without the dot (the
    /// server discards the transaction) and the result is `Ok(false)`.
    pub(crate) async fn send<F: Future<Output = bool>>(
        &self,
        envelope: &Envelope,
        bytes: &[u8],
        commit: impl FnOnce() -> F,
    ) -> Result<bool, PoolError> {
        let Ok(_slot) = self.sessions.acquire().await else {
            unreachable!("the session semaphore is never closed");
        };
        let mut conn = self.checkout().await.map_err(PoolError::Session)?;
        let result = transaction(&mut conn, envelope, bytes, commit).await;
        if conn.has_broken() || matches!(result, Ok(false)) {
            // lettre has already sent QUIT and closed a broken one (a failed command marks it); one left inside
            // DATA is closed without the final dot.
            drop(conn);
        } else {
            self.checkin(conn);
        }
        result
    }

    async fn checkout(&self) -> Result<AsyncSmtpConnection, Error> {
        loop {
            let parked = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let Some((mut conn, since)) = parked else { break };
            if since.elapsed() < SESSION_IDLE_MAX && conn.test_connected().await {
                return Ok(conn);
            }
            retire(conn);
        }
        self.connect().await
    }

    fn checkin(&self, conn: AsyncSmtpConnection) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.size {
            idle.push((conn, Instant::now()));
        } else {
            drop(idle);
            retire(conn);
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, Error> {
        let wrapper = match &self.security {
            Security::Wrapper(params) => Some(params.clone()),
            _ => None,
        };
        let server = (self.host.as_str(), self.port);
        // Our own socket with TCP_NODELAY when there is no implicit TLS: without it Nagle holds the end of DATA
        // until the server's delayed ACK, ~40 ms per message (the send bench went from 359 to the README figure).
        let plain = match &wrapper {
            None => tokio::time::timeout(self.connect_timeout, tokio::net::TcpStream::connect(server)).await.ok(),
            Some(_) => None,
        };
        let mut conn = match plain {
            Some(Ok(tcp)) => {
                let _ = tcp.set_nodelay(true);
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await?
            }
            // Implicit TLS, or a failed connect (tried again by lettre so the error is lettre's own).
            _ => {
                AsyncSmtpConnection::connect_tokio1(server, Some(self.connect_timeout), &self.hello, wrapper, None)
                    .await?
            }
        };
        if let Security::StartTls(params) = &self.security {
            conn.starttls(params.clone(), &self.hello).await?;
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials).await?;
        }
        Ok(conn)
    }
}

/// Closes a session with QUIT in the background, bounded so a dead peer cannot pin a task.
fn retire(mut conn: AsyncSmtpConnection) {
    tokio::spawn(async move {
        let _ = tokio::time::timeout(QUIT_TIMEOUT, conn.abort()).await;
    });
}

/// MAIL, RCPT, DATA, then (once `commit` allows) the content and the final dot: lettre's `send`, with the point
/// of no return made visible. A failed command ends the session as lettre's does (`abort`).
async fn transaction<F: Future<Output = bool>>(
    conn: &mut AsyncSmtpConnection,
    envelope: &Envelope,
    bytes: &[u8],
    commit: impl FnOnce() -> F,
) -> Result<bool, PoolError> {
    use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
    use lettre::transport::smtp::extension::{Extension, MailBodyParameter, MailParameter};
    let mut options = Vec::new();
    let ascii = |a: &lettre::Address| AsRef::<str>::as_ref(a).is_ascii();
    let non_ascii = envelope.from().is_some_and(|a| !ascii(a)) || envelope.to().iter().any(|a| !ascii(a));
    if non_ascii {
        if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
            return Err(PoolError::Unsupported("the address is not ASCII and the server does not support SMTPUTF8"));
        }
        options.push(MailParameter::SmtpUtfEight);
    }
    if !bytes.is_ascii() {
        if !conn.server_info().supports_feature(Extension::EightBitMime) {
            return Err(PoolError::Unsupported("the message is not ASCII and the server does not support 8BITMIME"));
        }
        options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    let mut commands = vec![Mail::new(envelope.from().cloned(), options).to_string()];
    commands.extend(envelope.to().iter().map(|to| Rcpt::new(to.clone(), Vec::new()).to_string()));
    commands.push(Data.to_string());
    for command in commands {
        if let Err(e) = conn.command(command).await {
            conn.abort().await;
            return Err(PoolError::Transaction(e));
        }
    }
    if !commit().await {
        return Ok(false);
    }
    if let Err(e) = conn.message(bytes).await {
        conn.abort().await;
        return Err(PoolError::Transaction(e));
    }
    Ok(true)
}

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
    pub(crate) async fn send(&self, envelope: &Envelope, bytes: &[u8]) -> Result<(), PoolError> {
        let Ok(_slot) = self.sessions.acquire().await else {
            unreachable!("the session semaphore is never closed");
        };
        let mut conn = self.checkout().await.map_err(PoolError::Session)?;
        let result = conn.send(envelope, bytes).await.map_err(PoolError::Transaction);
        if conn.has_broken() {
            // lettre has already sent QUIT and closed it (a failed command marks the session broken).
            drop(conn);
        } else {
            self.checkin(conn);
        }
        result.map(|_response| ())
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

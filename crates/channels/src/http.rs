//! One shared HTTP(S) client for the HTTP-based channels.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{HeaderMap, Request};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::SendError;
use crate::net::{GuardedResolver, OutboundPolicy, Refused};

/// Default bound on one request, connection included.
pub const HTTP_TIMEOUT_DEFAULT: Duration = Duration::from_secs(15);
/// Largest response body read; a larger one fails as transient.
pub const HTTP_RESPONSE_BYTES_MAX: usize = 1024 * 1024;
/// How long an idle keep-alive connection is kept.
const HTTP_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Idle connections kept per host.
const HTTP_IDLE_PER_HOST_MAX: usize = 32;

/// A pooled HTTP/1.1 client for `http` and `https` URLs (rustls with the ring provider and the webpki roots),
/// with a per-request timeout. Cheap to clone; clones share the connection pool. A client made with
/// [`HttpClient::guarded`] only connects where its [`OutboundPolicy`] allows (checked after DNS resolution).
/// Redirects are never followed.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector<GuardedResolver>>, Full<Bytes>>,
    timeout: Duration,
    policy: Arc<OutboundPolicy>,
}

/// Status, headers and (size-limited) body of a response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Default for HttpClient {
    fn default() -> Self {
        HttpClient::new(HTTP_TIMEOUT_DEFAULT)
    }
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("timeout", &self.timeout)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client for destinations the operator configured (any address).
    pub fn new(timeout: Duration) -> Self {
        HttpClient::guarded(timeout, Arc::new(OutboundPolicy::unrestricted()))
    }

    /// A client for destinations workspaces choose: only addresses `policy` allows.
    pub fn guarded(timeout: Duration, policy: Arc<OutboundPolicy>) -> Self {
        let mut http = HttpConnector::new_with_resolver(GuardedResolver { policy: policy.clone() });
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeout));
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        // The ring provider, named explicitly: with aws-lc-rs also compiled into the binary rustls could not
        // pick a process default. Building a config from ring's safe defaults cannot fail.
        let builder = match builder.with_provider_and_webpki_roots(rustls::crypto::ring::default_provider()) {
            Ok(builder) => builder,
            Err(e) => unreachable!("ring supports rustls' default protocol versions: {e}"),
        };
        let https = builder.https_or_http().enable_http1().wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(HTTP_IDLE_TIMEOUT)
            .pool_max_idle_per_host(HTTP_IDLE_PER_HOST_MAX)
            .build(https);
        HttpClient { client, timeout, policy }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn policy(&self) -> Arc<OutboundPolicy> {
        self.policy.clone()
    }

    /// Sends the request and reads the whole response within the timeout. Network failures, timeouts and
    /// oversized bodies are `Transient`; a destination the policy refuses is `Permanent`; any HTTP status is
    /// returned as is for the caller to judge.
    pub async fn send(&self, request: Request<Full<Bytes>>) -> Result<HttpResponse, SendError> {
        // An IP literal is connected to without a lookup, so the resolver never sees it: check it here.
        let literal = request.uri().host().and_then(|h| h.trim_start_matches('[').trim_end_matches(']').parse().ok());
        if let Some(ip) = literal {
            self.policy.check(ip).map_err(|Refused(why)| SendError::Permanent(why))?;
        }
        let work = async {
            let response = self.client.request(request).await.map_err(|e| match refused(&e) {
                Some(why) => SendError::Permanent(why),
                None => SendError::Transient(error_chain(&e)),
            })?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, HTTP_RESPONSE_BYTES_MAX)
                .collect()
                .await
                .map_err(|e| SendError::Transient(format!("reading the response: {e}")))?
                .to_bytes();
            Ok(HttpResponse { status: parts.status.as_u16(), headers: parts.headers, body })
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_elapsed) => Err(SendError::Transient(format!("HTTP request timed out after {:?}", self.timeout))),
        }
    }
}

/// The usual HTTP-channel verdict: 2xx is success; 408, 429 and 5xx are worth retrying; other statuses
/// (4xx, and 3xx since redirects are not followed) are permanent.
pub(crate) fn status_verdict(status: u16, what: &str) -> Result<(), SendError> {
    match status {
        200..=299 => Ok(()),
        408 | 429 | 500..=599 => Err(SendError::Transient(format!("{what} answered HTTP {status}"))),
        300..=399 => Err(SendError::Permanent(format!("{what} answered HTTP {status} (redirects are not followed)"))),
        _ => Err(SendError::Permanent(format!("{what} answered HTTP {status}"))),
    }
}

/// Accepts only absolute `http://` and `https://` URLs.
pub(crate) fn parse_http_url(url: &str) -> Result<hyper::Uri, SendError> {
    let uri: hyper::Uri = url.parse().map_err(|_| SendError::Permanent("not a valid URL".into()))?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some_and(|h| !h.is_empty()) => Ok(uri),
        _ => Err(SendError::Permanent("only http:// and https:// URLs are allowed".into())),
    }
}

/// The policy's refusal somewhere in an error's chain of sources.
fn refused(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut source = Some(e);
    while let Some(s) = source {
        if let Some(Refused(why)) = s.downcast_ref::<Refused>() {
            return Some(why.clone());
        }
        source = s.source();
    }
    None
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        assert!(status_verdict(204, "x").is_ok());
        for s in [408, 429, 500, 503] {
            assert!(status_verdict(s, "x").unwrap_err().is_transient(), "{s}");
        }
        for s in [301, 400, 401, 404, 410, 422] {
            assert!(!status_verdict(s, "x").unwrap_err().is_transient(), "{s}");
        }
    }

    /// A listener on loopback that answers 204 and counts connections.
    async fn loopback_server() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n").await;
            }
        });
        (port, hits)
    }

    fn get(url: &str) -> Request<Full<Bytes>> {
        Request::get(url).body(Full::new(Bytes::new())).unwrap()
    }

    #[tokio::test]
    async fn a_guarded_client_refuses_internal_addresses_after_resolving() {
        let (port, hits) = loopback_server().await;
        let guarded = HttpClient::guarded(Duration::from_secs(5), Arc::new(OutboundPolicy::default()));
        for url in [
            format!("http://127.0.0.1:{port}/x"),
            format!("http://localhost:{port}/x"),
            // Not an IP literal to the URL parser, but getaddrinfo reads it as 127.0.0.1.
            format!("http://127.1:{port}/x"),
        ] {
            let err = guarded.send(get(&url)).await.unwrap_err();
            assert!(!err.is_transient(), "{url}: a refusal is permanent: {err}");
            assert!(err.to_string().contains("loopback"), "{url}: {err}");
        }
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing connected");
        let allowed = OutboundPolicy::new(&["127.0.0.0/8", "::1"]).unwrap();
        let allowed = HttpClient::guarded(Duration::from_secs(5), Arc::new(allowed));
        assert_eq!(allowed.send(get(&format!("http://localhost:{port}/x"))).await.unwrap().status, 204);
        let trusted = HttpClient::new(Duration::from_secs(5));
        assert_eq!(trusted.send(get(&format!("http://127.0.0.1:{port}/x"))).await.unwrap().status, 204);
    }

    #[test]
    fn only_http_urls() {
        assert!(parse_http_url("https://hooks.example.com/a?b=c").is_ok());
        assert!(parse_http_url("http://127.0.0.1:9/x").is_ok());
        for bad in ["ftp://x/y", "file:///etc/passwd", "/relative", "https://", "not a url"] {
            assert!(!parse_http_url(bad).unwrap_err().is_transient(), "{bad}");
        }
    }
}

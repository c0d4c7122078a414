//! One shared HTTP(S) client for the HTTP-based channels.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{HeaderMap, Request};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::SendError;

/// Default bound on one request, connection included.
pub const HTTP_TIMEOUT_DEFAULT: Duration = Duration::from_secs(15);
/// Largest response body read; a larger one fails as transient.
pub const HTTP_RESPONSE_BYTES_MAX: usize = 1024 * 1024;
/// How long an idle keep-alive connection is kept.
const HTTP_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Idle connections kept per host.
const HTTP_IDLE_PER_HOST_MAX: usize = 32;

/// A pooled HTTP/1.1 client for `http` and `https` URLs (rustls with the ring provider and the webpki roots),
/// with a per-request timeout. Cheap to clone; clones share the connection pool.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
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
        f.debug_struct("HttpClient").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl HttpClient {
    pub fn new(timeout: Duration) -> Self {
        let mut http = HttpConnector::new();
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
        HttpClient { client, timeout }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends the request and reads the whole response within the timeout. Network failures, timeouts and
    /// oversized bodies are `Transient`; any HTTP status is returned as is for the caller to judge.
    pub async fn send(&self, request: Request<Full<Bytes>>) -> Result<HttpResponse, SendError> {
        let work = async {
            let response = self.client.request(request).await.map_err(|e| SendError::Transient(error_chain(&e)))?;
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

    #[test]
    fn only_http_urls() {
        assert!(parse_http_url("https://hooks.example.com/a?b=c").is_ok());
        assert!(parse_http_url("http://127.0.0.1:9/x").is_ok());
        for bad in ["ftp://x/y", "file:///etc/passwd", "/relative", "https://", "not a url"] {
            assert!(!parse_http_url(bad).unwrap_err().is_transient(), "{bad}");
        }
    }
}

//! Outbound webhooks: JSON POSTs signed with HMAC-SHA256 over the timestamp and the exact body bytes.

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue, USER_AGENT};
use hyper::{Method, Request};
use sha2::Sha256;

use crate::SendError;
use crate::http::{HttpClient, parse_http_url, status_verdict};

/// Header carrying [`webhook_signature`].
pub const WEBHOOK_SIGNATURE_HEADER: &str = "X-Kairos-Signature";

/// Posts signed JSON to customer endpoints.
#[derive(Clone, Debug)]
pub struct Webhook {
    http: HttpClient,
}

impl Webhook {
    /// `http` should be [`HttpClient::guarded`]: webhook URLs come from workspaces.
    pub fn new(http: HttpClient) -> Self {
        Webhook { http }
    }

    /// Where this client may connect (also used to refuse internal URLs when a flow is saved).
    pub fn policy(&self) -> std::sync::Arc<crate::OutboundPolicy> {
        self.http.policy()
    }

    /// POSTs `body` to `url` with `Content-Type: application/json`, `X-Kairos-Signature`,
    /// `Idempotency-Key: <message_id>` and `User-Agent: Kairos`; answers the 2xx status.
    ///
    /// 408, 429, 5xx and network failures are `Transient`; other statuses (redirects are not followed),
    /// destinations the client's policy refuses and non-http(s) URLs are `Permanent`.
    pub async fn post(
        &self,
        url: &str,
        secret: &str,
        message_id: &str,
        body: &serde_json::Value,
        timestamp_secs: i64,
    ) -> Result<u16, SendError> {
        let uri = parse_http_url(url)?;
        let idempotency_key = HeaderValue::from_str(message_id)
            .map_err(|_| SendError::Permanent("the message id is not a valid header value".into()))?;
        let bytes = serde_json::to_vec(body).map_err(|e| SendError::Permanent(format!("encoding the body: {e}")))?;
        let signature = webhook_signature(secret, timestamp_secs, &bytes);
        let request = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(CONTENT_TYPE, "application/json")
            .header(WEBHOOK_SIGNATURE_HEADER, signature)
            .header("Idempotency-Key", idempotency_key)
            .header(USER_AGENT, "Kairos")
            .body(Full::new(Bytes::from(bytes)))
            .map_err(|e| SendError::Permanent(format!("building the webhook request: {e}")))?;
        let response = self.http.send(request).await?;
        status_verdict(response.status, "webhook endpoint")?;
        Ok(response.status)
    }
}

fn mac(secret: &str, timestamp_secs: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(timestamp_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// `t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn webhook_signature(secret: &str, timestamp_secs: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp_secs, body).finalize().into_bytes();
    let mut hex = String::with_capacity(digest.len() * 2);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    format!("t={timestamp_secs},v1={hex}")
}

/// Checks a `t=..,v1=..` header against the raw body in constant time; any of several `v1` values may match
/// (secret rotation). The timestamp is signed but its freshness is the caller's to judge (`t=` is in the header).
pub fn verify_webhook_signature(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for item in header.split(',') {
        match item.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => candidates.push(v),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else { return false };
    let mut ok = false;
    for candidate in candidates {
        if let Some(expected) = hex_decode(candidate) {
            ok |= mac(secret, timestamp, body).verify_slice(&expected).is_ok();
        }
    }
    ok
}

fn hex_decode(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify() {
        let body = br#"{"event":"order","id":1}"#;
        let header = webhook_signature("whsec", 1_767_225_600, body);
        assert!(header.starts_with("t=1767225600,v1="));
        assert_eq!(header.len(), "t=1767225600,v1=".len() + 64);
        assert!(verify_webhook_signature("whsec", &header, body));
        assert!(!verify_webhook_signature("other", &header, body));
        assert!(!verify_webhook_signature("whsec", &header, br#"{"event":"order","id":2}"#));
        let moved_time = header.replace("t=1767225600", "t=1767225601");
        assert!(!verify_webhook_signature("whsec", &moved_time, body));
        let rotated = format!("{header},v1={}", "00".repeat(32));
        assert!(verify_webhook_signature("whsec", &rotated, body));
        for bad in ["", "v1=00", "t=1", "t=x,v1=zz", "t=1767225600,v1=abc"] {
            assert!(!verify_webhook_signature("whsec", bad, body), "{bad}");
        }
    }

    #[test]
    fn known_vector() {
        // python3 -c 'import hmac,hashlib; print(hmac.new(b"key", b"0.{}", hashlib.sha256).hexdigest())'
        assert_eq!(
            webhook_signature("key", 0, b"{}"),
            "t=0,v1=7314351dd949aa7ec06f50fc2c96e618291447672c9b7f10b49d1ce46dad00b3"
        );
    }
}

//! SMS through an HTTP provider with Twilio's REST shape, plus the inbound helpers (signature, keywords).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::Full;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use hyper::{Method, Request};
use sha1::Sha1;

use crate::http::{HttpClient, parse_http_url, status_verdict};
use crate::{ConfigError, SendError};

/// Longest SMS body accepted (Twilio's limit is 1 600 characters).
pub const SMS_BODY_CHARS_MAX: usize = 1600;

#[derive(Clone, PartialEq, Eq)]
pub struct SmsConfig {
    /// Base URL, e.g. `https://api.twilio.com` or a local fake such as `http://127.0.0.1:9999`.
    pub provider_url: String,
    pub account_sid: String,
    pub auth_token: String,
    /// Sender number (E.164) or messaging service / alphanumeric sender id.
    pub from: String,
    /// Delivery status callbacks (`StatusCallback`) go here when set.
    pub status_callback_url: Option<String>,
}

impl fmt::Debug for SmsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmsConfig")
            .field("provider_url", &self.provider_url)
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"<redacted>")
            .field("from", &self.from)
            .field("status_callback_url", &self.status_callback_url)
            .finish()
    }
}

/// Sends SMS with `POST {provider_url}/2010-04-01/Accounts/{sid}/Messages.json`.
#[derive(Clone, Debug)]
pub struct Sms {
    cfg: SmsConfig,
    endpoint: String,
    authorization: String,
    http: HttpClient,
}

impl Sms {
    pub fn new(cfg: SmsConfig, http: HttpClient) -> Self {
        let base = cfg.provider_url.trim().trim_end_matches('/');
        let endpoint = format!("{base}/2010-04-01/Accounts/{}/Messages.json", form_encode(&cfg.account_sid));
        let authorization = format!("Basic {}", B64.encode(format!("{}:{}", cfg.account_sid, cfg.auth_token)));
        Sms { cfg, endpoint, authorization, http }
    }

    /// Checks what [`new`](Self::new) cannot report: the provider URL and the credentials.
    pub fn validate(cfg: &SmsConfig) -> Result<(), ConfigError> {
        parse_http_url(cfg.provider_url.trim())
            .map_err(|_| ConfigError::new("sms.provider_url", "needs an http:// or https:// URL"))?;
        if cfg.account_sid.is_empty() || cfg.auth_token.is_empty() {
            return Err(ConfigError::new("sms.account_sid", "account_sid and auth_token are required"));
        }
        if cfg.from.trim().is_empty() {
            return Err(ConfigError::new("sms.from", "a sender is required"));
        }
        Ok(())
    }

    /// Sends `body` to `to` and answers the provider's message sid (`SM...`).
    ///
    /// HTTP 408/429/5xx and network failures are `Transient`; other 4xx (invalid or opted-out number, bad
    /// credentials) are `Permanent`, with the provider's numeric error code in the message.
    pub async fn send(&self, to: &str, body: &str) -> Result<String, SendError> {
        self.send_from(None, to, body).await
    }

    /// Like [`send`](Self::send), from `from` instead of the configured sender when given (a workspace's own
    /// number).
    pub async fn send_from(&self, from: Option<&str>, to: &str, body: &str) -> Result<String, SendError> {
        if to.trim().is_empty() || body.is_empty() || body.chars().count() > SMS_BODY_CHARS_MAX {
            return Err(SendError::Permanent(format!("SMS needs a recipient and 1-{SMS_BODY_CHARS_MAX} characters")));
        }
        let from = from.filter(|f| !f.trim().is_empty()).unwrap_or(self.cfg.from.as_str());
        let mut form = vec![("To", to.trim()), ("From", from), ("Body", body)];
        if let Some(url) = &self.cfg.status_callback_url {
            form.push(("StatusCallback", url.as_str()));
        }
        let encoded = form.iter().map(|(k, v)| format!("{k}={}", form_encode(v))).collect::<Vec<_>>().join("&");
        let uri = parse_http_url(&self.endpoint)?;
        let request = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(AUTHORIZATION, &self.authorization)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(USER_AGENT, "Kairos")
            .body(Full::new(Bytes::from(encoded)))
            .map_err(|e| SendError::Permanent(format!("building the SMS request: {e}")))?;
        let response = self.http.send(request).await?;
        let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or(serde_json::Value::Null);
        if let Err(e) = status_verdict(response.status, "SMS provider") {
            // Twilio's `message` quotes the phone number; keep only its numeric `code`.
            let detail = json.get("code").and_then(|c| c.as_i64()).map(|c| format!(" (error code {c})"));
            return Err(match e {
                SendError::Transient(m) => SendError::Transient(m + &detail.unwrap_or_default()),
                SendError::Permanent(m) => SendError::Permanent(m + &detail.unwrap_or_default()),
            });
        }
        match json.get("sid").and_then(|s| s.as_str()) {
            Some(sid) if !sid.is_empty() => Ok(sid.to_owned()),
            // Accepted but unreadable: retrying could send twice, so report it as permanent.
            _ => Err(SendError::Permanent(format!("SMS provider answered HTTP {} without a sid", response.status))),
        }
    }
}

/// `application/x-www-form-urlencoded` value encoding (space as `+`).
pub(crate) fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Twilio's `X-Twilio-Signature` for a request to `url` (the full URL Twilio called, query included) with the
/// POSTed form `params`: base64 of HMAC-SHA1(auth token, url + every key and value, sorted by key).
/// Compare it with the header in constant time.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    B64.encode(twilio_mac(auth_token, url, params).finalize().into_bytes())
}

/// Checks an `X-Twilio-Signature` header in constant time (see [`twilio_signature`]).
pub fn verify_twilio_signature(auth_token: &str, url: &str, params: &[(String, String)], header: &str) -> bool {
    match B64.decode(header.trim()) {
        Ok(expected) => twilio_mac(auth_token, url, params).verify_slice(&expected).is_ok(),
        Err(_) => false,
    }
}

fn twilio_mac(auth_token: &str, url: &str, params: &[(String, String)]) -> Hmac<Sha1> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = match Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(url.as_bytes());
    for (key, value) in sorted {
        mac.update(key.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// What a provider's status callback says about a text (Twilio's `MessageStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsDelivery {
    /// `delivered`.
    Delivered,
    /// `undelivered` or `failed`.
    Failed,
    /// `queued`, `sending`, `sent` and the rest: nothing settled yet.
    Pending,
}

impl SmsDelivery {
    /// Reads Twilio's `MessageStatus` value.
    pub fn parse(status: &str) -> SmsDelivery {
        match status {
            "delivered" => SmsDelivery::Delivered,
            "undelivered" | "failed" => SmsDelivery::Failed,
            _ => SmsDelivery::Pending,
        }
    }
}

/// Twilio's standard opt-out, opt-in and help keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsKeyword {
    Stop,
    Start,
    Help,
}

/// The keyword an inbound SMS consists of (case, surrounding whitespace and trailing punctuation ignored), as
/// Twilio recognises them: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, START, YES, UNSTOP, HELP, INFO.
pub fn sms_keyword(body: &str) -> Option<SmsKeyword> {
    let word = body.trim().trim_end_matches(['.', '!']).trim().to_uppercase();
    match word.as_str() {
        "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" => Some(SmsKeyword::Stop),
        "START" | "YES" | "UNSTOP" => Some(SmsKeyword::Start),
        "HELP" | "INFO" => Some(SmsKeyword::Help),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_documented_example() {
        // The example from Twilio's webhook security documentation.
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675310"),
            ("Digits", "1234"),
            ("From", "+14158675310"),
            ("To", "+18005551212"),
        ]
        .iter()
        .rev()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let sig = twilio_signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", &params);
        assert_eq!(sig, "GvWf1cFY/Q7PnoempGyD5oXAezc=");
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert!(verify_twilio_signature("12345", url, &params, &sig));
        assert!(!verify_twilio_signature("12345", url, &params[1..], &sig));
        assert!(!verify_twilio_signature("12345", url, &params, "not base64!"));
        assert_ne!(twilio_signature("12346", "https://mycompany.com/myapp.php?foo=1&bar=2", &params), sig);
    }

    #[test]
    fn keywords() {
        for (body, kw) in [
            ("STOP", Some(SmsKeyword::Stop)),
            ("  stop\n", Some(SmsKeyword::Stop)),
            ("StopAll", Some(SmsKeyword::Stop)),
            ("unsubscribe", Some(SmsKeyword::Stop)),
            ("Cancel", Some(SmsKeyword::Stop)),
            ("end", Some(SmsKeyword::Stop)),
            ("QUIT.", Some(SmsKeyword::Stop)),
            ("start", Some(SmsKeyword::Start)),
            ("Yes!", Some(SmsKeyword::Start)),
            ("UNSTOP", Some(SmsKeyword::Start)),
            ("help", Some(SmsKeyword::Help)),
            ("Info", Some(SmsKeyword::Help)),
            ("please stop", None),
            ("stopp", None),
            ("", None),
        ] {
            assert_eq!(sms_keyword(body), kw, "{body:?}");
        }
    }

    #[test]
    fn form_encoding() {
        assert_eq!(form_encode("+1 555/é&="), "%2B1+555%2F%C3%A9%26%3D");
    }
}

//! Telegram bot messages (`sendMessage`).

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, USER_AGENT};
use hyper::{Method, Request};

use crate::SendError;
use crate::http::{HttpClient, parse_http_url, status_verdict};

/// The public Bot API.
pub const TELEGRAM_API_BASE: &str = "https://api.telegram.org";
/// Telegram's limit on one message, in characters.
pub const TELEGRAM_TEXT_CHARS_MAX: usize = 4096;
/// Longest `description` quoted from an error answer.
const DESCRIPTION_CHARS_MAX: usize = 200;

#[derive(Clone)]
pub struct Telegram {
    /// `{api_base}/bot{token}/sendMessage`; holds the token, so never logged.
    endpoint: String,
    http: HttpClient,
}

impl std::fmt::Debug for Telegram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telegram").field("endpoint", &"<redacted>").finish_non_exhaustive()
    }
}

impl Telegram {
    /// `api_base` is normally [`TELEGRAM_API_BASE`].
    pub fn new(api_base: String, bot_token: String, http: HttpClient) -> Self {
        let base = api_base.trim().trim_end_matches('/');
        Telegram { endpoint: format!("{base}/bot{}/sendMessage", bot_token.trim()), http }
    }

    /// Sends `text` to `chat_id`. 429 and 5xx are `Transient`; other 4xx (chat not found, bot blocked by the
    /// user) are `Permanent`.
    pub async fn send(&self, chat_id: &str, text: &str) -> Result<(), SendError> {
        if chat_id.trim().is_empty() || text.is_empty() || text.chars().count() > TELEGRAM_TEXT_CHARS_MAX {
            return Err(SendError::Permanent(format!(
                "a Telegram message needs a chat id and 1-{TELEGRAM_TEXT_CHARS_MAX} characters"
            )));
        }
        // The token is part of the URL: report URL problems without quoting it.
        let uri = parse_http_url(&self.endpoint)
            .map_err(|_| SendError::Permanent("the Telegram API base or bot token is malformed".into()))?;
        let body = serde_json::json!({ "chat_id": chat_id.trim(), "text": text });
        let request = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, "Kairos")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|_| SendError::Permanent("building the Telegram request failed".into()))?;
        let response = self.http.send(request).await?;
        let verdict = status_verdict(response.status, "Telegram");
        let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or(serde_json::Value::Null);
        let description = json.get("description").and_then(|d| d.as_str()).map(|d| {
            let d: String = d.chars().take(DESCRIPTION_CHARS_MAX).collect();
            format!(": {d}")
        });
        match verdict {
            Ok(()) if json.get("ok").and_then(|o| o.as_bool()) == Some(false) => {
                Err(SendError::Permanent(format!("Telegram refused the message{}", description.unwrap_or_default())))
            }
            Ok(()) => Ok(()),
            Err(SendError::Transient(m)) => Err(SendError::Transient(m + &description.unwrap_or_default())),
            Err(SendError::Permanent(m)) => Err(SendError::Permanent(m + &description.unwrap_or_default())),
        }
    }
}

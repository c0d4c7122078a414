//! The SMS provider's webhooks (`/hooks/sms/*`, Twilio's shape), authenticated by the provider's signature.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use kairos_channels::SmsKeyword;

use crate::AppState;
use crate::error::ApiError;
use crate::routes::links::form_fields;

fn twiml(message: Option<&str>) -> Response {
    let body = match message {
        Some(m) => format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>{m}</Message></Response>"),
        None => "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>".to_string(),
    };
    ([(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

/// Largest webhook form read from the SMS provider, in bytes.
const SMS_HOOK_BYTES_MAX: usize = 64 * 1024;

/// The form a Twilio webhook posted to `path`, once its signature checks out (a field reader over it). Without
/// a configured provider there is nothing to check it against: the hooks do not exist (404). With one, the
/// `X-Twilio-Signature` over the URL and every posted field, under the provider's auth token, is required.
async fn twilio_form(
    app: &AppState,
    headers: &HeaderMap,
    body: Body,
    path: &str,
) -> Result<impl Fn(&str) -> String, Response> {
    let Some(sms) = &app.sms else {
        return Err(ApiError::not_found("no SMS provider is configured ([sms] in kairos.toml)").into_response());
    };
    let raw = crate::api::read_body(headers, body, SMS_HOOK_BYTES_MAX).await.map_err(IntoResponse::into_response)?;
    let form = form_fields(&raw);
    let sig = headers.get("x-twilio-signature").and_then(|v| v.to_str().ok()).unwrap_or("");
    let url = format!("{}{path}", app.public_url);
    if sms.auth_token.is_empty() || !kairos_channels::verify_twilio_signature(&sms.auth_token, &url, &form, sig) {
        return Err(ApiError::unauthorized("invalid X-Twilio-Signature").into_response());
    }
    Ok(move |k: &str| form.iter().find(|(f, _)| f == k).map(|(_, v)| v.clone()).unwrap_or_default())
}

/// `POST /hooks/sms/inbound` (Twilio's inbound message webhook): STOP / START / HELP keywords.
pub async fn sms_inbound(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let field = match twilio_form(&app, &headers, body, "/hooks/sms/inbound").await {
        Ok(f) => f,
        Err(r) => return r,
    };
    match app.engine.sms_inbound(field("To"), field("From"), field("Body")).await {
        Ok(Some(SmsKeyword::Stop)) => {
            twiml(Some("You are unsubscribed and will receive no more messages. Reply START to resume."))
        }
        Ok(Some(SmsKeyword::Start)) => twiml(Some("You are subscribed again. Reply STOP to unsubscribe.")),
        Ok(Some(_)) => twiml(Some("Reply STOP to unsubscribe, START to subscribe again.")),
        Ok(None) => twiml(None),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `POST /hooks/sms/status` (Twilio's status callback): delivered / failed.
pub async fn sms_status(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let field = match twilio_form(&app, &headers, body, "/hooks/sms/status").await {
        Ok(f) => f,
        Err(r) => return r,
    };
    match app.engine.sms_status(field("MessageSid"), field("MessageStatus")).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

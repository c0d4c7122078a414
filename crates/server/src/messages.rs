//! Messages and what recipients do with them: `GET /api/v1/messages`, template preview, the suppression list,
//! bounce reports; and the public endpoints behind signed links (open pixel `/o`, click redirect `/c`, one-click
//! unsubscribe `/u`, preference centre `/preferences`) and the SMS provider's webhooks (`/hooks/sms/*`).

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use kairos_domain::ContactId;
use kairos_engine::links::Link;
use kairos_engine::messages::LinkOutcome;
use kairos_store::{MessageFilter, StoredMessage};
use serde_json::{Value, json};

use crate::AppState;
use crate::api::{json_body, limit, read};
use crate::auth::require_secret;
use crate::error::ApiError;

/// A transparent 1×1 GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
    0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02,
    0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// A message as the API shows it (`history` and rendered parts included).
pub fn message_json(m: &StoredMessage) -> Value {
    let d: Value = serde_json::from_str(&m.data).unwrap_or(Value::Null);
    json!({
        "id": m.id, "channel": m.channel, "to": m.to, "contact_id": m.contact.0, "flow_id": m.flow_id,
        "campaign_id": m.campaign_id, "step_id": m.step_id, "status": m.status, "reason": d["reason"],
        "subject": d["subject"], "html": d["html"], "text": d["text"], "body": d["body"],
        "template_id": d["template_id"], "template_version": d["template_version"],
        "attempts": d["attempts"].as_u64().unwrap_or(0), "history": d["history"].clone(),
        "warnings": d["warnings"].as_array().cloned().unwrap_or_default(),
        "created_at": m.created_at.to_string(),
    })
}

/// `GET /api/v1/messages?contact_id=&flow_id=&campaign_id=&status=&to=` (SPEC 8), newest first.
pub async fn list(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let n = limit(&q)?;
    let contact = match q.get("contact_id") {
        None => None,
        Some(s) => Some(ContactId(s.parse().map_err(|_| {
            ApiError::bad_request("invalid_value", "contact_id", "contact_id must be a contact's numeric id")
        })?)),
    };
    let filter = MessageFilter {
        to: q.get("to").cloned(),
        contact,
        flow_id: q.get("flow_id").cloned(),
        campaign_id: q.get("campaign_id").cloned(),
        status: q.get("status").cloned(),
    };
    let cursor = q.get("cursor").cloned();
    let page = read(&app, move |r| r.messages(ws, &filter, cursor.as_deref(), n)).await?;
    let items: Vec<Value> = page.items.iter().map(message_json).collect();
    Ok(Json(json!({"items": items, "next_cursor": page.next_cursor})))
}

/// `GET /api/v1/messages/{id}`: one message with its status history.
pub async fn get(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let m = read(&app, move |r| r.message_of(ws, &id)).await?.ok_or_else(|| ApiError::not_found("no such message"))?;
    Ok(Json(message_json(&m)))
}

/// `POST /api/v1/templates/{id}/preview?contact_id=N`, optional body `{"event": {...}}` for the trigger event.
pub async fn preview(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let contact = q.get("contact_id").and_then(|s| s.parse::<i64>().ok()).ok_or_else(|| {
        ApiError::bad_request("missing_field", "contact_id", "contact_id (a contact's id) is required")
    })?;
    let v = json_body(&headers, body).await.unwrap_or(Value::Null);
    let event = match v.get("event") {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(_) => return Err(ApiError::bad_request("invalid_type", "event", "event must be an object")),
    };
    Ok(Json(app.engine.preview_template(ws, id, ContactId(contact), event).await?))
}

/// `POST /api/v1/templates/preview?contact_id=N` with `{"template": {"subject", "html", "text", "body",
/// "layout"}, "event": {...}}`: renders an unsaved template (the editor's live preview).
pub async fn preview_draft(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let contact = q.get("contact_id").and_then(|s| s.parse::<i64>().ok()).ok_or_else(|| {
        ApiError::bad_request("missing_field", "contact_id", "contact_id (a contact's id) is required")
    })?;
    let v = json_body(&headers, body).await?;
    let draft = match v.get("template") {
        Some(t @ Value::Object(_)) => t.clone(),
        _ => {
            return Err(ApiError::bad_request(
                "missing_field",
                "template",
                "template must be an object with its parts",
            ));
        }
    };
    let event = match v.get("event") {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(_) => return Err(ApiError::bad_request("invalid_type", "event", "event must be an object")),
    };
    Ok(Json(app.engine.preview_draft(ws, draft, ContactId(contact), event).await?))
}

fn channel_param(v: Option<&str>) -> Result<String, ApiError> {
    match v {
        Some(c @ ("email" | "sms")) => Ok(c.to_string()),
        _ => Err(ApiError::bad_request("invalid_value", "channel", "channel must be \"email\" or \"sms\"")),
    }
}

/// `GET /api/v1/suppressions`: addresses never sent to again (hard bounces, complaints, manual).
pub async fn suppressions(State(app): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let rows = read(&app, move |r| r.suppressions(ws, 1000)).await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|(c, a, why, at)| json!({"channel": c, "address": a, "reason": why, "created_at": at.to_string()}))
        .collect();
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

/// `POST /api/v1/suppressions` `{"channel": "email", "address": "..."}`.
pub async fn suppress(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let v = json_body(&headers, body).await?;
    let channel = channel_param(v["channel"].as_str())?;
    let address = normalise(&channel, v["address"].as_str())?;
    app.engine.set_suppressed(ws, channel.clone(), address.clone(), true).await?;
    Ok((StatusCode::CREATED, Json(json!({"channel": channel, "address": address, "reason": "manual"}))))
}

/// `DELETE /api/v1/suppressions/{channel}/{address}`.
pub async fn unsuppress(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((channel, address)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let channel = channel_param(Some(&channel))?;
    let address = normalise(&channel, Some(&address))?;
    if app.engine.set_suppressed(ws, channel, address, false).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("that address is not suppressed"))
    }
}

fn normalise(channel: &str, address: Option<&str>) -> Result<String, ApiError> {
    let a = address.unwrap_or_default();
    let parsed = if channel == "email" {
        kairos_domain::Email::parse(a).map(|e| e.as_str().to_string())
    } else {
        kairos_domain::Phone::parse(a).map(|p| p.as_str().to_string())
    };
    parsed.ok_or_else(|| ApiError::bad_request("invalid_value", "address", format!("not a valid {channel} address")))
}

/// `POST /api/v1/bounces`: a provider webhook (`{"email", "type": "hard"|"soft"|"complaint", "message_id"}` or
/// `{"events": [...]}`) or a raw report (`Content-Type: message/rfc822` / `multipart/report`: RFC 3464 DSN or an
/// RFC 5965 complaint). Hard bounces and complaints suppress the address; soft bounces are recorded. A message
/// id marks that message only when it is the caller's workspace's (anything else is ignored).
pub async fn bounces(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Result<Json<Value>, ApiError> {
    let ws = require_secret(&app, &headers).await?.workspace;
    let ctype = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let mut reports: Vec<(String, &'static str, Option<String>)> = Vec::new();
    if ctype.starts_with("application/json") {
        let v = json_body(&headers, body).await?;
        let list = match v.get("events").and_then(Value::as_array) {
            Some(l) => l.clone(),
            None => vec![v],
        };
        for (i, e) in list.iter().enumerate() {
            let at = |f: &str| if list.len() > 1 || e != &list[0] { format!("events[{i}].{f}") } else { f.to_string() };
            let address = e["email"].as_str().or(e["address"].as_str()).and_then(kairos_domain::Email::parse);
            let Some(address) = address else {
                return Err(ApiError::bad_request("invalid_value", &at("email"), "email must be an email address"));
            };
            let kind = match e["type"].as_str() {
                Some("hard" | "bounce" | "hard_bounce") => "hard",
                Some("soft" | "soft_bounce" | "deferred") => "soft",
                Some("complaint" | "spam" | "spamreport") => "complaint",
                _ => {
                    return Err(ApiError::bad_request(
                        "invalid_value",
                        &at("type"),
                        "type must be \"hard\", \"soft\" or \"complaint\"",
                    ));
                }
            };
            reports.push((address.as_str().to_string(), kind, e["message_id"].as_str().map(str::to_string)));
        }
    } else {
        let raw = crate::ingest::read_body(&headers, body, 4 * 1024 * 1024).await?;
        for b in kairos_channels::parse_dsn(&raw) {
            let kind = match b.kind {
                kairos_channels::BounceKind::Hard => "hard",
                kairos_channels::BounceKind::Soft => "soft",
                kairos_channels::BounceKind::Complaint => "complaint",
            };
            // The original's `Message-ID: <id@domain>` leads back to the send.
            let message = b.message_id.as_deref().and_then(|m| m.trim_matches(['<', '>']).split('@').next());
            reports.push((b.recipient.to_ascii_lowercase(), kind, message.map(str::to_string)));
        }
        if reports.is_empty() {
            return Err(ApiError::bad_request(
                "invalid_report",
                "body",
                "no delivery status or complaint report found in the message",
            ));
        }
    }
    let mut out = Vec::new();
    for (address, kind, message) in reports {
        out.push(app.engine.bounce(ws, address, kind, message).await?);
    }
    Ok(Json(json!({"items": out})))
}

fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width,initial-scale=1\"><title>{title}</title><style>body{{font-family:system-ui,\
         sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.5}}button{{font-size:1rem;\
         padding:.5rem 1rem}}label{{display:block;margin:.5rem 0}}</style></head><body><h1>{title}</h1>{body}\
         </body></html>"
    )
}

fn gone() -> Response {
    (StatusCode::NOT_FOUND, Html(page("Link not valid", "<p>This link is not valid or has expired.</p>")))
        .into_response()
}

fn expired() -> Response {
    let body = "<p>This unsubscribe link has expired: it comes from an email sent before you subscribed again. \
                Use the link in a more recent email.</p>";
    (StatusCode::GONE, Html(page("Link expired", body))).into_response()
}

fn verify(app: &AppState, token: &str) -> Option<Link> {
    app.engine.link_key().verify(token.trim_end_matches(".gif"))
}

/// `GET /o/{token}`: the open pixel.
pub async fn open(State(app): State<AppState>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    if let Some(link @ Link::Open { .. }) = verify(&app, &token) {
        let _ = app.engine.link_followed(link, user_agent(&headers)).await;
    }
    ([(header::CONTENT_TYPE, "image/gif"), (header::CACHE_CONTROL, "no-store")], PIXEL).into_response()
}

/// `GET /c/{token}`: a click; redirects only to the destination stored with the message.
pub async fn click(State(app): State<AppState>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let Some(link @ Link::Click { .. }) = verify(&app, &token) else { return gone() };
    match app.engine.link_followed(link, user_agent(&headers)).await {
        Ok(LinkOutcome::Redirect(url)) => {
            (StatusCode::FOUND, [(header::LOCATION, url), (header::CACHE_CONTROL, "no-store".into())]).into_response()
        }
        _ => gone(),
    }
}

/// `GET /u/{token}`: asks before unsubscribing (link scanners follow GETs); the button posts back here.
pub async fn unsubscribe_page(State(app): State<AppState>, Path(token): Path<String>) -> Response {
    let Some(link @ Link::Unsubscribe { .. }) = verify(&app, &token) else { return gone() };
    match app.engine.unsubscribe_check(link).await {
        Ok(LinkOutcome::Confirm) => {}
        Ok(LinkOutcome::Expired) => return expired(),
        Ok(_) => return gone(),
        Err(e) => return ApiError::from(e).into_response(),
    }
    Html(page(
        "Unsubscribe",
        &format!(
            "<p>Stop receiving marketing email from us?</p><form method=\"post\" action=\"/u/{token}\">\
             <button type=\"submit\">Unsubscribe</button></form>"
        ),
    ))
    .into_response()
}

/// `POST /u/{token}`: RFC 8058 one-click unsubscribe: no cookie, no redirect, done before the answer.
pub async fn unsubscribe(State(app): State<AppState>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let Some(link @ Link::Unsubscribe { .. }) = verify(&app, &token) else { return gone() };
    match app.engine.link_followed(link, user_agent(&headers)).await {
        Ok(LinkOutcome::Unsubscribed) => {
            Html(page("Unsubscribed", "<p>You will not receive marketing email from us any more.</p>")).into_response()
        }
        Ok(LinkOutcome::Expired) => expired(),
        Ok(_) => gone(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `GET /preferences/{token}`: the preference centre.
pub async fn preferences_page(State(app): State<AppState>, Path(token): Path<String>) -> Response {
    let Some(link @ Link::Preferences { .. }) = verify(&app, &token) else { return gone() };
    match app.engine.link_followed(link, None).await {
        Ok(LinkOutcome::Preferences { email, sms, store }) => {
            let checked = |s: &str| if s == "subscribed" { " checked" } else { "" };
            let store = kairos_template::html_escape(&store);
            Html(page(
                "Email preferences",
                &format!(
                    "<p>Choose what {store} may send you.</p><form method=\"post\" action=\"/preferences/{token}\">\
                     <label><input type=\"checkbox\" name=\"email\" value=\"on\"{}> Marketing email</label>\
                     <label><input type=\"checkbox\" name=\"sms\" value=\"on\"{}> Text messages (SMS)</label>\
                     <input type=\"hidden\" name=\"submitted\" value=\"1\"><button type=\"submit\">Save</button></form>",
                    checked(&email),
                    checked(&sms)
                ),
            ))
            .into_response()
        }
        _ => gone(),
    }
}

/// Largest preference form read, in bytes.
const PREFERENCES_FORM_BYTES_MAX: usize = 16 * 1024;

/// `POST /preferences/{token}` (form): saves both channels' consent. Only the page's own form counts (it
/// carries `submitted=1`): an unchecked box is absent from a form, so without the marker an empty or partial
/// POST would read as "unsubscribe from everything".
pub async fn save_preferences(
    State(app): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(Link::Preferences { message }) = verify(&app, &token) else { return gone() };
    let Ok(raw) = crate::ingest::read_body(&headers, body, PREFERENCES_FORM_BYTES_MAX).await else { return gone() };
    let form = form_fields(&raw);
    let has = |k: &str, v: &str| form.iter().any(|(f, x)| f == k && x == v);
    if !has("submitted", "1") {
        let body = "<p>Nothing was changed: please use the form on the preferences page.</p>";
        return (StatusCode::BAD_REQUEST, Html(page("Preferences not saved", body))).into_response();
    }
    match app.engine.save_preferences(message, Some(has("email", "on")), Some(has("sms", "on"))).await {
        Ok(true) => Html(page("Preferences saved", "<p>Your choices are saved.</p>")).into_response(),
        _ => gone(),
    }
}

/// `application/x-www-form-urlencoded` pairs, in order.
pub fn form_fields(raw: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(raw).into_owned().collect()
}

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
    let raw = crate::ingest::read_body(headers, body, SMS_HOOK_BYTES_MAX).await.map_err(IntoResponse::into_response)?;
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
        Ok(Some("stop")) => {
            twiml(Some("You are unsubscribed and will receive no more messages. Reply START to resume."))
        }
        Ok(Some("start")) => twiml(Some("You are subscribed again. Reply STOP to unsubscribe.")),
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

//! The public endpoints behind signed links in messages: the open pixel `/o`, the click redirect `/c`, one-click
//! unsubscribe `/u`, the preference centre `/preferences` and double opt-in confirmation `/confirm`. No key: the
//! signature is the credential.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use kairos_engine::links::Link;
use kairos_engine::messages::LinkOutcome;

use crate::AppState;
use crate::error::ApiError;

/// A transparent 1×1 GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
    0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02,
    0x02, 0x44, 0x01, 0x00, 0x3b,
];

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

/// The preference centre's form: channels, topics (each with its description) and how often, all escaped.
fn preference_form(token: &str, v: &kairos_engine::messages::PreferenceView) -> String {
    use kairos_domain::vocab::EmailFrequency;
    let e = |t: &str| kairos_template::html_escape(t).into_owned();
    let checked = |on: bool| if on { " checked" } else { "" };
    let mut topics = String::new();
    for (t, on) in &v.topics {
        let id = e(&t.id);
        let about =
            if t.description.is_empty() { String::new() } else { format!(" <small>{}</small>", e(&t.description)) };
        topics.push_str(&format!(
            "<label><input type=\"checkbox\" name=\"topic\" value=\"{id}\"{}> {}{about}</label>",
            checked(*on),
            e(&t.name)
        ));
    }
    if !topics.is_empty() {
        topics = format!("<fieldset><legend>Topics</legend>{topics}</fieldset>");
    }
    let mut often = String::new();
    for f in EmailFrequency::ALL {
        often.push_str(&format!(
            "<label><input type=\"radio\" name=\"frequency\" value=\"{}\"{}> {}</label>",
            f.as_str(),
            checked(*f == v.frequency),
            f.label()
        ));
    }
    format!(
        "<p>Choose what {store} may send you.</p><form method=\"post\" action=\"/preferences/{token}\">\
         <fieldset><legend>Channels</legend>\
         <label><input type=\"checkbox\" name=\"email\" value=\"on\"{}> Marketing email</label>\
         <label><input type=\"checkbox\" name=\"sms\" value=\"on\"{}> Text messages (SMS)</label></fieldset>\
         {topics}<fieldset><legend>How often may we email you?</legend>{often}</fieldset>\
         <input type=\"hidden\" name=\"submitted\" value=\"1\">\
         <p><button type=\"submit\" name=\"action\" value=\"save\">Save my choices</button></p>\
         <p><button type=\"submit\" name=\"action\" value=\"unsubscribe_all\">Unsubscribe from everything</button></p></form>",
        checked(v.email == "subscribed"),
        checked(v.sms == "subscribed"),
        store = e(&v.store),
    )
}

/// `GET /preferences/{token}`: the preference centre.
pub async fn preferences_page(State(app): State<AppState>, Path(token): Path<String>) -> Response {
    let Some(link @ Link::Preferences { .. }) = verify(&app, &token) else { return gone() };
    match app.engine.link_followed(link, None).await {
        Ok(LinkOutcome::Preferences(view)) => {
            Html(page("Email preferences", &preference_form(&token, &view))).into_response()
        }
        _ => gone(),
    }
}

/// Largest preference form read, in bytes.
const PREFERENCES_FORM_BYTES_MAX: usize = 16 * 1024;

/// `POST /preferences/{token}` (form): saves the channels' consent, the topics kept and how often, or
/// unsubscribes from everything. Only the page's own form counts (it carries `submitted=1`): an unchecked box
/// is absent from a form, so without the marker an empty or partial POST would read as "unsubscribe from
/// everything".
pub async fn save_preferences(
    State(app): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    use kairos_engine::messages::PreferenceChoice;
    let Some(Link::Preferences { message }) = verify(&app, &token) else { return gone() };
    let Ok(raw) = crate::api::read_body(&headers, body, PREFERENCES_FORM_BYTES_MAX).await else { return gone() };
    let form = form_fields(&raw);
    let has = |k: &str, v: &str| form.iter().any(|(f, x)| f == k && x == v);
    if !has("submitted", "1") {
        let body = "<p>Nothing was changed: please use the form on the preferences page.</p>";
        return (StatusCode::BAD_REQUEST, Html(page("Preferences not saved", body))).into_response();
    }
    let choice = if has("action", "unsubscribe_all") {
        PreferenceChoice { email: Some(false), sms: Some(false), ..PreferenceChoice::default() }
    } else {
        let frequency = form.iter().find(|(f, _)| f == "frequency").map(|(_, v)| v.as_str());
        PreferenceChoice {
            email: Some(has("email", "on")),
            sms: Some(has("sms", "on")),
            topics: Some(form.iter().filter(|(f, _)| f == "topic").map(|(_, v)| v.clone()).collect()),
            frequency: frequency.and_then(kairos_domain::vocab::EmailFrequency::parse),
        }
    };
    let everything = choice.email == Some(false) && choice.sms == Some(false) && choice.topics.is_none();
    match app.engine.save_preferences(message, choice).await {
        Ok(true) if everything => {
            Html(page("Unsubscribed", "<p>You will get no more marketing from us.</p>")).into_response()
        }
        Ok(true) => Html(page("Preferences saved", "<p>Your choices are saved.</p>")).into_response(),
        _ => gone(),
    }
}

/// `GET /confirm/{token}`: confirms a double opt-in sign-up (the link of the confirmation email). Like the
/// confirmation links of Mailchimp and Klaviyo, following it is the confirmation; a second visit says so.
pub async fn confirm(
    State(app): State<AppState>,
    Path(token): Path<String>,
    extensions: axum::http::Extensions,
) -> Response {
    use kairos_engine::messages::Confirmation;
    let Some(Link::Confirm { message }) = verify(&app, &token) else { return gone() };
    let ip = super::forms::peer_ip(&extensions).to_string();
    match app.engine.confirm_subscription(message, ip).await {
        Ok(Confirmation::Confirmed) => {
            Html(page("Subscription confirmed", "<p role=\"status\">Thank you: you are subscribed.</p>"))
                .into_response()
        }
        Ok(Confirmation::AlreadyConfirmed) => {
            Html(page("Already confirmed", "<p role=\"status\">You are already subscribed.</p>")).into_response()
        }
        Ok(Confirmation::Expired) => {
            let body = "<p>This confirmation link has expired. Sign up again and we will send you a new one.</p>";
            (StatusCode::GONE, Html(page("Link expired", body))).into_response()
        }
        Ok(Confirmation::Unknown) => gone(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `application/x-www-form-urlencoded` pairs, in order.
pub fn form_fields(raw: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(raw).into_owned().collect()
}

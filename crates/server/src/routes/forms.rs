//! Signup forms (SPEC 16 "Site", issue 14): `POST/GET /api/v1/forms` define them; `GET /f/{id}` is the hosted
//! form and `POST /f/{id}` takes submissions (form-encoded or JSON). A submission is an identify with the fields as
//! traits, `Form Submitted` (`form_id`, `form_name`, `page`: what the `form_submitted` flow trigger waits for) and,
//! when the visitor ticked the consent box of a single opt-in form, the subscription with its evidence (the time,
//! the address it came from, the form, the page and the exact text shown), from which the engine emits
//! `Email Subscribed` / `SMS Subscribed` with `source: form`. A double opt-in form subscribes nobody yet: it sends
//! the confirmation email (`kairos_engine::subscriptions`), and the link in it subscribes. A filled honeypot is answered as a success and stores nothing; each
//! address may submit [`FORM_SUBMISSIONS_PER_MINUTE`] times a minute to a form.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use kairos_domain::vocab::SiteKind;
use kairos_domain::{ConsentRequest, Email, Phone, Timestamp};
use kairos_template::html_escape;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::api::{json_body, read_body};
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorBody};

/// Largest submission, in bytes.
pub const FORM_SUBMISSION_BYTES_MAX: usize = 16 * 1024;
/// Submissions one address may make to one form per minute.
pub const FORM_SUBMISSIONS_PER_MINUTE: usize = 5;
/// Most fields a form has.
const FORM_FIELDS_MAX: usize = 20;
/// Longest text a field takes, in characters.
const FIELD_TEXT_CHARS_MAX: usize = 500;
/// Longest consent text, success message, label or name, in characters.
const FORM_TEXT_CHARS_MAX: usize = 1_000;
/// The hidden field bots fill and people never see.
const HONEYPOT: &str = "website";
/// Field types a form may have.
const FIELD_TYPES: &[&str] = &["email", "phone", "text", "textarea", "checkbox"];

fn bad(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid_value(field, message)
}

fn text_of<'a>(o: &'a Map<String, Value>, key: &str, field: &str) -> Result<Option<&'a str>, ApiError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= FORM_TEXT_CHARS_MAX => Ok(Some(s.as_str())),
        Some(_) => Err(bad(field, format!("{field} must be text of at most {FORM_TEXT_CHARS_MAX} characters"))),
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A form definition checked field by field; answers the document to store (with its id).
fn checked(v: &Value, id: String) -> Result<Value, ApiError> {
    let o = v.as_object().ok_or_else(|| bad("body", "the body must be a JSON object"))?;
    let name =
        text_of(o, "name", "name")?.filter(|n| !n.trim().is_empty()).ok_or_else(|| bad("name", "name is required"))?;
    let list = o.get("fields").and_then(Value::as_array).ok_or_else(|| bad("fields", "fields must be a list"))?;
    if list.is_empty() || list.len() > FORM_FIELDS_MAX {
        return Err(bad("fields", format!("a form has 1 to {FORM_FIELDS_MAX} fields")));
    }
    let mut fields = Vec::new();
    for (i, f) in list.iter().enumerate() {
        let at = |k: &str| format!("fields[{i}].{k}");
        let f = f.as_object().ok_or_else(|| bad(&format!("fields[{i}]"), "a field is an object"))?;
        let fname = f.get("name").and_then(Value::as_str).filter(|n| is_name(n) && *n != HONEYPOT && *n != "consent");
        let fname =
            fname.ok_or_else(|| bad(&at("name"), "a field's name is 1 to 40 lower-case letters, digits or _"))?;
        if fields.iter().any(|x: &Value| x["name"] == fname) {
            return Err(bad(&at("name"), format!("two fields are named {fname}")));
        }
        let kind = f.get("type").and_then(Value::as_str).unwrap_or("text");
        if !FIELD_TYPES.contains(&kind) {
            return Err(bad(&at("type"), format!("type must be one of {}", FIELD_TYPES.join(", "))));
        }
        let label = text_of(f, "label", &at("label"))?.unwrap_or(fname);
        let required = f.get("required").and_then(Value::as_bool).unwrap_or(false);
        fields.push(json!({"name": fname, "type": kind, "label": label, "required": required}));
    }
    if !fields.iter().any(|f| f["type"] == "email" || f["type"] == "phone") {
        return Err(bad("fields", "a form needs an email or a phone field to know who signed up"));
    }
    let consent = match o.get("consent") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::Object(c)) => {
            let channel = c.get("channel").and_then(Value::as_str).unwrap_or("email");
            if channel != "email" && channel != "sms" {
                return Err(bad("consent.channel", "consent.channel must be email or sms"));
            }
            let kind = if channel == "email" { "email" } else { "phone" };
            if !fields.iter().any(|f| f["type"] == kind) {
                return Err(bad("consent.channel", format!("consent to {channel} needs a {kind} field")));
            }
            let text = text_of(c, "text", "consent.text")?.filter(|t| !t.trim().is_empty());
            let text =
                text.ok_or_else(|| bad("consent.text", "consent.text is the exact text shown beside the box"))?;
            json!({"channel": channel, "text": text})
        }
        Some(_) => return Err(bad("consent", "consent must be an object")),
    };
    let double_opt_in = match o.get("double_opt_in") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("double_opt_in", "double_opt_in must be true or false")),
    };
    if double_opt_in && consent["channel"] != "email" {
        return Err(bad("double_opt_in", "double opt-in confirms an email address: it needs consent to email"));
    }
    let confirmation_template = match o.get("confirmation_template") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(t)) if is_template_id(t) => json!(t),
        Some(_) => return Err(bad("confirmation_template", "confirmation_template is a template's id")),
    };
    let redirect = text_of(o, "redirect_url", "redirect_url")?;
    if let Some(r) = redirect
        && !(r.starts_with("https://") || r.starts_with("http://"))
    {
        return Err(bad("redirect_url", "redirect_url must be an http(s) address"));
    }
    Ok(json!({
        "id": id,
        "name": name,
        "fields": fields,
        "consent": consent,
        "double_opt_in": double_opt_in,
        "confirmation_template": confirmation_template,
        "display": super::onsite::display_checked(o.get("display"))?,
        "success_message": text_of(o, "success_message", "success_message")?.unwrap_or(if double_opt_in {
            "Almost done: check your inbox and confirm your subscription."
        } else {
            "Thank you for signing up!"
        }),
        "redirect_url": redirect,
    }))
}

fn is_template_id(t: &str) -> bool {
    !t.is_empty() && t.len() <= 64 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn new_id() -> String {
    let bytes: [u8; 8] = rand::random();
    format!("frm_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn answered(app: &AppState, mut form: Value) -> Value {
    let url = format!("{}/f/{}", app.public_url, form["id"].as_str().unwrap_or_default());
    form["url"] = json!(url);
    form
}

/// Creates (or, with the `id` of one of the workspace's forms, replaces) a form.
#[utoipa::path(
    post,
    path = "/api/v1/forms",
    operation_id = "forms_save",
    tag = "forms",
    request_body = Object,
    responses(
        (status = 201, description = "The form with its `id` and hosted `url`", body = Object),
        (status = 400, description = "A bad field, named", body = ErrorBody),
        (status = 409, description = "Another workspace's form has that id", body = ErrorBody)
    )
)]
pub async fn save(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let v = json_body(&headers, body).await?;
    let id = match v.get("id") {
        None | Some(Value::Null) => new_id(),
        Some(Value::String(s))
            if s.len() <= 64
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                && !s.is_empty() =>
        {
            s.clone()
        }
        Some(_) => return Err(bad("id", "id is 1 to 64 letters, digits, - or _")),
    };
    let form = checked(&v, id.clone())?;
    let saved = app.engine.save_site_item(ws, SiteKind::Form, id, form.clone()).await;
    // After the commit, so the next page view reads the new form (a read racing it may keep the old for seconds).
    app.site_forms.forget(ws);
    if !saved? {
        return Err(ApiError::conflict("that form id is taken"));
    }
    Ok((StatusCode::CREATED, Json(answered(&app, form))))
}

/// The workspace's forms.
#[utoipa::path(get, path = "/api/v1/forms", operation_id = "forms_list", tag = "forms",
    responses((status = 200, description = "`{\"items\": [form]}`", body = Object)))]
pub async fn list(SecretWorkspace(ws): SecretWorkspace, State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let items: Vec<Value> =
        app.engine.site_items(ws, SiteKind::Form).await?.into_iter().map(|f| answered(&app, f)).collect();
    Ok(Json(json!({ "items": items })))
}

/// One form of the workspace.
#[utoipa::path(get, path = "/api/v1/forms/{id}", operation_id = "forms_get", tag = "forms",
    params(("id" = String, Path, description = "The form's id")),
    responses((status = 200, description = "The form", body = Object), (status = 404, description = "No such form", body = ErrorBody)))]
pub async fn get(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(answered(&app, super::site_items::owned(&app, ws, SiteKind::Form, &id).await?)))
}

/// Removes one of the workspace's forms: its hosted page and embeds stop answering; what it collected stays.
#[utoipa::path(delete, path = "/api/v1/forms/{id}", operation_id = "forms_delete", tag = "forms",
    params(("id" = String, Path, description = "The form's id")),
    responses((status = 200, description = "`{\"id\": ..., \"deleted\": true}`", body = Object),
        (status = 404, description = "No such form in the workspace", body = ErrorBody)))]
pub async fn delete(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let deleted = super::site_items::delete(&app, ws, SiteKind::Form, id).await;
    app.site_forms.forget(ws);
    deleted
}

/// The hosted form's page: every text escaped, the consent box with the exact text, the honeypot hidden.
fn page(form: &Value, errors: &[(String, String)], values: &HashMap<String, String>) -> String {
    let e = |s: &str| html_escape(s).into_owned();
    let mut inputs = String::new();
    for f in form["fields"].as_array().into_iter().flatten() {
        let (name, kind) = (f["name"].as_str().unwrap_or_default(), f["type"].as_str().unwrap_or("text"));
        let label = e(f["label"].as_str().unwrap_or(name));
        let required = if f["required"] == true { " required" } else { "" };
        let value = e(values.get(name).map(String::as_str).unwrap_or_default());
        let error = errors
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, m)| format!("<p class=\"error\" id=\"{name}-error\">{}</p>", e(m)));
        let described = if error.is_some() {
            format!(" aria-invalid=\"true\" aria-describedby=\"{name}-error\"")
        } else {
            String::new()
        };
        let input = match kind {
            "textarea" => format!("<textarea id=\"{name}\" name=\"{name}\"{required}{described}>{value}</textarea>"),
            "checkbox" => {
                format!("<input type=\"checkbox\" id=\"{name}\" name=\"{name}\" value=\"yes\"{required}{described}>")
            }
            "email" => format!(
                "<input type=\"email\" id=\"{name}\" name=\"{name}\" value=\"{value}\" autocomplete=\"email\"{required}{described}>"
            ),
            "phone" => format!(
                "<input type=\"tel\" id=\"{name}\" name=\"{name}\" value=\"{value}\" autocomplete=\"tel\"{required}{described}>"
            ),
            _ => format!("<input type=\"text\" id=\"{name}\" name=\"{name}\" value=\"{value}\"{required}{described}>"),
        };
        inputs.push_str(&format!("<p><label for=\"{name}\">{label}</label>{input}</p>{}", error.unwrap_or_default()));
    }
    if let Some(text) = form["consent"]["text"].as_str() {
        inputs.push_str(&format!(
            "<p class=\"consent\"><input type=\"checkbox\" id=\"consent\" name=\"consent\" value=\"yes\"><label for=\"consent\">{}</label></p>",
            e(text)
        ));
    }
    let title = e(form["name"].as_str().unwrap_or("Sign up"));
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}}\
label{{display:block;margin-bottom:.25rem}}input[type=email],input[type=tel],input[type=text],textarea{{width:100%;padding:.5rem;box-sizing:border-box}}\
.consent label{{display:inline;margin-left:.5rem}}.error{{color:#b00020}}.hp{{position:absolute;left:-10000px}}button{{padding:.6rem 1.2rem}}</style></head>\
<body><main><h1>{title}</h1><form method=\"post\" novalidate>{inputs}\
<p class=\"hp\" aria-hidden=\"true\"><label for=\"{HONEYPOT}\">Leave this empty</label><input id=\"{HONEYPOT}\" name=\"{HONEYPOT}\" tabindex=\"-1\" autocomplete=\"off\"></p>\
<p><button type=\"submit\">Sign up</button></p></form></main></body></html>"
    )
}

/// `GET /f/{id}`: the hosted form.
pub async fn hosted(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    match app.engine.site_item(SiteKind::Form, &id).await {
        Ok(Some((_, form))) => Html(page(&form, &[], &HashMap::new())).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Html("<!doctype html><title>Not found</title><p>This form does not exist.</p>".to_string()),
        )
            .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// Submissions per (form, address) in the last minute.
static RECENT: crate::site_rate::PerMinute = crate::site_rate::PerMinute::new(FORM_SUBMISSIONS_PER_MINUTE);

/// What a submission says, field by field.
fn submitted(headers: &HeaderMap, raw: &[u8]) -> Result<(HashMap<String, String>, bool), ApiError> {
    let is_json = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|c| c.contains("json"));
    if is_json {
        let v: Value = serde_json::from_slice(raw).map_err(|e| ApiError::invalid_json(&e))?;
        let o = v.as_object().ok_or_else(|| bad("body", "the body must be a JSON object"))?;
        let map = o
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    match v {
                        Value::String(s) => s.clone(),
                        Value::Bool(b) => {
                            if *b {
                                "yes".into()
                            } else {
                                String::new()
                            }
                        }
                        other => other.to_string(),
                    },
                )
            })
            .collect();
        return Ok((map, true));
    }
    Ok((form_urlencoded::parse(raw).into_owned().collect(), false))
}

/// The fields checked against the form: the traits they become, or each bad field with why.
fn validated(form: &Value, values: &HashMap<String, String>) -> Result<Map<String, Value>, Vec<(String, String)>> {
    let mut traits = Map::new();
    let mut errors = Vec::new();
    for f in form["fields"].as_array().into_iter().flatten() {
        let (name, kind) = (f["name"].as_str().unwrap_or_default(), f["type"].as_str().unwrap_or("text"));
        let value = values.get(name).map(|v| v.trim()).unwrap_or_default();
        if value.is_empty() {
            if f["required"] == true {
                errors.push((name.to_string(), format!("{} is required", f["label"].as_str().unwrap_or(name))));
            }
            continue;
        }
        let v = match kind {
            "email" => match Email::parse(value) {
                Some(e) => json!(e.as_str()),
                None => {
                    errors.push((name.to_string(), "enter an email address like ann@example.com".into()));
                    continue;
                }
            },
            "phone" => match Phone::parse(value) {
                Some(p) => json!(p.as_str()),
                None => {
                    errors.push((
                        name.to_string(),
                        "enter a phone number with its country code, like +358 40 1234567".into(),
                    ));
                    continue;
                }
            },
            "checkbox" => json!(matches!(value, "yes" | "on" | "true" | "1")),
            _ if value.chars().count() > FIELD_TEXT_CHARS_MAX => {
                errors.push((name.to_string(), format!("at most {FIELD_TEXT_CHARS_MAX} characters")));
                continue;
            }
            _ => json!(value),
        };
        let key = match kind {
            "email" => "email",
            "phone" => "phone",
            _ => name,
        };
        traits.insert(key.to_string(), v);
    }
    if errors.is_empty() { Ok(traits) } else { Err(errors) }
}

/// The Segment messages of a valid submission.
fn messages(
    form: &Value,
    mut traits: Map<String, Value>,
    consented: bool,
    ip: IpAddr,
    page: &str,
    anonymous_id: String,
    now: Timestamp,
) -> Vec<Value> {
    let id = form["id"].as_str().unwrap_or_default();
    let at = now.to_string();
    let subscribe = consented && form["double_opt_in"] != true;
    let channel = form["consent"]["channel"].as_str().unwrap_or("email");
    if subscribe {
        traits.insert(format!("{channel}_consent"), json!("subscribed"));
        traits.insert(format!("{channel}_consent_at"), json!(at));
        traits.insert("consent_source".into(), json!("form"));
        traits.insert("consent_text".into(), form["consent"]["text"].clone());
        traits.insert("consent_form".into(), json!(id));
        traits.insert("consent_ip".into(), json!(ip.to_string()));
        traits.insert("consent_page".into(), json!(page));
    }
    let who = |m: Value| {
        let mut m = m;
        m["anonymousId"] = json!(anonymous_id);
        m["timestamp"] = json!(at);
        m
    };
    // `Email Subscribed` follows from the consent traits: the engine emits it for every source.
    vec![
        who(json!({"type": "identify", "traits": traits})),
        who(json!({"type": "track", "event": kairos_domain::SystemEvent::FormSubmitted.as_str(),
            "properties": {"form_id": id, "form_name": form["name"], "page": page, "consent": consented,
                "double_opt_in": form["double_opt_in"] == true}})),
    ]
}

/// The address a request came from.
pub(crate) fn peer_ip(extensions: &axum::http::Extensions) -> IpAddr {
    extensions
        .get::<axum::extract::ConnectInfo<crate::listener::PeerAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.0.ip())
}

/// `POST /f/{id}`: a submission (form-encoded from the hosted page or an embed, or JSON).
pub async fn submit(
    State(app): State<AppState>,
    Path(id): Path<String>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Ok(Some((ws, form))) = app.engine.site_item(SiteKind::Form, &id).await else {
        return ApiError::not_found("this form does not exist").into_response();
    };
    let raw = match read_body(&headers, body, FORM_SUBMISSION_BYTES_MAX).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let (values, body_json) = match submitted(&headers, &raw) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    // On-site forms post form-encoded (no CORS preflight) and read JSON answers.
    let accepts_json =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("application/json"));
    let is_json = body_json || accepts_json;
    let ip = peer_ip(&extensions);
    if !RECENT.allow(&id, ip, Instant::now()) {
        let e = ApiError::new(
            crate::error::ErrorCode::TooManyAttempts,
            "too many sign-ups from this address: try again in a minute",
        );
        return e.into_response();
    }
    let done = |form: &Value| -> Response {
        if is_json {
            return Json(json!({"ok": true, "message": form["success_message"]})).into_response();
        }
        if let Some(url) = form["redirect_url"].as_str() {
            return axum::response::Redirect::to(url).into_response();
        }
        let msg = html_escape(form["success_message"].as_str().unwrap_or("Thank you!"));
        Html(format!("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Thank you</title></head><body><main><p role=\"status\">{msg}</p></main></body></html>")).into_response()
    };
    // A bot filled the field people never see: answered as a success, nothing stored.
    if values.get(HONEYPOT).is_some_and(|v| !v.trim().is_empty()) {
        tracing::info!(form = %id, "a form submission with its honeypot filled was dropped");
        return done(&form);
    }
    let traits = match validated(&form, &values) {
        Ok(t) => t,
        Err(errors) => {
            if is_json {
                let (field, message) = &errors[0];
                return bad(field, message.clone()).into_response();
            }
            return (StatusCode::BAD_REQUEST, Html(page(&form, &errors, &values))).into_response();
        }
    };
    let consented = values.get("consent").is_some_and(|v| matches!(v.as_str(), "yes" | "on" | "true" | "1"))
        && !form["consent"].is_null();
    let page_url = values
        .get("page")
        .cloned()
        .or_else(|| headers.get(header::REFERER).and_then(|v| v.to_str().ok()).map(str::to_string))
        .unwrap_or_default()
        .chars()
        .take(FIELD_TEXT_CHARS_MAX)
        .collect::<String>();
    let anonymous_id = values
        .get("anonymous_id")
        .filter(|a| {
            !a.is_empty() && a.len() <= 100 && a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .cloned()
        .unwrap_or_else(|| {
            let b: [u8; 12] = rand::random();
            format!("form-{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>())
        });
    let now = app.engine.clock().now();
    let confirm_to = (consented && form["double_opt_in"] == true)
        .then(|| traits.get("email").and_then(Value::as_str).and_then(Email::parse))
        .flatten();
    let made = messages(&form, traits, consented, ip, &page_url, anonymous_id, now);
    let events = match crate::backfill::events_of(format_args!("form-{id}"), made, now) {
        Ok(events) => events,
        Err((field, message)) => return bad(&field, message).into_response(),
    };
    // Trusted: the consent is Kairos's own record of what the visitor ticked, with its evidence.
    if let Err(e) = app.engine.ingest(ws, true, events).await {
        return ApiError::from(e).into_response();
    }
    if let Some(email) = confirm_to {
        let request = ConsentRequest {
            channel: kairos_domain::Channel::Email,
            form_id: id.clone(),
            form_name: form["name"].as_str().unwrap_or_default().to_string(),
            page: page_url,
            ip: ip.to_string(),
            text: form["consent"]["text"].as_str().unwrap_or_default().to_string(),
            at: now,
        };
        let template = form["confirmation_template"].as_str().map(str::to_string);
        if let Err(e) = app.engine.request_confirmation(ws, email, request, template).await {
            return ApiError::from(e).into_response();
        }
    }
    done(&form)
}

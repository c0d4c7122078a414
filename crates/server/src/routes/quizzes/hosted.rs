//! The hosted quiz: `GET /q/{id}` (its intro) and `POST /q/{id}` (each step: start, an answer, the email), one
//! plain form post per step, form-encoded from the page or JSON from a script. What the visitor has answered so
//! far travels with the form (hidden fields, checked again on every step against the quiz), so the server keeps
//! no session. Every step is ingested at once as Segment messages (`app.engine.ingest`, trusted like a form):
//! an answer is an identify with its trait (zero-party data) and `Quiz Question Answered`; the last step adds
//! `Quiz Completed` with the products shown. The email step identifies the visitor (their anonymous history
//! stays theirs) and, with the box ticked, records the consent with its evidence as a single opt-in form does.
//!
//! The anonymous id is the tracker's (`kairos_aid` cookie, when the quiz is served on the store's own domain),
//! one a page passed (`?aid=`), or the quiz's own cookie. Each address may post [`QUIZ_STEPS_PER_MINUTE`] steps
//! a minute to a quiz.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kairos_domain::quiz::{
    Choice, Next, QUIZ_COMPLETED, QUIZ_END, QUIZ_QUESTION_ANSWERED, QUIZ_STARTED, Question, Quiz,
};
use kairos_domain::vocab::SiteKind;
use kairos_domain::{Email, Timestamp, WorkspaceId};
use serde_json::{Map, Value, json};

use super::{html, picks};
use crate::AppState;
use crate::api::read_body;
use crate::error::{ApiError, ErrorCode};

/// Largest step a visitor posts, in bytes.
pub const QUIZ_STEP_BYTES_MAX: usize = 16 * 1024;
/// Steps one address may post to one quiz per minute (a quiz of a dozen questions taken twice fits).
pub const QUIZ_STEPS_PER_MINUTE: usize = 30;
/// Longest page address kept as where the quiz was taken, in characters.
const PAGE_CHARS_MAX: usize = 500;
/// The tracker's anonymous id cookie.
const TRACKER_COOKIE: &str = "kairos_aid";
/// The quiz's own anonymous id cookie, when the tracker's is not visible.
const QUIZ_COOKIE: &str = "kairos_quiz_aid";
/// Policy of the hosted pages: no script at all, the inline style sheet, images from anywhere, posts to Kairos.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; form-action 'self'; \
                   base-uri 'none'";

/// One visitor's way through the quiz so far.
struct Visit {
    attempt: Option<String>,
    aid: String,
    /// The anonymous id was made here: the quiz's cookie is set with the answer.
    new_aid: bool,
    page: String,
    /// (question id, value), in the quiz's order.
    answers: Vec<(String, String)>,
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.len() <= 100 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn new_token(prefix: &str) -> String {
    let b: [u8; 12] = rand::random();
    format!("{prefix}{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>())
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, v)| *k == name && is_token(v))
        .map(|(_, v)| v.to_string())
}

/// The anonymous id: the one given, else the tracker's cookie, else the quiz's, else a new one.
fn anonymous_id(given: Option<&str>, headers: &HeaderMap) -> (String, bool) {
    match given.filter(|a| is_token(a)).map(str::to_string) {
        Some(a) => (a, false),
        None => match cookie(headers, TRACKER_COOKIE).or_else(|| cookie(headers, QUIZ_COOKIE)) {
            Some(a) => (a, false),
            None => (new_token("quiz-"), true),
        },
    }
}

fn hidden(v: &Visit) -> String {
    let e = |s: &str| kairos_template::html_escape(s).into_owned();
    let field =
        |name: &str, value: &str| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", e(name), e(value));
    let mut out = field("aid", &v.aid);
    if let Some(a) = &v.attempt {
        out.push_str(&field("attempt", a));
    }
    if !v.page.is_empty() {
        out.push_str(&field("page", &v.page));
    }
    for (q, value) in &v.answers {
        out.push_str(&field(&format!("a.{q}"), value));
    }
    out
}

/// An HTML page with the hosted quiz's headers (and the quiz's cookie when the anonymous id is new).
fn respond(app: &AppState, status: StatusCode, body: String, visit: Option<&Visit>) -> Response {
    let mut resp = (status, axum::response::Html(body)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(v) = visit.filter(|v| v.new_aid) {
        let secure = if app.public_url.starts_with("https://") { "; Secure" } else { "" };
        let c = format!("{QUIZ_COOKIE}={}; Path=/q; Max-Age=31536000; SameSite=Lax; HttpOnly{secure}", v.aid);
        if let Ok(c) = HeaderValue::from_str(&c) {
            h.insert(header::SET_COOKIE, c);
        }
    }
    resp
}

async fn load(app: &AppState, id: &str) -> Result<Option<(WorkspaceId, Quiz)>, ApiError> {
    Ok(app
        .engine
        .site_item(SiteKind::Quiz, id)
        .await?
        .and_then(|(ws, v)| serde_json::from_value(v).ok().map(|q| (ws, q))))
}

fn not_found(app: &AppState) -> Response {
    respond(app, StatusCode::NOT_FOUND, html::notice("Not found", "This quiz does not exist."), None)
}

/// `GET /q/{id}`: the quiz's first page.
pub async fn show(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let quiz = match load(&app, &id).await {
        Ok(Some((_, quiz))) => quiz,
        Ok(None) => return not_found(&app),
        Err(e) => return e.into_response(),
    };
    let (aid, new_aid) = anonymous_id(query.get("aid").map(String::as_str), &headers);
    let page = query
        .get("page")
        .cloned()
        .or_else(|| headers.get(header::REFERER).and_then(|v| v.to_str().ok()).map(str::to_string))
        .unwrap_or_default()
        .chars()
        .take(PAGE_CHARS_MAX)
        .collect();
    let visit = Visit { attempt: None, aid, new_aid, page, answers: Vec::new() };
    respond(&app, StatusCode::OK, html::intro(&quiz, &hidden(&visit)), Some(&visit))
}

/// Steps per (quiz, address) in the last minute.
static RECENT: crate::site_rate::PerMinute = crate::site_rate::PerMinute::new(QUIZ_STEPS_PER_MINUTE);

/// What one step posted.
#[derive(Default)]
struct Posted {
    json: bool,
    fields: HashMap<String, String>,
    answers: Vec<(String, String)>,
}

impl Posted {
    fn read(headers: &HeaderMap, raw: &[u8]) -> Result<Posted, ApiError> {
        let json = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|c| c.contains("json"));
        let mut p = Posted { json, ..Posted::default() };
        if !json {
            for (k, v) in form_urlencoded::parse(raw).into_owned() {
                match k.strip_prefix("a.") {
                    Some(q) => p.answers.push((q.to_string(), v)),
                    None => {
                        p.fields.insert(k, v);
                    }
                }
            }
            return Ok(p);
        }
        let v: Value = serde_json::from_slice(raw).map_err(|e| ApiError::invalid_json(&e))?;
        let o = v.as_object().ok_or_else(|| ApiError::invalid_type("body", "the body must be a JSON object"))?;
        for (k, v) in o {
            match (k.as_str(), v) {
                ("answers", Value::Object(a)) => {
                    p.answers = a.iter().filter_map(|(q, v)| v.as_str().map(|v| (q.clone(), v.to_string()))).collect();
                }
                ("answers", _) => {
                    return Err(ApiError::invalid_type("answers", "answers is an object of question ids"));
                }
                (_, Value::String(s)) => {
                    p.fields.insert(k.clone(), s.clone());
                }
                (_, Value::Bool(true)) => {
                    p.fields.insert(k.clone(), "yes".into());
                }
                _ => {}
            }
        }
        Ok(p)
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.fields.get(k).map(String::as_str)
    }

    fn yes(&self, k: &str) -> bool {
        matches!(self.get(k), Some("yes" | "on" | "true" | "1"))
    }
}

/// The answers carried by the form that still fit the quiz (it may have been edited meanwhile), in its order.
fn carried(quiz: &Quiz, given: &[(String, String)]) -> Vec<(String, String)> {
    quiz.questions
        .iter()
        .filter_map(|q| {
            let v = given.iter().rev().find(|(id, _)| *id == q.id)?;
            q.options.iter().any(|c| c.value == v.1).then(|| (q.id.clone(), v.1.clone()))
        })
        .collect()
}

fn chosen<'a>(quiz: &'a Quiz, answers: &[(String, String)]) -> Vec<&'a Choice> {
    answers.iter().filter_map(|(q, v)| quiz.next_after(q, v).map(|(_, c, _)| c)).collect()
}

/// What a step shows next.
enum Shown<'a> {
    Question(&'a Question),
    Email { error: Option<String>, typed: String },
    Result { products: Vec<Value>, fallback: bool },
}

/// `POST /q/{id}`: one step.
pub async fn step(
    State(app): State<AppState>,
    Path(id): Path<String>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (ws, quiz) = match load(&app, &id).await {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(&app),
        Err(e) => return e.into_response(),
    };
    let ip = crate::routes::forms::peer_ip(&extensions);
    if !RECENT.allow(&id, ip, Instant::now()) {
        let e = ApiError::new(ErrorCode::TooManyAttempts, "too many answers from this address: try again in a minute");
        let is_json =
            headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|c| c.contains("json"));
        if is_json {
            return e.into_response();
        }
        let page =
            html::notice("Please wait a minute", "Too many answers came from this address: try again in a minute.");
        return respond(&app, StatusCode::TOO_MANY_REQUESTS, page, None);
    }
    let posted = match read_body(&headers, body, QUIZ_STEP_BYTES_MAX).await.and_then(|raw| Posted::read(&headers, &raw))
    {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let (aid, new_aid) = anonymous_id(posted.get("aid").or(posted.get("anonymous_id")), &headers);
    let page = posted.get("page").unwrap_or_default().chars().take(PAGE_CHARS_MAX).collect();
    let attempt = posted.get("attempt").filter(|a| is_token(a)).map(str::to_string);
    let mut visit = Visit { attempt, aid, new_aid, page, answers: carried(&quiz, &posted.answers) };
    let now = app.engine.clock().now();
    let mut out = Outbox { visit_aid: visit.aid.clone(), now, messages: Vec::new() };
    let shown = match advance(&app, ws, &quiz, &posted, &mut visit, &mut out, ip).await {
        Ok(s) => s,
        Err(e) if posted.json => return e.into_response(),
        Err(e) => {
            let text = format!("{} Start the quiz again from its first page.", e.message);
            return respond(&app, e.status, html::notice("This step could not be taken", &text), None);
        }
    };
    if !out.messages.is_empty() {
        let events = match crate::backfill::events_of(format_args!("quiz-{id}"), out.messages, now) {
            Ok(events) => events,
            Err((field, message)) => return ApiError::invalid_value(&field, message).into_response(),
        };
        // Trusted: the consent is Kairos's own record of what the visitor ticked, with its evidence.
        if let Err(e) = app.engine.ingest(ws, true, events).await {
            return ApiError::from(e).into_response();
        }
    }
    if posted.json {
        return Json(json_step(&quiz, &visit, &shown)).into_response();
    }
    let hidden = hidden(&visit);
    let (status, body) = match &shown {
        Shown::Question(q) => (StatusCode::OK, html::question(&quiz, q, &hidden, visit.answers.len())),
        Shown::Email { error, typed } => match quiz.email.as_ref() {
            Some(step) => {
                let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
                (status, html::email(&quiz, step, &hidden, error.as_deref(), typed))
            }
            // Not reached: the email step is shown only when the quiz has one.
            None => (StatusCode::INTERNAL_SERVER_ERROR, html::notice("Something went wrong", "Please start again.")),
        },
        Shown::Result { products, fallback } => (StatusCode::OK, html::result(&quiz, products, *fallback)),
    };
    respond(&app, status, body, Some(&visit))
}

/// The Segment messages of one step, all from the visitor's anonymous id.
struct Outbox {
    visit_aid: String,
    now: Timestamp,
    messages: Vec<Value>,
}

impl Outbox {
    fn push(&mut self, attempt: &str, mut m: Value) {
        m["anonymousId"] = json!(self.visit_aid);
        m["timestamp"] = json!(self.now.to_string());
        m["messageId"] = json!(format!("{attempt}-{}-{}", self.now.as_micros(), self.messages.len()));
        self.messages.push(m);
    }
    fn track(&mut self, attempt: &str, event: &str, properties: Value) {
        self.push(attempt, json!({"type": "track", "event": event, "properties": properties}));
    }
    fn identify(&mut self, attempt: &str, traits: Map<String, Value>) {
        self.push(attempt, json!({"type": "identify", "traits": traits}));
    }
}

/// Applies one step to `visit`, queues its messages, and says what to show.
async fn advance<'q>(
    app: &AppState,
    ws: WorkspaceId,
    quiz: &'q Quiz,
    posted: &Posted,
    visit: &mut Visit,
    out: &mut Outbox,
    ip: IpAddr,
) -> Result<Shown<'q>, ApiError> {
    let action = posted.get("action").unwrap_or("answer");
    if action == "start" {
        let attempt = new_token("qa_");
        out.track(
            &attempt,
            QUIZ_STARTED,
            json!({"quiz_id": quiz.id, "quiz_name": quiz.name, "attempt": attempt, "page": visit.page}),
        );
        visit.attempt = Some(attempt);
        visit.answers.clear();
        return Ok(Shown::Question(quiz.first()));
    }
    let attempt = visit
        .attempt
        .clone()
        .ok_or_else(|| ApiError::invalid_value("attempt", "attempt is missing: post action=start first"))?;
    match action {
        "answer" => {
            let question =
                posted.get("question").ok_or_else(|| ApiError::missing_field("question", "question is required"))?;
            let value = posted.get("value").unwrap_or_default();
            let Some((q, choice, next)) = quiz.next_after(question, value) else {
                return Err(match quiz.question(question) {
                    None => ApiError::invalid_value("question", "this quiz has no such question"),
                    Some(_) => ApiError::invalid_value("value", "that is not one of this question's answers"),
                });
            };
            visit.answers.retain(|(id, _)| *id != q.id);
            visit.answers.push((q.id.clone(), choice.value.clone()));
            visit.answers = carried(quiz, &visit.answers);
            let mut traits = Map::new();
            traits.insert(q.trait_name.clone(), json!(choice.value));
            out.identify(&attempt, traits);
            let next_id = match next {
                Next::Question(n) => n.id.as_str(),
                Next::End => QUIZ_END,
            };
            out.track(
                &attempt,
                QUIZ_QUESTION_ANSWERED,
                json!({"quiz_id": quiz.id, "quiz_name": quiz.name,
                "attempt": attempt, "question_id": q.id, "question": q.text, "trait": q.trait_name,
                "answer": choice.value, "answer_label": choice.label, "next": next_id}),
            );
            match (next, &quiz.email) {
                (Next::Question(n), _) => Ok(Shown::Question(n)),
                (Next::End, Some(_)) => Ok(Shown::Email { error: None, typed: String::new() }),
                (Next::End, None) => complete(app, ws, quiz, visit, out, &attempt, false).await,
            }
        }
        "email" => {
            let step =
                quiz.email.as_ref().ok_or_else(|| ApiError::invalid_value("action", "this quiz asks for no email"))?;
            let typed = posted.get("email").unwrap_or_default().trim().to_string();
            if typed.is_empty() && posted.yes("skip") && !step.required {
                return complete(app, ws, quiz, visit, out, &attempt, false).await;
            }
            let Some(email) = Email::parse(&typed) else {
                let error = if typed.is_empty() {
                    "enter your email address"
                } else {
                    "enter an email address like ann@example.com"
                };
                if posted.json {
                    return Err(ApiError::invalid_value("email", error));
                }
                return Ok(Shown::Email { error: Some(error.to_string()), typed });
            };
            let mut traits = Map::new();
            traits.insert("email".into(), json!(email.as_str()));
            if let Some(consent) = step.consent.as_ref().filter(|_| posted.yes("consent")) {
                // As a single opt-in form records it (forms.rs): the evidence travels with the consent.
                traits.insert("email_consent".into(), json!(kairos_domain::ConsentStatus::Subscribed.as_str()));
                traits.insert("email_consent_at".into(), json!(out.now.to_string()));
                traits.insert("consent_source".into(), json!("quiz"));
                traits.insert("consent_text".into(), json!(consent.text));
                traits.insert("consent_quiz".into(), json!(quiz.id));
                traits.insert("consent_ip".into(), json!(ip.to_string()));
                traits.insert("consent_page".into(), json!(visit.page));
            }
            out.identify(&attempt, traits);
            complete(app, ws, quiz, visit, out, &attempt, true).await
        }
        _ => Err(ApiError::invalid_value("action", "action is start, answer or email")),
    }
}

/// The result: products for the answers, and `Quiz Completed` naming them.
async fn complete<'q>(
    app: &AppState,
    ws: WorkspaceId,
    quiz: &'q Quiz,
    visit: &Visit,
    out: &mut Outbox,
    attempt: &str,
    email_captured: bool,
) -> Result<Shown<'q>, ApiError> {
    let (products, fallback) = result_products(app, ws, quiz, &visit.answers, out.now).await?;
    let answers: Map<String, Value> =
        visit.answers.iter().filter_map(|(q, v)| quiz.question(q).map(|q| (q.trait_name.clone(), json!(v)))).collect();
    let ids: Vec<&Value> = products.iter().map(|p| &p["id"]).collect();
    out.track(
        attempt,
        QUIZ_COMPLETED,
        json!({"quiz_id": quiz.id, "quiz_name": quiz.name, "attempt": attempt,
        "answers": answers, "recommended": ids, "fallback": fallback, "email_captured": email_captured}),
    );
    Ok(Shown::Result { products, fallback })
}

/// The products a result shows for `answers` (JSON of [`picks::product_json`]) and whether they are the fallback.
pub(super) async fn result_products(
    app: &AppState,
    ws: WorkspaceId,
    quiz: &Quiz,
    answers: &[(String, String)],
    now: Timestamp,
) -> Result<(Vec<Value>, bool), ApiError> {
    let currency = app.engine.settings(ws).await?.settings.store.currency;
    let owned = quiz.clone();
    let answers = answers.to_vec();
    let max = quiz.result.products_max;
    let found = crate::api::read_log(app, move |r| picks::picks(r, ws, &chosen(&owned, &answers), max, now)).await?;
    let products = found.products.iter().map(|p| picks::product_json(p, &currency, &quiz.id)).collect();
    Ok((products, found.fallback))
}

/// What a script posting JSON is answered.
fn json_step(quiz: &Quiz, visit: &Visit, shown: &Shown) -> Value {
    let step = match shown {
        Shown::Question(q) => json!({"type": "question", "id": q.id, "text": q.text, "trait": q.trait_name,
            "number": visit.answers.len() + 1,
            "options": q.options.iter().map(|c| json!({"label": c.label, "value": c.value})).collect::<Vec<_>>()}),
        Shown::Email { error, .. } => {
            let e = quiz.email.as_ref();
            json!({"type": "email", "title": e.map(|e| &e.title), "text": e.and_then(|e| e.text.as_ref()),
                "required": e.is_some_and(|e| e.required), "consent_text": e.and_then(|e| e.consent.as_ref()).map(|c| &c.text),
                "error": error})
        }
        Shown::Result { products, fallback } => json!({"type": "result", "title": quiz.result.title,
            "text": quiz.result.text, "fallback": fallback, "products": products}),
    };
    let answers: Map<String, Value> = visit.answers.iter().map(|(q, v)| (q.clone(), json!(v))).collect();
    json!({"attempt": visit.attempt, "anonymous_id": visit.aid, "answers": answers, "step": step})
}

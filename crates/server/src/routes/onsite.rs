//! Forms on the store's own pages (issue 14): an inline embed, a popup or a flyout, shown by the tracker
//! (`/js/kairos.js` loads `/js/kairos-forms.js` when the workspace has any) under the form's display rules:
//! a delay, scroll depth, exit intent, the pages it shows on and not, how often it comes back after it was closed,
//! phones or computers, and not to visitors who are already subscribers.
//!
//! `GET /v1/site/forms?writeKey=...&anonymousId=...` answers the workspace's on-site forms as the public sees
//! them (what the hosted page shows anyway); a known subscriber (by anonymous or user id) does not get the forms
//! that hide from subscribers.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use kairos_domain::vocab::SiteKind;
use kairos_domain::{ConsentStatus, WorkspaceId};
use kairos_store::IdentityKind;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::ttl_cache::TtlCache;

/// The companion script that draws on-site forms, embedded in the binary.
pub const FORMS_JS: &str = include_str!("../../assets/js/kairos-forms.js");

/// How a form is delivered besides its hosted page.
const DISPLAY_TYPES: &[&str] = &["hosted", "inline", "popup", "flyout"];
/// Which devices a popup or flyout shows on.
const DEVICES: &[&str] = &["all", "desktop", "mobile"];
/// Longest delay before a popup shows, in seconds.
const DISPLAY_DELAY_SECONDS_MAX: u64 = 3_600;
/// Longest pause after a visitor closed a popup, in days.
const DISPLAY_FREQUENCY_DAYS_MAX: u64 = 365;
/// Most page patterns in `show_on` or `hide_on`.
const DISPLAY_PATTERNS_MAX: usize = 20;
/// Longest page pattern, in characters.
const DISPLAY_PATTERN_CHARS_MAX: usize = 200;
/// Default delay of a popup or flyout, in seconds (Klaviyo's default is a few seconds too).
const DEFAULT_DELAY_SECONDS: u64 = 5;
/// Default pause after a visitor closed it, in days.
const DEFAULT_FREQUENCY_DAYS: u64 = 7;

fn bad(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid_value(field, message)
}

fn number(o: &Map<String, Value>, key: &str, max: u64, default: u64) -> Result<u64, ApiError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .filter(|n| *n <= max)
            .ok_or_else(|| bad(&format!("display.{key}"), format!("display.{key} is a whole number from 0 to {max}"))),
    }
}

fn flag(o: &Map<String, Value>, key: &str, default: bool) -> Result<bool, ApiError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(bad(&format!("display.{key}"), format!("display.{key} must be true or false"))),
    }
}

fn patterns(o: &Map<String, Value>, key: &str) -> Result<Vec<String>, ApiError> {
    let field = format!("display.{key}");
    let list = match o.get(key) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) if a.len() <= DISPLAY_PATTERNS_MAX => a,
        Some(_) => return Err(bad(&field, format!("{field} is a list of at most {DISPLAY_PATTERNS_MAX} page paths"))),
    };
    list.iter()
        .map(|p| match p.as_str() {
            Some(s) if s.starts_with('/') && s.chars().count() <= DISPLAY_PATTERN_CHARS_MAX => Ok(s.to_string()),
            _ => Err(bad(&field, format!("{field} holds page paths such as /products/* (a * matches anything)"))),
        })
        .collect()
}

/// A form's display rules, checked field by field (absent: the hosted page only).
pub(crate) fn display_checked(v: Option<&Value>) -> Result<Value, ApiError> {
    let o = match v {
        None | Some(Value::Null) => return Ok(json!({"type": "hosted"})),
        Some(Value::Object(o)) => o,
        Some(_) => return Err(bad("display", "display must be an object")),
    };
    let kind = o.get("type").and_then(Value::as_str).unwrap_or("hosted");
    if !DISPLAY_TYPES.contains(&kind) {
        return Err(bad("display.type", format!("display.type must be one of {}", DISPLAY_TYPES.join(", "))));
    }
    let devices = o.get("devices").and_then(Value::as_str).unwrap_or("all");
    if !DEVICES.contains(&devices) || o.get("devices").is_some_and(|d| !d.is_string()) {
        return Err(bad("display.devices", format!("display.devices must be one of {}", DEVICES.join(", "))));
    }
    let scroll = match o.get("scroll_percent") {
        None | Some(Value::Null) => Value::Null,
        Some(v) => json!(
            v.as_u64()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| bad("display.scroll_percent", "display.scroll_percent is from 1 to 100"))?
        ),
    };
    let exit_intent = flag(o, "exit_intent", false)?;
    // A delay is a trigger of its own: by default only when neither scrolling nor exit intent is asked for.
    let delay = match o.get("delay_seconds") {
        None if scroll.is_null() && !exit_intent => json!(DEFAULT_DELAY_SECONDS),
        None | Some(Value::Null) => Value::Null,
        Some(_) => json!(number(o, "delay_seconds", DISPLAY_DELAY_SECONDS_MAX, DEFAULT_DELAY_SECONDS)?),
    };
    Ok(json!({
        "type": kind,
        "delay_seconds": delay,
        "scroll_percent": scroll,
        "exit_intent": exit_intent,
        "show_on": patterns(o, "show_on")?,
        "hide_on": patterns(o, "hide_on")?,
        "frequency_days": number(o, "frequency_days", DISPLAY_FREQUENCY_DAYS_MAX, DEFAULT_FREQUENCY_DAYS)?,
        // Popups and flyouts interrupt: by default not for people who already subscribed (an embed stays).
        "hide_for_subscribers": flag(o, "hide_for_subscribers", kind == "popup" || kind == "flyout")?,
        "devices": devices,
    }))
}

/// A form as the public sees it: what its hosted page shows, and where submissions go.
fn public(app: &AppState, form: &Value) -> Value {
    let id = form["id"].as_str().unwrap_or_default();
    json!({
        "id": id,
        "name": form["name"],
        "fields": form["fields"],
        "consent_text": form["consent"]["text"],
        "double_opt_in": form["double_opt_in"],
        "success_message": form["success_message"],
        "redirect_url": form["redirect_url"],
        "display": form["display"],
        "action": format!("{}/f/{id}", app.public_url),
    })
}

#[derive(Deserialize)]
pub struct SiteQuery {
    #[serde(rename = "writeKey")]
    write_key: Option<String>,
    #[serde(rename = "anonymousId")]
    anonymous_id: Option<String>,
    #[serde(rename = "userId")]
    user_id: Option<String>,
}

/// Whether the visitor (by user or anonymous id) is an email subscriber of `ws`.
async fn is_subscriber(app: &AppState, ws: WorkspaceId, q: &SiteQuery) -> Result<bool, ApiError> {
    let ids = [(IdentityKind::UserId, q.user_id.clone()), (IdentityKind::AnonymousId, q.anonymous_id.clone())];
    for (kind, value) in ids {
        let Some(value) = value.filter(|v| !v.is_empty() && v.len() <= 200) else { continue };
        // Consent is never left waiting (`Engine::settle`).
        let found = crate::api::read_log(app, move |r| r.contact_by_identity(ws, kind, &value)).await?;
        if let Some(c) = found {
            return Ok(c.consent.email.status == ConsentStatus::Subscribed);
        }
    }
    Ok(false)
}

/// How long a node answers the tracker from its copy of a workspace's on-site forms, in seconds: every page view of
/// a store asks, and a form saved on another node shows within this (this node's own edits show at once).
pub const SITE_FORMS_CACHE_SECONDS: u64 = 5;
/// Most workspaces whose forms a node keeps at once.
const SITE_FORMS_CACHE_WORKSPACES_MAX: usize = 10_000;

/// A workspace's on-site forms as the public sees them, each with whether it hides from subscribers.
type OnSite = Arc<Vec<(bool, Value)>>;

/// Each workspace's on-site forms, read at most every [`SITE_FORMS_CACHE_SECONDS`] per node.
pub struct SiteFormsCache(TtlCache<WorkspaceId, OnSite>);

impl Default for SiteFormsCache {
    fn default() -> Self {
        SiteFormsCache(TtlCache::new(Duration::from_secs(SITE_FORMS_CACHE_SECONDS), SITE_FORMS_CACHE_WORKSPACES_MAX))
    }
}

impl SiteFormsCache {
    /// Drops the workspace's copy (its forms changed on this node).
    pub fn forget(&self, ws: WorkspaceId) {
        self.0.forget(&ws);
    }
}

/// The workspace's inline, popup and flyout forms, from this node's copy when fresh.
async fn onsite_forms(app: &AppState, ws: WorkspaceId) -> Result<OnSite, ApiError> {
    if let Some(forms) = app.site_forms.0.fresh(&ws) {
        return Ok(forms);
    }
    let all = app.engine.site_items(ws, SiteKind::Form).await?;
    let forms: OnSite = Arc::new(
        all.iter()
            .filter(|f| f["display"]["type"].as_str().is_some_and(|t| t != "hosted"))
            .map(|f| (f["display"]["hide_for_subscribers"] == true, public(app, f)))
            .collect(),
    );
    app.site_forms.0.keep(ws, forms.clone());
    Ok(forms)
}

/// `GET /v1/site/forms`: the workspace's inline, popup and flyout forms for the tracker.
pub async fn forms(State(app): State<AppState>, Query(q): Query<SiteQuery>) -> Result<Response, ApiError> {
    let caller = crate::auth::resolve(&app, q.write_key.clone()).await?;
    let ws = caller.workspace;
    let onsite = onsite_forms(&app, ws).await?;
    let subscriber = if onsite.iter().any(|(hides, _)| *hides) { is_subscriber(&app, ws, &q).await? } else { false };
    let items: Vec<&Value> = onsite.iter().filter(|(hides, _)| !(subscriber && *hides)).map(|(_, f)| f).collect();
    let mut r = Json(json!({ "forms": items })).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// `GET /js/kairos-forms.js`: draws the on-site forms (loaded by the tracker only when there are some).
pub async fn forms_script() -> Response {
    super::site::script(FORMS_JS)
}

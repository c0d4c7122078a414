//! The hosted landing page `GET /p/{id}` and its coupon reveal `POST /p/{id}/coupon`.
//!
//! A view is recorded as Segment's `page` call for the visitor's anonymous id (the tracker's first-party cookie
//! `kairos_aid`, set when absent), named [`visit_name`], with `properties.url` and the `utm_*` parameters as
//! `context.campaign` (`source`, `medium`, `name`, `term`, `content`). HEAD requests, prefetches and previews,
//! known crawlers and more than [`PAGE_VIEWS_PER_MINUTE`] views a minute of one page from one address are served
//! but not recorded. Unpublished pages answer 404 to the public.

use std::collections::HashMap;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kairos_domain::vocab::SiteKind;
use kairos_domain::{Email, SystemEvent, WorkspaceId};
use kairos_engine::ContactRef;
use kairos_store::IdentityKind;
use serde_json::{Value, json};

use super::products::view_of;
use super::render::{CouponState, HONEYPOT, View, page_html};
use crate::AppState;
use crate::api::read_body;
use crate::routes::forms::peer_ip;
use crate::site_rate::PerMinute;

/// The tracker's anonymous-id cookie (`assets/js/kairos.js`), shared so a visitor is one person on both.
pub const VISITOR_COOKIE: &str = "kairos_aid";
/// How long the cookie lives, in seconds (the tracker's year).
const VISITOR_COOKIE_SECONDS: u32 = 31_536_000;
/// Views of one page recorded per address and minute; more are served, not counted.
pub const PAGE_VIEWS_PER_MINUTE: usize = 30;
/// Coupon requests per page, address and minute.
pub const COUPON_REQUESTS_PER_MINUTE: usize = 5;
/// Largest coupon request, in bytes.
const COUPON_BODY_BYTES_MAX: usize = 4 * 1024;
/// Longest `utm_*` value, referrer or user agent kept, in characters.
const VISIT_TEXT_CHARS_MAX: usize = 300;
/// Longest page address (with its query) kept on a visit, in characters.
const VISIT_URL_CHARS_MAX: usize = 2_000;
/// `utm_*` parameters and the `context.campaign` keys Segment's spec gives them.
const UTM: [(&str, &str); 5] = [
    ("utm_source", "source"),
    ("utm_medium", "medium"),
    ("utm_campaign", "name"),
    ("utm_term", "term"),
    ("utm_content", "content"),
];
/// User agents of crawlers and link previewers (lower case): a visit from them is not a person's.
const BOT_MARKERS: [&str; 10] = [
    "bot",
    "crawl",
    "spider",
    "slurp",
    "facebookexternalhit",
    "embedly",
    "preview",
    "lighthouse",
    "pingdom",
    "monitor",
];
/// The name a visit event gives the page (the report finds the page's visits by it).
pub fn visit_name(id: &str) -> String {
    format!("Landing page: {id}")
}

/// Views recorded and coupon requests, per (page, address) and minute.
static VIEWS: PerMinute = PerMinute::new(PAGE_VIEWS_PER_MINUTE);
static COUPONS: PerMinute = PerMinute::new(COUPON_REQUESTS_PER_MINUTE);

fn header_text(headers: &HeaderMap, name: impl header::AsHeaderName) -> &str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The visitor's anonymous id from the cookie, or a new one (true: to be set).
fn visitor(headers: &HeaderMap) -> (String, bool) {
    let from_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix(VISITOR_COOKIE)?.strip_prefix('='))
        .find(|v| {
            !v.is_empty() && v.len() <= 100 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    match from_cookie {
        Some(id) => (id.to_string(), false),
        None => {
            let b: [u8; 16] = rand::random();
            let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
            (format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..]), true)
        }
    }
}

/// Whether a request is a person looking at the page (not HEAD, a prefetch, a preview or a crawler).
fn is_a_view(method: &Method, headers: &HeaderMap) -> bool {
    if method != Method::GET {
        return false;
    }
    let purpose = ["purpose", "sec-purpose", "x-purpose", "x-moz"]
        .iter()
        .map(|h| header_text(headers, *h).to_ascii_lowercase())
        .any(|v| v.contains("prefetch") || v.contains("preview") || v.contains("prerender"));
    let agent = header_text(headers, header::USER_AGENT).to_ascii_lowercase();
    !purpose && !BOT_MARKERS.iter().any(|m| agent.contains(m))
}

/// The page's public address.
pub fn page_url(app: &AppState, id: &str) -> String {
    format!("{}/p/{id}", app.public_url.trim_end_matches('/'))
}

/// The HTML answer with the page's headers: a policy allowing no script at all, never cached (it sets the
/// visitor's cookie and may show their products).
fn answer(status: StatusCode, html: String, new_visitor: Option<&str>, secure: bool) -> Response {
    let mut r = (status, html).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; \
             form-action 'self' https:; base-uri 'none'; frame-ancestors 'self'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    if let Some(id) = new_visitor {
        let secure = if secure { "; Secure" } else { "" };
        let cookie = format!("{VISITOR_COOKIE}={id}; Max-Age={VISITOR_COOKIE_SECONDS}; Path=/; SameSite=Lax{secure}");
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            h.append(header::SET_COOKIE, v);
        }
    }
    r
}

fn not_found() -> Response {
    let html = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
                content=\"width=device-width, initial-scale=1\"><title>Not found</title></head><body><main>\
                <h1>Page not found</h1><p>This page does not exist or is not published.</p></main></body></html>";
    answer(StatusCode::NOT_FOUND, html.to_string(), None, false)
}

/// The published page `id` with its workspace.
async fn published(app: &AppState, id: &str) -> Option<(WorkspaceId, Value)> {
    match app.engine.site_item(SiteKind::Page, id).await {
        Ok(Some((ws, page))) if page["published"] == true => Some((ws, page)),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "a landing page could not be read");
            None
        }
    }
}

/// The Segment `page` call of one view.
fn visit_message(page: &Value, url: &str, query: &str, headers: &HeaderMap, aid: &str) -> Value {
    let id = page["id"].as_str().unwrap_or_default();
    let mut campaign = serde_json::Map::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if let Some((_, key)) = UTM.iter().find(|(p, _)| *p == k)
            && !v.trim().is_empty()
            && !campaign.contains_key(*key)
        {
            campaign.insert((*key).to_string(), json!(cut(v.trim(), VISIT_TEXT_CHARS_MAX)));
        }
    }
    let search = if query.is_empty() { String::new() } else { cut(&format!("?{query}"), VISIT_URL_CHARS_MAX) };
    let full = cut(&format!("{url}{search}"), VISIT_URL_CHARS_MAX);
    let props = json!({
        "url": full, "path": format!("/p/{id}"), "search": search,
        "referrer": cut(header_text(headers, header::REFERER), VISIT_TEXT_CHARS_MAX),
        "title": page["title"], "landing_page_id": id, "landing_page_name": page["name"],
    });
    let b: [u8; 12] = rand::random();
    json!({
        "type": "page", "anonymousId": aid, "name": visit_name(id),
        "messageId": format!("lp-{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>()),
        "properties": props.clone(),
        "context": {"campaign": campaign, "page": props,
                    "userAgent": cut(header_text(headers, header::USER_AGENT), VISIT_TEXT_CHARS_MAX)},
    })
}

/// Ingests Segment messages of a visitor; a failure is logged (the visitor still gets the page).
async fn ingest(app: &AppState, ws: WorkspaceId, id: &str, messages: Vec<Value>) -> bool {
    let now = app.engine.clock().now();
    let events = match crate::backfill::events_of(format_args!("landing-{id}"), messages, now) {
        Ok(events) => events,
        Err((field, message)) => {
            tracing::warn!(page = %id, %field, %message, "a landing page event was refused");
            return false;
        }
    };
    // Not trusted: nothing here may set consent.
    match app.engine.ingest(ws, false, events).await {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(page = %id, error = %e, "a landing page event could not be stored");
            false
        }
    }
}

/// `GET /p/{id}`: the published page, recording the view.
pub async fn hosted(
    State(app): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    method: Method,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
) -> Response {
    let Some((ws, page)) = published(&app, &id).await else { return not_found() };
    let (aid, new_visitor) = visitor(&headers);
    let url = page_url(&app, &id);
    if is_a_view(&method, &headers) && VIEWS.allow(&id, peer_ip(&extensions), Instant::now()) {
        let message = visit_message(&page, &url, query.as_deref().unwrap_or_default(), &headers, &aid);
        ingest(&app, ws, &id, vec![message]).await;
    }
    let view = view_of(&app, ws, &page, Some(&aid), url).await;
    let secure = app.public_url.starts_with("https://");
    answer(StatusCode::OK, page_html(&page, &view), new_visitor.then_some(aid.as_str()), secure)
}

/// The page shown again with a coupon block's outcome.
async fn with_coupon(
    app: &AppState,
    ws: WorkspaceId,
    page: &Value,
    aid: &str,
    block: usize,
    state: CouponState,
) -> String {
    let mut view: View =
        view_of(app, ws, page, Some(aid), page_url(app, page["id"].as_str().unwrap_or_default())).await;
    view.coupon = Some((block, state));
    page_html(page, &view)
}

/// `POST /p/{id}/coupon` (`block`, `email`): a code of the block's pool for the address given.
pub async fn reveal(
    State(app): State<AppState>,
    Path(id): Path<String>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some((ws, page)) = published(&app, &id).await else { return not_found() };
    let (aid, new_visitor) = visitor(&headers);
    let secure = app.public_url.starts_with("https://");
    let reply = |status, html| answer(status, html, new_visitor.then_some(aid.as_str()), secure);
    let raw = match read_body(&headers, body, COUPON_BODY_BYTES_MAX).await {
        Ok(raw) => raw,
        Err(e) => return e.into_response(),
    };
    let values: HashMap<String, String> = form_urlencoded::parse(&raw).into_owned().collect();
    let block = values.get("block").and_then(|b| b.parse::<usize>().ok());
    let pool =
        block.and_then(|i| page["blocks"].get(i)).filter(|b| b["type"] == "coupon").and_then(|b| b["pool"].as_str());
    let (Some(block), Some(pool)) = (block, pool.map(str::to_string)) else {
        return reply(
            StatusCode::BAD_REQUEST,
            page_html(&page, &view_of(&app, ws, &page, Some(&aid), page_url(&app, &id)).await),
        );
    };
    if !COUPONS.allow(&id, peer_ip(&extensions), Instant::now()) {
        let told = CouponState::Told("Too many tries from this address: try again in a minute.".into());
        return reply(StatusCode::TOO_MANY_REQUESTS, with_coupon(&app, ws, &page, &aid, block, told).await);
    }
    // A bot filled the field people never see: the page again, nothing stored.
    if values.get(HONEYPOT).is_some_and(|v| !v.trim().is_empty()) {
        tracing::info!(page = %id, "a coupon request with its honeypot filled was dropped");
        return reply(
            StatusCode::OK,
            page_html(&page, &view_of(&app, ws, &page, Some(&aid), page_url(&app, &id)).await),
        );
    }
    let typed = values.get("email").map(|v| v.trim().to_string()).unwrap_or_default();
    let Some(email) = Email::parse(&typed) else {
        let state = CouponState::Invalid {
            email: cut(&typed, VISIT_TEXT_CHARS_MAX),
            message: "Enter an email address like ann@example.com.".into(),
        };
        return reply(StatusCode::BAD_REQUEST, with_coupon(&app, ws, &page, &aid, block, state).await);
    };
    let state = coupon_for(&app, ws, &page, &aid, &pool, email).await;
    reply(StatusCode::OK, with_coupon(&app, ws, &page, &aid, block, state).await)
}

/// Events of a contact looked through for the codes it holds and where they were revealed.
const HISTORY_LOOKED_AT_MAX: usize = 1_000;

/// Whether the address already holds a code of `pool` (`Coupon Issued`), and whether it was revealed to this
/// browser (`Coupon Revealed` with its anonymous id).
async fn held(app: &AppState, ws: WorkspaceId, email: &Email, aid: &str, pool: &str) -> (bool, bool) {
    let (email, aid, pool) = (email.as_str().to_string(), aid.to_string(), pool.to_string());
    let key = email.clone();
    crate::api::read_identified(app, ws, IdentityKind::Email, key, move |r| {
        let Some(c) = r.contact_by_identity(ws, IdentityKind::Email, &email)? else { return Ok((false, false)) };
        let events = r.contact_events(c.id, None, HISTORY_LOOKED_AT_MAX)?.items;
        let of_pool =
            |e: &kairos_store::StoredEvent| e.event.properties.get("pool").and_then(Value::as_str) == Some(&pool);
        let issued =
            events.iter().any(|e| e.event.name.as_deref() == Some(SystemEvent::CouponIssued.as_str()) && of_pool(e));
        let here = events.iter().any(|e| {
            e.event.name.as_deref() == Some(SystemEvent::CouponRevealed.as_str())
                && e.event.anonymous_id.as_deref() == Some(&aid)
                && of_pool(e)
        });
        Ok((issued, here))
    })
    .await
    .unwrap_or((false, false))
}

/// Gives the address a code of `pool` and records the signup: the visitor's anonymous id joins the address, and
/// `Coupon Revealed`. A unique code the address already held is shown again only to the browser it was revealed
/// to: anyone can type someone else's address, so then nothing is shown, and nothing joins their browser to
/// that person either.
async fn coupon_for(app: &AppState, ws: WorkspaceId, page: &Value, aid: &str, pool: &str, email: Email) -> CouponState {
    let id = page["id"].as_str().unwrap_or_default();
    let trouble = || CouponState::Told("Sorry, something went wrong: try again in a moment.".into());
    let shared = match app.engine.coupon_pools(ws, Some(pool.to_string())).await {
        Ok(pools) => pools.first().is_some_and(|p| p.pool.document()["type"] == "shared"),
        Err(_) => return CouponState::Told("Sorry, there are no codes left: this offer has ended.".into()),
    };
    let (issued, here) = held(app, ws, &email, aid, pool).await;
    if issued && !here && !shared {
        return CouponState::Told("A code was already given to this address: use the one you received.".into());
    }
    // Joined first, so the code is issued to the person the visitor now is.
    let who = json!({"type": "identify", "anonymousId": aid, "traits": {"email": email.as_str()}});
    if !ingest(app, ws, id, vec![who]).await {
        return trouble();
    }
    let coupon = match app.engine.issue_coupon(ws, pool.to_string(), ContactRef::Email(email)).await {
        Ok(Some(c)) => c,
        Ok(None) => return CouponState::Told("Sorry, there are no codes left: this offer has ended.".into()),
        Err(e) => {
            tracing::warn!(page = %id, error = %e, "a landing page coupon could not be issued");
            return trouble();
        }
    };
    let revealed = json!({"type": "track", "anonymousId": aid, "event": SystemEvent::CouponRevealed.as_str(), "properties": {
        "landing_page_id": id, "landing_page_name": page["name"], "page": page_url(app, id), "pool": pool,
        "code": coupon.code}});
    ingest(app, ws, id, vec![revealed]).await;
    CouponState::Revealed {
        code: coupon.code,
        expires_at: coupon.expires_at.map(|t| t.to_string().chars().take(10).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_prefetches_and_crawlers_are_not_views() {
        let mut h = HeaderMap::new();
        assert!(is_a_view(&Method::GET, &h));
        assert!(!is_a_view(&Method::HEAD, &h));
        h.insert("sec-purpose", HeaderValue::from_static("prefetch;prerender"));
        assert!(!is_a_view(&Method::GET, &h));
        let mut h = HeaderMap::new();
        h.insert(header::USER_AGENT, HeaderValue::from_static("Mozilla/5.0 (compatible; Googlebot/2.1)"));
        assert!(!is_a_view(&Method::GET, &h));
        h.insert(header::USER_AGENT, HeaderValue::from_static("Mozilla/5.0 HeadlessChrome/120.0"));
        assert!(is_a_view(&Method::GET, &h), "a headless browser may be a person's test");
    }

    #[test]
    fn the_visitor_cookie_is_read_or_made() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; kairos_aid=abc-123; b=2"));
        assert_eq!(visitor(&h), ("abc-123".into(), false));
        h.insert(header::COOKIE, HeaderValue::from_static("kairos_aid=<script>"));
        let (id, new) = visitor(&h);
        assert!(new && id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'), "{id}");
    }

    #[test]
    fn utm_parameters_become_the_campaign_context() {
        let page = json!({"id": "sale", "name": "Sale", "title": "Big sale"});
        let q = "utm_source=news%20letter&utm_medium=email&utm_campaign=spring&utm_term=bikes&utm_content=hero&x=1";
        let m = visit_message(&page, "https://k.example/p/sale", q, &HeaderMap::new(), "aid-1");
        assert_eq!(m["name"], "Landing page: sale");
        assert_eq!(
            m["context"]["campaign"],
            json!({"source": "news letter", "medium": "email", "name": "spring", "term": "bikes", "content": "hero"})
        );
        assert_eq!(m["properties"]["url"], format!("https://k.example/p/sale?{q}"));
        assert_eq!(m["anonymousId"], "aid-1");
    }
}

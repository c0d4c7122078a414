//! Login, logout and the session's description for the page scripts.

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};

use super::{escape, html, local_ui_path};
use crate::AppState;
use crate::auth::{self, SESSION_COOKIE};
use crate::error::{ApiError, ErrorCode};

/// Sessions last a week (absolute, from login).
const SESSION_TTL_SECS: i64 = 7 * 86_400;
/// Largest login body.
const LOGIN_BODY_BYTES_MAX: usize = 8 * 1024;
/// Argon2 verifications running at once (each takes ~19 MiB and tens of milliseconds of CPU).
static VERIFICATIONS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

fn login_page(status: StatusCode, error: Option<&str>, email: &str, next: &str) -> Response {
    let error = error.map_or(String::new(), |e| format!("<p class=\"form-error\" role=\"alert\">{}</p>", escape(e)));
    let page = super::assets::LOGIN
        .replace("{{ERROR}}", &error)
        .replace("{{EMAIL}}", &escape(email))
        .replace("{{NEXT}}", &escape(next))
        .replace("{{V}}", super::assets::version());
    html(status, page)
}

/// `GET /ui/login`: the form (or straight to the UI when already logged in).
pub(crate) async fn page(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let next = local_ui_path(q.get("next").map(String::as_str));
    if let Some(token) = auth::session_token(&headers)
        && auth::session(&app, &token).await.ok().flatten().is_some()
    {
        return Redirect::to(&next).into_response();
    }
    login_page(StatusCode::OK, None, "", &next)
}

/// Login and logout must come from our own pages: browsers say where a request comes from in `Sec-Fetch-Site`
/// and `Origin`, which scripts cannot forge.
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |h: header::HeaderName| headers.get(h).and_then(|v| v.to_str().ok());
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    match (text(header::ORIGIN), text(header::HOST)) {
        (Some("null"), _) => false,
        (Some(origin), Some(host)) => origin.split_once("://").is_some_and(|(_, h)| h == host),
        (Some(_), None) => false,
        (None, _) => true,
    }
}

fn forbidden_cross_site() -> ApiError {
    ApiError::new(ErrorCode::CrossSiteRequest, "this form must be sent from the Kairos UI itself")
}

/// The fields of an `application/x-www-form-urlencoded` login or logout form (the last of a repeated name wins;
/// public for the `login_form` fuzz target).
pub fn form_fields(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body).filter(|(k, _)| !k.is_empty()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/json"))
}

fn cookie(headers: &HeaderMap, value: &str, max_age: i64) -> HeaderValue {
    // The binary speaks plain HTTP; behind a TLS-terminating proxy the cookie is marked Secure.
    let secure = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("kairos_session=; Path=/; Max-Age=0"))
}

/// `POST /ui/login` with a form (`email`, `password`, `next`: answers a redirect) or JSON (`{"email",
/// "password"}`: answers `{"email", "workspace", "csrf"}`). Sets the session cookie.
pub(crate) async fn login(
    State(app): State<AppState>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    body: Body,
) -> Response {
    let json = is_json(&headers);
    if !same_origin(&headers) {
        return forbidden_cross_site().into_response();
    }
    let bytes = match crate::api::read_body(&headers, body, LOGIN_BODY_BYTES_MAX).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let (email, password, next) = if json {
        let v: Value = match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => return ApiError::invalid_json(&e).into_response(),
        };
        let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        (text("email"), text("password"), "/ui/".to_string())
    } else {
        let mut f = form_fields(&bytes);
        let next = local_ui_path(f.get("next").map(String::as_str));
        (f.remove("email").unwrap_or_default(), f.remove("password").unwrap_or_default(), next)
    };
    let email = email.trim().to_string();
    // Without a peer address (a router served without connect info, as in unit tests) all callers share one.
    let addr = extensions
        .get::<axum::extract::ConnectInfo<crate::listener::PeerAddr>>()
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |c| c.0.0.ip());
    if let Some(wait) = app.login_throttle.wait(&email, addr, std::time::Instant::now()) {
        tracing::info!(wait_s = wait.as_secs(), "ui login throttled");
        return throttled(wait, json, &email, &next);
    }
    let store = app.engine.store().clone();
    let attempt = email.clone();
    let checked = async {
        let _permit = VERIFICATIONS.acquire().await.ok();
        tokio::task::spawn_blocking(move || store.authenticate_user(&attempt, &password)).await
    };
    let user = match checked.await {
        Ok(Ok(user)) => user,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "login failed on storage");
            return ApiError::new(ErrorCode::InternalError, "login is unavailable").into_response();
        }
        Err(_) => {
            return ApiError::new(ErrorCode::InternalError, "login is unavailable").into_response();
        }
    };
    let Some(user) = user else {
        tracing::info!("ui login refused");
        app.login_throttle.failed(&email, addr, std::time::Instant::now());
        return if json {
            ApiError::unauthorized("wrong email or password").into_response()
        } else {
            login_page(StatusCode::UNAUTHORIZED, Some("Wrong email or password."), &email, &next)
        };
    };
    app.login_throttle.succeeded(&email, addr);
    let store = app.engine.store().clone();
    let now = auth::wall_clock();
    let opened = {
        let user = user.clone();
        tokio::task::spawn_blocking(move || store.create_session(&user, now, SESSION_TTL_SECS * 1_000_000)).await
    };
    let session = match opened {
        Ok(Ok(s)) => s,
        _ => {
            return ApiError::new(ErrorCode::InternalError, "could not open a session").into_response();
        }
    };
    tracing::info!(user.id = user.id, workspace.id = user.workspace.0, "ui login");
    let mut resp = if json {
        Json(json!({"email": user.email, "csrf": session.csrf, "expires_at": session.expires_at.to_string()}))
            .into_response()
    } else {
        Redirect::to(&next).into_response()
    };
    resp.headers_mut().insert(header::SET_COOKIE, cookie(&headers, &session.token, SESSION_TTL_SECS));
    resp
}

/// 429 with `Retry-After` (whole seconds, rounded up): the JSON error, or the form with a sentence.
fn throttled(wait: std::time::Duration, json: bool, email: &str, next: &str) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let sentence = if secs < 120 {
        format!("Too many failed attempts. Try again in {secs} seconds.")
    } else {
        format!("Too many failed attempts. Try again in {} minutes.", secs.div_ceil(60))
    };
    let mut resp = if json {
        ApiError::new(ErrorCode::TooManyAttempts, sentence).into_response()
    } else {
        login_page(StatusCode::TOO_MANY_REQUESTS, Some(&sentence), email, next)
    };
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    resp
}

/// `POST /ui/logout`: ends the session (CSRF token in `X-CSRF-Token` or the form's `csrf` field) and clears
/// the cookie. Answers a redirect to the login page (JSON `{"ok": true}` for a JSON request).
pub(crate) async fn logout(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    if !same_origin(&headers) {
        return forbidden_cross_site().into_response();
    }
    if let Some(token) = auth::session_token(&headers)
        && let Some(session) = auth::session(&app, &token).await.ok().flatten()
    {
        let bytes = crate::api::read_body(&headers, body, LOGIN_BODY_BYTES_MAX).await.unwrap_or_default();
        let presented = match headers.get(auth::CSRF_HEADER).and_then(|v| v.to_str().ok()) {
            Some(h) => h.to_string(),
            None => form_fields(&bytes).remove("csrf").unwrap_or_default(),
        };
        if !auth::same_secret(&presented, &session.csrf) {
            return ApiError::new(ErrorCode::CsrfTokenInvalid, "logout needs the session's CSRF token").into_response();
        }
        let store = app.engine.store().clone();
        let t = token.clone();
        if !matches!(tokio::task::spawn_blocking(move || store.delete_session(&t)).await, Ok(Ok(()))) {
            return ApiError::new(ErrorCode::InternalError, "could not end the session").into_response();
        }
        auth::forget_session(&app, &token);
        tracing::info!(user.id = session.user_id, "ui logout");
    }
    let mut resp = if is_json(&headers) {
        Json(json!({"ok": true})).into_response()
    } else {
        Redirect::to("/ui/login").into_response()
    };
    resp.headers_mut().insert(header::SET_COOKIE, cookie(&headers, "", 0));
    resp
}

/// `GET /ui/session`: who is logged in, the workspace and the CSRF token (401 without a session).
pub(crate) async fn session_info(State(app): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let token = auth::session_token(&headers).ok_or_else(|| ApiError::unauthorized("not logged in"))?;
    let s = auth::session(&app, &token).await?.ok_or_else(|| ApiError::unauthorized("not logged in"))?;
    Ok(Json(json!({
        "email": s.email,
        "workspace": {"id": s.workspace_public_id, "name": s.workspace_name},
        "csrf": s.csrf,
        "expires_at": s.expires_at.to_string(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode() {
        let f = form_fields(b"email=ann%40shop.example&password=a+b%26c%3D&next=%2Fui%2Fflows&bad=%zz%4");
        assert_eq!(f["email"], "ann@shop.example");
        assert_eq!(f["password"], "a b&c=");
        assert_eq!(f["next"], "/ui/flows");
        assert_eq!(f["bad"], "%zz%4");
        assert_eq!(form_fields(b"a=%FF%FE&=x&b")["a"], "\u{FFFD}\u{FFFD}");
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h), "no Origin: a non-browser client");
        h.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        h.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert!(!same_origin(&h));
    }
}

//! The marketer web UI (SPEC 13), served by the binary: login, sessions and the pages.
//!
//! # Design
//! - **Self-contained, no build step.** The UI is plain HTML, CSS and vanilla JavaScript modules under
//!   `crates/server/assets/ui/`, embedded with `include_str!`: `cargo build` needs no Node, no bundler, nothing
//!   downloaded. The browser loads the modules as they are (`<script type="module">`).
//! - **Server-rendered shell, client-rendered pages.** `GET /ui/...` answers one HTML shell (navigation, the
//!   session's CSRF token and the server's clock in `<meta>` tags); `assets/ui/app.js` routes on the path
//!   (`/ui/contacts/42`, with the History API) and each page module draws itself from the JSON API `/api/v1`,
//!   the same API scripts use, so the UI needs no endpoints of its own beyond login. The login page is a plain
//!   server-rendered form that works without JavaScript.
//! - **Sessions.** `POST /ui/login` checks an Argon2id hash (`users` table) and opens a session: a random token
//!   in the cookie `kairos_session` (`HttpOnly; SameSite=Strict; Path=/`, 7 days, `Secure` behind an HTTPS
//!   proxy that sends `X-Forwarded-Proto: https`); only its SHA-256 is stored (`sessions`), with a per-session
//!   CSRF token. [`crate::auth::SecretWorkspace`] accepts the cookie for `/api/v1` in place of a secret key,
//!   scoped to the session's workspace, and requires `X-CSRF-Token` on every such request. Login and logout
//!   refuse cross-site posts (`Sec-Fetch-Site` / `Origin`), so no other site can log a browser in or out.
//!   Session expiry follows the wall clock, not `--dev-clock`.
//! - **Safe DOM.** Page scripts build the DOM with `createElement`/`textContent` only, never `innerHTML` with
//!   data. Captured and previewed messages are shown in `<iframe sandbox="" srcdoc>` after their tracking pixel
//!   is removed and their links disarmed, so looking at a message neither runs its scripts nor counts as an open
//!   or a click. A strict Content-Security-Policy (`script-src 'self'`) backs this up.
//! - **Accessible and responsive.** Every input has a label, everything is reachable with the keyboard (native
//!   buttons and links, focus moved to the page heading after navigation, live regions for counts and errors),
//!   and the CSS grid/flex layout works from 1280×800 down to a 390×844 phone (the navigation folds into a menu
//!   button).

mod assets;
pub mod login;
mod throttle;

pub use throttle::LoginThrottle;

pub use login::form_fields;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::AppState;

/// Content-Security-Policy of every UI page. Styles may be inline because rendered emails (shown in sandboxed
/// `srcdoc` frames, which inherit this policy) rely on them; scripts never.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data: https:; connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; \
                   form-action 'self'; object-src 'none'";

/// Routes of the UI (mounted at the root, beside `/api/v1`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/login", get(login::page).post(login::login))
        .route("/ui/logout", post(login::logout))
        .route("/ui/session", get(login::session_info))
        .route("/ui/assets/{*file}", get(assets::serve))
        .route("/ui/", get(shell))
        .route("/ui/{*page}", get(shell))
}

/// Escapes text for HTML content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An HTML page with the UI's security headers; never cached (pages carry the CSRF token).
pub(crate) fn html(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    security_headers(h);
    resp
}

pub(crate) fn security_headers(h: &mut HeaderMap) {
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
}

/// A path inside the UI to return to after login; anything else (another site, `//host`) becomes `/ui/`.
pub(crate) fn local_ui_path(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with("/ui/")
                && p.len() <= 512
                && !p.contains("//")
                && p.chars().all(|c| c.is_ascii_graphic() && c != '\\') =>
        {
            p.to_string()
        }
        _ => "/ui/".to_string(),
    }
}

/// `GET /ui/...`: the application shell for a logged-in user, else a redirect to the login page.
async fn shell(State(app): State<AppState>, req: Request) -> Response {
    let headers = req.headers();
    let session = match crate::auth::session_token(headers) {
        Some(token) => crate::auth::session(&app, &token).await.ok().flatten(),
        None => None,
    };
    let Some(session) = session else {
        let path = req.uri().path_and_query().map_or("/ui/", |p| p.as_str());
        let next = local_ui_path(Some(path));
        let target = if next == "/ui/" { "/ui/login".to_string() } else { format!("/ui/login?next={}", encode(&next)) };
        return Redirect::to(&target).into_response();
    };
    let page = assets::SHELL
        .replace("{{CSRF}}", &escape(&session.csrf))
        .replace("{{EMAIL}}", &escape(&session.email))
        .replace("{{WORKSPACE}}", &escape(&session.workspace_name))
        .replace("{{WORKSPACE_ID}}", &escape(&session.workspace_public_id))
        .replace("{{SERVER_NOW}}", &escape(&app.engine.clock().now().to_string()))
        .replace("{{V}}", assets::version());
    html(StatusCode::OK, page)
}

/// Percent-encodes a query value.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_ui_paths_are_followed_after_login() {
        assert_eq!(local_ui_path(Some("/ui/contacts/4?x=1")), "/ui/contacts/4?x=1");
        for bad in ["https://evil.example/", "//evil.example/ui/", "/ui//evil", "/api/v1/x", "/ui/\\evil", "/ui/a b"] {
            assert_eq!(local_ui_path(Some(bad)), "/ui/", "{bad}");
        }
        assert_eq!(local_ui_path(None), "/ui/");
        assert_eq!(escape("<a href=\"x\">'&"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;");
        assert_eq!(encode("/ui/a b?c=d"), "/ui/a%20b%3Fc%3Dd");
    }
}

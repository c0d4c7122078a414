//! The UI's files, embedded in the binary at build time and served under `/ui/assets/`.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The application shell (placeholders `{{CSRF}}`, `{{EMAIL}}`, ... are filled per request, escaped).
pub(crate) const SHELL: &str = include_str!("../../assets/ui/shell.html");
/// The login page (placeholders `{{ERROR}}`, `{{EMAIL}}`, `{{NEXT}}`).
pub(crate) const LOGIN: &str = include_str!("../../assets/ui/login.html");

macro_rules! asset {
    ($path:literal, $mime:literal) => {
        ($path, $mime, include_str!(concat!("../../assets/ui/", $path)))
    };
}

/// (path under `/ui/assets/`, content type, content).
const ASSETS: &[(&str, &str, &str)] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("lib.js", "text/javascript; charset=utf-8"),
    asset!("charts.js", "text/javascript; charset=utf-8"),
    asset!("preview.js", "text/javascript; charset=utf-8"),
    asset!("pages/dashboard.js", "text/javascript; charset=utf-8"),
    asset!("pages/contacts.js", "text/javascript; charset=utf-8"),
    asset!("pages/segments.js", "text/javascript; charset=utf-8"),
    asset!("pages/flows.js", "text/javascript; charset=utf-8"),
    asset!("pages/campaigns.js", "text/javascript; charset=utf-8"),
    asset!("pages/campaign-compose.js", "text/javascript; charset=utf-8"),
    asset!("pages/performance.js", "text/javascript; charset=utf-8"),
    asset!("pages/words.js", "text/javascript; charset=utf-8"),
    asset!("pages/timeline-words.js", "text/javascript; charset=utf-8"),
    asset!("pages/templates.js", "text/javascript; charset=utf-8"),
    asset!("pages/email-blocks.js", "text/javascript; charset=utf-8"),
    asset!("pages/email-blocks-fields.js", "text/javascript; charset=utf-8"),
    asset!("pages/template-variants.js", "text/javascript; charset=utf-8"),
    asset!("pages/trigger-event.js", "text/javascript; charset=utf-8"),
    asset!("pages/catalog.js", "text/javascript; charset=utf-8"),
    asset!("pages/outbox.js", "text/javascript; charset=utf-8"),
    asset!("pages/settings.js", "text/javascript; charset=utf-8"),
    asset!("pages/integrations.js", "text/javascript; charset=utf-8"),
    asset!("pages/imports.js", "text/javascript; charset=utf-8"),
    asset!("pages/privacy.js", "text/javascript; charset=utf-8"),
    asset!("pages/topics.js", "text/javascript; charset=utf-8"),
    asset!("pages/tasks.js", "text/javascript; charset=utf-8"),
    asset!("pages/quizzes.js", "text/javascript; charset=utf-8"),
    asset!("pages/forms.js", "text/javascript; charset=utf-8"),
    asset!("pages/forms-fields.js", "text/javascript; charset=utf-8"),
    asset!("pages/forms-preview.js", "text/javascript; charset=utf-8"),
    asset!("pages/landing.js", "text/javascript; charset=utf-8"),
];

/// FNV-1a: a stable fingerprint of the embedded files, for ETags and cache-busting URLs.
fn fnv(bytes: &[u8], mut h: u64) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// One fingerprint of all assets (`?v=` on the shell's asset URLs).
pub(crate) fn version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        let h = ASSETS.iter().fold(0xcbf2_9ce4_8422_2325, |h, (p, _, c)| fnv(c.as_bytes(), fnv(p.as_bytes(), h)));
        format!("{:012x}", h & 0xffff_ffff_ffff)
    })
}

/// `GET /ui/assets/{file}`: revalidated with an ETag (the files change only with the binary).
pub(crate) async fn serve(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some((_, mime, content)) = ASSETS.iter().find(|(p, _, _)| *p == file) else {
        return ApiError::not_found("no such asset").into_response();
    };
    let etag = format!("\"{:016x}\"", fnv(content.as_bytes(), 0xcbf2_9ce4_8422_2325));
    let matches = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v == etag);
    let mut resp = if matches { StatusCode::NOT_MODIFIED.into_response() } else { (*content).into_response() };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_pages_import_is_served() {
        // A module imported but not listed here would 404 in the browser: check the import lines.
        for (path, _, content) in ASSETS.iter().filter(|(p, _, _)| p.ends_with(".js")) {
            let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
            for line in content.lines().filter(|l| l.starts_with("import ")) {
                let Some(spec) = line.split(['\'', '"']).nth(1) else { continue };
                let mut parts: Vec<&str> = if dir.is_empty() { Vec::new() } else { dir.split('/').collect() };
                for seg in spec.split('/') {
                    match seg {
                        "." => {}
                        ".." => {
                            parts.pop();
                        }
                        s => parts.push(s),
                    }
                }
                let target = parts.join("/");
                assert!(ASSETS.iter().any(|(p, _, _)| *p == target), "{path} imports {spec} ({target}), not served");
            }
        }
        assert_eq!(version().len(), 12);
    }
}

//! What a store puts on its own website, served by Kairos (SPEC 16 "Site"): the first-party tracker
//! `GET /js/kairos.js` (`assets/js/kairos.js`: Segment-compatible `page`/`track`/`identify` to `/v1/batch` with the
//! store's write key, an anonymous id in a first-party cookie, batched delivery with `sendBeacon` on page hide,
//! retry, consent gating, cart helpers).

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The tracker's source, embedded in the binary.
pub const TRACKER_JS: &str = include_str!("../../assets/js/kairos.js");

/// How long browsers and CDNs may keep the tracker before asking again, in seconds (a new version reaches every
/// site within this).
const TRACKER_CACHE_SECONDS: u32 = 300;

/// `GET /js/kairos.js`: the tracker, cacheable, for any site to load with a `<script>` tag.
pub async fn tracker() -> Response {
    script(TRACKER_JS)
}

/// A script of ours, cacheable, for any site to load.
pub(crate) fn script(source: &'static str) -> Response {
    let mut r = source.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={TRACKER_CACHE_SECONDS}")) {
        h.insert(header::CACHE_CONTROL, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

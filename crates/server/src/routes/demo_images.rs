//! `GET /demo-images/{name}.svg`: the product pictures of `kairos demo`'s sample store, drawn by Kairos itself (a
//! coloured card with the product's name), so the demo's catalog, emails and UI show images without reaching an
//! outside host. Any name gives a picture: it is a placeholder, never a file read.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Longest name drawn (bytes); longer ones are refused.
const NAME_BYTES_MAX: usize = 64;
/// Card colours, picked by the name.
const COLOURS: [&str; 6] = ["#1a56db", "#0f766e", "#b45309", "#7c3aed", "#be123c", "#15803d"];

/// The words of a sample product id ("bic-3" → "BIC 3") and a colour for it.
pub async fn image(Path(file): Path<String>) -> Response {
    let Some(name) = file.strip_suffix(".svg") else { return StatusCode::NOT_FOUND.into_response() };
    if name.is_empty() || name.len() > NAME_BYTES_MAX || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return StatusCode::NOT_FOUND.into_response();
    }
    let colour = COLOURS[name.bytes().map(usize::from).sum::<usize>() % COLOURS.len()];
    let words = name.replace('-', " ").to_uppercase();
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"320\" height=\"240\" viewBox=\"0 0 320 240\">\
<rect width=\"320\" height=\"240\" rx=\"12\" fill=\"{colour}\"/>\
<circle cx=\"160\" cy=\"100\" r=\"46\" fill=\"#ffffff\" fill-opacity=\"0.25\"/>\
<text x=\"160\" y=\"196\" text-anchor=\"middle\" font-family=\"Helvetica,Arial,sans-serif\" font-size=\"26\" fill=\"#ffffff\">{words}</text></svg>"
    );
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=86400")], svg).into_response()
}

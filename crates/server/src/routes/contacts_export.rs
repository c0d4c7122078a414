//! `GET /api/v1/contacts/export`: the workspace's contacts, or one segment's members (`?segment=ID`), as CSV,
//! streamed page by page (a million contacts are never held at once). Cells that a spreadsheet would run as a
//! formula (`=`, `+`, `-`, `@` first) are prefixed with `'` (profiles hold what visitors typed).

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use kairos_domain::{Contact, Timestamp};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::api::{QueryParams, read_log};
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorBody};

/// Contacts read per page while streaming an export.
const EXPORT_PAGE_CONTACTS: usize = 1_000;
/// Pages buffered between the reader and the response.
const EXPORT_PAGES_BUFFERED: usize = 4;

const COLUMNS: [&str; 14] = [
    "id",
    "email",
    "phone",
    "user_id",
    "first_name",
    "last_name",
    "email_consent",
    "sms_consent",
    "orders_count",
    "total_spent",
    "first_order_at",
    "last_order_at",
    "created_at",
    "updated_at",
];

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// A segment's id: export its members instead of every contact.
    pub segment: Option<String>,
}

/// A cell as written: formula-looking text neutralised.
fn cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_string() }
}

fn time(t: Option<Timestamp>) -> String {
    t.map(|t| t.to_jiff().to_string()).unwrap_or_default()
}

fn row(c: &Contact) -> Vec<String> {
    let trait_text = |k: &str| c.traits.get(k).and_then(|v| v.as_str()).map(cell).unwrap_or_default();
    let o = &c.computed.orders;
    vec![
        c.id.0.to_string(),
        c.email.as_ref().map(|e| cell(e.as_str())).unwrap_or_default(),
        c.phone.as_ref().map(|p| cell(p.as_str())).unwrap_or_default(),
        c.user_id.as_deref().map(cell).unwrap_or_default(),
        trait_text("first_name"),
        trait_text("last_name"),
        c.consent.email.status.as_str().to_string(),
        c.consent.sms.status.as_str().to_string(),
        o.count.to_string(),
        format!("{:.2}", o.total_spent.as_major()),
        time(o.first_at),
        time(o.last_at),
        time(Some(c.created_at)),
        time(Some(c.updated_at)),
    ]
}

fn csv_page(contacts: &[Contact], header: bool) -> Result<bytes::Bytes, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if header {
        w.write_record(COLUMNS).map_err(|e| e.to_string())?;
    }
    for c in contacts {
        w.write_record(row(c)).map_err(|e| e.to_string())?;
    }
    w.into_inner().map(bytes::Bytes::from).map_err(|e| e.to_string())
}

/// Contacts (or a segment's members) as CSV, streamed.
#[utoipa::path(
    get,
    path = "/api/v1/contacts/export",
    operation_id = "contacts_export_csv",
    tag = "contacts",
    params(ExportQuery),
    responses(
        (status = 200, description = "text/csv: id, email, phone, user_id, names, consent, order totals, times", content_type = "text/csv", body = String),
        (status = 404, description = "No such segment in the workspace", body = ErrorBody)
    )
)]
pub async fn export(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    QueryParams(q): QueryParams<ExportQuery>,
) -> Result<Response, ApiError> {
    let segment = match q.segment {
        Some(id) => {
            let found = id.clone();
            let row = read_log(&app, move |r| r.segment_row(ws, &found)).await?;
            Some(row.ok_or_else(|| ApiError::not_found(format!("segment {id} not found")))?)
        }
        None => None,
    };
    // Every profile as acknowledged: rows left for a later commit are written first (`Engine::settle`).
    app.engine.settle().await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(EXPORT_PAGES_BUFFERED);
    let engine = app.engine.clone();
    tokio::task::spawn_blocking(move || {
        let mut cursor: Option<String> = None;
        let mut first = true;
        loop {
            let page = engine.read(|r| match segment {
                Some(row) => r.segment_member_page(row, cursor.as_deref(), EXPORT_PAGE_CONTACTS),
                None => r.contacts(ws, cursor.as_deref(), EXPORT_PAGE_CONTACTS),
            });
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    // The response has started: the stream ends with an error (the client sees a cut transfer).
                    let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                    return;
                }
            };
            let chunk = csv_page(&page.items, first).map_err(std::io::Error::other);
            first = false;
            if tx.blocking_send(chunk).is_err() {
                return; // the client went away
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return,
            }
        }
    });
    let body = Body::from_stream(Chunks(rx));
    let name = if segment.is_some() { "segment-members.csv" } else { "contacts.csv" };
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        body,
    )
        .into_response())
}

/// The reader's pages as the response body's stream.
struct Chunks(tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>);

impl futures_core::Stream for Chunks {
    type Item = Result<bytes::Bytes, std::io::Error>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

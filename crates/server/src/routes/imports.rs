//! CSV import over HTTP (the UI's upload): `POST /api/v1/imports/csv/preview?kind=` shows how the first part of
//! a file maps (each column's field, a few rows parsed, with any rejection); `POST /api/v1/imports/csv?kind=`
//! imports a whole file streamed from the request body (never buffered whole) through the same code as
//! `kairos import csv` (`crate::csv_import`).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use kairos_integrations::csv_rows::{self, Kind, RowContext};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::api::{QueryParams, read_body};
use crate::auth::SecretWorkspace;
use crate::csv_import::{self, EngineSink, ImportError, Report};
use crate::error::{ApiError, ErrorBody, ErrorCode};

/// Largest file imported through one upload, in bytes (the CLI has no limit).
pub const CSV_UPLOAD_BYTES_MAX: u64 = 512 * 1024 * 1024;
/// Largest first part of a file a preview reads, in bytes.
pub const CSV_PREVIEW_BYTES_MAX: usize = 64 * 1024;
/// Rows a preview parses and shows.
pub const CSV_PREVIEW_ROWS_MAX: usize = 5;
/// Rejected rows an upload answers (all are counted).
pub const CSV_REJECTED_ROWS_SHOWN_MAX: usize = 100;
/// Body chunks buffered between the request and the importing thread.
const UPLOAD_CHUNKS_BUFFERED: usize = 8;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// What the file holds: `contacts`, `orders` or `products`.
    pub kind: Option<String>,
}

/// A rejected row: its line (the header is line 1), the column at fault (empty: the whole row) and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct RejectedRow {
    pub line: u64,
    pub column: String,
    pub reason: String,
}

/// What an upload did, in rows.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    pub imported: u64,
    pub rejected: u64,
    /// Events stored now, and events or orders found already stored (a file imported again stores nothing new).
    pub events_stored: u64,
    pub already_stored: u64,
    /// The first rejected rows (at most 100).
    pub rejected_rows: Vec<RejectedRow>,
}

fn kind(q: &ImportQuery) -> Result<Kind, ApiError> {
    let k = q
        .kind
        .as_deref()
        .ok_or_else(|| ApiError::missing_field("kind", "kind is required: contacts, orders or products"))?;
    Kind::parse(k).ok_or_else(|| ApiError::invalid_value("kind", "kind must be contacts, orders or products"))
}

fn import_error(e: ImportError) -> ApiError {
    match e {
        ImportError::Header(m) => ApiError::invalid_value("columns", m),
        ImportError::Malformed { line, message } => ApiError::invalid_value(&format!("line {line}"), message),
        ImportError::Engine(e) => e.into(),
        ImportError::Io(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
            ApiError::too_large(CSV_UPLOAD_BYTES_MAX as usize, Some("body".into()))
        }
        ImportError::Io(e) => ApiError::invalid_value("body", e.to_string()),
    }
}

/// The mapping of a file's first part: `{"kind", "columns": [{"name", "maps_to"}], "rows": [{"line", "fields":
/// {field: value}, "rejected": {"column", "reason"} | null}]}`.
#[utoipa::path(
    post,
    path = "/api/v1/imports/csv/preview",
    operation_id = "imports_csv_preview",
    tag = "imports",
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "The first part of the file (at most 64 KB), header first"),
    responses(
        (status = 200, description = "Each column and what it maps to (a field, a trait, or ignored and why), and the first rows parsed", body = Object),
        (status = 400, description = "No kind, or a header Kairos cannot import from (`field`: `kind`, `columns`)", body = ErrorBody),
        (status = 413, description = "Over 64 KB", body = ErrorBody)
    )
)]
pub async fn preview(
    SecretWorkspace(_): SecretWorkspace,
    State(app): State<AppState>,
    QueryParams(q): QueryParams<ImportQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let kind = kind(&q)?;
    let bytes = read_body(&headers, body, CSV_PREVIEW_BYTES_MAX).await?;
    let now = app.engine.clock().now();
    let cx = RowContext { as_of: now, now };
    tokio::task::spawn_blocking(move || preview_of(kind, &bytes, cx))
        .await
        .map_err(|_| ApiError::new(ErrorCode::InternalError, "the preview failed"))?
        .map(Json)
}

fn preview_of(kind: Kind, bytes: &[u8], cx: RowContext) -> Result<Value, ApiError> {
    let mut input = std::io::BufReader::new(bytes);
    let delimiter =
        csv_import::sniff_delimiter(&mut input).map_err(|e| ApiError::invalid_value("body", e.to_string()))?;
    let mut csv = csv::ReaderBuilder::new().delimiter(delimiter).has_headers(false).flexible(true).from_reader(input);
    let mut records = csv.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(ApiError::invalid_value("line 1", e.to_string())),
        None => {
            return Err(ApiError::invalid_value("columns", "the file is empty: the first line must name the columns"));
        }
    };
    let names: Vec<&str> = header.iter().collect();
    let m = csv_rows::map_header(kind, &names).map_err(|e| ApiError::invalid_value("columns", e.message))?;
    let columns: Vec<Value> = m.describe().into_iter().map(|(name, to)| json!({"name": name, "maps_to": to})).collect();
    let mut rows = Vec::new();
    for (i, record) in records.take(CSV_PREVIEW_ROWS_MAX).enumerate() {
        let Ok(record) = record else { break }; // the part sent may end inside a row
        let cells: Vec<&str> = record.iter().collect();
        let mut fields = serde_json::Map::new();
        for (cell, target) in cells.iter().zip(&m.targets) {
            let shown = match target {
                csv_rows::Target::Field(f) => f.to_string(),
                csv_rows::Target::Trait(t) => format!("trait {t}"),
                csv_rows::Target::Ignored(_) => continue,
            };
            if !cell.trim().is_empty() {
                fields.insert(shown, json!(cell.trim()));
            }
        }
        let checked = match kind {
            Kind::Contacts => csv_rows::contact_events(&m, &cells, &cx).map(|_| ()),
            Kind::Orders => csv_rows::order_line(&m, &cells, &cx).map(|_| ()),
            Kind::Products => csv_rows::product_line(&m, &cells).map(|_| ()),
        };
        let rejected = checked.err().map(|r| json!({"column": r.column, "reason": r.reason}));
        rows.push(json!({"line": i + 2, "fields": fields, "rejected": rejected}));
    }
    Ok(json!({"kind": kind.as_str(), "columns": columns, "rows": rows}))
}

/// Imports a CSV file streamed in the body, as `kairos import csv` does.
#[utoipa::path(
    post,
    path = "/api/v1/imports/csv",
    operation_id = "imports_csv",
    tag = "imports",
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "The whole file (at most 512 MB), header first"),
    responses(
        (status = 200, description = "Rows imported and rejected, with the first rejected rows", body = ImportResult),
        (status = 400, description = "No kind, a header Kairos cannot import from, or a file that stops being CSV (`field`: `kind`, `columns`, `line N`)", body = ErrorBody),
        (status = 413, description = "Over 512 MB", body = ErrorBody)
    )
)]
pub async fn upload(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    QueryParams(q): QueryParams<ImportQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ImportResult>, ApiError> {
    let kind = kind(&q)?;
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > CSV_UPLOAD_BYTES_MAX) {
        return Err(ApiError::too_large(CSV_UPLOAD_BYTES_MAX as usize, Some("body".into())));
    }
    let (tx, rx) = tokio::sync::mpsc::channel(UPLOAD_CHUNKS_BUFFERED);
    tokio::spawn(feed(body, tx));
    let now = app.engine.clock().now();
    let mut sink = EngineSink { engine: app.engine.clone(), handle: tokio::runtime::Handle::current(), ws };
    let done = tokio::task::spawn_blocking(move || {
        let mut report = Collected(Vec::new());
        let input = BodyReader { rx, current: bytes::Bytes::new() };
        let summary = csv_import::import(kind, input, RowContext { as_of: now, now }, &mut sink, &mut report)?;
        Ok::<_, ImportError>((summary, report.0))
    })
    .await
    .map_err(|_| ApiError::new(ErrorCode::InternalError, "the import failed"))?;
    let (summary, rejected_rows) = done.map_err(import_error)?;
    Ok(Json(ImportResult {
        imported: summary.imported,
        rejected: summary.rejected,
        events_stored: summary.events_stored,
        already_stored: summary.already_stored,
        rejected_rows,
    }))
}

/// Forwards the body's chunks to the importing thread, stopping past [`CSV_UPLOAD_BYTES_MAX`].
async fn feed(body: Body, tx: tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>) {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut total = 0u64;
    while let Some(frame) = body.frame().await {
        let chunk = match frame {
            Ok(f) => match f.into_data() {
                Ok(d) => d,
                Err(_) => continue, // trailers
            },
            Err(e) => {
                let _ = tx.send(Err(std::io::Error::other(e))).await;
                return;
            }
        };
        total += chunk.len() as u64;
        if total > CSV_UPLOAD_BYTES_MAX {
            let _ = tx.send(Err(std::io::Error::from(std::io::ErrorKind::FileTooLarge))).await;
            return;
        }
        if tx.send(Ok(chunk)).await.is_err() {
            return; // the import stopped
        }
    }
}

/// The request body as a blocking `Read`.
struct BodyReader {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<bytes::Bytes>>,
    current: bytes::Bytes,
}

impl std::io::Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// The first rejected rows, for the answer.
struct Collected(Vec<RejectedRow>);

impl Report for Collected {
    fn header(&mut self, _: &[String]) -> Result<(), ImportError> {
        Ok(())
    }
    fn rejected(&mut self, line: u64, _: &[String], column: &str, reason: &str) -> Result<(), ImportError> {
        if self.0.len() < CSV_REJECTED_ROWS_SHOWN_MAX {
            self.0.push(RejectedRow { line, column: column.to_string(), reason: reason.to_string() });
        }
        Ok(())
    }
}

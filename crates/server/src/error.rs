//! The one table of error codes, and the mapping of every failure to `{"error": {"code", "message", "field"}}`
//! with its status (SPEC 16 "Errors").
//!
//! Every code the API answers is a variant of [`ErrorCode`], defined once below with its status and meaning;
//! nothing else in the server spells a code. Codes are part of the API (clients and tests match on them): add
//! new ones, never rename one.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kairos_domain::ValidationError;
use kairos_engine::EngineError;
use kairos_store::StoreError;
use serde::Serialize;

macro_rules! error_codes {
    ($($variant:ident = $code:literal, $status:ident, $meaning:literal;)*) => {
        /// Every error code the API answers.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(#[doc = $meaning] $variant,)*
        }

        impl ErrorCode {
            /// The table, in one place: every code with its usual status and meaning.
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The snake_case code as it appears in the error body.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            /// The status this code answers with (framework rejections may keep their own: see
            /// [`ApiError::with_status`]).
            pub const fn status(self) -> StatusCode {
                match self {
                    $(ErrorCode::$variant => StatusCode::$status,)*
                }
            }

            /// What the code means, for the API description.
            pub const fn meaning(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $meaning,)*
                }
            }

            /// The code spelled `code`, if it is in the table.
            pub fn parse(code: &str) -> Option<ErrorCode> {
                match code {
                    $($code => Some(ErrorCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    // Reading the request.
    BadRequest = "bad_request", BAD_REQUEST, "The request could not be read as HTTP.";
    InvalidRequest = "invalid_request", BAD_REQUEST, "The request's path, query or headers could not be read.";
    InvalidJson = "invalid_json", BAD_REQUEST, "The body is not valid JSON.";
    UriTooLong = "uri_too_long", URI_TOO_LONG, "The request target is longer than the server accepts.";
    HeadersTooLarge = "headers_too_large", REQUEST_HEADER_FIELDS_TOO_LARGE, "The request's headers are too large.";
    PayloadTooLarge = "payload_too_large", PAYLOAD_TOO_LARGE,
        "The body (or one event of a batch) is over its size limit.";
    UnsupportedMediaType = "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE,
        "The body's content type is not one the endpoint reads.";
    MethodNotAllowed = "method_not_allowed", METHOD_NOT_ALLOWED, "The endpoint exists but does not take this method.";
    // Validating what was sent; `field` names the offending field.
    MissingField = "missing_field", BAD_REQUEST, "A required field is missing.";
    InvalidType = "invalid_type", BAD_REQUEST, "A field has the wrong JSON type.";
    InvalidValue = "invalid_value", BAD_REQUEST, "A field has the right type but a value that is not accepted.";
    EmptyValue = "empty_value", BAD_REQUEST, "A field that must not be empty is empty.";
    UnknownField = "unknown_field", BAD_REQUEST, "The body has a field the endpoint does not know.";
    TooLong = "too_long", BAD_REQUEST, "A text or list is longer than its limit.";
    TooDeep = "too_deep", BAD_REQUEST, "JSON nests deeper than its limit.";
    TooLarge = "too_large", BAD_REQUEST, "A number or collection is larger than its limit.";
    NegativeAmount = "negative_amount", BAD_REQUEST, "An amount that must not be negative is negative.";
    InvalidTimestamp = "invalid_timestamp", BAD_REQUEST, "A timestamp is not ISO-8601.";
    InvalidCursor = "invalid_cursor", BAD_REQUEST, "The list cursor was not issued by this list.";
    InvalidDefinition = "invalid_definition", BAD_REQUEST,
        "A segment, flow, template, campaign or setting definition is not valid.";
    InvalidReport = "invalid_report", BAD_REQUEST, "A bounce or complaint report could not be read.";
    // Who is calling.
    Unauthorized = "unauthorized", UNAUTHORIZED, "No key, an unknown key, or an expired session.";
    Forbidden = "forbidden", FORBIDDEN, "The key may not use this endpoint (a write key outside ingestion).";
    CsrfTokenInvalid = "csrf_token_invalid", FORBIDDEN, "A request with a UI session lacks the session's X-CSRF-Token.";
    CrossSiteRequest = "cross_site_request", FORBIDDEN, "A login or logout form was posted from another site.";
    TooManyAttempts = "too_many_attempts", TOO_MANY_REQUESTS,
        "Too many failed logins, or sign-ups from one address; retry after Retry-After seconds (or a minute).";
    // The state of things.
    NotFound = "not_found", NOT_FOUND, "No such object in the caller's workspace, or no such endpoint.";
    Conflict = "conflict", CONFLICT, "The change conflicts with what is stored (a taken id or name, an object in use).";
    Unavailable = "unavailable", SERVICE_UNAVAILABLE,
        "The server is shutting down or overloaded; nothing was stored, retry.";
    InternalError = "internal_error", INTERNAL_SERVER_ERROR, "The server failed; nothing was stored.";
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The body of every error answer (SPEC 16 "Errors").
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"error": {"code": "invalid_value", "message": "price must be a non-negative number",
                                   "field": "items[2].price"}}))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// The path of the offending field (`batch[3].event`, `steps[2].condition`), or null.
    #[schema(required = true)]
    pub field: Option<String>,
    /// A sentence for people; match on `code`, not on this.
    pub message: String,
}

impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let table: String = ErrorCode::ALL
            .iter()
            .map(|c| format!("\n| `{}` | {} | {} |", c.as_str(), c.status().as_u16(), c.meaning()))
            .collect();
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
            .description(Some(format!(
                "A stable snake_case code.\n\n| code | status | meaning |\n| --- | --- | --- |{table}"
            )))
            .into()
    }
}

impl utoipa::ToSchema for ErrorCode {}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    /// An error with its code's status.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { status: code.status(), code, message: message.into(), field: None }
    }
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
    /// Keeps a status the framework chose (a 422 rejection is still `invalid_request`).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
    /// A 4xx naming the field at fault.
    pub fn field(code: ErrorCode, field: &str, message: impl Into<String>) -> Self {
        Self::new(code, message).with_field(field)
    }
    pub fn missing_field(field: &str, message: impl Into<String>) -> Self {
        Self::field(ErrorCode::MissingField, field, message)
    }
    pub fn invalid_type(field: &str, message: impl Into<String>) -> Self {
        Self::field(ErrorCode::InvalidType, field, message)
    }
    pub fn invalid_value(field: &str, message: impl Into<String>) -> Self {
        Self::field(ErrorCode::InvalidValue, field, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InternalError, message)
    }
    pub fn too_large(limit: usize, field: Option<String>) -> Self {
        ApiError {
            field,
            ..Self::new(ErrorCode::PayloadTooLarge, format!("the payload is larger than {} KB", limit / 1024))
        }
    }
    pub fn invalid_json(e: &serde_json::Error) -> Self {
        Self::new(ErrorCode::InvalidJson, format!("the body is not valid JSON: {e}"))
    }
    /// The error body as JSON text.
    pub fn body(&self) -> String {
        let body = ErrorBody {
            error: ErrorDetail { code: self.code, field: self.field.clone(), message: self.message.clone() },
        };
        serde_json::to_string(&body).unwrap_or_default()
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        // Every code the domain uses is in the table (a test below checks the domain's sources).
        let code = ErrorCode::parse(e.code).unwrap_or_else(|| {
            tracing::warn!(code = e.code, "validation code missing from the error table");
            ErrorCode::InvalidValue
        });
        ApiError { status: code.status(), code, message: e.message, field: e.field }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InvalidCursor(m) => ApiError::field(ErrorCode::InvalidCursor, "cursor", m),
            // The database is away or busy: worth a retry (503 with Retry-After), not a server error.
            StoreError::Unavailable(m) => {
                tracing::warn!(error = %m, "the database is unavailable");
                ApiError::new(ErrorCode::Unavailable, "the database is unavailable; nothing was stored, retry later")
            }
            other => {
                tracing::error!(error = %other, "storage failure");
                ApiError::internal("the server could not complete the request")
            }
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Store(s) => s.into(),
            EngineError::Unavailable => ApiError::new(
                ErrorCode::Unavailable,
                "the server is shutting down or overloaded; nothing was stored, retry later",
            ),
            EngineError::NotFound(m) => ApiError::not_found(m),
            EngineError::Invalid { message, field } => {
                ApiError { field, ..ApiError::new(ErrorCode::InvalidDefinition, message) }
            }
            EngineError::Conflict(m) => ApiError::conflict(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp =
            (self.status, [(axum::http::header::CONTENT_TYPE, "application/json")], self.body()).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::path::Path;

    use super::*;

    #[test]
    fn the_table_is_consistent() {
        let mut seen = HashSet::new();
        for c in ErrorCode::ALL {
            let s = c.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{s} is not snake_case");
            assert_eq!(ErrorCode::parse(s), Some(*c));
            assert!(c.status().is_client_error() || c.status().is_server_error(), "{s}");
            assert!(c.meaning().ends_with('.'), "{s}: the meaning is a sentence");
        }
    }

    #[test]
    fn the_body_has_the_pinned_shape() {
        let e = ApiError::invalid_value("batch[3].event", "event must be a string");
        let v: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": {"code": "invalid_value", "message": "event must be a string",
                                         "field": "batch[3].event"}})
        );
        let v: serde_json::Value = serde_json::from_str(&ApiError::not_found("x").body()).unwrap();
        assert!(v["error"].as_object().unwrap().contains_key("field"));
    }

    /// Rust source files under `dir`, recursively.
    fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push((path.display().to_string(), std::fs::read_to_string(&path).unwrap()));
            }
        }
    }

    /// The first string literal after each occurrence of `call` in `text`.
    fn literal_args<'a>(text: &'a str, call: &str) -> Vec<&'a str> {
        text.match_indices(call)
            .filter_map(|(i, _)| {
                let rest = text[i + call.len()..].trim_start();
                let rest = rest.strip_prefix('"')?;
                rest.split('"').next()
            })
            .collect()
    }

    #[test]
    fn every_code_the_domain_answers_is_in_the_table() {
        let mut files = Vec::new();
        sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../domain/src"), &mut files);
        let mut found = 0;
        for (path, text) in &files {
            for call in ["ValidationError::new(", "ValidationError::without_field("] {
                for code in literal_args(text, call) {
                    assert!(ErrorCode::parse(code).is_some(), "{path}: code {code:?} is not in the error table");
                    found += 1;
                }
            }
        }
        assert!(found > 10, "the scan found {found} codes: did the domain's constructors change?");
    }

    #[test]
    fn no_error_code_is_spelled_outside_the_table() {
        let mut files = Vec::new();
        sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
        for (path, text) in files.iter().filter(|(p, _)| !p.ends_with("/error.rs")) {
            // An error body written by hand, or a constructor given a text code, bypasses the table.
            let patterns = ["\"error\": {", "\"error\":{", "ApiError { status", "ApiError { code", "ApiError { field"];
            for pattern in patterns {
                assert!(!text.contains(pattern), "{path} builds an error by hand ({pattern})");
            }
            for call in ["ApiError::new(", "ApiError::field(", "bad_request("] {
                let literal = literal_args(text, call);
                assert!(literal.is_empty(), "{path}: {call} with a literal code {literal:?}");
            }
        }
    }
}

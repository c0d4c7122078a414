//! Block emails in `/api/v1/templates` (issue 16): a template's `blocks` are checked field by field and its
//! `html` is always their rendering, so a block email can be made through the API alone and what is sent always
//! matches the blocks. Any `html` sent beside `blocks` is replaced (a client may send back what it read); `text`,
//! when sent, is kept as the plain-text version (else it is derived from the html at send time).

use kairos_template::blocks::{BlockError, BlockErrorKind, blocks_html, parse_blocks};
use serde_json::Value;

use crate::error::{ApiError, ErrorCode};

/// Largest html the blocks may render to, in bytes (a template part's limit).
const BLOCKS_HTML_BYTES_MAX: usize = kairos_template::SOURCE_BYTES_MAX;

fn api_error(e: BlockError) -> ApiError {
    let code = match e.kind {
        BlockErrorKind::Missing => ErrorCode::MissingField,
        BlockErrorKind::InvalidType => ErrorCode::InvalidType,
        BlockErrorKind::Invalid => ErrorCode::InvalidValue,
        BlockErrorKind::TooLong => ErrorCode::TooLong,
        BlockErrorKind::UnknownField => ErrorCode::UnknownField,
    };
    ApiError::field(code, &e.field, e.message)
}

/// The checked blocks (as stored) and the html they render to; None when `blocks` is absent or null.
pub(crate) fn checked(v: Option<&Value>) -> Result<Option<(Value, String)>, ApiError> {
    let Some(list) = v.filter(|b| !b.is_null()) else { return Ok(None) };
    let blocks = parse_blocks(list).map_err(api_error)?;
    let html = blocks_html(&blocks);
    if html.len() > BLOCKS_HTML_BYTES_MAX {
        return Err(ApiError::field(
            ErrorCode::TooLong,
            "blocks",
            "these blocks make an email larger than 256 KB: use fewer or shorter blocks",
        ));
    }
    let stored = serde_json::to_value(&blocks).map_err(|e| ApiError::internal(format!("blocks: {e}")))?;
    Ok(Some((stored, html)))
}

/// Refuses blocks where they do not belong: only an email has them, and it has no layout (its header and footer
/// are blocks).
pub(crate) fn check_place(channel: &str, layout: Option<&str>) -> Result<(), ApiError> {
    if channel != "email" {
        return Err(ApiError::invalid_value("blocks", "only an email template has blocks"));
    }
    if layout.is_some() {
        return Err(ApiError::invalid_value("layout", "a block email has no layout: its header and footer are blocks"));
    }
    Ok(())
}

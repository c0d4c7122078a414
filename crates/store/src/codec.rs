//! What every backend does the same way around its SQL: page cursors, and stored JSON in and out.

use kairos_domain::Event;

use crate::{Result, StoreError};

/// A page's cursor as a number (the row key the next page continues before or after).
pub fn cursor_number(cursor: Option<&str>, default: i64) -> Result<i64> {
    match cursor {
        None => Ok(default),
        Some(c) => c.parse().map_err(|_| StoreError::bad_cursor()),
    }
}

/// A `{timestamp}_{sequence}` cursor (time-ordered listings), or `none` for the first page.
pub fn time_cursor(cursor: Option<&str>, none: (i64, i64)) -> Result<(i64, i64)> {
    let Some(c) = cursor else { return Ok(none) };
    let (a, b) = c.split_once('_').ok_or_else(StoreError::bad_cursor)?;
    Ok((a.parse().map_err(|_| StoreError::bad_cursor())?, b.parse().map_err(|_| StoreError::bad_cursor())?))
}

/// Serializes one of our own rows to JSON.
pub fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Serializing our own plain structs cannot fail (no maps with non-string keys).
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// A stored event, or None (reported) for a row that cannot be read back: one damaged row must not make a whole
/// timeline, a recomputation or a group commit fail.
pub fn readable_event(seq: i64, data: &str) -> Option<Event> {
    match serde_json::from_str(data) {
        Ok(e) => Some(e),
        Err(e) => {
            tracing::warn!(event.seq = seq, error = %e, "skipping a stored event that cannot be read");
            None
        }
    }
}

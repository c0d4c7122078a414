//! What every backend does the same way around its SQL: page cursors, and stored JSON in and out.

use kairos_domain::{Contact, ContactId, Event};

use crate::{Page, Result, StoreError, StoredEvent};

/// Merge chains are flattened on write, so one hop suffices; the bound guards against corrupt data.
pub const MERGE_HOPS_MAX: usize = 4;
/// Rows a contact search reads at most (newest first) before checking fields.
pub const SEARCH_ROWS_MAX: i64 = 5_000;

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

/// The rows a page's query asks for: one more than the page, to know whether another page follows.
pub fn page_rows(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1)
}

/// `(seq, contact_id, data, ts)`: an events row as the listings read it.
pub type EventRow = (i64, i64, String, i64);

/// The cursor of a time-ordered listing continuing after (or before) the event at `(ts, seq)`.
pub fn time_cursor_at(ts: i64, seq: i64) -> String {
    format!("{ts}_{seq}")
}

/// Events read back from their rows; unreadable rows are skipped (see [`readable_event`]).
pub fn to_stored(rows: Vec<EventRow>) -> Vec<StoredEvent> {
    rows.into_iter()
        .filter_map(|(seq, contact, data, _)| {
            Some(StoredEvent { seq, contact_id: ContactId(contact), event: readable_event(seq, &data)? })
        })
        .collect()
}

/// A page of events from the rows a listing read ([`page_rows`] of them), its cursor made by `cursor` from the
/// last row kept. The cursor comes from the rows, not the readable events, so a skipped row never ends the
/// listing early.
pub fn event_page(rows: Vec<EventRow>, limit: usize, cursor: fn(&EventRow) -> String) -> Page<StoredEvent> {
    let Page { items, next_cursor } = Page::from_rows(rows, limit, cursor);
    Page { items: to_stored(items), next_cursor }
}

/// What a contact search looks for: the lowercase needle, and a `LIKE` pattern (escape character `!`) over the
/// stored JSON that narrows the rows by the needle's longest word ("ann lindqvist" is not one substring of the
/// stored JSON). The rows found are checked with [`matches_search`].
pub fn search_pattern(q: &str) -> (String, String) {
    let needle = q.trim().to_lowercase();
    let word = needle.split_whitespace().max_by_key(|w| w.len()).unwrap_or("");
    let pattern = format!("%{}%", word.replace('!', "!!").replace('%', "!%").replace('_', "!_"));
    (needle, pattern)
}

/// Whether the contact's email, phone, user id or name contains `needle` (lowercase).
pub fn matches_search(c: &Contact, needle: &str) -> bool {
    let text = |v: Option<&str>| v.is_some_and(|s| s.to_lowercase().contains(needle));
    let trait_text = |k: &str| text(c.traits.get(k).and_then(|v| v.as_str()));
    let full_name = format!(
        "{} {}",
        c.traits.get("first_name").and_then(|v| v.as_str()).unwrap_or(""),
        c.traits.get("last_name").and_then(|v| v.as_str()).unwrap_or("")
    );
    text(c.email.as_ref().map(|e| e.as_str()))
        || text(c.phone.as_ref().map(|p| p.as_str()))
        || text(c.user_id.as_deref())
        || text(Some(&full_name))
        || ["name", "first_name", "last_name"].iter().any(|k| trait_text(k))
}

/// One of our own rows read back from its JSON; `what` names it in the error when it cannot be read.
pub fn from_json<T: serde::de::DeserializeOwned>(what: &str, data: &str) -> Result<T> {
    serde_json::from_str(data).map_err(|e| StoreError::corrupt(what, e))
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

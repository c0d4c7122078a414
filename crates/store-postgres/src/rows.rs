//! Mapping result rows to the stored types, and the SELECT lists they expect (mappers several files share).

use kairos_store::{Result, StoreError};
use postgres::Row;

/// Column `i` read as one of the domain's closed values (a status, a channel): stored as its wire name.
pub(crate) fn wire<T>(r: &Row, i: usize, parse: fn(&str) -> Option<T>) -> Result<T> {
    let s: &str = crate::get(r, i)?;
    parse(s).ok_or_else(|| StoreError::corrupt("row", format!("column {i}: unknown value {s:?}")))
}

/// A `usize` row limit as the `BIGINT` a `LIMIT $n` takes (saturating: a limit past `i64::MAX` is no limit).
pub(crate) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

//! Cell readers: amounts, quantities, times, consent and flags as spreadsheets write them. Each error is the
//! reason of a rejection; the caller names the column.

use kairos_domain::{ConsentStatus, Duration, Timestamp};

use super::{CSV_CELL_CHARS_MAX, Mapping, Rejection};

/// How far ahead of now a time may lie (clock skew between the exporting system and this one).
const FUTURE_SKEW_MAX: Duration = Duration::from_secs(86_400);

/// Every cell of a row within [`CSV_CELL_CHARS_MAX`], and the row as wide as the header.
pub(crate) fn check_row(m: &Mapping, row: &[&str]) -> Result<(), Rejection> {
    if row.len() != m.names.len() {
        return Err(Rejection::new("", format!("the row has {} cells; the header has {}", row.len(), m.names.len())));
    }
    for (i, cell) in row.iter().enumerate() {
        if cell.chars().count() > CSV_CELL_CHARS_MAX {
            return Err(Rejection::new(&m.names[i], format!("longer than {CSV_CELL_CHARS_MAX} characters")));
        }
    }
    Ok(())
}

/// `19.99`, `1,234.50`, `19,99` (a decimal comma), `$19.99`, `EUR 5`: a non-negative amount.
pub(crate) fn amount(cell: &str) -> Result<f64, String> {
    let s: String = cell.trim().chars().filter(|c| !c.is_whitespace() && !"$€£¥".contains(*c)).collect();
    let s = s.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let s = match (s.contains('.'), s.matches(',').count()) {
        (true, _) => s.replace(',', ""),
        (false, 1) if s.rsplit(',').next().is_some_and(|d| d.len() != 3) => s.replace(',', "."),
        (false, _) => s.replace(',', ""),
    };
    let x: f64 = s.parse().map_err(|_| format!("{cell:?} is not an amount"))?;
    if !x.is_finite() {
        return Err(format!("{cell:?} is not an amount"));
    }
    if x < 0.0 {
        return Err(format!("{cell} is negative; amounts are never negative"));
    }
    Ok(x)
}

/// A positive whole quantity.
pub(crate) fn quantity(cell: &str) -> Result<i64, String> {
    let q: f64 = cell.trim().parse().map_err(|_| format!("{cell:?} is not a quantity"))?;
    if !q.is_finite() || q.fract() != 0.0 || q < 1.0 || q > kairos_domain::contact::QUANTITY_MAX as f64 {
        return Err(format!("{cell} is not a whole quantity from 1 to {}", kairos_domain::contact::QUANTITY_MAX));
    }
    Ok(q as i64)
}

/// A whole number (stock can be negative: oversold).
pub(crate) fn integer(cell: &str) -> Result<i64, String> {
    let x: f64 = cell.trim().parse().map_err(|_| format!("{cell:?} is not a whole number"))?;
    if !x.is_finite() || x.fract() != 0.0 || x.abs() > 1e12 {
        return Err(format!("{cell:?} is not a whole number"));
    }
    Ok(x as i64)
}

/// ISO 8601 (`2026-03-01T10:00:00Z`, `2026-03-01`), and Shopify's export format
/// (`2026-03-01 10:00:00 -0500`); not in the future.
pub(crate) fn time(cell: &str, now: Timestamp) -> Result<Timestamp, String> {
    let s = cell.trim();
    let t = Timestamp::parse(s)
        .or_else(|| {
            ["%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M %z", "%Y-%m-%d %H:%M:%S%z"]
                .iter()
                .find_map(|f| jiff::Timestamp::strptime(f, s).ok().map(|t| Timestamp::from_micros(t.as_microsecond())))
        })
        .ok_or_else(|| format!("{s:?} is not a date; write it as 2026-03-01 or 2026-03-01T10:00:00Z"))?;
    if t > now.saturating_add(FUTURE_SKEW_MAX) {
        return Err(format!("{s} is in the future"));
    }
    Ok(t)
}

/// A consent cell: `Some(status)` for an explicit choice, None for "not given" (which changes nothing: it is
/// also what a platform writes for someone never asked, and must not undo a subscription made elsewhere).
pub(crate) fn consent(cell: &str) -> Result<Option<ConsentStatus>, String> {
    match cell.trim().to_lowercase().replace(['-', '_'], " ").as_str() {
        "subscribed" | "subscribe" | "yes" | "y" | "true" | "1" | "opted in" | "opt in" | "optin" | "confirmed" => {
            Ok(Some(ConsentStatus::Subscribed))
        }
        "unsubscribed" | "unsubscribe" | "opted out" | "opt out" | "optout" => Ok(Some(ConsentStatus::Unsubscribed)),
        "" | "no" | "n" | "false" | "0" | "not subscribed" | "never subscribed" | "pending" => Ok(None),
        other => Err(format!("{other:?} is not a consent; write subscribed, unsubscribed, yes or no")),
    }
}

/// A yes/no flag (`In stock?`, `Published`, `available`).
pub(crate) fn flag(cell: &str) -> Result<bool, String> {
    match cell.trim().to_lowercase().as_str() {
        "yes" | "y" | "true" | "1" | "instock" | "in stock" | "active" => Ok(true),
        "no" | "n" | "false" | "0" | "outofstock" | "out of stock" | "draft" | "archived" => Ok(false),
        other => Err(format!("{other:?} is not yes or no")),
    }
}

/// Reads the cell of `field` with `read`; a failure names the column.
pub(crate) fn read<T>(
    m: &Mapping,
    row: &[&str],
    field: &str,
    read: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<T>, Rejection> {
    match m.get(row, field) {
        None => Ok(None),
        Some(cell) => read(cell).map(Some).map_err(|reason| Rejection::new(m.column(field), reason)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_as_spreadsheets_write_them() {
        assert_eq!(amount("19.99"), Ok(19.99));
        assert_eq!(amount("1,234.50"), Ok(1234.5));
        assert_eq!(amount("19,99"), Ok(19.99));
        assert_eq!(amount("1,234"), Ok(1234.0));
        assert_eq!(amount("$ 5"), Ok(5.0));
        assert_eq!(amount("EUR 7.5"), Ok(7.5));
        assert!(amount("-3").unwrap_err().contains("negative"));
        assert!(amount("abc").is_err());
        assert!(amount("NaN").is_err());
    }

    #[test]
    fn times_consent_and_quantities() {
        let now = Timestamp::parse("2026-06-01T00:00:00Z").unwrap();
        assert_eq!(time("2026-03-01", now).unwrap(), Timestamp::parse("2026-03-01T00:00:00Z").unwrap());
        assert_eq!(time("2026-03-01 10:00:00 -0500", now).unwrap(), Timestamp::parse("2026-03-01T15:00:00Z").unwrap());
        assert!(time("03/01/2026", now).unwrap_err().contains("not a date"));
        assert!(time("2027-01-01", now).unwrap_err().contains("future"));
        assert_eq!(consent("Yes"), Ok(Some(ConsentStatus::Subscribed)));
        assert_eq!(consent("opt-out"), Ok(Some(ConsentStatus::Unsubscribed)));
        assert_eq!(consent("no"), Ok(None));
        assert!(consent("maybe").is_err());
        assert_eq!(quantity("2"), Ok(2));
        assert!(quantity("0").is_err());
        assert!(quantity("1.5").is_err());
        assert_eq!(flag("In stock"), Ok(true));
    }
}

//! CSV rows mapped onto what Kairos speaks: contacts (identify calls with traits and consent), orders
//! (`Order Completed` with Segment's e-commerce properties, one line item per row) and catalog products. Pure:
//! the caller reads the file (streaming), groups consecutive rows of one order or product, and stores the result;
//! this module recognises the header and turns cells into validated events and products, or a rejection naming
//! the column and the reason.
//!
//! Headers are recognised case-insensitively with common synonyms and the column names of Shopify's and
//! WooCommerce's own CSV exports (`Accepts Email Marketing`, `Lineitem price`, `Variant Price`, `Regular price`...).
//! Unknown contact columns become traits (snake_case); unknown order and product columns are ignored.

mod cells;
mod contacts;
mod header;
mod orders;
mod products;

pub use contacts::contact_events;
pub use header::{Mapping, Target, map_header};
pub use orders::{OrderLine, order_events, order_line};
pub use products::{ProductLine, product, product_line};

use kairos_domain::Timestamp;

/// Longest cell read, in characters (a longer one rejects its row).
pub const CSV_CELL_CHARS_MAX: usize = 2_048;
/// Most columns a file may have.
pub const CSV_COLUMNS_MAX: usize = 200;
/// Most unknown contact columns kept as traits (the profile keeps at most
/// [`kairos_domain::contact::CONTACT_TRAIT_KEYS_MAX`] keys in all); further ones are ignored.
pub const CSV_TRAIT_COLUMNS_MAX: usize = 100;
/// Longest trait name made from a header, in bytes.
pub const CSV_TRAIT_NAME_BYTES_MAX: usize = 64;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Contacts,
    Orders,
    Products,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "contacts" => Some(Kind::Contacts),
            "orders" => Some(Kind::Orders),
            "products" => Some(Kind::Products),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Contacts => "contacts",
            Kind::Orders => "orders",
            Kind::Products => "products",
        }
    }

    /// Whether consecutive rows with the same key form one record (an order's line items, a product's variants).
    pub fn grouped(self) -> bool {
        self != Kind::Contacts
    }
}

/// Why a row was not imported: the column at fault (its header as written; empty for the row as a whole)
/// and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{column}: {reason}")]
pub struct Rejection {
    pub column: String,
    pub reason: String,
}

impl Rejection {
    pub fn new(column: impl Into<String>, reason: impl Into<String>) -> Rejection {
        Rejection { column: column.into(), reason: reason.into() }
    }
}

/// A header Kairos cannot import from (a required column missing).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HeaderError {
    pub message: String,
}

/// What mapping a row needs besides its cells.
#[derive(Debug, Clone, Copy)]
pub struct RowContext {
    /// The time of rows that carry none (the file's modification time for `kairos import csv`, the upload time
    /// for an upload): a re-import of the same file gives its facts the same time, so a later change (an
    /// unsubscribe) is not undone by it.
    pub as_of: Timestamp,
    /// Now: events are received now; no time may lie further ahead than a day.
    pub now: Timestamp,
}

/// The context the row mappings' unit tests share: rows dated May 2026, read in June.
#[cfg(test)]
pub(crate) fn test_cx() -> RowContext {
    RowContext {
        as_of: Timestamp::parse("2026-05-01T00:00:00Z").expect("a time"),
        now: Timestamp::parse("2026-06-01T00:00:00Z").expect("a time"),
    }
}

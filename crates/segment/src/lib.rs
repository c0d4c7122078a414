//! The segment language (SPEC 5): a JSON expression tree (canonical, stored) and a text language that
//! round-trips to it, plus evaluation against a contact and "when can this change by time alone".
//! No I/O: `now` is always an argument.

pub mod ast;
pub mod columns;
pub mod error;
pub mod eval;
pub mod json;
pub mod lead;
pub mod parse;
pub mod print;
pub mod vector;
pub mod words;

#[cfg(test)]
mod vector_tests;

pub use ast::{Channel, CompareOp, ConsentIs, Expr, FieldPath, Literal, Relative, Window};
pub use error::SegmentError;

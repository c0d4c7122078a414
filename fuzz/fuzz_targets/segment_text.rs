//! The segment text language (SPEC 5): any text parses or gives an error, never a panic; an accepted definition
//! round-trips through its canonical text and JSON forms (the invariant ARCHITECTURE.md states), and printing
//! and dropping it stays within the depth the parser allowed.
#![no_main]

use kairos_segment::{json, parse, print};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(expr) = parse::parse(text) else { return };
    let printed = print::to_text(&expr);
    let reparsed = parse::parse(&printed).unwrap_or_else(|e| panic!("canonical text {printed:?} does not parse: {e}"));
    assert_eq!(reparsed, expr, "text round trip of {printed:?}");
    let as_json = json::to_json(&expr);
    let back = json::from_json(&as_json).unwrap_or_else(|e| panic!("canonical JSON {as_json} does not read: {e}"));
    assert_eq!(back, expr, "JSON round trip of {as_json}");
});

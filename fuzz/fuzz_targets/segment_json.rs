//! The canonical JSON form of segment definitions (also used in flow conditions): any JSON reads or gives an
//! error at a path, never a panic; an accepted definition round-trips through both forms.
#![no_main]

use kairos_segment::{json, parse, print};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let Ok(expr) = json::from_json(&v) else { return };
    let as_json = json::to_json(&expr);
    let back = json::from_json(&as_json).unwrap_or_else(|e| panic!("canonical JSON {as_json} does not read: {e}"));
    assert_eq!(back, expr, "JSON round trip of {as_json}");
    let printed = print::to_text(&expr);
    let reparsed = parse::parse(&printed).unwrap_or_else(|e| panic!("canonical text {printed:?} does not parse: {e}"));
    assert_eq!(reparsed, expr, "text round trip of {printed:?}");
});

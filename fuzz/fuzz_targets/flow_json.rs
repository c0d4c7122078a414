//! Flow definitions (SPEC 6 and 16): any JSON parses into a flow or gives an error at a path, and a parsed flow
//! validates (graph, references) without panicking.
#![no_main]

use kairos_flow::{Catalog, parse_flow, validate};
use libfuzzer_sys::fuzz_target;

/// Knows the templates and segments the library flows use, and a few short names the fuzzer can guess.
struct Known;

impl Catalog for Known {
    fn template_exists(&self, id: &str) -> bool {
        id.len() <= 12
    }
    fn segment_exists(&self, reference: &str) -> bool {
        reference.len() <= 12
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let Ok(flow) = parse_flow(&v) else { return };
    if let Err(e) = validate(&flow, &Known) {
        assert!(!e.field.is_empty(), "an error names its field: {e}");
    }
});

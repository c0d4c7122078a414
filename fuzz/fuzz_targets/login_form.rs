//! The login form (`application/x-www-form-urlencoded`, at most 8 KB): any bytes decode to fields, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let fields = kairos_server::ui::form_fields(data);
    assert!(fields.keys().all(|k| !k.is_empty()));
});

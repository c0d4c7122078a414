//! RFC 3464 delivery status notifications and RFC 5965 (ARF) feedback reports, as posted raw to
//! `/api/v1/bounces`: any bytes give a list of bounces (possibly empty), never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kairos_fuzz::report_caught_panics();
    for b in kairos_channels::parse_dsn(data) {
        // A recipient is an address (or empty for a redacted complaint); a status is an enhanced code's text.
        assert!(b.recipient.is_empty() || b.recipient.contains('@'), "{b:?}");
    }
});

//! What the fuzz targets share.

use std::sync::Once;

/// libfuzzer-sys installs a panic hook that aborts, so even a panic the code under test catches on purpose
/// (`kairos_template` around liquid's parser and renderer, `parse_dsn` around mail-parser) would count as a crash.
/// This hook only reports: a panic that escapes the target is still caught by `fuzz_target!` and aborts.
pub fn report_caught_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| eprintln!("panic (caught by the code under test, or fatal): {info}")));
    });
}

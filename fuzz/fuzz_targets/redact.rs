//! Fuzz target for redaction: any UTF-8 value is handled without panicking,
//! redacting twice is redacting once (a masked value is final), and the
//! output is never longer than needed: each `[REDACTED]` stands for at least
//! one byte of the input, and masks never pile up side by side.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_osquery_server::redact::{MASK, redact};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    let Some(masked) = redact(value) else {
        return;
    };
    assert!(masked.contains(MASK), "changed without a mask: {value:?}");
    assert_eq!(redact(&masked), None, "not idempotent for {value:?}");
    let masks = masked.matches(MASK).count();
    assert!(
        masked.len() <= value.len() + masks * (MASK.len() - 1),
        "longer than needed: {value:?} -> {masked:?}"
    );
    let doubled = [MASK, MASK].concat();
    assert!(
        masked.matches(&doubled).count() <= value.matches(&doubled).count(),
        "masks side by side: {value:?} -> {masked:?}"
    );
});

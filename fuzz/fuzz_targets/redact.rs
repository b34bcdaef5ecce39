//! Fuzz target for result redaction: any UTF-8 value must be handled without
//! panicking, and redaction must be idempotent (a masked value is final).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_osquery_server::redact::redact;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(masked) = redact(value) {
        assert!(masked.contains("[REDACTED]"));
        assert_eq!(redact(&masked), None, "not idempotent for {value:?}");
    }
});

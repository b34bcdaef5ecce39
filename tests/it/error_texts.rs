//! Error texts are redacted like rows: osquery's errors echo values, and the
//! model reads the error as it would a row.

use crate::util::{Server, Standin, error_text};
use serde_json::json;

const SECRET: &str = "hunter2hunter2";

fn failing() -> Standin {
    let error = format!("Error: JSON path error near --password={SECRET}");
    Standin::new(&[("STANDIN_MODE", "fail"), ("STANDIN_ERROR", &error)])
}

#[test]
fn a_secret_echoed_in_an_osquery_error_is_masked() {
    let standin = failing();
    let mut s = Server::with_standin(&standin, &[]);
    for (tool, args) in [
        ("custom_query", json!({"sql": "SELECT pid FROM processes"})),
        ("processes", json!({})),
    ] {
        let text = error_text(&s.call(tool, args));
        assert!(text.contains("JSON path error near --password="), "{text}");
        assert!(
            text.contains("[REDACTED]") && !text.contains(SECRET),
            "{text}"
        );
    }
}

#[test]
fn with_redaction_off_the_error_is_as_osquery_gave_it() {
    let standin = failing();
    let mut s = Server::with_standin(&standin, &[("REDACT", "0")]);
    let text = error_text(&s.call("users", json!({})));
    assert!(text.contains(&format!("--password={SECRET}")), "{text}");
}

//! Error texts that lead somewhere: a failed run says what the model can do
//! next, so a dead end costs one turn, not several.

use crate::osquery::RunError;

const NARROW: &str = "ask for less: narrow the query with WHERE (indexed columns are cheapest, see describe_table) and add a LIMIT";

/// The text of a failed run, with the next step when there is one.
pub fn run_error(e: &RunError) -> String {
    let hint = match e {
        RunError::Timeout(_) => Some(NARROW),
        RunError::Failed(why) if why.contains("SIGXCPU") => Some(NARROW),
        // osqueryi's errors and osqueryd's refusals carry the same SQLite texts.
        RunError::Failed(why) | RunError::Daemon(why) if why.contains("no such table") => {
            Some("use list_tables to see the tables this host's osquery has")
        }
        RunError::Failed(why) | RunError::Daemon(why) if why.contains("no such column") => Some(
            "describe_table lists a table's columns; for a string value use single quotes ('text'): double quotes name a column",
        ),
        RunError::Failed(why) | RunError::Daemon(why) if why.contains("required column") => {
            Some("describe_table names the columns the table's WHERE clause must constrain")
        }
        _ => None,
    };
    match hint {
        Some(h) => format!("{e}; {h}"),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dead_ends_point_somewhere_and_the_rest_keep_their_text() {
        for (e, hint) in [
            (RunError::Timeout(Duration::from_secs(30)), "WHERE"),
            (
                RunError::Failed(
                    "osqueryi was killed by signal 24 (SIGXCPU: CPU-time limit)".into(),
                ),
                "LIMIT",
            ),
            (
                RunError::Failed("no such table: nosuch (exit status 1)".into()),
                "list_tables",
            ),
            (
                RunError::Failed("no such column: curl (exit status 1)".into()),
                "single quotes",
            ),
            (
                RunError::Daemon("osqueryd could not run the query: no such table: nosuch".into()),
                "list_tables",
            ),
        ] {
            let text = run_error(&e);
            assert!(text.starts_with(&e.to_string()), "{text}");
            assert!(text.contains(hint), "{text}");
        }
        let plain = RunError::Failed("osqueryi was killed by signal 11 (SIGSEGV)".into());
        assert_eq!(run_error(&plain), plain.to_string());
    }
}

//! Hybrid's one decision: does a query read an event table? Only a daemon
//! with events enabled has their rows; osqueryi would answer empty.

use crate::guard::lexer::tokenize;
use crate::table_specs::is_event_table;

/// True if any name in `sql` (bare, quoted, or a string where SQLite may read
/// one as a table name) is an event table. A column or alias spelled like one
/// also counts: that only sends a query to the daemon, which answers every
/// query osqueryi does.
pub fn reads_event_table(sql: &str) -> bool {
    let Ok(tokens) = tokenize(sql) else {
        // The guard has tokenized every custom query already; a fixed query
        // always tokenizes. Unreadable SQL stays on the default path.
        return false;
    };
    tokens
        .iter()
        .any(|t| t.name().is_some_and(|name| is_event_table(&name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_tables_are_found_however_they_are_written() {
        for sql in [
            "SELECT * FROM process_events",
            "select pid from PROCESS_EVENTS where time > 0",
            "SELECT * FROM \"socket_events\"",
            "SELECT * FROM main.[file_events]",
            "SELECT p.name FROM processes p JOIN process_events e USING (pid)",
            "WITH e AS (SELECT * FROM 'user_events') SELECT count(*) FROM e",
            "PRAGMA table_info(\"process_events\");",
        ] {
            assert!(reads_event_table(sql), "{sql}");
        }
    }

    #[test]
    fn other_queries_are_not_routed() {
        for sql in [
            "SELECT * FROM processes",
            "SELECT * FROM processes -- process_events",
            "SELECT * FROM processes /* socket_events */",
            "SELECT name FROM osquery_registry WHERE registry = 'table' AND active = 1;",
            "PRAGMA table_info(\"processes\");",
            "SELECT 'unterminated",
        ] {
            assert!(!reads_event_table(sql), "{sql}");
        }
    }
}

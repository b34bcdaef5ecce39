//! The stand-in host `web-01` served by the fake osqueryd: the same canned
//! tables the osqueryi stand-in answers from (`fixtures/tables`,
//! `fixtures/schemas`), plus rows in the event tables, as a daemon with
//! events enabled has them.
//!
//! Like the stand-in it does not evaluate SQL: a query gets the rows of the
//! first table after FROM (the registry only its `table` rows), an unknown
//! table is osquery's status 1, and `getQueryColumns` of `SELECT * FROM t`
//! gets `t`'s columns.

use std::path::PathBuf;

use serde_json::Value;

use crate::fake_daemon::{Answer, Call, Row, canned, rows};

/// What `process_events` holds in this daemon.
pub fn process_events() -> Vec<Row> {
    rows(&[
        &[
            ("pid", "4242"),
            ("path", "/usr/bin/curl"),
            ("cmdline", "curl -s https://example.com/install.sh"),
            ("time", "1700000000"),
        ],
        &[
            ("pid", "4243"),
            ("path", "/bin/sh"),
            ("cmdline", "sh install.sh"),
            ("time", "1700000001"),
        ],
    ])
}

/// The responder: answers like osqueryd on the stand-in's host.
pub fn answer(call: &Call) -> Answer {
    let Some(table) = first_table(&call.sql) else {
        return canned(call);
    };
    match call.method.as_str() {
        "query" if table == "process_events" => Answer::Rows(process_events()),
        "query" => match read(&format!("tables/{table}.rows")) {
            Some(rows) if table == "osquery_registry" => Answer::Rows(
                rows.into_iter()
                    .filter(|r| r.iter().any(|(k, v)| k == "registry" && v == "table"))
                    .collect(),
            ),
            Some(rows) => Answer::Rows(rows),
            None => no_such_table(&table),
        },
        "getQueryColumns" => match read(&format!("schemas/{table}.cols")) {
            Some(cols) => Answer::Rows(
                cols.iter()
                    .map(|c| {
                        let get = |k: &str| {
                            c.iter()
                                .find(|(name, _)| name == k)
                                .map(|(_, v)| v.clone())
                                .unwrap_or_default()
                        };
                        vec![(get("name"), get("type"))]
                    })
                    .collect(),
            ),
            None => no_such_table(&table),
        },
        _ => canned(call),
    }
}

fn no_such_table(table: &str) -> Answer {
    Answer::Status(1, format!("no such table: {table}"))
}

/// The first table name after a FROM, lower case, without quotes (a FROM of
/// a subquery, `FROM (SELECT …`, is passed over for the one inside it).
fn first_table(sql: &str) -> Option<String> {
    let lower = sql.to_ascii_lowercase();
    let mut words = lower
        .split(|c: char| c.is_whitespace() || c == ';' || c == '(' || c == ')')
        .filter(|w| !w.is_empty())
        .peekable();
    while words.find(|w| *w == "from").is_some() {
        if words.peek().is_some_and(|w| *w != "select") {
            let name = words.next()?;
            return Some(
                name.trim_matches(|c| c == '"' || c == '\'' || c == '`')
                    .to_string(),
            );
        }
    }
    None
}

/// A fixture file of one compact JSON object per line, as rows.
fn read(relative: &str) -> Option<Vec<Row>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(relative);
    let text = std::fs::read_to_string(path).ok()?;
    let rows = text
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Map<String, Value>>(line).ok())
        .map(|object| {
            object
                .into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .collect();
    Some(rows)
}

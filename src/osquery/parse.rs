//! Reading what osqueryi printed: its `--json` rows, its glog warnings, and
//! the reason it gives when it fails.

use super::{Row, RunError};

/// Parses osqueryi's `--json` output: a JSON array of objects. Invalid UTF-8
/// (osquery passes it through raw) is decoded lossily rather than failing.
pub fn parse_rows(stdout: &[u8]) -> Result<Vec<Row>, RunError> {
    let text = String::from_utf8_lossy(stdout);
    if text.trim().is_empty() {
        return Err(RunError::Failed("osqueryi printed no output".into()));
    }
    match serde_json::from_str::<Vec<Row>>(&text) {
        Ok(rows) => Ok(rows),
        Err(e) => Err(RunError::Failed(format!(
            "output is not a JSON array of objects ({e})"
        ))),
    }
}

/// True for glog's `W1125 18:53:18.123456 12345 file.cpp:12] msg` lines.
fn is_glog(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 5
        && matches!(b[0], b'I' | b'W' | b'E' | b'F')
        && b[1..5].iter().all(u8::is_ascii_digit)
}

pub(super) fn glog_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| is_glog(l))
        .map(|l| match l.split_once("] ") {
            Some((_, msg)) => msg.to_string(),
            None => l.to_string(),
        })
        .collect()
}

/// The first useful line of stderr: osquery's `Error: …` line if there is one,
/// else a glog error, else any line, else the exit status.
pub(super) fn failure_reason(stderr: &str, code: Option<i32>) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let pick = lines
        .iter()
        .find_map(|l| {
            l.strip_prefix("Error: ")
                .or_else(|| l.strip_prefix("ERROR: "))
        })
        .map(str::to_string)
        .or_else(|| {
            lines
                .iter()
                .find(|l| is_glog(l) && (l.starts_with('E') || l.starts_with('F')))
                .map(|l| glog_lines(l).concat())
        })
        .or_else(|| lines.first().map(|l| l.to_string()));
    let status = code.map_or_else(
        || "unknown status".to_string(),
        |c| format!("exit status {c}"),
    );
    match pick {
        Some(line) => format!("{} ({status})", truncate(&line, 500)),
        None => status,
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

pub(super) fn signal_name(sig: i32) -> &'static str {
    match sig {
        6 => " (SIGABRT)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        15 => " (SIGTERM)",
        24 => " (SIGXCPU: CPU-time limit)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_osquery_json_exactly() {
        let rows = parse_rows(b"[\n  {\"a\":\"1\",\"b\":\"x\"},\n  {\"a\":\"2\",\"b\":\"y\"}\n]\n")
            .expect("valid output");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1]["b"], "y");
        assert!(parse_rows(b"[\n\n]\n").expect("empty").is_empty());
    }

    #[test]
    fn rejects_non_arrays_and_garbage() {
        for bad in [
            &b"this is not json"[..],
            b"{\"a\":1}",
            b"[1,2]",
            b"",
            b"[\n  {\"a\":",
        ] {
            assert!(
                matches!(parse_rows(bad), Err(RunError::Failed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn invalid_utf8_is_decoded_lossily() {
        let rows = parse_rows(b"[\n  {\"a\":\"x\xffy\"}\n]\n").expect("lossy");
        assert_eq!(rows[0]["a"], "x\u{fffd}y");
    }

    #[test]
    fn failure_reason_prefers_the_error_line() {
        let stderr = "W1125 18:53:18.123456 12 virtual_table.cpp:1] Table file was queried\nError: Table file was queried without a required column in the WHERE clause\n";
        assert_eq!(
            failure_reason(stderr, Some(19)),
            "Table file was queried without a required column in the WHERE clause (exit status 19)"
        );
        let stderr = "E1125 18:53:18.123456 12 sqlite_util.cpp:1] Authorizer denied action 24\nError: not authorized\n";
        assert_eq!(
            failure_reason(stderr, Some(23)),
            "not authorized (exit status 23)"
        );
        assert_eq!(failure_reason("", Some(78)), "exit status 78");
        assert_eq!(
            failure_reason("ERROR: unknown command line flag 'x'\n", Some(1)),
            "unknown command line flag 'x' (exit status 1)"
        );
    }

    #[test]
    fn glog_lines_become_warnings() {
        let w = glog_lines(
            "W1125 18:53:18.123456 12 virtual_table.cpp:1] events are disabled\nplain\n",
        );
        assert_eq!(w, vec!["events are disabled".to_string()]);
    }
}

//! Results larger than the text budget (`MAX_TEXT_BYTES`) come in pages of
//! one held snapshot, walked with `cursor`: every row exactly once, without
//! running the query again, within the budget, for every caller that shared
//! the run, in both protocol eras and on the command line.

use crate::util::{Server, Standin, error_text, rows, run};
use serde_json::{Value, json};

/// `n` numbered rows of about 130 bytes each.
fn numbered(n: usize, extra: &[(&str, &str)]) -> Standin {
    let rows = n.to_string();
    let template = format!(r##"{{"n":"#","pad":"{}"}}"##, "x".repeat(110));
    let mut vars = vec![
        ("STANDIN_MODE", "rows"),
        ("STANDIN_ROWS", rows.as_str()),
        ("STANDIN_ROW", template.as_str()),
    ];
    vars.extend_from_slice(extra);
    Standin::new(&vars)
}

/// `n` numbered rows, a server with the smallest budget and bytes held.
fn little_held(n: usize) -> (Standin, Server) {
    let standin = numbered(n, &[]);
    let vars = [("MAX_TEXT_BYTES", "4096"), ("MAX_HELD_BYTES", "65536")];
    let s = Server::with_standin(&standin, &vars);
    (standin, s)
}

fn sql(n: usize) -> Value {
    json!({"sql": format!("SELECT * FROM users WHERE uid >= {n}")})
}

/// The text a model reads from a result: every text item.
fn text_bytes(result: &Value) -> usize {
    result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .map(str::len)
        .sum()
}

fn next_cursor(result: &Value) -> Option<String> {
    result["structuredContent"]["next_cursor"]
        .as_str()
        .map(str::to_string)
}

/// The row numbers of one page, checking what every page promises.
fn page_rows(result: &Value, budget: usize) -> Vec<u64> {
    let rows = rows(result);
    assert!(
        text_bytes(result) <= budget,
        "{} bytes of text",
        text_bytes(result)
    );
    assert_eq!(result["structuredContent"]["row_count"], rows.len());
    rows.iter()
        .map(|r| {
            r["n"]
                .as_str()
                .and_then(|n| n.parse().ok())
                .expect("a numbered row")
        })
        .collect()
}

/// Walks a result from the page `first` is to its last page with `call`.
fn walk(first: Value, budget: usize, mut call: impl FnMut(&str) -> Value) -> Vec<u64> {
    let mut seen = page_rows(&first, budget);
    let mut result = first;
    let mut page = result["structuredContent"]["page"].as_u64().unwrap_or(1);
    while let Some(cursor) = next_cursor(&result) {
        let note = result["content"][1]["text"].as_str().unwrap_or_default();
        assert!(
            note.contains(&format!("{{\"cursor\": \"{cursor}\"}}"))
                && note.contains("more rows remain"),
            "{note}"
        );
        result = call(&cursor);
        page += 1;
        assert_eq!(result["structuredContent"]["page"], page);
        seen.extend(page_rows(&result, budget));
    }
    let last = result["content"][1]["text"].as_str().unwrap_or_default();
    assert!(last.contains("the last of this result"), "{last}");
    seen
}

#[test]
fn three_megabytes_are_walked_page_by_page_each_row_once_within_the_budget() {
    let standin = numbered(25_000, &[]);
    let budget = 65_536;
    let mut s = Server::with_standin(&standin, &[("MAX_TEXT_BYTES", "65536")]);
    s.initialize();
    let first = s.call("custom_query", sql(0));
    assert_eq!(first["structuredContent"]["total_rows"], 25_000);
    assert_eq!(first["structuredContent"]["page"], 1);
    assert!(first["structuredContent"]["sql"].is_string());
    let seen = walk(first, budget, |c| {
        s.call("custom_query", json!({"cursor": c}))
    });
    assert_eq!(
        seen,
        (1..=25_000).collect::<Vec<u64>>(),
        "every row once, in order"
    );
    assert_eq!(
        standin.runs("FROM users"),
        1,
        "pages never run the query again"
    );
    let metrics = s.read_resource("osquery://server/metrics");
    assert_eq!(metrics["paging"]["held"], 1, "{metrics}");
    assert!(
        metrics["paging"]["pages_served"].as_u64() > Some(40),
        "{metrics}"
    );
    assert_eq!(
        metrics["tool_calls"]["by_tool"]["custom_query"],
        metrics["paging"]["pages_served"].as_u64().unwrap_or(0) + 1
    );
}

#[test]
fn results_within_the_budget_are_answered_whole() {
    let standin = numbered(30, &[]);
    let mut s = Server::with_standin(&standin, &[]);
    let r = s.call("custom_query", sql(0));
    assert_eq!(rows(&r).len(), 30);
    for k in ["next_cursor", "page", "total_rows"] {
        assert!(r["structuredContent"].get(k).is_none(), "{k}: {r}");
    }
}

#[test]
fn unknown_foreign_and_malformed_cursors_are_refused_clearly() {
    let standin = numbered(500, &[]);
    let mut s = Server::with_standin(&standin, &[("MAX_TEXT_BYTES", "4096")]);
    for bad in ["nope", "0123456789abcdef2", "0123456789abcdef1", ""] {
        let r = s.call("custom_query", json!({"cursor": bad, "sql": "SELECT 1"}));
        if bad.is_empty() {
            // An empty cursor is no cursor: the query runs.
            assert!(!rows(&r).is_empty());
            continue;
        }
        let e = error_text(&r);
        assert!(
            e.contains("unknown or has expired")
                && e.contains("call custom_query again without a cursor"),
            "{e}"
        );
    }
    let first = s.call("custom_query", sql(0));
    let cursor = next_cursor(&first).expect("paged");
    let e = error_text(&s.call("processes", json!({"cursor": cursor})));
    assert!(
        e.contains("belongs to a result of custom_query, not processes"),
        "{e}"
    );
    let e = error_text(&s.call("processes", json!({"cursor": 7})));
    assert!(e.contains("cursor must be a string"), "{e}");
    // The refusals took nothing away: the cursor still works.
    let second = s.call("custom_query", json!({"cursor": cursor}));
    assert_eq!(second["structuredContent"]["page"], 2);
}

#[test]
fn the_least_recently_used_results_are_dropped_past_the_bytes_held() {
    // About 20 KB each: three fit in the 64 KiB held, a fourth drops the first.
    let (_standin, mut s) = little_held(150);
    let cursors: Vec<String> = (0..4)
        .map(|i| next_cursor(&s.call("custom_query", sql(i))).expect("paged"))
        .collect();
    let e = error_text(&s.call("custom_query", json!({"cursor": cursors[0]})));
    assert!(
        e.contains("unknown or has expired") && e.contains("again"),
        "{e}"
    );
    let page = s.call("custom_query", json!({"cursor": cursors[3]}));
    assert_eq!(page["structuredContent"]["page"], 2, "{page}");
    let metrics = s.read_resource("osquery://server/metrics");
    assert!(
        metrics["paging"]["dropped"].as_u64() >= Some(1),
        "{metrics}"
    );
    assert!(
        metrics["paging"]["held_bytes"].as_u64() <= Some(65536),
        "{metrics}"
    );
}

#[test]
fn a_result_larger_than_all_that_may_be_held_says_how_to_narrow_it() {
    let (_standin, mut s) = little_held(2000);
    let r = s.call("custom_query", sql(0));
    assert!(next_cursor(&r).is_none(), "{r}");
    assert!(text_bytes(&r) <= 4096);
    let note = r["content"][1]["text"].as_str().unwrap_or_default();
    assert!(
        note.contains("MAX_HELD_BYTES")
            && note.contains("WHERE or LIMIT")
            && note.contains("of 2000"),
        "{note}"
    );
    assert_eq!(r["structuredContent"]["total_rows"], 2000);
}

#[test]
fn callers_that_shared_a_run_share_its_snapshot_and_may_all_walk_it() {
    let standin = numbered(400, &[("STANDIN_DELAY", "1")]);
    let mut s = Server::with_standin(&standin, &[("MAX_TEXT_BYTES", "8192")]);
    s.initialize();
    for id in 1..=3 {
        s.send_call(json!(id), "custom_query", sql(0));
    }
    let firsts: Vec<Value> = (1..=3)
        .map(|id| s.wait_for(&json!(id))["result"].clone())
        .collect();
    assert_eq!(standin.runs("FROM users"), 1, "{}", standin.log());
    let cursor = next_cursor(&firsts[0]).expect("paged");
    assert!(
        firsts
            .iter()
            .all(|r| next_cursor(r).as_deref() == Some(cursor.as_str()))
    );
    let mut walks = Vec::new();
    for first in firsts {
        walks.push(walk(first, 8192, |c| {
            s.call("custom_query", json!({"cursor": c}))
        }));
    }
    assert_eq!(walks[0], (1..=400).collect::<Vec<u64>>());
    assert!(walks.iter().all(|w| *w == walks[0]));
    assert_eq!(standin.runs("FROM users"), 1);
}

#[test]
fn pages_follow_the_era_of_each_request() {
    let standin = numbered(300, &[]);
    let mut s = Server::with_standin(&standin, &[("MAX_TEXT_BYTES", "8192")]);
    let envelope = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "tests", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    let modern = |s: &mut Server, args: Value| -> Value {
        let r = s.request(
            "tools/call",
            json!({"name": "custom_query", "arguments": args, "_meta": envelope.clone()}),
        );
        let result = r["result"].clone();
        assert_eq!(result["resultType"], "complete", "{result}");
        result
    };
    let first = modern(&mut s, sql(0));
    let mut seen = page_rows(&first, 8192);
    let cursor = next_cursor(&first).expect("paged");
    let second = modern(&mut s, json!({"cursor": cursor}));
    // The same snapshot may be walked on in the classic era.
    seen.extend(walk(second, 8192, |c| {
        let r = s.call("custom_query", json!({"cursor": c}));
        assert!(r.get("resultType").is_none());
        r
    }));
    assert_eq!(seen, (1..=300).collect::<Vec<u64>>());
}

#[test]
fn pages_do_not_count_against_the_rate_limit() {
    let standin = numbered(300, &[]);
    let mut s = Server::with_standin(&standin, &[("MAX_TEXT_BYTES", "8192"), ("RATE_LIMIT", "1")]);
    let first = s.call("custom_query", sql(0));
    let seen = walk(first, 8192, |c| {
        s.call("custom_query", json!({"cursor": c}))
    });
    assert_eq!(seen.len(), 300);
    let e = error_text(&s.call("custom_query", sql(1)));
    assert!(e.contains("rate limit"), "{e}");
}

#[test]
fn call_prints_the_first_page_or_with_all_every_row() {
    let standin = numbered(300, &[]);
    let path = standin.path.display().to_string();
    let env = [("OSQUERY_PATH", path.as_str()), ("MAX_TEXT_BYTES", "8192")];
    let args = r#"{"sql":"SELECT * FROM users"}"#;
    let first = run(&["call", "custom_query", args], &env);
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let printed: Vec<Value> = serde_json::from_str(&first.stdout).expect("a JSON array");
    assert!(
        !printed.is_empty() && printed.len() < 300,
        "{}",
        printed.len()
    );
    assert!(
        first
            .stderr
            .contains(&format!("showing rows 1-{} of 300", printed.len()))
            && first.stderr.contains("--all"),
        "{}",
        first.stderr
    );
    let all = run(&["call", "custom_query", args, "--all"], &env);
    assert_eq!(all.code, Some(0), "{}", all.stderr);
    let printed: Vec<Value> = serde_json::from_str(&all.stdout).expect("a JSON array");
    let numbers: Vec<String> = printed
        .iter()
        .map(|r| r["n"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        numbers,
        (1..=300).map(|n| n.to_string()).collect::<Vec<_>>()
    );
    assert!(!all.stderr.contains("--all"), "{}", all.stderr);
    let table = run(&["call", "custom_query", args, "--all", "--table"], &env);
    assert_eq!(
        table.stdout.lines().count(),
        302,
        "a header, a rule and every row"
    );
    let cursor = run(
        &["call", "custom_query", r#"{"cursor":"0123456789abcdef2"}"#],
        &env,
    );
    assert_eq!(cursor.code, Some(1));
    assert!(cursor.stderr.contains("--all"), "{}", cursor.stderr);
}

#[test]
fn every_page_is_masked_like_a_whole_answer() {
    let template = r##"{"cmd":"app --password=hunter2-#","n":"#"}"##;
    let standin = Standin::new(&[
        ("STANDIN_MODE", "rows"),
        ("STANDIN_ROWS", "400"),
        ("STANDIN_ROW", template),
    ]);
    let mut s = Server::with_standin(&standin, &[("MAX_TEXT_BYTES", "4096")]);
    let mut result = s.call("custom_query", sql(0));
    let mut pages = 1;
    while let Some(cursor) = next_cursor(&result) {
        assert!(!result.to_string().contains("hunter2"), "{result}");
        result = s.call("custom_query", json!({"cursor": cursor}));
        pages += 1;
    }
    let last = rows(&result);
    assert!(
        last.iter().all(|r| r["cmd"] == "app --password=[REDACTED]"),
        "{last:?}"
    );
    assert!(pages > 5, "{pages}");
}

//! Allow-list mode: osqueryi gets `--enable_tables` with the allowed tables
//! and those the fixed tools read, so it refuses every other table itself;
//! the fixed tools keep working against a stand-in that obeys the flag.

use crate::util::{Server, TempDir, error_text, rows, set_executable, standin_path};
use serde_json::json;

/// A stand-in that first records its arguments, one line per run.
fn recording(dir: &TempDir) -> String {
    let script = dir.path("osqueryi");
    let log = dir.path("args").display().to_string();
    let body = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$*\" >>'{log}'\nexec '{}' \"$@\"\n",
        standin_path().display()
    );
    std::fs::write(&script, body).expect("write the wrapper");
    set_executable(&script);
    script.display().to_string()
}

fn runs(dir: &TempDir) -> Vec<String> {
    let text = std::fs::read_to_string(dir.path("args")).unwrap_or_default();
    text.lines()
        .filter(|l| l.contains(" -- "))
        .map(str::to_string)
        .collect()
}

#[test]
fn osqueryi_enables_only_the_allowed_tables_and_the_fixed_tools_ones() {
    let dir = TempDir::new("allow");
    let path = recording(&dir);
    let mut s = Server::with_env(&[
        ("OSQUERY_PATH", &path),
        ("OSQUERY_ALLOW_TABLES", "listening_ports,Processes"),
    ]);
    // Every fixed tool, as the server lists them.
    let list = s.request("tools/list", json!({}));
    let tools = list["result"]["tools"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let fixed: Vec<&str> = tools
        .iter()
        .filter_map(|t| t["name"].as_str())
        .filter(|t| !["list_tables", "describe_table", "custom_query"].contains(t))
        .collect();
    assert!(fixed.len() >= 9, "{list}");
    for tool in fixed {
        assert!(!rows(&s.call(tool, json!({}))).is_empty(), "{tool}");
    }
    let listed = rows(&s.call("list_tables", json!({})));
    assert_eq!(
        listed,
        [
            json!({"name": "listening_ports"}),
            json!({"name": "processes"})
        ]
    );
    assert!(!rows(&s.call("describe_table", json!({"table": "listening_ports"}))).is_empty());
    let sql = "SELECT l.port, p.name FROM listening_ports l JOIN processes p ON p.pid = l.pid";
    assert!(!rows(&s.call("custom_query", json!({"sql": sql}))).is_empty());
    // The guard, the first wall, still refuses what is not allowed.
    let refused = error_text(&s.call("custom_query", json!({"sql": "SELECT * FROM users"})));
    assert!(refused.contains("not-allowed-table"), "{refused}");
    let runs = runs(&dir);
    assert!(runs.len() >= 12, "{runs:?}");
    for run in &runs {
        let enabled = run
            .split(' ')
            .find_map(|a| a.strip_prefix("--enable_tables="))
            .unwrap_or_else(|| panic!("no --enable_tables: {run}"));
        let names: Vec<&str> = enabled.split(',').collect();
        for name in [
            "listening_ports",
            "processes",
            "users",
            "osquery_registry",
            "deb_packages",
        ] {
            assert!(names.contains(&name), "{name} not enabled: {run}");
        }
        assert!(
            !names.contains(&"shadow") && !names.contains(&"groups"),
            "{run}"
        );
        assert!(
            run.contains("--disable_tables="),
            "the deny list still goes: {run}"
        );
    }
}

#[test]
fn without_an_allow_list_no_table_is_singled_out() {
    let dir = TempDir::new("no-allow");
    let path = recording(&dir);
    let mut s = Server::with_env(&[("OSQUERY_PATH", &path)]);
    assert!(!rows(&s.call("users", json!({}))).is_empty());
    let runs = runs(&dir);
    assert!(
        !runs.is_empty() && runs.iter().all(|r| !r.contains("--enable_tables")),
        "{runs:?}"
    );
}

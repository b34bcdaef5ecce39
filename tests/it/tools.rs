//! Every tool against the stand-in, and every validation rule, as a client
//! meets them.

use crate::util::{Server, Standin, error_text, rows};
use serde_json::{Value, json};

fn schema_of(s: &mut Server, tool: &str) -> Value {
    let list = s.request("tools/list", json!({}));
    list["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .find(|t| t["name"] == tool)
        .cloned()
        .expect("tool listed")
}

/// Checks a row against the tool's declared outputSchema (the subset of JSON
/// Schema we use: required string properties).
fn assert_matches_schema(schema: &Value, row: &Value) {
    let items = &schema["outputSchema"]["properties"]["rows"]["items"];
    for req in items["required"].as_array().into_iter().flatten() {
        let key = req.as_str().expect("name");
        assert!(
            row.get(key).is_some_and(Value::is_string),
            "{} lacks {key}: {row}",
            schema["name"]
        );
    }
    if let Some(props) = items["properties"].as_object() {
        for (k, v) in row.as_object().expect("row object") {
            assert!(v.is_string(), "{k} is not a string");
            assert!(
                props.contains_key(k),
                "{}: undeclared field {k}",
                schema["name"]
            );
        }
    }
}

#[test]
fn every_fixed_tool_answers_with_rows_matching_its_schema() {
    let mut s = Server::start();
    s.initialize();
    for (tool, args, min_rows) in [
        ("system_info", json!({}), 1),
        ("processes", json!({}), 10),
        ("users", json!({}), 10),
        ("network_interfaces", json!({}), 2),
        ("network_connections", json!({}), 10),
        ("open_files", json!({}), 50),
        ("disk_usage", json!({}), 5),
        ("installed_packages", json!({}), 100),
        ("running_services", json!({}), 10),
        ("list_tables", json!({}), 100),
        ("describe_table", json!({"table": "processes"}), 10),
        (
            "custom_query",
            json!({"sql": "SELECT pid, name FROM processes LIMIT 3"}),
            1,
        ),
    ] {
        let schema = schema_of(&mut s, tool);
        let result = s.call(tool, args);
        let rows = rows(&result);
        assert!(rows.len() >= min_rows, "{tool}: {} rows", rows.len());
        for row in &rows {
            assert_matches_schema(&schema, row);
        }
        let sc = &result["structuredContent"];
        assert_eq!(sc["row_count"], rows.len(), "{tool}");
        assert!(sc["truncated"].is_boolean() && sc["elapsed_ms"].is_u64());
    }
}

#[test]
fn system_info_is_one_row_with_the_documented_fields() {
    let mut s = Server::start();
    let r = rows(&s.call("system_info", json!({})));
    assert_eq!(r.len(), 1);
    for f in [
        "hostname",
        "computer_name",
        "cpu_brand",
        "cpu_logical_cores",
        "cpu_physical_cores",
        "physical_memory",
        "hardware_model",
        "uuid",
    ] {
        assert!(r[0][f].is_string(), "{f}");
    }
    assert_eq!(r[0]["hostname"], "web-01");
}

#[test]
fn processes_are_limited_and_ordered_by_memory() {
    let mut s = Server::start();
    for (args, n) in [
        (json!({}), 10),
        (json!({"limit": 3}), 3),
        (json!({"limit": "5"}), 5),
        (json!({"limit": 7.0}), 7),
        (json!({"limit": 1}), 1),
    ] {
        let result = s.call("processes", args.clone());
        let r = rows(&result);
        assert_eq!(r.len(), n, "{args}");
        assert_eq!(
            result["structuredContent"]["truncated"], true,
            "more processes exist than {n}"
        );
        let sizes: Vec<u64> = r
            .iter()
            .map(|p| {
                p["resident_size"]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .expect("size")
            })
            .collect();
        assert!(
            sizes.windows(2).all(|w| w[0] >= w[1]),
            "not ordered: {sizes:?}"
        );
        assert!(r[0]["resident_mib"].is_string());
        let note = result["content"][1]["text"].as_str().unwrap_or_default();
        assert!(note.contains("raise `limit`"), "{note}");
    }
    let all = rows(&s.call("processes", json!({"limit": 1000})));
    assert!(all.len() > 30 && all.len() < 1000);
}

#[test]
fn network_connections_name_protocol_and_family() {
    let mut s = Server::start();
    let r = rows(&s.call("network_connections", json!({"limit": 50})));
    assert!(r.len() > 10);
    for c in &r {
        let name = c["protocol_name"].as_str().expect("protocol_name");
        match c["protocol"].as_str() {
            Some("6") => assert_eq!(name, "tcp"),
            Some("17") => assert_eq!(name, "udp"),
            Some("255") => assert_eq!(name, "raw"),
            other => panic!("unexpected protocol {other:?}"),
        }
        assert!(
            matches!(c["family_name"].as_str(), Some("ipv4" | "ipv6")),
            "{c}"
        );
    }
    assert_eq!(
        rows(&s.call("network_connections", json!({"limit": 2}))).len(),
        2
    );
}

#[test]
fn open_files_filter_by_pid() {
    let mut s = Server::start();
    let all = rows(&s.call("open_files", json!({})));
    let pid = all[0]["pid"].as_str().expect("pid").to_string();
    let one = rows(&s.call(
        "open_files",
        json!({"pid": pid.parse::<u64>().expect("numeric pid")}),
    ));
    assert!(!one.is_empty() && one.len() < all.len());
    assert!(one.iter().all(|f| f["pid"] == pid.as_str()));
    assert!(rows(&s.call("open_files", json!({"pid": 999_999}))).is_empty());
}

#[test]
fn disk_usage_computes_bytes_and_percent() {
    let mut s = Server::start();
    let r = rows(&s.call("disk_usage", json!({})));
    let root = r.iter().find(|m| m["path"] == "/").expect("root mount");
    let n = |k: &str| {
        root[k]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{k}: {root}"))
    };
    assert_eq!(n("total_bytes"), n("blocks") * n("blocks_size"));
    assert!(n("used_percent") > 0.0 && n("used_percent") <= 100.0);
}

#[test]
fn packages_say_where_they_came_from_and_services_are_running() {
    let mut s = Server::start();
    let pkgs = rows(&s.call("installed_packages", json!({"limit": 1000})));
    assert!(pkgs.len() > 100);
    assert!(
        pkgs.iter()
            .all(|p| p["source"] == "deb" && p["version"].as_str().is_some_and(|v| !v.is_empty()))
    );
    let svcs = rows(&s.call("running_services", json!({})));
    assert!(
        svcs.iter()
            .all(|u| u["state"] == "active" && u["sub_state"] == "running")
    );
    assert!(svcs.iter().any(|u| u["name"] == "ssh.service"));
}

/// What a refusal's text must be.
#[derive(Clone, Copy)]
enum Says {
    Exactly(&'static str),
    Contains(&'static str),
}

/// Arguments a tool refuses: the tool, its arguments, and what the error says.
fn refusals() -> Vec<(&'static str, Value, Says)> {
    use Says::{Contains, Exactly};
    let long = json!("a".repeat(65));
    // Bad values for one argument: the tools taking it, its name, the values.
    let families = [
        (
            &["processes", "network_connections"][..],
            "limit",
            vec![
                json!(0),
                json!(1001),
                json!(-5),
                json!(2.5),
                json!(true),
                json!("ten"),
                json!([10]),
                json!({"n": 1}),
                json!(""),
            ],
            Exactly("Error: limit must be an integer between 1 and 1000"),
        ),
        (
            &["open_files"],
            "pid",
            vec![json!(0), json!(-1), json!(1.5), json!("abc"), json!(false)],
            Exactly("Error: pid must be an integer between 1 and 2147483647"),
        ),
        (
            &["list_tables"],
            "pattern",
            vec![
                json!("a;b"),
                json!("x' OR 1=1 --"),
                json!("%"),
                long.clone(),
                json!(5),
                json!(["docker"]),
            ],
            Contains("pattern must be"),
        ),
        (
            &["describe_table"],
            "table",
            vec![
                json!("processes; SELECT 1"),
                json!("users)"),
                json!("1abc"),
                json!("\"users\""),
                json!(""),
                long,
                json!(7),
            ],
            Contains("table must be an osquery table name"),
        ),
        (
            &["describe_table"],
            "table",
            vec![json!("shadow"), json!("Process_Envs"), json!("curl")],
            Contains("is not available"),
        ),
    ];
    let mut cases = Vec::new();
    for (tools, key, values, says) in families {
        for tool in tools {
            for value in &values {
                cases.push((*tool, json!({ key: value }), says));
            }
        }
    }
    let long_sql = format!("SELECT '{}'", "x".repeat(10_000));
    cases.extend([
        ("describe_table", json!({}), Contains("table is required")),
        ("custom_query", json!({}), Contains("sql is required")),
        (
            "custom_query",
            json!({"sql": 5}),
            Contains("sql must be a string"),
        ),
        ("custom_query", json!({"sql": "   "}), Contains("empty")),
        (
            "custom_query",
            json!({ "sql": long_sql }),
            Contains("10000"),
        ),
        (
            "no_such_tool",
            json!({}),
            Exactly(
                "Error: Unknown tool: no_such_tool; tools are system_info, processes, users, network_interfaces, network_connections, open_files, disk_usage, installed_packages, running_services, list_tables, describe_table, custom_query",
            ),
        ),
        (
            "processes",
            json!({"lmit": 3}),
            Exactly("Error: unknown argument \"lmit\"; processes takes: limit"),
        ),
        (
            "users",
            json!({"_meta": {}}),
            Exactly("Error: unknown argument \"_meta\"; users takes no arguments"),
        ),
        (
            "installed_packages",
            json!({"name": "ssl", "lim": 1, "all": true}),
            Exactly(
                "Error: unknown arguments \"all\", \"lim\"; installed_packages takes: limit, name",
            ),
        ),
        (
            "disk_usage",
            json!({"all": "yes"}),
            Exactly("Error: all must be true or false"),
        ),
        (
            "processes",
            json!([1]),
            Contains("arguments must be an object"),
        ),
    ]);
    cases
}

#[test]
fn bad_arguments_are_refused_with_their_rule_before_osqueryi() {
    let standin = Standin::new(&[]);
    let mut s = Server::with_standin(&standin, &[]);
    for (tool, args, says) in refusals() {
        let e = error_text(&s.call(tool, args.clone()));
        match says {
            Says::Exactly(text) => assert_eq!(e, text, "{tool} {args}"),
            Says::Contains(part) => assert!(e.contains(part), "{tool} {args}: {e}"),
        }
        assert_eq!(standin.log(), "", "{tool} {args} reached osqueryi");
    }
}

#[test]
fn rejected_calls_never_reach_osqueryi() {
    let standin = Standin::new(&[]);
    let mut s = Server::with_standin(&standin, &[]);
    assert!(rows(&s.call("users", json!({}))).len() > 1);
    error_text(&s.call("users", json!({"unexpected": true})));
    error_text(&s.call("processes", json!({"limit": 0})));
    error_text(&s.call("custom_query", json!({"sql": "DELETE FROM processes"})));
    let log = standin.log();
    assert_eq!(log.lines().count(), 1, "only the users query ran: {log}");
    assert!(log.contains("FROM users"));
}

#[test]
fn custom_query_runs_the_sql_given_and_reports_it() {
    let mut s = Server::start();
    let sql = "select pid, name from processes limit 4";
    let result = s.call("custom_query", json!({"sql": sql}));
    let r = rows(&result);
    assert_eq!(r.len(), 4);
    assert_eq!(result["structuredContent"]["sql"], sql);
}

#[test]
fn osquery_errors_are_tool_errors_with_osquerys_message() {
    let mut s = Server::start();
    let e = error_text(&s.call("custom_query", json!({"sql": "SELECT * FROM nosuchtable;"})));
    assert_eq!(
        e,
        "Error: osqueryi execution failed: no such table: nosuchtable (exit status 1); use list_tables to see the tables this host's osquery has"
    );
    let e = error_text(&s.call(
        "custom_query",
        json!({"sql": "SELECT nosuchcol FROM processes;"}),
    ));
    assert!(e.contains("no such column: nosuchcol"), "{e}");
    let e = error_text(&s.call("custom_query", json!({"sql": "SELECT * FROM file;"})));
    assert!(
        e.contains("required column") && e.contains("exit status 19"),
        "{e}"
    );
}

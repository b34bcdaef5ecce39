//! What an operator meets: a deny list that only grows unless a table is
//! re-opened by name (loudly), a flag for every setting (for sudo hosts
//! where no environment passes), a word for a person at a terminal, a
//! health report that starts with its verdict, and REDACT's spellings.

use std::process::{Command, Stdio};

use serde_json::{Value, json};
use wait_timeout::ChildExt;

use crate::util::{DEADLINE, Server, Standin, error_text, run, run_bare, standin_path};

fn standin() -> String {
    standin_path().display().to_string()
}

const SHADOW: &str = r#"{"sql":"SELECT * FROM shadow"}"#;
const PROCESSES: &str = r#"{"sql":"SELECT pid FROM processes LIMIT 1"}"#;

#[test]
fn an_added_table_is_denied_and_the_built_in_list_stays() {
    let wrapper = Standin::new(&[]);
    let path = wrapper.path.display().to_string();
    for sql in [SHADOW, PROCESSES] {
        let ran = run(
            &["call", "custom_query", sql],
            &[
                ("OSQUERY_DENY_TABLES", "processes"),
                ("OSQUERY_PATH", &path),
            ],
        );
        assert_eq!(ran.code, Some(1), "{sql}: {}", ran.stdout);
        assert!(
            ran.stderr.contains("'denied-table'"),
            "{sql}: {}",
            ran.stderr
        );
    }
    assert_eq!(wrapper.log(), "", "a denied query reached osqueryi");
    // The flag adds the same way; a table comes with its aliases (osquery's
    // views of it) and an alias with its table.
    for (added, sql) in [
        ("etc_hosts", "SELECT * FROM hosts"),
        ("hosts", "SELECT * FROM etc_hosts"),
    ] {
        let query = json!({ "sql": sql }).to_string();
        let flag = format!("--deny-tables={added}");
        let ran = run(
            &["call", "custom_query", &query, &flag],
            &[("OSQUERY_PATH", &path)],
        );
        assert!(
            ran.stderr.contains("'denied-table'"),
            "{added}: {}",
            ran.stderr
        );
        run(
            &["call", "custom_query", &query],
            &[("OSQUERY_PATH", &path)],
        );
    }
    assert_eq!(wrapper.runs("FROM hosts"), 1, "{}", wrapper.log());
    assert_eq!(wrapper.runs("FROM etc_hosts"), 1, "{}", wrapper.log());
}

#[test]
fn re_opening_takes_a_minus_per_table_and_is_warned_about() {
    let wrapper = Standin::new(&[]);
    let path = wrapper.path.display().to_string();
    let ran = run(
        &["call", "custom_query", SHADOW],
        &[
            ("OSQUERY_DENY_TABLES", "-shadow,-Configurations"),
            ("OSQUERY_PATH", &path),
        ],
    );
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert!(wrapper.log().contains("FROM shadow"));
    let warning = ran
        .stderr
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("log lines are JSON"))
        .find(|v| v["level"] == "WARN")
        .unwrap_or_else(|| panic!("no warning: {}", ran.stderr));
    let msg = warning["message"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("OSQUERY_DENY_TABLES re-opens 2 built-in denied table(s)")
            && msg.contains("augeas/configurations (parses any configuration file")
            && msg.contains("shadow (password hashes)"),
        "{msg}"
    );
    // Still denied: everything not named.
    let ran = run(
        &[
            "call",
            "custom_query",
            r#"{"sql":"SELECT * FROM shell_history"}"#,
        ],
        &[("OSQUERY_DENY_TABLES", "-shadow")],
    );
    assert!(ran.stderr.contains("'denied-table'"), "{}", ran.stderr);

    // Serving, the warning is among the first lines; --health lists it.
    let mut s = Server::with_env(&[("OSQUERY_DENY_TABLES", "-shadow")]);
    s.initialize();
    crate::util::eventually("the start-up warning", || {
        s.stderr_lines()
            .iter()
            .any(|l| l.contains("\"WARN\"") && l.contains("re-opens 1 built-in denied table(s)"))
    });
    let report = health(&["--deny-tables", "-shadow"], &[]);
    assert_eq!(
        report["tables"]["reopened"],
        json!([{"table": "shadow", "reason": "password hashes"}])
    );
    assert!(
        !report["tables"]["denied"]
            .as_array()
            .expect("denied")
            .iter()
            .any(|d| d["table"] == "shadow")
    );
}

#[test]
fn a_change_that_cannot_stand_stops_start_up() {
    for (vars, args, says) in [
        (
            &[("OSQUERY_DENY_TABLES", "-shell_histroy")][..],
            &[][..],
            "OSQUERY_DENY_TABLES: -shell_histroy re-opens nothing",
        ),
        (
            &[],
            &["--deny-tables", "shadow,-shadow"],
            "--deny-tables: shadow is both denied and re-opened",
        ),
        (
            &[("OSQUERY_ALLOW_TABLES", "-shadow")],
            &[],
            "OSQUERY_ALLOW_TABLES contains \"-shadow\"",
        ),
    ] {
        for mode in [&[][..], &["call", "system_info"]] {
            let all: Vec<&str> = args.iter().chain(mode).copied().collect();
            let ran = run(&all, vars);
            assert_eq!(ran.code, Some(2), "{all:?}: {}", ran.stderr);
            assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
            assert!(ran.stderr.contains(says), "{}", ran.stderr);
        }
    }
}

#[test]
fn call_works_with_flags_alone_before_or_after_the_tool() {
    let path = standin();
    for args in [
        vec!["--osquery-path", &path, "call", "system_info"],
        vec!["call", "system_info", "--osquery-path", &path],
        vec![
            "call",
            "system_info",
            "{}",
            "--table",
            &format!("--osquery-path={path}"),
        ],
    ] {
        let ran = run_bare(&args, &[]);
        assert_eq!(ran.code, Some(0), "{args:?}: {}", ran.stderr);
        assert!(ran.stdout.contains("web-01"), "{args:?}: {}", ran.stdout);
    }
    let missing = run_bare(&["call", "system_info"], &[]);
    assert_eq!(missing.code, Some(1));
    assert!(
        missing.stderr.contains("osqueryi not found"),
        "{}",
        missing.stderr
    );
}

#[test]
fn flags_win_over_the_environment() {
    let report = health(
        &["--timeout", "7", "--rate-limit=0", "--redact", "off"],
        &[("OSQUERY_TIMEOUT", "not a number"), ("RATE_LIMIT", "5")],
    );
    assert_eq!(report["limits"]["timeout_seconds"], 7);
    assert_eq!(report["limits"]["rate_limit_per_minute"], 0);
    assert_eq!(report["limits"]["redact"], false);
    let report = health(&[], &[("OSQUERY_TIMEOUT", "9")]);
    assert_eq!(report["limits"]["timeout_seconds"], 9);
}

#[test]
fn a_missing_or_invalid_flag_value_exits_two_naming_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (&["--timeout"], "--timeout needs a value"),
        (
            &["--osquery-path", "--timeout", "5"],
            "--osquery-path needs a value",
        ),
        (&["--osquery-path="], "--osquery-path needs a value"),
        (&["--timeout", "0"], "--timeout=\"0\" is invalid"),
        (&["--rate-limit=-1"], "--rate-limit=\"-1\" is invalid"),
        (&["--log-level", "loud"], "--log-level=\"loud\" is invalid"),
        (&["--redact", "maybe"], "--redact=\"maybe\" is invalid"),
        (&["--nice", "99"], "--nice=\"99\" is invalid"),
        (&["--deny-tables", "a;b"], "--deny-tables contains \"a;b\""),
        (
            &["--timeout", "5", "--timeout=6"],
            "--timeout is given twice",
        ),
    ];
    for (flags, says) in cases {
        for mode in [&[][..], &["call", "system_info"], &["--health"]] {
            let args: Vec<&str> = mode.iter().chain(flags.iter()).copied().collect();
            let ran = run(&args, &[]);
            assert_eq!(ran.code, Some(2), "{args:?}: {}", ran.stderr);
            let lines: Vec<&str> = ran.stderr.lines().collect();
            assert_eq!(lines.len(), 1, "{args:?}: {}", ran.stderr);
            assert!(lines[0].contains(says), "{args:?}: {}", ran.stderr);
            assert!(ran.stdout.is_empty(), "{args:?}: {}", ran.stdout);
        }
    }
    let unknown = run(&["--timout", "5"], &[]);
    assert_eq!(unknown.code, Some(2));
    assert!(unknown.stderr.contains("unknown argument \"--timout\""));
}

#[test]
fn help_lists_a_flag_for_every_variable() {
    let h = run(&["--help"], &[]).stdout;
    for (flag, var) in [
        ("--osquery-path", "OSQUERY_PATH"),
        ("--timeout", "OSQUERY_TIMEOUT"),
        ("--max-response-size", "MAX_RESPONSE_SIZE"),
        ("--rate-limit", "RATE_LIMIT"),
        ("--log-level", "LOG_LEVEL"),
        ("--redact", "REDACT"),
        ("--deny-tables", "OSQUERY_DENY_TABLES"),
    ] {
        assert!(
            h.lines()
                .any(|l| l.trim_start().starts_with(flag) && l.contains(var)),
            "{flag}"
        );
    }
    assert!(
        h.lines()
            .any(|l| l.trim_start().starts_with("shadow ") && l.ends_with("password hashes"))
    );
}

#[test]
fn redact_takes_the_usual_spellings() {
    for (value, on) in [
        ("yes", true),
        ("On", true),
        ("TRUE", true),
        ("no", false),
        ("OFF", false),
    ] {
        let report = health(&[], &[("REDACT", value)]);
        assert_eq!(report["limits"]["redact"], on, "{value}");
    }
    let ran = run(&["call", "system_info"], &[("REDACT", "maybe")]);
    assert_eq!(ran.code, Some(2));
    for spelling in ["1, true, yes or on", "0, false, no or off"] {
        assert!(ran.stderr.contains(spelling), "{}", ran.stderr);
    }
}

/// The top-level keys of a pretty-printed JSON object, in order.
/// The keys of a JSON object in the order they are written, pretty or compact
/// (serde_json's `Value` would sort them).
fn top_level_keys(text: &str) -> Vec<String> {
    let (mut keys, mut depth, mut expect_key) = (Vec::new(), 0usize, false);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '{' | '[' => {
                depth += 1;
                expect_key = c == '{' && depth == 1;
            }
            '}' | ']' => depth = depth.saturating_sub(1),
            ',' if depth == 1 => expect_key = true,
            '"' => {
                let mut s = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        c => s.push(c),
                    }
                }
                if expect_key {
                    keys.push(s);
                    expect_key = false;
                }
            }
            _ => {}
        }
    }
    keys
}

const HEALTH_KEYS: [&str; 9] = [
    "status",
    "reasons",
    "server",
    "uptime_seconds",
    "backend",
    "osqueryi",
    "osqueryd",
    "limits",
    "tables",
];

#[test]
fn health_starts_with_status_and_reasons_on_the_command_line_and_as_a_resource() {
    let ran = run(&["--health"], &[("OSQUERY_PATH", "/nonexistent")]);
    assert_eq!(ran.code, Some(1));
    assert_eq!(top_level_keys(&ran.stdout), HEALTH_KEYS);
    let report: Value = serde_json::from_str(&ran.stdout).expect("JSON");
    assert!(
        report["reasons"][0]
            .as_str()
            .is_some_and(|r| r.contains("not found"))
    );
    let denied = report["tables"]["denied"].as_array().expect("denied");
    let reason = |t: &str| {
        denied
            .iter()
            .find(|d| d["table"] == t)
            .and_then(|d| d["reason"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(reason("shadow"), "password hashes");
    assert!(reason("configurations").starts_with("osquery's alias of augeas: "));

    let mut s = Server::start();
    s.initialize();
    let reply = s.request("resources/read", json!({"uri": "osquery://server/health"}));
    let text = reply["result"]["contents"][0]["text"]
        .as_str()
        .expect("text");
    assert_eq!(top_level_keys(text), HEALTH_KEYS);
}

#[test]
fn a_reader_that_goes_away_early_is_not_a_crash() {
    let osqueryi = standin_path().to_string_lossy().into_owned();
    for args in [
        &["--health"][..],
        &["--help"],
        &["--version"],
        &["call", "users"],
    ] {
        let mut child = crate::util::server_command(&[("OSQUERY_PATH", &osqueryi)])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        drop(child.stdout.take());
        let status = child
            .wait_timeout(DEADLINE)
            .expect("wait")
            .expect("exits in time");
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
            .expect("stderr");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(status.code(), Some(101), "{args:?}");
    }
}

/// The health report of a run with `args` and `vars`, asserting it ran.
fn health(args: &[&str], vars: &[(&str, &str)]) -> Value {
    let all: Vec<&str> = args.iter().copied().chain(["--health"]).collect();
    let ran = run(&all, vars);
    assert_eq!(ran.code, Some(0), "{all:?}: {}", ran.stderr);
    serde_json::from_str(&ran.stdout).expect("health is JSON")
}

#[test]
fn a_person_at_a_terminal_is_told_what_the_server_waits_for() {
    const NOTICE: &str = "waiting for MCP JSON-RPC messages from a client";
    // No terminal: no notice (a client reads stderr as logs).
    let piped = run(&[], &[]);
    assert_eq!(piped.code, Some(0));
    assert!(!piped.stderr.contains(NOTICE), "{}", piped.stderr);

    // util-linux `script` gives the server a terminal, and on EOF of its
    // own stdin sends the terminal's EOF, so the server stops.
    let bin = env!("CARGO_BIN_EXE_mcp-osquery-server");
    let inner = format!("'{bin}' --osquery-path '{}'", standin());
    let spawned = Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = spawned else {
        eprintln!("SKIP: util-linux `script` is not installed; the terminal notice is untested");
        return;
    };
    let status = child.wait_timeout(DEADLINE).expect("wait for script");
    if status.is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("script output");
    let text = String::from_utf8_lossy(&out.stdout);
    let notices: Vec<&str> = text.lines().filter(|l| l.contains(NOTICE)).collect();
    assert_eq!(notices.len(), 1, "{text}");
    assert!(
        notices[0].contains("--help") && notices[0].contains("call TOOL"),
        "{}",
        notices[0]
    );
    assert!(status.is_some_and(|s| s.success()), "{text}");
}

#[test]
fn flags_alone_serve_a_client() {
    let path = standin();
    let mut cmd = crate::util::server_command(&[]);
    cmd.env_remove("OSQUERY_PATH")
        .args(["--osquery-path", &path, "--timeout", "5"]);
    let mut s = Server::spawn(cmd);
    s.initialize();
    let result = s.call("system_info", json!({}));
    assert_eq!(result["isError"], false, "{result}");
    error_text(&s.call("custom_query", json!({"sql": "SELECT * FROM shadow"})));
}

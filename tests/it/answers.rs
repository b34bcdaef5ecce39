//! Answers that help a model: list_tables, describe_table, the prompts, and
//! fixed tools that adapt to the tables this host's osquery has.

use crate::util::{
    Server, Standin, TempDir, error_text, rows, set_executable, sql_blocks, standin_path,
};
use serde_json::{Value, json};

fn names(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["name"].as_str().expect("name").to_string())
        .collect()
}

/// A wrapper that answers the registry query itself with `tables`, and hands
/// every other query to the stand-in: a host whose osquery has other tables.
struct Registry {
    _dir: TempDir,
    standin: Standin,
}

impl Registry {
    fn with_tables(tables: &[&str]) -> Registry {
        let dir = TempDir::new("registry");
        let rows: Vec<String> = tables
            .iter()
            .map(|t| format!("  {{\"active\":\"1\",\"internal\":\"0\",\"name\":\"{t}\",\"registry\":\"table\"}}"))
            .collect();
        let answer = dir.path("registry.json");
        std::fs::write(&answer, format!("[\n{}\n]\n", rows.join(",\n"))).expect("write answer");
        let inner = dir.path("osqueryi");
        let script = format!(
            "#!/bin/sh\nfor a in \"$@\"; do case $a in *osquery_registry*) cat '{}'; exit 0 ;; esac; done\nexec '{}' \"$@\"\n",
            answer.display(),
            standin_path().display()
        );
        std::fs::write(&inner, script).expect("write wrapper");
        set_executable(&inner);
        // The logging wrapper in front, so tests see every query.
        let standin = Standin::around(&inner, &[]);
        Registry { _dir: dir, standin }
    }
}

#[test]
fn list_tables_lists_active_tables_without_denied_ones() {
    let mut s = Server::start();
    let r = rows(&s.call("list_tables", json!({})));
    let all = names(&r);
    assert!(all.len() > 100, "{} tables", all.len());
    for t in [
        "processes",
        "users",
        "deb_packages",
        "listening_ports",
        "file",
    ] {
        assert!(all.iter().any(|n| n == t), "{t} missing");
    }
    for t in [
        "shadow",
        "curl",
        "process_envs",
        "shell_history",
        "authorized_keys",
        "yara",
    ] {
        assert!(!all.iter().any(|n| n == t), "{t} listed");
    }
    assert!(all.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
    // Only event tables carry more than their name.
    for row in &r {
        match row.get("event") {
            Some(e) => assert_eq!(e, "true", "{row}"),
            None => assert_eq!(row.as_object().map(|o| o.len()), Some(1), "{row}"),
        }
    }

    let docker = names(&rows(&s.call("list_tables", json!({"pattern": "docker"}))));
    assert!(docker.len() > 5);
    assert!(docker.iter().all(|n| n.contains("docker")));
    assert!(
        !docker.iter().any(|n| n == "docker_container_envs"),
        "denied"
    );
    let upper = names(&rows(&s.call("list_tables", json!({"pattern": "DOCKER"}))));
    assert_eq!(upper, docker);
    assert!(rows(&s.call("list_tables", json!({"pattern": "shadow"}))).is_empty());
    assert_eq!(
        names(&rows(&s.call("list_tables", json!({"pattern": ""})))),
        all
    );
    // The longest pattern allowed (tools.rs has the refused ones).
    assert_eq!(
        rows(&s.call("list_tables", json!({"pattern": "a".repeat(64)}))).len(),
        0
    );
}

#[test]
fn list_tables_follows_the_configured_policy() {
    let mut s = Server::with_env(&[("OSQUERY_ALLOW_TABLES", "processes,users,shadow")]);
    assert_eq!(
        names(&rows(&s.call("list_tables", json!({})))),
        ["processes", "users"]
    );
    let mut s = Server::with_env(&[("OSQUERY_DENY_TABLES", "processes")]);
    let all = names(&rows(&s.call("list_tables", json!({}))));
    assert!(!all.iter().any(|n| n == "processes"));
    assert!(
        !all.iter().any(|n| n == "shadow"),
        "a custom deny list adds to the default"
    );
    let e = error_text(&s.call("describe_table", json!({"table": "processes"})));
    assert!(e.contains("table processes is not available"), "{e}");
}

#[test]
fn the_registry_is_asked_once_and_on_a_worker() {
    let standin = Standin::new(&[
        ("STANDIN_MODE", "slow"),
        ("STANDIN_DELAY", "2"),
        ("STANDIN_MATCH", "osquery_registry"),
    ]);
    let mut s = Server::with_standin(&standin, &[]);
    s.initialize();
    s.send_request(
        json!("pk"),
        "tools/call",
        json!({"name": "installed_packages"}),
    );
    // The reader answers ping while a worker waits for the slow registry.
    let ping = s.request("ping", json!({}));
    assert_eq!(ping["result"], json!({}));
    assert!(
        !standin.log().contains("deb_packages"),
        "ping answered before the registry came back"
    );
    let pk = s.wait_for(&json!("pk"));
    assert_eq!(pk["result"]["isError"], false, "{pk}");
    rows(&s.call("running_services", json!({})));
    rows(&s.call("list_tables", json!({})));
    let log = standin.log();
    assert_eq!(log.matches("osquery_registry").count(), 1, "{log}");
}

#[test]
fn installed_packages_name_their_sources() {
    let mut s = Server::start();
    let result = s.call("installed_packages", json!({}));
    assert_eq!(rows(&result).len(), 100, "the default limit");
    assert_eq!(
        result["structuredContent"]["sources"],
        json!(["deb_packages", "rpm_packages", "portage_packages"])
    );
    let list = s.request("tools/list", json!({}));
    let tool = list["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .find(|t| t["name"] == "installed_packages")
        .cloned()
        .expect("listed");
    assert_eq!(
        tool["outputSchema"]["properties"]["sources"]["type"],
        "array"
    );
    let svc = s.call("running_services", json!({}));
    assert_eq!(
        svc["structuredContent"]["sources"],
        json!(["systemd_units"])
    );
}

#[test]
fn fixed_tools_use_only_the_tables_the_host_has() {
    let host = Registry::with_tables(&["processes", "rpm_packages", "users"]);
    let mut s = Server::with_standin(&host.standin, &[]);
    let result = s.call("installed_packages", json!({}));
    rows(&result);
    assert_eq!(
        result["structuredContent"]["sources"],
        json!(["rpm_packages"])
    );
    let log = host.standin.log();
    assert!(log.contains("FROM rpm_packages"), "{log}");
    assert!(
        !log.contains("deb_packages") && !log.contains("portage"),
        "{log}"
    );

    let e = error_text(&s.call("running_services", json!({})));
    assert!(
        e.contains("this host's osquery has no service table (looked for systemd_units)"),
        "{e}"
    );

    let bare = Registry::with_tables(&["processes"]);
    let mut s = Server::with_standin(&bare.standin, &[]);
    let e = error_text(&s.call("installed_packages", json!({})));
    assert!(
        e.contains("no package tables (looked for deb_packages, rpm_packages, portage_packages)"),
        "{e}"
    );
    assert!(!e.contains("no such table"), "{e}");
    // The registry is answered by the wrapper itself, so the stand-in's log
    // shows every other query: there was none.
    assert_eq!(bare.standin.log(), "", "no package query ran");
}

#[test]
fn describe_table_lists_columns_and_types() {
    let standin = Standin::new(&[]);
    let mut s = Server::with_standin(&standin, &[]);
    let r = rows(&s.call("describe_table", json!({"table": "processes"})));
    let cols = names(&r);
    assert_eq!(&cols[..3], ["pid", "name", "path"]);
    assert!(cols.iter().any(|c| c == "on_disk"));
    assert_eq!(r[0]["type"], "BIGINT");
    assert_eq!(r[1]["type"], "TEXT");
    assert!(
        r.iter()
            .all(|c| c.as_object().is_some_and(|o| o.len() == 2))
    );
    let upper = rows(&s.call("describe_table", json!({"table": "USERS"})));
    assert!(names(&upper).iter().any(|c| c == "username"));
    assert!(standin.log().contains("PRAGMA table_info(\"processes\")"));
    // Refused names are in tools.rs; an unknown one is osqueryi's answer.
    let e = error_text(&s.call("describe_table", json!({"table": "no_such_thing"})));
    assert_eq!(e, "Error: no such table: no_such_thing; use list_tables");
}

#[test]
fn prompts_are_listed_and_each_query_runs_through_custom_query() {
    let standin = Standin::new(&[]);
    let mut s = Server::with_standin(&standin, &[]);
    let init = s.initialize();
    assert_eq!(
        init["result"]["capabilities"]["prompts"]["listChanged"],
        false
    );
    let list = s.request("prompts/list", json!({}));
    let prompts = list["result"]["prompts"]
        .as_array()
        .expect("prompts")
        .clone();
    let listed: Vec<&str> = prompts.iter().filter_map(|p| p["name"].as_str()).collect();
    for want in [
        "memory_hogs",
        "listening_ports",
        "package_changes",
        "disk_filling_up",
        "suspicious_processes",
        "logged_in_users",
    ] {
        assert!(listed.contains(&want), "{want} not in {listed:?}");
    }
    let mut ran = 0;
    for p in &prompts {
        let name = p["name"].as_str().expect("name");
        assert!(p["title"].is_string() && p["description"].is_string());
        assert!(p["arguments"].is_array());
        let got = s.request("prompts/get", json!({"name": name, "arguments": {}}));
        let result = &got["result"];
        assert_eq!(result["description"], p["description"]);
        let msg = &result["messages"][0];
        assert_eq!(msg["role"], "user");
        assert_eq!(msg["content"]["type"], "text");
        let text = msg["content"]["text"].as_str().expect("text");
        assert!(text.contains("custom_query"), "{name}");
        let queries = sql_blocks(text);
        assert!(!queries.is_empty(), "{name} has no SQL");
        for sql in queries {
            let result = s.call("custom_query", json!({ "sql": sql }));
            assert_eq!(result["isError"], false, "{name}: {sql}: {result}");
            assert_eq!(result["structuredContent"]["sql"], sql.as_str());
            ran += 1;
        }
    }
    assert_eq!(
        standin.log().lines().count(),
        ran,
        "every query reached osqueryi"
    );
}

#[test]
fn describe_table_says_what_where_must_name() {
    let mut s = Server::start();
    let result = s.call("describe_table", json!({"table": "file"}));
    let cols = names(&rows(&result));
    assert!(cols.iter().any(|c| c == "path") && cols.iter().any(|c| c == "directory"));
    let table = &result["structuredContent"]["table"];
    assert_eq!(table["name"], "file");
    assert_eq!(table["required"], json!(["path", "directory"]));
    assert!(
        table["indexed"]
            .as_array()
            .is_some_and(|i| i.contains(&json!("path")))
    );
    assert_eq!(table["event"], false);
    let note = result["content"][1]["text"].as_str().expect("a note");
    assert!(
        note.contains("WHERE must constrain one of path, directory"),
        "{note}"
    );

    let result = s.call("describe_table", json!({"table": "processes"}));
    assert_eq!(result["structuredContent"]["table"]["required"], json!([]));
    assert_eq!(
        result["structuredContent"]["table"]["indexed"],
        json!(["pid"])
    );
}

#[test]
fn event_tables_are_named_as_such() {
    let mut s = Server::start();
    let result = s.call("describe_table", json!({"table": "process_events"}));
    assert!(names(&rows(&result)).iter().any(|c| c == "cmdline"));
    assert_eq!(result["structuredContent"]["table"]["event"], true);
    let note = result["content"][1]["text"].as_str().expect("a note");
    assert!(
        note.contains("process_events is an event table")
            && note.contains("osqueryd runs with events enabled"),
        "{note}"
    );

    let listed = rows(&s.call("list_tables", json!({"pattern": "_events"})));
    let event = |name: &str| {
        listed
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed"))
            .get("event")
            .cloned()
    };
    assert_eq!(event("process_events"), Some(json!("true")));
    assert_eq!(event("socket_events"), Some(json!("true")));
    // Named like one, but osquery's own bookkeeping, not an event table.
    assert_eq!(event("osquery_events"), None);
    let plain = rows(&s.call("list_tables", json!({"pattern": "processes"})));
    assert!(plain.iter().all(|r| r.get("event").is_none()), "{plain:?}");
}

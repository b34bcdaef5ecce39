//! The SQL guard and redaction as a client meets them: every attack in the
//! corpus is refused with its rule and never reaches osqueryi; honest queries
//! do; secrets in results are masked unless REDACT=0.

use crate::util::{Server, Standin, error_text, rows};
use serde_json::json;

fn unescape(q: &str) -> String {
    q.replace("\\n", "\n")
        .replace("\\x0b", "\u{b}")
        .replace("\\ufeff", "\u{feff}")
        .replace("\\u00a0", "\u{a0}")
}

fn corpus(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect()
}

#[test]
fn every_attack_is_refused_by_its_rule_and_never_reaches_osqueryi() {
    let standin = Standin::new(&[]);
    let mut s = Server::with_standin(&standin, &[]);
    let mut checked = 0;
    for line in corpus(include_str!("../guard/attacks.txt")) {
        let (rule, sql) = line.split_once('\t').expect("rule<TAB>query");
        let sql = unescape(sql);
        let result = s.call("custom_query", json!({ "sql": sql }));
        let text = error_text(&result);
        assert!(text.contains(&format!("rule '{rule}'")), "{sql:?}: {text}");
        checked += 1;
    }
    assert!(checked >= 60, "only {checked} attacks");
    assert_eq!(standin.log(), "", "a rejected query reached osqueryi");
}

#[test]
fn honest_queries_reach_osqueryi() {
    let standin = Standin::new(&[]);
    let mut s = Server::with_standin(&standin, &[]);
    let honest = corpus(include_str!("../guard/honest.txt"));
    for sql in &honest {
        let result = s.call("custom_query", json!({ "sql": unescape(sql) }));
        // The stand-in may not know every table; what matters is that the
        // guard let the query through to osqueryi.
        if result["isError"] == true {
            let text = error_text(&result);
            assert!(!text.contains("rejected by rule"), "{sql}: {text}");
        }
    }
    assert_eq!(standin.log().lines().count(), honest.len());
}

#[test]
fn deny_and_allow_lists_are_configurable_and_passed_to_osqueryi() {
    let standin = Standin::new(&[]);
    let mut s = Server::with_standin(&standin, &[("OSQUERY_DENY_TABLES", "users")]);
    let e = error_text(&s.call("custom_query", json!({"sql": "SELECT * FROM Users"})));
    assert!(e.contains("denied-table") && e.contains("Users"), "{e}");
    // The list grows: the built-in entries stay denied.
    let e = error_text(&s.call(
        "custom_query",
        json!({"sql": "SELECT username FROM shadow"}),
    ));
    assert!(e.contains("denied-table") && e.contains("shadow"), "{e}");
    assert!(!standin.log().contains("FROM shadow"));

    let mut s = Server::with_env(&[("OSQUERY_ALLOW_TABLES", "processes,users")]);
    assert_eq!(
        rows(&s.call(
            "custom_query",
            json!({"sql": "SELECT * FROM processes LIMIT 2"})
        ))
        .len(),
        2
    );
    let e = error_text(&s.call("custom_query", json!({"sql": "SELECT * FROM mounts"})));
    assert!(
        e.contains("not-allowed-table") && e.contains("mounts"),
        "{e}"
    );
}

#[test]
fn osqueryi_gets_the_deny_list_as_disable_tables() {
    // A host-side second wall: even a table the guard missed would not exist.
    let standin = Standin::new(&[]);
    let mut s = Server::with_standin(&standin, &[("OSQUERY_DENY_TABLES", "users")]);
    // fixtures/osqueryi honours --disable_tables: the fixed users tool now fails.
    let e = error_text(&s.call("users", json!({})));
    assert!(e.contains("no such table: users"), "{e}");
}

#[test]
fn secrets_in_results_are_redacted_by_default_and_kept_with_redact_0() {
    let find = |s: &mut Server, name: &str| -> String {
        let r = rows(&s.call("processes", json!({"limit": 1000})));
        let p = r
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"));
        p["cmdline"].as_str().unwrap_or_default().to_string()
    };
    let mut s = Server::start();
    assert_eq!(
        find(&mut s, "mysqldump"),
        "mysqldump -u backup -p[REDACTED] --single-transaction app"
    );
    assert_eq!(
        find(&mut s, "node"),
        "node /srv/app/server.js --port=3000 --api-key=[REDACTED]"
    );
    assert!(find(&mut s, "sh").contains("AWS_SECRET_ACCESS_KEY=[REDACTED] aws s3 cp"));
    // Ordinary values are untouched.
    let all = rows(&s.call("processes", json!({"limit": 1000})));
    let listener = "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups";
    assert!(all.iter().any(|p| p["cmdline"] == listener));
    assert!(
        all.iter()
            .any(|p| p["cmdline"] == "/sbin/agetty -o -p -- \\u --noclear tty1 linux")
    );
    let text = s.call("processes", json!({"limit": 1000}))["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        !text.contains("S3cr3tBackupPw") && !text.contains("sk_live_"),
        "secret in text content"
    );

    let mut s = Server::with_env(&[("REDACT", "0")]);
    assert!(find(&mut s, "mysqldump").contains("-pS3cr3tBackupPw"));
}

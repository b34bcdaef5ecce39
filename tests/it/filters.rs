//! Tool filters that cut bulk, evaluated in the SQL the server builds:
//! installed_packages by `limit` and `name`, disk_usage fullest first and
//! without pseudo filesystems and read-only images unless `all`.

use crate::util::{Server, Standin, error_text, rows};
use serde_json::{Value, json};

fn field(rows: &[Value], key: &str) -> Vec<String> {
    rows.iter()
        .map(|r| r[key].as_str().expect("a string field").to_string())
        .collect()
}

#[test]
fn installed_packages_take_a_limit_and_a_name() {
    let mut s = Server::start();
    let result = s.call("installed_packages", json!({"limit": 5}));
    assert_eq!(rows(&result).len(), 5);
    assert_eq!(result["structuredContent"]["truncated"], true);
    let note = result["content"][1]["text"].as_str().expect("a note");
    assert!(
        note.contains("first 5 rows") && note.contains("raise `limit`"),
        "{note}"
    );

    let one = s.call("installed_packages", json!({"limit": "1"}));
    let note = one["content"][1]["text"].as_str().expect("a note");
    assert!(note.starts_with("showing the first 1 row of"), "{note}");

    // A substring, case-insensitive.
    let ssl = field(
        &rows(&s.call("installed_packages", json!({"name": "SSL"}))),
        "name",
    );
    assert_eq!(ssl, ["libssl3", "openssl", "python3-openssl", "ssl-cert"]);
    // A LIKE pattern: % and _ are wildcards over the whole name.
    let lib = field(
        &rows(&s.call("installed_packages", json!({"name": "lib%ssl%"}))),
        "name",
    );
    assert_eq!(lib, ["libssl3"]);
    let one_char = field(
        &rows(&s.call("installed_packages", json!({"name": "ss_-cert"}))),
        "name",
    );
    assert_eq!(one_char, ["ssl-cert"]);
    let none = s.call("installed_packages", json!({"name": "no-such-package"}));
    assert!(rows(&none).is_empty());
    assert_eq!(none["structuredContent"]["truncated"], false);
}

#[test]
fn package_names_are_validated_and_never_spliced_as_text() {
    let standin = Standin::new(&[]);
    let mut s = Server::with_standin(&standin, &[]);
    for bad in ["x' OR '1'='1", "a\\b", "two words", "\"q\"", "é"] {
        let e = error_text(&s.call("installed_packages", json!({ "name": bad })));
        assert!(
            e.starts_with("Error: name must be at most 64 letters"),
            "{bad}: {e}"
        );
    }
    assert_eq!(standin.runs("deb_packages"), 0, "refused before osqueryi");
    rows(&s.call("installed_packages", json!({"name": "curl"})));
    let log = standin.log();
    assert!(
        log.contains("WHERE name LIKE CAST(X'256375726C25' AS TEXT) LIMIT 101;"),
        "{log}"
    );
    assert!(
        !log.contains("curl"),
        "the text itself never reaches the SQL: {log}"
    );
}

fn used(m: &Value) -> f64 {
    m["used_percent"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1.0)
}

#[test]
fn disk_usage_puts_the_fullest_first_and_leaves_out_the_noise() {
    let mut s = Server::start();
    let real = rows(&s.call("disk_usage", json!({})));
    assert_eq!(real[0]["path"], "/var/lib/postgresql");
    assert_eq!(real[0]["used_percent"], "91.6");
    let percents: Vec<f64> = real.iter().map(used).collect();
    assert!(percents.windows(2).all(|w| w[0] >= w[1]), "{percents:?}");
    for m in &real {
        assert_ne!(m["blocks"], "0", "{m}");
        assert_ne!(m["type"], "squashfs", "{m}");
    }
    assert!(real.iter().any(|m| m["path"] == "/"));

    let all = rows(&s.call("disk_usage", json!({"all": true})));
    assert_eq!(all.len(), 31, "every mount of the fixture host");
    // Read-only images are always full: that is why they are left out.
    assert_eq!(all[0]["type"], "squashfs");
    assert_eq!(all[0]["used_percent"], "100.0");
    assert!(all.iter().any(|m| m["type"] == "proc"));
    // Mounts without blocks have no used_percent and come last.
    let first_empty = all
        .iter()
        .position(|m| m["used_percent"] == "")
        .expect("pseudo fs");
    let percents: Vec<f64> = all[..first_empty].iter().map(used).collect();
    assert!(percents.windows(2).all(|w| w[0] >= w[1]), "{percents:?}");
    assert!(all[first_empty..].iter().all(|m| m["used_percent"] == ""));
    assert_eq!(rows(&s.call("disk_usage", json!({"all": "false"}))), real);
}

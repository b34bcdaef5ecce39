//! Arguments → a [`Plan`]: validation and coercion of each tool's arguments,
//! and the SQL the call will run.
//!
//! An argument the tool does not take is refused, naming the ones it does:
//! a typo must not run with the defaults and say nothing. Every query is
//! built here from validated integers, booleans and identifiers; the one text
//! filter (installed_packages' `name`) enters SQL hex-encoded (see
//! `queries`), so no argument is ever spliced into SQL as text.
//! custom_query's SQL is checked by the guard and passed on as the single
//! positional argument of osqueryi.

use serde_json::{Map, Value};

use super::{LIMIT_MAX, PATTERN_MAX, PID_MAX, Tool, ToolName, queries};
use crate::guard::{self, TablePolicy};

/// A validated call, ready for a worker. Two calls with equal plans get
/// equal answers (the whole plan, not `sql` alone, identifies a call).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Plan {
    pub tool: ToolName,
    /// The SQL to run. installed_packages and running_services hold the query
    /// over every candidate table here; the worker narrows it to the tables
    /// this host has (see `fetch`).
    pub sql: String,
    /// Rows beyond this are cut even if osqueryi returned more. The SQL asks
    /// for one row more, so the answer can say whether more exist.
    pub limit: Option<usize>,
    /// list_tables: the validated name filter, lower case. installed_packages:
    /// the LIKE pattern names must match.
    pub pattern: Option<String>,
    /// describe_table: the validated table name, lower case.
    pub table: Option<String>,
}

/// Validates arguments and builds the query. Errors are the text the model
/// reads after `Error: `.
pub fn plan(tool: &Tool, args: &Map<String, Value>, policy: &TablePolicy) -> Result<Plan, String> {
    known_arguments(tool, args)?;
    let mut pattern = None;
    let mut table = None;
    let (sql, limit) = match tool.name {
        ToolName::SystemInfo => (queries::SYSTEM_INFO.to_string(), None),
        ToolName::Users => (queries::USERS.to_string(), None),
        ToolName::NetworkInterfaces => (queries::INTERFACES.to_string(), None),
        ToolName::DiskUsage => (
            queries::mounts_sql(bool_arg(args, "all")?.unwrap_or(false)),
            None,
        ),
        ToolName::InstalledPackages => {
            let n = integer_arg(args, "limit", 1, LIMIT_MAX)?.unwrap_or(100) as usize;
            pattern = name_arg(args)?;
            let sql = queries::packages_sql(queries::PACKAGE_SOURCES, pattern.as_deref(), n + 1);
            (sql, Some(n))
        }
        ToolName::RunningServices => (queries::union_sql(queries::SERVICE_SOURCES), None),
        ToolName::ListTables => {
            pattern = pattern_arg(args)?;
            (queries::REGISTRY_SQL.to_string(), None)
        }
        ToolName::DescribeTable => {
            let name = table_arg(args)?;
            if !policy.is_table_allowed(&name) {
                return Err(format!(
                    "table {name} is not available: this server refuses it (it reaches the network, reads arbitrary files or holds secrets, or is not on the allow list)"
                ));
            }
            let sql = queries::columns_sql(&name);
            table = Some(name);
            (sql, None)
        }
        ToolName::Processes => {
            let n = integer_arg(args, "limit", 1, LIMIT_MAX)?.unwrap_or(10);
            (
                format!("{} LIMIT {};", queries::PROCESSES, n + 1),
                Some(n as usize),
            )
        }
        ToolName::NetworkConnections => {
            let n = integer_arg(args, "limit", 1, LIMIT_MAX)?.unwrap_or(20);
            (
                format!("{} LIMIT {};", queries::SOCKETS, n + 1),
                Some(n as usize),
            )
        }
        ToolName::OpenFiles => match integer_arg(args, "pid", 1, PID_MAX)? {
            Some(pid) => (format!("{} WHERE pid = {pid};", queries::OPEN_FILES), None),
            None => (format!("{};", queries::OPEN_FILES), None),
        },
        ToolName::CustomQuery => (sql_arg(args, policy)?, None),
    };
    Ok(Plan {
        tool: tool.name,
        sql,
        limit,
        pattern,
        table,
    })
}

/// Refuses arguments the tool does not take (all of them, `_meta`-like keys
/// too: nothing in `arguments` is ours to ignore).
fn known_arguments(tool: &Tool, args: &Map<String, Value>) -> Result<(), String> {
    let valid: Vec<&str> = tool.takes().collect();
    let unknown: Vec<String> = args
        .keys()
        .filter(|k| !valid.contains(&k.as_str()))
        .take(5)
        .map(|k| format!("{:?}", crate::logging::truncate(k, 40)))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let s = if unknown.len() == 1 { "" } else { "s" };
    // The tool's own arguments: `cursor`, every tool's, is for the pages an
    // answer offers, and would only hide them.
    let takes = if tool.arguments.is_empty() {
        format!("{} takes no arguments", tool.id)
    } else {
        format!("{} takes: {}", tool.id, tool.arguments.join(", "))
    };
    Err(format!(
        "unknown argument{s} {}; {takes}",
        unknown.join(", ")
    ))
}

/// installed_packages' `name`: a substring of package names, or a LIKE
/// pattern when it has `%` or `_`; empty means none. The characters are those
/// of package names (Debian's, RPM's, Homebrew's) and the two wildcards.
fn name_arg(args: &Map<String, Value>) -> Result<Option<String>, String> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"._+:@%-".contains(&b);
    match args.get("name") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(p)) if p.is_empty() => Ok(None),
        Some(Value::String(p)) if p.len() <= PATTERN_MAX && p.bytes().all(allowed) => {
            if p.contains(['%', '_']) {
                Ok(Some(p.clone()))
            } else {
                Ok(Some(format!("%{p}%")))
            }
        }
        Some(_) => Err(format!(
            "name must be at most {PATTERN_MAX} letters, digits or . _ + : @ % - (part of a package name, or a LIKE pattern such as lib%ssl%)"
        )),
    }
}

/// An optional boolean: `true`/`false`, also as strings, since some clients
/// send every argument as text.
fn bool_arg(args: &Map<String, Value>, name: &str) -> Result<Option<bool>, String> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(format!("{name} must be true or false")),
    }
}

/// list_tables' optional filter: empty means none.
fn pattern_arg(args: &Map<String, Value>) -> Result<Option<String>, String> {
    let bad = || {
        format!(
            "pattern must be at most {PATTERN_MAX} letters, digits or _ (a part of a table name)"
        )
    };
    match args.get("pattern") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(p)) if p.is_empty() => Ok(None),
        Some(Value::String(p))
            if p.len() <= PATTERN_MAX
                && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            Ok(Some(p.to_ascii_lowercase()))
        }
        Some(_) => Err(bad()),
    }
}

/// describe_table's table: an SQL identifier, so it can be written into the
/// server's own PRAGMA without any quoting question.
fn table_arg(args: &Map<String, Value>) -> Result<String, String> {
    let bad = "table must be an osquery table name: a letter or _, then up to 63 letters, digits or _ (see list_tables)";
    let name = match args.get("table") {
        None | Some(Value::Null) => {
            return Err("table is required: an osquery table name (see list_tables)".into());
        }
        Some(Value::String(s)) => s,
        Some(_) => return Err(bad.into()),
    };
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    if first_ok && name.len() <= 64 && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(name.to_ascii_lowercase())
    } else {
        Err(bad.into())
    }
}

/// Reads an optional integer argument, coercing `10`, `10.0` and `"10"`.
fn integer_arg(
    args: &Map<String, Value>,
    name: &str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, String> {
    let bad = || format!("{name} must be an integer between {min} and {max}");
    let n = match args.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i,
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => f as i64,
            _ => return Err(bad()),
        },
        Some(Value::String(s)) => parse_integer_text(s).ok_or_else(bad)?,
        Some(_) => return Err(bad()),
    };
    if (min..=max).contains(&n) {
        Ok(Some(n))
    } else {
        Err(bad())
    }
}

/// `"10"`, `" 10 "`, `"+10"` and `"10.0"` are integers; `"1e3"`, `"0x10"`,
/// `"10.5"` and `""` are not.
fn parse_integer_text(s: &str) -> Option<i64> {
    let s = s.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b == b'0')
    {
        return None;
    }
    int.parse().ok()
}

fn sql_arg(args: &Map<String, Value>, policy: &TablePolicy) -> Result<String, String> {
    let sql = match args.get("sql") {
        Some(Value::String(s)) => s,
        Some(_) => return Err("sql must be a string".into()),
        None => return Err("sql is required: one read-only SELECT statement".into()),
    };
    guard::check(sql, policy).map_err(|r| r.to_string())?;
    Ok(sql.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::find;
    use serde_json::json;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn tool(name: &str) -> &'static Tool {
        find(name).unwrap_or_else(|| panic!("no tool {name}"))
    }

    #[test]
    fn limit_is_coerced_from_every_integer_spelling() {
        for v in [
            json!(5),
            json!(5.0),
            json!("5"),
            json!(" 5 "),
            json!("+5"),
            json!("5.00"),
        ] {
            let p = plan(
                tool("processes"),
                &args(json!({ "limit": v.clone() })),
                &TablePolicy::default(),
            )
            .expect("valid");
            assert!(p.sql.ends_with("LIMIT 6;"), "{v}: {}", p.sql);
            assert_eq!(p.limit, Some(5));
        }
        let p = plan(tool("processes"), &Map::new(), &TablePolicy::default()).expect("default");
        assert_eq!(p.limit, Some(10));
        let p = plan(
            tool("network_connections"),
            &args(json!({ "limit": null })),
            &TablePolicy::default(),
        )
        .expect("null");
        assert_eq!(p.limit, Some(20));
    }

    #[test]
    fn bad_integers_name_the_argument_and_range() {
        for v in [
            json!(0),
            json!(1001),
            json!(-1),
            json!(2.5),
            json!(true),
            json!("ten"),
            json!("1e3"),
            json!(""),
            json!([]),
            json!({}),
            json!("0x10"),
            json!(1e300),
        ] {
            let e = plan(
                tool("processes"),
                &args(json!({ "limit": v.clone() })),
                &TablePolicy::default(),
            )
            .expect_err("invalid");
            assert_eq!(e, "limit must be an integer between 1 and 1000", "{v}");
        }
        let e = plan(
            tool("open_files"),
            &args(json!({ "pid": 0 })),
            &TablePolicy::default(),
        )
        .expect_err("invalid");
        assert_eq!(e, "pid must be an integer between 1 and 2147483647");
    }

    #[test]
    fn pid_filters_open_files() {
        let p = plan(
            tool("open_files"),
            &args(json!({ "pid": "42" })),
            &TablePolicy::default(),
        )
        .expect("valid");
        assert_eq!(
            p.sql,
            "SELECT pid, fd, path FROM process_open_files WHERE pid = 42;"
        );
        let p = plan(tool("open_files"), &Map::new(), &TablePolicy::default()).expect("valid");
        assert!(!p.sql.contains("WHERE"));
    }

    #[test]
    fn unknown_arguments_are_refused_naming_the_valid_ones() {
        let refused = |name: &str, a: Value| {
            plan(tool(name), &args(a), &TablePolicy::default()).expect_err("refused")
        };
        assert_eq!(
            refused("processes", json!({"lmit": 3})),
            "unknown argument \"lmit\"; processes takes: limit"
        );
        assert_eq!(
            refused(
                "installed_packages",
                json!({"nmae": "x", "limit": 5, "_meta": {}})
            ),
            "unknown arguments \"_meta\", \"nmae\"; installed_packages takes: limit, name"
        );
        assert_eq!(
            refused("users", json!({"pid": null})),
            "unknown argument \"pid\"; users takes no arguments"
        );
        // Checked before values: the typo is the news.
        assert!(refused("processes", json!({"limit": 0, "x": 1})).starts_with("unknown"));
        let long = refused("system_info", json!({ "k".repeat(1000): 1 }));
        assert!(long.len() < 200, "{long}");
    }

    #[test]
    fn package_names_filter_in_sql_as_a_like_pattern() {
        let like = |v: Value| {
            plan(
                tool("installed_packages"),
                &args(json!({ "name": v })),
                &TablePolicy::default(),
            )
            .map(|p| p.pattern)
        };
        assert_eq!(like(json!("ssl")), Ok(Some("%ssl%".into())));
        assert_eq!(like(json!("lib%")), Ok(Some("lib%".into())));
        assert_eq!(like(json!("python3._")), Ok(Some("python3._".into())));
        assert_eq!(
            like(json!("g++:amd64@1-2")),
            Ok(Some("%g++:amd64@1-2%".into()))
        );
        assert_eq!(like(json!("")), Ok(None));
        assert_eq!(like(json!(null)), Ok(None));
        for bad in [
            json!("a'b"),
            json!("a\\b"),
            json!("a b"),
            json!("a\"b"),
            json!("é"),
            json!("x".repeat(65)),
            json!(5),
            json!(["ssl"]),
        ] {
            let e = like(bad.clone()).expect_err("refused");
            assert!(e.starts_with("name must be at most 64"), "{bad}: {e}");
        }
        let p = plan(
            tool("installed_packages"),
            &args(json!({ "name": "ssl", "limit": "3" })),
            &TablePolicy::default(),
        )
        .expect("valid");
        assert_eq!(p.limit, Some(3));
        assert!(
            p.sql
                .ends_with("WHERE name LIKE CAST(X'2573736C25' AS TEXT) LIMIT 4;"),
            "{}",
            p.sql
        );
        let p = plan(
            tool("installed_packages"),
            &Map::new(),
            &TablePolicy::default(),
        )
        .expect("defaults");
        assert_eq!(p.limit, Some(100));
        assert!(!p.sql.contains("WHERE name"), "{}", p.sql);
    }

    #[test]
    fn disk_usage_all_is_a_boolean() {
        let sql = |v: Value| {
            plan(
                tool("disk_usage"),
                &args(json!({ "all": v })),
                &TablePolicy::default(),
            )
            .map(|p| p.sql.contains("WHERE blocks > 0"))
        };
        assert_eq!(sql(json!(false)), Ok(true));
        assert_eq!(sql(json!(null)), Ok(true));
        assert_eq!(sql(json!("false")), Ok(true));
        assert_eq!(sql(json!(true)), Ok(false));
        assert_eq!(sql(json!(" TRUE ")), Ok(false));
        for bad in [json!(1), json!("yes"), json!([true])] {
            assert_eq!(sql(bad), Err("all must be true or false".into()));
        }
    }
}

//! Arguments → a [`Plan`]: validation and coercion of each tool's arguments,
//! and the SQL the call will run.
//!
//! Every query is built here from validated integers; no argument is ever
//! spliced into SQL as text. custom_query's SQL is checked by the guard and
//! passed on as the single positional argument of osqueryi.

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
    /// list_tables: the validated name filter, lower case.
    pub pattern: Option<String>,
    /// describe_table: the validated table name, lower case.
    pub table: Option<String>,
}

/// Validates arguments and builds the query. Errors are the text the model
/// reads after `Error: `.
pub fn plan(tool: &Tool, args: &Map<String, Value>, policy: &TablePolicy) -> Result<Plan, String> {
    let mut pattern = None;
    let mut table = None;
    let (sql, limit) = match tool.name {
        ToolName::SystemInfo => (queries::SYSTEM_INFO.to_string(), None),
        ToolName::Users => (queries::USERS.to_string(), None),
        ToolName::NetworkInterfaces => (queries::INTERFACES.to_string(), None),
        ToolName::DiskUsage => (queries::MOUNTS.to_string(), None),
        ToolName::InstalledPackages => (queries::union_sql(queries::PACKAGE_SOURCES), None),
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
    fn pid_filters_open_files_and_unknown_args_are_ignored() {
        let p = plan(
            tool("open_files"),
            &args(json!({ "pid": "42", "extra": 1 })),
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
}

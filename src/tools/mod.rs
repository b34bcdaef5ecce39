//! The tool catalogue: each tool's schemas, argument validation and coercion,
//! the SQL it runs, and the readable companions added to its rows.
//!
//! Every query is built here from validated integers; no argument is ever
//! spliced into SQL as text. custom_query's SQL is checked by the guard and
//! passed on as the single positional argument of osqueryi.

use serde_json::{Map, Value, json};

use crate::catalog;
use crate::guard::{self, TablePolicy};
use crate::osquery::Row;

pub mod fetch;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToolName {
    SystemInfo,
    Processes,
    Users,
    NetworkInterfaces,
    NetworkConnections,
    OpenFiles,
    DiskUsage,
    InstalledPackages,
    RunningServices,
    ListTables,
    DescribeTable,
    CustomQuery,
}

pub struct Tool {
    pub name: ToolName,
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// Row fields in the order the rows carry them, and which are required.
    fields: &'static [&'static str],
    required: &'static [&'static str],
}

pub const LIMIT_MAX: i64 = 1000;
/// Longest `pattern` list_tables accepts.
pub const PATTERN_MAX: usize = 64;
pub const PID_MAX: i64 = 2_147_483_647;

pub const TOOLS: &[Tool] = &[
    Tool {
        name: ToolName::SystemInfo,
        id: "system_info",
        title: "System information",
        description: "Hostname, CPU model and core counts, physical memory (bytes), hardware model and UUID of this host (osquery table system_info). One row.",
        fields: &[
            "computer_name",
            "cpu_brand",
            "cpu_logical_cores",
            "cpu_physical_cores",
            "hardware_model",
            "hostname",
            "physical_memory",
            "uuid",
        ],
        required: &["hostname"],
    },
    Tool {
        name: ToolName::Processes,
        id: "processes",
        title: "Top processes by memory",
        description: "Running processes ordered by resident memory, largest first: pid, name, path, cmdline, state, uid, parent, threads, resident_size and total_size in bytes, plus resident_mib. `limit` (1-1000, default 10) caps the rows.",
        fields: &[
            "cmdline",
            "name",
            "parent",
            "path",
            "pid",
            "resident_mib",
            "resident_size",
            "state",
            "threads",
            "total_size",
            "uid",
        ],
        required: &["pid", "name", "uid", "resident_size"],
    },
    Tool {
        name: ToolName::Users,
        id: "users",
        title: "Local user accounts",
        description: "Local user accounts: uid, gid, username, description, home directory and login shell (osquery table users).",
        fields: &[
            "description",
            "directory",
            "gid",
            "shell",
            "uid",
            "username",
        ],
        required: &["uid", "username"],
    },
    Tool {
        name: ToolName::NetworkInterfaces,
        id: "network_interfaces",
        title: "Network interfaces",
        description: "Network interfaces with MAC address, type, MTU, metric, flags and their IP addresses (comma-separated), from interface_details and interface_addresses.",
        fields: &[
            "addresses",
            "flags",
            "interface",
            "mac",
            "metric",
            "mtu",
            "type",
        ],
        required: &["interface", "mac"],
    },
    Tool {
        name: ToolName::NetworkConnections,
        id: "network_connections",
        title: "Open network sockets",
        description: "IPv4/IPv6 sockets of processes (listening and connected): pid, protocol and family as numbers with readable protocol_name (tcp/udp) and family_name (ipv4/ipv6), local and remote address and port, TCP state. Sockets of other users need root. `limit` (1-1000, default 20) caps the rows.",
        fields: &[
            "family",
            "family_name",
            "local_address",
            "local_port",
            "pid",
            "protocol",
            "protocol_name",
            "remote_address",
            "remote_port",
            "state",
        ],
        required: &[
            "protocol",
            "local_address",
            "local_port",
            "remote_address",
            "remote_port",
            "state",
        ],
    },
    Tool {
        name: ToolName::OpenFiles,
        id: "open_files",
        title: "Open files",
        description: "Files held open by processes (pid, fd, path), for one process when `pid` is given, else for all processes visible to the server (can be large: prefer a pid).",
        fields: &["fd", "path", "pid"],
        required: &["pid", "path"],
    },
    Tool {
        name: ToolName::DiskUsage,
        id: "disk_usage",
        title: "Mounted filesystems and space",
        description: "Mounted filesystems with device, type, block counts and inodes, plus total_bytes, available_bytes and used_percent computed from them (osquery table mounts; includes pseudo filesystems such as proc and tmpfs).",
        fields: &[
            "available_bytes",
            "blocks",
            "blocks_available",
            "blocks_free",
            "blocks_size",
            "device",
            "inodes",
            "inodes_free",
            "path",
            "total_bytes",
            "type",
            "used_percent",
        ],
        required: &["path"],
    },
    Tool {
        name: ToolName::InstalledPackages,
        id: "installed_packages",
        title: "Installed packages",
        description: "Installed packages (name, version, arch) with `source` saying which package manager reported them (deb, rpm; apps and homebrew on macOS).",
        fields: &["arch", "name", "source", "version"],
        required: &["name"],
    },
    Tool {
        name: ToolName::RunningServices,
        id: "running_services",
        title: "Running services",
        description: "Services that are active and running (systemd units on Linux, launchd jobs on macOS): name, description, state, sub_state, unit file path and the user it runs as when set. systemd does not report a pid.",
        fields: &[
            "description",
            "fragment_path",
            "name",
            "state",
            "sub_state",
            "user",
        ],
        required: &["name", "state"],
    },
    Tool {
        name: ToolName::ListTables,
        id: "list_tables",
        title: "Available osquery tables",
        description: "Names of the osquery tables this host's osquery offers (active tables of osquery_registry), minus the tables this server refuses. `pattern` keeps only names containing it (letters, digits and _; case-insensitive). Use it before custom_query instead of guessing table names.",
        fields: &["name"],
        required: &["name"],
    },
    Tool {
        name: ToolName::DescribeTable,
        id: "describe_table",
        title: "Columns of an osquery table",
        description: "The columns of one osquery table (`table`, e.g. \"processes\") with their SQL types, in osquery's order, so custom_query can name real columns. osquery's SQL interface carries no column descriptions; hidden columns are not listed. Tables this server refuses are refused here too.",
        fields: &["name", "type"],
        required: &["name", "type"],
    },
    Tool {
        name: ToolName::CustomQuery,
        id: "custom_query",
        title: "Custom osquery SQL",
        description: "Run one read-only osquery SQL statement (SELECT or WITH … SELECT, at most 10,000 characters) and get its rows. Writes, PRAGMA, ATTACH, stacked statements, dangerous functions and tables that reach the network or hold secrets are refused with the rule that was broken. Add a LIMIT: output over the server's size cap is an error. Values are strings, as osquery prints them.",
        fields: &[],
        required: &[],
    },
];

pub fn find(name: &str) -> Option<&'static Tool> {
    TOOLS.iter().find(|t| t.id == name)
}

/// The `tools/list` result.
pub fn list() -> Value {
    let tools: Vec<Value> = TOOLS.iter().map(describe).collect();
    json!({ "tools": tools })
}

fn describe(tool: &Tool) -> Value {
    json!({
        "name": tool.id,
        "title": tool.title,
        "description": tool.description,
        "inputSchema": input_schema(tool.name),
        "outputSchema": output_schema(tool),
        "annotations": {
            "title": tool.title,
            "readOnlyHint": true,
            "destructiveHint": false,
            "idempotentHint": true,
            "openWorldHint": false,
        },
    })
}

/// Integers may come as JSON integers, integral floats or numeric strings, so
/// the schema says so: a client that validates must accept all of them.
fn integer_schema(description: &str, min: i64, max: i64, default: Option<i64>) -> Value {
    let mut s = json!({
        "type": ["integer", "string"],
        "description": description,
        "minimum": min,
        "maximum": max,
        "pattern": "^\\s*[+]?[0-9]+(\\.0*)?\\s*$",
    });
    if let (Some(d), Some(obj)) = (default, s.as_object_mut()) {
        obj.insert("default".into(), json!(d));
    }
    s
}

fn input_schema(name: ToolName) -> Value {
    let properties = match name {
        ToolName::Processes => json!({
            "limit": integer_schema("How many processes to return, largest resident memory first (default 10).", 1, LIMIT_MAX, Some(10)),
        }),
        ToolName::NetworkConnections => json!({
            "limit": integer_schema("How many sockets to return (default 20).", 1, LIMIT_MAX, Some(20)),
        }),
        ToolName::OpenFiles => json!({
            "pid": integer_schema("Only files of this process id; all processes when omitted.", 1, PID_MAX, None),
        }),
        ToolName::ListTables => json!({
            "pattern": {
                "type": "string",
                "description": "Only tables whose name contains this text (letters, digits, _; case-insensitive), e.g. \"docker\" or \"package\".",
                "maxLength": PATTERN_MAX,
                "pattern": "^[A-Za-z0-9_]*$",
            },
        }),
        ToolName::DescribeTable => json!({
            "table": {
                "type": "string",
                "description": "An osquery table name, as list_tables gives it.",
                "minLength": 1,
                "maxLength": 64,
                "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,63}$",
            },
        }),
        ToolName::CustomQuery => json!({
            "sql": {
                "type": "string",
                "description": "One read-only osquery SQL statement: SELECT … or WITH … SELECT …",
                "minLength": 1,
                "maxLength": crate::config::MAX_SQL_CHARS,
            },
        }),
        _ => json!({}),
    };
    let required: Vec<&str> = match name {
        ToolName::CustomQuery => vec!["sql"],
        ToolName::DescribeTable => vec!["table"],
        _ => vec![],
    };
    json!({ "type": "object", "properties": properties, "required": required })
}

fn output_schema(tool: &Tool) -> Value {
    let row = if tool.name == ToolName::CustomQuery {
        json!({ "type": "object", "additionalProperties": true })
    } else {
        let props: Map<String, Value> = tool
            .fields
            .iter()
            .map(|f| (f.to_string(), json!({ "type": "string" })))
            .collect();
        json!({ "type": "object", "properties": props, "required": tool.required })
    };
    let mut properties = json!({
        "rows": { "type": "array", "items": row },
        "row_count": { "type": "integer", "description": "Rows returned." },
        "truncated": { "type": "boolean", "description": "True when more rows exist than `limit` allowed." },
        "elapsed_ms": { "type": "integer", "description": "Time osqueryi took, in milliseconds." },
    });
    if let Some(p) = properties.as_object_mut() {
        match tool.name {
            ToolName::CustomQuery => {
                p.insert(
                    "sql".into(),
                    json!({ "type": "string", "description": "The SQL that ran." }),
                );
            }
            ToolName::InstalledPackages | ToolName::RunningServices => {
                p.insert(
                    "sources".into(),
                    json!({
                        "type": "array",
                        "items": { "type": "string" },
                        "description": "The osquery tables the rows came from: the ones this host's osquery has.",
                    }),
                );
            }
            _ => {}
        }
    }
    json!({ "type": "object", "properties": properties, "required": ["rows"] })
}

/// A validated call, ready for a worker. Two calls with equal plans get
/// equal answers (the whole plan, not `sql` alone, identifies a call).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Plan {
    pub tool: ToolName,
    /// The SQL to run. installed_packages and running_services hold the query
    /// over every candidate table here; the worker narrows it to the tables
    /// this host has (see `catalog`).
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
        ToolName::InstalledPackages => (catalog::union_sql(catalog::PACKAGE_SOURCES), None),
        ToolName::RunningServices => (catalog::union_sql(catalog::SERVICE_SOURCES), None),
        ToolName::ListTables => {
            pattern = pattern_arg(args)?;
            (catalog::REGISTRY_SQL.to_string(), None)
        }
        ToolName::DescribeTable => {
            let name = table_arg(args)?;
            if !policy.is_table_allowed(&name) {
                return Err(format!(
                    "table {name} is not available: this server refuses it (it reaches the network, reads arbitrary files or holds secrets, or is not on the allow list)"
                ));
            }
            let sql = catalog::columns_sql(&name);
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

/// Cuts rows to the limit and adds readable companions to raw values.
pub fn finish(plan: &Plan, mut rows: Vec<Row>) -> Vec<Row> {
    if let Some(limit) = plan.limit {
        rows.truncate(limit);
    }
    let enrich: fn(&mut Row) = match plan.tool {
        ToolName::Processes => enrich::process,
        ToolName::NetworkConnections => enrich::socket,
        ToolName::DiskUsage => enrich::mount,
        ToolName::DescribeTable => enrich::column,
        _ => return rows,
    };
    rows.iter_mut().for_each(enrich);
    rows
}

mod enrich {
    use super::Row;
    use serde_json::Value;

    fn num(row: &Row, key: &str) -> Option<u64> {
        row.get(key)?.as_str()?.trim().parse().ok()
    }

    fn set(row: &mut Row, key: &str, value: String) {
        row.insert(key.to_string(), Value::String(value));
    }

    pub fn process(row: &mut Row) {
        let mib = num(row, "resident_size").map(|b| format!("{:.1}", b as f64 / 1_048_576.0));
        set(row, "resident_mib", mib.unwrap_or_default());
    }

    pub fn socket(row: &mut Row) {
        let protocol = match num(row, "protocol") {
            Some(6) => "tcp".to_string(),
            Some(17) => "udp".to_string(),
            Some(1) => "icmp".to_string(),
            Some(58) => "icmpv6".to_string(),
            Some(136) => "udplite".to_string(),
            Some(255) => "raw".to_string(),
            Some(n) => n.to_string(),
            None => String::new(),
        };
        let family = match num(row, "family") {
            Some(2) => "ipv4",
            Some(10) if cfg!(target_os = "linux") => "ipv6",
            Some(30) if cfg!(target_os = "macos") => "ipv6",
            Some(1) => "unix",
            _ => "",
        };
        set(row, "protocol_name", protocol);
        set(row, "family_name", family.to_string());
    }

    /// PRAGMA table_info's cid, notnull, pk and dflt_value say nothing about
    /// an osquery table; only the name and type stay.
    pub fn column(row: &mut Row) {
        row.retain(|k, _| k == "name" || k == "type");
    }

    pub fn mount(row: &mut Row) {
        let size = num(row, "blocks_size");
        let total = size
            .zip(num(row, "blocks"))
            .map(|(s, b)| s.saturating_mul(b));
        let avail = size
            .zip(num(row, "blocks_available"))
            .map(|(s, b)| s.saturating_mul(b));
        let free = size
            .zip(num(row, "blocks_free"))
            .map(|(s, b)| s.saturating_mul(b));
        // As df computes it: used / (used + available to unprivileged users).
        let used_percent = match (total, free, avail) {
            (Some(t), Some(f), Some(a)) if t > 0 => {
                let used = t.saturating_sub(f);
                let denom = used + a;
                if denom == 0 {
                    String::new()
                } else {
                    format!("{:.1}", used as f64 * 100.0 / denom as f64)
                }
            }
            _ => String::new(),
        };
        set(
            row,
            "total_bytes",
            total.map(|t| t.to_string()).unwrap_or_default(),
        );
        set(
            row,
            "available_bytes",
            avail.map(|a| a.to_string()).unwrap_or_default(),
        );
        set(row, "used_percent", used_percent);
    }
}

/// The SQL behind each fixed tool. macOS gets its own where the Linux table
/// does not exist there; every variant selects the same column names.
mod queries {
    pub const SYSTEM_INFO: &str = "SELECT hostname, computer_name, cpu_brand, cpu_logical_cores, cpu_physical_cores, physical_memory, hardware_model, uuid FROM system_info;";
    pub const PROCESSES: &str = "SELECT pid, name, path, cmdline, state, uid, parent, threads, resident_size, total_size FROM processes ORDER BY resident_size DESC";
    pub const USERS: &str = "SELECT uid, gid, username, description, directory, shell FROM users;";
    pub const INTERFACES: &str = "SELECT d.interface, d.mac, d.type, d.mtu, d.metric, d.flags, group_concat(a.address) AS addresses FROM interface_details d LEFT JOIN interface_addresses a ON a.interface = d.interface GROUP BY d.interface;";
    pub const OPEN_FILES: &str = "SELECT pid, fd, path FROM process_open_files";
    pub const MOUNTS: &str = "SELECT path, device, type, blocks_size, blocks, blocks_free, blocks_available, inodes, inodes_free FROM mounts;";

    #[cfg(not(target_os = "macos"))]
    pub const SOCKETS: &str = "SELECT pid, family, protocol, local_address, local_port, remote_address, remote_port, state FROM process_open_sockets WHERE family IN (2, 10)";
    #[cfg(target_os = "macos")]
    pub const SOCKETS: &str = "SELECT pid, family, protocol, local_address, local_port, remote_address, remote_port, state FROM process_open_sockets WHERE family IN (2, 30)";
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn every_tool_is_described_for_strict_clients() {
        let list = list();
        let tools = list["tools"].as_array().expect("array");
        assert_eq!(tools.len(), 12);
        for t in tools {
            assert_eq!(t["inputSchema"]["type"], "object", "{}", t["name"]);
            assert_eq!(t["outputSchema"]["type"], "object");
            assert!(t["description"].as_str().is_some_and(|d| d.len() > 20));
            assert_eq!(t["annotations"]["readOnlyHint"], true);
            assert_eq!(t["annotations"]["destructiveHint"], false);
            assert_eq!(t["annotations"]["openWorldHint"], false);
        }
    }

    #[test]
    fn companions_are_added_without_dropping_originals() {
        let row = |v: Value| v.as_object().cloned().unwrap_or_default();
        let p = plan(
            tool("network_connections"),
            &Map::new(),
            &TablePolicy::default(),
        )
        .expect("valid");
        let rows = finish(
            &p,
            vec![
                row(json!({"protocol": "6", "family": "10"})),
                row(json!({"protocol": "17", "family": "2"})),
            ],
        );
        assert_eq!(rows[0]["protocol"], "6");
        assert_eq!(rows[0]["protocol_name"], "tcp");
        assert_eq!(rows[0]["family_name"], "ipv6");
        assert_eq!(rows[1]["protocol_name"], "udp");
        let p = plan(tool("disk_usage"), &Map::new(), &TablePolicy::default()).expect("valid");
        let rows = finish(
            &p,
            vec![row(
                json!({"blocks_size": "4096", "blocks": "1000", "blocks_free": "250", "blocks_available": "200"}),
            )],
        );
        assert_eq!(rows[0]["total_bytes"], "4096000");
        assert_eq!(rows[0]["available_bytes"], "819200");
        assert_eq!(rows[0]["used_percent"], "78.9");
        let rows = finish(
            &p,
            vec![row(
                json!({"blocks_size": "0", "blocks": "0", "blocks_free": "0", "blocks_available": "0"}),
            )],
        );
        assert_eq!(rows[0]["used_percent"], "");
    }

    #[test]
    fn limit_is_enforced_on_returned_rows() {
        let p = plan(
            tool("processes"),
            &args(json!({ "limit": 2 })),
            &TablePolicy::default(),
        )
        .expect("valid");
        let rows = (0..5)
            .map(|i| {
                json!({ "pid": i.to_string(), "resident_size": "1048576" })
                    .as_object()
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        let rows = finish(&p, rows);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["resident_mib"], "1.0");
    }
}

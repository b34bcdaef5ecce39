//! What this host's osquery offers, and the work a worker does for one call:
//! the active tables of `osquery_registry` (asked once, cached in the
//! [`Context`]), the package and service queries narrowed to the tables that
//! exist, list_tables' filter and describe_table's checks.
//!
//! Everything here runs on a worker thread: asking the registry starts
//! osqueryi, which the reader thread must never wait for.

use serde_json::{Value, json};

use crate::osquery::{Control, Row, RunError};
use crate::results::Meta;
use crate::server::Context;
use crate::tools::{Plan, ToolName};

/// The server's own discovery query (never the user's: no guard involved).
pub const REGISTRY_SQL: &str =
    "SELECT name FROM osquery_registry WHERE registry = 'table' AND active = 1;";

/// One table a fixed tool can read, and how its rows become the tool's
/// columns. Every `select` names the same columns, so any subset can be
/// joined with UNION ALL.
pub struct Source {
    pub table: &'static str,
    pub select: &'static str,
}

#[cfg(not(target_os = "macos"))]
pub const PACKAGE_SOURCES: &[Source] = &[
    Source {
        table: "deb_packages",
        select: "SELECT name, version, arch, 'deb' AS source FROM deb_packages",
    },
    Source {
        table: "rpm_packages",
        select: "SELECT name, version || '-' || release AS version, arch, 'rpm' AS source FROM rpm_packages",
    },
    Source {
        table: "portage_packages",
        select: "SELECT package AS name, version, '' AS arch, 'portage' AS source FROM portage_packages",
    },
];
#[cfg(target_os = "macos")]
pub const PACKAGE_SOURCES: &[Source] = &[
    Source {
        table: "apps",
        select: "SELECT name, bundle_short_version AS version, '' AS arch, 'apps' AS source FROM apps",
    },
    Source {
        table: "homebrew_packages",
        select: "SELECT name, version, '' AS arch, 'homebrew' AS source FROM homebrew_packages",
    },
];

#[cfg(not(target_os = "macos"))]
pub const SERVICE_SOURCES: &[Source] = &[Source {
    table: "systemd_units",
    select: "SELECT id AS name, description, active_state AS state, sub_state, fragment_path, user FROM systemd_units WHERE active_state = 'active' AND sub_state = 'running'",
}];
#[cfg(target_os = "macos")]
pub const SERVICE_SOURCES: &[Source] = &[Source {
    table: "launchd",
    select: "SELECT label AS name, program AS description, 'loaded' AS state, '' AS sub_state, path AS fragment_path, username AS user FROM launchd WHERE disabled != '1'",
}];

pub fn union_sql<'a>(sources: impl IntoIterator<Item = &'a Source>) -> String {
    let parts: Vec<&str> = sources.into_iter().map(|s| s.select).collect();
    format!("{};", parts.join(" UNION ALL "))
}

/// `name` is a validated identifier; quoting keeps names that are also SQL
/// keywords (`group`) working.
pub fn columns_sql(name: &str) -> String {
    format!("PRAGMA table_info(\"{name}\");")
}

/// Rows to answer with, and what `structuredContent` says besides them.
pub struct Fetched {
    pub rows: Vec<Row>,
    pub meta: Meta,
    /// osquery's own warnings, for the log.
    pub warnings: Vec<String>,
}

/// Why a call has no rows: the text the model reads, and the log outcome.
pub struct Failure {
    pub message: String,
    pub outcome: &'static str,
}

impl From<RunError> for Failure {
    fn from(e: RunError) -> Failure {
        let outcome = match e {
            RunError::Timeout(_) => "timeout",
            RunError::Cancelled => "cancelled",
            _ => "tool_error",
        };
        Failure {
            message: e.to_string(),
            outcome,
        }
    }
}

/// Gets the rows for a planned call (before `tools::finish`).
pub fn fetch(ctx: &Context, plan: &Plan, control: &Control) -> Result<Fetched, Failure> {
    match plan.tool {
        ToolName::ListTables => {
            let tables = registry(ctx, control)?;
            let rows = tables
                .iter()
                .filter(|t| ctx.policy.is_table_allowed(t))
                .filter(|t| plan.pattern.as_deref().is_none_or(|p| t.contains(p)))
                .map(|t| row(json!({ "name": t })))
                .collect();
            Ok(Fetched {
                rows,
                meta: Meta::new(),
                warnings: Vec::new(),
            })
        }
        ToolName::DescribeTable => {
            // plan() already refused tables outside the policy.
            let table = plan.table.as_deref().unwrap_or_default();
            let fetched = run(ctx, &plan.sql, control)?;
            if fetched.rows.is_empty() {
                return Err(Failure {
                    message: format!("no such table: {table}; use list_tables"),
                    outcome: "tool_error",
                });
            }
            Ok(fetched)
        }
        ToolName::InstalledPackages => narrowed(ctx, control, PACKAGE_SOURCES, "package tables"),
        ToolName::RunningServices => narrowed(ctx, control, SERVICE_SOURCES, "service table"),
        _ => run(ctx, &plan.sql, control),
    }
}

fn run(ctx: &Context, sql: &str, control: &Control) -> Result<Fetched, Failure> {
    let output = ctx.runner.run(sql, control)?;
    Ok(Fetched {
        rows: output.rows,
        meta: Meta::new(),
        warnings: output.warnings,
    })
}

/// Runs a fixed tool over only the candidate tables this host's osquery has:
/// one missing table would otherwise fail the whole UNION with "no such table".
fn narrowed(
    ctx: &Context,
    control: &Control,
    candidates: &[Source],
    what: &str,
) -> Result<Fetched, Failure> {
    let tables = registry(ctx, control)?;
    let present: Vec<&Source> = candidates
        .iter()
        .filter(|s| tables.iter().any(|t| t == s.table))
        .collect();
    if present.is_empty() {
        let looked: Vec<&str> = candidates.iter().map(|s| s.table).collect();
        return Err(Failure {
            message: format!(
                "this host's osquery has no {what} (looked for {}); custom_query with list_tables may find another source",
                looked.join(", ")
            ),
            outcome: "tool_error",
        });
    }
    let sources: Vec<Value> = present.iter().map(|s| json!(s.table)).collect();
    let mut fetched = run(ctx, &union_sql(present), control)?;
    fetched.meta.insert("sources".into(), Value::Array(sources));
    Ok(fetched)
}

/// The active tables, asked on first use and then cached: the osqueryi binary
/// does not change under a running server. A failed lookup is not cached.
pub fn registry<'a>(ctx: &'a Context, control: &Control) -> Result<&'a [String], Failure> {
    if let Some(tables) = ctx.tables.get() {
        return Ok(tables);
    }
    let output = ctx.runner.run(REGISTRY_SQL, control)?;
    let mut names: Vec<String> = output
        .rows
        .iter()
        .filter_map(|r| r.get("name").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        return Err(Failure {
            message: "osquery_registry listed no tables; is this osqueryi working?".into(),
            outcome: "tool_error",
        });
    }
    log::info!("osquery offers {} tables", names.len());
    // Two workers may race to fill the cache; either answer is the same.
    let _ = ctx.tables.set(names);
    Ok(ctx.tables.get().map(Vec::as_slice).unwrap_or_default())
}

fn row(v: Value) -> Row {
    match v {
        Value::Object(m) => m,
        _ => Row::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_names_every_source_and_ends_once() {
        let sql = union_sql(PACKAGE_SOURCES);
        assert_eq!(
            sql.matches(" UNION ALL ").count(),
            PACKAGE_SOURCES.len() - 1
        );
        assert!(sql.ends_with(';') && !sql.ends_with(";;"));
        for s in PACKAGE_SOURCES.iter().chain(SERVICE_SOURCES) {
            assert!(
                s.select.contains(&format!("FROM {}", s.table)),
                "{}",
                s.table
            );
        }
    }

    #[test]
    fn columns_sql_quotes_the_name() {
        assert_eq!(columns_sql("group"), "PRAGMA table_info(\"group\");");
    }
}

//! The work a worker does for one call: an [`Engine`] runs a [`Plan`] and
//! hands back typed rows and metadata. It asks `osquery_registry` for the
//! active tables once and caches them, narrows the package and service
//! queries to the tables that exist, filters list_tables, checks
//! describe_table's answer, cuts and enriches the rows and masks secrets.
//!
//! Everything here may block on osqueryi or osqueryd, so it runs on a worker
//! thread (or the one-shot command line), never on the reader.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use serde::Serialize;

use super::describe::{self, TableRules};
use super::queries::{self, PACKAGE_SOURCES, REGISTRY_SQL, SERVICE_SOURCES, Source};
use super::{LIMIT_MAX, Outcome, Plan, ToolName, count, enrich, hints, route};
use crate::config::{Backend, Config, WORKERS};
use crate::guard::TablePolicy;
use crate::osquery::{
    ChildLimits, Control, Daemon, Osqueryi, Output, RunError, Runner, Slots, Table, TableBuilder,
    Tally, Via,
};

/// What a worker needs to answer a call, and nothing of the server around
/// it: the command line builds one for a one-shot call or health check.
#[derive(Debug)]
pub struct Engine {
    pub runner: Runner,
    /// Which tables custom_query, list_tables and describe_table may touch;
    /// also passed to osqueryi.
    pub policy: TablePolicy,
    /// Mask values that look like secrets before anyone sees them.
    pub redact: bool,
    /// Queries answered per backend, for the metrics.
    pub tally: Arc<Tally>,
    /// The active tables osquery_registry lists, asked once by a worker the
    /// first time a tool needs them.
    tables: OnceLock<Vec<String>>,
}

/// Rows to answer with, and what `structuredContent` says besides them.
#[derive(Debug)]
pub struct Fetched {
    pub rows: Table,
    pub meta: StructuredMeta,
    /// A line for the reader when rows were cut ("more exist").
    pub note: Option<String>,
}

/// The fields of `structuredContent` besides `rows`. Declared in name order,
/// the order they have always been written in.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StructuredMeta {
    pub elapsed_ms: u64,
    /// Paged answers: what to pass as `cursor` for the next page, absent on
    /// the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// Paged answers: which page this is, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<usize>,
    /// Rows in this answer (in this page, when paged).
    pub row_count: usize,
    /// custom_query: the SQL that ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// installed_packages, running_services: the tables the rows came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<&'static str>>,
    /// describe_table: osquery's rules for the table, when its specs know it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<TableRules>,
    /// Paged answers: rows in all pages together.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_rows: Option<usize>,
    pub truncated: bool,
}

/// Why a call has no rows: the text the model reads, and the log outcome.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub outcome: Outcome,
}

impl Failure {
    fn tool_error(message: String) -> Failure {
        Failure {
            message,
            outcome: Outcome::ToolError,
        }
    }
}

impl From<RunError> for Failure {
    fn from(e: RunError) -> Failure {
        let outcome = match e {
            RunError::Timeout(_) => Outcome::Timeout,
            RunError::Cancelled => Outcome::Cancelled,
            _ => Outcome::ToolError,
        };
        Failure {
            message: hints::run_error(&e),
            outcome,
        }
    }
}

/// Rows as osquery gave them, before the tool cuts and enriches them.
struct Raw {
    rows: Table,
    sources: Option<Vec<&'static str>>,
    table: Option<TableRules>,
    /// A line for the reader about the rows (describe_table's rules).
    note: Option<String>,
    /// osquery's own warnings, for the log.
    warnings: Vec<String>,
}

impl Raw {
    fn rows(rows: Table) -> Raw {
        Raw {
            rows,
            sources: None,
            table: None,
            note: None,
            warnings: Vec::new(),
        }
    }
}

impl Engine {
    /// An engine with the backend `config` names; osqueryi gets `home` as
    /// its HOME.
    pub fn new(config: &Config, home: PathBuf) -> Engine {
        let policy = TablePolicy::new(config.deny_tables.clone(), config.allow_tables.clone());
        let osqueryi = || Osqueryi {
            osquery_path: config.osquery_path.clone(),
            timeout: config.timeout,
            max_output: config.max_response_size,
            disable_tables: policy.disable_tables_flag(),
            enable_tables: super::enable::enable_tables_flag(&policy),
            home: home.clone(),
            limits: ChildLimits {
                nice: config.child_nice,
                address_space_bytes: config.child_memory_bytes,
                cpu_seconds: config.child_cpu_seconds.unwrap_or(config.timeout.as_secs()),
            },
            slots: Slots::new(WORKERS),
        };
        // One connection per worker is kept between calls.
        let daemon = || {
            Daemon::new(
                config.socket.clone(),
                config.timeout,
                config.max_response_size,
                WORKERS,
            )
        };
        let runner = match config.backend {
            Backend::Osqueryi => Runner::Osqueryi(osqueryi()),
            Backend::Daemon => Runner::Daemon(daemon()),
            Backend::Hybrid => Runner::Hybrid(osqueryi(), daemon()),
        };
        Engine {
            runner,
            policy,
            redact: config.redact,
            tally: Arc::default(),
            tables: OnceLock::new(),
        }
    }

    /// Answers a planned call: its rows cut to the limit, enriched and
    /// redacted, with the metadata the result carries.
    pub fn fetch(&self, plan: &Plan, control: &Control) -> Result<Fetched, Failure> {
        let tool = plan.tool.as_str();
        log::debug!(tool = tool; "sql: {}", crate::logging::truncate(&plan.sql, 200));
        let started = Instant::now();
        let raw = self.raw(plan, control).map_err(|f| Failure {
            message: self.masked(f.message),
            ..f
        })?;
        for w in &raw.warnings {
            // Logs may reach the client (notifications/message).
            log::warn!(tool = tool; "osqueryi: {}", self.masked(w.clone()));
        }
        let total = raw.rows.len();
        let mut rows = enrich::finish(plan, raw.rows);
        if self.redact {
            rows.replace_values(crate::redact::redact).map_err(|_| {
                Failure::tool_error("the masked rows hold more than 4 GiB of text".into())
            })?;
        }
        let truncated = rows.len() < total;
        let note = if truncated {
            Some(format!(
                "showing the first {} of {tool}; more exist: raise `limit` (up to {LIMIT_MAX}) to see them",
                count(rows.len(), "row"),
            ))
        } else {
            raw.note
        };
        let note = note.map(|n| self.masked(n));
        // The paging fields are the pages' to fill in.
        let meta = StructuredMeta {
            elapsed_ms: started.elapsed().as_millis() as u64,
            row_count: rows.len(),
            sql: (plan.tool == ToolName::CustomQuery).then(|| plan.sql.clone()),
            sources: raw.sources,
            table: raw.table,
            truncated,
            ..StructuredMeta::default()
        };
        Ok(Fetched { rows, meta, note })
    }

    /// Text the model will read, masked like the rows: osquery's errors echo
    /// values (`JSON path error near '-pS3cret…'`), and this is the one
    /// place every error and note of a call passes.
    fn masked(&self, text: String) -> String {
        match self.redact.then(|| crate::redact::redact(&text)).flatten() {
            Some(masked) => masked,
            None => text,
        }
    }

    /// What a call's progress note says while its query runs.
    pub fn progress_note(&self, plan: &Plan) -> &'static str {
        match self.via(&plan.sql) {
            Via::Osqueryi => "running osqueryi",
            Via::Osqueryd => "querying osqueryd",
        }
    }

    /// Gets the rows for a planned call (before `enrich::finish`).
    fn raw(&self, plan: &Plan, control: &Control) -> Result<Raw, Failure> {
        match plan.tool {
            ToolName::ListTables => {
                let tables = self.registry(control)?;
                let mut rows = TableBuilder::new();
                tables
                    .iter()
                    .filter(|t| self.policy.is_table_allowed(t))
                    .filter(|t| plan.pattern.as_deref().is_none_or(|p| t.contains(p)))
                    .for_each(|t| {
                        if crate::table_specs::is_event_table(t) {
                            rows.push_row([("event", "true"), ("name", t.as_str())]);
                        } else {
                            rows.push_row([("name", t)]);
                        }
                    });
                Ok(Raw::rows(rows.finish().unwrap_or_default()))
            }
            ToolName::DescribeTable => {
                // plan() already refused tables outside the policy.
                let table = plan.table.as_deref().unwrap_or_default();
                let mut raw = match self.via(&plan.sql) {
                    Via::Osqueryi => self.run(&plan.sql, control)?,
                    Via::Osqueryd => self.daemon_columns(table, control)?,
                };
                if raw.rows.is_empty() {
                    return Err(Failure::tool_error(format!(
                        "no such table: {table}; use list_tables"
                    )));
                }
                raw.table = describe::rules(table);
                raw.note = Some(describe::note(table, raw.table.as_ref()));
                Ok(raw)
            }
            ToolName::InstalledPackages => {
                // One row more than the limit, as plan() asked, so the cut shows.
                let rows = plan.limit.unwrap_or(LIMIT_MAX as usize) + 1;
                let sql = |present: &[&Source]| {
                    queries::packages_sql(present.iter().copied(), plan.pattern.as_deref(), rows)
                };
                self.narrowed(control, PACKAGE_SOURCES, "package tables", sql)
            }
            ToolName::RunningServices => {
                let sql = |present: &[&Source]| queries::union_sql(present.iter().copied());
                self.narrowed(control, SERVICE_SOURCES, "service table", sql)
            }
            _ => self.run(&plan.sql, control),
        }
    }

    fn run(&self, sql: &str, control: &Control) -> Result<Raw, Failure> {
        let output = self.query(sql, control)?;
        Ok(Raw {
            warnings: output.warnings,
            ..Raw::rows(output.rows)
        })
    }

    /// Which backend answers `sql`: in hybrid, the daemon if it reads an
    /// event table.
    fn via(&self, sql: &str) -> Via {
        let hybrid = matches!(self.runner, Runner::Hybrid(..));
        self.runner.via(hybrid && route::reads_event_table(sql))
    }

    /// Every query of the engine goes through here, to be routed and counted.
    fn query(&self, sql: &str, control: &Control) -> Result<Output, RunError> {
        let via = self.via(sql);
        let result = self.runner.run(via, sql, control);
        self.tally.count(via, &result);
        result
    }

    /// describe_table through osqueryd: `getQueryColumns` on a `SELECT *`,
    /// which osqueryd prepares without running. An unknown table is no rows,
    /// as PRAGMA table_info answers on the osqueryi path.
    fn daemon_columns(&self, table: &str, control: &Control) -> Result<Raw, Failure> {
        let Some(daemon) = self.runner.daemon() else {
            return Err(Failure::tool_error("no osqueryd backend".into()));
        };
        let result = daemon.columns(&queries::select_all_sql(table), control);
        self.tally.count(Via::Osqueryd, &result);
        match result {
            Ok(output) => Ok(Raw::rows(output.rows)),
            Err(RunError::Daemon(why)) if why.contains("no such table") => {
                Ok(Raw::rows(Table::default()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Runs a fixed tool over only the candidate tables this host's osquery
    /// has: one missing table would otherwise fail the whole UNION with "no
    /// such table".
    fn narrowed(
        &self,
        control: &Control,
        candidates: &[Source],
        what: &str,
        sql: impl Fn(&[&Source]) -> String,
    ) -> Result<Raw, Failure> {
        let tables = self.registry(control)?;
        let present: Vec<&Source> = candidates
            .iter()
            .filter(|s| tables.iter().any(|t| t == s.table))
            .collect();
        if present.is_empty() {
            let looked: Vec<&str> = candidates.iter().map(|s| s.table).collect();
            return Err(Failure::tool_error(format!(
                "this host's osquery has no {what} (looked for {}); custom_query with list_tables may find another source",
                looked.join(", ")
            )));
        }
        let sources = present.iter().map(|s| s.table).collect();
        let mut raw = self.run(&sql(&present), control)?;
        raw.sources = Some(sources);
        Ok(raw)
    }

    /// The active tables, asked on first use and then cached: the osqueryi
    /// binary does not change under a running server. A failed lookup is not
    /// cached.
    fn registry(&self, control: &Control) -> Result<&[String], Failure> {
        if let Some(tables) = self.tables.get() {
            return Ok(tables);
        }
        let output = self.query(REGISTRY_SQL, control)?;
        let mut names: Vec<String> = output
            .rows
            .rows()
            .filter_map(|r| r.get("name"))
            .map(str::to_string)
            .collect();
        names.sort();
        names.dedup();
        if names.is_empty() {
            return Err(Failure::tool_error(
                "osquery_registry listed no tables; is this osqueryi working?".into(),
            ));
        }
        log::info!("osquery offers {} tables", names.len());
        // Two workers may race to fill the cache; either answer is the same.
        let _ = self.tables.set(names);
        Ok(self.tables.get().map(Vec::as_slice).unwrap_or_default())
    }
}

//! custom_query's SQL guard (placeholder until the tokenizer lands).

use crate::config::MAX_SQL_CHARS;

/// Length and shape checks that need no tokenizer.
pub fn check_length(sql: &str) -> Result<(), String> {
    if sql.trim().is_empty() {
        return Err("sql must not be empty: give one read-only SELECT statement".into());
    }
    let chars = sql.chars().count();
    if chars > MAX_SQL_CHARS {
        return Err(format!(
            "sql is {chars} characters; the limit is {MAX_SQL_CHARS}"
        ));
    }
    let head: String = sql.trim_start().chars().take(6).collect();
    if !head.eq_ignore_ascii_case("select") {
        return Err("only SELECT statements are allowed".into());
    }
    Ok(())
}

/// Tables an untrusted caller never gets (reference/osquery.md): they reach the
/// network, read arbitrary files or hold secrets. Real table names, so the list
/// doubles as osqueryi's `--disable_tables`.
pub const DEFAULT_DENY_TABLES: &[&str] = &[
    "curl",
    "curl_certificate",
    "carves",
    "shadow",
    "sudoers",
    "known_hosts",
    "kernel_keys",
    "msr",
    "yara",
    "yara_file",
    "yara_process",
    "yara_events",
    "hash",
    "magic",
    "extended_attributes",
    "augeas",
    "process_envs",
    "docker_container_envs",
    "shell_history",
    "authorized_keys",
    "user_ssh_keys",
    "ssh_configs",
    "ec2_instance_metadata",
    "ec2_instance_tags",
    "azure_instance_metadata",
    "azure_instance_tags",
];

/// Which tables a query may read (placeholder with the real API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablePolicy {
    deny: Vec<String>,
    allow: Option<Vec<String>>,
}

impl TablePolicy {
    /// `deny: None` means [`DEFAULT_DENY_TABLES`]; `allow: None` means every
    /// table not denied.
    pub fn new(deny: Option<Vec<String>>, allow: Option<Vec<String>>) -> TablePolicy {
        let lower = |l: Vec<String>| -> Vec<String> {
            l.into_iter()
                .map(|n| n.trim().to_ascii_lowercase())
                .filter(|n| !n.is_empty())
                .collect()
        };
        TablePolicy {
            deny: match deny {
                Some(l) => lower(l),
                None => DEFAULT_DENY_TABLES.iter().map(|s| s.to_string()).collect(),
            },
            allow: allow.map(lower),
        }
    }

    pub fn disable_tables_flag(&self) -> String {
        self.deny.join(",")
    }

    /// True if a query may read `name`: not denied and, with an allow list,
    /// listed.
    pub fn is_table_allowed(&self, name: &str) -> bool {
        !self.deny.iter().any(|d| d.eq_ignore_ascii_case(name))
            && self
                .allow
                .as_ref()
                .is_none_or(|l| l.iter().any(|a| a.eq_ignore_ascii_case(name)))
    }
}

/// Why a query was refused (placeholder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub rule: &'static str,
    pub word: String,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "query rejected by rule '{}': {}", self.rule, self.word)
    }
}

/// Placeholder check: shape and length, and no word spelled like a table the
/// policy refuses. The tokenizer-based guard replaces it.
pub fn check(sql: &str, policy: &TablePolicy) -> Result<(), Rejection> {
    check_length(sql).map_err(|why| Rejection {
        rule: "not-select",
        word: why,
    })?;
    let words = sql
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty());
    for w in words {
        if policy.deny.iter().any(|d| d.eq_ignore_ascii_case(w)) {
            return Err(Rejection {
                rule: "denied-table",
                word: w.to_string(),
            });
        }
    }
    Ok(())
}

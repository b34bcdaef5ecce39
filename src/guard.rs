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

/// Which tables custom_query may read (placeholder).
pub struct TablePolicy {
    deny: Vec<String>,
}

impl TablePolicy {
    pub fn from_config(config: &crate::config::Config) -> TablePolicy {
        TablePolicy {
            deny: config.deny_tables.clone().unwrap_or_default(),
        }
    }

    pub fn disable_tables_flag(&self) -> String {
        self.deny.join(",")
    }
}

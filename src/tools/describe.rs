//! describe_table's account of osquery's own rules for a table, from its
//! published specs (`table_specs`): what a WHERE clause must constrain, which
//! constraints osquery hands to the table, whether rows come only from events.

use serde::Serialize;

use crate::table_specs;

/// `structuredContent.table` of describe_table: the table's rules on this
/// platform, when osquery's specs know the table.
#[derive(Debug, Clone, Serialize)]
pub struct TableRules {
    /// osquery's name for it (an alias such as `yara` names `yara_file`).
    pub name: &'static str,
    /// Rows only under osqueryd with events enabled.
    pub event: bool,
    /// WHERE must constrain at least one of these.
    pub required: Vec<&'static str>,
    /// Constraints on these are looked up by the table itself.
    pub indexed: Vec<&'static str>,
    /// Only the current user's rows unless the query names `uid`.
    pub user_data: bool,
}

pub fn rules(table: &str) -> Option<TableRules> {
    table_specs::spec(table).map(|s| TableRules {
        name: s.name,
        event: s.event,
        required: s.required.clone(),
        indexed: s.indexed.clone(),
        user_data: s.user_data,
    })
}

/// The same rules as a line the model reads beside the columns.
pub fn note(table: &str, rules: Option<&TableRules>) -> String {
    let Some(r) = rules else {
        return format!(
            "osquery's published table specs do not describe {table} (a table from an extension?): its required and indexed columns are unknown"
        );
    };
    let mut parts = Vec::new();
    if r.event {
        parts.push(format!(
            "{table} is an event table: it holds rows only when osqueryd runs with events enabled (osqueryi always answers it empty)"
        ));
    }
    if r.required.is_empty() {
        parts.push("no column is required in WHERE".to_string());
    } else {
        parts.push(format!(
            "WHERE must constrain {}{} (without it osquery refuses the query or returns nothing)",
            if r.required.len() > 1 { "one of " } else { "" },
            r.required.join(", ")
        ));
    }
    if !r.indexed.is_empty() {
        parts.push(format!(
            "constraints on {} are looked up directly (cheap); other columns are filtered after every row is read",
            r.indexed.join(", ")
        ));
    }
    if r.user_data {
        parts.push(
            "it reads only the current user's data unless the query constrains uid (or joins users)"
                .to_string(),
        );
    }
    format!("osquery's rules for {}: {}", r.name, parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_name_required_indexed_and_event_facts() {
        let file = rules("file").expect("osquery has file");
        let text = note("file", Some(&file));
        assert!(
            text.contains("WHERE must constrain one of path, directory"),
            "{text}"
        );
        assert!(text.contains("constraints on path"), "{text}");
        assert!(!text.contains("event"), "{text}");

        let events = rules("process_events").expect("osquery has process_events");
        assert!(events.event);
        let text = note("process_events", Some(&events));
        assert!(text.contains("is an event table"), "{text}");
        assert!(text.contains("no column is required"), "{text}");

        assert!(rules("no_such_table").is_none());
        assert!(note("no_such_table", None).contains("unknown"));
    }
}

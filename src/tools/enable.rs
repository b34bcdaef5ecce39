//! osqueryi's own wall in allow-list mode: `--enable_tables` with the allow
//! list and the tables the fixed tools and the server's own queries read, so
//! a query the guard wrongly passed still finds no other table, as
//! `--disable_tables` does for the deny list.
//!
//! osquery attaches a table only if it is named in `--enable_tables` (when
//! given) and not in `--disable_tables`: disabling wins, so the deny list
//! still holds in allow-list mode (osquery's `SQLiteDBManager::isDisabled`).

use super::queries::{PACKAGE_SOURCES, SERVICE_SOURCES};
use crate::guard::TablePolicy;

/// What the fixed tools and the server's own queries read besides the
/// package and service sources. The fixed tools answer in allow-list mode
/// too, so these stay open to them; a test checks that every fixed query
/// reads nothing else.
const FIXED_TABLES: &[&str] = &[
    "interface_addresses",
    "interface_details",
    "mounts",
    "osquery_registry",
    "process_open_files",
    "process_open_sockets",
    "processes",
    "system_info",
    "users",
];

/// The `--enable_tables` value in allow-list mode; empty (no flag) otherwise.
pub fn enable_tables_flag(policy: &TablePolicy) -> String {
    let Some(allow) = policy.allow() else {
        return String::new();
    };
    let sources = PACKAGE_SOURCES.iter().chain(SERVICE_SOURCES);
    // osquery enables real tables: an alias's view exists only when its
    // table is attached (`yara` needs `yara_file`).
    let real = allow
        .iter()
        .filter_map(|name| crate::table_specs::spec(name).map(|s| s.name));
    let mut names: Vec<&str> = allow
        .iter()
        .map(String::as_str)
        .chain(real)
        .chain(FIXED_TABLES.iter().copied())
        .chain(sources.map(|s| s.table))
        .collect();
    names.sort_unstable();
    names.dedup();
    names.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::{TOOLS, ToolName, plan, queries};
    use serde_json::Map;

    #[test]
    fn allow_list_mode_enables_the_list_and_what_the_fixed_tools_read() {
        assert_eq!(enable_tables_flag(&TablePolicy::default()), "");
        let policy = TablePolicy::new(None, Some(vec!["Zzz_table".into(), "yara".into()]));
        let flag = enable_tables_flag(&policy);
        let names: Vec<&str> = flag.split(',').collect();
        assert!(names.contains(&"zzz_table") && names.contains(&"deb_packages"));
        assert!(
            names.contains(&"yara") && names.contains(&"yara_file"),
            "{flag}"
        );
        assert!(!names.contains(&"shadow"));
        assert!(names.windows(2).all(|w| w[0] < w[1]), "{flag}");
        // Every other fixed query passes a guard that allows only the enabled
        // tables: none reads a table osqueryi would not open. (The package
        // and service queries read their sources' tables, enabled above.)
        let enabled = TablePolicy::new(
            Some(vec![]),
            Some(names.iter().map(|n| n.to_string()).collect()),
        );
        let by_source = [
            ToolName::InstalledPackages,
            ToolName::RunningServices,
            ToolName::CustomQuery,
            ToolName::DescribeTable,
        ];
        let mut fixed: Vec<String> = TOOLS
            .iter()
            .filter(|t| !by_source.contains(&t.name))
            .map(|t| plan(t, &Map::new(), &policy).map(|p| p.sql))
            .collect::<Result<_, _>>()
            .expect("the fixed tools plan without arguments");
        fixed.push(queries::REGISTRY_SQL.to_string());
        for sql in fixed {
            assert_eq!(crate::guard::check(&sql, &enabled), Ok(()), "{sql}");
        }
    }
}

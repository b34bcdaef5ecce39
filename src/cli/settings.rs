//! From the command line and the environment to the [`Config`] a mode runs
//! with: the deny-list changes checked against the built-in list and widened
//! to osquery's table aliases, and the warnings a changed table policy earns
//! once logging is up.

use crate::config::{Config, Flags};
use crate::guard::{self, TablePolicy};
use crate::table_specs;

/// The configuration from `flags` and the environment, or the one line that
/// says why not (naming the flag or variable).
pub fn load(flags: &Flags) -> Result<Config, String> {
    load_from(flags, |k| std::env::var(k).ok())
}

/// As [`load`], with any variable source.
fn load_from(flags: &Flags, env: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
    let mut config = Config::from_flags_and(flags, env).map_err(|e| e.to_string())?;
    if let Some(changes) = config.deny_tables.take() {
        guard::check_changes(&changes)
            .map_err(|why| format!("{}: {why}", flags.given_as("OSQUERY_DENY_TABLES")))?;
        config.deny_tables = Some(with_aliases(changes));
    }
    Ok(config)
}

/// A table the operator denies is denied under each of its names. osquery's
/// aliases are views of a table (`hosts` of `etc_hosts`); `--disable_tables`
/// matches only the table's own name, so an alias brings its table too.
fn with_aliases(changes: Vec<String>) -> Vec<String> {
    let mut out = changes.clone();
    for added in changes.iter().filter(|c| !c.starts_with('-')) {
        let Some(spec) = table_specs::spec(added) else {
            continue;
        };
        for name in std::iter::once(spec.name).chain(spec.aliases.iter().copied()) {
            let name = name.to_ascii_lowercase();
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// What start-up logs at `warn` about the table policy: every built-in
/// denied table the operator re-opened, with why it was denied, and allowed
/// tables that stay denied.
pub fn table_warnings(config: &Config, flags: &Flags) -> Vec<String> {
    let policy = TablePolicy::new(config.deny_tables.clone(), config.allow_tables.clone());
    let mut warnings = Vec::new();
    if !policy.reopened().is_empty() {
        let tables: Vec<String> = policy
            .reopened()
            .iter()
            .map(|t| format!("{} ({})", t.names().collect::<Vec<_>>().join("/"), t.reason))
            .collect();
        warnings.push(format!(
            "{} re-opens {} built-in denied table(s); custom_query may now read: {}",
            flags.given_as("OSQUERY_DENY_TABLES"),
            tables.len(),
            tables.join("; ")
        ));
    }
    let still_denied: Vec<&str> = policy
        .allow()
        .unwrap_or_default()
        .iter()
        .filter(|t| policy.is_table_denied(t))
        .map(String::as_str)
        .collect();
    if !still_denied.is_empty() {
        warnings.push(format!(
            "{} names tables the deny list refuses, and they stay refused: {}",
            flags.given_as("OSQUERY_ALLOW_TABLES"),
            still_denied.join(", ")
        ));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::DENIED_TABLES;
    use crate::table_specs::{Platform, spec_on};

    fn load_with(args: &[&str]) -> Result<Config, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let (flags, rest) = Flags::take(&args).map_err(|e| e.to_string())?;
        assert!(rest.is_empty());
        load_from(&flags, |_| None)
    }

    #[test]
    fn every_denied_table_is_osquerys_name_and_lists_all_its_aliases() {
        for t in DENIED_TABLES {
            let specs: Vec<_> = [Platform::Linux, Platform::Macos]
                .into_iter()
                .filter_map(|p| spec_on(t.name, p))
                .collect();
            assert!(!specs.is_empty(), "{} is no osquery table", t.name);
            for s in specs {
                assert_eq!(s.name, t.name, "{} is an alias of {}", t.name, s.name);
                let mut aliases = t.aliases.to_vec();
                aliases.sort_unstable();
                let mut expected = s.aliases.clone();
                expected.sort_unstable();
                assert_eq!(aliases, expected, "{}", t.name);
            }
        }
    }

    #[test]
    fn the_doc_gives_each_denied_table_its_platforms() {
        let doc = include_str!("../../docs/denied-tables.md");
        for t in DENIED_TABLES {
            let on: Vec<&str> = [(Platform::Linux, "L"), (Platform::Macos, "M")]
                .into_iter()
                .filter(|(p, _)| spec_on(t.name, *p).is_some())
                .map(|(_, code)| code)
                .collect();
            let row = format!(
                "`{}` | {} | {} |",
                t.aliases.last().unwrap_or(&t.name),
                on.join(" "),
                t.reason
            );
            assert!(
                doc.contains(&row),
                "docs/denied-tables.md lacks the row ending {row:?}"
            );
        }
    }

    #[test]
    fn an_added_table_brings_its_aliases_and_an_alias_its_table() {
        let c = load_with(&["--deny-tables", "etc_hosts,Syslog,-yara,users"]).expect("valid");
        let changes = c.deny_tables.unwrap_or_default();
        for name in [
            "etc_hosts",
            "hosts",
            "syslog",
            "syslog_events",
            "-yara",
            "users",
        ] {
            assert!(changes.iter().any(|c| c == name), "{name}: {changes:?}");
        }
    }

    #[test]
    fn a_change_that_cannot_stand_names_where_it_came_from() {
        let err = load_with(&["--deny-tables=-nosuch"]).expect_err("unknown");
        assert!(
            err.starts_with("--deny-tables: -nosuch re-opens nothing"),
            "{err}"
        );
    }

    #[test]
    fn warnings_name_each_re_opened_table_with_its_reason() {
        let c = load_with(&["--deny-tables", "-shell_history,-configurations"]).expect("valid");
        let flags = Flags::take(&["--deny-tables=x".to_string()])
            .expect("valid")
            .0;
        let w = table_warnings(&c, &flags);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("--deny-tables re-opens 2 built-in denied table(s)"),
            "{w:?}"
        );
        assert!(
            w[0].contains("augeas/configurations (parses any configuration file"),
            "{w:?}"
        );
        assert!(
            w[0].contains("shell_history (commands users typed"),
            "{w:?}"
        );
        let none = Config::from_lookup(|_| None).expect("defaults");
        assert!(table_warnings(&none, &Flags::default()).is_empty());
        let allow = Config::from_lookup(|k| {
            (k == "OSQUERY_ALLOW_TABLES").then(|| "processes,shadow".to_string())
        })
        .expect("valid");
        let w = table_warnings(&allow, &Flags::default());
        assert_eq!(
            w,
            [
                "OSQUERY_ALLOW_TABLES names tables the deny list refuses, and they stay refused: shadow"
            ]
        );
    }
}

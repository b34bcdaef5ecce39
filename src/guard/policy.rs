//! Which tables a query may read: the built-in deny list ([`DENIED_TABLES`]),
//! grown or, explicitly, opened by the operator, and an optional allow list.

use super::denied::{DENIED_TABLES, DeniedTable, built_in};

/// Which tables a query may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablePolicy {
    /// Every name the guard refuses (tables and aliases), lower case.
    deny: Vec<String>,
    /// The real table names among them, for osqueryi's `--disable_tables`.
    disable: Vec<String>,
    /// Built-in entries the operator re-opened.
    reopened: Vec<&'static DeniedTable>,
    allow: Option<Vec<String>>,
}

impl Default for TablePolicy {
    fn default() -> Self {
        Self::new(None, None)
    }
}

impl TablePolicy {
    /// `changes` edits the built-in list as `OSQUERY_DENY_TABLES` does: a
    /// name denies that table too; `-name` re-opens a built-in entry (named
    /// by its table or an alias), aliases included. A `-name` that is no
    /// built-in entry changes nothing ([`check_changes`] refuses it at
    /// start). `allow: None` means every table not denied. Names are trimmed
    /// and lower-cased (SQLite matches table names ASCII case-insensitively);
    /// empty names are dropped.
    pub fn new(changes: Option<Vec<String>>, allow: Option<Vec<String>>) -> Self {
        let changes = normalize(changes.unwrap_or_default());
        let reopens = |t: &DeniedTable| {
            changes
                .iter()
                .filter_map(|c| c.strip_prefix('-'))
                .any(|n| t.is_named(n))
        };
        let reopened: Vec<&'static DeniedTable> =
            DENIED_TABLES.iter().filter(|t| reopens(t)).collect();
        let kept = DENIED_TABLES.iter().filter(|t| !reopens(t));
        let added = changes.iter().filter(|c| !c.starts_with('-')).cloned();
        let mut disable: Vec<String> = kept.clone().map(|t| t.name.to_string()).collect();
        let mut deny: Vec<String> = kept.flat_map(|t| t.names()).map(str::to_string).collect();
        for name in added {
            if !deny.contains(&name) {
                deny.push(name.clone());
                disable.push(name);
            }
        }
        TablePolicy {
            deny,
            disable,
            reopened,
            allow: allow.map(normalize),
        }
    }

    /// The denied names (tables and aliases), lower case.
    pub fn deny(&self) -> &[String] {
        &self.deny
    }

    /// Built-in entries re-opened by `-name`.
    pub fn reopened(&self) -> &[&'static DeniedTable] {
        &self.reopened
    }

    /// The allow list, lower case, if allow-list mode is on.
    pub fn allow(&self) -> Option<&[String]> {
        self.allow.as_deref()
    }

    /// The value for osqueryi's `--disable_tables=` flag.
    pub fn disable_tables_flag(&self) -> String {
        self.disable.join(",")
    }

    /// True if `name` is on the deny list.
    pub fn is_table_denied(&self, name: &str) -> bool {
        self.deny.iter().any(|d| d.eq_ignore_ascii_case(name))
    }

    /// True if a query may read `name`: not denied and, in allow-list mode,
    /// listed.
    pub fn is_table_allowed(&self, name: &str) -> bool {
        !self.is_table_denied(name)
            && self
                .allow
                .as_ref()
                .is_none_or(|list| list.iter().any(|a| a.eq_ignore_ascii_case(name)))
    }
}

/// Why `changes` cannot stand: a `-name` that re-opens nothing (a typo
/// would otherwise go unnoticed), or a name both added and re-opened.
pub fn check_changes(changes: &[String]) -> Result<(), String> {
    let changes = normalize(changes.to_vec());
    for c in &changes {
        let Some(name) = c.strip_prefix('-') else {
            continue;
        };
        let Some(entry) = built_in(name) else {
            return Err(format!(
                "-{name} re-opens nothing: {name} is not on the built-in deny list (see --help)"
            ));
        };
        if let Some(both) = changes.iter().find(|a| entry.is_named(a)) {
            return Err(format!("{both} is both denied and re-opened (-{name})"));
        }
    }
    Ok(())
}

fn normalize(list: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for name in list {
        let name = name.trim().to_ascii_lowercase();
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(changes: &[&str]) -> TablePolicy {
        TablePolicy::new(Some(changes.iter().map(|s| s.to_string()).collect()), None)
    }

    #[test]
    fn the_default_denies_every_name_and_disables_the_real_tables() {
        let p = TablePolicy::default();
        let names: Vec<&str> = DENIED_TABLES.iter().map(|t| t.name).collect();
        assert_eq!(p.disable_tables_flag(), names.join(","));
        // osquery matches --disable_tables against table names only, and
        // creates an alias's view only for an attached table.
        assert!(
            !p.disable_tables_flag()
                .split(',')
                .any(|t| t == "configurations")
        );
        for t in DENIED_TABLES {
            for n in t.names() {
                assert!(p.is_table_denied(&n.to_ascii_uppercase()), "{n}");
            }
        }
        assert!(p.reopened().is_empty());
        assert!(p.is_table_allowed("processes"));
    }

    #[test]
    fn names_add_to_the_built_in_list() {
        let p = policy(&[" Mounts ", "", "shadow"]);
        assert!(p.is_table_denied("mounts") && p.is_table_denied("shadow"));
        assert!(p.is_table_denied("curl") && p.is_table_denied("configurations"));
        assert_eq!(p.deny().len(), TablePolicy::default().deny().len() + 1);
        assert!(p.disable_tables_flag().ends_with(",mounts"));
        assert!(p.reopened().is_empty());
    }

    #[test]
    fn minus_re_opens_a_built_in_entry_with_its_aliases() {
        let p = policy(&["-Configurations", "-shell_history", "users"]);
        let reopened: Vec<&str> = p.reopened().iter().map(|t| t.name).collect();
        assert_eq!(reopened, ["augeas", "shell_history"]);
        for open in ["augeas", "configurations", "shell_history"] {
            assert!(p.is_table_allowed(open), "{open}");
            assert!(!p.disable_tables_flag().split(',').any(|t| t == open));
        }
        assert!(!p.is_table_allowed("users") && !p.is_table_allowed("shadow"));
        // An unknown re-open changes nothing here; check_changes refuses it.
        assert_eq!(policy(&["-nosuch"]), TablePolicy::default());
    }

    #[test]
    fn changes_that_cannot_stand_are_refused() {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(check_changes(&list(&["users", "-YARA", "-curl"])), Ok(()));
        let typo = check_changes(&list(&["-shell_histroy"])).expect_err("typo");
        assert!(
            typo.contains("shell_histroy is not on the built-in deny list"),
            "{typo}"
        );
        let both = check_changes(&list(&["yara", "-yara_file"])).expect_err("both");
        assert!(both.contains("yara is both denied and re-opened"), "{both}");
    }
}

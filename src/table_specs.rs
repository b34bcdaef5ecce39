//! osquery's own rules about its tables, as data: which columns a query must
//! constrain, which constraints osquery hands to the table, and which tables
//! hold rows only under osqueryd with events enabled.
//!
//! The data (`osquery_tables.txt`, written by `fixtures/gen/osquery_tables.py`
//! from osquery's published table specs) is compiled in and parsed once, on
//! the first lookup; lookups then only search a sorted table and allocate
//! nothing. Platform-specific facts (a Linux-only column, say) give a table one
//! line per platform.

use std::cmp::Ordering;
use std::sync::OnceLock;

const DATA: &str = include_str!("osquery_tables.txt");

/// An operating system osquery's specs distinguish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    Linux,
    Macos,
}

impl Platform {
    /// The platform this binary was built for; anything that is not macOS
    /// gets the Linux facts, the product's main target.
    pub fn current() -> Platform {
        if cfg!(target_os = "macos") {
            Platform::Macos
        } else {
            Platform::Linux
        }
    }

    fn code(self) -> char {
        match self {
            Platform::Linux => 'l',
            Platform::Macos => 'm',
        }
    }
}

/// Where a table exists at all (over every line the data has for it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Platforms {
    pub linux: bool,
    pub macos: bool,
}

/// What osquery's spec says about one table on one platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSpec {
    /// osquery's name for the table (an alias looks up the real table).
    pub name: &'static str,
    /// Other names osquery accepts for it (`yara` for `yara_file`).
    pub aliases: Vec<&'static str>,
    pub platforms: Platforms,
    /// Rows come from osquery's event framework: empty under `osqueryi`
    /// and whenever events are disabled.
    pub event: bool,
    /// Reads only the current user's data unless the query names `uid` (or
    /// joins `users`).
    pub user_data: bool,
    /// The WHERE clause must constrain at least one of these, or osquery
    /// refuses the query ("… was queried without a required column in the
    /// WHERE clause"). One suffices for osquery; a table may still return
    /// nothing without the others (`device_hash` needs all three).
    pub required: Vec<&'static str>,
    /// Constraints on these are handed to the table itself (it collects less),
    /// instead of SQLite filtering every row afterwards. Includes hidden
    /// input columns that `SELECT *` does not show (`yara_file.sigrule`).
    pub indexed: Vec<&'static str>,
    line_platforms: &'static str,
}

/// The spec of `name` (case-insensitive, aliases resolved) on the platform
/// this binary runs on; `None` for a table osquery does not have there.
pub fn spec(name: &str) -> Option<&'static TableSpec> {
    spec_on(name, Platform::current())
}

/// The spec of `name` on `platform`.
pub fn spec_on(name: &str, platform: Platform) -> Option<&'static TableSpec> {
    let specs = specs();
    let code = platform.code();
    let on_platform = |s: &&TableSpec| s.line_platforms.contains(code);
    let start = specs.partition_point(|s| cmp_ignore_case(s.name, name) == Ordering::Less);
    specs[start..]
        .iter()
        .take_while(|s| s.name.eq_ignore_ascii_case(name))
        .find(on_platform)
        .or_else(|| {
            specs
                .iter()
                .filter(|s| s.aliases.iter().any(|a| a.eq_ignore_ascii_case(name)))
                .find(on_platform)
        })
}

/// True if `name` is an event table on this platform.
pub fn is_event_table(name: &str) -> bool {
    spec(name).is_some_and(|s| s.event)
}

fn specs() -> &'static [TableSpec] {
    static SPECS: OnceLock<Vec<TableSpec>> = OnceLock::new();
    SPECS.get_or_init(|| parse(DATA))
}

fn cmp_ignore_case(a: &str, b: &str) -> Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

fn list(field: &'static str) -> Vec<&'static str> {
    field.split(',').filter(|s| !s.is_empty()).collect()
}

/// One table per line, sorted by name: name, platforms, flags, required,
/// indexed, aliases, tab-separated; `#` starts a comment. A malformed line is
/// skipped (the tests prove there is none).
fn parse(data: &'static str) -> Vec<TableSpec> {
    // No sort here (it would cost binary size): the generator writes the lines
    // sorted by lower-case name and a test proves it, so lookups can bisect.
    let mut specs: Vec<TableSpec> = data
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|line| {
            let mut f = line.split('\t');
            let mut next = || f.next();
            let (name, plats, flags) = (next()?, next()?, next()?);
            let (required, indexed, aliases) = (next()?, next()?, next()?);
            if next().is_some() {
                return None;
            }
            Some(TableSpec {
                name,
                aliases: list(aliases),
                platforms: Platforms::default(),
                event: flags.contains('e'),
                user_data: flags.contains('u'),
                required: list(required),
                indexed: list(indexed),
                line_platforms: plats,
            })
        })
        .collect();
    // A table split over two lines exists on both platforms.
    for group in specs.chunk_by_mut(|a, b| a.name == b.name) {
        let on = |code| group.iter().any(|s| s.line_platforms.contains(code));
        let platforms = Platforms {
            linux: on('l'),
            macos: on('m'),
        };
        for s in group {
            s.platforms = platforms;
        }
    }
    specs
}

#[cfg(test)]
mod tests {
    use super::*;
    use Platform::{Linux, Macos};

    fn on(name: &str, platform: Platform) -> &'static TableSpec {
        spec_on(name, platform).unwrap_or_else(|| panic!("no spec for {name} on {platform:?}"))
    }

    #[test]
    fn every_data_line_parses() {
        let lines = DATA
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .count();
        assert_eq!(specs().len(), lines);
        assert!(lines > 200, "{lines} lines");
        assert!(
            specs()
                .windows(2)
                .all(|w| cmp_ignore_case(w[0].name, w[1].name) != Ordering::Greater),
            "sorted, so lookups can bisect"
        );
        for s in specs() {
            assert!(!s.name.is_empty() && !s.line_platforms.is_empty(), "{s:?}");
            assert!(s.platforms.linux || s.platforms.macos, "{s:?}");
            for col in s.required.iter().chain(&s.indexed).chain(&s.aliases) {
                assert!(
                    col.bytes().all(|c| c == b'_' || c.is_ascii_alphanumeric()),
                    "{s:?}"
                );
            }
        }
    }

    #[test]
    fn file_and_hash_need_a_path_or_directory() {
        for table in ["file", "hash"] {
            for platform in [Linux, Macos] {
                let s = on(table, platform);
                assert_eq!(s.required, ["path", "directory"], "{table}");
                assert!(s.indexed.contains(&"path"), "{table}");
                assert!(!s.event, "{table}");
            }
        }
    }

    #[test]
    fn platform_specific_columns_stay_on_their_platform() {
        assert!(on("file", Linux).indexed.contains(&"pid_with_namespace"));
        assert!(!on("file", Macos).indexed.contains(&"pid_with_namespace"));
        let both = Platforms {
            linux: true,
            macos: true,
        };
        assert_eq!(on("file", Linux).platforms, both);
        assert_eq!(on("file", Macos).platforms, both);
    }

    #[test]
    fn event_tables() {
        for table in [
            "process_events",
            "socket_events",
            "file_events",
            "user_events",
        ] {
            assert!(on(table, Linux).event, "{table}");
            assert!(on(table, Macos).event, "{table}");
        }
        for table in ["bpf_process_events", "syslog_events", "selinux_events"] {
            assert!(on(table, Linux).event, "{table}");
            assert!(spec_on(table, Macos).is_none(), "{table}");
        }
        assert!(on("es_process_events", Macos).event);
        // Named like an event table, but osquery's own bookkeeping.
        assert!(!on("osquery_events", Linux).event);
        assert!(!on("processes", Linux).event);
        assert_eq!(on("process_events", Linux).indexed, ["time"]);
    }

    #[test]
    fn processes_is_indexed_by_pid_and_needs_nothing() {
        let s = on("processes", Linux);
        assert!(s.required.is_empty());
        assert_eq!(s.indexed, ["pid"]);
        assert!(!s.user_data);
    }

    #[test]
    fn augeas_yara_and_other_rules() {
        let augeas = on("augeas", Linux);
        assert!(augeas.required.is_empty());
        assert_eq!(augeas.indexed, ["node", "path"]);
        assert_eq!(on("configurations", Linux).name, "augeas");

        let yara = on("yara", Linux);
        assert_eq!(yara.name, "yara_file");
        assert_eq!(yara.required, ["path"]);
        assert!(yara.indexed.contains(&"sigrule"), "hidden inputs count");
        assert_eq!(on("yara_process", Macos).required, ["pid"]);

        assert_eq!(on("curl", Linux).required, ["url"]);
        assert_eq!(
            on("device_hash", Linux).required,
            ["device", "partition", "inode"]
        );
        assert_eq!(on("docker_container_stats", Linux).required, ["id"]);
        assert_eq!(on("lxd_instance_config", Linux).required, ["name"]);
        assert_eq!(on("plist", Macos).required, ["path"]);
        assert!(on("shell_history", Linux).user_data);
    }

    #[test]
    fn platforms_are_respected() {
        assert!(spec_on("plist", Linux).is_none());
        assert!(spec_on("shadow", Macos).is_none());
        assert!(spec_on("deb_packages", Linux).is_some());
        assert!(spec_on("registry", Linux).is_none(), "Windows only");
        assert!(spec_on("registry", Macos).is_none(), "Windows only");
        assert!(spec_on("no_such_table", Linux).is_none());
    }

    #[test]
    fn lookup_ignores_case_like_sqlite() {
        assert_eq!(on("File", Linux).name, "file");
        assert_eq!(on("PROCESS_EVENTS", Linux).name, "process_events");
        assert_eq!(on("YARA", Linux).name, "yara_file");
    }

    #[test]
    fn current_platform_lookups() {
        assert!(is_event_table("process_events"));
        assert!(is_event_table("socket_events"));
        assert!(!is_event_table("processes"));
        assert!(!is_event_table("no_such_table"));
        assert_eq!(
            spec("hash").map(|s| &s.required[..]),
            Some(&["path", "directory"][..])
        );
    }

    #[test]
    fn parse_skips_malformed_lines() {
        let specs = parse("# c\na\tlm\t\tx,y\t\t\nshort\tl\n\nlong\tl\t\t\t\t\t\nok\tl\te\t\t\t\n");
        let names: Vec<_> = specs.iter().map(|s| s.name).collect();
        assert_eq!(names, ["a", "ok"]);
        assert_eq!(specs[0].required, ["x", "y"]);
        assert!(specs[1].event);
    }
}

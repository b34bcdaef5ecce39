//! The SQL behind each fixed tool and the server's own queries. Every query
//! here is a constant or built from validated values; macOS gets its own where
//! the Linux table does not exist there, and every variant selects the same
//! column names. Ordering and filtering happen in this SQL, not on rows.

pub const SYSTEM_INFO: &str = "SELECT hostname, computer_name, cpu_brand, cpu_logical_cores, cpu_physical_cores, physical_memory, hardware_model, uuid FROM system_info;";
pub const PROCESSES: &str = "SELECT pid, name, path, cmdline, state, uid, parent, threads, resident_size, total_size FROM processes ORDER BY resident_size DESC";
pub const USERS: &str = "SELECT uid, gid, username, description, directory, shell FROM users;";
pub const INTERFACES: &str = "SELECT d.interface, d.mac, d.type, d.mtu, d.metric, d.flags, group_concat(a.address) AS addresses FROM interface_details d LEFT JOIN interface_addresses a ON a.interface = d.interface GROUP BY d.interface;";
pub const OPEN_FILES: &str = "SELECT pid, fd, path FROM process_open_files";
const MOUNTS: &str = "SELECT path, device, type, blocks_size, blocks, blocks_free, blocks_available, inodes, inodes_free FROM mounts";
/// Pseudo filesystems have no blocks; read-only images are always 100 % full
/// and would bury the real problem.
const REAL_MOUNTS: &str =
    " WHERE blocks > 0 AND type NOT IN ('squashfs', 'erofs', 'iso9660', 'fuse.snapfuse')";
/// Fullest first, used as df computes it (see `enrich`): used / (used +
/// available to unprivileged users). No blocks divides by zero, which SQLite
/// makes NULL, and NULL sorts last; ties by path keep the order stable.
const FULLEST_FIRST: &str =
    " ORDER BY (blocks - blocks_free) * 1.0 / (blocks - blocks_free + blocks_available) DESC, path";

#[cfg(not(target_os = "macos"))]
pub const SOCKETS: &str = "SELECT pid, family, protocol, local_address, local_port, remote_address, remote_port, state FROM process_open_sockets WHERE family IN (2, 10)";
#[cfg(target_os = "macos")]
pub const SOCKETS: &str = "SELECT pid, family, protocol, local_address, local_port, remote_address, remote_port, state FROM process_open_sockets WHERE family IN (2, 30)";

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

/// disk_usage: every mount when `all`, else only filesystems with blocks
/// that can fill up.
pub fn mounts_sql(all: bool) -> String {
    let filter = if all { "" } else { REAL_MOUNTS };
    format!("{MOUNTS}{filter}{FULLEST_FIRST};")
}

/// installed_packages over `sources`: names matching the LIKE pattern `like`
/// (if any), at most `rows` rows.
pub fn packages_sql<'a>(
    sources: impl IntoIterator<Item = &'a Source>,
    like: Option<&str>,
    rows: usize,
) -> String {
    let union = union_sql(sources);
    let union = union.trim_end_matches(';');
    let filter = like.map_or(String::new(), |p| {
        format!(" WHERE name LIKE {}", text_literal(p))
    });
    format!("SELECT * FROM ({union}){filter} LIMIT {rows};")
}

/// A text value as SQL without splicing its text: hex digits in a blob
/// literal, cast back to text. No byte of `value` can end the literal, so no
/// argument is spliced into SQL as text, whatever validation let through.
fn text_literal(value: &str) -> String {
    let hex: String = value.bytes().map(|b| format!("{b:02X}")).collect();
    format!("CAST(X'{hex}' AS TEXT)")
}

/// `name` is a validated identifier; quoting keeps names that are also SQL
/// keywords (`group`) working.
pub fn columns_sql(name: &str) -> String {
    format!("PRAGMA table_info(\"{name}\");")
}

/// What osqueryd's `getQueryColumns` describes a table by; `name` as above.
pub fn select_all_sql(name: &str) -> String {
    format!("SELECT * FROM \"{name}\";")
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
    fn text_arguments_reach_sql_only_as_hex() {
        let sql = packages_sql(PACKAGE_SOURCES, Some("%a'b\\%"), 101);
        assert!(
            sql.ends_with(") WHERE name LIKE CAST(X'256127625C25' AS TEXT) LIMIT 101;"),
            "{sql}"
        );
        assert!(!sql.contains("a'b"));
        assert!(packages_sql(PACKAGE_SOURCES, None, 5).ends_with(") LIMIT 5;"));
    }

    /// The stand-in answers the disk_usage queries from canned answers that
    /// fixtures/gen/make_fixtures.py computed with SQLite for exactly this SQL.
    #[test]
    fn the_fixtures_answer_these_mount_queries() {
        assert_eq!(
            mounts_sql(false),
            include_str!("../../fixtures/answers/disk_usage.sql")
        );
        assert_eq!(
            mounts_sql(true),
            include_str!("../../fixtures/answers/disk_usage_all.sql")
        );
    }

    #[test]
    fn columns_sql_quotes_the_name() {
        assert_eq!(columns_sql("group"), "PRAGMA table_info(\"group\");");
    }
}

//! The SQL behind each fixed tool and the server's own queries. Every query
//! here is a constant or built from validated values; macOS gets its own where
//! the Linux table does not exist there, and every variant selects the same
//! column names.

pub const SYSTEM_INFO: &str = "SELECT hostname, computer_name, cpu_brand, cpu_logical_cores, cpu_physical_cores, physical_memory, hardware_model, uuid FROM system_info;";
pub const PROCESSES: &str = "SELECT pid, name, path, cmdline, state, uid, parent, threads, resident_size, total_size FROM processes ORDER BY resident_size DESC";
pub const USERS: &str = "SELECT uid, gid, username, description, directory, shell FROM users;";
pub const INTERFACES: &str = "SELECT d.interface, d.mac, d.type, d.mtu, d.metric, d.flags, group_concat(a.address) AS addresses FROM interface_details d LEFT JOIN interface_addresses a ON a.interface = d.interface GROUP BY d.interface;";
pub const OPEN_FILES: &str = "SELECT pid, fd, path FROM process_open_files";
pub const MOUNTS: &str = "SELECT path, device, type, blocks_size, blocks, blocks_free, blocks_available, inodes, inodes_free FROM mounts;";

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
    fn columns_sql_quotes_the_name() {
        assert_eq!(columns_sql("group"), "PRAGMA table_info(\"group\");");
    }
}

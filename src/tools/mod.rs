//! The tools: what each one is ([`TOOLS`]), how its arguments become a
//! [`Plan`] (`plan`), what `tools/list` says about it (`schema`), the SQL
//! behind it (`queries`), and how a worker's [`Engine`] turns a plan into
//! rows (`fetch`, `enrich`).
//!
//! Nothing here knows JSON-RPC or MCP's result shapes: a call ends as typed
//! rows and metadata, or a [`Failure`].

mod cursor;
mod describe;
mod enable;
mod enrich;
mod fetch;
mod hints;
mod plan;
mod queries;
mod route;
mod schema;

pub use cursor::take_cursor;
pub use fetch::{Engine, Failure, Fetched, StructuredMeta};
pub use plan::{Plan, plan};
pub use schema::list;

/// Which tool; in the order of [`TOOLS`], so it indexes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToolName {
    SystemInfo,
    Processes,
    Users,
    NetworkInterfaces,
    NetworkConnections,
    OpenFiles,
    DiskUsage,
    InstalledPackages,
    RunningServices,
    ListTables,
    DescribeTable,
    CustomQuery,
}

impl ToolName {
    pub fn tool(self) -> &'static Tool {
        &TOOLS[self as usize]
    }

    /// The name clients call it by.
    pub fn as_str(self) -> &'static str {
        self.tool().id
    }
}

impl std::fmt::Display for ToolName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every way a tool call can end: the `outcome` of its log line and the
/// counter it lands in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    ToolError,
    Timeout,
    Rejected,
    Cancelled,
    Busy,
    RateLimited,
}

impl Outcome {
    pub const ALL: [Outcome; 7] = [
        Outcome::Ok,
        Outcome::ToolError,
        Outcome::Timeout,
        Outcome::Rejected,
        Outcome::Cancelled,
        Outcome::Busy,
        Outcome::RateLimited,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ToolError => "tool_error",
            Outcome::Timeout => "timeout",
            Outcome::Rejected => "rejected",
            Outcome::Cancelled => "cancelled",
            Outcome::Busy => "busy",
            Outcome::RateLimited => "rate_limited",
        }
    }
}

pub struct Tool {
    pub name: ToolName,
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// The arguments it takes besides [`EVERY_TOOL_ARGUMENTS`]; any other is
    /// refused (`additionalProperties: false` in its schema).
    pub arguments: &'static [&'static str],
    /// Row fields in the order the rows carry them, and which are required.
    fields: &'static [&'static str],
    required: &'static [&'static str],
}

/// Arguments every tool takes. The one place a tool-wide argument (paging's
/// `cursor`) is added: the argument check and the schemas read it (through
/// [`Tool::takes`]).
pub const EVERY_TOOL_ARGUMENTS: &[&str] = &["cursor"];

impl Tool {
    /// Every argument the tool takes: its own, then every tool's.
    pub fn takes(&self) -> impl Iterator<Item = &'static str> {
        self.arguments.iter().chain(EVERY_TOOL_ARGUMENTS).copied()
    }
}

pub const LIMIT_MAX: i64 = 1000;
/// Longest `pattern` list_tables and `name` installed_packages accept.
pub const PATTERN_MAX: usize = 64;
pub const PID_MAX: i64 = 2_147_483_647;

pub const TOOLS: &[Tool] = &[
    Tool {
        name: ToolName::SystemInfo,
        id: "system_info",
        title: "System information",
        description: "Hostname, CPU model and core counts, physical memory (bytes), hardware model and UUID of this host (osquery table system_info). One row.",
        arguments: &[],
        fields: &[
            "computer_name",
            "cpu_brand",
            "cpu_logical_cores",
            "cpu_physical_cores",
            "hardware_model",
            "hostname",
            "physical_memory",
            "uuid",
        ],
        required: &["hostname"],
    },
    Tool {
        name: ToolName::Processes,
        id: "processes",
        title: "Top processes by memory",
        description: "Running processes ordered by resident memory, largest first: pid, name, path, cmdline, state, uid, parent, threads, resident_size and total_size in bytes, plus resident_mib. `limit` (1-1000, default 10) caps the rows.",
        arguments: &["limit"],
        fields: &[
            "cmdline",
            "name",
            "parent",
            "path",
            "pid",
            "resident_mib",
            "resident_size",
            "state",
            "threads",
            "total_size",
            "uid",
        ],
        required: &["pid", "name", "uid", "resident_size"],
    },
    Tool {
        name: ToolName::Users,
        id: "users",
        title: "Local user accounts",
        description: "Local user accounts: uid, gid, username, description, home directory and login shell (osquery table users).",
        arguments: &[],
        fields: &[
            "description",
            "directory",
            "gid",
            "shell",
            "uid",
            "username",
        ],
        required: &["uid", "username"],
    },
    Tool {
        name: ToolName::NetworkInterfaces,
        id: "network_interfaces",
        title: "Network interfaces",
        description: "Network interfaces with MAC address, type, MTU, metric, flags and their IP addresses (comma-separated), from interface_details and interface_addresses.",
        arguments: &[],
        fields: &[
            "addresses",
            "flags",
            "interface",
            "mac",
            "metric",
            "mtu",
            "type",
        ],
        required: &["interface", "mac"],
    },
    Tool {
        name: ToolName::NetworkConnections,
        id: "network_connections",
        title: "Open network sockets",
        description: "IPv4/IPv6 sockets of processes (listening and connected): pid, protocol and family as numbers with readable protocol_name (tcp/udp) and family_name (ipv4/ipv6), local and remote address and port, TCP state. Sockets of other users need root. `limit` (1-1000, default 20) caps the rows.",
        arguments: &["limit"],
        fields: &[
            "family",
            "family_name",
            "local_address",
            "local_port",
            "pid",
            "protocol",
            "protocol_name",
            "remote_address",
            "remote_port",
            "state",
        ],
        required: &[
            "protocol",
            "local_address",
            "local_port",
            "remote_address",
            "remote_port",
            "state",
        ],
    },
    Tool {
        name: ToolName::OpenFiles,
        id: "open_files",
        title: "Open files",
        description: "Files held open by processes (pid, fd, path), for one process when `pid` is given, else for all processes visible to the server (can be large: prefer a pid).",
        arguments: &["pid"],
        fields: &["fd", "path", "pid"],
        required: &["pid", "path"],
    },
    Tool {
        name: ToolName::DiskUsage,
        id: "disk_usage",
        title: "Mounted filesystems and space",
        description: "Mounted filesystems, fullest first (used_percent as df computes it): device, type, block counts and inodes, plus total_bytes, available_bytes and used_percent (osquery table mounts). Pseudo filesystems with zero blocks (proc, sysfs, …) and read-only images (squashfs snaps, ISO) are left out unless `all` is true.",
        arguments: &["all"],
        fields: &[
            "available_bytes",
            "blocks",
            "blocks_available",
            "blocks_free",
            "blocks_size",
            "device",
            "inodes",
            "inodes_free",
            "path",
            "total_bytes",
            "type",
            "used_percent",
        ],
        required: &["path"],
    },
    Tool {
        name: ToolName::InstalledPackages,
        id: "installed_packages",
        title: "Installed packages",
        description: "Installed packages (name, version, arch) with `source` saying which package manager reported them (deb, rpm; apps and homebrew on macOS). `name` keeps packages whose name contains it (case-insensitive), or matches it as an SQL LIKE pattern when it has % or _ (\"lib%\", \"python3._\"). `limit` (1-1000, default 100) caps the rows.",
        arguments: &["limit", "name"],
        fields: &["arch", "name", "source", "version"],
        required: &["name"],
    },
    Tool {
        name: ToolName::RunningServices,
        id: "running_services",
        title: "Running services",
        description: "Services that are active and running (systemd units on Linux, launchd jobs on macOS): name, description, state, sub_state, unit file path and the user it runs as when set. systemd does not report a pid.",
        arguments: &[],
        fields: &[
            "description",
            "fragment_path",
            "name",
            "state",
            "sub_state",
            "user",
        ],
        required: &["name", "state"],
    },
    Tool {
        name: ToolName::ListTables,
        id: "list_tables",
        title: "Available osquery tables",
        description: "Names of the osquery tables this host's osquery offers (active tables of osquery_registry), minus the tables this server refuses. `pattern` keeps only names containing it (letters, digits and _; case-insensitive). Event tables carry `event`: \"true\" (they hold rows only under osqueryd with events enabled). Use it before custom_query instead of guessing table names.",
        arguments: &["pattern"],
        fields: &["event", "name"],
        required: &["name"],
    },
    Tool {
        name: ToolName::DescribeTable,
        id: "describe_table",
        title: "Columns of an osquery table",
        description: "The columns of one osquery table (`table`, e.g. \"processes\") with their SQL types, in osquery's order, so custom_query can name real columns, and osquery's rules for it: the columns a WHERE clause must constrain (`required`: without one, the query fails or returns nothing), the columns osquery looks up directly (`indexed`: cheap filters), and whether it is an event table (rows only under osqueryd with events enabled). osquery's SQL interface carries no column descriptions; hidden columns are not listed. Tables this server refuses are refused here too.",
        arguments: &["table"],
        fields: &["name", "type"],
        required: &["name", "type"],
    },
    Tool {
        name: ToolName::CustomQuery,
        id: "custom_query",
        title: "Custom osquery SQL",
        description: "Run one read-only osquery SQL statement (SELECT or WITH … SELECT, at most 10,000 characters) and get its rows. Writes, PRAGMA, ATTACH, stacked statements, dangerous functions and tables that reach the network or hold secrets are refused with the rule that was broken. Add a LIMIT: output over the server's size cap is an error. Values are strings, as osquery prints them.",
        arguments: &["sql"],
        fields: &[],
        required: &[],
    },
];

pub fn find(name: &str) -> Option<&'static Tool> {
    TOOLS.iter().find(|t| t.id == name)
}

/// Every tool's name, comma-separated, for texts that list them.
pub fn names() -> String {
    let names: Vec<&str> = TOOLS.iter().map(|t| t.id).collect();
    names.join(", ")
}

/// The refusal of a tool we do not have, naming the ones we do.
pub fn unknown_tool(name: &str) -> String {
    format!(
        "Unknown tool: {}; tools are {}",
        crate::logging::truncate(name, 64),
        names()
    )
}

/// `1 row`, `2 rows`: a count with its noun, for texts a model reads.
pub fn count(n: usize, noun: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{n} {noun}{s}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_index_the_table() {
        for (i, t) in TOOLS.iter().enumerate() {
            assert_eq!(t.name as usize, i, "{}", t.id);
            assert_eq!(t.name.as_str(), t.id);
        }
        assert_eq!(Outcome::ALL.len(), 7);
    }
}

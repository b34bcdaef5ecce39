//! The built-in deny list: the osquery tables `custom_query` never reads
//! unless the operator re-opens them, each with the one-line reason that
//! `--help`, `--health`, the start-up warning and `docs/denied-tables.md`
//! give (a test keeps that page's table equal to this one).
//!
//! A table is here when it reaches outside the host, reads files the caller
//! names, or holds secrets in bulk. Redaction does not cover the last kind:
//! a caller can transform a value in SQL before it is scanned (`hex(…)`),
//! and key/value tables keep the name that marks a value as secret in
//! another column than the value.

use super::Rejection;
use super::lexer::{Token, TokenKind};

/// One denied table.
#[derive(Debug, PartialEq, Eq)]
pub struct DeniedTable {
    /// osquery's name for it: what osqueryi's `--disable_tables` matches.
    pub name: &'static str,
    /// Other names osquery gives the table. They are views osquery creates
    /// only when the table itself is attached, so `--disable_tables` removes
    /// them with it and does not match them; the guard refuses them by name.
    pub aliases: &'static [&'static str],
    pub reason: &'static str,
}

impl DeniedTable {
    /// The table's name and its aliases.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }

    /// True if `name` is this table or one of its aliases (any case).
    pub fn is_named(&self, name: &str) -> bool {
        self.names().any(|n| n.eq_ignore_ascii_case(name))
    }
}

const fn table(name: &'static str, reason: &'static str) -> DeniedTable {
    DeniedTable {
        name,
        aliases: &[],
        reason,
    }
}

/// Grouped by why: reaching outside the host, reading files the caller
/// names, holding secrets.
pub const DENIED_TABLES: &[DeniedTable] = &[
    table(
        "curl",
        "makes an HTTP request to any URL the query names: request forgery, cloud metadata theft, exfiltration",
    ),
    table(
        "curl_certificate",
        "opens a TLS connection to any host and port the query names",
    ),
    table(
        "carves",
        "`carve = 1` starts carving: copies files off the host",
    ),
    table(
        "ec2_instance_metadata",
        "cloud identity from AWS's metadata service (IAM role, account); hangs off-cloud",
    ),
    table(
        "ec2_instance_tags",
        "the instance's AWS tags, from the metadata service; hangs off-cloud",
    ),
    table(
        "azure_instance_metadata",
        "cloud identity from Azure's metadata service; hangs off-cloud",
    ),
    table(
        "azure_instance_tags",
        "the instance's Azure tags, from the metadata service; hangs off-cloud",
    ),
    table(
        "ycloud_instance_metadata",
        "cloud identity from Yandex Cloud's metadata service, an SSH key included; hangs off-cloud",
    ),
    DeniedTable {
        name: "yara_file",
        aliases: &["yara"],
        reason: "a caller-supplied YARA rule is an oracle over any file's contents",
    },
    table(
        "yara_process",
        "a caller-supplied YARA rule is an oracle over any process's memory",
    ),
    table("yara_events", "YARA matches over watched files"),
    table(
        "hash",
        "hashes any file (an oracle over its contents); over `%%` globs it runs for hours",
    ),
    table(
        "device_hash",
        "hashes file contents read off the raw device by inode, whatever the path",
    ),
    table("magic", "reads the start of any file to identify it"),
    table(
        "extended_attributes",
        "reads any file's extended attributes (values in base64)",
    ),
    DeniedTable {
        name: "augeas",
        aliases: &["configurations"],
        reason: "parses any configuration file through Augeas lenses, /etc/shadow included",
    },
    table(
        "plist",
        "parses any property list file the query names (macOS): a file reader like augeas",
    ),
    table("shadow", "password hashes"),
    table("sudoers", "who may become root, and how"),
    table(
        "kernel_keys",
        "the kernel's keyrings: key descriptions, owners, permissions",
    ),
    table("msr", "CPU model-specific registers"),
    table(
        "process_envs",
        "every process's environment: API keys, tokens, passwords",
    ),
    table(
        "es_process_events",
        "the full environment of every program started (macOS EndpointSecurity events)",
    ),
    table(
        "shell_history",
        "commands users typed, often with passwords in them",
    ),
    table(
        "known_hosts",
        "every host each user reaches by SSH: a map for lateral movement",
    ),
    table("authorized_keys", "who can log in with which key"),
    table(
        "user_ssh_keys",
        "users' private key files: paths, types, whether encrypted",
    ),
    table(
        "ssh_configs",
        "users' SSH client settings: hosts, accounts, identity files, proxy commands",
    ),
    table(
        "docker_container_envs",
        "every container's environment: API keys, tokens, passwords",
    ),
    table(
        "docker_containers",
        "its env_variables column holds every container's environment in one string",
    ),
    table(
        "docker_image_history",
        "created_by holds each build step's command with the build arguments it used",
    ),
    table(
        "docker_container_labels",
        "free-form labels that tools read settings (credentials too) from; key and value in separate columns",
    ),
    table(
        "docker_image_labels",
        "free-form labels set by whoever built the image; key and value in separate columns",
    ),
    table(
        "docker_network_labels",
        "free-form labels, key and value in separate columns (denied like the other label tables)",
    ),
    table(
        "docker_volume_labels",
        "free-form labels, key and value in separate columns (denied like the other label tables)",
    ),
    table(
        "lxd_instance_config",
        "instance options: environment variables and cloud-init user data; key and value in separate columns",
    ),
    table(
        "preferences",
        "every macOS app's stored preferences, where apps keep licence keys and tokens",
    ),
    table(
        "osquery_flags",
        "osquery's own flags: osqueryd's hold credentials (aws_secret_access_key); name and value in separate columns",
    ),
];

/// The built-in entry named `name` (or one of its aliases).
pub fn built_in(name: &str) -> Option<&'static DeniedTable> {
    DENIED_TABLES.iter().find(|t| t.is_named(name))
}

/// A denied name, with what the caller can do about it: the rule does not
/// know whether the name was meant as a table, so the hint covers the two
/// honest mistakes (a column or alias spelled like the table, and a string
/// written in double quotes).
pub(super) fn refusal(t: &Token<'_>) -> Rejection {
    let name = t.name().unwrap_or_default();
    let hint = if t.kind == TokenKind::QuotedIdent && t.text.starts_with('"') {
        format!(
            "double quotes make an identifier, and {name} is a table this server refuses; for a string value use single quotes: '{name}'"
        )
    } else {
        let why = built_in(&name).map_or("the operator denied it", |t| t.reason);
        format!(
            "{name} is a table this server refuses ({why}); the name is refused wherever it appears, as a table, column or alias, quoted or not; to read a column of that name, SELECT * from its table"
        )
    };
    Rejection::new("denied-table", t.text, hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = include_str!("../../docs/denied-tables.md");

    /// The rows of the doc's table under `## The list`: the backquoted
    /// names of the first cell and the last cell, as written.
    fn doc_rows() -> Vec<(Vec<String>, String)> {
        let list = DOC
            .split("\n## The list\n")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("docs/denied-tables.md has a `## The list` section");
        list.lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| {
                let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
                let names = cells[0]
                    .split(", ")
                    .map(|n| n.trim_matches('`').to_string())
                    .collect();
                (names, cells.last().copied().unwrap_or_default().to_string())
            })
            .collect()
    }

    #[test]
    fn the_doc_lists_exactly_these_tables_in_this_order_with_these_reasons() {
        let code: Vec<(Vec<String>, String)> = DENIED_TABLES
            .iter()
            .map(|t| {
                let names = t.names().map(str::to_string).collect();
                (names, t.reason.to_string())
            })
            .collect();
        assert_eq!(doc_rows(), code);
    }

    #[test]
    fn names_are_unique_lower_case_identifiers_and_reasons_one_line() {
        let mut all: Vec<&str> = DENIED_TABLES.iter().flat_map(DeniedTable::names).collect();
        for n in &all {
            assert!(
                n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{n}"
            );
        }
        all.sort_unstable();
        let before = all.len();
        all.dedup();
        assert_eq!(all.len(), before, "a name is listed twice");
        for t in DENIED_TABLES {
            assert!(
                !t.reason.is_empty() && t.reason.len() <= 110 && !t.reason.contains('\n'),
                "{}: {}",
                t.name,
                t.reason
            );
        }
    }

    #[test]
    fn aliases_find_their_table() {
        assert_eq!(built_in("Configurations").map(|t| t.name), Some("augeas"));
        assert_eq!(built_in("yara").map(|t| t.name), Some("yara_file"));
        assert_eq!(built_in("processes"), None);
    }
}

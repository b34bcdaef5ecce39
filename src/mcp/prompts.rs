//! Curated diagnostics offered as MCP prompts: each is a short instruction for
//! the model plus osquery SQL it can run with custom_query. The SQL uses real
//! osquery columns, passes the guard under the default table policy and runs
//! on Linux (tests check both).

use serde_json::{Value, json};

pub struct Prompt {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// What the model should do with the results.
    pub instruction: &'static str,
    /// Statements for custom_query, in the order to run them.
    pub queries: &'static [&'static str],
}

pub const PROMPTS: &[Prompt] = &[
    Prompt {
        name: "memory_hogs",
        title: "What is eating memory?",
        description: "Overall memory and swap use, and the processes with the largest resident memory.",
        instruction: "Find out what is using this host's memory. Run each query below with the custom_query tool. From the first, report total, available and swap use (values are bytes; memory_available is what new programs can still get). From the second, name the processes holding the most resident memory (resident_size, bytes), group obvious families (several workers of one program), and say whether anything looks abnormal or whether the host is simply busy. Do not recommend killing anything without saying what it is.",
        queries: &[
            "SELECT memory_total, memory_available, memory_free, buffers, cached, swap_total, swap_free FROM memory_info;",
            "SELECT pid, name, path, uid, resident_size, total_size, threads FROM processes ORDER BY resident_size DESC LIMIT 15;",
        ],
    },
    Prompt {
        name: "listening_ports",
        title: "Who is listening on which port?",
        description: "Every listening TCP/UDP socket with the process that owns it.",
        instruction: "List the network services this host exposes. Run the query below with the custom_query tool. protocol is a number (6 = TCP, 17 = UDP), family 2 = IPv4 and 10 = IPv6. For each port say which program listens, and whether it listens on all addresses (0.0.0.0 or ::) or only locally (127.0.0.1, ::1). Point out anything unexpected for this host's role. Sockets of other users' processes are only visible when osquery runs as root: say so if owners are missing.",
        queries: &[
            "SELECT l.port, l.protocol, l.family, l.address, l.pid, p.name, p.path, p.uid FROM listening_ports l LEFT JOIN processes p ON p.pid = l.pid WHERE l.port != 0 AND l.family IN (2, 10) ORDER BY l.port LIMIT 200;",
        ],
    },
    Prompt {
        name: "package_changes",
        title: "What changed in packages?",
        description: "Recently installed RPM packages, Debian packages not fully installed, and when the package databases last changed.",
        instruction: "Find out what changed in this host's installed software. Run each query below with the custom_query tool; a query about a package manager this host does not use returns no rows or 'no such table', which is fine. Be honest about the limits: osquery's deb_packages has no install time, so on Debian/Ubuntu you can only say when the package database last changed (modified, from the file table) and which packages are in an unusual state (status other than 'install ok installed'); rpm_packages has install_time, so on RPM hosts list the most recent installs. Do not invent dates.",
        queries: &[
            "SELECT name, version, \"release\", arch, datetime(install_time, 'unixepoch') AS installed FROM rpm_packages ORDER BY install_time DESC LIMIT 30;",
            "SELECT name, version, arch, status FROM deb_packages WHERE status != 'install ok installed' LIMIT 100;",
            "SELECT path, size, datetime(mtime, 'unixepoch') AS modified FROM file WHERE path IN ('/var/lib/dpkg/status', '/var/log/dpkg.log', '/var/log/apt/history.log', '/var/lib/rpm/rpmdb.sqlite', '/var/lib/rpm/Packages');",
        ],
    },
    Prompt {
        name: "disk_filling_up",
        title: "Is the disk filling up?",
        description: "Real filesystems by how full they are, in bytes and inodes.",
        instruction: "Check whether any filesystem is close to full. Run the query below with the custom_query tool. used_percent is computed like df (used / (used + available to ordinary users)); inodes_used_percent matters too, since a filesystem can run out of inodes with space left. Report filesystems above 80 % in either, largest first, with sizes in GB (bytes / 1e9). Read-only images such as squashfs are always full and are left out.",
        queries: &[
            "SELECT path, device, type, blocks_size * blocks AS total_bytes, blocks_size * blocks_available AS available_bytes, ROUND(100.0 * (blocks - blocks_free) / NULLIF(blocks - blocks_free + blocks_available, 0), 1) AS used_percent, ROUND(100.0 * (inodes - inodes_free) / NULLIF(inodes, 0), 1) AS inodes_used_percent FROM mounts WHERE blocks > 0 AND type NOT IN ('squashfs', 'iso9660') ORDER BY used_percent DESC LIMIT 50;",
        ],
    },
    Prompt {
        name: "suspicious_processes",
        title: "Suspicious processes",
        description: "Processes whose binary was deleted or that run from /tmp, /var/tmp or /dev/shm.",
        instruction: "Look for processes that deserve a closer look. Run the query below with the custom_query tool. on_disk = 0 means the executable was deleted after the process started (common after an upgrade until a restart, but also a way malware hides); binaries or working directories under /tmp, /var/tmp or /dev/shm are unusual for services. For each hit give pid, name, path, cmdline, owner uid and parent pid, and say which benign explanation fits (for example a package upgrade) before suggesting anything is malicious.",
        queries: &[
            "SELECT pid, name, path, cmdline, cwd, uid, parent, on_disk, datetime(start_time, 'unixepoch') AS started FROM processes WHERE on_disk = 0 OR path LIKE '/tmp/%' OR path LIKE '/var/tmp/%' OR path LIKE '/dev/shm/%' OR cwd LIKE '/tmp/%' OR cwd LIKE '/dev/shm/%' LIMIT 100;",
        ],
    },
    Prompt {
        name: "logged_in_users",
        title: "Who is logged in?",
        description: "Current login sessions with the account behind each one.",
        instruction: "List who is logged in to this host right now. Run the query below with the custom_query tool. Each row is a session (user processes only); host is where a remote session comes from, login_time is UTC. Group sessions by user, note remote ones and their source addresses, and mention accounts whose uid is 0 or whose shell is unusual.",
        queries: &[
            "SELECT l.user, l.tty, l.host, datetime(l.time, 'unixepoch') AS login_time, l.pid, u.uid, u.shell, u.directory FROM logged_in_users l LEFT JOIN users u ON u.username = l.user WHERE l.type = 'user' ORDER BY l.time DESC LIMIT 100;",
        ],
    },
];

pub fn find(name: &str) -> Option<&'static Prompt> {
    PROMPTS.iter().find(|p| p.name == name)
}

/// The `prompts/list` result.
pub fn list() -> Value {
    let prompts: Vec<Value> = PROMPTS
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "title": p.title,
                "description": p.description,
                "arguments": [],
            })
        })
        .collect();
    json!({ "prompts": prompts })
}

/// The `prompts/get` result for a known prompt. None of ours takes
/// arguments; any given are ignored.
pub fn get(prompt: &Prompt) -> Value {
    json!({
        "description": prompt.description,
        "messages": [{
            "role": "user",
            "content": { "type": "text", "text": text(prompt) },
        }],
    })
}

fn text(prompt: &Prompt) -> String {
    let mut t = String::from(prompt.instruction);
    for q in prompt.queries {
        t.push_str("\n\n```sql\n");
        t.push_str(q);
        t.push_str("\n```");
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::{TablePolicy, check};

    #[test]
    fn every_prompt_query_passes_the_guard_under_the_default_policy() {
        let policy = TablePolicy::new(None, None);
        assert!(PROMPTS.len() >= 6);
        for p in PROMPTS {
            assert!(!p.queries.is_empty(), "{}", p.name);
            for q in p.queries {
                if let Err(e) = check(q, &policy) {
                    panic!("{}: {e}: {q}", p.name);
                }
            }
        }
    }

    #[test]
    fn names_are_unique_and_text_carries_every_query() {
        for (i, p) in PROMPTS.iter().enumerate() {
            assert!(PROMPTS[..i].iter().all(|o| o.name != p.name), "{}", p.name);
            let got = get(p);
            let text = got["messages"][0]["content"]["text"].as_str().unwrap_or("");
            assert!(text.starts_with(p.instruction));
            for q in p.queries {
                assert!(text.contains(q), "{}", p.name);
            }
        }
    }
}

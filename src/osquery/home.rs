//! osqueryi writes `~/.osquery`; it gets a private directory of ours instead
//! of the user's home, removed when the server exits.

use std::path::PathBuf;

/// A directory only this process uses, removed on drop.
pub struct PrivateHome {
    pub path: PathBuf,
}

impl PrivateHome {
    pub fn create() -> std::io::Result<PrivateHome> {
        use std::os::unix::fs::DirBuilderExt;
        let tmp = std::env::temp_dir();
        remove_stale_homes(&tmp);
        // A name nobody can guess in advance: another local user who
        // pre-creates it (a file, a link) only makes us pick another one.
        let mut last = None;
        for attempt in 0..16u32 {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let path = tmp.join(format!(
                "{HOME_PREFIX}{}.{:08x}",
                std::process::id(),
                nanos ^ attempt.wrapping_mul(0x9e37_79b9)
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(PrivateHome { path }),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no private home directory")))
    }
}

const HOME_PREFIX: &str = "mcp-osquery-server.";

/// A server killed by a signal cannot remove its home; the next one removes
/// the homes of servers that no longer run (Linux: no `/proc/PID`). Other
/// users' directories are left alone by the file system's permissions.
fn remove_stale_homes(tmp: &std::path::Path) {
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(HOME_PREFIX)) else {
            continue;
        };
        let pid = rest.split('.').next().unwrap_or(rest);
        if pid.parse::<u32>().is_ok() && !std::path::Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Drop for PrivateHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

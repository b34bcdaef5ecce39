//! Finding the osqueryi binary.

use std::path::{Path, PathBuf};

/// Where osqueryi is looked for when `OSQUERY_PATH` is not set, after `PATH`.
const INSTALL_LOCATIONS: &[&str] = &[
    "/usr/local/bin/osqueryi",
    "/usr/bin/osqueryi",
    "/opt/osquery/bin/osqueryd",
];
/// Finds the osqueryi binary: `OSQUERY_PATH`, then `PATH`, then install
/// locations. Symlinks are not resolved: osqueryd needs `-S` and its own name.
pub fn locate(configured: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = configured {
        return is_executable(p).then(|| p.to_path_buf());
    }
    let from_path = std::env::var_os("PATH").into_iter().flat_map(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("osqueryi"))
            .collect::<Vec<_>>()
    });
    from_path
        .chain(INSTALL_LOCATIONS.iter().map(PathBuf::from))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

//! Running one osqueryi process for one query: locate the binary, spawn it
//! without a shell in its own process group, drain stdout and stderr
//! concurrently, enforce the timeout and the output cap, always reap, and turn
//! whatever happened into rows or a [`RunError`].
//!
//! This module knows nothing about MCP or tools; it takes SQL that has already
//! been built or checked by the caller.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use wait_timeout::ChildExt;

pub mod containment;
pub mod signals;

pub type Row = Map<String, Value>;

/// Where osqueryi is looked for when `OSQUERY_PATH` is not set, after `PATH`.
const INSTALL_LOCATIONS: &[&str] = &[
    "/usr/local/bin/osqueryi",
    "/usr/bin/osqueryi",
    "/opt/osquery/bin/osqueryd",
];
/// How much of stderr is kept for error messages; the rest is drained.
const STDERR_KEEP: usize = 64 * 1024;

/// What the runner needs to know, fixed at start-up.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    pub osquery_path: Option<PathBuf>,
    pub timeout: Duration,
    pub max_output: usize,
    /// Passed as `--disable_tables`: the host's own second wall behind the guard.
    pub disable_tables: String,
    /// A private, writable HOME for osqueryi (it creates `~/.osquery`).
    pub home: PathBuf,
    pub limits: ChildLimits,
    /// At most this many osqueryi processes at once, whoever starts them:
    /// the five workers, and the health check, which waits for a free one.
    pub slots: Arc<Slots>,
}

/// A counting semaphore over osqueryi processes.
#[derive(Debug)]
pub struct Slots {
    free: Mutex<usize>,
    freed: std::sync::Condvar,
}

impl Slots {
    pub fn new(n: usize) -> Arc<Slots> {
        Arc::new(Slots {
            free: Mutex::new(n),
            freed: std::sync::Condvar::new(),
        })
    }

    fn acquire(&self) -> SlotGuard<'_> {
        let mut free = lock(&self.free);
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= 1;
        SlotGuard(self)
    }
}

struct SlotGuard<'a>(&'a Slots);

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        *lock(&self.0.free) += 1;
        self.0.freed.notify_one();
    }
}

/// Resource limits applied to the child before it execs (see `containment`).
#[derive(Debug, Clone, Copy)]
pub struct ChildLimits {
    pub nice: i32,
    pub address_space_bytes: u64,
    pub cpu_seconds: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RunError {
    /// Nothing executable was found; holds `OSQUERY_PATH` when it was set.
    NotFound(Option<PathBuf>),
    Timeout(Duration),
    TooLarge(usize),
    Failed(String),
    Cancelled,
    Spawn(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::NotFound(None) => write!(f, "osqueryi not found (set OSQUERY_PATH)"),
            RunError::NotFound(Some(p)) => write!(
                f,
                "osqueryi not found at {} (OSQUERY_PATH names a missing or non-executable file)",
                p.display()
            ),
            RunError::Timeout(t) => write!(f, "Query timed out after {} seconds", t.as_secs()),
            RunError::TooLarge(cap) => write!(
                f,
                "osqueryi output exceeded MAX_RESPONSE_SIZE ({cap} bytes); add a LIMIT or select fewer columns"
            ),
            RunError::Failed(why) => write!(f, "osqueryi execution failed: {why}"),
            RunError::Cancelled => write!(f, "cancelled"),
            RunError::Spawn(why) => write!(f, "could not run osqueryi: {why}"),
        }
    }
}

/// A successful run: the rows, and osquery's own warnings (glog lines) if any.
#[derive(Debug)]
pub struct Output {
    pub rows: Vec<Row>,
    pub warnings: Vec<String>,
}

/// Lets another thread stop a run: the reader on `notifications/cancelled`,
/// the worker's own timeout, or shutdown. Holds the child's process group while
/// it runs, so a cancel that arrives at any moment either prevents the spawn or
/// kills what was spawned.
#[derive(Debug, Default)]
pub struct Control {
    state: Mutex<ControlState>,
}

#[derive(Debug, Default)]
struct ControlState {
    cancelled: bool,
    pgid: Option<u32>,
}

impl Control {
    pub fn new() -> Arc<Control> {
        Arc::new(Control::default())
    }

    pub fn cancel(&self) {
        let mut s = lock(&self.state);
        s.cancelled = true;
        if let Some(pgid) = s.pgid {
            kill_group(pgid);
        }
    }

    pub fn is_cancelled(&self) -> bool {
        lock(&self.state).cancelled
    }

    /// Records the running group; false when a cancel came first (the caller
    /// then kills it).
    fn attach(&self, pgid: u32) -> bool {
        let mut s = lock(&self.state);
        s.pgid = Some(pgid);
        !s.cancelled
    }

    fn detach(&self) {
        lock(&self.state).pgid = None;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means another thread panicked while holding it; the
    // state inside is still a plain pair of values.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

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

/// Runs one query to completion and parses its rows.
pub fn run(config: &RunnerConfig, sql: &str, control: &Control) -> Result<Output, RunError> {
    let raw = run_raw(config, &["-S", "--json"], Some(sql), control)?;
    let rows = parse_rows(&raw.stdout)?;
    Ok(Output {
        rows,
        warnings: raw.warnings,
    })
}

/// `osqueryi --version`, for health checks.
pub fn version(config: &RunnerConfig) -> Result<String, RunError> {
    let raw = run_raw(config, &["--version"], None, &Control::default())?;
    let text = String::from_utf8_lossy(&raw.stdout);
    Ok(text
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_string())
}

struct RawOutput {
    stdout: Vec<u8>,
    warnings: Vec<String>,
}

fn run_raw(
    config: &RunnerConfig,
    mode: &[&str],
    sql: Option<&str>,
    control: &Control,
) -> Result<RawOutput, RunError> {
    let path = locate(config.osquery_path.as_deref())
        .ok_or_else(|| RunError::NotFound(config.osquery_path.clone()))?;
    let _slot = config.slots.acquire();
    if control.is_cancelled() {
        return Err(RunError::Cancelled);
    }
    let mut cmd = Command::new(&path);
    cmd.args(mode);
    if let Some(sql) = sql {
        cmd.args([
            "--flagfile=/dev/null",
            "--config_path=/dev/null",
            "--disable_extensions",
            "--disable_events",
            "--disable_database",
        ]);
        if !config.disable_tables.is_empty() {
            cmd.arg(format!("--disable_tables={}", config.disable_tables));
        }
        // `--` so that SQL starting with `-` (a comment) is never read as a flag.
        cmd.arg("--").arg(sql);
    }
    cmd.env_clear()
        .env("HOME", &config.home)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    crate::containment::apply(&mut cmd, config.limits);

    let started = Instant::now();
    let mut child = spawn_retrying(&mut cmd).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => RunError::NotFound(config.osquery_path.clone()),
        _ => RunError::Spawn(format!("{}: {e}", path.display())),
    })?;
    let pgid = child.id();
    let tracked = crate::signals::track(pgid);
    if !control.attach(pgid) {
        kill_group(pgid);
    }
    let result = supervise(&mut child, pgid, config, started);
    drop(tracked);
    control.detach();
    if control.is_cancelled() {
        return Err(RunError::Cancelled);
    }
    result
}

/// "Text file busy" (ETXTBSY) means the binary is open for writing right now:
/// a package upgrade replacing osqueryi, or another process that forked while
/// holding it open. Both pass within milliseconds, so try a few times.
fn spawn_retrying(cmd: &mut Command) -> std::io::Result<Child> {
    const ETXTBSY: i32 = 26;
    let mut pause = Duration::from_millis(5);
    for _ in 0..4 {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(ETXTBSY) => {
                thread::sleep(pause);
                pause *= 4;
            }
            other => return other,
        }
    }
    cmd.spawn()
}

/// Waits for the child with the timeout while two threads drain its pipes.
/// Whatever happens, the child is reaped before this returns.
fn supervise(
    child: &mut Child,
    pgid: u32,
    config: &RunnerConfig,
    started: Instant,
) -> Result<RawOutput, RunError> {
    let cap = config.max_output;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let out_thread = thread::Builder::new()
        .name("osqueryi-stdout".into())
        .spawn(move || read_capped(stdout, cap, pgid));
    let err_thread = thread::Builder::new()
        .name("osqueryi-stderr".into())
        .spawn(move || read_stderr(stderr));

    let status = match child.wait_timeout(config.timeout) {
        Ok(Some(status)) => Ok(status),
        Ok(None) => {
            kill_group(pgid);
            let _ = child.wait();
            Err(RunError::Timeout(config.timeout))
        }
        Err(e) => {
            kill_group(pgid);
            let _ = child.wait();
            Err(RunError::Failed(format!("waiting for osqueryi: {e}")))
        }
    };
    // The group is dead or has exited; make sure no grandchild keeps the pipes
    // open so the readers finish.
    kill_group(pgid);
    let (stdout, overflow) = match out_thread {
        Ok(t) => t.join().unwrap_or((Vec::new(), false)),
        Err(_) => (Vec::new(), false),
    };
    let stderr = match err_thread {
        Ok(t) => t.join().unwrap_or_default(),
        Err(_) => String::new(),
    };
    log::debug!(
        "osqueryi finished in {} ms, {} bytes of output",
        started.elapsed().as_millis(),
        stdout.len()
    );
    let status = status?;
    if overflow {
        return Err(RunError::TooLarge(cap));
    }
    let warnings = glog_lines(&stderr);
    if let Some(sig) = status.signal() {
        return Err(RunError::Failed(format!(
            "osqueryi was killed by signal {sig}{}",
            signal_name(sig)
        )));
    }
    match status.code() {
        Some(0) => Ok(RawOutput { stdout, warnings }),
        code => Err(RunError::Failed(failure_reason(&stderr, code))),
    }
}

/// Reads stdout up to the cap; past it, kills the group at once rather than
/// letting a runaway query fill memory.
fn read_capped(pipe: Option<impl Read>, cap: usize, pgid: u32) -> (Vec<u8>, bool) {
    let Some(mut pipe) = pipe else {
        return (Vec::new(), false);
    };
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => return (out, false),
            Ok(n) => {
                if out.len() + n > cap {
                    kill_group(pgid);
                    return (Vec::new(), true);
                }
                out.extend_from_slice(&buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return (out, false),
        }
    }
}

fn read_stderr(pipe: Option<impl Read>) -> String {
    let Some(mut pipe) = pipe else {
        return String::new();
    };
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let room = STDERR_KEEP.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// Parses osqueryi's `--json` output: a JSON array of objects. Invalid UTF-8
/// (osquery passes it through raw) is decoded lossily rather than failing.
pub fn parse_rows(stdout: &[u8]) -> Result<Vec<Row>, RunError> {
    let text = String::from_utf8_lossy(stdout);
    if text.trim().is_empty() {
        return Err(RunError::Failed("osqueryi printed no output".into()));
    }
    match serde_json::from_str::<Vec<Row>>(&text) {
        Ok(rows) => Ok(rows),
        Err(e) => Err(RunError::Failed(format!(
            "output is not a JSON array of objects ({e})"
        ))),
    }
}

/// True for glog's `W1125 18:53:18.123456 12345 file.cpp:12] msg` lines.
fn is_glog(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 5
        && matches!(b[0], b'I' | b'W' | b'E' | b'F')
        && b[1..5].iter().all(u8::is_ascii_digit)
}

fn glog_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| is_glog(l))
        .map(|l| match l.split_once("] ") {
            Some((_, msg)) => msg.to_string(),
            None => l.to_string(),
        })
        .collect()
}

/// The first useful line of stderr: osquery's `Error: …` line if there is one,
/// else a glog error, else any line, else the exit status.
fn failure_reason(stderr: &str, code: Option<i32>) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let pick = lines
        .iter()
        .find_map(|l| {
            l.strip_prefix("Error: ")
                .or_else(|| l.strip_prefix("ERROR: "))
        })
        .map(str::to_string)
        .or_else(|| {
            lines
                .iter()
                .find(|l| is_glog(l) && (l.starts_with('E') || l.starts_with('F')))
                .map(|l| glog_lines(l).concat())
        })
        .or_else(|| lines.first().map(|l| l.to_string()));
    let status = code.map_or_else(
        || "unknown status".to_string(),
        |c| format!("exit status {c}"),
    );
    match pick {
        Some(line) => format!("{} ({status})", truncate(&line, 500)),
        None => status,
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        6 => " (SIGABRT)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        15 => " (SIGTERM)",
        24 => " (SIGXCPU: CPU-time limit)",
        _ => "",
    }
}

/// SIGKILL to the whole process group, so helpers osqueryi started die too.
pub fn kill_group(pgid: u32) {
    crate::containment::kill_group(pgid);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sixth_process_waits_for_a_free_slot() {
        let slots = Slots::new(5);
        let held: Vec<_> = (0..5).map(|_| slots.acquire()).collect();
        let (tx, rx) = crossbeam_channel::bounded(1);
        let waiter = slots.clone();
        let t = thread::spawn(move || {
            let _slot = waiter.acquire();
            let _ = tx.send(());
        });
        assert!(
            rx.recv_timeout(Duration::from_millis(100)).is_err(),
            "a sixth slot was handed out"
        );
        drop(held);
        assert!(
            rx.recv_timeout(Duration::from_secs(5)).is_ok(),
            "the waiter never got a slot"
        );
        let _ = t.join();
    }

    #[test]
    fn parses_osquery_json_exactly() {
        let rows = parse_rows(b"[\n  {\"a\":\"1\",\"b\":\"x\"},\n  {\"a\":\"2\",\"b\":\"y\"}\n]\n")
            .expect("valid output");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1]["b"], "y");
        assert!(parse_rows(b"[\n\n]\n").expect("empty").is_empty());
    }

    #[test]
    fn rejects_non_arrays_and_garbage() {
        for bad in [
            &b"this is not json"[..],
            b"{\"a\":1}",
            b"[1,2]",
            b"",
            b"[\n  {\"a\":",
        ] {
            assert!(
                matches!(parse_rows(bad), Err(RunError::Failed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn invalid_utf8_is_decoded_lossily() {
        let rows = parse_rows(b"[\n  {\"a\":\"x\xffy\"}\n]\n").expect("lossy");
        assert_eq!(rows[0]["a"], "x\u{fffd}y");
    }

    #[test]
    fn failure_reason_prefers_the_error_line() {
        let stderr = "W1125 18:53:18.123456 12 virtual_table.cpp:1] Table file was queried\nError: Table file was queried without a required column in the WHERE clause\n";
        assert_eq!(
            failure_reason(stderr, Some(19)),
            "Table file was queried without a required column in the WHERE clause (exit status 19)"
        );
        let stderr = "E1125 18:53:18.123456 12 sqlite_util.cpp:1] Authorizer denied action 24\nError: not authorized\n";
        assert_eq!(
            failure_reason(stderr, Some(23)),
            "not authorized (exit status 23)"
        );
        assert_eq!(failure_reason("", Some(78)), "exit status 78");
        assert_eq!(
            failure_reason("ERROR: unknown command line flag 'x'\n", Some(1)),
            "unknown command line flag 'x' (exit status 1)"
        );
    }

    #[test]
    fn glog_lines_become_warnings() {
        let w = glog_lines(
            "W1125 18:53:18.123456 12 virtual_table.cpp:1] events are disabled\nplain\n",
        );
        assert_eq!(w, vec!["events are disabled".to_string()]);
    }
}

//! Running one osqueryi process for one query: spawn it without a shell in
//! its own process group, drain stdout and stderr concurrently (parsing the
//! rows from stdout as they arrive), enforce the timeout and the output cap,
//! always reap, and turn whatever happened into rows or a [`RunError`].

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use wait_timeout::ChildExt;

use super::containment::{self, ChildLimits, kill_group};
use super::parse::{failure_reason, glog_lines, parse_rows, signal_name};
use super::{Control, Output, RunError, locate, lock, signals};

/// How much of stderr is kept for error messages; the rest is drained.
const STDERR_KEEP: usize = 64 * 1024;

/// The osqueryi backend: how to run it, fixed at start-up.
#[derive(Debug, Clone)]
pub struct Osqueryi {
    pub osquery_path: Option<PathBuf>,
    pub timeout: Duration,
    pub max_output: usize,
    /// Passed as `--disable_tables`: the host's own second wall behind the guard.
    pub disable_tables: String,
    /// Passed as `--enable_tables` unless empty: the same wall in allow-list mode.
    pub enable_tables: String,
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

impl Osqueryi {
    /// Where the binary is now: `OSQUERY_PATH`, or a search (see [`locate()`]).
    pub fn locate(&self) -> Option<PathBuf> {
        locate(self.osquery_path.as_deref())
    }

    /// Runs one query to completion, parsing its rows as they are printed.
    pub fn run(&self, sql: &str, control: &Control) -> Result<Output, RunError> {
        let raw = run_raw(self, &["-S", "--json"], Some(sql), control, |r| {
            parse_rows(r)
        })?;
        Ok(Output {
            rows: raw.stdout?,
            warnings: raw.warnings,
        })
    }

    /// `osqueryi --version`, for health checks.
    pub fn version(&self) -> Result<String, RunError> {
        let raw = run_raw(self, &["--version"], None, &Control::default(), |r| {
            let mut bytes = Vec::new();
            let _ = r.read_to_end(&mut bytes);
            bytes
        })?;
        let text = String::from_utf8_lossy(&raw.stdout);
        Ok(text
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_string())
    }
}

/// What `read` made of stdout, and osquery's warnings.
struct RawOutput<T> {
    stdout: T,
    warnings: Vec<String>,
}

fn run_raw<T: Send + 'static>(
    config: &Osqueryi,
    mode: &[&str],
    sql: Option<&str>,
    control: &Control,
    read: fn(&mut Capped<ChildStdout>) -> T,
) -> Result<RawOutput<T>, RunError> {
    let path = config
        .locate()
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
        if !config.enable_tables.is_empty() {
            cmd.arg(format!("--enable_tables={}", config.enable_tables));
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
    containment::apply(&mut cmd, config.limits);

    let started = Instant::now();
    let mut child = spawn_retrying(&mut cmd).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => RunError::NotFound(config.osquery_path.clone()),
        _ => RunError::Spawn(format!("{}: {e}", path.display())),
    })?;
    let pgid = child.id();
    let tracked = signals::track(pgid);
    if !control.attach(pgid) {
        kill_group(pgid);
    }
    let result = supervise(&mut child, pgid, config, started, read);
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

/// Waits for the child with the timeout while two threads drain its pipes,
/// one of them handing stdout to `read`. Whatever happens, the child is
/// reaped before this returns.
fn supervise<T: Send + 'static>(
    child: &mut Child,
    pgid: u32,
    config: &Osqueryi,
    started: Instant,
    read: fn(&mut Capped<ChildStdout>) -> T,
) -> Result<RawOutput<T>, RunError> {
    let cap = config.max_output;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let out_thread = thread::Builder::new()
        .name("osqueryi-stdout".into())
        .spawn(move || {
            let mut pipe = Capped {
                pipe: stdout?,
                left: cap,
                pgid,
                bytes: 0,
                overflow: false,
            };
            let out = read(&mut pipe);
            // Whatever `read` left unread (after bad output) is drained,
            // within the cap, so that osqueryi never blocks on a full pipe.
            let _ = std::io::copy(&mut pipe, &mut std::io::sink());
            Some((out, pipe.bytes, pipe.overflow))
        });
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
    let (stdout, bytes, overflow) = match out_thread.map(|t| t.join()) {
        Ok(Ok(Some(out))) => out,
        _ => return Err(RunError::Failed("could not read osqueryi's output".into())),
    };
    let stderr = match err_thread {
        Ok(t) => t.join().unwrap_or_default(),
        Err(_) => String::new(),
    };
    log::debug!(
        "osqueryi finished in {} ms, {} bytes of output",
        started.elapsed().as_millis(),
        bytes
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

/// osqueryi's stdout, ending at the output cap: past it, the group is
/// killed at once rather than letting a runaway query fill memory, and the
/// reader sees the end of its input.
pub(super) struct Capped<R> {
    pipe: R,
    left: usize,
    pgid: u32,
    bytes: usize,
    overflow: bool,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.overflow {
            return Ok(0);
        }
        let n = self.pipe.read(buf)?;
        if n > self.left {
            kill_group(self.pgid);
            self.overflow = true;
            return Ok(0);
        }
        self.left -= n;
        self.bytes += n;
        Ok(n)
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
}

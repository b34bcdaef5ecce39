//! Conversations with the built server: start it with an environment, send
//! JSON-RPC lines, read replies with a deadline, close stdin, check the exit.
//! Also the stand-in wrappers, the command line run once, and the /proc
//! checks. The server is known only from outside: no `mcp_osquery_server::`
//! paths, so moving modules in `src/` cannot break these tests.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use serde_json::{Value, json};
use wait_timeout::ChildExt;

pub const DEADLINE: Duration = Duration::from_secs(20);

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_mcp-osquery-server")
}

pub fn standin_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/osqueryi")
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mcp-osq-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A wrapper around the stand-in that sets its misbehaviour variables: the
/// server runs osqueryi with a cleared environment, so they must be baked in.
/// Every wrapper also logs the SQL it was asked to `queries.log`, and keeps
/// the files the hang and proc modes write in its own directory.
pub struct Standin {
    dir: TempDir,
    pub path: PathBuf,
}

impl Standin {
    pub fn new(vars: &[(&str, &str)]) -> Standin {
        Standin::around(&standin_path(), vars)
    }

    /// A wrapper in front of `target` instead of the plain stand-in.
    pub fn around(target: &Path, vars: &[(&str, &str)]) -> Standin {
        let dir = TempDir::new("standin");
        let path = dir.path("osqueryi");
        let mut script = String::from("#!/bin/sh\n");
        let log = dir.path("queries.log").display().to_string();
        let pids = dir.path("pids").display().to_string();
        let proc = dir.path("proc").display().to_string();
        let files = [
            ("STANDIN_LOG", log.as_str()),
            ("STANDIN_PIDS", &pids),
            ("STANDIN_PROC", &proc),
        ];
        for (k, v) in files.iter().chain(vars) {
            script.push_str(&format!("{k}='{v}'; export {k}\n"));
        }
        script.push_str(&format!("exec '{}' \"$@\"\n", target.display()));
        std::fs::write(&path, script).expect("write wrapper");
        set_executable(&path);
        Standin { dir, path }
    }

    /// A stand-in that hangs on queries containing `matching` (answering
    /// the rest), after writing the pids of its shell and its `sleep`.
    pub fn hanging(matching: &str) -> Standin {
        Standin::new(&[("STANDIN_MODE", "hang"), ("STANDIN_MATCH", matching)])
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path("queries.log")).unwrap_or_default()
    }

    /// How many logged queries contain `needle`.
    pub fn runs(&self, needle: &str) -> usize {
        self.log().lines().filter(|l| l.contains(needle)).count()
    }

    /// What the proc mode copied of the stand-in's `/proc/self/stat` and `limits`.
    pub fn proc_report(&self) -> String {
        std::fs::read_to_string(self.dir.path("proc")).expect("stand-in wrote /proc")
    }

    /// Waits until a hanging stand-in has written both of its pids.
    pub fn wait_hung(&self) -> Vec<u32> {
        let read = || -> Vec<u32> {
            std::fs::read_to_string(self.dir.path("pids"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        };
        eventually("the stand-in hangs", || read().len() == 2);
        read()
    }
}

pub fn set_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut perm = std::fs::metadata(path).expect("stat").permissions();
    perm.set_mode(0o755);
    std::fs::set_permissions(path, perm).expect("chmod");
}

/// The binary with a clean environment: `PATH`, `HOME` and `vars`.
fn bare_command(vars: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir());
    cmd.envs(vars.iter().copied());
    cmd
}

/// The binary with a clean environment and the plain stand-in; `vars` come
/// last, so they override.
fn command(vars: &[(&str, &str)]) -> Command {
    let mut cmd = bare_command(&[]);
    cmd.env("OSQUERY_PATH", standin_path());
    cmd.envs(vars.iter().copied());
    cmd
}

/// The server's command: as `command`, with the rate limit off and a
/// timeout shorter than the default unless `vars` say otherwise.
pub fn server_command(vars: &[(&str, &str)]) -> Command {
    let mut all = vec![("RATE_LIMIT", "0"), ("OSQUERY_TIMEOUT", "10")];
    all.extend_from_slice(vars);
    command(&all)
}

/// What one run of the command line left behind.
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the binary once with `args`, stdin closed, a clean environment plus `vars`.
pub fn run(args: &[&str], vars: &[(&str, &str)]) -> Ran {
    ran(command(vars), args)
}

/// As [`run`], without `OSQUERY_PATH` in the environment.
pub fn run_bare(args: &[&str], vars: &[(&str, &str)]) -> Ran {
    ran(bare_command(vars), args)
}

fn ran(mut cmd: Command, args: &[&str]) -> Ran {
    let out = cmd.args(args).output().expect("run the binary");
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stashed: Vec<Value>,
    stderr: Arc<Mutex<Vec<String>>>,
    next_id: i64,
}

impl Server {
    /// The server against the plain stand-in, rate limit off.
    pub fn start() -> Server {
        Server::with_env(&[])
    }

    pub fn with_standin(standin: &Standin, vars: &[(&str, &str)]) -> Server {
        let path = standin.path.display().to_string();
        let mut all = vec![("OSQUERY_PATH", path.as_str())];
        all.extend_from_slice(vars);
        Server::with_env(&all)
    }

    pub fn with_env(vars: &[(&str, &str)]) -> Server {
        Server::spawn(server_command(vars))
    }

    /// The server as `cmd` starts it.
    pub fn spawn(mut cmd: Command) -> Server {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = crossbeam_channel::unbounded();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let err_lines = Arc::new(Mutex::new(Vec::new()));
        let sink = err_lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().expect("stderr lock").push(line);
            }
        });
        Server {
            stdin: child.stdin.take(),
            child,
            lines: rx,
            stashed: Vec::new(),
            stderr: err_lines,
            next_id: 1000,
        }
    }

    pub fn send_raw(&mut self, line: &str) {
        self.send_raw_bytes(line.as_bytes());
    }

    /// Writes bytes and a newline as they are (for invalid UTF-8 and the like).
    pub fn send_raw_bytes(&mut self, line: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(line).expect("write");
        stdin.write_all(b"\n").expect("write newline");
        stdin.flush().expect("flush");
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send_raw(&json!({"jsonrpc": "2.0", "method": method, "params": params}).to_string());
    }

    /// Sends a request with the given id without waiting.
    pub fn send_request(&mut self, id: Value, method: &str, params: Value) {
        self.send_raw(
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string(),
        );
    }

    /// Sends a `tools/call` with the given id without waiting.
    pub fn send_call(&mut self, id: Value, tool: &str, args: Value) {
        self.send_request(id, "tools/call", json!({"name": tool, "arguments": args}));
    }

    /// Sends a request and waits for the reply with the same id.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = json!(self.next_id);
        self.send_request(id.clone(), method, params);
        self.wait_for(&id)
    }

    pub fn initialize(&mut self) -> Value {
        let r = self.request(
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "tests", "version": "1"}}),
        );
        self.notify("notifications/initialized", json!({}));
        r
    }

    /// Calls a tool and returns the `result` object.
    pub fn call(&mut self, tool: &str, args: Value) -> Value {
        let reply = self.request("tools/call", json!({"name": tool, "arguments": args}));
        reply
            .get("result")
            .cloned()
            .unwrap_or_else(|| panic!("no result for {tool}: {reply}"))
    }

    /// Reads one of the server's resources: its JSON document.
    pub fn read_resource(&mut self, uri: &str) -> Value {
        let reply = self.request("resources/read", json!({ "uri": uri }));
        resource(&reply, uri)
    }

    /// Asserts the server still answers a ping.
    pub fn assert_serving(&mut self) {
        assert_eq!(self.request("ping", json!({}))["result"], json!({}));
    }

    /// The next line from stdout as JSON, or None at the deadline / EOF.
    pub fn recv(&mut self, timeout: Duration) -> Option<Value> {
        if !self.stashed.is_empty() {
            return Some(self.stashed.remove(0));
        }
        self.recv_line(timeout).map(|l| parse(&l))
    }

    pub fn recv_line(&mut self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    /// Waits for the reply to `id`, keeping other messages for later.
    pub fn wait_for(&mut self, id: &Value) -> Value {
        let is_reply = |m: &Value| m.get("id") == Some(id) && m.get("method").is_none();
        if let Some(i) = self.stashed.iter().position(is_reply) {
            return self.stashed.remove(i);
        }
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.recv_line(left).unwrap_or_else(|| {
                panic!(
                    "no reply for id {id} within {DEADLINE:?}; stderr: {:?}",
                    self.stderr_lines()
                )
            });
            let msg = parse(&line);
            if is_reply(&msg) {
                return msg;
            }
            self.stashed.push(msg);
        }
    }

    /// The reply to `id` and every message that came before it.
    pub fn reply_and_before(&mut self, id: &Value) -> (Value, Vec<Value>) {
        let mut before = Vec::new();
        loop {
            let m = self.recv(DEADLINE).expect("a message");
            if m.get("id") == Some(id) && m.get("method").is_none() {
                return (m, before);
            }
            before.push(m);
        }
    }

    /// Every message until stdout closes (the server exited).
    pub fn drain(&mut self) -> Vec<Value> {
        let mut all = std::mem::take(&mut self.stashed);
        while let Some(line) = self.recv_line(DEADLINE) {
            all.push(parse(&line));
        }
        all
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    pub fn wait_exit(&mut self) -> ExitStatus {
        self.close_stdin();
        self.child
            .wait_timeout(DEADLINE)
            .expect("wait for the server")
            .unwrap_or_else(|| panic!("server did not exit within {DEADLINE:?}"))
    }

    /// Closes stdin, reads what is left, and asserts the server exits 0
    /// without ever having answered `id` (a cancelled call).
    pub fn finish_without_answering(&mut self, id: &Value) {
        self.close_stdin();
        let rest = self.drain();
        assert!(
            !rest.iter().any(|m| m.get("id") == Some(id)),
            "a cancelled call was answered: {rest:?}"
        );
        assert_eq!(self.wait_exit().code(), Some(0));
    }

    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().expect("stderr lock").clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"))
}

/// The rows of a successful tool result (asserting it is one).
pub fn rows(result: &Value) -> Vec<Value> {
    assert_eq!(result["isError"], false, "tool failed: {result}");
    let rows = result["structuredContent"]["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows: {result}"))
        .clone();
    let text: Value =
        serde_json::from_str(result["content"][0]["text"].as_str().expect("text content"))
            .expect("text is JSON");
    assert_eq!(
        text,
        Value::Array(rows.clone()),
        "text and structuredContent differ"
    );
    rows
}

/// The JSON document inside a `resources/read` reply, after checking its shape.
pub fn resource(reply: &Value, uri: &str) -> Value {
    let item = &reply["result"]["contents"][0];
    assert_eq!(item["uri"], uri, "{reply}");
    assert_eq!(item["mimeType"], "application/json");
    serde_json::from_str(item["text"].as_str().expect("text")).expect("resource text is JSON")
}

/// The error text of a failed tool result (asserting it is one).
pub fn error_text(result: &Value) -> String {
    assert_eq!(result["isError"], true, "expected a tool error: {result}");
    let text = result["content"][0]["text"]
        .as_str()
        .expect("text")
        .to_string();
    assert!(text.starts_with("Error: "), "{text}");
    text
}

/// Polls an observable condition until it holds or the deadline passes.
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until every one of `pids` has exited.
pub fn all_gone(what: &str, pids: &[u32]) {
    for &pid in pids {
        eventually(&format!("{what}: pid {pid} gone"), || !process_alive(pid));
    }
}

/// Whether a process exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().is_some_and(|s| s != "Z"))
}

/// Zombie children of a process.
pub fn zombie_children(parent: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|&pid| {
            stat_fields(pid).is_some_and(|f| {
                f.first().is_some_and(|s| s == "Z")
                    && f.get(1).and_then(|p| p.parse().ok()) == Some(parent)
            })
        })
        .collect()
}

/// The fields of `/proc/PID/stat` after the command name: state, ppid, …
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(") ")?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// Peak resident memory of a process in KiB.
pub fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM line")
}

/// The SQL in a prompt's text: every ```sql block.
pub fn sql_blocks(text: &str) -> Vec<String> {
    text.split("```sql\n")
        .skip(1)
        .filter_map(|b| b.split_once("\n```").map(|(sql, _)| sql.to_string()))
        .collect()
}

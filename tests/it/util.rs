//! Conversations with the built server: start it with an environment, send
//! JSON-RPC lines, read replies with a deadline, close stdin, check the exit.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use serde_json::{Value, json};

pub const DEADLINE: Duration = Duration::from_secs(20);

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_mcp-osquery-server")
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn standin_path() -> PathBuf {
    repo().join("fixtures/osqueryi")
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

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
pub struct Standin {
    pub dir: TempDir,
    pub path: PathBuf,
}

impl Standin {
    /// Every wrapper also logs the SQL it was asked to `queries.log`.
    pub fn new(vars: &[(&str, &str)]) -> Standin {
        let dir = TempDir::new("standin");
        let path = dir.path("osqueryi");
        let mut script = String::from("#!/bin/sh\n");
        script.push_str(&format!(
            "STANDIN_LOG='{}'; export STANDIN_LOG\n",
            dir.path("queries.log").display()
        ));
        for (k, v) in vars {
            script.push_str(&format!("{k}='{v}'; export {k}\n"));
        }
        script.push_str(&format!("exec '{}' \"$@\"\n", standin_path().display()));
        std::fs::write(&path, script).expect("write wrapper");
        set_executable(&path);
        Standin { dir, path }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path("queries.log")).unwrap_or_default()
    }
}

pub fn set_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut perm = std::fs::metadata(path).expect("stat").permissions();
    perm.set_mode(0o755);
    std::fs::set_permissions(path, perm).expect("chmod");
}

pub struct Server {
    pub child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stashed: Vec<Value>,
    pub stderr: Arc<Mutex<Vec<String>>>,
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
        let standin = standin_path().display().to_string();
        let mut cmd = Command::new(bin());
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::temp_dir())
            .env("OSQUERY_PATH", standin)
            .env("RATE_LIMIT", "0")
            .env("OSQUERY_TIMEOUT", "10");
        for (k, v) in vars {
            cmd.env(k, v);
        }
        Server::spawn(cmd)
    }

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
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
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
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(line.as_bytes()).expect("write");
        stdin.write_all(b"\n").expect("write newline");
        stdin.flush().expect("flush");
    }

    /// Writes bytes and a newline as they are (for invalid UTF-8 and the like).
    pub fn send_raw_bytes(&mut self, line: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(line).expect("write");
        stdin.write_all(b"\n").expect("write newline");
        stdin.flush().expect("flush");
    }

    pub fn send(&mut self, msg: &Value) {
        self.send_raw(&msg.to_string());
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request with the given id without waiting.
    pub fn send_request(&mut self, id: Value, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
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

    /// The next line from stdout as JSON, or None at the deadline / EOF.
    pub fn recv(&mut self, timeout: Duration) -> Option<Value> {
        if !self.stashed.is_empty() {
            return Some(self.stashed.remove(0));
        }
        self.recv_line(timeout).map(|l| {
            serde_json::from_str(&l)
                .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}"))
        })
    }

    pub fn recv_line(&mut self, timeout: Duration) -> Option<String> {
        match self.lines.recv_timeout(timeout) {
            Ok(l) => Some(l),
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Waits for the reply to `id`, keeping other messages for later.
    pub fn wait_for(&mut self, id: &Value) -> Value {
        if let Some(i) = self
            .stashed
            .iter()
            .position(|m| m.get("id") == Some(id) && m.get("method").is_none())
        {
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
            let msg: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            if msg.get("id") == Some(id) && msg.get("method").is_none() {
                return msg;
            }
            self.stashed.push(msg);
        }
    }

    /// Every message until stdout closes (the server exited).
    pub fn drain(&mut self) -> Vec<Value> {
        let mut all = std::mem::take(&mut self.stashed);
        while let Some(line) = self.recv_line(DEADLINE) {
            all.push(
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")),
            );
        }
        all
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    pub fn wait_exit(&mut self) -> ExitStatus {
        self.close_stdin();
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not exit within {DEADLINE:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
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

/// Whether a process exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// Children of a process with their state letter (`Z` for zombies).
pub fn children_with_state(parent: u32) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(parent) {
            found.push((pid, fields.first().unwrap_or(&"?").to_string()));
        }
    }
    found
}

/// Zombie children of a process.
pub fn zombie_children(parent: u32) -> Vec<u32> {
    children_with_state(parent)
        .into_iter()
        .filter(|(_, s)| s == "Z")
        .map(|(p, _)| p)
        .collect()
}

//! In-process conversations for the pipeline's unit tests: [`super::serve_on`]
//! over channels instead of stdin and stdout, against the stand-in osqueryi
//! in `fixtures/`, one line at a time.

use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use serde_json::{Value, json};

use crate::config::Config;
use crate::osquery::PrivateHome;
use crate::tools::Engine;

pub const DEADLINE: Duration = Duration::from_secs(20);

/// The stand-in, wrapped so a misbehaviour mode survives the cleared
/// environment osqueryi runs in; removed on drop.
pub struct Standin {
    dir: PathBuf,
    pub path: PathBuf,
}

impl Standin {
    /// `mode`: a `STANDIN_MODE` of fixtures/README.md, or `None` to behave.
    pub fn new(mode: Option<&str>) -> Standin {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mcp-osq-unit-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        let path = dir.join("osqueryi");
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/osqueryi");
        let mode = mode.map_or(String::new(), |m| {
            format!("STANDIN_MODE={m}; export STANDIN_MODE\n")
        });
        let script = format!("#!/bin/sh\n{mode}exec '{}' \"$@\"\n", fixture.display());
        std::fs::write(&path, script).expect("write the wrapper");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        Standin { dir, path }
    }

    /// A configuration that runs this stand-in, rate limit off.
    pub fn config(&self) -> Config {
        let osquery = self.path.display().to_string();
        Config::from_lookup(|k| match k {
            "OSQUERY_PATH" => Some(osquery.clone()),
            "RATE_LIMIT" => Some("0".into()),
            "OSQUERY_TIMEOUT" => Some("10".into()),
            _ => None,
        })
        .expect("a valid configuration")
    }

    /// An engine running this stand-in, and the HOME it lives in.
    pub fn engine(&self) -> (Engine, PrivateHome) {
        let home = PrivateHome::create().expect("a private home");
        (Engine::new(&self.config(), home.path.clone()), home)
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A server served in-process: lines go in, parsed messages come out.
pub struct Conversation {
    input: Option<Sender<Vec<u8>>>,
    output: Receiver<Value>,
    served: Option<JoinHandle<std::io::Result<()>>>,
    stashed: Vec<Value>,
    _home: PrivateHome,
}

impl Conversation {
    pub fn start(standin: &Standin) -> Conversation {
        let (engine, home) = standin.engine();
        let config = standin.config();
        let (input, lines) = crossbeam_channel::unbounded();
        let (messages, output) = crossbeam_channel::unbounded();
        let served = std::thread::spawn(move || {
            let input = BufReader::new(ChannelReader {
                lines,
                pending: Vec::new(),
            });
            let output = LineSplitter {
                messages,
                pending: Vec::new(),
            };
            super::serve_on(input, output, config, engine)
        });
        Conversation {
            input: Some(input),
            output,
            served: Some(served),
            stashed: Vec::new(),
            _home: home,
        }
    }

    pub fn send_line(&self, line: &str) {
        if let Some(input) = &self.input {
            let _ = input.send(format!("{line}\n").into_bytes());
        }
    }

    pub fn request(&self, id: Value, method: &str, params: Value) {
        self.send_line(
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string(),
        );
    }

    pub fn notify(&self, method: &str, params: Value) {
        self.send_line(&json!({"jsonrpc": "2.0", "method": method, "params": params}).to_string());
    }

    /// The next message `wanted` accepts, keeping the others for later.
    pub fn wait_for(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.stashed.iter().position(&wanted) {
            return self.stashed.remove(i);
        }
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(msg) if wanted(&msg) => return msg,
                Ok(msg) => self.stashed.push(msg),
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no such message within {DEADLINE:?}; got {:?}",
                        self.stashed
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the server ended first; got {:?}", self.stashed)
                }
            }
        }
    }

    /// The answer to request `id`.
    pub fn reply(&mut self, id: &Value) -> Value {
        self.wait_for(|m| m.get("id") == Some(id) && m.get("method").is_none())
    }

    /// Ends the input, waits for the server to answer what it accepted and
    /// return, and gives back every message not yet taken.
    pub fn end(mut self) -> Vec<Value> {
        self.input = None;
        let served = self.served.take().map(JoinHandle::join);
        assert!(
            matches!(served, Some(Ok(Ok(())))),
            "serve_on failed: {served:?}"
        );
        let mut rest = std::mem::take(&mut self.stashed);
        rest.extend(self.output.try_iter());
        rest
    }
}

/// Input that arrives when the test sends it; EOF once the sender is gone.
struct ChannelReader {
    lines: Receiver<Vec<u8>>,
    pending: Vec<u8>,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pending.is_empty() {
            match self.lines.recv() {
                Ok(line) => self.pending = line,
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

/// Output cut into lines, each parsed (or kept as a string if it is not JSON).
struct LineSplitter {
    messages: Sender<Value>,
    pending: Vec<u8>,
}

impl Write for LineSplitter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line[..end]).into_owned();
            let msg = serde_json::from_str(&text).unwrap_or(Value::String(text));
            let _ = self.messages.send(msg);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

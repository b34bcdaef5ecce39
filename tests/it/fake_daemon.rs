//! A fake osqueryd for the tests: osquery's extension-manager socket on a
//! temporary UNIX path, answering Thrift `ping`, `query` and
//! `getQueryColumns` with canned rows, or misbehaving on demand.
//!
//! Like osqueryd it serves each connection on its own thread, one request at
//! a time, binary protocol, unframed. Standard library only, and its own
//! small request decoder and reply encoder: it shares no code with
//! `src/osquery/thrift.rs`, so the two check each other.

use std::fs;
use std::io::{self, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

pub type Row = Vec<(String, String)>;

/// One request as the fake received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub method: String,
    pub seq: i32,
    /// Empty for `ping`.
    pub sql: String,
}

/// What the fake does with one request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Status 0 and these rows (`getQueryColumns`: one `(column, type)` per
    /// row; `ping`: the rows are ignored and the status says "pong").
    Rows(Vec<Row>),
    /// This status code and message, no rows: what osqueryd sends for bad SQL.
    Status(i32, String),
    /// A `TApplicationException` of this type and message.
    Exception(i32, String),
    /// Never answer; the connection stays open until the client or
    /// [`FakeDaemon::stop`] closes it.
    Hang,
    /// Wait, then answer.
    Slow(Duration, Box<Answer>),
    /// The canned rows reply a byte at a time, this long apart: every read
    /// gets a byte in time, the whole reply takes long.
    Trickle(Duration),
    /// Bytes that are not a Thrift message, then close.
    Garbage,
    /// The first half of a rows reply, then close.
    CloseMidReply,
    /// Close without answering.
    Close,
    /// A status-0 reply with honest counts and at least this many bytes of
    /// rows, streamed as the client reads.
    Oversize(usize),
    /// A rows reply whose first column name's length prefix says this,
    /// the rest as it was, then close.
    LyingLength(u32),
}

type Responder = Arc<dyn Fn(&Call) -> Answer + Send + Sync>;

/// The fake daemon; stopped and its directory removed on drop.
pub struct FakeDaemon {
    dir: PathBuf,
    path: PathBuf,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    responder: Mutex<Responder>,
    calls: Mutex<Vec<Call>>,
    connections: AtomicUsize,
    /// Every live connection by number, so stop() can close them all.
    open: Mutex<Vec<(usize, UnixStream)>>,
    stopping: AtomicBool,
}

/// What `query` answers by default.
pub fn canned_rows() -> Vec<Row> {
    rows(&[
        &[("name", "osqueryd"), ("pid", "1")],
        &[("name", "sshd"), ("pid", "812")],
    ])
}

/// What `getQueryColumns` answers by default.
pub fn canned_columns() -> Vec<Row> {
    rows(&[&[("name", "TEXT")], &[("pid", "BIGINT")]])
}

pub fn rows(rows: &[&[(&str, &str)]]) -> Vec<Row> {
    rows.iter()
        .map(|r| {
            r.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The default responder: a healthy daemon.
pub fn canned(call: &Call) -> Answer {
    match call.method.as_str() {
        "ping" | "query" => Answer::Rows(canned_rows()),
        "getQueryColumns" => Answer::Rows(canned_columns()),
        other => Answer::Exception(1, format!("Unknown function {other}")),
    }
}

impl FakeDaemon {
    /// A healthy fake, listening.
    pub fn start() -> FakeDaemon {
        FakeDaemon::with(canned)
    }

    /// A fake whose every answer `responder` decides.
    pub fn with(responder: impl Fn(&Call) -> Answer + Send + Sync + 'static) -> FakeDaemon {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "fake-osqueryd-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).expect("create the fake daemon's directory");
        let mut daemon = FakeDaemon {
            path: dir.join("osquery.em"),
            dir,
            shared: Arc::new(Shared {
                responder: Mutex::new(Arc::new(responder)),
                calls: Mutex::new(Vec::new()),
                connections: AtomicUsize::new(0),
                open: Mutex::new(Vec::new()),
                stopping: AtomicBool::new(false),
            }),
            acceptor: None,
        };
        daemon.listen();
        daemon
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// From now on, `responder` decides every answer.
    pub fn respond_with(&self, responder: impl Fn(&Call) -> Answer + Send + Sync + 'static) {
        *lock(&self.shared.responder) = Arc::new(responder);
    }

    /// From now on, `query` and `getQueryColumns` get `answer`; ping still pongs.
    pub fn answer_queries(&self, answer: Answer) {
        self.respond_with(move |call| match call.method.as_str() {
            "ping" => canned(call),
            _ => answer.clone(),
        });
    }

    /// Every request received so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.shared.calls).clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Connections open now (neither side has closed them).
    pub fn open_connections(&self) -> usize {
        lock(&self.shared.open).len()
    }

    /// Stop listening, close every connection and remove the socket, as a
    /// daemon that exits does.
    pub fn stop(&mut self) {
        let Some(acceptor) = self.acceptor.take() else {
            return;
        };
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the acceptor blocked in accept(); it sees `stopping` and ends.
        let _ = UnixStream::connect(&self.path);
        let _ = acceptor.join();
        for (_, stream) in lock(&self.shared.open).drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        let _ = fs::remove_file(&self.path);
    }

    /// Listen again on the same path, as a restarted daemon does.
    pub fn restart(&mut self) {
        self.stop();
        self.listen();
    }

    fn listen(&mut self) {
        let _ = fs::remove_file(&self.path);
        let listener = UnixListener::bind(&self.path).expect("bind the fake daemon's socket");
        self.shared.stopping.store(false, Ordering::SeqCst);
        let shared = Arc::clone(&self.shared);
        self.acceptor = Some(thread::spawn(move || accept(listener, shared)));
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        self.stop();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn accept(listener: UnixListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let Ok(handle) = stream.try_clone() else {
            continue;
        };
        let number = shared.connections.fetch_add(1, Ordering::SeqCst);
        lock(&shared.open).push((number, handle));
        let shared = Arc::clone(&shared);
        thread::spawn(move || {
            serve(stream, &shared);
            lock(&shared.open).retain(|(n, _)| *n != number);
        });
    }
}

/// One connection: requests one after another until the client leaves or an
/// answer ends the connection.
fn serve(stream: UnixStream, shared: &Shared) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    while let Ok(call) = read_call(&mut reader) {
        lock(&shared.calls).push(call.clone());
        let responder = Arc::clone(&lock(&shared.responder));
        let answer = responder(&call);
        if answer_call(&mut writer, &mut reader, &call, answer).is_err() {
            break;
        }
    }
    // Dropping ours is not enough: `Shared::open` holds a clone.
    let _ = writer.shutdown(std::net::Shutdown::Both);
}

/// Ends the connection with Err (deliberately, or because the client left).
fn answer_call(
    w: &mut UnixStream,
    r: &mut impl Read,
    call: &Call,
    answer: Answer,
) -> io::Result<()> {
    let closed = || Err(io::ErrorKind::ConnectionAborted.into());
    match answer {
        Answer::Rows(rows) => w.write_all(&rows_reply(call, &rows).0),
        Answer::Status(code, message) => w.write_all(&status_reply(call, code, &message)),
        Answer::Exception(kind, message) => w.write_all(&exception_reply(call, kind, &message)),
        Answer::Hang => {
            // Hold the connection until the peer or stop() closes it.
            io::copy(r, &mut io::sink())?;
            closed()
        }
        Answer::Slow(delay, answer) => {
            thread::sleep(delay);
            answer_call(w, r, call, *answer)
        }
        Answer::Trickle(pause) => {
            for byte in rows_reply(call, &canned_rows()).0 {
                w.write_all(&[byte])?;
                thread::sleep(pause);
            }
            Ok(())
        }
        Answer::Garbage => {
            w.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")?;
            closed()
        }
        Answer::CloseMidReply => {
            let bytes = rows_reply(call, &canned_rows()).0;
            w.write_all(&bytes[..bytes.len() / 2])?;
            closed()
        }
        Answer::Close => closed(),
        Answer::Oversize(bytes) => oversize(w, call, bytes),
        Answer::LyingLength(len) => {
            let (mut bytes, at) = rows_reply(call, &canned_rows());
            bytes[at..at + 4].copy_from_slice(&len.to_be_bytes());
            w.write_all(&bytes)?;
            closed()
        }
    }
}

// The request decoder: only what our three calls send.

const STRICT_VERSION: u32 = 0x8001_0000;
const CALL: u8 = 1;
const REPLY: u8 = 2;
const EXCEPTION: u8 = 3;
const T_STOP: u8 = 0;
const T_I32: u8 = 8;
const T_I64: u8 = 10;
const T_STRING: u8 = 11;
const T_STRUCT: u8 = 12;
const T_MAP: u8 = 13;
const T_LIST: u8 = 15;

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

fn read_n<const N: usize>(r: &mut impl Read) -> io::Result<[u8; N]> {
    let mut buf = [0; N];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

fn read_i32(r: &mut impl Read) -> io::Result<i32> {
    Ok(i32::from_be_bytes(read_n(r)?))
}

fn read_string(r: &mut impl Read, max: usize) -> io::Result<String> {
    let len = usize::try_from(read_i32(r)?).map_err(|_| invalid("negative length"))?;
    if len > max {
        return Err(invalid("string too long"));
    }
    let mut buf = vec![0; len];
    r.read_exact(&mut buf)?;
    String::from_utf8(buf).map_err(|_| invalid("not UTF-8"))
}

fn read_call(r: &mut impl Read) -> io::Result<Call> {
    let word = u32::from_be_bytes(read_n(r)?);
    if word != STRICT_VERSION | u32::from(CALL) {
        return Err(invalid("not a strict CALL header"));
    }
    let method = read_string(r, 64)?;
    let seq = read_i32(r)?;
    let mut sql = String::new();
    loop {
        match read_n::<1>(r)?[0] {
            T_STOP => break,
            T_STRING if i16::from_be_bytes(read_n(r)?) == 1 => sql = read_string(r, 16 << 20)?,
            _ => return Err(invalid("an argument the fake does not know")),
        }
    }
    Ok(Call { method, seq, sql })
}

// The reply encoder.

fn put_i32(out: &mut Vec<u8>, v: i32) {
    out.extend(v.to_be_bytes());
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    put_i32(out, s.len() as i32);
    out.extend(s.as_bytes());
}

fn put_field(out: &mut Vec<u8>, ty: u8, id: i16) {
    out.push(ty);
    out.extend(id.to_be_bytes());
}

fn header(call: &Call, kind: u8) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend((STRICT_VERSION | u32::from(kind)).to_be_bytes());
    put_string(&mut out, &call.method);
    put_i32(&mut out, call.seq);
    out
}

/// `ExtensionStatus` as osqueryd writes it: every field.
fn put_status(out: &mut Vec<u8>, code: i32, message: &str) {
    put_field(out, T_I32, 1);
    put_i32(out, code);
    put_field(out, T_STRING, 2);
    put_string(out, message);
    put_field(out, T_I64, 3);
    out.extend(0i64.to_be_bytes());
    out.push(T_STOP);
}

/// A REPLY up to the start of the response's row list (ping: complete).
fn reply_start(call: &Call, code: i32, message: &str, rows: usize) -> Vec<u8> {
    let mut out = header(call, REPLY);
    put_field(&mut out, T_STRUCT, 0);
    if call.method == "ping" {
        put_status(&mut out, code, message);
        out.extend([T_STOP]);
        return out;
    }
    put_field(&mut out, T_STRUCT, 1);
    put_status(&mut out, code, message);
    put_field(&mut out, T_LIST, 2);
    out.push(T_MAP);
    put_i32(&mut out, rows as i32);
    out
}

fn reply_end(call: &Call, out: &mut Vec<u8>) {
    if call.method != "ping" {
        // The response struct, then the result struct.
        out.extend([T_STOP, T_STOP]);
    }
}

fn put_row(out: &mut Vec<u8>, row: &Row) {
    out.extend([T_STRING, T_STRING]);
    put_i32(out, row.len() as i32);
    for (column, value) in row {
        put_string(out, column);
        put_string(out, value);
    }
}

/// The reply, and where its first column name's length prefix sits.
fn rows_reply(call: &Call, rows: &[Row]) -> (Vec<u8>, usize) {
    if call.method == "ping" {
        // A ping has no rows; its first string is the method name.
        return (status_reply(call, 0, "pong"), 4);
    }
    let mut out = reply_start(call, 0, "OK", rows.len());
    // After the first row's key type, value type and cell count.
    let first_name = out.len() + 6;
    for row in rows {
        put_row(&mut out, row);
    }
    reply_end(call, &mut out);
    (out, first_name)
}

fn status_reply(call: &Call, code: i32, message: &str) -> Vec<u8> {
    let mut out = reply_start(call, code, message, 0);
    reply_end(call, &mut out);
    out
}

fn exception_reply(call: &Call, kind: i32, message: &str) -> Vec<u8> {
    let mut out = header(call, EXCEPTION);
    put_field(&mut out, T_STRING, 1);
    put_string(&mut out, message);
    put_field(&mut out, T_I32, 2);
    put_i32(&mut out, kind);
    out.push(T_STOP);
    out
}

/// At least `bytes` of rows, written a row at a time so the fake holds one
/// row, not the reply; the write fails once the client stops reading and
/// closes.
fn oversize(w: &mut impl Write, call: &Call, bytes: usize) -> io::Result<()> {
    let row: Row = vec![
        ("pid".into(), "4242".into()),
        ("cmdline".into(), "x".repeat(1000)),
    ];
    let mut encoded = Vec::new();
    put_row(&mut encoded, &row);
    let rows = bytes / encoded.len() + 1;
    w.write_all(&reply_start(call, 0, "OK", rows))?;
    for _ in 0..rows {
        w.write_all(&encoded)?;
    }
    let mut end = Vec::new();
    reply_end(call, &mut end);
    w.write_all(&end)
}

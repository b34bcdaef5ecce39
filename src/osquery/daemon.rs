//! The daemon backend: queries answered by a running osqueryd through its
//! extensions socket, over the wire of [`super::thrift`].
//!
//! Connections are opened lazily, kept while they work and reused: a worker
//! takes an idle one (or opens one), sends one call, reads its reply and puts
//! the connection back, so five workers hold at most five. Any error closes
//! the connection it happened on; the next call opens a fresh one.
//!
//! Each call has one deadline, `OSQUERY_TIMEOUT` from when it is sent, for the
//! write and the whole reply; a timed-out call closes its connection (osqueryd
//! finishes the query on its own and nobody reads the answer). The reply is
//! read within `MAX_RESPONSE_SIZE` bytes. A cancel shuts the connection down,
//! which wakes the blocked read at once.

use std::io::{self, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::thrift::{self, Request, Status, WireError};
use super::{Control, Output, Row, RunError, lock};

/// One read system call takes in a typical reply whole.
const READ_BUFFER: usize = 64 * 1024;

/// The daemon's version, for health checks.
pub const VERSION_SQL: &str = "SELECT version FROM osquery_info;";

#[derive(Debug)]
pub struct Daemon {
    pub socket: PathBuf,
    pub timeout: Duration,
    pub max_response: usize,
    /// Connections between calls; at most `max_idle` are kept.
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
}

#[derive(Debug)]
struct Connection {
    io: BufReader<Timed>,
    /// The same socket, for a cancel to shut down.
    handle: Arc<UnixStream>,
    /// The sequence id of the last call sent.
    seq: i32,
}

/// The socket with the deadline of the call in progress: every read and
/// write gets only the time that is left, so a daemon that trickles its
/// reply cannot stretch a call past the timeout.
#[derive(Debug)]
struct Timed {
    stream: UnixStream,
    deadline: Instant,
}

impl Daemon {
    pub fn new(socket: PathBuf, timeout: Duration, max_response: usize, max_idle: usize) -> Daemon {
        Daemon {
            socket,
            timeout,
            max_response,
            idle: Mutex::new(Vec::new()),
            max_idle,
        }
    }

    /// Runs one query and returns its rows.
    pub fn run(&self, sql: &str, control: &Control) -> Result<Output, RunError> {
        let mut rows = Vec::new();
        let status = self.call(Request::Query(sql), control, &mut |cells| {
            rows.push(to_row(cells))
        })?;
        refused(status)?;
        Ok(Output {
            rows,
            warnings: Vec::new(),
        })
    }

    /// The columns `sql` would return, one row of `name` and `type` each,
    /// from `getQueryColumns`: osqueryd prepares the statement without
    /// running it.
    pub fn columns(&self, sql: &str, control: &Control) -> Result<Output, RunError> {
        let mut rows = Vec::new();
        let status = self.call(Request::QueryColumns(sql), control, &mut |cells| {
            for (name, ty) in cells {
                rows.push(to_row(vec![("name".into(), name), ("type".into(), ty)]));
            }
        })?;
        refused(status)?;
        Ok(Output {
            rows,
            warnings: Vec::new(),
        })
    }

    /// `ping()`: is osqueryd there and answering.
    pub fn ping(&self) -> Result<(), RunError> {
        let status = self.call(Request::Ping, &Control::default(), &mut |_| {})?;
        refused(status)
    }

    /// The daemon's osquery version (`osquery_info`), empty if it has none.
    pub fn version(&self) -> Result<String, RunError> {
        let mut version = String::new();
        let status = self.call(
            Request::Query(VERSION_SQL),
            &Control::default(),
            &mut |cells| {
                if let Some((_, v)) = cells.into_iter().find(|(k, _)| k == "version") {
                    version = v;
                }
            },
        )?;
        refused(status)?;
        Ok(version)
    }

    /// One call on an idle connection or a new one. A reused connection
    /// closed before a byte of the reply means the daemon restarted (or
    /// dropped it while idle): the call is sent once more on a fresh
    /// connection. Every call is a read-only query, so sending it twice
    /// is safe.
    fn call(
        &self,
        request: Request,
        control: &Control,
        sink: &mut dyn FnMut(thrift::Row),
    ) -> Result<Status, RunError> {
        if control.is_cancelled() {
            return Err(RunError::Cancelled);
        }
        let idle = lock(&self.idle).pop();
        let (mut conn, mut reused) = match idle {
            Some(c) => (c, true),
            None => (self.connect()?, false),
        };
        loop {
            let result = conn.exchange(request, self.timeout, self.max_response, control, sink);
            if control.is_cancelled() {
                return Err(RunError::Cancelled);
            }
            match result {
                Ok(status) => {
                    let mut idle = lock(&self.idle);
                    if idle.len() < self.max_idle {
                        idle.push(conn);
                    }
                    return Ok(status);
                }
                Err(WireError::Closed { read: 0 }) if reused => {
                    log::info!(
                        "osqueryd closed an idle connection (restarted?); reconnecting to {}",
                        self.socket.display()
                    );
                    // Its other idle connections went with it.
                    lock(&self.idle).clear();
                    conn = self.connect()?;
                    reused = false;
                }
                Err(e) => return Err(self.failure(e)),
            }
        }
    }

    fn connect(&self) -> Result<Connection, RunError> {
        let stream = UnixStream::connect(&self.socket).map_err(|e| self.unreachable(e))?;
        let handle = stream.try_clone().map_err(|e| self.unreachable(e))?;
        let timed = Timed {
            stream,
            deadline: Instant::now(),
        };
        Ok(Connection {
            io: BufReader::with_capacity(READ_BUFFER, timed),
            handle: Arc::new(handle),
            seq: 0,
        })
    }

    /// What an operator (or the model) can do about a socket that does not
    /// connect.
    fn unreachable(&self, e: io::Error) -> RunError {
        let path = self.socket.display();
        RunError::Daemon(match e.kind() {
            io::ErrorKind::NotFound => format!(
                "no osqueryd socket at {path} — is osqueryd running? set OSQUERY_SOCKET, or OSQUERY_BACKEND=osqueryi"
            ),
            io::ErrorKind::ConnectionRefused => format!(
                "nothing listens on the osqueryd socket {path} (left behind by a stopped osqueryd?) — is osqueryd running? set OSQUERY_SOCKET, or OSQUERY_BACKEND=osqueryi"
            ),
            io::ErrorKind::PermissionDenied => format!(
                "permission denied on the osqueryd socket {path}: osqueryd makes it root-only by default; run this server as root, or give its user access to the socket (see docs/backends.md)"
            ),
            _ => format!("cannot connect to the osqueryd socket {path}: {e}"),
        })
    }

    fn failure(&self, e: WireError) -> RunError {
        match e {
            WireError::Timeout => RunError::Timeout(self.timeout),
            WireError::TooLarge { budget } => RunError::Daemon(format!(
                "osqueryd's reply exceeded MAX_RESPONSE_SIZE ({budget} bytes); add a LIMIT or select fewer columns"
            )),
            WireError::Closed { .. } => RunError::Daemon(format!(
                "{e}: it may have restarted, or its watchdog stopped a heavy query; try again, or narrow the query"
            )),
            WireError::Protocol(_) => RunError::Daemon(format!(
                "{e} (is {} osqueryd's extensions socket?)",
                self.socket.display()
            )),
            WireError::Exception { .. } | WireError::Io(_) => RunError::Daemon(e.to_string()),
        }
    }
}

/// A status other than 0 is osqueryd refusing the query, with SQLite's or
/// the planner's reason.
fn refused(status: Status) -> Result<(), RunError> {
    if status.code == 0 {
        return Ok(());
    }
    Err(RunError::Daemon(format!(
        "osqueryd could not run the query: {}",
        status.message
    )))
}

/// A row from the wire as the server's row type: the one place the two meet.
fn to_row(cells: thrift::Row) -> Row {
    cells
        .into_iter()
        .map(|(column, value)| (column, Value::String(value)))
        .collect()
}

impl Connection {
    /// Sends one call and reads its reply within `timeout`, with the socket
    /// in `control`'s hands meanwhile.
    fn exchange(
        &mut self,
        request: Request,
        timeout: Duration,
        budget: usize,
        control: &Control,
        sink: &mut dyn FnMut(thrift::Row),
    ) -> Result<Status, WireError> {
        if !control.attach_socket(Arc::clone(&self.handle)) {
            return Err(WireError::Closed { read: 0 });
        }
        self.seq = self.seq.wrapping_add(1);
        self.io.get_mut().deadline = Instant::now() + timeout;
        let result = thrift::send(self.io.get_mut(), request, self.seq)
            .and_then(|()| thrift::read_reply(&mut self.io, request, self.seq, budget, sink));
        control.detach_socket();
        result
    }
}

impl Timed {
    fn left(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        Ok(left)
    }
}

impl Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.set_read_timeout(Some(self.left()?))?;
        self.stream.read(buf)
    }
}

impl Write for Timed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.set_write_timeout(Some(self.left()?))?;
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

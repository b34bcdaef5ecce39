//! `src/osquery/thrift.rs`'s client side against the fake osqueryd over a real UNIX
//! socket: rows come back, and each way a daemon can misbehave is the
//! `WireError` the backend will act on. The interop check against a real
//! Thrift server is `interop_with_a_python_thrift_server` (ignored; see
//! tests/interop/README.md).

use std::io::{self, BufReader};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::fake_daemon::{Answer, Call, FakeDaemon, Row, canned_columns, canned_rows, rows};
use mcp_osquery_server::osquery::thrift::{Request, Status, WireError, read_reply, send};

const BUDGET: usize = 10 << 20;
/// Long enough for any honest answer on a loaded machine; only the hang
/// tests wait for it, with a shorter one of their own.
const PATIENT: Duration = Duration::from_secs(20);

/// The smallest client: one connection, calls in turn, sequence ids counted.
struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    seq: i32,
}

impl Client {
    fn connect(path: &Path, timeout: Duration) -> io::Result<Client> {
        let stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Client {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
            seq: 0,
        })
    }

    fn call(&mut self, request: Request) -> Result<(Status, Vec<Row>), WireError> {
        self.seq += 1;
        send(&mut self.writer, request, self.seq)?;
        let mut rows = Vec::new();
        let status = read_reply(&mut self.reader, request, self.seq, BUDGET, |row| {
            rows.push(row)
        })?;
        Ok((status, rows))
    }
}

fn client(daemon: &FakeDaemon) -> Client {
    Client::connect(daemon.path(), PATIENT).expect("connect to the fake daemon")
}

fn ok(message: &str) -> Status {
    Status {
        code: 0,
        message: message.into(),
        uuid: 0,
    }
}

const SQL: &str = "SELECT name, pid FROM processes";

#[test]
fn calls_round_trip_on_one_connection() {
    let daemon = FakeDaemon::start();
    let mut c = client(&daemon);
    let ping = c.call(Request::Ping).expect("ping");
    let query = c.call(Request::Query(SQL)).expect("query");
    let columns = c.call(Request::QueryColumns(SQL)).expect("columns");
    assert_eq!(ping, (ok("pong"), vec![]));
    assert_eq!(query, (ok("OK"), canned_rows()));
    assert_eq!(columns, (ok("OK"), canned_columns()));
    let call = |method: &str, seq, sql: &str| Call {
        method: method.into(),
        seq,
        sql: sql.into(),
    };
    assert_eq!(
        daemon.calls(),
        [
            call("ping", 1, ""),
            call("query", 2, SQL),
            call("getQueryColumns", 3, SQL)
        ]
    );
    assert_eq!(daemon.connections(), 1);
}

#[test]
fn a_failed_query_is_a_status_not_an_error() {
    let daemon = FakeDaemon::start();
    daemon.answer_queries(Answer::Status(1, "no such table: nosuch".into()));
    let mut c = client(&daemon);
    let (status, rows) = c
        .call(Request::Query("SELECT * FROM nosuch"))
        .expect("a reply");
    assert_eq!(
        (status.code, status.message.as_str()),
        (1, "no such table: nosuch")
    );
    assert!(rows.is_empty());
    // The connection is still good.
    assert_eq!(c.call(Request::Ping).expect("ping").0, ok("pong"));
}

#[test]
fn an_exception_is_an_error() {
    let daemon = FakeDaemon::start();
    daemon.answer_queries(Answer::Exception(6, "Internal error".into()));
    let err = client(&daemon).call(Request::Query(SQL)).unwrap_err();
    assert!(
        matches!(&err, WireError::Exception { kind: 6, message } if message == "Internal error"),
        "{err:?}"
    );
}

#[test]
fn misbehaviours_are_told_apart() {
    let cases: Vec<(Answer, &str)> = vec![
        (
            Answer::Garbage,
            "Protocol(\"not a strict Thrift binary message",
        ),
        (Answer::CloseMidReply, "Closed { read: "),
        (Answer::Close, "Closed { read: 0 }"),
        (Answer::Oversize(40 << 20), "TooLarge { budget: 10485760 }"),
        (
            Answer::LyingLength(u32::MAX),
            "Protocol(\"negative length -1\")",
        ),
        (Answer::LyingLength(i32::MAX as u32), "TooLarge"),
        // Longer than the bytes that follow: the close cuts it short.
        (Answer::LyingLength(1000), "Closed { read: "),
    ];
    let daemon = FakeDaemon::start();
    for (answer, want) in cases {
        daemon.answer_queries(answer.clone());
        let got = client(&daemon).call(Request::Query(SQL)).unwrap_err();
        let got = format!("{got:?}");
        assert!(got.starts_with(want), "{answer:?}: {got}");
        if want == "Closed { read: " {
            assert!(!got.starts_with("Closed { read: 0 }"), "{answer:?}: {got}");
        }
    }
}

#[test]
fn a_slow_answer_within_the_timeout_arrives() {
    let daemon = FakeDaemon::start();
    daemon.answer_queries(Answer::Slow(
        Duration::from_millis(50),
        Box::new(Answer::Rows(canned_rows())),
    ));
    assert_eq!(
        client(&daemon).call(Request::Query(SQL)).expect("rows").1,
        canned_rows()
    );
}

#[test]
fn a_hang_is_a_timeout_and_other_connections_are_served_meanwhile() {
    let (hanging, hung) = std::sync::mpsc::channel();
    let daemon = FakeDaemon::with(move |call| match call.sql.as_str() {
        "SELECT hang" => {
            let _ = hanging.send(());
            Answer::Hang
        }
        _ => crate::fake_daemon::canned(call),
    });
    let mut stuck = Client::connect(daemon.path(), Duration::from_secs(1)).expect("connect");
    std::thread::scope(|s| {
        let waiting = s.spawn(|| stuck.call(Request::Query("SELECT hang")));
        hung.recv_timeout(PATIENT).expect("the hang began");
        let other = client(&daemon).call(Request::Query(SQL));
        assert_eq!(other.expect("served").1, canned_rows());
        assert!(!waiting.is_finished(), "served only after the hang ended");
        let waited = waiting.join().expect("no panic");
        assert!(matches!(waited, Err(WireError::Timeout)), "{waited:?}");
    });
}

#[test]
fn a_restarted_daemon_is_reached_by_a_new_connection() {
    let mut daemon = FakeDaemon::start();
    let mut old = client(&daemon);
    assert!(old.call(Request::Ping).is_ok());
    daemon.stop();
    let down = old.call(Request::Ping).unwrap_err();
    assert!(matches!(down, WireError::Closed { read: 0 }), "{down:?}");
    let refused = Client::connect(daemon.path(), PATIENT)
        .err()
        .expect("no socket");
    assert_eq!(refused.kind(), io::ErrorKind::NotFound);
    daemon.restart();
    assert!(
        old.call(Request::Ping).is_err(),
        "the old connection stays dead"
    );
    let (_, rows) = client(&daemon)
        .call(Request::Query(SQL))
        .expect("served again");
    assert_eq!(rows, canned_rows());
    assert_eq!(daemon.connections(), 2);
}

#[test]
fn rows_are_streamed_not_collected() {
    let daemon = FakeDaemon::start();
    daemon.answer_queries(Answer::Rows(rows(&[
        &[("a", "1")],
        &[("a", "2")],
        &[("a", "3")],
    ])));
    let mut c = client(&daemon);
    c.seq += 1;
    let request = Request::Query(SQL);
    send(&mut c.writer, request, c.seq).expect("sent");
    let mut seen = Vec::new();
    let status = read_reply(&mut c.reader, request, c.seq, BUDGET, |row| {
        seen.push(row.into_iter().map(|(_, v)| v).collect::<String>())
    });
    assert_eq!(
        (status.expect("reply").code, seen),
        (0, vec!["1".into(), "2".into(), "3".into()])
    );
}

/// Against a fake ExtensionManager served by Apache Thrift's Python library
/// with osquery's generated code: `bash tests/interop/run.sh`.
#[test]
#[ignore = "needs tests/interop/fake_extension_manager.py running; see tests/interop/README.md"]
fn interop_with_a_python_thrift_server() {
    let path = std::env::var("OSQUERY_INTEROP_SOCKET").expect("OSQUERY_INTEROP_SOCKET");
    let mut c = Client::connect(Path::new(&path), PATIENT).expect("connect");
    let (ping, _) = c.call(Request::Ping).expect("ping");
    let (status, rows) = c.call(Request::Query(SQL)).expect("query");
    let (_, columns) = c.call(Request::QueryColumns(SQL)).expect("getQueryColumns");
    let (failed, _) = c
        .call(Request::Query("SELECT * FROM nosuch"))
        .expect("bad SQL");
    let raised = c.call(Request::Query("SELECT raise")).unwrap_err();
    println!("ping: {ping:?}\nquery: {status:?}");
    for row in &rows {
        println!("  {row:?}");
    }
    println!("getQueryColumns: {columns:?}\nbad SQL: {failed:?}\nraise: {raised}");
    assert_eq!((ping.code, ping.message.as_str()), (0, "pong"));
    assert_eq!((status.code, rows), (0, canned_rows()));
    assert_eq!(columns, canned_columns());
    assert_eq!(
        (failed.code, failed.message.as_str()),
        (1, "no such table: nosuch")
    );
    assert!(
        matches!(raised, WireError::Exception { kind: 6, .. }),
        "{raised:?}"
    );
    // The same connection served all five.
    assert_eq!(c.call(Request::Ping).expect("ping again").0.code, 0);
}

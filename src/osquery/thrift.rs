//! The wire to osqueryd's extension manager: Thrift's binary protocol (strict
//! message header, unframed), written by hand for the three calls we make —
//! `ping()`, `query(sql)` and `getQueryColumns(sql)` of osquery's
//! `ExtensionManager` service — and the replies they get.
//!
//! Pure: it encodes into bytes and decodes from any [`Read`]; it knows nothing
//! of sockets, MCP or this server. The caller owns the connection, its
//! timeouts, and what a status code or a row means.
//!
//! Nothing the peer sends is trusted. A reply is read incrementally within a
//! byte budget (the caller's response cap): every length and count is checked
//! against the bytes the budget has left before anything is allocated for it,
//! so an oversized or lying reply fails as soon as it says so, and memory stays
//! proportional to the budget. Unknown fields of any type are skipped, to a
//! bounded depth. The decoder reads exactly one reply and not a byte more, so
//! the next call on the same connection starts where this one ended.

use std::fmt;
use std::io::{self, Read, Write};

/// One result row as the daemon sent it: (column, value) in wire order.
pub type Row = Vec<(String, String)>;

/// How deep structs, lists and maps may nest in a reply. Ours nest four
/// deep; this leaves room for a newer peer's extra fields while keeping
/// recursion (and the stack) bounded.
pub const MAX_DEPTH: usize = 32;

const STRICT_VERSION: u32 = 0x8001_0000;
const VERSION_MASK: u32 = 0xffff_0000;

const CALL: u8 = 1;
const REPLY: u8 = 2;
const EXCEPTION: u8 = 3;

const T_STOP: u8 = 0;
const T_BOOL: u8 = 2;
const T_BYTE: u8 = 3;
const T_DOUBLE: u8 = 4;
const T_I16: u8 = 6;
const T_I32: u8 = 8;
const T_I64: u8 = 10;
const T_STRING: u8 = 11;
const T_STRUCT: u8 = 12;
const T_MAP: u8 = 13;
const T_SET: u8 = 14;
const T_LIST: u8 = 15;
const T_UUID: u8 = 16;

/// Strings up to this size are read in one go; longer ones grow as their
/// bytes arrive, so a peer that announces a long string and stalls does not
/// make us hold the whole announced size.
const EAGER_STRING: usize = 64 * 1024;
/// Cells reserved up front for a row, however many the row announces.
const EAGER_CELLS: usize = 1024;
/// No method of ours has a longer name; a longer one is garbage, refused
/// before it is read.
const MAX_METHOD_NAME: usize = 64;

/// One call to the extension manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    Ping,
    Query(&'a str),
    QueryColumns(&'a str),
}

/// `ExtensionStatus`: code 0 is success; on failure osqueryd sets code 1 and
/// puts SQLite's or the planner's message here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    pub code: i32,
    pub message: String,
    pub uuid: i64,
}

/// Why a call got no usable reply. Every variant leaves the connection in an
/// unknown state: the caller should close it.
#[derive(Debug)]
pub enum WireError {
    /// The socket's read or write timeout expired.
    Timeout,
    /// The peer closed the connection after `read` bytes of the reply
    /// (0: before answering at all, as a restarted daemon's old socket does).
    Closed { read: usize },
    /// Any other I/O error.
    Io(io::Error),
    /// The reply is longer than the budget the caller gave.
    TooLarge { budget: usize },
    /// Bytes that are not the reply we asked for: bad header, wrong method,
    /// sequence id or message type, bad lengths or types, too deep.
    Protocol(String),
    /// The peer answered with a `TApplicationException`.
    Exception { kind: i32, message: String },
}

impl Request<'_> {
    /// The method name on the wire.
    pub fn method(&self) -> &'static str {
        match self {
            Request::Ping => "ping",
            Request::Query(_) => "query",
            Request::QueryColumns(_) => "getQueryColumns",
        }
    }

    /// The call message with sequence id `seq`, as Thrift's own clients
    /// write it. Fails only for SQL longer than a Thrift string can be (2 GiB).
    pub fn encode(&self, seq: i32) -> Result<Vec<u8>, WireError> {
        let mut out = Vec::with_capacity(32);
        out.extend((STRICT_VERSION | u32::from(CALL)).to_be_bytes());
        put_string(&mut out, self.method())?;
        out.extend(seq.to_be_bytes());
        // The argument struct: `1: string sql`, or no field for ping.
        if let Request::Query(sql) | Request::QueryColumns(sql) = self {
            out.push(T_STRING);
            out.extend(1i16.to_be_bytes());
            put_string(&mut out, sql)?;
        }
        out.push(T_STOP);
        Ok(out)
    }
}

/// Write one call. The caller reads its reply with [`read_reply`].
pub fn send(w: &mut impl Write, request: Request, seq: i32) -> Result<(), WireError> {
    let bytes = request.encode(seq)?;
    w.write_all(&bytes)
        .and_then(|()| w.flush())
        .map_err(|e| io_error(e, 0))
}

/// Read the reply to `request` sent with `seq`, at most `budget` bytes of it.
///
/// Rows go to `sink` one at a time as they are read (for `getQueryColumns`,
/// one single-cell row `(column, type)` per column; ping has none), so the
/// caller can keep them in whatever shape it likes without an intermediate
/// copy. They count only if this returns `Ok` with status code 0: on an
/// error, or a non-zero code, discard what the sink got.
///
/// Reads exactly the reply's bytes from `r`. Reading a socket directly costs
/// a system call per field; wrap it in a `BufReader` kept for the life of
/// the connection (the daemon sends nothing unasked, so the buffer never
/// holds bytes past a reply).
pub fn read_reply(
    r: &mut impl Read,
    request: Request,
    seq: i32,
    budget: usize,
    mut sink: impl FnMut(Row),
) -> Result<Status, WireError> {
    let mut d = Decoder { r, read: 0, budget };
    let kind = d.message_header(request.method(), seq)?;
    match kind {
        REPLY => {}
        EXCEPTION => return Err(d.exception()?),
        other => return Err(protocol(format!("unexpected message type {other}"))),
    }
    // The result struct; its field 0 is the return value.
    let mut status = None;
    while let Some((ty, id)) = d.field()? {
        match (id, ty, request) {
            (0, T_STRUCT, Request::Ping) => status = Some(d.status()?),
            (0, T_STRUCT, _) => status = Some(d.response(&mut sink)?),
            _ => d.skip(ty, 1)?,
        }
    }
    status.ok_or_else(|| protocol("the reply carries no result"))
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Timeout => write!(f, "osqueryd did not answer in time"),
            WireError::Closed { read: 0 } => write!(f, "osqueryd closed the connection"),
            WireError::Closed { read } => write!(
                f,
                "osqueryd closed the connection after {read} bytes of its reply"
            ),
            WireError::Io(e) => write!(f, "socket error: {e}"),
            WireError::TooLarge { budget } => {
                write!(f, "osqueryd's reply is larger than {budget} bytes")
            }
            WireError::Protocol(m) => write!(f, "garbled reply from osqueryd: {m}"),
            WireError::Exception { kind, message } => write!(
                f,
                "osqueryd raised a Thrift exception ({}): {message}",
                exception_name(*kind)
            ),
        }
    }
}

impl std::error::Error for WireError {}

fn put_string(out: &mut Vec<u8>, s: &str) -> Result<(), WireError> {
    let len = i32::try_from(s.len())
        .map_err(|_| protocol(format!("a string of {} bytes is too long", s.len())))?;
    out.extend(len.to_be_bytes());
    out.extend(s.as_bytes());
    Ok(())
}

fn protocol(message: impl Into<String>) -> WireError {
    WireError::Protocol(message.into())
}

fn io_error(e: io::Error, read: usize) -> WireError {
    use io::ErrorKind::*;
    match e.kind() {
        // A socket's read/write timeout shows as WouldBlock on Unix.
        WouldBlock | TimedOut => WireError::Timeout,
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe => {
            WireError::Closed { read }
        }
        _ => WireError::Io(e),
    }
}

/// TApplicationException's types, as Thrift numbers them.
fn exception_name(kind: i32) -> String {
    const NAMES: [&str; 11] = [
        "UNKNOWN",
        "UNKNOWN_METHOD",
        "INVALID_MESSAGE_TYPE",
        "WRONG_METHOD_NAME",
        "BAD_SEQUENCE_ID",
        "MISSING_RESULT",
        "INTERNAL_ERROR",
        "PROTOCOL_ERROR",
        "INVALID_TRANSFORM",
        "INVALID_PROTOCOL",
        "UNSUPPORTED_CLIENT_TYPE",
    ];
    usize::try_from(kind)
        .ok()
        .and_then(|i| NAMES.get(i))
        .map_or_else(|| format!("type {kind}"), |name| (*name).to_string())
}

/// The fewest bytes one value of type `ty` takes on the wire: what a count
/// of them must at least leave in the budget.
fn min_size(ty: u8) -> Result<usize, WireError> {
    Ok(match ty {
        T_BOOL | T_BYTE | T_STRUCT => 1,
        T_I16 => 2,
        T_I32 | T_STRING => 4,
        T_SET | T_LIST => 5,
        T_MAP => 6,
        T_I64 | T_DOUBLE => 8,
        T_UUID => 16,
        other => return Err(protocol(format!("unknown type id {other}"))),
    })
}

struct Decoder<'r, R> {
    r: &'r mut R,
    /// Bytes of this reply consumed so far.
    read: usize,
    budget: usize,
}

impl<R: Read> Decoder<'_, R> {
    /// Claim `n` more bytes of the budget, before reading or allocating them.
    fn claim(&mut self, n: usize) -> Result<(), WireError> {
        if n > self.budget - self.read {
            return Err(WireError::TooLarge {
                budget: self.budget,
            });
        }
        Ok(())
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<(), WireError> {
        self.claim(buf.len())?;
        self.r.read_exact(buf).map_err(|e| io_error(e, self.read))?;
        self.read += buf.len();
        Ok(())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut buf = [0; N];
        self.fill(&mut buf)?;
        Ok(buf)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }

    fn i16(&mut self) -> Result<i16, WireError> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32, WireError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, WireError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// A length or count prefix of things at least `min` bytes each,
    /// checked against what the budget has left.
    fn size(&mut self, min: usize) -> Result<usize, WireError> {
        let n = self.i32()?;
        let n = usize::try_from(n).map_err(|_| protocol(format!("negative length {n}")))?;
        self.claim(n.saturating_mul(min))?;
        Ok(n)
    }

    fn bytes(&mut self) -> Result<Vec<u8>, WireError> {
        let len = self.size(1)?;
        if len <= EAGER_STRING {
            let mut buf = vec![0; len];
            self.fill(&mut buf)?;
            return Ok(buf);
        }
        let mut buf = Vec::with_capacity(EAGER_STRING);
        let got = (&mut *self.r)
            .take(len as u64)
            .read_to_end(&mut buf)
            .map_err(|e| io_error(e, self.read))?;
        self.read += got;
        if got < len {
            return Err(WireError::Closed { read: self.read });
        }
        Ok(buf)
    }

    /// Thrift strings should be UTF-8; a stray byte in one value should not
    /// cost the whole reply, so it is replaced, as osqueryi's JSON does.
    fn string(&mut self) -> Result<String, WireError> {
        let bytes = self.bytes()?;
        Ok(String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    fn discard(&mut self, n: usize) -> Result<(), WireError> {
        self.claim(n)?;
        let got = io::copy(&mut (&mut *self.r).take(n as u64), &mut io::sink())
            .map_err(|e| io_error(e, self.read))?;
        // `got` is at most `n`, so it fits.
        self.read += usize::try_from(got).unwrap_or(n);
        if got < n as u64 {
            return Err(WireError::Closed { read: self.read });
        }
        Ok(())
    }

    /// The strict header: version and type, method name, sequence id.
    /// Returns the message type once name and id are the ones expected.
    fn message_header(&mut self, method: &str, seq: i32) -> Result<u8, WireError> {
        let word = u32::from_be_bytes(self.array()?);
        if word & VERSION_MASK != STRICT_VERSION {
            return Err(protocol(format!(
                "not a strict Thrift binary message (header 0x{word:08x})"
            )));
        }
        let kind = (word & 0xff) as u8;
        let len = self.i32()?;
        let len = usize::try_from(len)
            .ok()
            .filter(|&n| n <= MAX_METHOD_NAME)
            .ok_or_else(|| protocol(format!("a method name of {len} bytes")))?;
        let mut name = vec![0; len];
        self.fill(&mut name)?;
        if name != method.as_bytes() {
            return Err(protocol(format!(
                "a reply to {:?}, expected {method:?}",
                String::from_utf8_lossy(&name)
            )));
        }
        let got = self.i32()?;
        if got != seq {
            return Err(protocol(format!("sequence id {got}, expected {seq}")));
        }
        Ok(kind)
    }

    /// The next field's type and id, or None at the struct's end.
    fn field(&mut self) -> Result<Option<(u8, i16)>, WireError> {
        let ty = self.u8()?;
        if ty == T_STOP {
            return Ok(None);
        }
        Ok(Some((ty, self.i16()?)))
    }

    /// `TApplicationException {1: string message, 2: i32 type}`.
    fn exception(&mut self) -> Result<WireError, WireError> {
        let (mut kind, mut message) = (0, String::new());
        while let Some((ty, id)) = self.field()? {
            match (id, ty) {
                (1, T_STRING) => message = self.string()?,
                (2, T_I32) => kind = self.i32()?,
                _ => self.skip(ty, 1)?,
            }
        }
        Ok(WireError::Exception { kind, message })
    }

    /// `ExtensionStatus {1: i32 code, 2: string message, 3: i64 uuid}`.
    /// A status without a code is not a success we can trust.
    fn status(&mut self) -> Result<Status, WireError> {
        let (mut code, mut status) = (None, Status::default());
        while let Some((ty, id)) = self.field()? {
            match (id, ty) {
                (1, T_I32) => code = Some(self.i32()?),
                (2, T_STRING) => status.message = self.string()?,
                (3, T_I64) => status.uuid = self.i64()?,
                _ => self.skip(ty, 2)?,
            }
        }
        status.code = code.ok_or_else(|| protocol("the status has no code"))?;
        Ok(status)
    }

    /// `ExtensionResponse {1: ExtensionStatus status,
    /// 2: list<map<string, string>> response}`, rows into `sink`.
    fn response(&mut self, sink: &mut impl FnMut(Row)) -> Result<Status, WireError> {
        let mut status = None;
        while let Some((ty, id)) = self.field()? {
            match (id, ty) {
                (1, T_STRUCT) => status = Some(self.status()?),
                (2, T_LIST) => self.rows(sink)?,
                _ => self.skip(ty, 2)?,
            }
        }
        status.ok_or_else(|| protocol("the response has no status"))
    }

    fn rows(&mut self, sink: &mut impl FnMut(Row)) -> Result<(), WireError> {
        let element = self.u8()?;
        let rows = self.size(min_size(T_MAP)?)?;
        if rows > 0 && element != T_MAP {
            return Err(protocol(format!("rows of type {element}, expected maps")));
        }
        for _ in 0..rows {
            let (key, value) = (self.u8()?, self.u8()?);
            let cells = self.size(2 * min_size(T_STRING)?)?;
            if cells > 0 && (key, value) != (T_STRING, T_STRING) {
                return Err(protocol(format!(
                    "a row mapping type {key} to {value}, expected strings"
                )));
            }
            let mut row = Vec::with_capacity(cells.min(EAGER_CELLS));
            for _ in 0..cells {
                row.push((self.string()?, self.string()?));
            }
            sink(row);
        }
        Ok(())
    }

    /// Step over one value of type `ty` found at nesting `depth`.
    fn skip(&mut self, ty: u8, depth: usize) -> Result<(), WireError> {
        if depth > MAX_DEPTH {
            return Err(protocol(format!("nested deeper than {MAX_DEPTH}")));
        }
        match ty {
            T_STRING => {
                let len = self.size(1)?;
                self.discard(len)
            }
            T_STRUCT => {
                while let Some((ty, _)) = self.field()? {
                    self.skip(ty, depth + 1)?;
                }
                Ok(())
            }
            T_MAP => {
                let (key, value) = (self.u8()?, self.u8()?);
                let n = self.size(min_size(key)? + min_size(value)?)?;
                for _ in 0..n {
                    self.skip(key, depth + 1)?;
                    self.skip(value, depth + 1)?;
                }
                Ok(())
            }
            T_SET | T_LIST => {
                let element = self.u8()?;
                let n = self.size(min_size(element)?)?;
                for _ in 0..n {
                    self.skip(element, depth + 1)?;
                }
                Ok(())
            }
            // Fixed-size scalars.
            _ => {
                let n = min_size(ty)?;
                self.discard(n)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// Bytes written by Apache Thrift's Python library with osquery's
    /// generated code (tests/interop/gen_fixtures.py).
    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/fixtures/thrift/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    const QUERY: Request = Request::Query("SELECT pid, name FROM processes LIMIT 3");
    const COLUMNS: Request = Request::QueryColumns("SELECT pid, name FROM processes");
    const BUDGET: usize = 10 << 20;
    /// Replies with the call they answer; the exception last.
    const REPLIES: [(&str, Request, i32); 4] = [
        ("reply-ping.bin", Request::Ping, 1),
        ("reply-query-rows.bin", QUERY, 2),
        ("reply-query-extra-fields.bin", QUERY, 2),
        ("reply-query-exception.bin", QUERY, 2),
    ];

    fn decode(bytes: &[u8], request: Request, seq: i32) -> Result<(Status, Vec<Row>), WireError> {
        decode_within(bytes, request, seq, BUDGET)
    }

    fn decode_within(
        bytes: &[u8],
        request: Request,
        seq: i32,
        budget: usize,
    ) -> Result<(Status, Vec<Row>), WireError> {
        let mut rows = Vec::new();
        let status = read_reply(&mut Cursor::new(bytes), request, seq, budget, |r| {
            rows.push(r)
        })?;
        Ok((status, rows))
    }

    fn assert_protocol_error(bytes: &[u8], request: Request, seq: i32, want: &str) {
        match decode(bytes, request, seq) {
            Err(WireError::Protocol(m)) => assert!(m.contains(want), "{m} lacks {want}"),
            other => panic!("{want}: {other:?}"),
        }
    }

    fn row(cells: &[(&str, &str)]) -> Row {
        cells
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn ok(message: &str, uuid: i64) -> Status {
        Status {
            code: 0,
            message: message.into(),
            uuid,
        }
    }

    /// Hand-made replies for what the fixtures cannot show.
    #[derive(Default)]
    struct Bytes(Vec<u8>);

    impl Bytes {
        fn header(method: &str, kind: u8, seq: i32) -> Bytes {
            Bytes::default()
                .raw(&(STRICT_VERSION | u32::from(kind)).to_be_bytes())
                .string(method)
                .i32(seq)
        }
        fn raw(mut self, b: &[u8]) -> Bytes {
            self.0.extend(b);
            self
        }
        fn i32(self, v: i32) -> Bytes {
            self.raw(&v.to_be_bytes())
        }
        fn string(self, s: &str) -> Bytes {
            self.i32(s.len() as i32).raw(s.as_bytes())
        }
        fn field(self, ty: u8, id: i16) -> Bytes {
            self.raw(&[ty]).raw(&id.to_be_bytes())
        }
        fn stop(self) -> Bytes {
            self.raw(&[T_STOP])
        }
        /// `status {1: code}` as field 1 of a response.
        fn status(self, code: i32) -> Bytes {
            self.field(T_STRUCT, 1).field(T_I32, 1).i32(code).stop()
        }
        /// A query reply's header and the start of its result struct.
        fn query_reply() -> Bytes {
            Bytes::header("query", REPLY, 2).field(T_STRUCT, 0)
        }
        /// A successful query reply up to its row list's element type.
        fn rows() -> Bytes {
            Bytes::query_reply().status(0).field(T_LIST, 2)
        }
        /// ... and up to the first row's cell count.
        fn first_row(key: u8, value: u8) -> Bytes {
            Bytes::rows().raw(&[T_MAP]).i32(1).raw(&[key, value])
        }
    }

    #[test]
    fn requests_are_byte_identical_to_thrifts_own_client() {
        for (request, seq, name) in [
            (Request::Ping, 1, "request-ping.bin"),
            (QUERY, 2, "request-query.bin"),
            (COLUMNS, 3, "request-get-query-columns.bin"),
        ] {
            let mut sent = Vec::new();
            send(&mut sent, request, seq).expect("a vector takes every write");
            assert_eq!(sent, fixture(name), "{name}");
        }
    }

    #[test]
    fn replies_written_by_thrifts_own_server_decode() {
        let rows = vec![
            row(&[("pid", "1"), ("name", "osqueryd")]),
            row(&[("pid", "812"), ("name", "sshd: root@pts/0 ✓")]),
            row(&[("pid", "9"), ("name", "")]),
        ];
        let failed = Status {
            code: 1,
            message: "no such table: nosuch".into(),
            uuid: 0,
        };
        let cases: Vec<(&str, Request, i32, Status, Vec<Row>)> = vec![
            ("reply-ping.bin", Request::Ping, 1, ok("pong", 0), vec![]),
            ("reply-query-rows.bin", QUERY, 2, ok("OK", 0), rows),
            ("reply-query-empty.bin", QUERY, 2, ok("OK", 0), vec![]),
            ("reply-query-error.bin", QUERY, 2, failed.clone(), vec![]),
            ("reply-query-sparse.bin", QUERY, 2, failed, vec![]),
            (
                "reply-get-query-columns.bin",
                COLUMNS,
                3,
                ok("OK", 0),
                vec![row(&[("pid", "BIGINT")]), row(&[("name", "TEXT")])],
            ),
            (
                "reply-query-extra-fields.bin",
                QUERY,
                2,
                ok("OK", 42),
                vec![row(&[("pid", "1")])],
            ),
        ];
        for (name, request, seq, status, rows) in cases {
            let got = decode(&fixture(name), request, seq);
            let (got_status, got_rows) = got.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!((got_status, got_rows), (status, rows), "{name}");
        }
    }

    #[test]
    fn an_exception_reply_is_an_error_naming_its_type() {
        let err = decode(&fixture("reply-query-exception.bin"), QUERY, 2).unwrap_err();
        assert!(
            matches!(&err, WireError::Exception { kind: 6, message } if message == "Internal error"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "osqueryd raised a Thrift exception (INTERNAL_ERROR): Internal error"
        );
    }

    #[test]
    fn reads_exactly_one_reply_and_not_a_byte_more() {
        let first = fixture("reply-query-rows.bin");
        let mut stream = first.clone();
        stream.extend(fixture("reply-ping.bin"));
        let mut cursor = Cursor::new(stream);
        let mut rows = 0;
        read_reply(&mut cursor, QUERY, 2, BUDGET, |_| rows += 1).expect("first reply");
        assert_eq!((rows, cursor.position()), (3, first.len() as u64));
        let status = read_reply(&mut cursor, Request::Ping, 1, BUDGET, |_| {}).expect("second");
        assert_eq!(status, ok("pong", 0));
    }

    #[test]
    fn a_reply_to_another_call_is_refused() {
        let rows = fixture("reply-query-rows.bin");
        let cases = [
            (rows.as_slice(), QUERY, 3, "sequence id 2, expected 3"),
            (
                &rows,
                Request::Ping,
                2,
                "a reply to \"query\", expected \"ping\"",
            ),
            (&rows, COLUMNS, 2, "expected \"getQueryColumns\""),
            // Our own call echoed back: a CALL, not a REPLY.
            (
                &fixture("request-query.bin"),
                QUERY,
                2,
                "unexpected message type 1",
            ),
        ];
        for (bytes, request, seq, want) in cases {
            assert_protocol_error(bytes, request, seq, want);
        }
    }

    #[test]
    fn garbage_is_a_protocol_error() {
        let old_style = Bytes::default().string("query").raw(&[REPLY]).i32(2);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(),
                "not a strict Thrift",
            ),
            (old_style.0, "not a strict Thrift"),
            (
                vec![0x80, 0x01, 0, 2, 0x7f, 0xff, 0xff, 0xff],
                "a method name of",
            ),
            (
                vec![0x80, 0x01, 0, 2, 0xff, 0xff, 0xff, 0xff],
                "a method name of -1",
            ),
            (
                Bytes::query_reply().stop().stop().0,
                "the response has no status",
            ),
            (
                Bytes::header("query", REPLY, 2).stop().0,
                "the reply carries no result",
            ),
            (
                Bytes::query_reply()
                    .field(T_STRUCT, 1)
                    .stop()
                    .stop()
                    .stop()
                    .0,
                "the status has no code",
            ),
            (Bytes::query_reply().field(7, 9).0, "unknown type id 7"),
            (
                Bytes::rows().raw(&[T_STRING]).i32(1).string("x").0,
                "rows of type 11",
            ),
            (
                Bytes::first_row(T_STRING, T_I32).i32(1).0,
                "a row mapping type 11 to 8",
            ),
            (
                Bytes::query_reply().status(0).field(T_STRING, 5).i32(-3).0,
                "negative length -3",
            ),
        ];
        for (bytes, want) in cases {
            assert_protocol_error(&bytes, QUERY, 2, want);
        }
    }

    #[test]
    fn every_truncation_is_a_closed_connection() {
        for (name, request, seq) in REPLIES {
            let bytes = fixture(name);
            for cut in 0..bytes.len() {
                match decode(&bytes[..cut], request, seq) {
                    Err(WireError::Closed { read }) => assert!(read <= cut, "{name}@{cut}"),
                    other => panic!("{name} cut at {cut}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn the_budget_covers_the_whole_reply() {
        for &(name, request, seq) in &REPLIES[..3] {
            let bytes = fixture(name);
            assert!(
                decode_within(&bytes, request, seq, bytes.len()).is_ok(),
                "{name}"
            );
            for budget in [0, bytes.len() / 2, bytes.len() - 1] {
                let got = decode_within(&bytes, request, seq, budget);
                assert!(
                    matches!(got, Err(WireError::TooLarge { budget: b }) if b == budget),
                    "{name} within {budget}: {got:?}"
                );
            }
        }
    }

    #[test]
    fn a_huge_length_or_count_fails_before_it_is_read() {
        let cases = [
            // 2^31-1 rows of at least 6 bytes each.
            Bytes::rows().raw(&[T_MAP]).0,
            // One row of 2^31-1 cells.
            Bytes::first_row(T_STRING, T_STRING).0,
            // One cell whose column name claims 2 GiB.
            Bytes::first_row(T_STRING, T_STRING).i32(1).0,
            // An unknown field: a list of 2^31-1 i64.
            Bytes::query_reply().field(T_LIST, 9).raw(&[T_I64]).0,
            // An unknown string field of 2 GiB.
            Bytes::query_reply().field(T_STRING, 9).0,
        ];
        for prefix in cases {
            let allowed = prefix.len() as u64 + 4;
            let bytes = Bytes(prefix).i32(i32::MAX).raw(&[0; 64]).0;
            // Reading past the prefix would fail with an I/O error instead.
            let mut r = Failing {
                bytes: Cursor::new(bytes),
                after: allowed,
                kind: io::ErrorKind::Other,
            };
            let got = read_reply(&mut r, QUERY, 2, BUDGET, |_| {});
            assert!(matches!(got, Err(WireError::TooLarge { .. })), "{got:?}");
        }
    }

    #[test]
    fn a_reply_longer_than_the_budget_fails_once_the_budget_is_spent() {
        // Honest counts, but 10,000 rows of ~1 KiB within a 1 MiB budget:
        // the decoder gives up after reading about the budget, not the reply.
        let cell = "x".repeat(1000);
        let mut reply = Bytes::rows().raw(&[T_MAP]).i32(10_000);
        for _ in 0..10_000 {
            reply = reply
                .raw(&[T_STRING, T_STRING])
                .i32(1)
                .string("c")
                .string(&cell);
        }
        let mut cursor = Cursor::new(reply.stop().stop().stop().0);
        let mut rows = 0;
        let got = read_reply(&mut cursor, QUERY, 2, 1 << 20, |_| rows += 1);
        assert!(matches!(got, Err(WireError::TooLarge { budget: 1048576 })));
        assert!(cursor.position() <= 1 << 20, "read {}", cursor.position());
        assert!(rows > 1000 && rows < 1100, "{rows} rows");
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = |levels: usize| {
            let mut b = Bytes::query_reply().field(T_STRUCT, 9);
            for _ in 1..levels {
                b = b.field(T_STRUCT, 1);
            }
            for _ in 0..levels {
                b = b.stop();
            }
            b.stop().stop().0
        };
        // Skipped fine when shallow (the reply then lacks a status).
        assert_protocol_error(&deep(MAX_DEPTH - 1), QUERY, 2, "the response has no status");
        assert_protocol_error(&deep(100_000), QUERY, 2, "nested deeper than 32");
    }

    #[test]
    fn invalid_utf8_in_a_value_is_replaced_not_fatal() {
        let reply = Bytes::first_row(T_STRING, T_STRING)
            .i32(1)
            .string("path")
            .i32(3)
            .raw(b"a\xffb")
            .stop()
            .stop()
            .stop();
        let (_, rows) = decode(&reply.0, QUERY, 2).expect("decodes");
        assert_eq!(rows, vec![row(&[("path", "a\u{fffd}b")])]);
    }

    /// A reader that fails with `kind` after `after` bytes.
    struct Failing {
        bytes: Cursor<Vec<u8>>,
        after: u64,
        kind: io::ErrorKind,
    }

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let left = self.after - self.bytes.position();
            if left == 0 {
                return Err(io::Error::new(self.kind, "test"));
            }
            let n = buf.len().min(left as usize);
            self.bytes.read(&mut buf[..n])
        }
    }

    #[test]
    fn io_errors_are_told_apart() {
        use io::ErrorKind::*;
        let bytes = fixture("reply-query-rows.bin");
        for (kind, after, want) in [
            (WouldBlock, 0, "Timeout"),
            (TimedOut, 40, "Timeout"),
            (ConnectionReset, 40, "Closed { read: 40 }"),
            (BrokenPipe, 0, "Closed { read: 0 }"),
            (PermissionDenied, 10, "Io"),
        ] {
            let mut r = Failing {
                bytes: Cursor::new(bytes.clone()),
                after,
                kind,
            };
            let got = read_reply(&mut r, QUERY, 2, BUDGET, |_| {}).unwrap_err();
            assert!(format!("{got:?}").starts_with(want), "{kind:?}: {got:?}");
        }
    }

    #[test]
    fn mangled_replies_never_panic() {
        // A small deterministic fuzz: flip, insert and drop bytes of real
        // replies; whatever comes out must be a value or an error.
        let seeds = [
            fixture("reply-query-rows.bin"),
            fixture("reply-query-extra-fields.bin"),
            fixture("reply-get-query-columns.bin"),
        ];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..20_000 {
            let mut bytes = seeds[round % seeds.len()].clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % bytes.len();
                match next() % 3 {
                    0 => bytes[at] = next() as u8,
                    1 => bytes.insert(at, next() as u8),
                    _ => {
                        bytes.remove(at);
                    }
                }
            }
            let _ = decode_within(&bytes, QUERY, 2, 4096);
        }
    }

    #[test]
    fn sql_is_sent_as_given() {
        let sql = "SELECT 'é' AS \"x\"; -- ✓";
        let bytes = Request::Query(sql).encode(-5).expect("encodes");
        let tail = [
            &(sql.len() as i32).to_be_bytes()[..],
            sql.as_bytes(),
            &[T_STOP],
        ]
        .concat();
        assert!(bytes.ends_with(&tail));
        assert_eq!(bytes[13..17], (-5i32).to_be_bytes());
    }
}

//! The writer thread: the only code that touches stdout. Each message is one
//! line; the stream is flushed whenever the queue runs dry so a burst costs
//! one flush, and a quiet server never holds a reply back.
//!
//! Its [`Outbox`] is bounded in messages and in bytes: a sender that finds it
//! full waits until the client has read enough. That is the only
//! back-pressure a stdio peer understands, and it loses nothing: every
//! accepted answer is written once the client reads. It cannot deadlock
//! either: the writer waits for nothing but stdout, and nobody holds a lock
//! while sending.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use super::lock;
use crate::jsonrpc::Outgoing;

/// Messages waiting on a slow client.
const OUTBOX: usize = 1024;
/// Bytes waiting on a slow client: one answer of the largest size and room
/// for the small ones behind it. A larger message waits until the outbox is
/// empty and then goes alone, so none is ever refused.
pub const OUTBOX_BYTES: usize = 16 * 1024 * 1024;

/// The writer's side of the channel, shared by everyone who answers.
#[derive(Clone)]
pub struct Outbox {
    tx: Sender<Outgoing>,
    room: Arc<Room>,
}

/// Bytes queued or being written, against the limit.
struct Room {
    limit: usize,
    state: Mutex<Usage>,
    freed: Condvar,
}

#[derive(Default)]
struct Usage {
    bytes: usize,
    /// Senders waiting for room.
    waiting: usize,
    /// The writer is gone: nothing will be freed or written any more.
    closed: bool,
}

impl Room {
    fn new(limit: usize) -> Room {
        Room {
            limit,
            state: Mutex::default(),
            freed: Condvar::new(),
        }
    }

    fn fits(&self, usage: &Usage, bytes: usize) -> bool {
        usage.bytes == 0 || usage.bytes.saturating_add(bytes) <= self.limit
    }

    /// Takes `bytes`, waiting for room when `wait`; false if it cannot.
    /// Never logs: logging sends through here.
    fn take(&self, bytes: usize, wait: bool) -> bool {
        let mut usage = lock(&self.state);
        while !usage.closed && !self.fits(&usage, bytes) {
            if !wait {
                return false;
            }
            usage.waiting += 1;
            usage = self.freed.wait(usage).unwrap_or_else(|p| p.into_inner());
            usage.waiting -= 1;
        }
        if usage.closed {
            return false;
        }
        usage.bytes += bytes;
        true
    }

    fn give(&self, bytes: usize) {
        let mut usage = lock(&self.state);
        usage.bytes = usage.bytes.saturating_sub(bytes);
        self.freed.notify_all();
    }

    fn close(&self) {
        lock(&self.state).closed = true;
        self.freed.notify_all();
    }
}

impl Outbox {
    /// Queues `msg` for the client, waiting while the outbox is full (the
    /// client is not reading). False only when the writer is gone.
    pub fn send(&self, msg: Outgoing) -> bool {
        self.queue(msg, true)
    }

    /// Queues `msg` unless that means waiting: for log notes, which any
    /// thread may send (the writer's own included) and which may be dropped.
    pub fn try_send(&self, msg: Outgoing) -> bool {
        self.queue(msg, false)
    }

    fn queue(&self, msg: Outgoing, wait: bool) -> bool {
        let bytes = msg.weight();
        if !self.room.take(bytes, wait) {
            return false;
        }
        let sent = if wait {
            self.tx.send(msg).is_ok()
        } else {
            self.tx.try_send(msg).is_ok()
        };
        if !sent {
            self.room.give(bytes);
        }
        sent
    }
}

pub fn spawn(
    out: impl Write + Send + 'static,
) -> std::io::Result<(Outbox, JoinHandle<std::io::Result<()>>)> {
    spawn_with(out, OUTBOX_BYTES)
}

fn spawn_with(
    out: impl Write + Send + 'static,
    limit: usize,
) -> std::io::Result<(Outbox, JoinHandle<std::io::Result<()>>)> {
    let (tx, rx) = crossbeam_channel::bounded(OUTBOX);
    let room = Arc::new(Room::new(limit));
    let writer_room = room.clone();
    let handle = std::thread::Builder::new()
        .name("writer".into())
        .spawn(move || {
            // However the writer ends, even by a panic, no sender waits on.
            let _closing = Closing(&writer_room);
            write_all(out, rx, &writer_room)
        })?;
    Ok((Outbox { tx, room }, handle))
}

struct Closing<'a>(&'a Room);

impl Drop for Closing<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

fn write_all(out: impl Write, rx: Receiver<Outgoing>, room: &Room) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    for msg in rx.iter() {
        // The weight the sender took, computed again (it is a pure function
        // of the message) so the channel carries nothing but messages.
        let bytes = msg.weight();
        // Straight into the buffer: a large result passes through to stdout
        // without a second copy of the whole line.
        // Our messages hold only strings, integers and checked raw JSON, so
        // only an I/O error can stop serialisation.
        let mut written = match serde_json::to_writer(&mut out, &msg) {
            Err(e) if !e.is_io() => {
                log::error!("could not serialise a message: {e}");
                out.write_all(b"\n")
            }
            other => other
                .map_err(std::io::Error::from)
                .and_then(|_| out.write_all(b"\n")),
        };
        drop(msg);
        room.give(bytes);
        if written.is_ok() && rx.is_empty() {
            written = out.flush();
        }
        if let Err(e) = written {
            // The client is gone; nobody will read what is queued.
            room.close();
            log::warn!("stdout closed: {e}");
            for _ in rx.iter() {}
            return Err(e);
        }
    }
    out.flush()
}

/// An outbox whose messages the test reads back from the receiver, with no
/// writer thread and no byte limit.
#[cfg(test)]
pub fn capture() -> (Outbox, Receiver<Outgoing>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let room = Arc::new(Room::new(usize::MAX));
    (Outbox { tx, room }, rx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::RequestId;
    use serde_json::value::RawValue;
    use serde_json::{Value, json};
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Output the test can read back once the writer is done; it takes
    /// nothing while `closed` (a client that is not reading).
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>, Arc<Gate>);

    #[derive(Default)]
    struct Gate {
        closed: AtomicBool,
        lock: Mutex<()>,
        opened: Condvar,
    }

    impl Shared {
        fn closed() -> Shared {
            let s = Shared::default();
            s.1.closed.store(true, Ordering::SeqCst);
            s
        }

        fn open(&self) {
            let _l = self.1.lock.lock();
            self.1.closed.store(false, Ordering::SeqCst);
            self.1.opened.notify_all();
        }

        fn lines(&self) -> Vec<Value> {
            let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
            let text = String::from_utf8(bytes).expect("UTF-8");
            assert!(text.is_empty() || text.ends_with('\n'));
            text.lines()
                .map(|l| serde_json::from_str(l).expect("each line is one message"))
                .collect()
        }
    }

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut l = self.1.lock.lock().unwrap_or_else(|p| p.into_inner());
            while self.1.closed.load(Ordering::SeqCst) {
                l = self.1.opened.wait(l).unwrap_or_else(|p| p.into_inner());
            }
            self.0.lock().map_or(Ok(0), |mut b| {
                b.extend_from_slice(buf);
                Ok(buf.len())
            })
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A client that has gone away.
    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
    }

    fn id(n: i64) -> RequestId {
        RequestId::from_value(&json!(n)).expect("an id")
    }

    /// A result of about `bytes` bytes: more than the writer's own buffer
    /// holds, so writing it waits for the client.
    fn big(n: i64, bytes: usize) -> Outgoing {
        let text = format!("\"{}\"", "x".repeat(bytes));
        Outgoing::raw_result(id(n), RawValue::from_string(text).expect("JSON"))
    }

    fn usage(outbox: &Outbox) -> (usize, usize) {
        let u = lock(&outbox.room.state);
        (u.bytes, u.waiting)
    }

    #[test]
    fn each_message_is_one_line_in_the_order_sent() {
        let output = Shared::default();
        let (tx, writer) = spawn(output.clone()).expect("writer starts");
        let raw = RawValue::from_string("{\"a\":\"x\\ny\"}".into()).expect("valid JSON");
        for msg in [
            Outgoing::result(id(1), json!({"text": "two\nlines"})),
            Outgoing::raw_result(id(2), raw),
            Outgoing::notification("notifications/progress", json!({"progress": 1})),
            Outgoing::error(None, -32700, "Parse error"),
        ] {
            assert!(tx.send(msg), "the writer listens");
        }
        drop(tx);
        assert!(matches!(writer.join(), Ok(Ok(()))));
        let lines = output.lines();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["result"]["text"], "two\nlines");
        assert_eq!(lines[1]["result"]["a"], "x\ny");
        assert_eq!(lines[2]["method"], "notifications/progress");
        assert!(lines[3]["id"].is_null());
    }

    #[test]
    fn a_full_outbox_makes_senders_wait_and_loses_nothing() {
        let output = Shared::closed();
        let (tx, writer) = spawn_with(output.clone(), 250_000).expect("writer starts");
        // Two senders (the reader and a worker, say) with two answers each,
        // more than the outbox holds while the client does not read.
        let senders: Vec<_> = (0..2)
            .map(|t| {
                let tx = tx.clone();
                std::thread::spawn(move || (0..2).all(|n| tx.send(big(t * 10 + n, 100_000))))
            })
            .collect();
        // Polled: the state is observable, the moment it is reached is not.
        while usage(&tx).1 == 0 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(usage(&tx).0 <= 250_000);
        // A log note is dropped rather than waited for.
        assert!(!tx.try_send(big(99, 100_000)));
        output.open();
        assert!(senders.into_iter().all(|s| s.join().unwrap_or(false)));
        drop(tx);
        assert!(matches!(writer.join(), Ok(Ok(()))));
        let mut ids: Vec<i64> = output
            .lines()
            .iter()
            .filter_map(|l| l["id"].as_i64())
            .collect();
        ids.sort();
        assert_eq!(ids, [0, 1, 10, 11]);
    }

    #[test]
    fn a_message_larger_than_the_outbox_goes_alone() {
        let output = Shared::default();
        let (tx, writer) = spawn_with(output.clone(), 1000).expect("writer starts");
        assert!(tx.send(big(1, 5000)));
        assert!(tx.send(big(2, 5000)));
        drop(tx);
        assert!(matches!(writer.join(), Ok(Ok(()))));
        assert_eq!(output.lines().len(), 2);
    }

    #[test]
    fn a_closed_output_is_reported_and_never_blocks_a_sender() {
        let (tx, writer) = spawn_with(Closed, 1000).expect("writer starts");
        // Far more than the outbox holds: a writer that stopped reading would
        // block the sender here.
        for n in 0..(OUTBOX as i64 * 3) {
            tx.send(big(n, 600));
        }
        drop(tx);
        let written = writer.join().expect("the writer does not panic");
        assert_eq!(
            written.map_err(|e| e.kind()),
            Err(std::io::ErrorKind::BrokenPipe)
        );
    }
}

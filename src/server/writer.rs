//! The writer thread: the only code that touches stdout. Each message is one
//! line; the stream is flushed whenever the queue runs dry so a burst costs
//! one flush, and a quiet server never holds a reply back.

use std::io::Write;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use crate::jsonrpc::Outgoing;

/// Room for replies waiting on a slow client; past it the reader waits for the
/// client to read, which is the only back-pressure a stdio peer understands.
const OUTBOX: usize = 1024;

pub fn spawn(
    out: impl Write + Send + 'static,
) -> std::io::Result<(Sender<Outgoing>, JoinHandle<std::io::Result<()>>)> {
    let (tx, rx) = crossbeam_channel::bounded(OUTBOX);
    let handle = std::thread::Builder::new()
        .name("writer".into())
        .spawn(move || write_all(out, rx))?;
    Ok((tx, handle))
}

fn write_all(out: impl Write, rx: Receiver<Outgoing>) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    for msg in rx.iter() {
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
        if written.is_ok() && rx.is_empty() {
            written = out.flush();
        }
        if let Err(e) = written {
            // The client is gone; keep draining so senders never block.
            log::warn!("stdout closed: {e}");
            for _ in rx.iter() {}
            return Err(e);
        }
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::RequestId;
    use serde_json::{Value, json};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// Output the test can read back once the writer is done.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
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

    #[test]
    fn each_message_is_one_line_in_the_order_sent() {
        let output = Shared::default();
        let (tx, writer) = spawn(output.clone()).expect("writer starts");
        let raw = serde_json::value::RawValue::from_string("{\"a\":\"x\\ny\"}".into())
            .expect("valid JSON");
        for msg in [
            Outgoing::result(id(1), json!({"text": "two\nlines"})),
            Outgoing::raw_result(id(2), raw),
            Outgoing::notification("notifications/progress", json!({"progress": 1})),
            Outgoing::error(None, -32700, "Parse error"),
        ] {
            tx.send(msg).expect("the writer listens");
        }
        drop(tx);
        assert!(matches!(writer.join(), Ok(Ok(()))));
        let bytes = output.0.lock().map(|b| b.clone()).unwrap_or_default();
        let text = String::from_utf8(bytes).expect("UTF-8");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is one message"))
            .collect();
        assert!(text.ends_with('\n'));
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["result"]["text"], "two\nlines");
        assert_eq!(lines[1]["result"]["a"], "x\ny");
        assert_eq!(lines[2]["method"], "notifications/progress");
        assert!(lines[3]["id"].is_null());
    }

    #[test]
    fn a_closed_output_is_reported_and_never_blocks_a_sender() {
        let (tx, writer) = spawn(Closed).expect("writer starts");
        // Far more than the outbox holds: a writer that stopped reading would
        // block the sender here.
        for n in 0..(OUTBOX as i64 * 3) {
            let sent = tx.send_timeout(Outgoing::result(id(n), json!({})), Duration::from_secs(20));
            assert!(sent.is_ok(), "message {n} was not taken");
        }
        drop(tx);
        let written = writer.join().expect("the writer does not panic");
        assert_eq!(
            written.map_err(|e| e.kind()),
            Err(std::io::ErrorKind::BrokenPipe)
        );
    }
}

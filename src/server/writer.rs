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

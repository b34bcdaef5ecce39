//! The reader: the main loop of the pipeline. It reads stdin line by line,
//! answers protocol requests itself, and hands tool calls to the pool without
//! ever blocking on it: a full queue is answered "busy" at once, so `ping` and
//! cancellations are always heard.

use std::io::{BufRead, ErrorKind};

use crossbeam_channel::{Sender, TrySendError};

use crate::coalesce::Admission;
use crate::jsonrpc::{self, INVALID_REQUEST, Incoming, Outgoing};
use crate::mcp::{self, Action, Job, Session};
use crate::server::Context;
use crate::tools::Outcome;
use crate::{health, pool, resources};

/// Reads until EOF (or a read error), then returns so the caller can drain.
pub fn run(input: impl BufRead, ctx: &Context, jobs: &Sender<Box<Job>>, out: &Sender<Outgoing>) {
    let mut session = Session::new(ctx);
    let mut lines = LineReader::new(input, ctx.max_line);
    loop {
        let line = match lines.next_line() {
            Ok(Line::Text(line)) => line,
            Ok(Line::TooLong(len)) => {
                log::warn!("discarded a request line of more than {len} bytes");
                let _ = out.send(Outgoing::error(
                    None,
                    INVALID_REQUEST,
                    format!(
                        "Invalid request: line longer than {} bytes was discarded",
                        ctx.max_line
                    ),
                ));
                continue;
            }
            Ok(Line::Eof) => break,
            Err(e) => {
                log::error!("stdin read failed: {e}");
                break;
            }
        };
        let line = trim_line(&line);
        if line.is_empty() {
            continue;
        }
        let action = match jsonrpc::parse_line(line) {
            Ok(msg) => {
                match msg {
                    Incoming::Request { .. } => ctx.metrics.request(),
                    Incoming::Notification { .. } => ctx.metrics.notification(),
                    Incoming::Response => {}
                }
                session.handle(ctx, msg)
            }
            Err(reply) => Action::Reply(reply),
        };
        match action {
            Action::Reply(msg) => {
                let _ = out.send(msg);
            }
            Action::Run(job) => submit(ctx, job, jobs, out),
            Action::Health(id, era) => {
                health::answer_later(ctx, id, era, out, resources::health_contents)
            }
            Action::Nothing => {}
        }
    }
    log::info!("stdin closed; finishing accepted requests");
}

fn submit(ctx: &Context, job: Box<Job>, jobs: &Sender<Box<Job>>, out: &Sender<Outgoing>) {
    if !ctx.register(&job.id, job.control.clone()) {
        log::warn!(tool = job.tool, outcome = "rejected"; "request id {} reused while in flight", job.id);
        let _ = out.send(Outgoing::error(
            Some(job.id.clone()),
            INVALID_REQUEST,
            format!(
                "Invalid request: id {} is already used by a call in flight",
                job.id
            ),
        ));
        return;
    }
    // Sent before admission so it precedes anything a worker sends for this
    // call, including a call that joins an identical one already running.
    if let Some(token) = &job.progress_token {
        pool::progress_note(out, token, 0.0, "accepted");
    }
    let job = match ctx.coalescer.admit(job) {
        Admission::Followed => return,
        Admission::Full(job) => job,
        Admission::Lead(job) => match jobs.try_send(job) {
            Ok(()) => return,
            Err(TrySendError::Full(job)) | Err(TrySendError::Disconnected(job)) => {
                ctx.coalescer.abandon(&job);
                job
            }
        },
    };
    ctx.unregister(&job.id);
    let msg = format!(
        "server busy: {} tool calls are already running or queued; retry in a few seconds",
        crate::config::WORKERS + crate::config::QUEUE_CAPACITY
    );
    let _ = out.send(mcp::refusal(
        ctx,
        job.id,
        job.era,
        job.tool,
        Outcome::Busy,
        &msg,
    ));
}

/// Strips the line ending (`\n`, `\r\n`) and surrounding whitespace.
fn trim_line(line: &[u8]) -> &[u8] {
    let start = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &line[start..end]
}

pub enum Line {
    Text(Vec<u8>),
    /// A line over the limit; its bytes were skipped, not kept.
    TooLong(usize),
    Eof,
}

/// Splits input into lines of at most `max` bytes without ever holding more
/// than that in memory.
pub struct LineReader<R> {
    input: R,
    max: usize,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(input: R, max: usize) -> Self {
        LineReader { input, max }
    }

    pub fn next_line(&mut self) -> std::io::Result<Line> {
        let mut line = Vec::new();
        let mut skipped: Option<usize> = None;
        loop {
            let buf = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                return Ok(match skipped {
                    Some(n) => Line::TooLong(n),
                    None if line.is_empty() => Line::Eof,
                    None => Line::Text(line),
                });
            }
            let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (&buf[..i], i + 1),
                None => (buf, buf.len()),
            };
            let ended = done > chunk.len();
            match skipped.as_mut() {
                Some(n) => *n += chunk.len(),
                None if line.len() + chunk.len() > self.max => {
                    skipped = Some(line.len() + chunk.len());
                    line = Vec::new();
                }
                None => line.extend_from_slice(chunk),
            }
            self.input.consume(done);
            if ended {
                return Ok(match skipped {
                    Some(n) => Line::TooLong(n),
                    None => Line::Text(line),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<String> {
        let mut r = LineReader::new(std::io::BufReader::with_capacity(4, input), max);
        let mut out = Vec::new();
        loop {
            match r.next_line().expect("in-memory read") {
                Line::Text(l) => out.push(String::from_utf8_lossy(&l).into_owned()),
                Line::TooLong(n) => out.push(format!("<too long: {n}>")),
                Line::Eof => return out,
            }
        }
    }

    #[test]
    fn splits_lines_and_keeps_the_last_unterminated_one() {
        assert_eq!(
            lines(b"ab\r\n\ncd\nlast", 100),
            vec!["ab\r", "", "cd", "last"]
        );
    }

    #[test]
    fn overlong_lines_are_skipped_not_buffered() {
        assert_eq!(
            lines(b"short\n0123456789abc\nok\n", 8),
            vec!["short", "<too long: 13>", "ok"]
        );
        assert_eq!(lines(b"0123456789", 8), vec!["<too long: 10>"]);
    }

    #[test]
    fn trims_cr_and_whitespace() {
        assert_eq!(trim_line(b"  {}\r"), b"{}");
        assert_eq!(trim_line(b" \t\r"), b"");
    }
}

//! The reader: the main loop of the pipeline. It reads stdin line by line,
//! carries out what [`crate::mcp::dispatch`] decides each line means, and
//! hands tool calls to the pool without ever blocking on it: a full queue is
//! answered "busy" at once, so `ping` and cancellations are always heard.

use std::io::{BufRead, ErrorKind};

use crossbeam_channel::{Sender, TrySendError};

use super::writer::Outbox;

use super::coalesce::Admission;
use super::health_reply::HealthReplies;
use super::held::Held;
use super::inflight::{CALL_BYTES, InFlight, Refused};
use crate::config::{QUEUE_CAPACITY, WORKERS};
use crate::jsonrpc::{self, INVALID_REQUEST, Incoming, Outgoing};
use crate::mcp::{Action, Job, PageCall, Refusal, Resource, Session, era, resources};
use crate::ops::metrics::Metrics;
use crate::tools::Outcome;

/// The reader's view of the server: its own session, and handles on what it
/// shares with the workers.
pub struct Reader<'a> {
    pub session: Session,
    /// Lines longer than this are discarded unread.
    pub max_line: usize,
    pub inflight: &'a InFlight,
    pub metrics: &'a Metrics,
    pub health: &'a HealthReplies,
    /// Results held for their next pages.
    pub held: &'a Held,
    pub jobs: &'a Sender<Box<Job>>,
    pub out: &'a Outbox,
}

impl Reader<'_> {
    /// Reads until EOF (or a read error), then returns so the caller can drain.
    pub fn run(mut self, input: impl BufRead) {
        let mut lines = LineReader::new(input, self.max_line);
        loop {
            let line = match lines.next_line() {
                Ok(Line::Text(line)) => line,
                Ok(Line::TooLong(len)) => {
                    log::warn!("discarded a request line of more than {len} bytes");
                    self.send(Outgoing::error(
                        None,
                        INVALID_REQUEST,
                        format!(
                            "Invalid request: line longer than {} bytes was discarded",
                            self.max_line
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
            self.held.sweep(std::time::Instant::now());
            let trimmed = trim_line(&line);
            if trimmed.is_empty() {
                continue;
            }
            let parsed = jsonrpc::parse_line(trimmed);
            // The parsed message holds what it needs; a long line is not
            // kept while it is carried out, and its memory is handed back
            // (glibc would keep it) once it has been.
            let len = line.len();
            drop(line);
            let action = match parsed {
                Ok(msg) => {
                    match msg {
                        Incoming::Request { .. } => self.metrics.request(),
                        Incoming::Notification { .. } => self.metrics.notification(),
                        Incoming::Response => {}
                    }
                    self.session.handle(msg)
                }
                Err(reply) => Action::Reply(reply),
            };
            self.carry_out(action);
            crate::memory::freed(len);
        }
        log::info!("stdin closed; finishing accepted requests");
    }

    fn carry_out(&self, action: Action) {
        match action {
            Action::Reply(msg) => self.send(msg),
            Action::Run(job) => self.submit(job),
            Action::Page(call) => self.page(call),
            Action::Refuse(refusal) => self.refuse(refusal),
            Action::Cancel(id) => self.inflight.cancel(&id),
            Action::Read(id, era, Resource::Metrics) => {
                let snapshot = self
                    .metrics
                    .snapshot(self.inflight.coalescer.coalesced_calls());
                let body = resources::contents(Resource::Metrics, &snapshot.to_json());
                self.send(Outgoing::result(
                    id,
                    era::decorate(era, "resources/read", body),
                ));
            }
            Action::Read(id, era, Resource::Health) => self.health.answer_later(id, era, self.out),
            Action::SetLogLevel(id, level) => {
                crate::logging::set_client_level(level);
                log::debug!("client log level set to {level}");
                self.send(Outgoing::result(id, serde_json::json!({})));
            }
            Action::ClientReady => crate::logging::client_ready(),
            Action::Ignore => {}
        }
    }

    fn submit(&self, job: Box<Job>) {
        match self
            .inflight
            .register(&job.id, job.control.clone(), job.weight())
        {
            Ok(()) => {}
            Err(Refused::Reused) => {
                log::warn!(
                    tool = job.tool().as_str(), outcome = Outcome::Rejected.as_str();
                    "request id {} reused while in flight", job.id
                );
                self.send(Outgoing::error(
                    Some(job.id.clone()),
                    INVALID_REQUEST,
                    format!(
                        "Invalid request: id {} is already used by a call in flight",
                        job.id
                    ),
                ));
                return;
            }
            Err(Refused::Full) => {
                let why = format!(
                    "server busy: the tool calls already running or queued hold {} MiB of requests, the most it keeps; retry in a few seconds",
                    CALL_BYTES >> 20
                );
                return self.busy(*job, why);
            }
        }
        // Sent before admission so it precedes anything a worker sends for
        // this call, including a call that joins an identical one already
        // running.
        if let Some(note) = job.progress(0.0, "accepted") {
            self.send(note);
        }
        let coalescer = &self.inflight.coalescer;
        let job = match coalescer.admit(job) {
            Admission::Followed => return,
            Admission::Full(job) => job,
            Admission::Lead(job) => match self.jobs.try_send(job) {
                Ok(()) => return,
                Err(TrySendError::Full(job)) | Err(TrySendError::Disconnected(job)) => {
                    coalescer.abandon(&job);
                    job
                }
            },
        };
        self.inflight.unregister(&job.id);
        let why = format!(
            "server busy: {} tool calls are already running or queued; retry in a few seconds",
            WORKERS + QUEUE_CAPACITY
        );
        self.busy(*job, why);
    }

    fn busy(&self, job: Job, why: String) {
        let tool = job.tool().as_str();
        self.refuse(Refusal::new(job.id, job.era, tool, Outcome::Busy, why));
    }

    /// The next page of a held result, answered here: it runs nothing and
    /// costs at most one page of serialising, so it need not wait behind
    /// queries in the pool.
    fn page(&self, call: PageCall) {
        let started = std::time::Instant::now();
        let answer = self.held.page(&call.cursor, call.tool, call.era);
        self.metrics
            .tool_call(Some(call.tool), answer.outcome, None);
        log::info!(
            tool = call.tool.as_str(), duration_ms = started.elapsed().as_millis() as u64,
            response_size = answer.result.get().len() as u64, outcome = answer.outcome.as_str();
            "tool call answered from a held result"
        );
        self.send(Outgoing::raw_result(call.id, answer.result));
    }

    /// A tool call answered without running: counted, logged as one tool-call
    /// line, and answered as an `isError` result the model can read.
    fn refuse(&self, refusal: Refusal) {
        let result = refusal.result();
        self.metrics.tool_call(refusal.tool, refusal.outcome, None);
        let level = match refusal.outcome {
            Outcome::RateLimited | Outcome::Busy => log::Level::Warn,
            _ => log::Level::Info,
        };
        log::log!(
            level,
            tool = refusal.name.as_str(), duration_ms = 0u64, response_size = result.get().len() as u64,
            outcome = refusal.outcome.as_str();
            "tool call refused: {}", refusal.why
        );
        self.send(Outgoing::raw_result(refusal.id, result));
    }

    /// Waits while the outbox is full: the client must read to be heard.
    fn send(&self, msg: Outgoing) {
        self.out.send(msg);
    }
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
    use crate::server::testing::{Conversation, Standin};
    use serde_json::{Value, json};

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

    /// What became of a request, in a word: `result`, `tool error`, or the
    /// JSON-RPC error code.
    fn outcome(reply: &Value) -> String {
        match reply.get("error") {
            Some(e) => format!("error {}", e["code"]),
            None if reply["result"]["isError"] == true => "tool error".into(),
            None => "result".into(),
        }
    }

    #[test]
    fn every_request_gets_one_answer_and_nothing_else_does() {
        let standin = Standin::new(None);
        let c = Conversation::start(&standin);
        let lines = [
            (r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#, "result"),
            (
                r#"{"jsonrpc":"2.0","id":2,"method":"nosuch"}"#,
                "error -32601",
            ),
            (
                r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"users"}}"#,
                "result",
            ),
            (
                r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"users","arguments":5}}"#,
                "tool error",
            ),
            (
                r#"{"jsonrpc":"2.0","id":5,"method":"resources/read","params":{"uri":"osquery://server/health"}}"#,
                "result",
            ),
            (
                r#"{"jsonrpc":"2.0","id":6,"method":"resources/read","params":{"uri":"osquery://server/metrics"}}"#,
                "result",
            ),
            (
                r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"custom_query","arguments":{"sql":"DELETE FROM users"}}}"#,
                "tool error",
            ),
            (
                r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                "",
            ),
            (r#"{"jsonrpc":"2.0","id":8,"result":{}}"#, ""),
            ("   ", ""),
            ("{not json", "error -32700"),
            (
                r#"[{"jsonrpc":"2.0","id":9,"method":"ping"}]"#,
                "error -32600",
            ),
        ];
        for (line, _) in &lines {
            c.send_line(line);
        }
        let replies = c.end();
        // Lines that cannot be read are answered with a null id, in order.
        let mut null_ids = replies.iter().filter(|r| r["id"].is_null()).map(outcome);
        for (line, want) in lines {
            let id = serde_json::from_str::<Value>(line)
                .ok()
                .and_then(|v| v.get("id").cloned());
            let got: Vec<String> = match id {
                _ if want.is_empty() => Vec::new(),
                Some(id) => replies
                    .iter()
                    .filter(|r| r["id"] == id)
                    .map(outcome)
                    .collect(),
                None => null_ids.next().into_iter().collect(),
            };
            let want: Vec<&str> = [want].into_iter().filter(|w| !w.is_empty()).collect();
            assert_eq!(got, want, "{line}");
        }
        assert_eq!(replies.len(), 9, "seven answers by id, two with a null id");
    }

    #[test]
    fn the_reader_never_waits_a_full_queue_is_busy_and_ids_stay_unique() {
        let hang = Standin::new(Some("hang"));
        let mut c = Conversation::start(&hang);
        let call = |c: &Conversation, n: usize, token: bool| {
            let mut params = json!({
                "name": "custom_query",
                "arguments": {"sql": format!("SELECT pid FROM processes LIMIT {n}")},
            });
            if token {
                params["_meta"] = json!({"progressToken": n});
            }
            c.request(json!(n), "tools/call", params);
        };
        // Every worker holds a call that never ends…
        for n in 1..=WORKERS {
            call(&c, n, true);
            c.wait_for(|m| {
                m["params"]["progressToken"] == n && m["params"]["message"] == "running osqueryi"
            });
        }
        // …and the queue fills up.
        for n in WORKERS + 1..=WORKERS + QUEUE_CAPACITY {
            call(&c, n, false);
        }
        call(&c, 1, false);
        let reused = c.reply(&json!(1));
        assert_eq!(reused["error"]["code"], INVALID_REQUEST, "{reused}");
        call(&c, 1000, false);
        let busy = c.reply(&json!(1000));
        let text = busy["result"]["content"][0]["text"].as_str().unwrap_or("");
        assert!(
            text.starts_with("Error: server busy: 69 tool calls"),
            "{busy}"
        );
        c.request(json!("p"), "ping", json!({}));
        assert_eq!(c.reply(&json!("p"))["result"], json!({}));
        // Cancelled calls, queued or running, are never answered.
        for n in (1..=WORKERS + QUEUE_CAPACITY).rev() {
            c.notify("notifications/cancelled", json!({"requestId": n}));
        }
        let rest = c.end();
        assert!(rest.iter().all(|m| m.get("id").is_none()), "{rest:?}");
    }
}

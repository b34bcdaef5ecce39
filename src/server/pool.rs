//! The worker pool: five threads, each taking one tool call at a time from the
//! bounded queue, running osqueryi for it, and handing the answer to the
//! writer. A panic while serving one call becomes an error result for that
//! call; the thread lives on, so the pool never shrinks. A worker also answers
//! the identical calls that joined its call (see [`crate::coalesce`]).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use serde_json::{Value, json};

use crate::config::{QUEUE_CAPACITY, WORKERS};
use crate::jsonrpc::Outgoing;
use crate::mcp::Job;
use crate::osquery::Control;
use crate::results::{self, Answer};
use crate::server::Context;
use crate::tools::Outcome;

pub struct Pool {
    workers: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Waits until every worker has drained the queue and stopped.
    pub fn join(self) {
        for w in self.workers {
            let _ = w.join();
        }
    }
}

pub fn spawn(
    ctx: Arc<Context>,
    out: Sender<Outgoing>,
) -> std::io::Result<(Sender<Box<Job>>, Pool)> {
    let (tx, rx) = crossbeam_channel::bounded::<Box<Job>>(QUEUE_CAPACITY);
    let mut workers = Vec::with_capacity(WORKERS);
    for n in 0..WORKERS {
        let (ctx, rx, out) = (ctx.clone(), rx.clone(), out.clone());
        let handle = std::thread::Builder::new()
            .name(format!("worker-{n}"))
            .spawn(move || work(&ctx, &rx, &out))?;
        workers.push(handle);
    }
    Ok((tx, Pool { workers }))
}

fn work(ctx: &Context, jobs: &Receiver<Box<Job>>, out: &Sender<Outgoing>) {
    for job in jobs.iter() {
        serve(ctx, &job, out);
        ctx.unregister(&job.id);
    }
}

/// Runs a job and answers it, and every identical call that joined it while
/// it was queued or running (see `coalesce`).
fn serve(ctx: &Context, job: &Job, out: &Sender<Outgoing>) {
    let control = ctx.coalescer.control_for(job);
    let started = Instant::now();
    let answer = if control.is_cancelled() {
        None
    } else {
        progress(out, job, 0.5, "running osqueryi");
        Some(run_isolated(ctx, job, &control))
    };
    let duration = started.elapsed();
    let followers = ctx.coalescer.finish(job);
    let mut answer = answer;
    // The last caller takes the answer itself: a lone call costs no copy.
    let mut share = |last: bool| if last { answer.take() } else { answer.clone() };
    deliver(ctx, job, share(followers.is_empty()), duration, out);
    let n = followers.len();
    for (i, follower) in followers.into_iter().enumerate() {
        deliver(ctx, &follower, share(i + 1 == n), duration, out);
        ctx.unregister(&follower.id);
    }
}

/// A panic while answering becomes an error result for this call only.
fn run_isolated(ctx: &Context, job: &Job, control: &Control) -> Answer {
    match catch_unwind(AssertUnwindSafe(|| answer_under(ctx, job, control))) {
        Ok(a) => a,
        Err(panic) => {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            log::error!(tool = job.tool; "panic while serving a tool call: {why}");
            Answer {
                result: results::error(
                    "internal error while serving this call; the server keeps running",
                    job.era,
                ),
                outcome: Outcome::ToolError,
            }
        }
    }
}

/// Sends one caller its answer, unless that caller cancelled.
fn deliver(
    ctx: &Context,
    job: &Job,
    answer: Option<Answer>,
    duration: Duration,
    out: &Sender<Outgoing>,
) {
    let duration_ms = duration.as_millis() as u64;
    let answer = match answer {
        Some(a) if !job.control.is_cancelled() => a,
        _ => {
            ctx.metrics
                .tool_call(Some(job.plan.tool), Outcome::Cancelled, Some(duration));
            log::info!(tool = job.tool, outcome = "cancelled", duration_ms = duration_ms, response_size = 0u64; "tool call cancelled");
            return;
        }
    };
    progress(out, job, 1.0, "done");
    let response_size = answer.result.get().len() as u64;
    ctx.metrics
        .tool_call(Some(job.plan.tool), answer.outcome, Some(duration));
    log::info!(
        tool = job.tool, duration_ms = duration_ms, response_size = response_size, outcome = answer.outcome.as_str();
        "tool call finished"
    );
    let _ = out.send(Outgoing::raw_result(job.id.clone(), answer.result));
}

/// Runs one call, with the run obeying `control` (a coalesced call's shared one).
fn answer_under(ctx: &Context, job: &Job, control: &Control) -> Answer {
    #[cfg(debug_assertions)]
    if let Some(marker) = &ctx.panic_marker {
        // Test builds only: lets the isolation test provoke a panic in a worker.
        assert!(
            !job.plan.sql.contains(marker.as_str()),
            "injected test panic"
        );
    }
    results::answer(ctx.engine.fetch(&job.plan, control), job.era)
}

fn progress(out: &Sender<Outgoing>, job: &Job, progress: f64, message: &str) {
    if let Some(token) = &job.progress_token {
        progress_note(out, token, progress, message);
    }
}

/// One `notifications/progress` for `token`, echoed with its JSON type.
pub fn progress_note(out: &Sender<Outgoing>, token: &Value, progress: f64, message: &str) {
    let _ = out.send(Outgoing::notification(
        "notifications/progress",
        json!({ "progressToken": token, "progress": progress, "total": 1, "message": message }),
    ));
}

//! The worker pool: five threads, each taking one tool call at a time from the
//! bounded queue, running its query, and handing the answer to the
//! writer. A panic while serving one call becomes an error result for that
//! call; the thread lives on, so the pool never shrinks. A worker also answers
//! the identical calls that joined its call (see [`super::coalesce`]).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::held::Held;
use super::inflight::InFlight;
use super::writer::Outbox;
use crate::config::{QUEUE_CAPACITY, WORKERS};
use crate::jsonrpc::Outgoing;
use crate::mcp::{Answer, Job, results};
use crate::ops::metrics::Metrics;
use crate::osquery::Control;
use crate::tools::{Engine, Outcome};

/// What a worker needs: the engine to answer with, the calls in flight to
/// finish, the counters and the writer. Not the reader's session.
#[derive(Clone)]
pub struct Worker {
    pub engine: Arc<Engine>,
    pub inflight: Arc<InFlight>,
    /// Where a result too large for one answer is kept for its next pages.
    pub held: Arc<Held>,
    pub metrics: Arc<Metrics>,
    pub out: Outbox,
    /// Test builds only: a call whose SQL holds this text panics in the
    /// worker, so the isolation of panics can be tested end to end.
    #[cfg(debug_assertions)]
    pub panic_marker: Option<String>,
}

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

/// Starts the workers; the queue closes, and they stop, when the returned
/// sender is dropped.
pub fn spawn(worker: Worker) -> std::io::Result<(Sender<Box<Job>>, Pool)> {
    let (tx, rx) = crossbeam_channel::bounded::<Box<Job>>(QUEUE_CAPACITY);
    let mut workers = Vec::with_capacity(WORKERS);
    for n in 0..WORKERS {
        let (worker, rx) = (worker.clone(), rx.clone());
        let handle = std::thread::Builder::new()
            .name(format!("worker-{n}"))
            .spawn(move || worker.work(&rx))?;
        workers.push(handle);
    }
    Ok((tx, Pool { workers }))
}

impl Worker {
    fn work(&self, jobs: &Receiver<Box<Job>>) {
        for job in jobs.iter() {
            self.serve(&job);
            self.inflight.unregister(&job.id);
        }
    }

    /// Runs a job and answers it, and every identical call that joined it
    /// while it was queued or running (see `coalesce`).
    fn serve(&self, job: &Job) {
        let coalescer = &self.inflight.coalescer;
        let control = coalescer.control_for(job);
        let started = Instant::now();
        let answer = if control.is_cancelled() {
            None
        } else {
            self.progress(job, 0.5, self.engine.progress_note(&job.plan));
            Some(self.run_isolated(job, &control))
        };
        let duration = started.elapsed();
        let followers = coalescer.finish(job);
        let mut answer = answer;
        // The last caller takes the answer itself: a lone call costs no copy.
        let mut share = |last: bool| if last { answer.take() } else { answer.clone() };
        self.deliver(job, share(followers.is_empty()), duration);
        let n = followers.len();
        for (i, follower) in followers.into_iter().enumerate() {
            self.deliver(&follower, share(i + 1 == n), duration);
            self.inflight.unregister(&follower.id);
        }
    }

    /// A panic while answering becomes an error result for this call only.
    fn run_isolated(&self, job: &Job, control: &Control) -> Answer {
        match catch_unwind(AssertUnwindSafe(|| self.answer(job, control))) {
            Ok(a) => a,
            Err(panic) => {
                let why = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                log::error!(tool = job.tool().as_str(); "panic while serving a tool call: {why}");
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

    /// Runs one call, obeying `control` (a coalesced call's shared one).
    fn answer(&self, job: &Job, control: &Control) -> Answer {
        #[cfg(debug_assertions)]
        if let Some(marker) = &self.panic_marker {
            assert!(
                !job.plan.sql.contains(marker.as_str()),
                "injected test panic"
            );
        }
        let fetched = self.engine.fetch(&job.plan, control);
        self.held.answer(fetched, job.tool(), job.era)
    }

    /// Sends one caller its answer, unless that caller cancelled.
    fn deliver(&self, job: &Job, answer: Option<Answer>, duration: Duration) {
        let tool = job.tool();
        let duration_ms = duration.as_millis() as u64;
        let answer = match answer {
            Some(a) if !job.control.is_cancelled() => a,
            _ => {
                self.metrics
                    .tool_call(Some(tool), Outcome::Cancelled, Some(duration));
                log::info!(
                    tool = tool.as_str(), outcome = Outcome::Cancelled.as_str(), duration_ms = duration_ms, response_size = 0u64;
                    "tool call cancelled"
                );
                return;
            }
        };
        self.progress(job, 1.0, "done");
        let response_size = answer.result.get().len() as u64;
        self.metrics
            .tool_call(Some(tool), answer.outcome, Some(duration));
        log::info!(
            tool = tool.as_str(), duration_ms = duration_ms, response_size = response_size, outcome = answer.outcome.as_str();
            "tool call finished"
        );
        let _ = self
            .out
            .send(Outgoing::raw_result(job.id.clone(), answer.result));
    }

    fn progress(&self, job: &Job, progress: f64, message: &str) {
        if let Some(note) = job.progress(progress, message) {
            let _ = self.out.send(note);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::RequestId;
    use crate::mcp::Era;
    use crate::server::coalesce::Admission;
    use crate::server::testing::Standin;
    use serde_json::{Value, json};

    fn job(id: i64, tool: &str, args: Value, engine: &Engine) -> Box<Job> {
        let tool = crate::tools::find(tool).expect("a tool");
        let args = args.as_object().cloned().unwrap_or_default();
        Box::new(Job {
            id: RequestId::from_value(&json!(id)).expect("an id"),
            plan: crate::tools::plan(tool, &args, &engine.policy).expect("a valid call"),
            progress_token: None,
            era: Era::Legacy,
            control: Control::new(),
        })
    }

    /// Runs `jobs` through a pool of five, waits for them all, and returns
    /// what was sent to the writer and the counters.
    fn run(jobs: impl FnOnce(&Engine, &InFlight) -> Vec<Box<Job>>) -> (Vec<Value>, Arc<Metrics>) {
        let standin = Standin::new(None);
        let (engine, _home) = standin.engine();
        let (out, written) = crate::server::writer::capture();
        let metrics = Arc::new(Metrics::new());
        let worker = Worker {
            engine: Arc::new(engine),
            inflight: Arc::new(InFlight::new()),
            held: Arc::new(Held::new(80_000, 1 << 20, metrics.clone())),
            metrics,
            out,
            #[cfg(debug_assertions)]
            panic_marker: Some("boom_marker".into()),
        };
        let (queue, pool) = spawn(worker.clone()).expect("workers start");
        for j in jobs(&worker.engine, &worker.inflight) {
            assert!(
                worker
                    .inflight
                    .register(&j.id, j.control.clone(), j.weight())
                    .is_ok()
            );
            queue.send(j).expect("room in the queue");
        }
        drop(queue);
        pool.join();
        let messages = written
            .try_iter()
            .map(|m| serde_json::to_value(&m).expect("serialisable"))
            .collect();
        (messages, worker.metrics)
    }

    fn counted(metrics: &Metrics) -> Value {
        metrics.snapshot(0).to_json()["outcomes"].clone()
    }

    #[test]
    #[cfg(debug_assertions)]
    fn a_panic_is_one_calls_error_and_the_workers_live_on() {
        let (messages, metrics) = run(|engine, _| {
            let boom = json!({"sql": "SELECT pid FROM processes WHERE name = 'boom_marker'"});
            let mut jobs = vec![job(0, "custom_query", boom, engine)];
            jobs.extend((1..=10).map(|id| job(id, "users", json!({}), engine)));
            jobs
        });
        assert_eq!(messages.len(), 11);
        for m in &messages {
            let failed = m["result"]["isError"] == true;
            assert_eq!(failed, m["id"] == 0, "{m}");
        }
        let boom = messages.iter().find(|m| m["id"] == 0).expect("answered");
        assert_eq!(
            boom["result"]["content"][0]["text"],
            "Error: internal error while serving this call; the server keeps running"
        );
        let outcomes = counted(&metrics);
        assert_eq!(
            (outcomes["tool_error"].clone(), outcomes["ok"].clone()),
            (json!(1), json!(10))
        );
    }

    #[test]
    fn identical_calls_share_one_answer_under_their_own_ids() {
        let (messages, metrics) = run(|engine, inflight| {
            let leader = match inflight.coalescer.admit(job(1, "users", json!({}), engine)) {
                Admission::Lead(j) => j,
                _ => panic!("the first call leads"),
            };
            let follower = job(2, "users", json!({}), engine);
            assert!(
                inflight
                    .register(&follower.id, follower.control.clone(), 1)
                    .is_ok()
            );
            assert!(matches!(
                inflight.coalescer.admit(follower),
                Admission::Followed
            ));
            vec![leader]
        });
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0]["result"], messages[1]["result"]);
        let mut ids: Vec<&Value> = messages.iter().map(|m| &m["id"]).collect();
        ids.sort_by_key(|id| id.as_i64());
        assert_eq!(ids, [&json!(1), &json!(2)]);
        assert_eq!(counted(&metrics)["ok"], 2);
    }

    #[test]
    fn a_call_cancelled_while_queued_is_never_run_or_answered() {
        let (messages, metrics) = run(|engine, _| {
            let cancelled = job(1, "users", json!({}), engine);
            cancelled.control.cancel();
            vec![cancelled, job(2, "system_info", json!({}), engine)]
        });
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0]["id"], 2);
        let outcomes = counted(&metrics);
        assert_eq!(
            (outcomes["cancelled"].clone(), outcomes["ok"].clone()),
            (json!(1), json!(1))
        );
    }
}

//! Answering a read of the health resource without blocking the reader.
//!
//! A check runs osqueryi twice, or asks osqueryd twice (both in hybrid), so
//! it may take a few timeouts; the reader must never wait for it. [`HealthReplies::answer_later`] runs it on a
//! short-lived thread that replies through the writer's channel, and requests
//! that arrive while a check is running join it instead of starting another,
//! so a client asking in a loop costs at most one thread and one check at a
//! time.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::lock;
use super::writer::Outbox;
use crate::config::Config;
use crate::jsonrpc::{INTERNAL_ERROR, Outgoing, RequestId};
use crate::mcp::{Era, Resource, era, resources};
use crate::ops::health;
use crate::tools::Engine;

/// Requests waiting for the check in progress; `None` when none runs.
type Waiting = Mutex<Option<Vec<(RequestId, Era)>>>;

pub struct HealthReplies {
    config: Config,
    engine: Arc<Engine>,
    started: Instant,
    waiting: Arc<Waiting>,
}

impl HealthReplies {
    /// Checks run with `engine` and report uptime since `started`.
    pub fn new(config: Config, engine: Arc<Engine>, started: Instant) -> HealthReplies {
        HealthReplies {
            config,
            engine,
            started,
            waiting: Arc::default(),
        }
    }

    /// Answers `id` once a check finishes, without blocking the caller.
    pub fn answer_later(&self, id: RequestId, era: Era, out: &Outbox) {
        {
            let mut waiting = lock(&self.waiting);
            if let Some(ids) = waiting.as_mut() {
                ids.push((id, era));
                return;
            }
            *waiting = Some(vec![(id, era)]);
        }
        let (config, engine, started) = (self.config.clone(), self.engine.clone(), self.started);
        let (waiting, thread_out) = (self.waiting.clone(), out.clone());
        let spawned = std::thread::Builder::new()
            .name("health".into())
            .spawn(move || {
                let result = catch_unwind(AssertUnwindSafe(|| {
                    let report = health::check(&config, &engine, started);
                    resources::contents(Resource::Health, &report.body)
                }));
                for (id, era) in take(&waiting) {
                    let msg = match &result {
                        Ok(body) => {
                            Outgoing::result(id, era::decorate(era, "resources/read", body.clone()))
                        }
                        Err(_) => Outgoing::error(Some(id), INTERNAL_ERROR, "health check failed"),
                    };
                    let _ = thread_out.send(msg);
                }
            });
        if let Err(e) = spawned {
            log::error!("could not start the health check: {e}");
            for (id, _) in take(&self.waiting) {
                let _ = out.send(Outgoing::error(
                    Some(id),
                    INTERNAL_ERROR,
                    format!("could not start the health check: {e}"),
                ));
            }
        }
    }
}

fn take(waiting: &Waiting) -> Vec<(RequestId, Era)> {
    lock(waiting).take().unwrap_or_default()
}

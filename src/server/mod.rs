//! Wiring of the pipeline, and the state its threads share:
//!
//! ```text
//! stdin ─▶ reader ─▶ bounded queue ─▶ 5 workers ─▶ osqueryi
//!            │                            │
//!            └──────────▶ writer ◀────────┘ ─▶ stdout
//! ```
//!
//! On EOF the reader returns, the queue closes, the workers finish every
//! accepted call, and the writer flushes the last answer before exit.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::coalesce::Coalescer;
use crate::config::Config;
use crate::jsonrpc::RequestId;
use crate::metrics::Metrics;
use crate::osquery::{Control, PrivateHome};
use crate::tools::Engine;
use crate::{health, logging};

pub mod coalesce;
pub mod pool;
pub mod reader;
pub mod writer;

/// Lines longer than this are discarded unread: the response cap or 16 MiB,
/// whichever is larger.
const MIN_LINE_LIMIT: usize = 16 * 1024 * 1024;

pub struct Context {
    pub config: Config,
    /// What workers use to answer calls.
    pub engine: Arc<Engine>,
    pub max_line: usize,
    pub metrics: Metrics,
    /// The health check in progress, if any (see [`health::answer_later`]).
    pub health_probe: Arc<health::Probe>,
    /// Calls accepted and not yet answered, so a cancellation can reach them.
    inflight: Mutex<HashMap<String, Arc<Control>>>,
    /// Identical calls in flight share one osqueryi run.
    pub coalescer: Coalescer,
    #[cfg(debug_assertions)]
    pub panic_marker: Option<String>,
}

impl Context {
    pub fn new(config: Config, home: PathBuf) -> Context {
        Context {
            max_line: config.max_response_size.max(MIN_LINE_LIMIT),
            engine: Arc::new(Engine::new(&config, home)),
            config,
            metrics: Metrics::new(),
            health_probe: Arc::default(),
            inflight: Mutex::new(HashMap::new()),
            coalescer: Coalescer::new(),
            #[cfg(debug_assertions)]
            panic_marker: std::env::var("MCP_OSQUERY_TEST_PANIC")
                .ok()
                .filter(|m| !m.is_empty()),
        }
    }

    /// Records a call; false (and nothing recorded) when the id is already
    /// in flight, since a cancellation could not tell the two apart.
    pub fn register(&self, id: &RequestId, control: Arc<Control>) -> bool {
        let mut calls = self.calls();
        if calls.contains_key(&id.key()) {
            return false;
        }
        calls.insert(id.key(), control);
        true
    }

    pub fn unregister(&self, id: &RequestId) {
        self.calls().remove(&id.key());
    }

    /// Tool calls answered from an identical call's run since start-up.
    pub fn coalesced_calls(&self) -> u64 {
        self.coalescer.coalesced_calls()
    }

    /// Cancels a queued or running call; unknown or finished ids are ignored.
    /// A coalesced run stops only once all of its callers have cancelled.
    pub fn cancel(&self, id: &RequestId) {
        let control = self.calls().get(&id.key()).cloned();
        match control {
            Some(c) => {
                log::info!("cancelling request {id}");
                c.cancel();
                self.coalescer.cancelled();
            }
            None => log::debug!("cancellation for unknown or finished request {id} ignored"),
        }
    }

    fn calls(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Control>>> {
        self.inflight.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Serves MCP on stdin/stdout until EOF, then answers what was accepted.
pub fn serve(config: Config) -> std::io::Result<()> {
    crate::signals::install();
    let home = PrivateHome::create()?;
    let ctx = Arc::new(Context::new(config, home.path.clone()));
    let (out, writer) = writer::spawn(std::io::stdout())?;
    logging::forward_to(out.clone());
    let (jobs, pool) = pool::spawn(ctx.clone(), out.clone())?;
    log::info!(
        "serving MCP on stdio: {} workers, timeout {} s, response cap {} bytes",
        crate::config::WORKERS,
        ctx.config.timeout.as_secs(),
        ctx.config.max_response_size
    );
    match crate::osquery::locate(ctx.config.osquery_path.as_deref()) {
        Some(path) => log::info!("osqueryi: {}", path.display()),
        // Not fatal: the tools are listed and every call says what to fix.
        None => log::warn!(
            "{}",
            crate::osquery::RunError::NotFound(ctx.config.osquery_path.clone())
        ),
    }
    reader::run(std::io::stdin().lock(), &ctx, &jobs, &out);
    drop(jobs);
    pool.join();
    ctx.metrics.snapshot(ctx.coalesced_calls()).log();
    logging::stop_forwarding();
    drop(out);
    let written = writer.join().unwrap_or(Ok(()));
    log::info!("all answers written; exiting");
    written
}

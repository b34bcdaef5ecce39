//! The pipeline: the only code that spawns threads or owns channels.
//!
//! ```text
//! stdin ─▶ reader ─▶ bounded queue ─▶ 5 workers ─▶ osqueryi or osqueryd
//!            │                            │
//!            └──────────▶ writer ◀────────┘ ─▶ stdout
//! ```
//!
//! The reader carries out what `mcp` decides; the workers answer with the
//! `tools` engine; the writer alone writes the output. On EOF the reader
//! returns, the queue closes, the workers finish every accepted call, and the
//! writer flushes the last answer before exit.

use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::config::{Config, WORKERS};
use crate::logging;
use crate::mcp::Session;
use crate::ops::metrics::Metrics;
use crate::osquery::{PrivateHome, RunError, signals};
use crate::tools::Engine;

pub mod coalesce;
pub mod health_reply;
pub mod held;
pub mod inflight;
pub mod pool;
pub mod reader;
#[cfg(test)]
pub mod testing;
pub mod writer;

use health_reply::HealthReplies;
use held::Held;
use inflight::InFlight;
use pool::Worker;
use reader::Reader;

/// Every lock the pipeline's threads share. A poisoned lock only means a
/// thread panicked while holding it; each update under these locks leaves
/// its state consistent (a field written, or a map or list changed in one
/// step), so the state is used as it is.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Lines longer than this are discarded unread: the response cap or 16 MiB,
/// whichever is larger.
const MIN_LINE_LIMIT: usize = 16 * 1024 * 1024;

/// Serves MCP on stdin/stdout until EOF, then answers what was accepted.
pub fn serve(config: Config) -> std::io::Result<()> {
    signals::install();
    let home = PrivateHome::create()?;
    let engine = Engine::new(&config, home.path.clone());
    serve_on(std::io::stdin().lock(), std::io::stdout(), config, engine)
}

/// Serves MCP from `input` to `output` until `input` ends, then answers
/// what was accepted and returns once the last answer is written. Anything
/// that reads and writes lines will do: tests serve an in-memory session.
pub fn serve_on(
    input: impl BufRead,
    output: impl Write + Send + 'static,
    config: Config,
    engine: Engine,
) -> std::io::Result<()> {
    let engine = Arc::new(engine);
    let metrics = Arc::new(Metrics::new().with_backends(engine.tally.clone()));
    let inflight = Arc::new(InFlight::new());
    let held = Arc::new(Held::new(
        config.max_text_bytes,
        config.max_held_bytes,
        metrics.clone(),
    ));
    let (out, writer) = writer::spawn(output)?;
    let log_out = out.clone();
    logging::forward_to(move |note| log_out.try_send(note));
    let spawned = pool::spawn(Worker {
        engine: engine.clone(),
        inflight: inflight.clone(),
        held: held.clone(),
        metrics: metrics.clone(),
        out: out.clone(),
        #[cfg(debug_assertions)]
        panic_marker: std::env::var("MCP_OSQUERY_TEST_PANIC")
            .ok()
            .filter(|m| !m.is_empty()),
    });
    let (jobs, pool) = match spawned {
        Ok(p) => p,
        Err(e) => {
            logging::stop_forwarding();
            return Err(e);
        }
    };
    log::info!(
        "serving MCP on stdio: {WORKERS} workers, timeout {} s, response cap {} bytes",
        config.timeout.as_secs(),
        config.max_response_size
    );
    if let Some(osqueryi) = engine.runner.osqueryi() {
        match osqueryi.locate() {
            Some(path) => log::info!("osqueryi: {}", path.display()),
            // Not fatal: the tools are listed and every call says what to fix.
            None => log::warn!("{}", RunError::NotFound(osqueryi.osquery_path.clone())),
        }
    }
    if let Some(daemon) = engine.runner.daemon() {
        // Connected on first use: osqueryd may start after the server.
        log::info!(
            "backend {}: osqueryd socket {}",
            config.backend.as_str(),
            daemon.socket.display()
        );
    }
    let health = HealthReplies::new(config.clone(), engine.clone(), metrics.started());
    Reader {
        session: Session::new(config.rate_limit, engine.policy.clone()),
        max_line: config.max_response_size.max(MIN_LINE_LIMIT),
        inflight: &inflight,
        metrics: &metrics,
        health: &health,
        held: &held,
        jobs: &jobs,
        out: &out,
    }
    .run(input);
    drop(jobs);
    pool.join();
    metrics.snapshot(inflight.coalescer.coalesced_calls()).log();
    logging::stop_forwarding();
    drop(out);
    let written = writer.join().unwrap_or(Ok(()));
    log::info!("all answers written; exiting");
    written
}

//! MCP methods, answered on the reader thread: the handshake, ping, tools/list,
//! prompts/list and prompts/get, and turning a `tools/call` into either an
//! immediate result (bad arguments, rate limit) or a [`Job`] for the worker
//! pool.
//!
//! Nothing here blocks or runs a process; it must stay cheap so the reader is
//! always free to hear the next line.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use crate::config::SERVER;
use crate::jsonrpc::{self, INVALID_PARAMS, Incoming, METHOD_NOT_FOUND, Outgoing, RequestId};
use crate::modern::{self, Era};
use crate::osquery::Control;
use crate::prompts;
use crate::ratelimit::RateLimiter;
use crate::server::Context;
use crate::tools::{self, Outcome, Plan};
use crate::{logging, resources, results};

/// Handshake revisions we speak, newest first.
pub const PROTOCOL_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

pub const INSTRUCTIONS: &str = "Read-only access to this host's live state through osquery. \
1) Prefer the fixed tools: system_info, processes (top by memory), users, network_interfaces, \
network_connections, open_files (give a pid), disk_usage, installed_packages, running_services. \
2) For anything else use custom_query: one SELECT (or WITH … SELECT) in osquery's SQLite dialect, \
with a LIMIT. Do not guess table or column names: call list_tables (with a pattern) and \
describe_table first. 3) Prompts (prompts/list) hold tested diagnostics: memory hogs, listening \
ports, package changes, disk space, suspicious processes, logged-in users. \
Refused: writes, PRAGMA, ATTACH, stacked statements, load_extension/readfile/sleep-like functions, \
and tables that reach the network or hold secrets (curl, shadow, process_envs, shell_history, \
authorized_keys, …; list_tables omits them); values that look like secrets are redacted. \
All values are strings; sizes are bytes unless a field says otherwise.";

/// A tool call accepted for the pool.
#[derive(Debug)]
pub struct Job {
    pub id: RequestId,
    pub tool: &'static str,
    pub plan: Plan,
    pub progress_token: Option<Value>,
    /// Which revision the request spoke, so its result has the right shape.
    pub era: Era,
    pub control: Arc<Control>,
}

pub enum Action {
    Reply(Outgoing),
    Run(Box<Job>),
    /// `resources/read` of the health resource: answered later, off the reader.
    Health(RequestId, Era),
    Nothing,
}

/// What the reader remembers about the client between lines.
pub struct Session {
    rate: RateLimiter,
}

impl Session {
    pub fn new(ctx: &Context) -> Session {
        Session {
            rate: RateLimiter::per_minute(ctx.config.rate_limit),
        }
    }

    pub fn handle(&mut self, ctx: &Context, msg: Incoming) -> Action {
        match msg {
            Incoming::Request { id, method, params } => self.request(ctx, id, &method, params),
            Incoming::Notification { method, params } => {
                self.notification(ctx, &method, params);
                Action::Nothing
            }
            Incoming::Response => {
                log::debug!("ignoring a response from the client: we send no requests");
                Action::Nothing
            }
        }
    }

    fn request(
        &mut self,
        ctx: &Context,
        id: RequestId,
        method: &str,
        params: Option<Value>,
    ) -> Action {
        let era = match modern::classify(method, &params) {
            Ok(era) => era,
            Err(rejected) => return Action::Reply(rejected.reply(id)),
        };
        if era.is_modern() {
            log::debug!(
                "{method} from {} (MCP 2026-07-28)",
                modern::client_name(&params)
            );
        }
        let reply = |result: Value| {
            Action::Reply(Outgoing::result(
                id.clone(),
                modern::decorate(era, method, result),
            ))
        };
        match method {
            "server/discover" => reply(modern::discover(capabilities(), INSTRUCTIONS)),
            "initialize" => reply(initialize(&params)),
            "ping" => reply(json!({})),
            "tools/list" => reply(tools::list()),
            "tools/call" => self.tools_call(ctx, id, params, era),
            "prompts/list" => reply(prompts::list()),
            "prompts/get" => prompts_get(id, &params, era),
            "resources/list" => reply(resources::list()),
            "resources/templates/list" => reply(json!({ "resourceTemplates": [] })),
            "resources/read" => resources::read(ctx, id, era, &params),
            "logging/setLevel" => set_level(id, &params),
            _ => Action::Reply(Outgoing::error(
                Some(id),
                METHOD_NOT_FOUND,
                format!("Method not found: {method}"),
            )),
        }
    }

    fn tools_call(
        &mut self,
        ctx: &Context,
        id: RequestId,
        params: Option<Value>,
        era: Era,
    ) -> Action {
        let mut params = jsonrpc::params_object(params);
        let Some(Value::String(name)) = params.remove("name") else {
            return Action::Reply(Outgoing::error(
                Some(id),
                INVALID_PARAMS,
                "Invalid params: tools/call needs \"name\" (a string)",
            ));
        };
        let args = match params.remove("arguments") {
            None | Some(Value::Null) => serde_json::Map::new(),
            Some(Value::Object(a)) => a,
            Some(_) => {
                return refuse(
                    ctx,
                    id,
                    era,
                    &name,
                    Outcome::Rejected,
                    "arguments must be an object",
                );
            }
        };
        let Some(tool) = tools::find(&name) else {
            return refuse(
                ctx,
                id,
                era,
                &name,
                Outcome::Rejected,
                &format!("Unknown tool: {name}"),
            );
        };
        let plan = match tools::plan(tool, &args, &ctx.engine.policy) {
            Ok(plan) => plan,
            Err(why) => return refuse(ctx, id, era, tool.id, Outcome::Rejected, &why),
        };
        if let Err(wait) = self.rate.try_acquire(Instant::now()) {
            let why = format!(
                "rate limit of {} tool calls per minute reached; retry in {} seconds",
                ctx.config.rate_limit,
                wait.as_secs().max(1)
            );
            return refuse(ctx, id, era, tool.id, Outcome::RateLimited, &why);
        }
        let progress_token = params
            .get("_meta")
            .and_then(|m| m.get("progressToken"))
            .filter(|t| t.is_string() || t.is_i64() || t.is_u64())
            .cloned();
        Action::Run(Box::new(Job {
            id,
            tool: tool.id,
            plan,
            progress_token,
            era,
            control: Control::new(),
        }))
    }

    fn notification(&mut self, ctx: &Context, method: &str, params: Option<Value>) {
        match method {
            "notifications/initialized" => {
                log::debug!("client initialized");
                logging::client_ready();
            }
            "notifications/cancelled" => {
                let id = jsonrpc::param(&params, "requestId").and_then(RequestId::from_value);
                match id {
                    Some(id) => ctx.cancel(&id),
                    None => log::debug!("cancellation without a valid requestId ignored"),
                }
            }
            other => log::debug!("ignoring notification {other}"),
        }
    }
}

fn prompts_get(id: RequestId, params: &Option<Value>, era: Era) -> Action {
    let name = jsonrpc::param(params, "name").and_then(Value::as_str);
    match name.and_then(prompts::find) {
        Some(p) => Action::Reply(Outgoing::result(
            id,
            modern::decorate(era, "prompts/get", prompts::get(p)),
        )),
        None => {
            let known: Vec<&str> = prompts::PROMPTS.iter().map(|p| p.name).collect();
            let what = match name {
                Some(n) => format!("Unknown prompt: {n}"),
                None => "prompts/get needs \"name\" (a string)".to_string(),
            };
            Action::Reply(Outgoing::error(
                Some(id),
                INVALID_PARAMS,
                format!("Invalid params: {what}; prompts are {}", known.join(", ")),
            ))
        }
    }
}

/// The handshake: our answer to the client's `protocolVersion` and who we are.
fn initialize(params: &Option<Value>) -> Value {
    let requested = jsonrpc::param(params, "protocolVersion").and_then(Value::as_str);
    let version = match requested {
        Some(v) if PROTOCOL_VERSIONS.contains(&v) => v,
        _ => PROTOCOL_VERSIONS[0],
    };
    log::info!(
        "initialize: client {} asked for {}, answering {version}",
        client_name(params),
        requested.unwrap_or("no version")
    );
    json!({
        "protocolVersion": version,
        "capabilities": capabilities(),
        "serverInfo": SERVER,
        "instructions": INSTRUCTIONS,
    })
}

/// A tool call answered without running: counted, logged as one tool-call
/// line, and answered as an `isError` result the model can read. The reader
/// uses it too, for calls refused because the queue is full.
pub fn refusal(
    ctx: &Context,
    id: RequestId,
    era: Era,
    tool: &str,
    outcome: Outcome,
    why: &str,
) -> Outgoing {
    let result = results::error(why, era);
    ctx.metrics
        .tool_call(tools::find(tool).map(|t| t.name), outcome, None);
    let level = match outcome {
        Outcome::RateLimited | Outcome::Busy => log::Level::Warn,
        _ => log::Level::Info,
    };
    log::log!(
        level,
        tool = tool, duration_ms = 0u64, response_size = result.get().len() as u64, outcome = outcome.as_str();
        "tool call refused: {why}"
    );
    Outgoing::raw_result(id, result)
}

fn refuse(
    ctx: &Context,
    id: RequestId,
    era: Era,
    tool: &str,
    outcome: Outcome,
    why: &str,
) -> Action {
    Action::Reply(refusal(ctx, id, era, tool, outcome, why))
}

/// `logging/setLevel`: which log records are sent to the client.
fn set_level(id: RequestId, params: &Option<Value>) -> Action {
    let level = jsonrpc::param(params, "level").and_then(Value::as_str);
    match level {
        Some(l) if logging::set_client_level(l) => {
            log::debug!("client log level set to {l}");
            Action::Reply(Outgoing::result(id, json!({})))
        }
        _ => Action::Reply(Outgoing::error(
            Some(id),
            INVALID_PARAMS,
            format!(
                "Invalid params: level must be one of {}",
                logging::MCP_LEVELS.join(", ")
            ),
        )),
    }
}

/// What we offer, the same in the handshake and in `server/discover`.
pub fn capabilities() -> Value {
    json!({
        "tools": { "listChanged": false },
        "prompts": { "listChanged": false },
        "resources": { "subscribe": false, "listChanged": false },
        "logging": {},
    })
}

fn client_name(params: &Option<Value>) -> String {
    let info = jsonrpc::param(params, "clientInfo");
    let name = info
        .and_then(|i| i.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let version = info
        .and_then(|i| i.get("version"))
        .and_then(Value::as_str)
        .unwrap_or("");
    format!("{name} {version}").trim().to_string()
}

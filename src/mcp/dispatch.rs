//! What one message means: each request or notification becomes an
//! [`Action`] for the reader to carry out. The handshake, ping, the lists and
//! prompts are answered here outright; a `tools/call` becomes a [`Job`] for
//! the pool or a [`Refusal`] (bad arguments, unknown tool, rate limit).

use std::time::Instant;

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::era::{self, Era};
use super::handshake::{self, INSTRUCTIONS};
use super::job::Job;
use super::params::{
    self, CallParams, CancelledParams, GetPromptParams, ReadParams, SetLevelParams,
};
use super::ratelimit::RateLimiter;
use super::resources::{self, Resource};
use super::{prompts, results};
use crate::guard::TablePolicy;
use crate::jsonrpc::{
    INVALID_PARAMS, INVALID_REQUEST, Incoming, METHOD_NOT_FOUND, Outgoing, RequestId,
};
use crate::logging::{MCP_LEVELS, truncate};
use crate::osquery::Control;
use crate::tools::{self, Outcome, ToolName};

/// What the reader does with one message.
#[derive(Debug)]
pub enum Action {
    /// Send this now.
    Reply(Outgoing),
    /// Hand this call to the pool (or answer it "busy" when the queue is full).
    Run(Box<Job>),
    /// Answer a call with the next page of a held result.
    Page(PageCall),
    /// Answer a tool call without running it; the reader counts and logs it.
    Refuse(Refusal),
    /// `notifications/cancelled`: stop this call if it is still in flight.
    Cancel(RequestId),
    /// `resources/read` of one of our resources; its body is the server's
    /// (the health check runs osqueryi or asks osqueryd, so it is answered
    /// later).
    Read(RequestId, Era, Resource),
    /// `logging/setLevel`: forward log records at this level and above, then
    /// answer the request.
    SetLogLevel(RequestId, &'static str),
    /// `notifications/initialized`: the client may now receive log records.
    ClientReady,
    /// Nothing to do (a response from the client, an unknown notification).
    Ignore,
}

/// A tool call answered without running, as an `isError` result the model
/// can read.
#[derive(Debug)]
pub struct Refusal {
    pub id: RequestId,
    pub era: Era,
    /// The tool as the client named it, for the log: maybe no tool of ours.
    pub name: String,
    pub tool: Option<ToolName>,
    pub outcome: Outcome,
    pub why: String,
}

impl Refusal {
    pub fn new(id: RequestId, era: Era, name: &str, outcome: Outcome, why: String) -> Refusal {
        Refusal {
            id,
            era,
            name: name.to_string(),
            tool: tools::find(name).map(|t| t.name),
            outcome,
            why,
        }
    }

    pub fn result(&self) -> Box<RawValue> {
        results::error(&self.why, self.era)
    }
}

/// A tool call with a `cursor`: the next page of a held result, no run.
#[derive(Debug)]
pub struct PageCall {
    pub id: RequestId,
    pub era: Era,
    pub tool: ToolName,
    pub cursor: String,
}

/// What the reader remembers about the client between lines.
pub struct Session {
    rate: RateLimiter,
    rate_limit: u32,
    policy: TablePolicy,
}

impl Session {
    /// `rate_limit` tool calls a minute (0: no limit); `policy` decides which
    /// tables a call may name.
    pub fn new(rate_limit: u32, policy: TablePolicy) -> Session {
        Session {
            rate: RateLimiter::per_minute(rate_limit),
            rate_limit,
            policy,
        }
    }

    pub fn handle(&mut self, msg: Incoming) -> Action {
        match msg {
            Incoming::Request { id, method, params } => self.request(id, &method, params),
            Incoming::Notification { method, params } => notification(&method, params),
            Incoming::Response => {
                log::debug!("ignoring a response from the client: we send no requests");
                Action::Ignore
            }
        }
    }

    fn request(&mut self, id: RequestId, method: &str, params: Option<Value>) -> Action {
        if let Err(why) = params::check_progress_token(&params) {
            return Action::Reply(Outgoing::error(Some(id), INVALID_REQUEST, why));
        }
        let era = match era::classify(method, &params) {
            Ok(era) => era,
            Err(rejected) => return Action::Reply(rejected.reply(id)),
        };
        if era.is_modern() {
            log::debug!(
                "{method} from {} (MCP 2026-07-28)",
                era::client_name(&params)
            );
        }
        let reply = |result: Value| {
            Action::Reply(Outgoing::result(
                id.clone(),
                era::decorate(era, method, result),
            ))
        };
        match method {
            "server/discover" => reply(era::discover(handshake::capabilities(), INSTRUCTIONS)),
            "initialize" => reply(handshake::initialize(params::parse(params))),
            "ping" => reply(json!({})),
            "tools/list" => reply(tools::list()),
            "tools/call" => self.tools_call(id, params::parse(params), era),
            "prompts/list" => reply(prompts::list()),
            "prompts/get" => prompts_get(id, params::parse(params), era),
            "resources/list" => reply(resources::list()),
            "resources/templates/list" => reply(json!({ "resourceTemplates": [] })),
            "resources/read" => resources_read(id, params::parse(params), era),
            "logging/setLevel" => set_level(id, params::parse(params)),
            _ => Action::Reply(Outgoing::error(
                Some(id),
                METHOD_NOT_FOUND,
                format!("Method not found: {}", truncate(method, 64)),
            )),
        }
    }

    fn tools_call(&mut self, id: RequestId, params: CallParams, era: Era) -> Action {
        let Some(name) = params.name else {
            return Action::Reply(Outgoing::error(
                Some(id),
                INVALID_PARAMS,
                "Invalid params: tools/call needs \"name\" (a string)",
            ));
        };
        let refuse =
            |id, outcome, why: String| Action::Refuse(Refusal::new(id, era, &name, outcome, why));
        let mut args = match params.arguments {
            None => Map::new(),
            Some(Value::Object(a)) => a,
            Some(_) => {
                return refuse(id, Outcome::Rejected, "arguments must be an object".into());
            }
        };
        let Some(tool) = tools::find(&name) else {
            return refuse(id, Outcome::Rejected, tools::unknown_tool(&name));
        };
        // Pages run no query, so the rate limit (which spares the host) does
        // not count them.
        match tools::take_cursor(&mut args) {
            Ok(Some(cursor)) => {
                return Action::Page(PageCall {
                    id,
                    era,
                    tool: tool.name,
                    cursor,
                });
            }
            Ok(None) => {}
            Err(why) => return refuse(id, Outcome::Rejected, why),
        }
        let plan = match tools::plan(tool, &args, &self.policy) {
            Ok(plan) => plan,
            Err(why) => return refuse(id, Outcome::Rejected, why),
        };
        if let Err(wait) = self.rate.try_acquire(Instant::now()) {
            let why = format!(
                "rate limit of {} per minute reached; retry in {}",
                tools::count(self.rate_limit as usize, "tool call"),
                tools::count(wait.as_secs().max(1) as usize, "second")
            );
            return refuse(id, Outcome::RateLimited, why);
        }
        Action::Run(Box::new(Job {
            id,
            plan,
            progress_token: params.meta.and_then(|m| m.progress_token),
            era,
            control: Control::new(),
        }))
    }
}

fn notification(method: &str, params: Option<Value>) -> Action {
    match method {
        "notifications/initialized" => {
            log::debug!("client initialized");
            Action::ClientReady
        }
        "notifications/cancelled" => {
            let p: CancelledParams = params::parse(params);
            match p.request_id {
                Some(id) => Action::Cancel(id),
                None => {
                    log::debug!("cancellation without a valid requestId ignored");
                    Action::Ignore
                }
            }
        }
        other => {
            log::debug!("ignoring notification {other}");
            Action::Ignore
        }
    }
}

fn prompts_get(id: RequestId, params: GetPromptParams, era: Era) -> Action {
    let name = params.name.as_deref();
    match name.and_then(prompts::find) {
        Some(p) => Action::Reply(Outgoing::result(
            id,
            era::decorate(era, "prompts/get", prompts::get(p)),
        )),
        None => {
            let known: Vec<&str> = prompts::PROMPTS.iter().map(|p| p.name).collect();
            let what = match name {
                Some(n) => format!("Unknown prompt: {}", truncate(n, 64)),
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

fn resources_read(id: RequestId, params: ReadParams, era: Era) -> Action {
    let Some(uri) = params.uri else {
        return Action::Reply(Outgoing::error(
            Some(id),
            INVALID_PARAMS,
            "Invalid params: resources/read needs \"uri\" (a string)",
        ));
    };
    match Resource::find(&uri) {
        Some(resource) => Action::Read(id, era, resource),
        None => {
            let shown = truncate(&uri, 256);
            Action::Reply(Outgoing::error_with_data(
                Some(id),
                INVALID_PARAMS,
                format!("Resource not found: {shown}"),
                Some(json!({ "uri": shown })),
            ))
        }
    }
}

/// `logging/setLevel`: which log records are sent to the client.
fn set_level(id: RequestId, params: SetLevelParams) -> Action {
    let level = params
        .level
        .and_then(|l| MCP_LEVELS.iter().find(|m| **m == l).copied());
    match level {
        Some(level) => Action::SetLogLevel(id, level),
        None => Action::Reply(Outgoing::error(
            Some(id),
            INVALID_PARAMS,
            format!(
                "Invalid params: level must be one of {}",
                MCP_LEVELS.join(", ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::{self, Body};

    fn session(rate_limit: u32) -> Session {
        Session::new(rate_limit, TablePolicy::default())
    }

    fn handle(s: &mut Session, line: &str) -> Action {
        match jsonrpc::parse_line(line.as_bytes()) {
            Ok(msg) => s.handle(msg),
            Err(reply) => panic!("{line} does not parse: {reply:?}"),
        }
    }

    fn request(method: &str, params: Value) -> String {
        json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string()
    }

    /// A reply as (error code or 0 for a result, message or result JSON).
    fn reply(action: Action) -> (i64, String) {
        match action {
            Action::Reply(Outgoing::Response {
                body: Body::Error(e),
                ..
            }) => (e.code, e.message),
            Action::Reply(Outgoing::Response {
                body: Body::Result(r),
                ..
            }) => (0, r.get().to_string()),
            other => panic!("not a reply: {other:?}"),
        }
    }

    #[test]
    fn protocol_errors_keep_their_texts() {
        for (method, params, code, text) in [
            (
                "tools/call",
                json!({}),
                INVALID_PARAMS,
                "Invalid params: tools/call needs \"name\" (a string)",
            ),
            (
                "tools/call",
                json!({"name": 7}),
                INVALID_PARAMS,
                "Invalid params: tools/call needs \"name\" (a string)",
            ),
            (
                "resources/read",
                json!({}),
                INVALID_PARAMS,
                "Invalid params: resources/read needs \"uri\" (a string)",
            ),
            (
                "resources/read",
                json!({"uri": "osquery://x"}),
                INVALID_PARAMS,
                "Resource not found: osquery://x",
            ),
            (
                "prompts/get",
                json!({"name": "nope"}),
                INVALID_PARAMS,
                "Invalid params: Unknown prompt: nope; prompts are memory_hogs,",
            ),
            (
                "prompts/get",
                json!({}),
                INVALID_PARAMS,
                "Invalid params: prompts/get needs \"name\" (a string); prompts are ",
            ),
            (
                "logging/setLevel",
                json!({"level": "loud"}),
                INVALID_PARAMS,
                "Invalid params: level must be one of debug, info,",
            ),
            (
                "nosuch/method",
                json!({}),
                METHOD_NOT_FOUND,
                "Method not found: nosuch/method",
            ),
        ] {
            let (got_code, message) = reply(handle(&mut session(0), &request(method, params)));
            assert_eq!(got_code, code, "{method}: {message}");
            assert!(message.starts_with(text), "{method}: {message}");
        }
    }

    #[test]
    fn tool_calls_run_or_are_refused_with_an_outcome() {
        for (params, outcome, why) in [
            (
                json!({"name": "users", "arguments": 5}),
                Outcome::Rejected,
                "arguments must be an object",
            ),
            (
                json!({"name": "nope"}),
                Outcome::Rejected,
                "Unknown tool: nope",
            ),
            (
                json!({"name": "processes", "arguments": {"limit": 0}}),
                Outcome::Rejected,
                "limit must be an integer between 1 and 1000",
            ),
            (
                json!({"name": "custom_query", "arguments": {"sql": "DELETE FROM users"}}),
                Outcome::Rejected,
                "",
            ),
        ] {
            match handle(&mut session(0), &request("tools/call", params.clone())) {
                Action::Refuse(r) => {
                    assert_eq!(r.outcome, outcome, "{params}");
                    assert!(r.why.starts_with(why), "{params}: {}", r.why);
                    assert_eq!(r.tool, tools::find(&r.name).map(|t| t.name));
                }
                other => panic!("{params}: {other:?}"),
            }
        }
        let call = request(
            "tools/call",
            json!({"name": "processes", "arguments": {"limit": "3"}, "_meta": {"progressToken": "t"}}),
        );
        match handle(&mut session(0), &call) {
            Action::Run(job) => {
                assert_eq!(job.tool(), ToolName::Processes);
                assert_eq!(job.plan.limit, Some(3));
                assert!(job.progress(0.5, "x").is_some());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_rate_limit_refuses_the_call_after_the_last_allowed() {
        let mut s = session(2);
        let call = request("tools/call", json!({"name": "users"}));
        assert!(matches!(handle(&mut s, &call), Action::Run(_)));
        assert!(matches!(handle(&mut s, &call), Action::Run(_)));
        match handle(&mut s, &call) {
            Action::Refuse(r) => {
                assert_eq!(r.outcome, Outcome::RateLimited);
                assert!(r.why.starts_with("rate limit of 2 tool calls per minute"));
            }
            other => panic!("{other:?}"),
        }
        // Protocol requests never count against it.
        let (code, _) = reply(handle(&mut s, &request("ping", json!({}))));
        assert_eq!(code, 0);
    }

    #[test]
    fn a_cursor_asks_for_a_page_past_the_rate_limit_and_without_a_valid_run() {
        let mut s = session(1);
        let call = request("tools/call", json!({"name": "users"}));
        assert!(matches!(handle(&mut s, &call), Action::Run(_)));
        // No sql, and the limit is reached: a page needs neither.
        let page = request(
            "tools/call",
            json!({"name": "custom_query", "arguments": {"cursor": "c"}}),
        );
        match handle(&mut s, &page) {
            Action::Page(p) => {
                assert_eq!((p.tool, p.cursor.as_str()), (ToolName::CustomQuery, "c"))
            }
            other => panic!("{other:?}"),
        }
        let bad = request(
            "tools/call",
            json!({"name": "users", "arguments": {"cursor": 1}}),
        );
        match handle(&mut s, &bad) {
            Action::Refuse(r) => assert!(r.why.starts_with("cursor must be a string"), "{}", r.why),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn side_effects_are_left_to_the_reader() {
        let mut s = session(0);
        for (line, expected) in [
            (
                r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"a"}}"#,
                r#"Cancel(RequestId(String("a")))"#,
            ),
            (
                r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1.5}}"#,
                "Ignore",
            ),
            (
                r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                "ClientReady",
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"notice"}}"#,
                r#"SetLogLevel(RequestId(Number(1)), "notice")"#,
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"osquery://server/health"}}"#,
                "Read(RequestId(Number(1)), Legacy, Health)",
            ),
            (r#"{"jsonrpc":"2.0","id":1,"result":{}}"#, "Ignore"),
        ] {
            assert_eq!(format!("{:?}", handle(&mut s, line)), expected, "{line}");
        }
    }

    #[test]
    fn lists_and_ping_are_answered_at_once() {
        for method in [
            "ping",
            "initialize",
            "tools/list",
            "prompts/list",
            "resources/list",
            "resources/templates/list",
        ] {
            let (code, result) = reply(handle(&mut session(0), &request(method, json!({}))));
            assert_eq!(code, 0, "{method}: {result}");
        }
    }
}

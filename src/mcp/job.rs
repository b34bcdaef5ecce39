//! A tool call accepted for the pool, and the progress notes it may ask for.

use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::era::Era;
use crate::jsonrpc::{Outgoing, Params, RequestId};
use crate::osquery::Control;
use crate::tools::{Plan, ToolName};

/// A validated tool call, ready for a worker.
#[derive(Debug)]
pub struct Job {
    pub id: RequestId,
    pub plan: Plan,
    pub progress_token: Option<ProgressToken>,
    /// Which revision the request spoke, so its result has the right shape.
    pub era: Era,
    pub control: Arc<Control>,
}

impl Job {
    pub fn tool(&self) -> ToolName {
        self.plan.tool
    }

    /// A `notifications/progress` for this call, if it asked for them. Every
    /// note shares the one copy of the token.
    pub fn progress(&self, progress: f64, message: &str) -> Option<Outgoing> {
        let token = self.progress_token.as_ref()?;
        let mut rest = Map::new();
        rest.insert("progress".into(), progress.into());
        rest.insert("total".into(), 1.into());
        rest.insert("message".into(), message.into());
        Some(Outgoing::notification_with(
            "notifications/progress",
            Params::Sharing {
                first: ("progressToken", token.0.clone()),
                rest,
            },
        ))
    }

    /// About the bytes this call holds while it waits and runs: what the
    /// client sent that it keeps (id, token, SQL and the other arguments),
    /// twice for the id (it is also the in-flight key), and the structures
    /// around them.
    pub fn weight(&self) -> usize {
        const STRUCTURES: usize = 512;
        let id = crate::jsonrpc::json_len(&self.id);
        let token = self.progress_token.as_ref().map_or(0, |t| t.0.get().len());
        let plan = &self.plan;
        let args = plan.sql.len()
            + plan.pattern.as_ref().map_or(0, String::len)
            + plan.table.as_ref().map_or(0, String::len);
        STRUCTURES + 2 * id + token + args
    }
}

/// A request's `_meta.progressToken`: a string or an integer, echoed with
/// its JSON type (the same rule as a request id, length cap included). Held
/// as its JSON text, shared by every note that carries it.
#[derive(Debug, Clone)]
pub struct ProgressToken(Arc<RawValue>);

impl Serialize for ProgressToken {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ProgressToken {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        let id = RequestId::checked(&value).map_err(serde::de::Error::custom)?;
        let raw = serde_json::value::to_raw_value(&id).map_err(serde::de::Error::custom)?;
        Ok(ProgressToken(Arc::from(raw)))
    }
}

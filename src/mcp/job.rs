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
    /// the id and the arguments twice (the id is also the in-flight key, the
    /// plan also the coalescing key), and the structures around them.
    pub fn weight(&self) -> usize {
        const STRUCTURES: usize = 512;
        let id = crate::jsonrpc::json_len(&self.id);
        let token = self.progress_token.as_ref().map_or(0, |t| t.0.get().len());
        let plan = &self.plan;
        let args = plan.sql.len()
            + plan.pattern.as_ref().map_or(0, String::len)
            + plan.table.as_ref().map_or(0, String::len);
        STRUCTURES + 2 * (id + args) + token
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(id: Value, token: Option<Value>, sql: &str) -> Job {
        Job {
            id: RequestId::from_value(&id).expect("an id"),
            plan: Plan {
                tool: ToolName::CustomQuery,
                sql: sql.into(),
                limit: None,
                pattern: None,
                table: None,
            },
            progress_token: token.map(|t| serde_json::from_value(t).expect("a token")),
            era: Era::Legacy,
            control: Control::new(),
        }
    }

    #[test]
    fn tokens_are_strings_or_integers_within_the_cap() {
        for ok in [json!(7), json!("t"), json!("x".repeat(1022))] {
            assert!(
                serde_json::from_value::<ProgressToken>(ok.clone()).is_ok(),
                "{ok}"
            );
        }
        for bad in [json!(1.5), json!({}), json!(null), json!("x".repeat(1023))] {
            assert!(serde_json::from_value::<ProgressToken>(bad.clone()).is_err());
        }
    }

    #[test]
    fn every_note_shares_the_one_token() {
        let j = job(json!(1), Some(json!("tok")), "SELECT 1");
        let notes: Vec<Outgoing> = [0.0, 0.5, 1.0]
            .iter()
            .filter_map(|&p| j.progress(p, "m"))
            .collect();
        let token = j.progress_token.as_ref().map(|t| Arc::strong_count(&t.0));
        assert_eq!(token, Some(4));
        let first = serde_json::to_value(&notes[0]).unwrap_or_default();
        assert_eq!(first["params"]["progressToken"], "tok");
        assert_eq!(first["params"]["progress"], 0.0);
        assert!(job(json!(1), None, "SELECT 1").progress(0.0, "m").is_none());
    }

    #[test]
    fn the_weight_grows_with_what_the_client_sent() {
        let small = job(json!(1), None, "SELECT 1").weight();
        let sql = job(json!(1), None, &"x".repeat(1000)).weight();
        let id = job(json!("x".repeat(1000)), None, "SELECT 1").weight();
        let token = job(json!(1), Some(json!("x".repeat(1000))), "SELECT 1").weight();
        assert!(small < 1024, "{small}");
        assert!(
            sql >= small + 2 * 990 && id >= small + 2 * 990,
            "{sql} {id}"
        );
        assert!(token >= small + 1000, "{token}");
    }
}

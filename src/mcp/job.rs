//! A tool call accepted for the pool, and the progress notes it may ask for.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::era::Era;
use crate::jsonrpc::{Outgoing, RequestId};
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

    /// A `notifications/progress` for this call, if it asked for them.
    pub fn progress(&self, progress: f64, message: &str) -> Option<Outgoing> {
        let token = self.progress_token.as_ref()?;
        Some(Outgoing::notification(
            "notifications/progress",
            json!({ "progressToken": token, "progress": progress, "total": 1, "message": message }),
        ))
    }
}

/// A request's `_meta.progressToken`: a string or an integer, echoed with
/// its JSON type (the same rule as a request id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProgressToken(RequestId);

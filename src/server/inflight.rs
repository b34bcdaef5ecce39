//! Calls accepted and not yet answered, shared by the reader (which admits
//! and cancels them) and the workers (which finish them).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::coalesce::Coalescer;
use crate::jsonrpc::RequestId;
use crate::osquery::Control;

#[derive(Default)]
pub struct InFlight {
    /// By request id, so a cancellation can reach a queued or running call.
    calls: Mutex<HashMap<String, Arc<Control>>>,
    /// Identical calls in flight share one osqueryi run.
    pub coalescer: Coalescer,
}

impl InFlight {
    pub fn new() -> InFlight {
        InFlight::default()
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

    fn calls(&self) -> MutexGuard<'_, HashMap<String, Arc<Control>>> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(v: serde_json::Value) -> RequestId {
        RequestId::from_value(&v).expect("a valid id")
    }

    #[test]
    fn an_id_is_in_flight_once_and_cancels_its_own_call() {
        let calls = InFlight::new();
        let (a, b) = (Control::new(), Control::new());
        assert!(calls.register(&id(json!(7)), a.clone()));
        assert!(!calls.register(&id(json!(7)), b.clone()), "reused id");
        assert!(
            calls.register(&id(json!("7")), b.clone()),
            "7 and \"7\" differ"
        );
        calls.cancel(&id(json!(7)));
        assert!(a.is_cancelled() && !b.is_cancelled());
        calls.unregister(&id(json!("7")));
        calls.cancel(&id(json!("7")));
        assert!(!b.is_cancelled(), "a finished call is not cancelled");
    }
}

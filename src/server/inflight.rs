//! Calls accepted and not yet answered, shared by the reader (which admits
//! and cancels them) and the workers (which finish them).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::coalesce::Coalescer;
use super::lock;
use crate::jsonrpc::RequestId;
use crate::osquery::Control;

/// What the calls in flight (queued, running, or following a run) may hold
/// of their requests, in bytes (see `Job::weight`). Counts bound them too,
/// but the thousands of calls they allow (69 flights of up to 65 callers)
/// could each hold SQL of 10,000 characters and an id and a token of 1 KiB;
/// at about 700 bytes an ordinary call never comes near this.
pub const CALL_BYTES: usize = 8 * 1024 * 1024;

#[derive(Default)]
pub struct InFlight {
    calls: Mutex<Calls>,
    /// Identical calls in flight share one run.
    pub coalescer: Coalescer,
}

#[derive(Default)]
struct Calls {
    /// By request id, so a cancellation can reach a queued or running call;
    /// with the bytes the call was admitted with.
    by_id: HashMap<String, (Arc<Control>, usize)>,
    bytes: usize,
}

/// Why a call was not recorded.
#[derive(Debug, PartialEq)]
pub enum Refused {
    /// Its id is in flight already: a cancellation could not tell them apart.
    Reused,
    /// The calls in flight hold [`CALL_BYTES`] already.
    Full,
}

impl InFlight {
    pub fn new() -> InFlight {
        InFlight::default()
    }

    /// Records a call of about `bytes` (see `Job::weight`); nothing is
    /// recorded when it is refused.
    pub fn register(
        &self,
        id: &RequestId,
        control: Arc<Control>,
        bytes: usize,
    ) -> Result<(), Refused> {
        let mut calls = lock(&self.calls);
        let key = id.key();
        if calls.by_id.contains_key(&key) {
            return Err(Refused::Reused);
        }
        if calls.bytes.saturating_add(bytes) > CALL_BYTES {
            return Err(Refused::Full);
        }
        calls.bytes += bytes;
        calls.by_id.insert(key, (control, bytes));
        Ok(())
    }

    pub fn unregister(&self, id: &RequestId) {
        let mut calls = lock(&self.calls);
        if let Some((_, bytes)) = calls.by_id.remove(&id.key()) {
            calls.bytes -= bytes;
        }
    }

    /// Cancels a queued or running call; unknown or finished ids are ignored.
    /// A coalesced run stops only once all of its callers have cancelled.
    pub fn cancel(&self, id: &RequestId) {
        let control = lock(&self.calls).by_id.get(&id.key()).map(|c| c.0.clone());
        match control {
            Some(c) => {
                log::info!("cancelling request {id}");
                c.cancel();
                self.coalescer.cancelled();
            }
            None => log::debug!("cancellation for unknown or finished request {id} ignored"),
        }
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
        assert_eq!(calls.register(&id(json!(7)), a.clone(), 1), Ok(()));
        assert_eq!(
            calls.register(&id(json!(7)), b.clone(), 1),
            Err(Refused::Reused)
        );
        assert_eq!(
            calls.register(&id(json!("7")), b.clone(), 1),
            Ok(()),
            "7 and \"7\" differ"
        );
        calls.cancel(&id(json!(7)));
        assert!(a.is_cancelled() && !b.is_cancelled());
        calls.unregister(&id(json!("7")));
        calls.cancel(&id(json!("7")));
        assert!(!b.is_cancelled(), "a finished call is not cancelled");
    }

    #[test]
    fn calls_in_flight_are_bounded_in_bytes_until_answered() {
        let calls = InFlight::new();
        let half = CALL_BYTES / 2;
        assert_eq!(calls.register(&id(json!(1)), Control::new(), half), Ok(()));
        assert_eq!(calls.register(&id(json!(2)), Control::new(), half), Ok(()));
        assert_eq!(
            calls.register(&id(json!(3)), Control::new(), 1),
            Err(Refused::Full)
        );
        calls.unregister(&id(json!(1)));
        calls.unregister(&id(json!(1)));
        assert_eq!(calls.register(&id(json!(3)), Control::new(), half), Ok(()));
        assert_eq!(
            calls.register(&id(json!(4)), Control::new(), 1),
            Err(Refused::Full)
        );
    }
}

//! Coalescing of identical tool calls: a call whose tool and SQL match a call
//! that is already queued or running does not run its query a second time; it
//! attaches to the first one (its *flight*) and receives the same result under
//! its own id.
//!
//! Followers never take a queue slot or a worker: the reader attaches them,
//! and the worker that runs the flight's leader answers them all. Each caller
//! keeps its own [`Control`], so cancelling one caller only silences that
//! caller; the shared run is stopped only when every caller of the
//! flight has cancelled.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::lock;
use crate::config::QUEUE_CAPACITY;
use crate::mcp::Job;
use crate::osquery::Control;

/// Followers one flight takes; past it an identical call is answered "busy"
/// like any call that finds no room, so a flood cannot grow memory unbounded.
pub const MAX_FOLLOWERS: usize = QUEUE_CAPACITY;

/// Calls that share one run.
struct Flight {
    key: String,
    /// The leader's own control: its cancellation alone stops nothing.
    leader: Arc<Control>,
    /// The control the shared run obeys.
    shared: Arc<Control>,
    followers: Vec<Job>,
}

impl Flight {
    fn everyone_cancelled(&self) -> bool {
        self.leader.is_cancelled() && self.followers.iter().all(|f| f.control.is_cancelled())
    }
}

#[derive(Default)]
struct Flights {
    /// Flights a new identical call may join, by [`key`].
    open: HashMap<String, usize>,
    /// Every flight whose leader has not finished, by flight number.
    all: HashMap<usize, Flight>,
    /// Leader (the address of its control, unique while it lives) → flight.
    leaders: HashMap<usize, usize>,
    next: usize,
}

#[derive(Default)]
pub struct Coalescer {
    flights: Mutex<Flights>,
    coalesced: AtomicU64,
}

/// What the reader does with a tool call.
pub enum Admission {
    /// No identical call is in flight: queue this one; it leads a new flight.
    /// If it cannot be queued, call [`Coalescer::abandon`].
    Lead(Box<Job>),
    /// Attached to a running or queued identical call; nothing else to do.
    Followed,
    /// The identical flight has no room for another follower.
    Full(Box<Job>),
}

/// Calls coalesce when their plans are equal (the plan is built from
/// normalised arguments, so `limit: 5` and `limit: "5"` match) and they want
/// their result in the same shape (the protocol era).
pub fn key(job: &Job) -> String {
    format!("{:?}\n{:?}", job.plan, job.era)
}

impl Coalescer {
    pub fn new() -> Coalescer {
        Coalescer::default()
    }

    /// Calls answered from another call's run since start-up.
    pub fn coalesced_calls(&self) -> u64 {
        self.coalesced.load(Ordering::Relaxed)
    }

    pub fn admit(&self, job: Box<Job>) -> Admission {
        let key = key(&job);
        let mut f = lock(&self.flights);
        if let Some(&n) = f.open.get(&key)
            && let Some(flight) = f.all.get_mut(&n)
        {
            if flight.followers.len() >= MAX_FOLLOWERS {
                return Admission::Full(job);
            }
            log::debug!("request {} joins an identical {} call", job.id, job.tool());
            flight.followers.push(*job);
            self.coalesced.fetch_add(1, Ordering::Relaxed);
            return Admission::Followed;
        }
        let n = f.next;
        f.next = f.next.wrapping_add(1);
        f.open.insert(key.clone(), n);
        f.leaders.insert(leader_key(&job), n);
        f.all.insert(
            n,
            Flight {
                key,
                leader: job.control.clone(),
                shared: Control::new(),
                followers: Vec::new(),
            },
        );
        Admission::Lead(job)
    }

    /// Forgets the flight of a leader that could not be queued (it has no
    /// followers yet: the reader attaches them only after this returns).
    pub fn abandon(&self, leader: &Job) {
        let mut f = lock(&self.flights);
        if let Some(n) = f.leaders.remove(&leader_key(leader))
            && let Some(flight) = f.all.remove(&n)
        {
            close(&mut f, n, &flight.key);
        }
    }

    /// The control the leader's run must obey: cancelled only when
    /// every caller of the flight is.
    pub fn control_for(&self, leader: &Job) -> Arc<Control> {
        let f = lock(&self.flights);
        f.leaders
            .get(&leader_key(leader))
            .and_then(|n| f.all.get(n))
            .map_or_else(|| leader.control.clone(), |flight| flight.shared.clone())
    }

    /// Ends the leader's flight and hands back its followers to answer.
    pub fn finish(&self, leader: &Job) -> Vec<Job> {
        let mut f = lock(&self.flights);
        let Some(n) = f.leaders.remove(&leader_key(leader)) else {
            return Vec::new();
        };
        match f.all.remove(&n) {
            Some(flight) => {
                close(&mut f, n, &flight.key);
                flight.followers
            }
            None => Vec::new(),
        }
    }

    /// Called after any caller was cancelled: a flight whose callers have all
    /// cancelled stops its run and takes no new followers.
    pub fn cancelled(&self) {
        let mut f = lock(&self.flights);
        let dead: Vec<(usize, String)> = f
            .all
            .iter()
            .filter(|(_, flight)| flight.everyone_cancelled())
            .map(|(n, flight)| {
                flight.shared.cancel();
                (*n, flight.key.clone())
            })
            .collect();
        for (n, key) in dead {
            close(&mut f, n, &key);
        }
    }
}

/// Request ids may repeat; a leader's control is one allocation per call.
fn leader_key(job: &Job) -> usize {
    Arc::as_ptr(&job.control) as usize
}

/// Stops new calls from joining flight `n`.
fn close(f: &mut Flights, n: usize, key: &str) {
    if f.open.get(key) == Some(&n) {
        f.open.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::RequestId;
    use crate::mcp::Era;
    use crate::tools::{Plan, ToolName};

    fn job(id: i64, sql: &str) -> Box<Job> {
        Box::new(Job {
            id: RequestId::from_value(&serde_json::json!(id)).expect("integer id"),
            plan: Plan {
                tool: ToolName::CustomQuery,
                sql: sql.to_string(),
                limit: None,
                pattern: None,
                table: None,
            },
            era: Era::Legacy,
            progress_token: None,
            control: Control::new(),
        })
    }

    fn lead(c: &Coalescer, j: Box<Job>) -> Box<Job> {
        match c.admit(j) {
            Admission::Lead(j) => j,
            _ => panic!("expected to lead"),
        }
    }

    #[test]
    fn identical_calls_follow_and_different_ones_lead() {
        let c = Coalescer::new();
        let a = lead(&c, job(1, "SELECT 1"));
        assert!(matches!(c.admit(job(2, "SELECT 1")), Admission::Followed));
        let b = lead(&c, job(3, "SELECT 2"));
        assert_eq!(c.coalesced_calls(), 1);
        let followers = c.finish(&a);
        assert_eq!(followers.len(), 1);
        assert!(c.finish(&b).is_empty());
        // The flight is over: the next identical call runs again.
        lead(&c, job(4, "SELECT 1"));
    }

    #[test]
    fn the_run_stops_only_when_every_caller_cancelled() {
        let c = Coalescer::new();
        let a = lead(&c, job(1, "SELECT 1"));
        let shared = c.control_for(&a);
        assert!(!Arc::ptr_eq(&shared, &a.control));
        let b = job(2, "SELECT 1");
        let b_control = b.control.clone();
        assert!(matches!(c.admit(b), Admission::Followed));
        a.control.cancel();
        c.cancelled();
        assert!(!shared.is_cancelled(), "a follower still waits");
        b_control.cancel();
        c.cancelled();
        assert!(shared.is_cancelled());
        // A cancelled flight takes no new followers.
        lead(&c, job(3, "SELECT 1"));
        assert_eq!(c.finish(&a).len(), 1);
    }

    #[test]
    fn an_unqueued_leader_leaves_no_flight() {
        let c = Coalescer::new();
        let a = lead(&c, job(1, "SELECT 1"));
        c.abandon(&a);
        lead(&c, job(2, "SELECT 1"));
    }

    #[test]
    fn a_full_flight_refuses_more_followers() {
        let c = Coalescer::new();
        let _a = lead(&c, job(0, "SELECT 1"));
        for i in 1..=MAX_FOLLOWERS as i64 {
            assert!(matches!(c.admit(job(i, "SELECT 1")), Admission::Followed));
        }
        assert!(matches!(c.admit(job(999, "SELECT 1")), Admission::Full(_)));
    }
}

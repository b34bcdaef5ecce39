//! Operating the server: the counters it keeps (`metrics`) and the check of
//! whether the backend works (`health`). Read by the server's resources, the
//! shutdown log line and `--health`; nothing here decides a protocol answer.

pub mod health;
pub mod metrics;

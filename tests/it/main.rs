//! Conversations with the built server, one module a topic, all in one test
//! binary so they share one build and one helper module (`util`).

mod allow_list;
mod answers;
mod coalesce;
mod concurrency;
mod daemon;
mod daemon_host;
mod error_texts;
mod failures;
mod fake_daemon;
mod filters;
mod guard;
mod hints;
mod limits;
mod modern;
mod operability;
mod operators;
mod paging;
mod protocol;
mod reliability;
mod schemas;
mod thrift_wire;
mod tools;
mod util;

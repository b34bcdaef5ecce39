//! mcp-osquery-server: a read-only MCP server that answers questions about a
//! host through osquery.
//!
//! The pipeline, in the order a message travels:
//! [`reader`] (stdin, protocol methods in [`mcp`]) → bounded queue →
//! [`pool`] (five workers running [`osquery`]) → [`writer`] (stdout).
//! Identical calls in flight share one run ([`coalesce`]).
//! [`server`] wires them together; [`cli`] is the command line.
//!
//! Operating it: [`logging`] (JSON lines on stderr, forwarded to the client),
//! [`metrics`] and [`health`], exposed as MCP resources by [`resources`].

pub mod catalog;
pub mod cli;
pub mod coalesce;
pub mod config;
pub mod containment;
pub mod guard;
pub mod health;
pub mod jsonrpc;
pub mod logging;
pub mod mcp;
pub mod memory;
pub mod metrics;
pub mod modern;
pub mod osquery;
pub mod pool;
pub mod prompts;
pub mod ratelimit;
pub mod reader;
pub mod redact;
pub mod resources;
pub mod results;
pub mod server;
pub mod signals;
pub mod sql_lexer;
pub mod table_specs;
pub mod thrift;
pub mod tools;
pub mod writer;

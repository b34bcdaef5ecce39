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

pub mod cli;
pub mod config;
pub mod guard;
pub mod jsonrpc;
pub mod logging;
pub mod mcp;
pub mod memory;
pub mod ops;
pub mod osquery;
pub mod redact;
pub mod server;
pub mod tools;

// Old flat paths, kept only while the files move.
pub use guard::lexer as sql_lexer;
pub use mcp::{era as modern, prompts, ratelimit, resources, results};
pub use ops::{health, metrics};
pub use osquery::{containment, signals};
pub use server::{coalesce, pool, reader, writer};

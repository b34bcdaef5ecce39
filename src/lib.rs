//! mcp-osquery-server: a read-only MCP server that answers questions about a
//! host through osquery.
//!
//! The pipeline, in the order a message travels: [`server::reader`] (stdin;
//! what a line means is decided by [`mcp`]) → bounded queue →
//! [`server::pool`] (five workers, each answering with a [`tools::Engine`]
//! that runs [`osquery`]) → [`server::writer`] (stdout). [`server`] is the
//! only code that spawns threads or owns channels; [`cli`] is the command
//! line. `ARCHITECTURE.md` has the map and the layer order: each module
//! imports only from the layers below it (a test in `layering` keeps it so).
//!
//! Operating it: [`logging`] (JSON lines on stderr, forwarded to the client),
//! [`ops`] (metrics and the health check), exposed as MCP resources.

pub mod cli;
pub mod config;
pub mod guard;
pub mod jsonrpc;
#[cfg(test)]
mod layering;
pub mod logging;
pub mod mcp;
pub mod memory;
pub mod ops;
pub mod osquery;
pub mod redact;
pub mod server;
pub mod table_specs;
pub mod tools;

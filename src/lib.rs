//! mcp-osquery-server: a read-only MCP server over osquery.
pub mod guard;
pub mod redact;
pub mod sql_lexer;

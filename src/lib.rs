//! mcp-osquery-server: a read-only MCP server over osquery.

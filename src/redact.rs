//! Masks secrets in osquery result values before they leave the server.

//! The binary: everything it does is in [`mcp_osquery_server::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    mcp_osquery_server::cli::run(&args)
}

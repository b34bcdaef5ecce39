//! The binary: everything it does is in [`mcp_osquery_server::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    // Arguments that are not UTF-8 are shown lossily and rejected as usage
    // errors rather than panicking.
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let code = mcp_osquery_server::cli::run(&args);
    mcp_osquery_server::logging::flush(std::time::Duration::from_millis(500));
    code
}

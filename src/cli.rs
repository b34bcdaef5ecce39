//! The command line. No arguments: serve MCP on stdio. Otherwise one of
//! `--version`, `--help`, `--health`, or `call TOOL [ARGS] [--table] [--all]`, a
//! one-shot tool call for people that goes through the same validation
//! ([`tools::plan`]), guard and engine ([`tools::Engine`]) as an MCP call.
//! Setting flags (`--timeout 60`, `--osquery-path=…`) may stand anywhere
//! among the arguments, in every mode.
//!
//! Exit codes: 0 success / healthy, 1 tool error / degraded / server failure,
//! 2 usage or configuration error.

use std::process::ExitCode;
use std::time::Instant;

use serde_json::{Map, Value};

use crate::config::{Config, Flags, SERVER, SETTINGS};
use crate::guard::DENIED_TABLES;
use crate::mcp::pages;
use crate::ops::health;
use crate::osquery::{Control, PrivateHome, RowRef, Rows};
use crate::tools::{Engine, Outcome};
use crate::{logging, server, tools};

mod settings;

const NAME: &str = SERVER.name;
/// Cells wider than this are cut in `--table` output.
const MAX_CELL: usize = 60;

pub fn run(args: &[String]) -> ExitCode {
    let (flags, args) = match Flags::take(args) {
        Ok(taken) => taken,
        Err(e) => return config_error(&e.to_string()),
    };
    match args.first().map(String::as_str) {
        None => serve(&flags),
        Some("--version" | "-V") if args.len() == 1 => {
            out(&format!("{NAME} {}\n", SERVER.version));
            ExitCode::SUCCESS
        }
        Some("--help" | "-h") if args.len() == 1 => {
            out(&help());
            ExitCode::SUCCESS
        }
        Some("--health") if args.len() == 1 => health(&flags),
        Some("call") => call(&args[1..], &flags),
        Some(other) => usage(&format!("unknown argument {other:?}")),
    }
}

pub fn help() -> String {
    let mut h = format!(
        "{NAME} {} - a read-only MCP server that answers questions about this host through osquery.\n\n",
        SERVER.version
    );
    let lines = [
        "USAGE:".to_string(),
        format!(
            "    {NAME} [SETTINGS]           serve MCP (JSON-RPC, one message per line) on stdin/stdout"
        ),
        format!("    {NAME} [SETTINGS] call TOOL ['{{\"json\":\"args\"}}'] [--table] [--all]"),
        "        run one tool with the same validation, guard and limits as an MCP call;".into(),
        "        print its rows as JSON on stdout (or an aligned table with --table);".into(),
        "        a result over MAX_TEXT_BYTES prints its first page, or every row with --all"
            .into(),
        format!("    {NAME} [SETTINGS] --health  print the health report as JSON"),
        format!("    {NAME} --version            print the version"),
        format!("    {NAME} --help               print this help"),
        String::new(),
        "TOOLS:".into(),
    ];
    for l in lines {
        h.push_str(&l);
        h.push('\n');
    }
    let width = tools::TOOLS.iter().map(|t| t.id.len()).max().unwrap_or(0);
    for t in tools::TOOLS {
        h.push_str(&format!("    {:width$}  {}\n", t.id, t.title));
    }
    h.push_str(concat!(
        "\nSETTINGS: a flag (--flag VALUE or --flag=VALUE, anywhere on the command line)\n",
        "or its environment variable; a flag wins. Default in brackets.\n",
    ));
    let flags: Vec<String> = SETTINGS.iter().map(|s| s.flag()).collect();
    let fw = flags.iter().map(String::len).max().unwrap_or(0);
    let vw = SETTINGS.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for (s, flag) in SETTINGS.iter().zip(&flags) {
        h.push_str(&format!(
            "    {flag:fw$}  {:vw$}  [{}] {}\n",
            s.name, s.default, s.help
        ));
    }
    h.push_str(
        "\nDENIED TABLES: custom_query never reads these (--deny-tables adds more;\n-name re-opens one, with a warning at start):\n",
    );
    let names: Vec<String> = DENIED_TABLES
        .iter()
        .map(|t| t.names().collect::<Vec<_>>().join(", "))
        .collect();
    let nw = names.iter().map(String::len).max().unwrap_or(0);
    for (t, names) in DENIED_TABLES.iter().zip(&names) {
        h.push_str(&format!("    {names:nw$}  {}\n", t.reason));
    }
    h.push_str(concat!(
        "\nEXIT STATUS:\n",
        "    0  success; --health: healthy\n",
        "    1  call: the tool failed (the error is on stderr); --health: degraded;\n",
        "       serving: the server failed\n",
        "    2  usage error (unknown option or tool, call arguments that are not a\n",
        "       JSON object) or an invalid setting (flag or environment variable)\n",
        "\nEXAMPLES:\n",
    ));
    h.push_str(&format!("    {NAME} call processes '{{\"limit\":3}}'\n"));
    h.push_str(&format!(
        "    {NAME} call custom_query '{{\"sql\":\"SELECT name, pid FROM processes LIMIT 5\"}}' --table\n"
    ));
    h.push_str(&format!(
        "    {NAME} --osquery-path /opt/osquery/bin/osqueryd --timeout 60 --health\n"
    ));
    h
}

fn usage(why: &str) -> ExitCode {
    eprintln!("{NAME}: {why}; see --help");
    ExitCode::from(2)
}

fn config_error(why: &str) -> ExitCode {
    eprintln!("{NAME}: {why}");
    ExitCode::from(2)
}

fn load_config(flags: &Flags) -> Result<Config, ExitCode> {
    settings::load(flags).map_err(|why| config_error(&why))
}

/// Logs what start-up has to say about the configuration (logging is up).
fn warn_about(config: &Config, flags: &Flags) {
    for w in settings::table_warnings(config, flags) {
        log::warn!("{w}");
    }
}

fn serve(flags: &Flags) -> ExitCode {
    let config = match load_config(flags) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if stdin_is_a_terminal() {
        // A person, not a client: say what the silence means.
        eprintln!(
            "{NAME}: waiting for MCP JSON-RPC messages from a client on stdin, one per line (Ctrl-D stops); by hand, use `{NAME} call TOOL` or `{NAME} --health`, see `{NAME} --help`"
        );
    }
    logging::init(config.log_level);
    warn_about(&config, flags);
    match server::serve(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("server stopped: {e}");
            ExitCode::FAILURE
        }
    }
}

fn stdin_is_a_terminal() -> bool {
    unsafe extern "C" {
        fn isatty(fd: std::ffi::c_int) -> std::ffi::c_int;
    }
    // SAFETY: isatty only inspects descriptor 0, which may be closed (then it
    // returns 0); it touches no memory of ours.
    unsafe { isatty(0) == 1 }
}

/// One-shot modes print their result on stdout; stderr stays quiet unless
/// something is worth a warning, or the log level was asked for.
fn init_quiet_logging(config: &Config, flags: &Flags) {
    let asked = flags.get("LOG_LEVEL").is_some()
        || std::env::var("LOG_LEVEL").is_ok_and(|v| !v.trim().is_empty());
    logging::init(if asked {
        config.log_level
    } else {
        log::LevelFilter::Warn
    });
    warn_about(config, flags);
}

/// What a one-shot mode needs to run osqueryi: the engine a worker would
/// use (its HOME lives as long as the returned guard).
fn one_shot(flags: &Flags) -> Result<(Config, Engine, PrivateHome), ExitCode> {
    let config = load_config(flags)?;
    init_quiet_logging(&config, flags);
    let home = PrivateHome::create().map_err(|e| {
        eprintln!("{NAME}: could not create a private HOME for osqueryi: {e}");
        ExitCode::FAILURE
    })?;
    let engine = Engine::new(&config, home.path.clone());
    Ok((config, engine, home))
}

/// Writes a one-shot mode's answer. A reader that went away (`--health | head`)
/// is not an error worth a panic: what it wanted, it read.
fn out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

fn health(flags: &Flags) -> ExitCode {
    let (config, engine, _home) = match one_shot(flags) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let report = health::check(&config, &engine, Instant::now());
    out(&format!("{}\n", pretty(&report.body)));
    if report.healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn call(args: &[String], flags: &Flags) -> ExitCode {
    let table = args.iter().any(|a| a == "--table");
    let all = args.iter().any(|a| a == "--all");
    let positional: Vec<&String> = args
        .iter()
        .filter(|a| *a != "--table" && *a != "--all")
        .collect();
    if let Some(flag) = positional.iter().find(|a| a.starts_with("--")) {
        return usage(&format!("unknown option {flag:?} for call"));
    }
    let (name, raw_args) = match positional.as_slice() {
        [name] => (name.as_str(), None),
        [name, a] => (name.as_str(), Some(a.as_str())),
        [] => return usage("call needs a tool name"),
        _ => return usage("call takes a tool name and at most one JSON argument object"),
    };
    let mut arguments: Map<String, Value> = match raw_args.map(serde_json::from_str::<Value>) {
        None => Map::new(),
        Some(Ok(Value::Object(m))) => m,
        Some(Ok(_)) => return usage("the arguments must be a JSON object, e.g. '{\"limit\":3}'"),
        Some(Err(e)) => return usage(&format!("the arguments are not valid JSON: {e}")),
    };
    let (config, engine, _home) = match one_shot(flags) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some(tool) = tools::find(name) else {
        return usage(&format!(
            "unknown tool {name:?} (tools: {})",
            tools::names()
        ));
    };
    match tools::take_cursor(&mut arguments) {
        Ok(None) => {}
        Ok(Some(_)) => {
            eprintln!(
                "Error: a cursor names a page held by the server that answered; the command line holds none: add --all to print every row"
            );
            return ExitCode::FAILURE;
        }
        Err(why) => {
            eprintln!("Error: {why}");
            return ExitCode::FAILURE;
        }
    }
    let plan = match tools::plan(tool, &arguments, &engine.policy) {
        Ok(p) => p,
        Err(why) => {
            eprintln!("Error: {why}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let fetched = engine.fetch(&plan, &Control::default());
    // The same first page an MCP client would get; --all prints what the
    // pages together hold, every row.
    let end = match &fetched {
        Ok(f) if !all => pages::first_page(f, config.max_text_bytes),
        _ => None,
    };
    let (printed, outcome) = match &fetched {
        Ok(f) => {
            let rows = f.rows.slice(0..end.unwrap_or(f.rows.len()));
            let printed = if table {
                render_table(rows)
            } else {
                format!("{}\n", pretty(&rows))
            };
            (printed, Outcome::Ok)
        }
        Err(failure) => (String::new(), failure.outcome),
    };
    log::info!(
        tool = tool.id, duration_ms = started.elapsed().as_millis() as u64,
        response_size = printed.len() as u64, outcome = outcome.as_str();
        "tool call finished"
    );
    match fetched {
        Ok(f) => {
            out(&printed);
            // Notes (e.g. "more rows exist") follow the rows; stdout stays pure data.
            if let Some(note) = f.note {
                eprintln!("{note}");
            }
            if let Some(end) = end {
                eprintln!(
                    "showing rows 1-{end} of {}: the rows are more than MAX_TEXT_BYTES ({} bytes) of text; add --all to print every row",
                    f.rows.len(),
                    config.max_text_bytes
                );
            }
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("Error: {}", failure.message);
            ExitCode::FAILURE
        }
    }
}

fn pretty(v: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// Rows as an aligned text table: one column per field, in the order fields
/// first appear; long cells are cut with `…`.
pub fn render_table(rows: Rows) -> String {
    let mut columns: Vec<&str> = Vec::new();
    for row in rows.iter() {
        for (key, _) in row.cells() {
            if !columns.contains(&key) {
                columns.push(key);
            }
        }
    }
    if columns.is_empty() {
        return "(no rows)\n".to_string();
    }
    let cell = |row: RowRef, col: &str| -> String {
        let text = row.get(col).unwrap_or_default();
        let text = text.replace(['\n', '\r', '\t'], " ");
        if text.chars().count() > MAX_CELL {
            let cut: String = text.chars().take(MAX_CELL - 1).collect();
            format!("{cut}…")
        } else {
            text
        }
    };
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| columns.iter().map(|c| cell(r, c)).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([c.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |values: Vec<&str>| -> String {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(v, &w)| format!("{v}{}", " ".repeat(w.saturating_sub(v.chars().count()))))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(columns.clone());
    out.push_str(&line(
        widths
            .iter()
            .map(|&w| "-".repeat(w))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    ));
    for row in &cells {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osquery::TableBuilder;

    #[test]
    fn tables_align_columns_in_first_seen_order() {
        let mut rows = TableBuilder::new();
        rows.push_row([("pid", "1"), ("name", "systemd")]);
        rows.push_row([("pid", "1234"), ("name", "nginx"), ("extra", "x\ny")]);
        let rows = rows.finish().expect("small");
        assert_eq!(
            render_table(rows.slice(0..2)),
            "name     pid   extra\n-------  ----  -----\nsystemd  1\nnginx    1234  x y\n"
        );
        assert_eq!(render_table(rows.slice(0..0)), "(no rows)\n");
    }

    #[test]
    fn help_lists_every_tool_setting_and_denied_table() {
        let h = help();
        for t in tools::TOOLS {
            assert!(h.contains(t.id), "{}", t.id);
        }
        for s in SETTINGS {
            let line = h
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("{} ", s.flag())))
                .unwrap_or_else(|| panic!("no line for {}", s.flag()));
            assert!(line.contains(s.name) && line.contains(s.help), "{line}");
        }
        for t in DENIED_TABLES {
            let line = h
                .lines()
                .find(|l| {
                    l.trim_start()
                        .starts_with(&format!("{} ", t.names().collect::<Vec<_>>().join(", ")))
                })
                .unwrap_or_else(|| panic!("no line for {}", t.name));
            assert!(line.ends_with(t.reason), "{line}");
        }
        assert!(h.contains("EXIT STATUS"));
    }
}

//! `make demo`: a scripted MCP session through the real server against the
//! fixture stand-in, printed for a person to follow. No osquery needed.
//!
//! Usage: demo SERVER_BINARY OSQUERYI

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(server), Some(osqueryi)) = (args.first(), args.get(1)) else {
        eprintln!("usage: demo SERVER_BINARY OSQUERYI");
        std::process::exit(2);
    };
    let mut child = Command::new(server)
        .env("OSQUERY_PATH", osqueryi)
        .env("LOG_LEVEL", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| fail(&format!("cannot start {server}: {e}")));
    let mut stdin = child.stdin.take().unwrap_or_else(|| fail("no stdin"));
    let mut stdout = BufReader::new(child.stdout.take().unwrap_or_else(|| fail("no stdout")));
    let mut id = 0;
    let mut ask = |method: &str, params: Value| -> Value {
        id += 1;
        let line =
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
        writeln!(stdin, "{line}").unwrap_or_else(|e| fail(&format!("write: {e}")));
        let mut reply = String::new();
        stdout
            .read_line(&mut reply)
            .unwrap_or_else(|e| fail(&format!("read: {e}")));
        serde_json::from_str(&reply).unwrap_or_else(|e| fail(&format!("bad reply ({e}): {reply}")))
    };

    heading("initialize");
    let init = ask(
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "demo", "version": "1"}}),
    );
    let r = &init["result"];
    println!(
        "  server {} {} speaks MCP {}",
        r["serverInfo"]["name"], r["serverInfo"]["version"], r["protocolVersion"]
    );

    heading("tools/list");
    let list = ask("tools/list", json!({}));
    for t in list["result"]["tools"].as_array().into_iter().flatten() {
        println!(
            "  {:<20} {}",
            t["name"].as_str().unwrap_or(""),
            t["title"].as_str().unwrap_or("")
        );
    }

    let calls = [
        ("system_info", json!({})),
        ("processes", json!({"limit": 3})),
        ("users", json!({})),
        ("network_interfaces", json!({})),
        ("network_connections", json!({"limit": 5})),
        ("open_files", json!({"pid": 1})),
        ("disk_usage", json!({})),
        ("installed_packages", json!({})),
        ("running_services", json!({})),
        ("list_tables", json!({"pattern": "process"})),
        ("describe_table", json!({"table": "uptime"})),
        ("custom_query", json!({"sql": "SELECT * FROM uptime"})),
        ("processes", json!({"limit": 0})),
        ("custom_query", json!({"sql": "DELETE FROM processes"})),
    ];
    for (tool, args) in calls {
        heading(&format!("tools/call {tool} {args}"));
        let reply = ask("tools/call", json!({"name": tool, "arguments": args}));
        show_result(&reply["result"]);
    }
    heading("prompts/list");
    let prompts = ask("prompts/list", json!({}));
    for p in prompts["result"]["prompts"]
        .as_array()
        .into_iter()
        .flatten()
    {
        println!(
            "  {:<22} {}",
            p["name"].as_str().unwrap_or(""),
            p["title"].as_str().unwrap_or("")
        );
    }

    heading("resources/read osquery://server/metrics");
    let read = ask("resources/read", json!({"uri": "osquery://server/metrics"}));
    let text = read["result"]["contents"][0]["text"]
        .as_str()
        .unwrap_or("{}");
    let metrics: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    println!(
        "  {} requests, {} tool calls, {} errors, peak RSS {} bytes",
        metrics["requests"],
        metrics["tool_calls"]["total"],
        metrics["errors"],
        metrics["memory"]["peak_rss_bytes"]
    );

    drop(stdin);
    let status = child.wait().unwrap_or_else(|e| fail(&format!("wait: {e}")));
    heading(&format!("stdin closed; server exited with {status}"));
}

fn show_result(result: &Value) {
    let texts: Vec<&str> = result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .collect();
    if result["isError"] == true {
        println!("  isError: {}", texts.first().unwrap_or(&""));
        return;
    }
    let rows = result["structuredContent"]["rows"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    println!(
        "  {} row{} in {} ms",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        result["structuredContent"]["elapsed_ms"]
    );
    for row in rows.iter().take(3) {
        let line = row.to_string();
        let short: String = line.chars().take(150).collect();
        println!(
            "    {short}{}",
            if line.len() > short.len() { " …" } else { "" }
        );
    }
    if rows.len() > 3 {
        println!("    … {} more", rows.len() - 3);
    }
    for note in texts.iter().skip(1) {
        println!("  note: {note}");
    }
}

fn heading(text: &str) {
    println!("\n▶ {text}");
}

fn fail(msg: &str) -> ! {
    eprintln!("demo: {msg}");
    std::process::exit(1);
}

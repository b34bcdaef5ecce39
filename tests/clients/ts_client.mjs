#!/usr/bin/env node
// Real-client check for mcp-osquery-server with the official TypeScript SDK 1.x
// (@modelcontextprotocol/sdk, pinned in package.json): Client + StdioClientTransport.
//
//   cd tests/clients && npm ci
//   OSQUERY_PATH=<repo>/fixtures/osqueryi node ts_client.mjs [--full-env] -- <server command> [args...]
//
// As a real desktop client does, the server gets only the SDK's default environment
// (HOME, LOGNAME, PATH, SHELL, TERM, USER) plus OSQUERY_PATH and RUST_LOG when set;
// --full-env passes the whole environment instead.
// After listTools() the SDK validates every structuredContent against the tool's
// outputSchema (Ajv) and throws on a mismatch, so a PASS here means the schemas hold.
// Exit status: 0 when every check passed, 1 otherwise.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport, getDefaultEnvironment } from "@modelcontextprotocol/sdk/client/stdio.js";

const EXPECTED_TOOLS = [
  "system_info", "processes", "users", "network_interfaces", "network_connections",
  "open_files", "disk_usage", "installed_packages", "running_services", "custom_query",
];

const CALLS = [
  ["system_info", "system_info", {}, false],
  ["processes limit=3", "processes", { limit: 3 }, false],
  ["users", "users", {}, false],
  ["network_interfaces", "network_interfaces", {}, false],
  ["network_connections limit=5", "network_connections", { limit: 5 }, false],
  ["open_files (no pid)", "open_files", {}, false],
  ["disk_usage", "disk_usage", {}, false],
  ["installed_packages", "installed_packages", {}, false],
  ["running_services", "running_services", {}, false],
  ["custom_query", "custom_query", { sql: "SELECT name, pid FROM processes LIMIT 2" }, false],
  ["processes limit=0 (must be isError)", "processes", { limit: 0 }, true],
];

function sdkVersion() {
  // Walk up from the resolved entry point to the package's own package.json
  // (the exports map hides it, and dist/*/package.json are stubs without a version).
  const require = createRequire(import.meta.url);
  let dir = dirname(require.resolve("@modelcontextprotocol/sdk/client/index.js"));
  for (;;) {
    try {
      const pj = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
      if (pj.name === "@modelcontextprotocol/sdk") return pj.version;
    } catch { /* keep walking */ }
    const up = dirname(dir);
    if (up === dir) return "unknown";
    dir = up;
  }
}

let argv = process.argv.slice(2);
let fullEnv = false;
if (argv[0] === "--full-env") { fullEnv = true; argv = argv.slice(1); }
if (argv[0] === "--") argv = argv.slice(1);
if (argv.length === 0) {
  console.error("usage: node ts_client.mjs [--full-env] -- <server command> [args...]");
  process.exit(2);
}

let env;
if (fullEnv) {
  env = Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined));
} else {
  env = getDefaultEnvironment();
  for (const k of ["OSQUERY_PATH", "RUST_LOG"]) if (process.env[k]) env[k] = process.env[k];
}

let passed = 0, failed = 0;
const ok = (what, detail = "") => { passed++; console.log(`  PASS  ${what}${detail ? " - " + detail : ""}`); };
const fail = (what, detail) => { failed++; console.log(`  FAIL  ${what} - ${detail}`); };
const text = (r) => (r.content || []).map((c) => c.text || "").join(" ");

const version = sdkVersion();
console.log(`== TypeScript MCP SDK @modelcontextprotocol/sdk@${version} (node ${process.version})`);
console.log(`   server: ${argv.join(" ")}`);
console.log(`   OSQUERY_PATH=${process.env.OSQUERY_PATH ?? "(unset)"}`);

const t0 = Date.now();
const transport = new StdioClientTransport({ command: argv[0], args: argv.slice(1), env, stderr: "inherit" });
const client = new Client({ name: "mcp-osquery-ts-check", version: "0.1.0" });
const opts = { timeout: 30_000 };

try {
  await client.connect(transport, opts);
  const sv = client.getServerVersion();
  ok("initialize", `server=${sv?.name} ${sv?.version}`);

  const { tools } = await client.listTools(undefined, opts);
  const names = tools.map((t) => t.name);
  const missing = EXPECTED_TOOLS.filter((n) => !names.includes(n));
  if (missing.length) fail("tools/list", `missing tools: ${missing.join(", ")}; got ${names.join(", ")}`);
  else ok("tools/list", `${names.length} tools: ${names.join(", ")}`);
  for (const t of tools) {
    if (!t.description) fail(`tool ${t.name}`, "no description");
    if (!t.outputSchema) console.log(`  note  tool ${t.name} declares no outputSchema (nothing for the SDK to validate)`);
  }

  for (const [label, name, args, expectError] of CALLS) {
    if (!names.includes(name)) { fail(label, "tool not listed; skipped"); continue; }
    let r;
    try {
      r = await client.callTool({ name, arguments: args }, undefined, opts);
    } catch (e) {
      // McpError -32602 "Structured content does not match the tool's output schema", etc.
      fail(label, `${e?.constructor?.name ?? "Error"}: ${e?.message ?? e}`);
      continue;
    }
    if (!Array.isArray(r.content)) { fail(label, "content is not an array"); continue; }
    if (expectError) {
      if (r.isError === true) ok(label, `isError=true: ${JSON.stringify(text(r).slice(0, 100))}`);
      else fail(label, "expected isError=true, got a successful result");
      continue;
    }
    if (r.isError) { fail(label, `isError=true: ${text(r).slice(0, 300)}`); continue; }
    const sc = r.structuredContent;
    if (!sc || typeof sc !== "object" || Array.isArray(sc)) { fail(label, "structuredContent is not an object"); continue; }
    if (!Array.isArray(sc.rows)) { fail(label, "structuredContent.rows is not a list"); continue; }
    ok(label, `${sc.rows.length} row(s); first: ${sc.rows.length ? JSON.stringify(sc.rows[0]).slice(0, 100) : "-"}`);
  }
} catch (e) {
  fail("session", `${e?.constructor?.name ?? "Error"}: ${e?.message ?? e}`);
} finally {
  try { await client.close(); } catch { /* ignore */ }
}

console.log(`== @modelcontextprotocol/sdk@${version}: ${passed} passed, ${failed} failed (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);

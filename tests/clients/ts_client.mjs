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
// Checks: all 12 tools listed and called (with the expected errors), the six prompts listed
// and fetched, both resources listed and read as JSON (health must be "healthy"), and
// logging/setLevel("warning") (this SDK always uses the classic initialize handshake).
// Exit status: 0 when every check passed, 1 otherwise.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport, getDefaultEnvironment } from "@modelcontextprotocol/sdk/client/stdio.js";

const EXPECTED_TOOLS = [
  "system_info", "processes", "users", "network_interfaces", "network_connections",
  "open_files", "disk_usage", "installed_packages", "running_services", "custom_query",
  "list_tables", "describe_table",
];

const EXPECTED_PROMPTS = [
  "memory_hogs", "listening_ports", "package_changes", "disk_filling_up",
  "suspicious_processes", "logged_in_users",
];

const METRICS_URI = "osquery://server/metrics";
const HEALTH_URI = "osquery://server/health";

// Row checks: return a problem string, or null when the rows are as expected.
const atLeast = (n, column) => (rows) => {
  if (rows.length < n) return `expected at least ${n} row(s), got ${rows.length}`;
  if (column && !rows.some((r) => r?.name === column)) return `no row with name=${JSON.stringify(column)}`;
  return null;
};
const namesAllContain = (word, listed = "processes") => (rows) => {
  const names = rows.map((r) => r?.name);
  if (!names.length) return "no rows";
  const stray = names.filter((n) => typeof n !== "string" || !n.includes(word));
  if (stray.length) return `names without ${JSON.stringify(word)}: ${stray.slice(0, 5).join(", ")}`;
  if (!names.includes(listed)) return `'${listed}' not among ${names.join(", ")}`;
  return null;
};

// [label, tool, arguments, expect]: expect is a row check (null: any rows list) for a
// success, or { error: substring } for a result that must be isError.
const CALLS = [
  ["system_info", "system_info", {}, null],
  ["processes limit=3", "processes", { limit: 3 }, null],
  ["users", "users", {}, null],
  ["network_interfaces", "network_interfaces", {}, null],
  ["network_connections limit=5", "network_connections", { limit: 5 }, null],
  ["open_files (no pid)", "open_files", {}, null],
  ["disk_usage", "disk_usage", {}, null],
  ["installed_packages", "installed_packages", {}, null],
  ["installed_packages name=ssl", "installed_packages", { name: "ssl" }, namesAllContain("ssl", "openssl")],
  ["disk_usage all=true", "disk_usage", { all: true }, null],
  ["running_services", "running_services", {}, null],
  ["custom_query", "custom_query", { sql: "SELECT name, pid FROM processes LIMIT 2" }, null],
  ["list_tables (no pattern)", "list_tables", {}, atLeast(20, "processes")],
  ["list_tables pattern=process", "list_tables", { pattern: "process" }, namesAllContain("process")],
  ["describe_table processes", "describe_table", { table: "processes" }, atLeast(5, "pid")],
  ["processes limit=0 (must be isError)", "processes", { limit: 0 }, { error: "" }],
  ["describe_table shadow (must be isError)", "describe_table", { table: "shadow" }, { error: "shadow" }],
  ["processes lmit=3 (a typo, must be isError)", "processes", { lmit: 3 }, { error: "processes takes: limit" }],
  ["custom_query DELETE (must be isError)", "custom_query", { sql: "DELETE FROM processes" }, { error: "rejected by rule" }],
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
// Run one check; a thrown error (protocol error, SDK validation) is that check's failure.
const guarded = async (label, fn) => {
  try { await fn(); } catch (e) { fail(label, `${e?.constructor?.name ?? "Error"}: ${e?.message ?? e}`); }
};

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

  const called = new Set();
  for (const [label, name, args, expect] of CALLS) {
    if (!names.includes(name)) { fail(label, "tool not listed; skipped"); continue; }
    called.add(name);
    let r;
    try {
      r = await client.callTool({ name, arguments: args }, undefined, opts);
    } catch (e) {
      // McpError -32602 "Structured content does not match the tool's output schema", etc.
      fail(label, `${e?.constructor?.name ?? "Error"}: ${e?.message ?? e}`);
      continue;
    }
    if (!Array.isArray(r.content)) { fail(label, "content is not an array"); continue; }
    if (expect && typeof expect === "object") {
      if (r.isError !== true) fail(label, "expected isError=true, got a successful result");
      else if (!text(r).includes(expect.error)) fail(label, `isError=true but the text lacks ${JSON.stringify(expect.error)}: ${text(r).slice(0, 200)}`);
      else ok(label, `isError=true: ${JSON.stringify(text(r).slice(0, 100))}`);
      continue;
    }
    if (r.isError) { fail(label, `isError=true: ${text(r).slice(0, 300)}`); continue; }
    const sc = r.structuredContent;
    if (!sc || typeof sc !== "object" || Array.isArray(sc)) { fail(label, "structuredContent is not an object"); continue; }
    if (!Array.isArray(sc.rows)) { fail(label, "structuredContent.rows is not a list"); continue; }
    const problem = expect ? expect(sc.rows) : null;
    if (problem) { fail(label, problem); continue; }
    ok(label, `${sc.rows.length} row(s); first: ${sc.rows.length ? JSON.stringify(sc.rows[0]).slice(0, 100) : "-"}`);
  }
  const uncalled = EXPECTED_TOOLS.filter((n) => !called.has(n));
  if (uncalled.length) fail("every tool called", `not called: ${uncalled.join(", ")}`);

  await guarded("prompts/list", async () => {
    const { prompts } = await client.listPrompts(undefined, opts);
    const pnames = prompts.map((p) => p.name);
    const pmissing = EXPECTED_PROMPTS.filter((n) => !pnames.includes(n));
    if (pmissing.length) fail("prompts/list", `missing prompts: ${pmissing.join(", ")}; got ${pnames.join(", ")}`);
    else ok("prompts/list", `${pnames.length} prompts: ${pnames.join(", ")}`);
  });
  for (const name of EXPECTED_PROMPTS) {
    const label = `prompts/get ${name}`;
    await guarded(label, async () => {
      const got = await client.getPrompt({ name }, opts);
      const msgs = got.messages;
      if (!Array.isArray(msgs) || !msgs.length) return fail(label, "messages is empty or not an array");
      const t = msgs[0]?.content?.text ?? "";
      if (!t) return fail(label, `first message has no text: ${JSON.stringify(msgs[0]).slice(0, 200)}`);
      ok(label, `${msgs.length} message(s), role=${msgs[0].role}, ${t.length} chars`);
    });
  }

  await guarded("resources/list", async () => {
    const { resources } = await client.listResources(undefined, opts);
    const uris = resources.map((r) => r.uri);
    const rmissing = [METRICS_URI, HEALTH_URI].filter((u) => !uris.includes(u));
    if (rmissing.length) fail("resources/list", `missing resources: ${rmissing.join(", ")}; got ${uris.join(", ")}`);
    else ok("resources/list", `${uris.length} resources: ${uris.join(", ")}`);
  });
  for (const uri of [METRICS_URI, HEALTH_URI]) {
    const label = `resources/read ${uri}`;
    await guarded(label, async () => {
      const got = await client.readResource({ uri }, opts);
      const c = got.contents?.[0];
      if (!c) return fail(label, "contents is empty");
      let body;
      try { body = JSON.parse(c.text); } catch (e) { return fail(label, `text is not JSON (${e.message}): ${String(c.text).slice(0, 200)}`); }
      if (!body || typeof body !== "object" || Array.isArray(body)) return fail(label, "JSON is not an object");
      if (uri === HEALTH_URI && body.status !== "healthy") {
        return fail(label, `status=${JSON.stringify(body.status)}, reasons=${JSON.stringify(body.reasons)}`);
      }
      const extra = uri === HEALTH_URI ? `status=${body.status}` : `keys: ${Object.keys(body).sort().join(", ")}`.slice(0, 100);
      ok(label, `mimeType=${c.mimeType} ${extra}`);
    });
  }

  // SDK 1.x always negotiates with initialize, so the classic logging/setLevel applies.
  await guarded('logging/setLevel("warning")', async () => {
    await client.setLoggingLevel("warning", opts);
    ok('logging/setLevel("warning")', "empty result");
  });
} catch (e) {
  fail("session", `${e?.constructor?.name ?? "Error"}: ${e?.message ?? e}`);
} finally {
  try { await client.close(); } catch { /* ignore */ }
}

// Nothing is skipped: this SDK always uses the handshake, where every check applies.
console.log(`== @modelcontextprotocol/sdk@${version}: ${passed} passed, ${failed} failed, 0 skipped (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);

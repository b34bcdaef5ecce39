#!/usr/bin/env bash
# Real-client check: the official MCP Inspector CLI against mcp-osquery-server.
#
#   tests/clients/inspector.sh SERVER_BIN FIXTURE_OSQUERYI
#
# Uses @modelcontextprotocol/inspector-cli (v1 line, runs on Node 20), pinned below and
# installed with npm into $INSPECTOR_PREFIX (default /tmp/mcp-inspector-cli-$VERSION).
# The v2 Inspector (`npx @modelcontextprotocol/inspector --cli`) needs Node >= 22.19 and is
# not used here.
#
# What a user would type (equivalent):
#   npx -y @modelcontextprotocol/inspector-cli@1.0.3 --cli -e OSQUERY_PATH=/path/osqueryi \
#       /path/mcp-osquery-server --method tools/call --tool-name processes --tool-arg limit=5
# Covers every tool (with the expected errors), prompts/list + prompts/get of all six
# prompts, resources/list + resources/read of both resources, and logging/setLevel.
# The inspector prints the JSON result on stdout; it exits non-zero on a protocol error but
# NOT on a tool result with isError=true, so this script inspects the JSON itself.
set -euo pipefail

INSPECTOR_CLI_VERSION="${INSPECTOR_CLI_VERSION:-1.0.3}"
INSPECTOR_PREFIX="${INSPECTOR_PREFIX:-/tmp/mcp-inspector-cli-$INSPECTOR_CLI_VERSION}"

if [ $# -lt 2 ]; then
    echo "usage: $0 SERVER_BIN FIXTURE_OSQUERYI" >&2
    exit 2
fi
SERVER_BIN="$(realpath "$1")"
OSQ="$(realpath "$2")"

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
    echo "inspector.sh: Node >= 20 required, found $(node --version)" >&2
    exit 2
fi

BIN="$INSPECTOR_PREFIX/node_modules/.bin/mcp-inspector-cli"
if [ ! -x "$BIN" ]; then
    echo "installing @modelcontextprotocol/inspector-cli@$INSPECTOR_CLI_VERSION into $INSPECTOR_PREFIX" >&2
    mkdir -p "$INSPECTOR_PREFIX"
    [ -f "$INSPECTOR_PREFIX/package.json" ] || echo '{"private":true}' > "$INSPECTOR_PREFIX/package.json"
    npm install --prefix "$INSPECTOR_PREFIX" --no-audit --no-fund --loglevel=error \
        "@modelcontextprotocol/inspector-cli@$INSPECTOR_CLI_VERSION" >&2
fi

# inspector-cli 1.0.3 bug: build/index.js picks its package.json with
# fs.existsSync("../package.json") relative to the *current directory*, then imports it
# relative to itself; if the cwd's parent has no package.json it imports
# node_modules/@modelcontextprotocol/package.json and dies ("Cannot find module").
# Run it from a directory whose parent has a package.json.
RUNDIR="$INSPECTOR_PREFIX/run"
mkdir -p "$RUNDIR"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

pass=0
fail=0
skipped=0

skip() { # LABEL REASON
    echo "  SKIP  $1 - $2"
    skipped=$((skipped + 1))
}

# run LABEL EXPECT -- inspector args...
# EXPECT says what the printed JSON must be:
#   tools | prompts | resources         the listing holds every expected name / URI
#   ok | ok:atleast:N[:COL] | ok:contain:WORD   a tool result with rows (and that check)
#   error[:TEXT]                        a tool result with isError=true (text contains TEXT)
#   prompt                              a prompts/get result with a non-empty message
#   resource | resource:healthy         a resources/read result whose text is JSON (status healthy)
#   empty                               an empty result object (logging/setLevel)
run() {
    local label="$1" expect="$2"
    shift 2
    local out="$WORK/out.json" err="$WORK/err.txt"
    if ! (cd "$RUNDIR" && timeout 60 "$BIN" --cli -e "OSQUERY_PATH=$OSQ" "$SERVER_BIN" "$@") >"$out" 2>"$err"; then
        echo "  FAIL  $label - inspector exited non-zero"
        sed 's/^/        /' "$err" | grep -v 'deprecated\|Upgrade:\|security fixes' | head -20
        fail=$((fail + 1))
        return
    fi
    local verdict
    verdict="$(EXPECT="$expect" node -e '
        const fs = require("fs");
        let r;
        try { r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); }
        catch (e) { console.log("FAIL output is not JSON: " + e.message); process.exit(0); }
        const [kind, a, b] = process.env.EXPECT.split(":");
        const missingOf = (want, got) => want.filter(n => !got.includes(n));
        const say = (problem, good) => console.log(problem ? "FAIL " + problem : "PASS " + good);
        if (kind === "tools") {
            const want = ["system_info","processes","users","network_interfaces","network_connections",
                          "open_files","disk_usage","installed_packages","running_services","custom_query",
                          "list_tables","describe_table"];
            const names = (r.tools || []).map(t => t.name);
            const m = missingOf(want, names);
            say(m.length && "missing tools: " + m.join(","), names.length + " tools: " + names.join(", "));
        } else if (kind === "prompts") {
            const want = ["memory_hogs","listening_ports","package_changes","disk_filling_up",
                          "suspicious_processes","logged_in_users"];
            const names = (r.prompts || []).map(p => p.name);
            const m = missingOf(want, names);
            say(m.length && "missing prompts: " + m.join(","), names.length + " prompts: " + names.join(", "));
        } else if (kind === "resources") {
            const uris = (r.resources || []).map(x => x.uri);
            const m = missingOf(["osquery://server/metrics", "osquery://server/health"], uris);
            say(m.length && "missing resources: " + m.join(","), uris.length + " resources: " + uris.join(", "));
        } else if (kind === "prompt") {
            const msgs = r.messages;
            const t = Array.isArray(msgs) && msgs.length ? (msgs[0].content || {}).text || "" : "";
            say(!t && "no message with text", msgs.length + " message(s), role=" + msgs[0].role + ", " + t.length + " chars");
        } else if (kind === "resource") {
            const c = (r.contents || [])[0];
            let body;
            try { body = JSON.parse(c.text); } catch (e) { say("text is not JSON: " + e.message); process.exit(0); }
            if (a === "healthy") say(body.status !== "healthy" && "status=" + JSON.stringify(body.status) +
                                     " reasons=" + JSON.stringify(body.reasons), "mimeType=" + c.mimeType + " status=" + body.status);
            else say(typeof body !== "object" && "JSON is not an object", "mimeType=" + c.mimeType + " keys: " + Object.keys(body).sort().join(", ").slice(0, 80));
        } else if (kind === "empty") {
            say(Object.keys(r).length !== 0 && "expected {}, got " + JSON.stringify(r).slice(0, 200), "{}");
        } else if (kind === "error") {
            const t = (r.content || []).map(c => c.text || "").join(" ");
            say(r.isError !== true ? "expected isError=true"
                : a && !t.includes(a) ? "isError=true but the text lacks " + JSON.stringify(a) + ": " + t.slice(0, 200) : "",
                "isError=true: " + JSON.stringify(t.slice(0, 100)));
        } else {
            const text = (r.content || []).map(c => c.text || "").join(" ");
            const rows = r.structuredContent && r.structuredContent.rows;
            let problem = "";
            if (r.isError) problem = "isError=true: " + text.slice(0, 300);
            else if (!Array.isArray(r.content)) problem = "content is not an array";
            else if (!Array.isArray(rows)) problem = "structuredContent.rows is not a list";
            else if (a === "atleast" && rows.length < Number(b.split(",")[0])) problem = "fewer than " + b + " rows: " + rows.length;
            else if (a === "atleast" && b.includes(",") && !rows.some(x => x.name === b.split(",")[1]))
                problem = "no row with name=" + b.split(",")[1];
            else if (a === "contain") {
                const names = rows.map(x => x.name);
                const stray = names.filter(n => typeof n !== "string" || !n.includes(b));
                if (!names.length) problem = "no tables listed";
                else if (stray.length) problem = "names without " + b + ": " + stray.slice(0, 5).join(", ");
                else if (!names.includes("processes")) problem = "processes not listed";
            }
            say(problem, (rows || []).length + " row(s)");
        }' "$out")"
    case "$verdict" in
        PASS*) echo "  PASS  $label - ${verdict#PASS }"; pass=$((pass + 1)) ;;
        *) echo "  FAIL  $label - ${verdict#FAIL }"; head -c 2000 "$out" | sed 's/^/        /'; fail=$((fail + 1)) ;;
    esac
}

echo "== MCP Inspector CLI @modelcontextprotocol/inspector-cli@$INSPECTOR_CLI_VERSION (node $(node --version))"
echo "   server: $SERVER_BIN  OSQUERY_PATH=$OSQ"
run "tools/list" tools --method tools/list
run "system_info" ok --method tools/call --tool-name system_info
run "processes limit=5" ok --method tools/call --tool-name processes --tool-arg limit=5
run "users" ok --method tools/call --tool-name users
run "network_interfaces" ok --method tools/call --tool-name network_interfaces
run "network_connections limit=5" ok --method tools/call --tool-name network_connections --tool-arg limit=5
run "open_files (no pid)" ok --method tools/call --tool-name open_files
run "disk_usage" ok --method tools/call --tool-name disk_usage
run "installed_packages" ok --method tools/call --tool-name installed_packages
run "running_services" ok --method tools/call --tool-name running_services
run "custom_query" ok --method tools/call --tool-name custom_query --tool-arg "sql=SELECT name, pid FROM processes LIMIT 2"
run "list_tables (no pattern)" ok:atleast:20,processes --method tools/call --tool-name list_tables
run "list_tables pattern=process" ok:contain:process --method tools/call --tool-name list_tables --tool-arg pattern=process
run "describe_table processes" ok:atleast:5,pid --method tools/call --tool-name describe_table --tool-arg table=processes
run "processes limit=0 (must be isError)" error --method tools/call --tool-name processes --tool-arg limit=0
run "describe_table shadow (must be isError)" error:shadow --method tools/call --tool-name describe_table --tool-arg table=shadow
run "custom_query DELETE (must be isError)" "error:rejected by rule" --method tools/call --tool-name custom_query --tool-arg "sql=DELETE FROM processes"
run "prompts/list" prompts --method prompts/list
for p in memory_hogs listening_ports package_changes disk_filling_up suspicious_processes logged_in_users; do
    run "prompts/get $p" prompt --method prompts/get --prompt-name "$p"
done
run "resources/list" resources --method resources/list
run "resources/read osquery://server/metrics" resource --method resources/read --uri osquery://server/metrics
run "resources/read osquery://server/health" resource:healthy --method resources/read --uri osquery://server/health
# The Inspector's client uses the classic initialize handshake, so setLevel applies, but
# inspector-cli 1.0.3 only accepts --log-level trace|debug|info|warn|error (not the MCP
# level names) and refuses "warning" before connecting. "error" is valid in both lists.
skip 'logging/setLevel("warning")' 'inspector-cli 1.0.3 --log-level accepts only trace|debug|info|warn|error, not the MCP name "warning"'
run 'logging/setLevel("error")' empty --method logging/setLevel --log-level error
echo "== inspector-cli@$INSPECTOR_CLI_VERSION: $pass passed, $fail failed, $skipped skipped"
[ "$fail" -eq 0 ]

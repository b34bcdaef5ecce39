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

# inspect LABEL EXPECT(ok|error|list) -- inspector args...
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
        const exp = process.env.EXPECT;
        if (exp === "list") {
            const want = ["system_info","processes","users","network_interfaces","network_connections",
                          "open_files","disk_usage","installed_packages","running_services","custom_query"];
            const names = (r.tools || []).map(t => t.name);
            const missing = want.filter(n => !names.includes(n));
            console.log(missing.length ? "FAIL missing tools: " + missing.join(",")
                                       : "PASS " + names.length + " tools: " + names.join(", "));
        } else if (exp === "error") {
            console.log(r.isError === true ? "PASS isError=true: " + JSON.stringify((r.content||[])[0]?.text ?? "").slice(0, 100)
                                           : "FAIL expected isError=true");
        } else {
            const text = (r.content || []).map(c => c.text || "").join(" ");
            if (r.isError) console.log("FAIL isError=true: " + text.slice(0, 300));
            else if (!Array.isArray(r.content)) console.log("FAIL content is not an array");
            else if (!r.structuredContent || !Array.isArray(r.structuredContent.rows))
                console.log("FAIL structuredContent.rows is not a list");
            else console.log("PASS " + r.structuredContent.rows.length + " row(s)");
        }' "$out")"
    case "$verdict" in
        PASS*) echo "  PASS  $label - ${verdict#PASS }"; pass=$((pass + 1)) ;;
        *) echo "  FAIL  $label - ${verdict#FAIL }"; head -c 2000 "$out" | sed 's/^/        /'; fail=$((fail + 1)) ;;
    esac
}

echo "== MCP Inspector CLI @modelcontextprotocol/inspector-cli@$INSPECTOR_CLI_VERSION (node $(node --version))"
echo "   server: $SERVER_BIN  OSQUERY_PATH=$OSQ"
run "tools/list" list --method tools/list
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
run "processes limit=0 (must be isError)" error --method tools/call --tool-name processes --tool-arg limit=0
echo "== inspector-cli@$INSPECTOR_CLI_VERSION: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

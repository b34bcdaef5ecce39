#!/usr/bin/env bash
# Real-client check: MCP Inspector v2 (`@modelcontextprotocol/inspector`, CLI mode).
# `tools/list --strict` lints every tool schema for portability (type unions, untyped or
# bare boolean schemas, remote $refs) and reports each finding as a warning or an error.
#
#   tests/clients/inspector_v2.sh SERVER_BIN FIXTURE_OSQUERYI
#
# The Inspector v2 needs Node >= 22.19. When `node --version` is older (or missing), Node 22
# comes from npm's `node` package, installed beside the Inspector into $INSPECTOR_V2_PREFIX
# (default /tmp/mcp-inspector-v2-$VERSION) and put first on PATH for this script only.
#
# What a user would type (equivalent):
#   mcp-inspector --cli --method tools/list --strict -e OSQUERY_PATH=/path/osqueryi \
#       -- /path/mcp-osquery-server
# Checks: tools/list lists the 12 tools with 0 schema findings (no errors, no warnings), and
# a few calls whose arguments the Inspector builds from those schemas: an integer, a
# boolean, a string filter, and a typo the server must refuse naming the valid argument.
set -euo pipefail

INSPECTOR_V2_VERSION="${INSPECTOR_V2_VERSION:-2.12.0}"
NODE_PACKAGE="${NODE_PACKAGE:-node@22}"
INSPECTOR_V2_PREFIX="${INSPECTOR_V2_PREFIX:-/tmp/mcp-inspector-v2-$INSPECTOR_V2_VERSION}"

if [ $# -lt 2 ]; then
    echo "usage: $0 SERVER_BIN FIXTURE_OSQUERYI" >&2
    exit 2
fi
SERVER_BIN="$(realpath "$1")"
OSQ="$(realpath "$2")"

node_at_least() { # MAJOR MINOR: is the node on PATH at least that?
    command -v node >/dev/null 2>&1 &&
        node -e 'const [a, b] = process.versions.node.split(".").map(Number);
                 process.exit(a > +process.argv[1] || (a == +process.argv[1] && b >= +process.argv[2]) ? 0 : 1)' "$1" "$2"
}

BIN="$INSPECTOR_V2_PREFIX/node_modules/.bin"
# npm's node package puts its binary in node/bin by an install script that runs after the
# .bin links are made, so .bin may lack `node`: name its directory too.
export PATH="$INSPECTOR_V2_PREFIX/node_modules/node/bin:$BIN:$PATH"
if [ ! -x "$BIN/mcp-inspector" ] || ! node_at_least 22 19; then
    want=("@modelcontextprotocol/inspector@$INSPECTOR_V2_VERSION")
    node_at_least 22 19 || want+=("$NODE_PACKAGE")
    echo "installing ${want[*]} into $INSPECTOR_V2_PREFIX" >&2
    mkdir -p "$INSPECTOR_V2_PREFIX"
    [ -f "$INSPECTOR_V2_PREFIX/package.json" ] || echo '{"private":true}' >"$INSPECTOR_V2_PREFIX/package.json"
    npm install --prefix "$INSPECTOR_V2_PREFIX" --no-audit --no-fund --loglevel=error "${want[@]}" >&2
fi
node_at_least 22 19 || { echo "inspector_v2.sh: Node >= 22.19 needed, have $(node --version)" >&2; exit 2; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
pass=0
fail=0

# run LABEL CHECK -- inspector args...: CHECK is JavaScript over `r` (the JSON result) and
# `env` (the findings and the stderr text); it returns "" when good, else the problem.
run() {
    local label="$1" check="$2"
    shift 3
    local rc=0
    (cd "$WORK" && timeout 120 mcp-inspector --cli --format json \
        -e "OSQUERY_PATH=$OSQ" "$@" -- "$SERVER_BIN") >"$WORK/out.json" 2>"$WORK/err.txt" || rc=$?
    local verdict
    verdict="$(CHECK="$check" RC="$rc" node -e '
        const fs = require("fs");
        let envelope;
        try { envelope = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); }
        catch (e) { console.log("FAIL output is not JSON (exit " + process.env.RC + "): " + e.message); process.exit(0); }
        const r = envelope.result || {};
        const findings = (envelope.schemaFindings || []).flatMap(t => t.findings.map(f => t.toolName + ": " + f.severity + " " + f.path));
        const stderr = fs.readFileSync(process.argv[2], "utf8");
        const warnings = (stderr.match(/^(Warning|Error): tool /gm) || []).length;
        const problem = new Function("r", "findings", "warnings", process.env.CHECK)(r, findings, warnings);
        console.log(problem ? "FAIL " + problem : "PASS");' "$WORK/out.json" "$WORK/err.txt")"
    if [ "$verdict" = PASS ]; then
        echo "  PASS  $label"
        pass=$((pass + 1))
    else
        echo "  FAIL  $label - ${verdict#FAIL }"
        { grep -v '^{"' "$WORK/err.txt" || true; } | head -20 | sed 's/^/        /'
        fail=$((fail + 1))
    fi
}

echo "== MCP Inspector v2 @modelcontextprotocol/inspector@$INSPECTOR_V2_VERSION --strict (node $(node --version))"
echo "   server: $SERVER_BIN  OSQUERY_PATH=$OSQ"
run "tools/list: 12 tools, 0 schema findings" '
    const n = (r.tools || []).length;
    if (n !== 12) return "expected 12 tools, got " + n;
    if (findings.length || warnings) return findings.length + " findings, " + warnings + " warnings: " + findings.join("; ");
    return "";' -- --method tools/list --strict
rows_check='
    if (r.isError) return "isError: " + JSON.stringify(r.content);
    const rows = (r.structuredContent || {}).rows;
    if (!Array.isArray(rows)) return "no structuredContent.rows";'
run "processes limit=2" "$rows_check"' return rows.length === 2 ? "" : rows.length + " rows";' \
    -- --method tools/call --tool-name processes --tool-arg limit=2
run "disk_usage: fullest first" "$rows_check"'
    return rows[0].path === "/var/lib/postgresql" ? "" : "first is " + rows[0].path;' \
    -- --method tools/call --tool-name disk_usage
run "disk_usage all=true" "$rows_check"' return rows.length === 31 ? "" : rows.length + " rows";' \
    -- --method tools/call --tool-name disk_usage --tool-arg all=true
run "installed_packages name=ssl" "$rows_check"'
    const stray = rows.filter(p => !p.name.includes("ssl"));
    return rows.length && !stray.length ? "" : rows.length + " rows, " + stray.length + " without ssl";' \
    -- --method tools/call --tool-name installed_packages --tool-arg name=ssl
run "describe_table file: required path" "$rows_check"'
    const req = ((r.structuredContent || {}).table || {}).required || [];
    return req.includes("path") ? "" : "required: " + JSON.stringify(req);' \
    -- --method tools/call --tool-name describe_table --tool-arg table=file
run "processes lmit=3 (a typo, must be isError)" '
    const t = (r.content || []).map(c => c.text).join(" ");
    return r.isError === true && t.includes("processes takes: limit") ? "" : "got " + t.slice(0, 200);' \
    -- --method tools/call --tool-name processes --tool-arg lmit=3
echo "== inspector v2 $INSPECTOR_V2_VERSION: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

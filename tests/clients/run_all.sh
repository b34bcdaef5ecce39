#!/usr/bin/env bash
# Run every real-MCP-client check against a built server.
#
#   tests/clients/run_all.sh SERVER_BIN FIXTURE_OSQUERYI
#   e.g. tests/clients/run_all.sh target/release/mcp-osquery-server fixtures/osqueryi
#
# Installs what it needs (idempotent, reused on later runs):
#   /tmp/mcp-client-venv-<ver>   python venvs with mcp==$MCP_PY_V1 and mcp==$MCP_PY_V2
#   tests/clients/node_modules   @modelcontextprotocol/sdk from package-lock.json (npm ci)
#   /tmp/mcp-inspector-cli-<ver> @modelcontextprotocol/inspector-cli (by inspector.sh)
#   /tmp/mcp-inspector-v2-<ver>  @modelcontextprotocol/inspector, and Node 22 from npm when
#                                the system node is older (by inspector_v2.sh)
# Each client checks all 12 tools, the six prompts, both resources and logging/setLevel;
# what a client or protocol revision cannot do is printed as a SKIP line (collected below
# the per-client results) and is not a failure.
# Env knobs: MCP_PY_V1, MCP_PY_V2, PY_MODES (default "auto legacy 2026-07-28"), SKIP_INSPECTOR=1,
# SKIP_INSPECTOR_V2=1, SKIP_TS=1, SKIP_PY=1.
set -uo pipefail

MCP_PY_V1="${MCP_PY_V1:-1.30.0}"
MCP_PY_V2="${MCP_PY_V2:-2.3.0}"
PY_MODES="${PY_MODES:-auto legacy 2026-07-28}"

if [ $# -lt 2 ]; then
    echo "usage: $0 SERVER_BIN FIXTURE_OSQUERYI" >&2
    exit 2
fi
HERE="$(cd "$(dirname "$0")" && pwd)"
SERVER_BIN="$(realpath "$1")"
export OSQUERY_PATH="$(realpath "$2")"
[ -x "$SERVER_BIN" ] || { echo "not executable: $SERVER_BIN" >&2; exit 2; }
[ -x "$OSQUERY_PATH" ] || { echo "not executable: $OSQUERY_PATH" >&2; exit 2; }

PYTHON="${PYTHON:-python3}"
results=()
skips=()
ok=0
bad=0
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
record() { # name rc  (reads the client's output from $LOG for its SKIP lines)
    if [ "$2" -eq 0 ]; then ok=$((ok + 1)); results+=("PASS  $1"); else bad=$((bad + 1)); results+=("FAIL  $1 (exit $2)"); fi
    local line
    while IFS= read -r line; do skips+=("$1: ${line#*SKIP  }"); done < <(grep '^  SKIP  ' "$LOG" 2>/dev/null)
    : >"$LOG"
}
# run_client NAME CMD...: run one client, echoing its output and keeping it for record().
run_client() {
    local name="$1"
    shift
    "$@" | tee "$LOG"
    record "$name" "${PIPESTATUS[0]}"
}

venv_for() { # version -> prints python path
    local v="$1" dir="/tmp/mcp-client-venv-$1"
    if ! "$dir/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('mcp') != '$v')" 2>/dev/null; then
        echo "creating $dir with mcp==$v" >&2
        "$PYTHON" -m venv "$dir" >&2 && "$dir/bin/pip" install -q --disable-pip-version-check "mcp==$v" >&2 || return 1
    fi
    echo "$dir/bin/python"
}

if [ -z "${SKIP_PY:-}" ]; then
    if py="$(venv_for "$MCP_PY_V1")"; then
        run_client "python mcp==$MCP_PY_V1" "$py" "$HERE/python_client.py" -- "$SERVER_BIN"
        run_client "python mcp==$MCP_PY_V1 --minimal-env" "$py" "$HERE/python_client.py" --minimal-env -- "$SERVER_BIN"
        # Settings from flags alone, as behind a sudoers rule: no OSQUERY_PATH in the environment.
        run_client "python mcp==$MCP_PY_V1 flags only" env -u OSQUERY_PATH "$py" "$HERE/python_client.py" --minimal-env -- "$SERVER_BIN" --osquery-path "$OSQUERY_PATH" --timeout 30
    else
        record "python mcp==$MCP_PY_V1 (install)" 1
    fi
    if py="$(venv_for "$MCP_PY_V2")"; then
        for m in $PY_MODES; do
            run_client "python mcp==$MCP_PY_V2 mode=$m" "$py" "$HERE/python_client.py" --mode "$m" -- "$SERVER_BIN"
        done
    else
        record "python mcp==$MCP_PY_V2 (install)" 1
    fi
fi

if [ -z "${SKIP_TS:-}" ]; then
    if [ ! -d "$HERE/node_modules/@modelcontextprotocol/sdk" ]; then
        (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error) >&2
    fi
    run_client "typescript @modelcontextprotocol/sdk" node "$HERE/ts_client.mjs" -- "$SERVER_BIN"
fi

if [ -z "${SKIP_INSPECTOR:-}" ]; then
    run_client "inspector-cli" bash "$HERE/inspector.sh" "$SERVER_BIN" "$OSQUERY_PATH"
fi

if [ -z "${SKIP_INSPECTOR_V2:-}" ]; then
    run_client "inspector v2 --strict" bash "$HERE/inspector_v2.sh" "$SERVER_BIN" "$OSQUERY_PATH"
fi

echo
echo "== real MCP client checks"
for r in "${results[@]}"; do echo "   $r"; done
if [ "${#skips[@]}" -gt 0 ]; then
    echo "   skipped checks (not failures):"
    for r in "${skips[@]}"; do echo "     SKIP  $r"; done
fi
echo "$ok passed, $bad failed"
[ "$bad" -eq 0 ]

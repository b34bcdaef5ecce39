#!/usr/bin/env bash
# Interop: src/osquery/thrift.rs, and the server binary on the daemon backend,
# against a real Thrift implementation.
#
#   make interop    (or: bash tests/interop/run.sh)
#
# 1. checks fixtures/thrift/*.bin are still what the Thrift library writes;
# 2. starts tests/interop/fake_extension_manager.py on a temporary socket;
# 3. runs the ignored interop tests against it: the codec's
#    (tests/it/thrift_wire.rs) and the binary's with OSQUERY_BACKEND=daemon
#    and no osqueryi (tests/it/daemon.rs).
# Installs (idempotent, reused later) a venv /tmp/thrift-interop-venv-<versions>
# with thrift==$THRIFT_V and osquery==$OSQUERY_PY_V from PyPI.
set -euo pipefail

THRIFT_V="${THRIFT_V:-0.25.0}"
OSQUERY_PY_V="${OSQUERY_PY_V:-3.1.1}"
cd "$(dirname "$0")/../.."

venv="/tmp/thrift-interop-venv-$THRIFT_V-$OSQUERY_PY_V"
if ! "$venv/bin/python" -c 'import thrift, osquery.extensions' 2>/dev/null; then
    echo "creating $venv with thrift==$THRIFT_V osquery==$OSQUERY_PY_V" >&2
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "thrift==$THRIFT_V" "osquery==$OSQUERY_PY_V"
fi
py="$venv/bin/python"

"$py" tests/interop/gen_fixtures.py --check

dir="$(mktemp -d)"
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
"$py" tests/interop/fake_extension_manager.py "$dir/osquery.em" >"$dir/log" 2>&1 &
server=$!
for _ in $(seq 100); do
    grep -q '^listening' "$dir/log" && break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
done
grep -q '^listening' "$dir/log" || { cat "$dir/log"; echo "interop: the Python server did not start" >&2; exit 1; }

OSQUERY_INTEROP_SOCKET="$dir/osquery.em" \
    cargo test --quiet --test it -- --ignored --nocapture --test-threads 1 \
    thrift_wire::interop_with_a_python_thrift_server daemon::interop_the_binary_against_a_python_thrift_server

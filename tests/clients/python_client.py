#!/usr/bin/env python3
"""Real-client check for mcp-osquery-server with the official Python MCP SDK (`pip install mcp`).

Works with SDK 1.x (ClientSession + stdio_client, classic initialize handshake) and
SDK 2.x (mcp.client.Client, whose `mode` picks the negotiation:
  auto       - default: sends `server/discover` first, falls back to `initialize` on any
               JSON-RPC error (this is what real 2.x users get)
  legacy     - classic `initialize` handshake only
  2026-07-28 - adopt the stateless revision directly, no probe, no initialize).

Usage:
  OSQUERY_PATH=<repo>/fixtures/osqueryi python python_client.py [--mode auto|legacy|2026-07-28]
      [--minimal-env] [--timeout S] -- <server command> [args...]

By default the whole environment is passed to the server. --minimal-env passes only what
the SDK passes by default (HOME, LOGNAME, PATH, SHELL, TERM, USER) plus OSQUERY_PATH and
RUST_LOG when set, as a real desktop client would.

Exit status: 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import sys
import time
import traceback
from typing import Any

EXPECTED_TOOLS = [
    "system_info",
    "processes",
    "users",
    "network_interfaces",
    "network_connections",
    "open_files",
    "disk_usage",
    "installed_packages",
    "running_services",
    "custom_query",
]

# (label, tool, arguments, expect_error)
CALLS: list[tuple[str, str, dict[str, Any], bool]] = [
    ("system_info", "system_info", {}, False),
    ("processes limit=3", "processes", {"limit": 3}, False),
    ("users", "users", {}, False),
    ("network_interfaces", "network_interfaces", {}, False),
    ("network_connections limit=5", "network_connections", {"limit": 5}, False),
    ("open_files (no pid)", "open_files", {}, False),
    ("disk_usage", "disk_usage", {}, False),
    ("installed_packages", "installed_packages", {}, False),
    ("running_services", "running_services", {}, False),
    ("custom_query", "custom_query", {"sql": "SELECT name, pid FROM processes LIMIT 2"}, False),
    ("processes limit=0 (must be isError)", "processes", {"limit": 0}, True),
]

SDK_VERSION = importlib.metadata.version("mcp")
SDK_MAJOR = int(SDK_VERSION.split(".")[0])


class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def ok(self, what: str, detail: str = "") -> None:
        self.passed += 1
        print(f"  PASS  {what}{(' - ' + detail) if detail else ''}", flush=True)

    def fail(self, what: str, detail: str) -> None:
        self.failed += 1
        print(f"  FAIL  {what} - {detail}", flush=True)


def wire(obj: Any) -> dict[str, Any]:
    """A pydantic result as its wire JSON (camelCase keys) in both SDK generations."""
    return obj.model_dump(by_alias=True, mode="json", exclude_none=True)


def check_call(rep: Report, label: str, res: dict[str, Any], expect_error: bool) -> None:
    is_error = bool(res.get("isError", False))
    content = res.get("content")
    if not isinstance(content, list):
        rep.fail(label, f"content is not a list: {content!r}")
        return
    if expect_error:
        if is_error:
            text = " ".join(c.get("text", "") for c in content if isinstance(c, dict))
            rep.ok(label, f"isError=true: {text[:100]!r}")
        else:
            rep.fail(label, "expected isError=true, got a successful result")
        return
    if is_error:
        text = " ".join(c.get("text", "") for c in content if isinstance(c, dict))
        rep.fail(label, f"isError=true: {text[:300]!r}")
        return
    sc = res.get("structuredContent")
    if not isinstance(sc, dict):
        rep.fail(label, f"structuredContent is not an object: {type(sc).__name__}")
        return
    rows = sc.get("rows")
    if not isinstance(rows, list):
        rep.fail(label, f"structuredContent.rows is not a list: {type(rows).__name__}")
        return
    first = json.dumps(rows[0])[:100] if rows else "-"
    rep.ok(label, f"{len(rows)} row(s); first: {first}")


def server_params(cmd: list[str], minimal_env: bool):
    from mcp import StdioServerParameters

    if minimal_env:
        from mcp.client.stdio import get_default_environment

        env = dict(get_default_environment())
        for k in ("OSQUERY_PATH", "RUST_LOG"):
            if k in os.environ:
                env[k] = os.environ[k]
    else:
        env = dict(os.environ)
    return StdioServerParameters(command=cmd[0], args=cmd[1:], env=env)


async def run_checks(rep: Report, list_tools, call_tool) -> None:
    tools = await list_tools()
    names = [t["name"] for t in tools]
    missing = [n for n in EXPECTED_TOOLS if n not in names]
    if missing:
        rep.fail("tools/list", f"missing tools: {missing}; got {names}")
    else:
        rep.ok("tools/list", f"{len(names)} tools: {', '.join(names)}")
    for t in tools:
        schema = t.get("inputSchema") or {}
        if schema.get("type") != "object":
            rep.fail(f"tool {t['name']} inputSchema", f"root type is {schema.get('type')!r}")
        if not t.get("description"):
            rep.fail(f"tool {t['name']}", "no description")
    for label, tool, args, expect_error in CALLS:
        if tool not in names:
            rep.fail(label, "tool not listed; skipped")
            continue
        try:
            res = await call_tool(tool, args)
        except Exception as e:  # a protocol error or client-side validation failure
            rep.fail(label, f"{type(e).__name__}: {e}")
            continue
        check_call(rep, label, res, expect_error)


async def main_v1(cmd: list[str], args: argparse.Namespace, rep: Report) -> None:
    from datetime import timedelta

    from mcp import ClientSession
    from mcp.client.stdio import stdio_client

    params = server_params(cmd, args.minimal_env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write, read_timeout_seconds=timedelta(seconds=args.timeout)) as session:
            init = await session.initialize()
            info = init.serverInfo
            rep.ok("initialize", f"protocolVersion={init.protocolVersion} server={info.name} {info.version}")

            async def list_tools():
                return [wire(t) for t in (await session.list_tools()).tools]

            async def call_tool(name, a):
                return wire(await session.call_tool(name, a))

            await run_checks(rep, list_tools, call_tool)


async def main_v2(cmd: list[str], args: argparse.Namespace, rep: Report) -> None:
    from mcp.client import Client

    params = server_params(cmd, args.minimal_env)
    async with Client(params, mode=args.mode, read_timeout_seconds=args.timeout) as client:
        info = client.server_info
        who = f"{info.name} {info.version}" if info is not None else "(anonymous)"
        rep.ok("connect", f"mode={args.mode} protocolVersion={client.protocol_version} server={who}")

        async def list_tools():
            return [wire(t) for t in (await client.list_tools()).tools]

        async def call_tool(name, a):
            return wire(await client.call_tool(name, a))

        await run_checks(rep, list_tools, call_tool)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", default="auto", help="SDK 2.x connect mode: auto (default), legacy, 2026-07-28")
    ap.add_argument("--minimal-env", action="store_true", help="pass only the SDK default env + OSQUERY_PATH")
    ap.add_argument("--timeout", type=float, default=30.0, help="per-request read timeout, seconds")
    ap.add_argument("server", nargs=argparse.REMAINDER, help="server command (after --)")
    args = ap.parse_args()
    cmd = args.server[1:] if args.server[:1] == ["--"] else args.server
    if not cmd:
        ap.error("missing server command")

    mode_txt = f" mode={args.mode}" if SDK_MAJOR >= 2 else " (1.x: initialize handshake; --mode ignored)"
    print(f"== Python MCP SDK mcp=={SDK_VERSION}{mode_txt}")
    print(f"   server: {' '.join(cmd)}")
    print(f"   OSQUERY_PATH={os.environ.get('OSQUERY_PATH', '(unset)')}")
    rep = Report()
    t0 = time.monotonic()
    try:
        runner = main_v2 if SDK_MAJOR >= 2 else main_v1
        asyncio.run(asyncio.wait_for(runner(cmd, args, rep), timeout=args.timeout * 6))
    except BaseException as e:  # noqa: BLE001 - report anything, including ExceptionGroup
        rep.fail("session", f"{type(e).__name__}: {e}")
        traceback.print_exc()
    dt = time.monotonic() - t0
    print(f"== mcp=={SDK_VERSION}{mode_txt}: {rep.passed} passed, {rep.failed} failed ({dt:.1f}s)")
    return 0 if rep.failed == 0 and rep.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())

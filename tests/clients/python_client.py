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

What is checked: all 12 tools listed and called (with the expected errors), the six prompts
listed and fetched, both resources listed and read as JSON (health must be "healthy"), and
logging/setLevel("warning") on classic-handshake sessions. setLevel is skipped, with a
printed SKIP line, on a 2026-07-28 session: that revision removed it.

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
    "list_tables",
    "describe_table",
]

EXPECTED_PROMPTS = [
    "memory_hogs",
    "listening_ports",
    "package_changes",
    "disk_filling_up",
    "suspicious_processes",
    "logged_in_users",
]

METRICS_URI = "osquery://server/metrics"
HEALTH_URI = "osquery://server/health"


def names_all_contain(word: str, listed: str = "processes"):
    """Row check for a name filter: non-empty, every name matches, `listed` among them."""

    def check(rows: list[Any]) -> str | None:
        names = [r.get("name") for r in rows if isinstance(r, dict)]
        if not names:
            return "no rows"
        stray = [n for n in names if not isinstance(n, str) or word not in n]
        if stray:
            return f"names without {word!r}: {stray[:5]}"
        if listed not in names:
            return f"{listed!r} not among {names}"
        return None

    return check


def at_least(n: int, column: str | None = None):
    """Row check: at least n rows, and (optionally) a row whose `name` is `column`."""

    def check(rows: list[Any]) -> str | None:
        if len(rows) < n:
            return f"expected at least {n} row(s), got {len(rows)}"
        if column is not None and not any(isinstance(r, dict) and r.get("name") == column for r in rows):
            return f"no row with name={column!r}"
        return None

    return check


# (label, tool, arguments, expect) where expect is a row check (None: any list of rows
# is fine) for a success, or ("error", substring) for a result that must be isError.
CALLS: list[tuple[str, str, dict[str, Any], Any]] = [
    ("system_info", "system_info", {}, None),
    ("processes limit=3", "processes", {"limit": 3}, None),
    ("users", "users", {}, None),
    ("network_interfaces", "network_interfaces", {}, None),
    ("network_connections limit=5", "network_connections", {"limit": 5}, None),
    ("open_files (no pid)", "open_files", {}, None),
    ("disk_usage", "disk_usage", {}, None),
    ("installed_packages", "installed_packages", {}, None),
    ("installed_packages name=ssl", "installed_packages", {"name": "ssl"}, names_all_contain("ssl", "openssl")),
    ("disk_usage all=true", "disk_usage", {"all": True}, None),
    ("running_services", "running_services", {}, None),
    ("custom_query", "custom_query", {"sql": "SELECT name, pid FROM processes LIMIT 2"}, None),
    ("list_tables (no pattern)", "list_tables", {}, at_least(20, "processes")),
    ("list_tables pattern=process", "list_tables", {"pattern": "process"}, names_all_contain("process")),
    ("describe_table processes", "describe_table", {"table": "processes"}, at_least(5, "pid")),
    ("processes limit=0 (must be isError)", "processes", {"limit": 0}, ("error", "")),
    ("describe_table shadow (must be isError)", "describe_table", {"table": "shadow"}, ("error", "shadow")),
    ("processes lmit=3 (a typo, must be isError)", "processes", {"lmit": 3}, ("error", "processes takes: limit")),
    ("custom_query DELETE (must be isError)", "custom_query", {"sql": "DELETE FROM processes"}, ("error", "rejected by rule")),
]

SDK_VERSION = importlib.metadata.version("mcp")
SDK_MAJOR = int(SDK_VERSION.split(".")[0])


class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def ok(self, what: str, detail: str = "") -> None:
        self.passed += 1
        print(f"  PASS  {what}{(' - ' + detail) if detail else ''}", flush=True)

    def fail(self, what: str, detail: str) -> None:
        self.failed += 1
        print(f"  FAIL  {what} - {detail}", flush=True)

    def skip(self, what: str, reason: str) -> None:
        self.skipped += 1
        print(f"  SKIP  {what} - {reason}", flush=True)


def wire(obj: Any) -> dict[str, Any]:
    """A pydantic result as its wire JSON (camelCase keys) in both SDK generations."""
    return obj.model_dump(by_alias=True, mode="json", exclude_none=True)


def result_text(res: dict[str, Any]) -> str:
    return " ".join(c.get("text", "") for c in res.get("content") or [] if isinstance(c, dict))


def check_call(rep: Report, label: str, res: dict[str, Any], expect: Any) -> None:
    is_error = bool(res.get("isError", False))
    content = res.get("content")
    if not isinstance(content, list):
        rep.fail(label, f"content is not a list: {content!r}")
        return
    text = result_text(res)
    if isinstance(expect, tuple):
        want = expect[1]
        if not is_error:
            rep.fail(label, "expected isError=true, got a successful result")
        elif want not in text:
            rep.fail(label, f"isError=true but the text lacks {want!r}: {text[:200]!r}")
        else:
            rep.ok(label, f"isError=true: {text[:100]!r}")
        return
    if is_error:
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
    problem = expect(rows) if expect is not None else None
    if problem:
        rep.fail(label, problem)
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


class Session:
    """What the checks need from a connected client, as wire JSON, for both SDK generations.

    `set_level` is None when the session cannot send logging/setLevel; `no_set_level` says why.
    """

    def __init__(self, list_tools, call_tool, list_prompts, get_prompt, list_resources, read_resource,
                 set_level, no_set_level: str = "") -> None:
        self.list_tools = list_tools
        self.call_tool = call_tool
        self.list_prompts = list_prompts
        self.get_prompt = get_prompt
        self.list_resources = list_resources
        self.read_resource = read_resource
        self.set_level = set_level
        self.no_set_level = no_set_level


async def check_tools(rep: Report, s: Session) -> None:
    tools = await s.list_tools()
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
    called = set()
    for label, tool, args, expect in CALLS:
        if tool not in names:
            rep.fail(label, "tool not listed; skipped")
            continue
        called.add(tool)
        try:
            res = await s.call_tool(tool, args)
        except Exception as e:  # a protocol error or client-side validation failure
            rep.fail(label, f"{type(e).__name__}: {e}")
            continue
        check_call(rep, label, res, expect)
    uncalled = [n for n in EXPECTED_TOOLS if n not in called]
    if uncalled:
        rep.fail("every tool called", f"not called: {uncalled}")


async def check_prompts(rep: Report, s: Session) -> None:
    try:
        prompts = await s.list_prompts()
    except Exception as e:
        rep.fail("prompts/list", f"{type(e).__name__}: {e}")
        return
    names = [p.get("name") for p in prompts]
    missing = [n for n in EXPECTED_PROMPTS if n not in names]
    if missing:
        rep.fail("prompts/list", f"missing prompts: {missing}; got {names}")
    else:
        rep.ok("prompts/list", f"{len(names)} prompts: {', '.join(str(n) for n in names)}")
    for name in EXPECTED_PROMPTS:
        label = f"prompts/get {name}"
        try:
            got = await s.get_prompt(name)
        except Exception as e:
            rep.fail(label, f"{type(e).__name__}: {e}")
            continue
        msgs = got.get("messages")
        if not isinstance(msgs, list) or not msgs:
            rep.fail(label, f"messages is empty or not a list: {msgs!r}")
            continue
        content = msgs[0].get("content") if isinstance(msgs[0], dict) else None
        text = content.get("text", "") if isinstance(content, dict) else ""
        if not text:
            rep.fail(label, f"first message has no text: {msgs[0]!r}"[:300])
            continue
        rep.ok(label, f"{len(msgs)} message(s), role={msgs[0].get('role')}, {len(text)} chars")


async def check_resources(rep: Report, s: Session) -> None:
    try:
        resources = await s.list_resources()
    except Exception as e:
        rep.fail("resources/list", f"{type(e).__name__}: {e}")
        return
    uris = [r.get("uri") for r in resources]
    missing = [u for u in (METRICS_URI, HEALTH_URI) if u not in uris]
    if missing:
        rep.fail("resources/list", f"missing resources: {missing}; got {uris}")
    else:
        rep.ok("resources/list", f"{len(uris)} resources: {', '.join(str(u) for u in uris)}")
    for uri in (METRICS_URI, HEALTH_URI):
        label = f"resources/read {uri}"
        try:
            got = await s.read_resource(uri)
        except Exception as e:
            rep.fail(label, f"{type(e).__name__}: {e}")
            continue
        contents = got.get("contents")
        if not isinstance(contents, list) or not contents or not isinstance(contents[0], dict):
            rep.fail(label, f"contents is empty or not a list: {contents!r}"[:300])
            continue
        c = contents[0]
        try:
            body = json.loads(c.get("text", ""))
        except (TypeError, ValueError) as e:
            rep.fail(label, f"text is not JSON ({e}): {str(c.get('text'))[:200]!r}")
            continue
        if not isinstance(body, dict):
            rep.fail(label, f"JSON is not an object: {type(body).__name__}")
        elif uri == HEALTH_URI and body.get("status") != "healthy":
            rep.fail(label, f"status={body.get('status')!r}, reasons={body.get('reasons')!r}")
        else:
            extra = f"status={body['status']}" if uri == HEALTH_URI else f"keys: {', '.join(sorted(body))}"[:100]
            rep.ok(label, f"mimeType={c.get('mimeType')} {extra}")


async def check_logging(rep: Report, s: Session) -> None:
    label = 'logging/setLevel("warning")'
    if s.set_level is None:
        rep.skip(label, s.no_set_level)
        return
    try:
        await s.set_level("warning")
    except Exception as e:
        rep.fail(label, f"{type(e).__name__}: {e}")
        return
    rep.ok(label, "empty result")


async def run_checks(rep: Report, s: Session) -> None:
    await check_tools(rep, s)
    await check_prompts(rep, s)
    await check_resources(rep, s)
    await check_logging(rep, s)


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

            async def list_prompts():
                return [wire(p) for p in (await session.list_prompts()).prompts]

            async def get_prompt(name):
                return wire(await session.get_prompt(name))

            async def list_resources():
                return [wire(r) for r in (await session.list_resources()).resources]

            async def read_resource(uri):
                from pydantic import AnyUrl

                return wire(await session.read_resource(AnyUrl(uri)))

            async def set_level(level):
                return wire(await session.set_logging_level(level))

            await run_checks(
                rep,
                Session(list_tools, call_tool, list_prompts, get_prompt, list_resources, read_resource, set_level),
            )


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

        async def list_prompts():
            return [wire(p) for p in (await client.list_prompts()).prompts]

        async def get_prompt(name):
            return wire(await client.get_prompt(name))

        async def list_resources():
            return [wire(r) for r in (await client.list_resources()).resources]

        async def read_resource(uri):
            return wire(await client.read_resource(uri))

        async def set_level(level):
            import warnings

            with warnings.catch_warnings():  # deprecated for 2026-07-28, still the classic call
                warnings.simplefilter("ignore")
                return wire(await client.set_logging_level(level))

        # The 2026-07-28 revision removed logging/setLevel (the level travels in each
        # request's _meta instead), so only a handshake session can send it.
        stateless = str(client.protocol_version) == "2026-07-28"
        await run_checks(
            rep,
            Session(
                list_tools,
                call_tool,
                list_prompts,
                get_prompt,
                list_resources,
                read_resource,
                None if stateless else set_level,
                f"protocolVersion={client.protocol_version}: the stateless revision removed logging/setLevel",
            ),
        )


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
    print(f"== mcp=={SDK_VERSION}{mode_txt}: {rep.passed} passed, {rep.failed} failed, {rep.skipped} skipped ({dt:.1f}s)")
    return 0 if rep.failed == 0 and rep.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())

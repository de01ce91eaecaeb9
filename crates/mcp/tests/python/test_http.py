"""`policy mcp` over streamable HTTP, both ways: serving the official Python MCP client
at http://ADDR/mcp (a client token required when one is set), and reaching an upstream
server by its URL. Also: the upstreams' tools are the policy's catalog, so their MCP
annotations are classes a rule can name, and a rule naming a tool no upstream offers
stops the gateway before it serves."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import anyio
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from test_gateway import BIN, HERE, POLICY, calls, session, text, upstream


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gateway_on_http(tmp_path: Path, *extra: str, env: dict | None = None):
    """Starts `policy mcp --listen 127.0.0.1:0` and yields its URL and the call log."""
    log = tmp_path / "calls.jsonl"
    proc = subprocess.Popen(
        [BIN, "mcp", str(POLICY), "--upstream", upstream("files"), "--listen", "127.0.0.1:0", *extra],
        env={"CALL_LOG": str(log), "PATH": os.environ.get("PATH", ""), **(env or {})},
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            m = re.search(r"(http://127\.0\.0\.1:\d+/mcp)", line)
            url = m.group(1) if m else None
        assert url, f"the gateway did not say where it listens (exit {proc.poll()})"
        yield url, log
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def over_http(url: str, fn, token: str | None = None):
    async def go():
        headers = {"Authorization": f"Bearer {token}"} if token else None
        async with create_mcp_http_client(headers=headers) as http:
            async with streamable_http_client(url, http_client=http) as streams:
                read, write = streams[0], streams[1]
                async with ClientSession(read, write, read_timeout_seconds=30) as s:
                    await s.initialize()
                    return await fn(s)

    return anyio.run(go)


def test_an_http_client_lists_and_calls_through_the_gateway(tmp_path):
    with gateway_on_http(tmp_path) as (url, log):
        async def go(s):
            tools = {t.name: t for t in (await s.list_tools()).tools}
            read = await s.call_tool("read_file", {"path": "a.txt"})
            denied = await s.call_tool("delete_file", {"path": "/"})
            return tools, read, denied

        tools, read, denied = over_http(url, go)
    assert "[holdpoint: allowed]" in tools["read_file"].description
    assert not read.is_error and text(read) == "contents of a.txt"
    assert denied.is_error and "nothing is deleted through the agent" in text(denied)
    assert calls(log) == [{"server": "files", "tool": "read_file", "args": {"path": "a.txt"}}]


def test_with_a_client_token_a_request_without_it_is_refused(tmp_path):
    with gateway_on_http(tmp_path, env={"HOLDPOINT_MCP_CLIENT_TOKEN": "s3cret-client-token"}) as (url, log):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                           "params": {"name": "read_file", "arguments": {"path": "x"}}}).encode()
        for auth in (None, "Bearer wrong-token", "s3cret-client-token"):
            req = urllib.request.Request(url, data=body, method="POST", headers={
                "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                **({"Authorization": auth} if auth else {})})
            try:
                urllib.request.urlopen(req, timeout=10)
                status = 200
            except urllib.error.HTTPError as e:
                status = e.code
            assert status == 401, (auth, status)

        async def go(s):
            return await s.call_tool("read_file", {"path": "b.txt"})

        result = over_http(url, go, token="s3cret-client-token")
    assert text(result) == "contents of b.txt"
    assert calls(log) == [{"server": "files", "tool": "read_file", "args": {"path": "b.txt"}}]


def test_a_browsers_request_and_a_foreign_host_are_refused(tmp_path):
    """A web page cannot reach the loopback gateway: a browser sends an Origin, and a
    DNS-rebound name arrives as another Host."""
    with gateway_on_http(tmp_path) as (url, log):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "page", "version": "1"}}}).encode()
        port = url.split(":")[2].split("/")[0]
        for extra in ({"Origin": "http://evil.example"}, {"Host": f"evil.example:{port}"}):
            req = urllib.request.Request(url, data=body, method="POST", headers={
                "Content-Type": "application/json", "Accept": "application/json, text/event-stream", **extra})
            try:
                urllib.request.urlopen(req, timeout=10)
                status = 200
            except urllib.error.HTTPError as e:
                status = e.code
            assert status in (400, 403), (extra, status)
    assert calls(log) == []


def test_off_loopback_the_gateway_refuses_to_listen_without_a_client_token():
    out = subprocess.run([BIN, "mcp", str(POLICY), "--upstream", upstream("files"), "--listen", "0.0.0.0:0"],
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode != 0 and "needs a client token" in out.stderr, out.stderr


@contextmanager
def upstream_on_http(tmp_path: Path, name: str):
    port = free_port()
    log = tmp_path / "calls.jsonl"
    proc = subprocess.Popen([sys.executable, str(HERE / "upstream_server.py")],
                            env={**os.environ, "CALL_LOG": str(log), "UPSTREAM_NAME": name,
                                 "HTTP_PORT": str(port)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp", log
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_an_upstream_reached_by_url_is_gated_like_a_command(tmp_path):
    with upstream_on_http(tmp_path, "shop") as (url, log):
        run, _ = session(tmp_path, shop=f"shop={url}")

        async def go(s):
            return [await s.call_tool("shop__refund", {"amount": 30}),
                    await s.call_tool("shop__refund", {"amount": 3000}),
                    await s.call_tool("shop__delete_file", {"path": "/"})]

        small, big, deleted = run(go)
    assert not small.is_error and text(small) == "refunded 30.0 EUR"
    assert big.is_error and "needs a person's approval" in text(big)
    assert deleted.is_error
    assert calls(log) == [{"server": "shop", "tool": "refund", "args": {"amount": 30, "currency": "EUR"}}]


def test_an_upstream_url_token_comes_from_the_environment_and_is_checked():
    out = subprocess.run([BIN, "mcp", str(POLICY), "--upstream", "docs=http://127.0.0.1:9/mcp",
                          "--upstream-token-env", "docs=NO_SUCH_VARIABLE_SET"],
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                         env={"PATH": os.environ.get("PATH", "")})
    assert out.returncode != 0 and "NO_SUCH_VARIABLE_SET is not set" in out.stderr, out.stderr


def test_the_upstreams_annotations_are_classes_the_policy_can_name(tmp_path):
    log = tmp_path / "calls.jsonl"
    from mcp import StdioServerParameters
    from mcp.client.stdio import stdio_client
    params = StdioServerParameters(
        command=BIN, args=["mcp", str(HERE / "policy_annotations.gate"), "--upstream", upstream("files")],
        env={"CALL_LOG": str(log), "PATH": os.environ.get("PATH", "")})

    async def go():
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write, read_timeout_seconds=30) as s:
                await s.initialize()
                tools = {t.name: t for t in (await s.list_tools()).tools}
                return tools, [await s.call_tool("read_file", {"path": "a"}),
                               await s.call_tool("delete_file", {"path": "a"}),
                               await s.call_tool("write_file", {"path": "a", "text": "x"})]

    tools, (read, delete, write) = anyio.run(go)
    assert "[holdpoint: allowed]" in tools["read_file"].description
    assert "destructive" in tools["delete_file"].description
    assert not read.is_error and text(read) == "contents of a"
    # delete_file says it is destructive; write_file says nothing, which MCP reads as
    # destructive: both wait for a person, and this gateway has no approval service.
    for result, tool in ((delete, "delete_file"), (write, "write_file")):
        assert result.is_error and f"the server says files.{tool} may destroy data" in text(result)
    assert calls(log) == [{"server": "files", "tool": "read_file", "args": {"path": "a"}}]


def test_a_rule_naming_a_tool_no_upstream_offers_stops_the_gateway(tmp_path):
    typo = tmp_path / "typo.gate"
    typo.write_text('policy "t"\ndefault deny\nallow reads { when tool == "files.read_fiel" }\n')
    out = subprocess.run([BIN, "mcp", str(typo), "--upstream", upstream("files")], capture_output=True,
                         text=True, timeout=60, stdin=subprocess.DEVNULL,
                         env={"CALL_LOG": str(tmp_path / "c"), "PATH": os.environ.get("PATH", "")})
    assert out.returncode != 0
    assert "files.read_fiel" in out.stderr and "files.read_file" in out.stderr, out.stderr


def test_a_client_token_in_the_environment_does_not_stop_a_stdio_gateway(tmp_path):
    """Before: --client-token required --listen, and clap counts the environment
    variable as given, so a shell with HOLDPOINT_MCP_CLIENT_TOKEN exported could not run
    the gateway on stdio."""
    from mcp import StdioServerParameters
    from mcp.client.stdio import stdio_client
    log = tmp_path / "calls.jsonl"
    params = StdioServerParameters(
        command=BIN, args=["mcp", str(POLICY), "--upstream", upstream("files")],
        env={"CALL_LOG": str(log), "PATH": os.environ.get("PATH", ""),
             "HOLDPOINT_MCP_CLIENT_TOKEN": "exported-for-http"})

    async def go():
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write, read_timeout_seconds=30) as s:
                await s.initialize()
                return await s.call_tool("read_file", {"path": "c"})

    assert text(anyio.run(go)) == "contents of c"

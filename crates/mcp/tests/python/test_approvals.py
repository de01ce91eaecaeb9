"""Calls that need a person, through `policy mcp --service` and a real `policy serve`:
a client that listens for progress waits while an approver decides, and the call then
reaches the server once with exactly the approved (edited) arguments; a client that
does not gets the request id at once, and `holdpoint_status` runs the call once it is
approved, even from a gateway started again; a rejection comes back with its reason."""

from __future__ import annotations

import os
import re
import sys
import threading
from pathlib import Path

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from test_gateway import HERE, POLICY, calls, text, upstream

BIN = os.environ["HOLDPOINT_BIN"]
REQUEST = re.compile(r"request (\S+?)[.:]?(?:\s|$)")


def gateway(service, log: Path, *extra: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=BIN,
        args=["mcp", str(POLICY), "--upstream", upstream("shop"), "--service", service.base,
              "--tenant", "shop", "--user", "uma@example.com", *extra],
        env={"CALL_LOG": str(log), "PATH": os.environ.get("PATH", ""), "HOLDPOINT_TOKEN": service.tokens["agent"]},
    )


def with_session(params, fn):
    async def go():
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write, read_timeout_seconds=60) as s:
                await s.initialize()
                return await fn(s)

    return anyio.run(go)


def test_a_listening_client_waits_and_the_edited_call_runs_once(service, tmp_path):
    log = tmp_path / "calls.jsonl"
    progress: list[str] = []
    decided = threading.Event()

    def approve_later(request_id: str):
        service.decide(request_id, "edit", set={"amount": 450})
        decided.set()

    async def on_progress(value, total, message):
        progress.append(message or "")
        m = REQUEST.search(message or "")
        if m and not decided.is_set() and len(progress) == 1:
            threading.Thread(target=approve_later, args=(m.group(1),)).start()

    async def call(s):
        return await s.call_tool("refund", {"amount": 900}, progress_callback=on_progress)

    result = with_session(gateway(service, log), call)
    assert decided.is_set()
    assert progress and "waiting for a person's approval" in progress[0]
    assert not result.is_error, text(result)
    assert text(result) == "refunded 450.0 EUR"
    assert calls(log) == [{"server": "shop", "tool": "refund", "args": {"amount": 450, "currency": "EUR"}}]


def test_a_waiting_call_is_resumed_by_holdpoint_status_once_even_after_a_restart(service, tmp_path):
    log = tmp_path / "calls.jsonl"

    async def first(s):
        listed = {t.name for t in (await s.list_tools()).tools}
        assert "holdpoint_status" in listed
        return await s.call_tool("refund", {"amount": 900})

    waiting = with_session(gateway(service, log), first)
    # An error result: the tool's result is not there (and only the upstream could
    # give one that matches the tool's output schema).
    assert waiting.is_error
    said = text(waiting)
    assert "Waiting for a person's approval" in said and "Nothing has run" in said
    request_id = REQUEST.search(said).group(1)
    assert calls(log) == []
    # The gateway is gone; a person approves; a new gateway runs the call.
    service.decide(request_id, "approve")

    async def resume(s):
        return [await s.call_tool("holdpoint_status", {"request": request_id}),
                await s.call_tool("holdpoint_status", {"request": request_id})]

    ran, again = with_session(gateway(service, log), resume)
    assert not ran.is_error and text(ran) == "refunded 900.0 EUR"
    assert again.is_error and "Not run" in text(again)
    assert calls(log) == [{"server": "shop", "tool": "refund", "args": {"amount": 900, "currency": "EUR"}}]
    assert service.api("GET", f"/v1/requests/{request_id}")["state"] == "executed"


def test_a_rejection_comes_back_with_its_reason_and_nothing_runs(service, tmp_path):
    log = tmp_path / "calls.jsonl"

    async def first(s):
        return await s.call_tool("refund", {"amount": 900})

    request_id = REQUEST.search(text(with_session(gateway(service, log), first))).group(1)
    service.decide(request_id, "reject", reason="a duplicate of order 1142")

    async def resume(s):
        return await s.call_tool("holdpoint_status", {"request": request_id})

    result = with_session(gateway(service, log), resume)
    assert result.is_error
    assert "rejected" in text(result) and "a duplicate of order 1142" in text(result)
    assert calls(log) == []


def test_holdpoint_status_of_an_unknown_request_says_so(service, tmp_path):
    log = tmp_path / "calls.jsonl"

    async def resume(s):
        return await s.call_tool("holdpoint_status", {"request": "hp_nope"})

    result = with_session(gateway(service, log), resume)
    assert result.is_error and "Not run" in text(result)
    assert calls(log) == []


def test_an_upstream_tool_named_holdpoint_status_does_not_shadow_the_gateways(service, tmp_path):
    log = tmp_path / "calls.jsonl"
    params = gateway(service, log)
    params.args[params.args.index("--upstream") + 1] = (
        f"shop=env UPSTREAM_NAME=shop WITH_STATUS_TOOL=1 {sys.executable} {HERE / 'upstream_server.py'}")

    async def go(s):
        names = [t.name for t in (await s.list_tools()).tools]
        return names, await s.call_tool("holdpoint_status", {"request": "hp_nope"})

    names, result = with_session(params, go)
    assert names.count("holdpoint_status") == 1 and "shop__holdpoint_status" in names
    assert result.is_error and "Not run" in text(result)
    assert calls(log) == [], "the upstream's tool of that name was not called"

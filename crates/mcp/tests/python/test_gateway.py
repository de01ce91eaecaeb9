"""`policy mcp` between the official Python MCP client and two upstream servers built
with the official Python SDK: tools/list merges the upstreams' tools with each one's
stance, an allowed call reaches its server and its result comes back, an audited call is
forwarded and recorded, a denied call and a gated one never reach a server, and bad
gateway arguments are refused before anything starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

HERE = Path(__file__).resolve().parent
BIN = os.environ["HOLDPOINT_BIN"]
POLICY = HERE / "policy.gate"


def upstream(name: str) -> str:
    return f"{name}=env UPSTREAM_NAME={name} {sys.executable} {HERE / 'upstream_server.py'}"


def calls(log: Path) -> list[dict]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def session(tmp_path: Path, *extra: str, shop: str | None = None):
    """Runs `fn(session)` against a gateway over both upstreams (`shop`: another
    `--upstream` for the shop)."""
    log = tmp_path / "calls.jsonl"
    params = StdioServerParameters(
        command=BIN,
        args=["mcp", str(POLICY), "--upstream", upstream("files"), "--upstream", shop or upstream("shop"),
              *extra],
        env={"CALL_LOG": str(log), "PATH": os.environ.get("PATH", "")},
    )

    def run(fn):
        async def go():
            async with stdio_client(params) as (read, write):
                async with ClientSession(read, write, read_timeout_seconds=30) as s:
                    await s.initialize()
                    return await fn(s)

        return anyio.run(go)

    return run, log


def text(result) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


def test_tools_are_merged_with_their_stance_and_shared_names_get_the_upstreams_prefix(tmp_path):
    run, _ = session(tmp_path)

    async def listed(s):
        return (await s.list_tools()).tools

    tools = {t.name: t for t in run(listed)}
    # Both upstreams offer the same four tools: each is offered under UPSTREAM__TOOL.
    assert set(tools) == {f"{u}__{t}" for u in ("files", "shop")
                          for t in ("read_file", "delete_file", "write_file", "refund", "slow")}
    assert "[holdpoint: allowed]" in tools["files__read_file"].description
    assert "every call is denied (deletes)" in tools["files__delete_file"].description
    assert "may wait for a person's approval (big_refund)" in tools["shop__refund"].description
    assert tools["files__read_file"].description.startswith("Read a file.")
    # The upstream's annotations pass through.
    assert tools["files__read_file"].annotations.read_only_hint is True


def test_hide_denied_leaves_out_tools_every_call_of_which_is_denied(tmp_path):
    run, _ = session(tmp_path, "--hide-denied")

    async def listed(s):
        return sorted(t.name for t in (await s.list_tools()).tools)

    names = run(listed)
    assert "files__delete_file" not in names and "shop__delete_file" not in names
    # No rule names files.refund, and the default denies: every call of it is denied too.
    assert "files__refund" not in names
    assert "files__read_file" in names and "shop__refund" in names


def test_an_allowed_call_reaches_its_server_and_the_result_comes_back(tmp_path):
    run, log = session(tmp_path)

    async def call(s):
        return await s.call_tool("files__read_file", {"path": "/etc/motd"})

    result = run(call)
    assert not result.is_error
    assert text(result) == "contents of /etc/motd"
    assert calls(log) == [{"server": "files", "tool": "read_file", "args": {"path": "/etc/motd"}}]


def test_an_audited_call_is_forwarded_and_recorded(tmp_path):
    audit = tmp_path / "audit.jsonl"
    run, log = session(tmp_path, "--audit-log", str(audit))

    async def call(s):
        return await s.call_tool("files__write_file", {"path": "notes.txt", "text": "hello"})

    result = run(call)
    assert not result.is_error and "wrote 5 characters" in text(result)
    assert calls(log) == [{"server": "files", "tool": "write_file", "args": {"path": "notes.txt", "text": "hello"}}]
    (record,) = [json.loads(line) for line in audit.read_text().splitlines()]
    assert record["tool"] == "files.write_file"
    assert record["args"] == {"path": "notes.txt", "text": "hello"}
    assert record["rules"] == ["writes"] and record["upstream_error"] is False


def test_without_an_audit_log_the_record_goes_to_standard_error(tmp_path):
    log = tmp_path / "calls.jsonl"
    params = StdioServerParameters(
        command=BIN, args=["mcp", str(POLICY), "--upstream", upstream("files")],
        env={"CALL_LOG": str(log), "PATH": os.environ.get("PATH", "")},
    )
    errors = tmp_path / "stderr.txt"

    async def go():
        with errors.open("w") as err:
            async with stdio_client(params, errlog=err) as (read, write):
                async with ClientSession(read, write, read_timeout_seconds=30) as s:
                    await s.initialize()
                    return await s.call_tool("write_file", {"path": "a.txt", "text": "hi"})

    result = anyio.run(go)
    assert not result.is_error
    records = [json.loads(line) for line in errors.read_text().splitlines()
               if line.startswith("{") and '"effect":"audit"' in line]
    assert [(r["tool"], r["args"]) for r in records] == [("files.write_file", {"path": "a.txt", "text": "hi"})]


def test_a_denied_call_never_reaches_the_server_and_names_the_rule_and_its_reason(tmp_path):
    run, log = session(tmp_path)

    async def call(s):
        return [await s.call_tool("files__delete_file", {"path": "/"}),
                await s.call_tool("files__refund", {"amount": 5})]

    deleted, default = run(call)
    assert deleted.is_error
    assert "deletes: nothing is deleted through the agent" in text(deleted)
    assert default.is_error and "the policy's default" in text(default)
    assert calls(log) == []


def test_a_call_that_needs_approval_is_not_forwarded_without_a_decision(tmp_path):
    run, log = session(tmp_path)

    async def call(s):
        return [await s.call_tool("shop__refund", {"amount": 900}),
                await s.call_tool("shop__refund", {"amount": 40})]

    big, small = run(call)
    assert big.is_error and "needs a person's approval" in text(big)
    assert "a refund of 900 is above the 100 lane" in text(big)
    assert not small.is_error and text(small) == "refunded 40.0 EUR"
    assert calls(log) == [{"server": "shop", "tool": "refund", "args": {"amount": 40, "currency": "EUR"}}]


def test_an_unknown_tool_is_a_protocol_error(tmp_path):
    run, log = session(tmp_path)

    async def call(s):
        try:
            await s.call_tool("rm_rf", {})
        except Exception as e:  # the SDK raises the JSON-RPC error
            return str(e)
        return None

    said = run(call)
    assert said is not None and "no tool `rm_rf`" in said
    assert calls(log) == []


def test_an_upstreams_progress_reaches_the_client_under_the_clients_token(tmp_path):
    run, log = session(tmp_path)
    seen = []

    async def on_progress(progress, total, message):
        seen.append((progress, total, message))

    async def call(s):
        return await s.call_tool("files__slow", {"steps": 3}, progress_callback=on_progress)

    result = run(call)
    assert text(result) == "done after 3 steps"
    assert seen == [(1, 3, "step 1"), (2, 3, "step 2"), (3, 3, "step 3")]


def test_a_call_the_client_cancels_is_cancelled_upstream(tmp_path):
    run, log = session(tmp_path)

    async def call(s):
        with anyio.move_on_after(0.6):
            await s.call_tool("files__slow", {"steps": 30})
        # The upstream would have finished by now had it not been told.
        await anyio.sleep(4)
        return await s.call_tool("files__read_file", {"path": "after"})

    after = run(call)
    assert text(after) == "contents of after"
    tools = [c["tool"] for c in calls(log)]
    assert tools == ["slow", "read_file"], tools


@pytest.mark.parametrize("args, says", [
    (["--upstream", "no-equals-sign"], "expected NAME=COMMAND"),
    (["--upstream", "files=python3 'unclosed"], "unclosed quote"),
    (["--upstream", "files=/nonexistent/server"], "upstream `files`"),
    # Before: a command that never answers the handshake hung the gateway, silently.
    (["--upstream", "files=cat", "--upstream-timeout", "1s"], "did not complete the MCP handshake within 1 s"),
])
def test_bad_upstreams_are_refused_with_a_message_and_a_non_zero_exit(args, says):
    out = subprocess.run([BIN, "mcp", str(POLICY), *args], capture_output=True, text=True, timeout=60,
                         stdin=subprocess.DEVNULL)
    assert out.returncode != 0
    assert says in out.stderr, out.stderr
    assert out.stdout == "", "nothing but the protocol goes to standard output"


def test_a_policy_that_does_not_load_is_refused(tmp_path):
    bad = tmp_path / "bad.gate"
    bad.write_text("allow x { when tool == }\n")
    out = subprocess.run([BIN, "mcp", str(bad), "--upstream", upstream("files")], capture_output=True,
                         text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode != 0 and "bad.gate" in out.stderr

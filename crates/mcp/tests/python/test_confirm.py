"""`confirm by requester`: a gate the person the agent acts for may confirm in their own
client. The gateway asks through MCP elicitation (the official Python client's
elicitation callback answers); a confirmed call runs exactly as shown, once, and is
recorded with who confirmed it; anything else runs nothing; a gate without the option,
or a client that cannot be asked, never gets the question."""

from __future__ import annotations

import json
import os

import anyio
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client

from test_gateway import BIN, HERE, calls, text, upstream

POLICY = HERE / "policy_confirm.gate"


def run(tmp_path, fn, answer=None, *extra: str):
    """Runs `fn(session)` against a gateway over `files`; `answer(message)` is the user's
    answer to each elicitation (None: a client without elicitation)."""
    log = tmp_path / "calls.jsonl"
    audit = tmp_path / "audit.jsonl"
    asked: list[str] = []
    params = StdioServerParameters(
        command=BIN,
        args=["mcp", str(POLICY), "--upstream", upstream("files"), "--audit-log", str(audit),
              "--user", "uma@example.com", *(extra or ("--requester-confirms",))],
        env={"CALL_LOG": str(log), "PATH": os.environ.get("PATH", "")},
    )

    async def on_elicit(context, params):
        asked.append(params.message)
        return answer(params.message)

    async def go():
        async with stdio_client(params) as (read, write):
            extra = {"elicitation_callback": on_elicit} if answer else {}
            async with ClientSession(read, write, read_timeout_seconds=30, **extra) as s:
                await s.initialize()
                return await fn(s)

    result = anyio.run(go)
    records = [json.loads(line) for line in audit.read_text().splitlines()] if audit.exists() else []
    return result, asked, calls(log), records


def write(s, path="notes.txt", body="hello"):
    return s.call_tool("write_file", {"path": path, "text": body})


def test_a_confirmed_call_runs_exactly_as_shown_once_and_is_recorded(tmp_path):
    result, asked, reached, records = run(
        tmp_path, write, lambda _: types.ElicitResult(action="accept", content={"confirm": True}))
    assert not result.is_error and "wrote 5 characters" in text(result)
    (question,) = asked
    assert "files.write_file" in question and '"path": "notes.txt"' in question
    assert "a write to notes.txt" in question
    # The JSON is laid out in lines the user reads, not escaped line breaks.
    assert "\\u{000A}" not in question and '{\n  "path"' in question
    assert reached == [{"server": "files", "tool": "write_file", "args": {"path": "notes.txt", "text": "hello"}}]
    (record,) = records
    assert record["effect"] == "approve" and record["confirmed_by"] == "uma@example.com"
    assert record["client"].startswith("mcp")  # the Python SDK's client, as it named itself
    assert record["args"] == {"path": "notes.txt", "text": "hello"} and record["rules"] == ["writes"]


def test_a_declined_cancelled_or_unchecked_question_runs_nothing(tmp_path):
    for i, answer in enumerate([types.ElicitResult(action="decline"),
                                types.ElicitResult(action="cancel"),
                                types.ElicitResult(action="accept", content={"confirm": False})]):
        d = tmp_path / str(i)
        d.mkdir()
        result, asked, reached, records = run(d, write, lambda _, a=answer: a)
        assert result.is_error and "did not confirm" in text(result), text(result)
        assert len(asked) == 1 and reached == [] and records == []


def test_a_gate_without_the_option_never_asks_the_requester(tmp_path):
    async def delete(s):
        return await s.call_tool("delete_file", {"path": "/"})

    result, asked, reached, _ = run(
        tmp_path, delete, lambda _: types.ElicitResult(action="accept", content={"confirm": True}))
    assert asked == [] and reached == []
    assert result.is_error and "needs a person's approval" in text(result)


def test_a_client_that_cannot_be_asked_is_told_so_and_nothing_runs(tmp_path):
    result, _, reached, _ = run(tmp_path, write)
    assert result.is_error and "does not support elicitation" in text(result)
    assert reached == []


def test_what_the_agent_sent_cannot_hide_in_the_question(tmp_path):
    sneaky = "notes\u202e.txt"
    result, asked, reached, _ = run(
        tmp_path, lambda s: write(s, path=sneaky),
        lambda _: types.ElicitResult(action="decline"))
    (question,) = asked
    assert "\u202e" not in question and "\\u{202E}" in question
    assert reached == []


def test_without_requester_confirms_the_gateway_never_asks(tmp_path):
    result, asked, reached, _ = run(
        tmp_path, write, lambda _: types.ElicitResult(action="accept", content={"confirm": True}),
        "--hide-denied")
    assert asked == [] and reached == []
    assert result.is_error and "not started with --requester-confirms" in text(result)

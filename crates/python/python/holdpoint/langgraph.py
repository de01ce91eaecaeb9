"""LangGraph: every tool call of a graph decided by the policy before it runs.

    from holdpoint.langgraph import gated_tool_node, route_tool_calls

    tools = gated_tool_node([refund, lookup], policy)            # a ToolNode
    graph.add_node("tools", tools)
    graph.add_conditional_edges("agent", route_tool_calls)       # one task per call

- `allow` / `audit`: the tool runs.
- `deny`: the tool does not run; the model gets the rule's reason as the tool's result.
- `approve`: the graph stops *before* the tool runs, with LangGraph's `interrupt()`.
  - A sync gate without a service client: the interrupt carries the call and the
    decision, and the graph is resumed with `Command(resume={"decision": "approve"})`,
    `{"decision": "reject", "reason": ...}` or `{"decision": "edit", "args": {...}}`,
    each only if the gate allows it (the edited call is decided again: an edit the
    policy denies, or that fires another gate, is refused). An async gate needs the
    service: without one, nothing runs.
  - With `client=holdpoint.Client(...)` the call is submitted to `policy serve` and the
    interrupt carries its request id; resume with any value once a person decided in the
    inbox. The service, not the resume value, says what was decided: the tool runs with
    exactly the arguments the service's permit is for, and the outcome is reported.

Use `route_tool_calls` (or your own `Send` per call): LangGraph runs a node again from
its start on resume, so calls that share one task with an interrupted call would run
twice, and two interrupts in one task can be answered in the wrong order.
"""

from __future__ import annotations

import warnings
from typing import Any, Awaitable, Callable, Mapping, Optional, Sequence

from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langgraph.graph import END
from langgraph.prebuilt import ToolNode
from langgraph.prebuilt.tool_node import ToolCallRequest, ToolCallWithContext
from langgraph.types import Send, interrupt

from ._holdpoint import Decision, HoldpointError, Policy
from .client import AsyncClient, Client, ServiceError, _maybe, _report_quietly

__all__ = ["atool_call_gate", "gated_tool_node", "route_tool_calls", "tool_call_gate"]


def _refusal(call: Mapping[str, Any], text: str) -> ToolMessage:
    return ToolMessage(content=text, tool_call_id=call["id"], name=call["name"], status="error")


def _reasons(d: Decision) -> str:
    return "; ".join(r["reason"] for r in d.reasons) or ", ".join(d.rules)


def _thread_id() -> Optional[str]:
    try:
        from langgraph.config import get_config

        return get_config().get("configurable", {}).get("thread_id")
    except Exception:  # outside a graph run
        return None


def tool_call_gate(
    policy: Policy,
    *,
    client: Optional[Client] = None,
    tenant: str = "default",
    user: Optional[str] = None,
    context: Optional[Mapping[str, Any] | Callable[[ToolCallRequest], Mapping[str, Any]]] = None,
    names: Optional[Mapping[str, str]] = None,
) -> Callable[[ToolCallRequest, Callable[[ToolCallRequest], Any]], Any]:
    """The `wrap_tool_call` function of a `ToolNode` that decides each call first.

    `context` (a dict, or a function of the request) is the call's `context` as the policy
    reads it (`context.confidence`, `context.tier` ...). With `client`, approvals go
    through `policy serve` as `tenant` and `user`; the run is the graph's `thread_id`.
    `names` maps a tool's name in the graph to its name in the policy
    (`{"stripe_refund": "stripe.refund"}`: model APIs allow no dots in tool names).
    """

    if isinstance(client, AsyncClient):
        raise TypeError("tool_call_gate takes a holdpoint.Client; for an AsyncClient use atool_call_gate")

    def gate(request: ToolCallRequest, execute: Callable[[ToolCallRequest], Any]) -> Any:
        tool, ctx, now = _first_step(policy, request, execute, client, context, names)
        if now is not _SERVICE:
            return now
        return _decide_in_service(client, request, execute, tool, tenant, user, ctx)

    return gate


def atool_call_gate(
    policy: Policy,
    *,
    client: Optional[AsyncClient | Client] = None,
    tenant: str = "default",
    user: Optional[str] = None,
    context: Optional[Mapping[str, Any] | Callable[[ToolCallRequest], Mapping[str, Any]]] = None,
    names: Optional[Mapping[str, str]] = None,
) -> Callable[[ToolCallRequest, Callable[[ToolCallRequest], Awaitable[Any]]], Awaitable[Any]]:
    """`tool_call_gate` for a graph run with `ainvoke` / `astream`: the `awrap_tool_call`
    function of a `ToolNode`, with a `holdpoint.AsyncClient` (or a `Client`) for the
    service, so async tools run and waiting on the service does not block the loop."""

    async def gate(request: ToolCallRequest, execute: Callable[[ToolCallRequest], Awaitable[Any]]) -> Any:
        tool, ctx, now = _first_step(policy, request, execute, client, context, names)
        if now is not _SERVICE:
            return await _maybe(now)
        return await _adecide_in_service(client, request, execute, tool, tenant, user, ctx)

    return gate


_SERVICE = object()
"""`_first_step`'s answer when the service must decide."""


def _first_step(policy: Policy, request: ToolCallRequest, execute, client, context, names) -> tuple[str, dict, Any]:
    """The policy's decision on the call and what follows from it without the service:
    the tool's name in the policy, the call's context, and the tool's result (or its
    awaitable, from an async `execute`), a refusal, or `_SERVICE`."""
    call = request.tool_call
    tool = (names or {}).get(call["name"], call["name"])
    ctx = dict(context(request) if callable(context) else (context or {}))
    decision = policy.evaluate({"tool": tool, "args": call["args"], "context": ctx})
    if decision.runs:
        return tool, ctx, execute(request)
    if decision.effect == "deny":
        return tool, ctx, _refusal(call, f"Refused by policy: {_reasons(decision)}")
    if client is not None:
        return tool, ctx, _SERVICE
    if decision.mode == "async":
        # An asynchronous gate (finance within 48 h ...) is decided by its groups in
        # the approval service, never by whoever resumes the graph.
        return tool, ctx, _refusal(call, f"Not run: {', '.join(decision.rules)} waits for people asynchronously, "
                                         "through the approval service (give the gate a holdpoint.Client).")
    return tool, ctx, _decide_in_graph(policy, request, execute, decision, tool, ctx)


def _decide_in_graph(policy: Policy, request: ToolCallRequest, execute, decision: Decision, tool: str,
                     ctx: dict) -> Any:
    call = request.tool_call
    answer = interrupt({
        "holdpoint": "approve",
        "tool_call_id": call["id"],
        "tool": tool,
        "args": call["args"],
        "decision": decision.to_dict(),
        "decisions": sorted({k for g in decision.gates for k in g.get("decisions", [])}),
    })
    verdict = answer.get("decision") if isinstance(answer, Mapping) else None
    allowed = {k for g in decision.gates for k in g.get("decisions", [])}
    if isinstance(answer, Mapping) and answer.get("tool_call_id", call["id"]) != call["id"]:
        return _refusal(call, f"Not run: the decision is for call `{answer.get('tool_call_id')}`, not this one.")
    if verdict in ("approve", "edit", "reject") and verdict not in allowed:
        return _refusal(call, f"Not run: this gate allows {', '.join(sorted(allowed))}, not {verdict}.")
    if verdict == "approve":
        return execute(request)
    if verdict == "edit":
        args = answer.get("args")
        if not isinstance(args, Mapping):
            return _refusal(call, "Not run: an edit needs the edited `args`.")
        again = policy.evaluate({"tool": tool, "args": dict(args), "context": ctx})
        if again.effect == "deny":
            return _refusal(call, f"Not run: the policy refuses the edited call: {_reasons(again)}")
        # An edit that fires a gate the person did not decide needs that gate's people too.
        new_gates = set(again.rules) - set(decision.rules) if again.effect == "approve" else set()
        if new_gates:
            return _refusal(call, f"Not run: the edited call needs another approval ({', '.join(sorted(new_gates))}).")
        return execute(request.override(tool_call={**call, "args": dict(args)}))
    if verdict == "reject":
        return _refusal(call, f"Rejected by a person: {answer.get('reason') or 'no reason given'}")
    # Anything else is not a decision: nothing runs (no default-yes).
    return _refusal(call, f"Not run: `{verdict}` is not a decision (approve, reject or edit).")


def _submission(request: ToolCallRequest, tool: str, tenant: str, user: Optional[str], ctx: dict) -> tuple:
    """`submit`'s arguments for the call. Submitting again on resume is the same request:
    the service keys it by tenant, run (the graph's thread) and tool-call id, so this is
    safe before the interrupt."""
    call = request.tool_call
    return ({"tool": tool, "args": call["args"], "context": ctx},
            {"tenant": tenant, "run_id": _thread_id() or "langgraph", "tool_call_id": call["id"], "user": user})


def _denied(request: ToolCallRequest, sent: Mapping[str, Any]) -> Optional[ToolMessage]:
    if sent.get("effect") != "deny":
        return None
    reasons = (sent.get("decision") or {}).get("reasons") or sent.get("reasons") or []
    return _refusal(request.tool_call, f"Refused by policy: {'; '.join(r.get('reason', '') for r in reasons)}")


def _pause(request: ToolCallRequest, tool: str, sent: Mapping[str, Any]) -> None:
    """Stops the graph until it is resumed (any resume value: the service decides)."""
    call = request.tool_call
    interrupt({"holdpoint": "waiting", "request": sent["request"], "tool_call_id": call["id"], "tool": tool,
               "args": call["args"], "groups": sent.get("groups", []), "due_at": sent.get("due_at")})


def _permitted(request: ToolCallRequest, approved: Any) -> ToolCallRequest | ToolMessage:
    """The request with exactly the arguments the service approved, or a refusal."""
    call = request.tool_call
    if not isinstance(approved, Mapping) or not isinstance(approved.get("args"), Mapping):
        return _refusal(call, "Not run: the service's answer names no arguments to run with.")
    return request.override(tool_call={**call, "args": dict(approved["args"])})


def _outcome(result: Any) -> Any:
    content = getattr(result, "content", result)
    return content if isinstance(content, (str, dict, list)) else str(content)


def _decide_in_service(client: Client, request: ToolCallRequest, execute, tool: str,
                       tenant: str, user: Optional[str], ctx: dict) -> Any:
    call, options = _submission(request, tool, tenant, user, ctx)
    sent = client.submit(call, **options)
    if sent.get("run"):
        return _run_permitted(client, execute, _permitted(request, sent.get("call")), None)
    if (refused := _denied(request, sent)) is not None:
        return refused
    rid, state = sent["request"], sent.get("state")
    while state == "pending":
        _pause(request, tool, sent)
        state = client.wait(rid, timeout=0).get("state")
    # The service says what may run: a claim gives the approved call once, or says why not
    # (rejected, with the approver's reason; expired; cancelled; claimed already).
    try:
        claimed = client.claim(rid)
    except ServiceError as e:
        return _refusal(request.tool_call, f"Not run: {e.message}")
    return _run_permitted(client, execute, _permitted(request, claimed["call"]), (rid, claimed["claim"]))


async def _adecide_in_service(client: AsyncClient | Client, request: ToolCallRequest, execute, tool: str,
                              tenant: str, user: Optional[str], ctx: dict) -> Any:
    """`_decide_in_service`, awaiting the client and the tool."""
    call, options = _submission(request, tool, tenant, user, ctx)
    sent = await _maybe(client.submit(call, **options))
    if sent.get("run"):
        return await _arun_permitted(client, execute, _permitted(request, sent.get("call")), None)
    if (refused := _denied(request, sent)) is not None:
        return refused
    rid, state = sent["request"], sent.get("state")
    while state == "pending":
        _pause(request, tool, sent)
        state = (await _maybe(client.wait(rid, timeout=0))).get("state")
    try:
        claimed = await _maybe(client.claim(rid))
    except ServiceError as e:
        return _refusal(request.tool_call, f"Not run: {e.message}")
    return await _arun_permitted(client, execute, _permitted(request, claimed["call"]), (rid, claimed["claim"]))


def _run_permitted(client: Client, execute, request: ToolCallRequest | ToolMessage, claim: Any) -> Any:
    if isinstance(request, ToolMessage):
        return request
    try:
        result = execute(request)
    except Exception as e:
        if claim:
            _report(client, claim, "failed", {"error": str(e)})
        raise
    if claim:
        _report(client, claim, "executed", _outcome(result))
    return result


async def _arun_permitted(client: AsyncClient | Client, execute, request: ToolCallRequest | ToolMessage,
                          claim: Any) -> Any:
    if isinstance(request, ToolMessage):
        return request
    try:
        result = await _maybe(execute(request))
    except Exception as e:
        if claim:
            await _report_quietly(client, claim[0], claim[1], "failed", {"error": str(e)})
        raise
    if claim:
        await _report_quietly(client, claim[0], claim[1], "executed", _outcome(result))
    return result


def _report(client: Client, claim: Any, outcome: str, result: Any) -> None:
    """Reports an outcome; a report that fails does not undo a call that ran (the service
    then holds it as `outcome_unknown` when the lease ends)."""
    try:
        client.report(claim[0], claim[1], outcome, result)
    except HoldpointError as e:
        warnings.warn(f"holdpoint: the outcome of {claim[0]} was not reported: {e}", stacklevel=2)


def gated_tool_node(tools: Sequence[Any], policy: Policy, *, client: Optional[Client | AsyncClient] = None,
                    tenant: str = "default", user: Optional[str] = None,
                    context: Any = None, names: Optional[Mapping[str, str]] = None,
                    **kwargs: Any) -> Callable[..., Any]:
    """A tools node whose every call is decided by `policy` first (see `tool_call_gate`):
    a `ToolNode` that takes one call at a time, as `route_tool_calls` sends them. Given a
    message with several calls at once it raises: an interrupt would run the others twice.
    It runs under `invoke` and `ainvoke` (async tools too); with an `AsyncClient`, only
    under `ainvoke` / `astream`."""
    options = {"tenant": tenant, "user": user, "context": context, "names": names}
    sync_gate = None if isinstance(client, AsyncClient) else tool_call_gate(policy, client=client, **options)
    inner = ToolNode(list(tools), wrap_tool_call=sync_gate,
                     awrap_tool_call=atool_call_gate(policy, client=client, **options), **kwargs)

    def tools_node(state: Any, config: RunnableConfig) -> Any:
        if sync_gate is None:
            raise TypeError("this gated tools node has an AsyncClient: run the graph with ainvoke / astream")
        _one_call(state)
        return inner.invoke(state, config)

    async def atools_node(state: Any, config: RunnableConfig) -> Any:
        _one_call(state)
        return await inner.ainvoke(state, config)

    return RunnableLambda(tools_node, afunc=atools_node, name="tools")


def _one_call(state: Any) -> None:
    if not (isinstance(state, Mapping) and state.get("__type") == "tool_call_with_context"):
        messages = state.get("messages", []) if isinstance(state, Mapping) else []
        calls = (getattr(messages[-1], "tool_calls", None) or []) if messages else []
        if len(calls) > 1:
            raise ValueError("a gated tools node takes one call a task: route the model's calls with "
                             "holdpoint.langgraph.route_tool_calls (or one Send per call)")


def route_tool_calls(state: Mapping[str, Any], node: str = "tools") -> Any:
    """The edge after the model: each tool call of its last message as its own task
    (`Send`), or `END` when it asked for none."""
    last = state["messages"][-1]
    calls = getattr(last, "tool_calls", None) or []
    if not calls:
        return END
    return [Send(node, ToolCallWithContext(__type="tool_call_with_context", tool_call=c, state=state)) for c in calls]

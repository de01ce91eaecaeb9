"""The OpenAI Agents SDK: the policy decides each function tool's calls, and a paused
run's approvals are decided by people through `policy serve`.

    from holdpoint.openai_agents import Gate

    gate = Gate(policy, client=holdpoint.AsyncClient(url, agent_token),
                tenant="acme", run_id="run-1", user="uma@example.com")
    agent = Agent(name="support", tools=gate.wrap_all([refund, lookup]), model=...)
    result = await Runner.run(agent, "...")
    if result.interruptions:                       # calls the policy sends to a person
        state = result.to_state()
        await gate.submit(state)                   # requests in the approvers' inbox
        ...                                        # people decide
        await gate.resolve(state)                  # approve, reject (with the reason), edit
        result = await Runner.run(agent, state)

- `allow` / `audit`: the tool runs without asking (`needs_approval` is false).
- `deny`: the tool does not run; the model gets the rule's reason as the tool's output.
- `approve`: the SDK pauses the run with a tool approval item. `submit` turns each into a
  service request; `resolve` reads the service's decisions: approve, reject (the
  approver's reason is what the model reads), and edit (which the SDK itself does not
  offer: the tool runs with exactly the arguments the service's permit is for).

The SDK's `always_approve` / `always_reject` are never used: every call is decided alone.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Iterable, Mapping, Optional

from agents import FunctionTool, RunContextWrapper, RunState
from agents.tool_context import ToolContext

from ._holdpoint import Decision, Policy
from .client import AsyncClient, Client, ServiceError, _maybe, _report_quietly

__all__ = ["Gate", "needs_approval"]


def _reasons(d: Decision) -> str:
    return "; ".join(r["reason"] for r in d.reasons) or ", ".join(d.rules)


def needs_approval(policy: Policy, tool: str, context: Optional[Mapping[str, Any]] = None):
    """A `needs_approval` function for `function_tool(...)`: true when the policy sends the
    call to a person. (Use `Gate.wrap` to also refuse denied calls and run edits.)"""

    def decide(ctx: RunContextWrapper[Any], params: dict[str, Any], call_id: str) -> bool:
        # Only a call the policy lets run goes unasked: a denied one asks too (never runs
        # silently); `Gate.wrap` refuses it instead.
        return not policy.evaluate({"tool": tool, "args": params, "context": dict(context or {})}).runs

    return decide


class Gate:
    """Decides each call of the tools it wraps. With a service `client` (as the agent,
    for `tenant` and `run_id`), `submit` and `resolve` take a paused run's approvals to
    people and back, and an approved call's outcome is reported when it has run."""

    def __init__(self, policy: Policy, *, client: Client | AsyncClient | None = None, tenant: str = "default",
                 run_id: str = "agents", user: Optional[str] = None,
                 context: Optional[Mapping[str, Any]] = None, names: Optional[Mapping[str, str]] = None):
        self.policy = policy
        self.names = dict(names or {})
        """A tool's name in the agent to its name in the policy (model APIs allow no dots)."""
        self.client = client
        self.tenant = tenant
        self.run_id = run_id
        self.user = user
        self.context = dict(context or {})
        # call id -> the request the service approved, claimed when the tool runs
        self._approved: dict[str, str] = {}
        # (call id, the call as proposed) -> the arguments a person approved, without a service
        self._recorded: dict[tuple[str, str], dict[str, Any]] = {}
        self._refused: dict[str, str] = {}
        self.requests: dict[str, str] = {}
        """The service request of each call submitted, by call id."""

    def decide(self, tool: str, args: Mapping[str, Any], call_id: str) -> Decision:
        """The policy's decision for one call (decided each time: it costs microseconds,
        and a call id the model reuses for another call gets that call's decision)."""
        name = self.names.get(tool, tool)
        return self.policy.evaluate({"tool": name, "args": dict(args), "context": self.context})

    def wrap(self, inner: FunctionTool) -> FunctionTool:
        """The tool, decided by the policy: denied calls are refused, approved ones wait
        for a person, and an approved call runs with exactly the approved arguments."""
        gate = self

        async def ask(ctx: RunContextWrapper[Any], params: dict[str, Any], call_id: str) -> bool:
            return gate.decide(inner.name, params, call_id).effect == "approve"

        async def run(ctx: ToolContext[Any], args_json: str) -> Any:
            call_id = ctx.tool_call_id
            try:
                args = json.loads(args_json or "{}")
            except ValueError:
                args = {}
            d = gate.decide(inner.name, args, call_id)
            if d.effect == "deny":
                return f"Refused by policy: {_reasons(d)}"
            if d.runs:
                return await inner.on_invoke_tool(ctx, args_json)
            if gate.client is None:
                # Only a decision this gate recorded (`approve`, `edit`) lets it run: a run
                # state approved some other way, or restored elsewhere, runs nothing.
                recorded = gate._recorded.pop((call_id, _key(name_of(inner), args)), None)
                if recorded is None:
                    return "Not run: no recorded approval of this call (decide with Gate.approve or Gate.edit)."
                return await inner.on_invoke_tool(ctx, json.dumps(recorded))
            rid = gate._approved.pop(call_id, None)
            if rid is None:
                # Approved in the run but not by the service: nothing runs.
                return "Not run: no approval from the approval service for this call."
            # Claimed here, right before the side effect, so the claim's lease covers the
            # run of the tool and not the time the run state waited to be resumed.
            try:
                claimed = await _maybe(gate._service().claim(rid))
            except ServiceError as e:
                return f"Not run: {e.message}"
            approved, claim = claimed["call"]["args"], claimed["claim"]
            try:
                out = await inner.on_invoke_tool(ctx, json.dumps(approved))
            except Exception as e:
                await gate._report(rid, claim, "failed", {"error": str(e)})
                raise
            await gate._report(rid, claim, "executed", out if isinstance(out, (str, int, float, dict, list)) else str(out))
            return out

        return dataclasses.replace(inner, on_invoke_tool=run, needs_approval=ask)

    def wrap_all(self, tools: Iterable[FunctionTool]) -> list[FunctionTool]:
        """`wrap` for each tool."""
        return [self.wrap(t) for t in tools]

    async def _report(self, rid: str, claim: str, outcome: str, result: Any) -> None:
        await _report_quietly(self._service(), rid, claim, outcome, result)

    def approve(self, state: RunState, item: Any) -> None:
        """Without a service: a person approved a paused call as it is."""
        args = json.loads(item.arguments or "{}")
        self._recorded[(item.call_id, _key(item.tool_name, args))] = args
        state.approve(item)

    def reject(self, state: RunState, item: Any, reason: str) -> None:
        """Without a service: a person rejected a paused call; the model reads `reason`."""
        state.reject(item, rejection_message=f"Rejected by a person: {reason}")

    def edit(self, state: RunState, item: Any, args: Mapping[str, Any]) -> bool:
        """Without a service: a person edited a paused call. The edit is decided again by
        the policy; one it denies is rejected with the rule's reason (false), else the
        call is approved to run with exactly `args` (true)."""
        name = self.names.get(item.tool_name, item.tool_name)
        again = self.policy.evaluate({"tool": name, "args": dict(args), "context": self.context})
        if again.effect == "deny":
            state.reject(item, rejection_message=f"Not run: the policy refuses the edited call: {_reasons(again)}")
            return False
        original = json.loads(item.arguments or "{}")
        self._recorded[(item.call_id, _key(item.tool_name, original))] = dict(args)
        state.approve(item)
        return True

    def _service(self) -> Client | AsyncClient:
        if self.client is None:
            raise ValueError("this Gate has no service client: Gate(policy, client=holdpoint.Client(...))")
        return self.client

    async def submit(self, state: RunState, *, reasoning: Optional[str] = None) -> dict[str, str]:
        """Each pending approval of the paused run as a service request (the same request
        if submitted again); the request ids by call id."""
        client = self._service()
        for item in state.get_interruptions():
            args = json.loads(item.arguments or "{}")
            call = {"tool": self.names.get(item.tool_name, item.tool_name), "args": args, "context": self.context}
            sent = await _maybe(client.submit(call, tenant=self.tenant, run_id=self.run_id,
                                              tool_call_id=item.call_id, user=self.user, reasoning=reasoning))
            if "request" in sent:
                self.requests[item.call_id] = sent["request"]
            elif sent.get("effect") == "deny":
                reasons = (sent.get("decision") or {}).get("reasons") or []
                self._refused[item.call_id] = "; ".join(r.get("reason", "") for r in reasons) or "the policy denies it"
        return dict(self.requests)

    async def resolve(self, state: RunState, *, wait: float = 0) -> list[str]:
        """Applies the service's decisions to the paused run: an approved (or edited) call
        is approved in the run, and claimed when it runs (with the approved arguments); a refused
        one is rejected with the service's reason, which the model reads. Calls still
        waiting after `wait` seconds stay pending. The call ids still pending."""
        client = self._service()
        still: list[str] = []
        for item in state.get_interruptions():
            if item.call_id in self._refused:
                state.reject(item, rejection_message=f"Refused by policy: {self._refused.pop(item.call_id)}")
                continue
            rid = self.requests.get(item.call_id)
            if rid is None:
                still.append(item.call_id)
                continue
            if wait:
                now = await _maybe(client.wait_for_decision(rid, deadline=wait))
            else:
                now = await _maybe(client.wait(rid, timeout=0))
            if now.get("state") in ("pending", "escalated"):
                still.append(item.call_id)
                continue
            if now.get("state") in ("approved", "approved_with_edits"):
                self._approved[item.call_id] = rid
                state.approve(item)
                continue
            # Refused, expired or cancelled: the service's own words say why.
            try:
                await _maybe(client.claim(rid))
                message = f"the request is {now.get('state')}"
            except ServiceError as e:
                message = e.message
            state.reject(item, rejection_message=f"Not run: {message}")
        return still


def name_of(tool: FunctionTool) -> str:
    return tool.name


def _key(tool: str, args: Any) -> str:
    """A call as one string: the tool and its canonical arguments."""
    return json.dumps([tool, args], sort_keys=True, separators=(",", ":"))

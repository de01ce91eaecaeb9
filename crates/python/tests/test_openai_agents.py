"""The OpenAI Agents SDK adapter with the real `openai-agents` package and a scripted
model: a denied call returns its reason to the model, an approval pauses the run, the
service's edit runs with exactly the edited arguments and is reported, a rejection's
reason reaches the model, and without a service an edit the policy denies is refused."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("agents")

from agents import Agent, Runner  # noqa: E402

import holdpoint  # noqa: E402
from holdpoint.openai_agents import Gate  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import openai_agents_refunds as example  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_log():
    example.RAN.clear()


def test_the_example_runs_the_services_edit_and_reports_it(service):
    out = asyncio.run(example.main(service.base, service.tokens["agent"], service.tokens["fiona"]))
    assert out["pending"] == [("stripe_refund", {"amount": 900})]
    assert out["still"] == []
    assert out["ran"] == [("stripe.refund", {"amount": 450})], "the 6 000 never ran; the 900 ran as 450"
    assert "beyond what support refunds" in out["outputs"]["call_big"]
    assert out["request_state"] == "executed"


def test_a_rejection_reaches_the_model_with_the_approvers_reason(service):
    async def run():
        client = holdpoint.AsyncClient(service.base, service.tokens["agent"])
        gate = Gate(holdpoint.Policy.load(example.POLICY), client=client, tenant="acme", run_id="r-2",
                    names=example.NAMES)
        model = example.Scripted([[example.tool_call("stripe_refund", {"amount": 900}, "c1")], [example.say("ok")]])
        agent = Agent(name="support", model=model, tools=gate.wrap_all([example.stripe_refund]))
        result = await Runner.run(agent, "refund")
        state = result.to_state()
        rid = (await gate.submit(state))["c1"]
        # Not decided yet: it stays pending.
        assert await gate.resolve(state) == ["c1"]
        async with holdpoint.AsyncClient(service.base, service.tokens["fiona"]) as fiona:
            shown = await fiona.show(rid)
            await fiona.decide_request(rid, "reject", shown["digest"], reason="a duplicate of order 1142")
        assert await gate.resolve(state) == []
        await Runner.run(agent, state)
        await client.aclose()
        return {i["call_id"]: i["output"] for i in model.inputs[-1] if isinstance(i, dict) and i.get("type") == "function_call_output"}

    outputs = asyncio.run(run())
    assert "a duplicate of order 1142" in outputs["c1"]
    assert example.RAN == []


def test_without_a_service_an_edit_is_decided_again():
    async def run(amount):
        gate = Gate(holdpoint.Policy.load(example.POLICY), names=example.NAMES)
        model = example.Scripted([[example.tool_call("stripe_refund", {"amount": 900}, "c1")], [example.say("ok")]])
        agent = Agent(name="support", model=model, tools=gate.wrap_all([example.stripe_refund]))
        result = await Runner.run(agent, "refund")
        state = result.to_state()
        (item,) = state.get_interruptions()
        ok = gate.edit(state, item, {"amount": amount})
        await Runner.run(agent, state)
        return ok

    assert asyncio.run(run(450)) is True
    assert example.RAN == [("stripe.refund", {"amount": 450})]
    example.RAN.clear()
    assert asyncio.run(run(9000)) is False
    assert example.RAN == []


def test_a_reused_call_id_gets_its_own_decision_and_a_restored_run_runs_nothing_unrecorded():
    from agents import RunState

    from holdpoint.openai_agents import needs_approval

    policy = holdpoint.Policy.load(example.POLICY)

    async def run():
        gate = Gate(policy, names=example.NAMES)
        # The model reuses call id c1: first for a small refund (audited: runs), then for 4 000.
        first = example.Scripted([[example.tool_call("stripe_refund", {"amount": 40}, "c1")], [example.say("ok")]])
        await Runner.run(Agent(name="a", model=first, tools=gate.wrap_all([example.stripe_refund])), "go")
        second = example.Scripted([[example.tool_call("stripe_refund", {"amount": 4000}, "c1")], [example.say("ok")]])
        agent = Agent(name="a", model=second, tools=gate.wrap_all([example.stripe_refund]))
        result = await Runner.run(agent, "go")
        assert [i.call_id for i in result.interruptions] == ["c1"], "the 4 000 refund waits for a person"
        # Approved in the SDK's state only, then restored elsewhere with a fresh gate: nothing runs.
        state = result.to_state()
        state.approve(result.interruptions[0])
        restored = await RunState.from_string(agent, state.to_string())
        other = Gate(policy, names=example.NAMES)
        agent2 = Agent(name="a", model=second, tools=other.wrap_all([example.stripe_refund]))
        await Runner.run(agent2, restored)

    asyncio.run(run())
    assert example.RAN == [("stripe.refund", {"amount": 40})]
    # The plain needs_approval asks for a denied call too: it never runs unasked.
    assert needs_approval(policy, "stripe.refund")(None, {"amount": 6000}, "x") is True
    assert needs_approval(policy, "stripe.refund")(None, {"amount": 40}, "x") is False


def _approved_and_resolved(service, run_id, tool, claimed_elsewhere=False):
    """A 900 refund approved by fiona and resolved into the run; the run resumed. The
    request's state after `resolve` (before the run), its state at the end, and the
    tool's output the model read."""

    async def run():
        client = holdpoint.AsyncClient(service.base, service.tokens["agent"])
        gate = Gate(holdpoint.Policy.load(example.POLICY), client=client, tenant="acme", run_id=run_id,
                    names=example.NAMES)
        model = example.Scripted([[example.tool_call("stripe_refund", {"amount": 900}, "c1")], [example.say("ok")]])
        agent = Agent(name="support", model=model, tools=gate.wrap_all([tool]))
        state = (await Runner.run(agent, "refund")).to_state()
        rid = (await gate.submit(state))["c1"]
        async with holdpoint.AsyncClient(service.base, service.tokens["fiona"]) as fiona:
            await fiona.decide_request(rid, "approve", (await fiona.show(rid))["digest"])
        assert await gate.resolve(state) == []
        after_resolve = (await client.show(rid))["state"]
        if claimed_elsewhere:
            # Another worker claims it first: the claim is given once, to that worker.
            await client.claim(rid)
        error = None
        try:
            await Runner.run(agent, state)
        except Exception as e:  # the SDK raises a tool's error when it has no failure function
            error = e
        final = (await client.show(rid))["state"]
        await client.aclose()
        outputs = {i["call_id"]: i["output"] for i in model.inputs[-1]
                   if isinstance(i, dict) and i.get("type") == "function_call_output"}
        return after_resolve, final, outputs.get("c1"), error

    return asyncio.run(run())


def test_an_approved_call_is_claimed_when_it_runs_not_when_resolved(service):
    after_resolve, final, output, _ = _approved_and_resolved(service, "r-claim", example.stripe_refund)
    assert after_resolve == "approved", "resolve does not start the claim's lease"
    assert final == "executed"
    assert example.RAN == [("stripe.refund", {"amount": 900})]


def test_a_request_claimed_elsewhere_between_resolve_and_run_runs_nothing_here(service):
    after_resolve, final, output, _ = _approved_and_resolved(service, "r-twice", example.stripe_refund,
                                                             claimed_elsewhere=True)
    assert final == "executing", "the other worker's claim"
    assert example.RAN == []
    assert output is not None and output.startswith("Not run:")


def test_a_failing_tool_without_a_failure_function_is_reported_failed(service):
    from agents import function_tool

    @function_tool(name_override="stripe_refund", failure_error_function=None)
    def broken_refund(amount: float) -> str:
        """Refund the customer."""
        raise RuntimeError("the card processor is down")

    _, final, _, error = _approved_and_resolved(service, "r-fail", broken_refund)
    assert final == "failed"
    assert error is not None and "the card processor is down" in str(error)

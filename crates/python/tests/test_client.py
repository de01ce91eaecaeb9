"""The clients against a real `policy serve`: submit, an approver's decision over the API,
wait, claim once, verify the permit, report; refusals as `ServiceError`; retries only
where repeating is harmless."""

from __future__ import annotations

import asyncio

import httpx
import pytest

import holdpoint

# A confident agent: an edit down to 450 then needs no support lead's approval as well.
REFUND = {"tool": "stripe.refund", "args": {"amount": 900}, "context": {"confidence": 0.9}}


def test_the_whole_loop_through_the_blocking_client(service):
    agent = holdpoint.Client(service.base, service.tokens["agent"])
    fiona = holdpoint.Client(service.base, service.tokens["fiona"])
    assert agent.decide(REFUND)["effect"] == "approve"
    waiting = agent.submit(REFUND, tenant="acme", run_id="run-1", tool_call_id="c1",
                           user="uma@example.com", reasoning="the parcel arrived broken")
    rid = waiting["request"]
    assert waiting["state"] == "pending"
    # Submitting again is the same request (the service keys it by tenant, run and call).
    assert agent.submit(REFUND, tenant="acme", run_id="run-1", tool_call_id="c1",
                        user="uma@example.com")["request"] == rid
    assert agent.wait(rid, timeout=0)["state"] == "pending"
    with pytest.raises(holdpoint.ServiceError) as refused:
        agent.claim(rid)
    assert refused.value.status == 409
    fiona.decide_request(rid, "edit", waiting["digest"], set={"amount": 450})
    assert agent.wait_for_decision(rid, deadline=10)["state"] == "approved_with_edits"
    claimed = agent.claim(rid)
    assert claimed["call"]["args"]["amount"] == 450
    claims = agent.verify_permit(claimed["permit"], "stripe.refund", {"amount": 450})
    assert claims["request"] == rid
    with pytest.raises(holdpoint.PermitError):
        agent.verify_permit(claimed["permit"], "stripe.refund", {"amount": 900})
    # Keys fetched before the service changed its key: the permit is checked with the new one.
    real = dict(agent.keys())
    agent._keys = {"k-retired": "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE="}
    assert agent.verify_permit(claimed["permit"], "stripe.refund", {"amount": 450})["request"] == rid
    assert agent.keys() == real
    with pytest.raises(holdpoint.ServiceError) as twice:
        agent.claim(rid)
    assert twice.value.status == 409
    done = agent.report(rid, claimed["claim"], "executed", {"refund": "re_1"})
    assert done["state"] == "executed"


def test_an_agent_cannot_decide_and_a_bad_token_is_refused(service):
    agent = holdpoint.Client(service.base, service.tokens["agent"])
    waiting = agent.submit(REFUND, tenant="acme", run_id="run-1", tool_call_id="c2", user="uma@example.com")
    with pytest.raises(holdpoint.ServiceError) as e:
        agent.decide_request(waiting["request"], "approve", waiting["digest"])
    assert (e.value.status, e.value.code) == (403, "forbidden")
    stranger = holdpoint.Client(service.base, "hpt_not-a-token", retries=0)
    with pytest.raises(holdpoint.ServiceError) as e:
        stranger.decide(REFUND)
    assert e.value.status == 401
    cancelled = agent.cancel(waiting["request"], "the customer withdrew")
    assert cancelled["state"] == "cancelled"


def test_the_async_client_waits_for_an_approval(service):
    async def run():
        async with holdpoint.AsyncClient(service.base, service.tokens["agent"]) as agent, \
                holdpoint.AsyncClient(service.base, service.tokens["fiona"]) as fiona:
            w = await agent.submit(REFUND, tenant="acme", run_id="run-2", tool_call_id="a1", user="uma@example.com")
            waiting = asyncio.create_task(agent.wait_for_decision(w["request"], deadline=20))
            await asyncio.sleep(0.2)
            await fiona.decide_request(w["request"], "approve", w["digest"])
            assert (await waiting)["state"] == "approved"
            claimed = await agent.claim(w["request"])
            await agent.verify_permit(claimed["permit"], "stripe.refund", {"amount": 900})
            return await agent.report(w["request"], claimed["claim"], "executed")

    assert asyncio.run(run())["state"] == "executed"


def test_retries_repeat_only_what_is_harmless_twice():
    seen: list[str] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if len(seen) == 1:
            return httpx.Response(503, json={"error": {"code": "unavailable", "message": "starting"}})
        if request.url.path.endswith("/claim"):
            raise httpx.ReadTimeout("lost", request=request)
        return httpx.Response(200, json={"effect": "allow"})

    c = holdpoint.Client("http://127.0.0.1:9", "t", backoff=0, transport=httpx.MockTransport(flaky))
    assert c.decide(REFUND) == {"effect": "allow"}
    assert seen == ["/v1/decisions", "/v1/decisions"]
    seen.clear()
    seen.append("warm")  # the next answer is not the 503
    with pytest.raises(holdpoint.HoldpointError):
        c.claim("hp_1")
    assert seen.count("/v1/requests/hp_1/claim") == 1, "a claim whose answer was lost is not sent again"

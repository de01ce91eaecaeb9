"""An OpenAI Agents SDK agent whose tool calls the support policy decides, with the
approvals decided by people through `policy serve` (no model calls: a scripted model).

The model asks for a 6 000 refund (denied: the model reads why) and a 900 refund (waits
for finance). The run pauses; the approval goes to the service as a request; an approver
edits it to 450 (which the SDK alone cannot do); the run resumes and the refund runs with
450, and its outcome is reported to the service.

    python examples/openai_agents_refunds.py URL AGENT_TOKEN APPROVER_TOKEN
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from agents import Agent, ModelResponse, Runner, Usage, function_tool, set_tracing_disabled
from agents.models.interface import Model
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

import holdpoint
from holdpoint.openai_agents import Gate

set_tracing_disabled(True)
POLICY = Path(__file__).resolve().parents[3] / "policies" / "support"
RAN: list[tuple[str, dict]] = []
NAMES = {"stripe_refund": "stripe.refund"}  # the tool's name here, and in the policy


class Scripted(Model):
    """A model that answers from a script: one list of output items per turn."""

    def __init__(self, turns: list[list[Any]]):
        self.turns = list(turns)
        self.inputs: list[Any] = []

    async def get_response(self, system_instructions, input, model_settings, tools, output_schema,
                           handoffs, tracing, *, previous_response_id=None, conversation_id=None,
                           prompt=None, **kwargs) -> ModelResponse:
        self.inputs.append(input)
        return ModelResponse(output=self.turns.pop(0), usage=Usage(), response_id=None)

    def stream_response(self, *args, **kwargs):
        raise NotImplementedError


def tool_call(name: str, args: dict, call_id: str) -> ResponseFunctionToolCall:
    return ResponseFunctionToolCall(type="function_call", id=f"fc_{call_id}", call_id=call_id, name=name,
                                    arguments=json.dumps(args))


def say(text: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(type="message", id="msg_1", role="assistant", status="completed",
                                 content=[ResponseOutputText(type="output_text", text=text, annotations=[])])


@function_tool
def stripe_refund(amount: float) -> str:
    """Refund the customer."""
    RAN.append(("stripe.refund", {"amount": amount}))
    return f"refunded {amount}"


async def main(url: str, agent_token: str, approver_token: str) -> dict:
    policy = holdpoint.Policy.load(POLICY)
    service = holdpoint.AsyncClient(url, agent_token)
    gate = Gate(policy, client=service, tenant="acme", run_id="agents-run-1", user="uma@example.com", names=NAMES,
                context={"confidence": 0.9})
    model = Scripted([
        [tool_call("stripe_refund", {"amount": 6000}, "call_big"), tool_call("stripe_refund", {"amount": 900}, "call_900")],
        [say("Done: 450 refunded.")],
    ])
    agent = Agent(name="support", model=model, tools=gate.wrap_all([stripe_refund]))
    result = await Runner.run(agent, "The parcel arrived broken: refund me.")
    pending = [(i.tool_name, json.loads(i.arguments)) for i in result.interruptions]
    print(f"waits for a person: {pending}")
    state = result.to_state()
    requests = await gate.submit(state, reasoning="the customer's parcel arrived broken")
    # An approver (in the inbox, or here over the API) edits the refund to 450.
    async with holdpoint.AsyncClient(url, approver_token) as finance:
        rid = requests["call_900"]
        shown = await finance.show(rid)
        await finance.decide_request(rid, "edit", shown["digest"], set={"amount": 450})
    still = await gate.resolve(state)
    result = await Runner.run(agent, state)
    outputs = {i["call_id"]: i["output"] for i in model.inputs[-1]
               if isinstance(i, dict) and i.get("type") == "function_call_output"}
    print(f"the model read: {outputs}")
    print(result.final_output)
    final_state = (await service.show(rid))["state"]
    await service.aclose()
    return {"pending": pending, "still": still, "ran": list(RAN), "outputs": outputs,
            "final": result.final_output, "request_state": final_state}


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))

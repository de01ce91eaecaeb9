"""The LangGraph adapter with the real langgraph package and a scripted model: allowed
calls run once, a denied call returns its reason to the model, an approval stops the
graph before the tool runs, and on resume the tool runs with exactly the approved (edited)
arguments; a rejection and a non-decision run nothing; through the service, the service's
decision (not the resume value) says what runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("langgraph")

from langchain_core.messages import AIMessage, HumanMessage  # noqa: E402
from langgraph.types import Command  # noqa: E402

import holdpoint  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))

import langgraph_refunds as example  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_log():
    example.RAN.clear()


def test_the_example_runs_the_edited_refund_and_refuses_the_denied_one():
    out = example.main()
    assert out["asked"]["tool"] == "stripe.refund" and out["asked"]["args"] == {"amount": 900}
    assert ("kb.search", {"query": "refund limits"}) in out["ran"]
    assert ("stripe.refund", {"amount": 450}) in out["ran"]
    refunds = [args for name, args in out["ran"] if name == "stripe.refund"]
    assert refunds == [{"amount": 450}], "the 6 000 refund never ran, the 900 one ran once, as 450"
    assert out["ran"].count(("kb.search", {"query": "refund limits"})) == 1, "the allowed call ran once"
    assert "beyond what support refunds" in out["tool_messages"]["call_big"]
    assert out["final"].startswith("Done")


@pytest.mark.parametrize("answer, says", [
    ({"decision": "reject", "reason": "duplicate"}, "duplicate"),
    ({"decision": "yes please"}, "not a decision"),
    ({"decision": "edit", "args": {"amount": 9000}}, "refuses the edited call"),
])
def test_a_rejection_a_non_decision_and_a_denied_edit_run_nothing(answer, says):
    graph = example.build(holdpoint.Policy.load(example.POLICY))
    config = {"configurable": {"thread_id": f"t-{says}"}}
    graph.invoke({"messages": [HumanMessage("refund")]}, config)
    done = graph.invoke(Command(resume=answer), config)
    refused = {m.tool_call_id: m.content for m in done["messages"] if m.type == "tool"}
    assert says in refused["call_900"]
    assert [n for n, _ in example.RAN if n == "stripe.refund"] == []


def test_through_the_service_the_services_decision_says_what_runs(service):
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, MessagesState, StateGraph

    from holdpoint.langgraph import gated_tool_node, route_tool_calls

    agent_client = holdpoint.Client(service.base, service.tokens["agent"])
    fiona = holdpoint.Client(service.base, service.tokens["fiona"])
    policy = holdpoint.Policy.load(example.POLICY)
    model = GenericFakeChatModel(messages=iter([
        AIMessage(content="", tool_calls=[{"name": "stripe_refund", "args": {"amount": 900}, "id": "call_s1"}]),
        AIMessage(content="Done."),
    ]))
    g = StateGraph(MessagesState)
    g.add_node("agent", lambda s: {"messages": [model.invoke(s["messages"])]})
    g.add_node("tools", gated_tool_node([example.stripe_refund], policy, client=agent_client,
                                        tenant="acme", user="uma@example.com", names=example.NAMES,
                                        context={"confidence": 0.9}))
    g.add_edge(START, "agent")
    g.add_conditional_edges("agent", route_tool_calls, ["tools", "__end__"])
    g.add_edge("tools", "agent")
    graph = g.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "svc-run-1"}}
    first = graph.invoke({"messages": [HumanMessage("refund 900")]}, config)
    (waiting,) = first["__interrupt__"]
    rid = waiting.value["request"]
    # A resume that claims approval does not make it so: the request still waits.
    again = graph.invoke(Command(resume={"decision": "approve"}), config)
    assert again.get("__interrupt__"), "still waiting for a person"
    assert example.RAN == []
    shown = fiona.show(rid)
    fiona.decide_request(rid, "edit", shown["digest"], set={"amount": 450})
    done = graph.invoke(Command(resume="decided"), config)
    assert example.RAN == [("stripe.refund", {"amount": 450})]
    assert agent_client.show(rid)["state"] == "executed"
    assert done["messages"][-1].content == "Done."

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
    assert out["asked"]["tool"] == "stripe.refund" and out["asked"]["args"] == {"amount": 300}
    assert ("kb.search", {"query": "refund limits"}) in out["ran"]
    refunds = [args for name, args in out["ran"] if name == "stripe.refund"]
    assert refunds == [{"amount": 80}], "only the sync gate's refund ran, once, as edited"
    assert out["ran"].count(("kb.search", {"query": "refund limits"})) == 1, "the allowed call ran once"
    assert "beyond what support refunds" in out["tool_messages"]["call_big"]
    assert "asynchronously" in out["tool_messages"]["call_900"], "an async gate needs the service"
    assert out["final"].startswith("Done")


@pytest.mark.parametrize("answer, says", [
    ({"decision": "reject", "reason": "duplicate"}, "duplicate"),
    ({"decision": "yes please"}, "not a decision"),
    ({"decision": "edit", "args": {"amount": 9000}}, "refuses the edited call"),
    ({"decision": "edit", "args": {"amount": 600}}, "needs another approval"),
    ({"decision": "approve", "tool_call_id": "call_900"}, "not this one"),
])
def test_a_rejection_a_non_decision_and_a_bad_edit_run_nothing(answer, says):
    graph = example.build(holdpoint.Policy.load(example.POLICY))
    config = {"configurable": {"thread_id": f"t-{says}"}}
    graph.invoke({"messages": [HumanMessage("refund")]}, config)
    done = graph.invoke(Command(resume=answer), config)
    refused = {m.tool_call_id: m.content for m in done["messages"] if m.type == "tool"}
    assert says in refused["call_300"]
    assert [n for n, _ in example.RAN if n == "stripe.refund"] == []


def test_only_the_decisions_a_gate_allows_are_taken_and_calls_go_one_a_task():
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.tools import tool
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.prebuilt import tools_condition

    from holdpoint.langgraph import gated_tool_node, route_tool_calls

    paid = []

    @tool
    def pay(amount: int) -> str:
        """Pay."""
        paid.append(amount)
        return "paid"

    policy = holdpoint.Policy.from_source(
        'default allow\napprove pay_gate {\n  when tool == "pay"\n  mode sync\n  by "finance"\n'
        "  decisions approve, reject\n}\n")

    def graph_of(calls, route):
        model = GenericFakeChatModel(messages=iter([AIMessage(content="", tool_calls=calls), AIMessage(content="ok")]))
        g = StateGraph(MessagesState)
        g.add_node("agent", lambda s: {"messages": [model.invoke(s["messages"])]})
        g.add_node("tools", gated_tool_node([pay], policy))
        g.add_edge(START, "agent")
        g.add_conditional_edges("agent", route, ["tools", "__end__"])
        g.add_edge("tools", "agent")
        return g.compile(checkpointer=InMemorySaver())

    one = [{"name": "pay", "args": {"amount": 10}, "id": "p1"}]
    graph = graph_of(one, route_tool_calls)
    config = {"configurable": {"thread_id": "allowed"}}
    graph.invoke({"messages": [HumanMessage("pay")]}, config)
    done = graph.invoke(Command(resume={"decision": "edit", "args": {"amount": 99999}}), config)
    assert "allows approve, reject, not edit" in [m.content for m in done["messages"] if m.type == "tool"][0]
    assert paid == []
    # Several calls in one task would run twice on resume: refused outright.
    two = one + [{"name": "pay", "args": {"amount": 5000}, "id": "p2"}]
    with pytest.raises(ValueError, match="route_tool_calls"):
        graph_of(two, tools_condition).invoke({"messages": [HumanMessage("pay")]}, {"configurable": {"thread_id": "x"}})
    assert paid == []


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


def test_under_ainvoke_the_example_decides_the_same_and_async_tools_run():
    import asyncio

    graph = example.build(holdpoint.Policy.load(example.POLICY))
    config = {"configurable": {"thread_id": "async-1"}}

    async def run():
        first = await graph.ainvoke({"messages": [HumanMessage("refund")]}, config)
        (waiting,) = first["__interrupt__"]
        assert waiting.value["tool"] == "stripe.refund" and waiting.value["args"] == {"amount": 300}
        assert example.RAN == [("kb.search", {"query": "refund limits"})], "only the allowed call ran so far"
        done = await graph.ainvoke(Command(resume={"decision": "edit", "args": {"amount": 80}}), config)
        return done, {m.tool_call_id: m.content for m in done["messages"] if m.type == "tool"}

    done, outputs = asyncio.run(run())
    assert [args for name, args in example.RAN if name == "stripe.refund"] == [{"amount": 80}]
    assert example.RAN.count(("kb.search", {"query": "refund limits"})) == 1, "the allowed call ran once"
    assert "beyond what support refunds" in outputs["call_big"]
    assert "asynchronously" in outputs["call_900"]
    assert done["messages"][-1].content.startswith("Done")


def _async_service_graph(client, tool):
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, MessagesState, StateGraph

    from holdpoint.langgraph import gated_tool_node, route_tool_calls

    model = GenericFakeChatModel(messages=iter([
        AIMessage(content="", tool_calls=[{"name": "stripe_refund", "args": {"amount": 900}, "id": "call_a1"}]),
        AIMessage(content="Done."),
    ]))
    g = StateGraph(MessagesState)
    g.add_node("agent", lambda s: {"messages": [model.invoke(s["messages"])]})
    g.add_node("tools", gated_tool_node([tool], holdpoint.Policy.load(example.POLICY), client=client,
                                        tenant="acme", user="uma@example.com", names=example.NAMES,
                                        context={"confidence": 0.9}))
    g.add_edge(START, "agent")
    g.add_conditional_edges("agent", route_tool_calls, ["tools", "__end__"])
    g.add_edge("tools", "agent")
    return g.compile(checkpointer=InMemorySaver())


def test_with_an_async_client_an_async_tool_runs_what_the_service_approved(service):
    import asyncio

    from langchain_core.tools import tool

    @tool("stripe_refund")
    async def refund(amount: float) -> str:
        """Refund the customer."""
        example.RAN.append(("stripe.refund", {"amount": amount}))
        return f"refunded {amount}"

    async def run():
        async with holdpoint.AsyncClient(service.base, service.tokens["agent"]) as agent, \
                holdpoint.AsyncClient(service.base, service.tokens["fiona"]) as fiona:
            with pytest.raises(TypeError, match="ainvoke"):
                _async_service_graph(agent, refund).invoke({"messages": [HumanMessage("refund 900")]},
                                                           {"configurable": {"thread_id": "sync"}})
            graph = _async_service_graph(agent, refund)
            config = {"configurable": {"thread_id": "async-svc-1"}}
            first = await graph.ainvoke({"messages": [HumanMessage("refund 900")]}, config)
            rid = first["__interrupt__"][0].value["request"]
            again = await graph.ainvoke(Command(resume={"decision": "approve"}), config)
            assert again.get("__interrupt__"), "a resume value is not a decision"
            assert example.RAN == []
            await fiona.decide_request(rid, "edit", (await fiona.show(rid))["digest"], set={"amount": 450})
            done = await graph.ainvoke(Command(resume="decided"), config)
            return done, (await agent.show(rid))["state"]

    done, state = asyncio.run(run())
    assert example.RAN == [("stripe.refund", {"amount": 450})]
    assert state == "executed"
    assert done["messages"][-1].content == "Done."

"""A LangGraph agent whose tool calls the support policy decides (no model calls: a
scripted chat model), at a confidence of 0.5. It asks for four things at once: a
knowledge-base search (allowed), a 6 000 refund (denied: beyond what support refunds), a
900 refund (an asynchronous finance gate: without the approval service, not run) and a
300 refund (a sync gate: a support lead decides now). The graph stops before the 300
refund runs; the lead edits it to 80 and approves; the refund runs with 80.

    python examples/langgraph_refunds.py
"""

from __future__ import annotations

from pathlib import Path

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.types import Command

import holdpoint
from holdpoint.langgraph import gated_tool_node, route_tool_calls

POLICY = Path(__file__).resolve().parents[3] / "policies" / "support"
RAN: list[tuple[str, dict]] = []
# Model APIs allow no dots in tool names: each tool's name here, and in the policy.
NAMES = {"kb_search": "kb.search", "stripe_refund": "stripe.refund"}


@tool
def kb_search(query: str) -> str:
    """Search the knowledge base."""
    RAN.append(("kb.search", {"query": query}))
    return "Refunds over 500 need finance."


@tool
def stripe_refund(amount: float) -> str:
    """Refund the customer."""
    RAN.append(("stripe.refund", {"amount": amount}))
    return f"refunded {amount}"


def build(policy: holdpoint.Policy):
    model = GenericFakeChatModel(messages=iter([
        AIMessage(content="", tool_calls=[
            {"name": "kb_search", "args": {"query": "refund limits"}, "id": "call_kb"},
            {"name": "stripe_refund", "args": {"amount": 6000}, "id": "call_big"},
            {"name": "stripe_refund", "args": {"amount": 900}, "id": "call_900"},
            {"name": "stripe_refund", "args": {"amount": 300}, "id": "call_300"},
        ]),
        AIMessage(content="Done: the refund is on its way."),
    ]))

    def agent(state: MessagesState):
        return {"messages": [model.invoke(state["messages"])]}

    g = StateGraph(MessagesState)
    g.add_node("agent", agent)
    g.add_node("tools", gated_tool_node([kb_search, stripe_refund], policy, names=NAMES,
                                        context={"confidence": 0.5}))
    g.add_edge(START, "agent")
    g.add_conditional_edges("agent", route_tool_calls, ["tools", "__end__"])
    g.add_edge("tools", "agent")
    return g.compile(checkpointer=InMemorySaver())


def main() -> dict:
    policy = holdpoint.Policy.load(POLICY)
    graph = build(policy)
    config = {"configurable": {"thread_id": "refund-1142"}}
    first = graph.invoke({"messages": [HumanMessage("The parcel arrived broken: refund me.")]}, config)
    (waiting,) = first["__interrupt__"]
    asked = waiting.value
    print(f"waits for a person: {asked['tool']} {asked['args']} ({asked['decision']['reasons'][0]['reason']})")
    # A support lead edits the amount and approves.
    done = graph.invoke(Command(resume={"decision": "edit", "args": {"amount": 80}}), config)
    tools = [m for m in done["messages"] if m.type == "tool"]
    for m in tools:
        print(f"{m.tool_call_id}: {m.content}")
    print(done["messages"][-1].content)
    return {"asked": asked, "ran": list(RAN), "tool_messages": {m.tool_call_id: m.content for m in tools},
            "final": done["messages"][-1].content}


if __name__ == "__main__":
    main()

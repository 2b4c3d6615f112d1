"""LangGraph: two requests on one conversation thread at once; one exchange is lost.

A user sends two messages in quick succession. Each request builds its own graph (a factory,
as the AutoGen fix would suggest) but both continue the same thread of the shared checkpointer:
both runs start from the same checkpoint and the later write wins, so the thread ends with one
exchange instead of two. Offline: LangChain's FakeListChatModel plays the model.

    RACETRACE=1 python samples/langgraph_shared_thread.py && racetrace report racetrace-traces
Fixed twin: langgraph_shared_thread_fixed.py (one run at a time per thread).
"""

import asyncio

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph

SAVER = InMemorySaver()  # the service's conversation store
# Stateless and shared, as LangChain models are; `sleep` stands for the model's latency.
MODEL = FakeListChatModel(responses=["Hello!", "Order 42 has shipped."], sleep=0.05)
THREAD = {"configurable": {"thread_id": "user-7"}}
MESSAGES = ["hi", "where is order 42?"]


def build_graph():  # type: ignore[no-untyped-def]
    async def respond(state: MessagesState) -> dict:
        return {"messages": [await MODEL.ainvoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("respond", respond)
    builder.add_edge(START, "respond")
    builder.add_edge("respond", END)
    return builder.compile(checkpointer=SAVER)


async def handle(message: str) -> str:
    graph = build_graph()  # a graph per request: the thread is shared all the same
    state = await graph.ainvoke({"messages": [("user", message)]}, THREAD)
    return state["messages"][-1].content


async def main() -> None:
    print(await asyncio.gather(*(handle(m) for m in MESSAGES)))
    state = await build_graph().aget_state(THREAD)
    print(f"thread user-7 holds {len(state.values['messages'])} messages; "
          f"{2 * len(MESSAGES)} were exchanged")


if __name__ == "__main__":
    asyncio.run(main())

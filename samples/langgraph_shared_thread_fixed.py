"""The fix for langgraph_shared_thread.py: one run at a time per conversation thread.

A lock per thread id queues the second message behind the first, so it starts from the
checkpoint the first one wrote. (Across processes the same rule needs a shared lock, or a
queue per thread, as LangGraph Platform's "double texting" options provide.)

    RACETRACE=1 python samples/langgraph_shared_thread_fixed.py && racetrace report racetrace-traces
"""

import asyncio
from collections import defaultdict

from langgraph_shared_thread import MESSAGES, THREAD, build_graph

THREAD_LOCKS: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)


async def handle(message: str) -> str:
    graph = build_graph()
    async with THREAD_LOCKS[THREAD["configurable"]["thread_id"]]:
        state = await graph.ainvoke({"messages": [("user", message)]}, THREAD)
    return state["messages"][-1].content


async def main() -> None:
    print(await asyncio.gather(*(handle(m) for m in MESSAGES)))
    state = await build_graph().aget_state(THREAD)
    print(f"thread user-7 holds {len(state.values['messages'])} messages")


if __name__ == "__main__":
    asyncio.run(main())

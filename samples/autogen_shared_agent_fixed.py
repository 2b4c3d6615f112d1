"""The fix for autogen_shared_agent.py: each request gets an agent of its own (a factory).

    RACETRACE=1 python samples/autogen_shared_agent_fixed.py && racetrace report racetrace-traces
"""

import asyncio

from autogen_shared_agent import ORDERS, make_agent


async def handle(order_id: int) -> str:
    agent = make_agent([order_id])  # per request: its model context is this conversation's
    result = await agent.run(task=f"Where is my order {order_id}?")
    return result.messages[-1].to_text()


async def main() -> None:
    for answer in await asyncio.gather(*(handle(o) for o in ORDERS)):
        print(answer)


if __name__ == "__main__":
    asyncio.run(main())

"""A module-level singleton agent hit by concurrent "requests", as in a web service.

Requests arrive every 30 ms and each takes longer than that, so they overlap on the one agent.
Fixed twin: singleton_requests_fixed.py (a lock serializes access to the singleton).
"""

import asyncio

from agentlib import Agent

AGENT = Agent("support")  # one agent for the whole process: the bug


async def handle(request_id: int) -> str:
    replies = await AGENT.run(f"request {request_id}")
    return replies[-1]


async def serve(requests: int = 5, interval: float = 0.03) -> None:
    pending = []
    for request_id in range(requests):
        pending.append(asyncio.create_task(handle(request_id), name=f"request-{request_id}"))
        await asyncio.sleep(interval)
    await asyncio.gather(*pending)
    print(f"served {requests} requests; the agent's history has {len(AGENT.history)} lines")


if __name__ == "__main__":
    asyncio.run(serve())

"""The fix for singleton_requests.py: a lock lets one request at a time use the singleton."""

import asyncio

from agentlib import Agent

AGENT = Agent("support")
AGENT_LOCK = asyncio.Lock()


async def handle(request_id: int) -> str:
    async with AGENT_LOCK:
        replies = await AGENT.run(f"request {request_id}")
    return replies[-1]


# Requests arrive when clients send them: irregular gaps, each shorter than a request takes.
ARRIVAL_GAPS = (0.012, 0.041, 0.018, 0.033, 0.025)


async def serve(requests: int = 5) -> None:
    pending = []
    for request_id in range(requests):
        pending.append(asyncio.create_task(handle(request_id), name=f"request-{request_id}"))
        await asyncio.sleep(ARRIVAL_GAPS[request_id % len(ARRIVAL_GAPS)])
    await asyncio.gather(*pending)
    print(f"served {requests} requests, one at a time")


if __name__ == "__main__":
    asyncio.run(serve())

"""A periodic job whose runs take longer than its interval, so each tick overlaps the last.

Fixed twin: periodic_overlap_fixed.py (a running guard skips a tick while the job runs).
"""

import asyncio

from agentlib import Agent, FakeModel

digest = Agent("digest", FakeModel(latency=0.12))


async def every(interval: float, ticks: int) -> None:
    jobs = []
    for tick in range(ticks):
        jobs.append(asyncio.create_task(digest.run(f"digest #{tick}"), name=f"tick-{tick}"))
        await asyncio.sleep(interval)
    await asyncio.gather(*jobs)
    print(f"{ticks} ticks done")


if __name__ == "__main__":
    asyncio.run(every(0.1, 6))

"""The fix for periodic_overlap.py: a running guard skips a tick while the previous one runs.

It runs for ten ticks, long enough for racetrace to see the timer (at least three jobs created
one by one by one task at a steady interval): one timer starting one job at a time is
serialized by design, no latent sharing (`racetrace report -v` says so).
"""

import asyncio

from agentlib import Agent, FakeModel

# Each job (two seeded model calls) ends at least 29 ms away from a tick: which ticks the guard
# skips does not change with a timer a little late on a loaded machine, so every run of this
# sample records the same five jobs.
digest = Agent("digest", FakeModel(latency=0.09))


async def every(interval: float, ticks: int) -> None:
    running: asyncio.Task[list[str]] | None = None
    skipped = 0
    for tick in range(ticks):
        if running is not None and not running.done():
            skipped += 1
        else:
            running = asyncio.create_task(digest.run(f"digest #{tick}"), name=f"tick-{tick}")
        await asyncio.sleep(interval)
    if running is not None:
        await running
    print(f"{ticks} ticks, {skipped} skipped while the job was still running")


if __name__ == "__main__":
    asyncio.run(every(0.1, 10))

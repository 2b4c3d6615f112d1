"""Synchronous calls made on a thread whose event loop is running, one scenario per mode.

    python loop_program.py nested|blocking|offloaded|awaitable|nested_sync|deadlock|run_sync
        [SECONDS]
"""

import asyncio
import sys

from loopsvc import Service

SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 0.3


async def nested() -> None:
    try:
        Service("nested").fetch()  # call: nested
    except RuntimeError as exc:
        print(f"raised: {exc}")


async def blocking() -> None:
    ticks = asyncio.create_task(ticker())  # another task on the loop: it waits
    await asyncio.sleep(0)
    Service("blocking").slow(SECONDS)  # call: blocking
    ticks.cancel()


async def ticker() -> None:
    while True:
        await asyncio.sleep(0.01)


async def offloaded() -> None:
    await asyncio.to_thread(Service("offloaded").slow, SECONDS)


async def awaitable() -> None:
    await Service("awaitable").later(SECONDS)  # call: awaitable


async def nested_sync() -> None:
    Service("outer").outer(Service("inner"), SECONDS)  # call: nested_sync


async def deadlock() -> None:
    print("waiting", flush=True)
    Service("deadlock").wait_for_loop()  # call: deadlock


async def run_sync() -> None:
    from agents import Agent, Runner

    agent = Agent(name="helper", instructions="Answer briefly.")
    try:
        Runner.run_sync(agent, "hello")  # call: run_sync
    except RuntimeError as exc:
        print(f"raised: {exc}")


if __name__ == "__main__":
    asyncio.run(globals()[sys.argv[1]]())

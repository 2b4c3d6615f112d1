"""The fix for reentrant_callback.py: the callback queues the follow-up; it runs afterwards."""

import asyncio

from agentlib import Agent

agent = Agent("planner")
follow_ups: list[str] = []


async def on_message(message: str) -> None:
    if "step 0" in message and "follow-up" not in message:
        follow_ups.append("follow-up: summarize")


async def main() -> None:
    await agent.run("plan the release", on_message=on_message)
    while follow_ups:
        await agent.run(follow_ups.pop(0))
    print(f"done; history has {len(agent.history)} lines, one run after the other")


if __name__ == "__main__":
    asyncio.run(main())

"""A message callback that calls `run()` again on the agent that is still running.

Fixed twin: reentrant_callback_fixed.py (the follow-up is queued and run after the first run).
"""

import asyncio

from agentlib import Agent

agent = Agent("planner")


async def on_message(message: str) -> None:
    if "step 0" in message and "follow-up" not in message:
        await agent.run("follow-up: summarize")  # re-enters the agent mid-run


async def main() -> None:
    await agent.run("plan the release", on_message=on_message)
    print(f"done; history has {len(agent.history)} lines from two interleaved runs")


if __name__ == "__main__":
    asyncio.run(main())

"""One agent shared by `asyncio.gather`: its runs overlap and its history gets mixed.

    racetrace run -t agentlib:Agent.run -t agentlib:Agent.run_stream -- \
        python samples/shared_gather.py
Fixed twin: shared_gather_fixed.py (an agent per task).
"""

import asyncio

from agentlib import Agent

QUESTIONS = ["refund order 17", "track order 42", "cancel order 99"]


async def main() -> None:
    agent = Agent("assistant")
    answers = await asyncio.gather(*(agent.run(q) for q in QUESTIONS))
    print(f"{len(answers)} answers; the shared history has {len(agent.history)} interleaved lines")


if __name__ == "__main__":
    asyncio.run(main())

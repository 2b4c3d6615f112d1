"""The fix for shared_gather.py: a factory gives each task an agent of its own."""

import asyncio

from agentlib import Agent

QUESTIONS = ["refund order 17", "track order 42", "cancel order 99"]


def make_agent() -> Agent:
    return Agent("assistant")


async def main() -> None:
    answers = await asyncio.gather(*(make_agent().run(q) for q in QUESTIONS))
    print(f"{len(answers)} answers, each from its own agent")


if __name__ == "__main__":
    asyncio.run(main())

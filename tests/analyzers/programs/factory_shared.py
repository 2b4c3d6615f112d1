"""A factory is in place (make_agent), but one of its agents is handed to several tasks."""

import asyncio

from agentlib import Agent


def make_agent(name: str) -> Agent:
    return Agent(name)


async def main() -> None:
    agents = [make_agent(f"worker-{n}") for n in range(3)]
    for agent in agents:
        await agent.run("warm up")
    shared = agents[0]
    await asyncio.gather(*(shared.run(q) for q in ("a", "b")))


if __name__ == "__main__":
    asyncio.run(main())

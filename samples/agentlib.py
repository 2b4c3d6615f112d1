"""A miniature agent framework for the samples: no dependencies, real asyncio.

It has the shape of the real ones (AutoGen, LangChain): an `Agent` owns conversation state
(`history`), `run()` delegates to `run_stream()` on the same instance, a `Team` refuses to run
twice at once, and model calls are awaited. Sharing one instance between overlapping runs
silently mixes histories, exactly the bug racetrace finds.

Trace it with:
    racetrace run --target agentlib:Agent.run --target agentlib:Agent.run_stream \
        --target agentlib:Team.run -- python samples/shared_gather.py
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable

TARGETS = ("agentlib:Agent.run", "agentlib:Agent.run_stream", "agentlib:Team.run")


class FakeModel:
    """Answers after a short, seeded delay, like a model client in a test."""

    def __init__(self, latency: float = 0.05, seed: int = 7) -> None:
        self.latency = latency
        self._random = random.Random(seed)

    async def complete(self, prompt: str) -> str:
        await asyncio.sleep(self.latency * (0.5 + self._random.random()))
        return f"answer to {prompt!r}"


class Agent:
    def __init__(self, name: str, model: FakeModel | None = None) -> None:
        self.name = name
        self.model = model or FakeModel()
        self.history: list[str] = []

    async def run(
        self, task: str, on_message: Callable[[str], Awaitable[None]] | None = None
    ) -> list[str]:
        """Run one task to the end; delegates to `run_stream` on this same agent."""
        messages = []
        async for message in self.run_stream(task):
            messages.append(message)
            if on_message is not None:
                await on_message(message)
        return messages

    async def run_stream(self, task: str) -> AsyncIterator[str]:
        self.history.append(f"user: {task}")
        for step in range(2):
            reply = await self.model.complete(f"{task} (step {step})")
            self.history.append(f"{self.name}: {reply}")
            yield reply


class Team:
    """Agents taking turns; like AutoGen's teams it refuses to run twice at once."""

    def __init__(self, agents: list[Agent]) -> None:
        self.agents = agents
        self.name = "team"
        self._running = False

    async def run(self, task: str) -> list[str]:
        if self._running:
            raise ValueError(
                "The team is already running, it cannot run again until it is stopped."
            )
        self._running = True
        try:
            out = []
            for agent in self.agents:
                out.extend(await agent.run(task))
            return out
        finally:
            self._running = False

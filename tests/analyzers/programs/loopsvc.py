"""A service with synchronous methods, traced by `loop_program.py`'s runs (its targets:
`loopsvc:Service.fetch`, `loopsvc:Service.slow`, `loopsvc:Service.outer`,
`loopsvc:Service.wait_for_loop`, `loopsvc:Service.later`)."""

import asyncio
import time


class Service:
    def __init__(self, name: str) -> None:
        self.name = name

    def fetch(self) -> str:
        """A sync wrapper around async code: runs an event loop of its own."""
        return asyncio.run(self._fetch())

    async def _fetch(self) -> str:
        await asyncio.sleep(0)
        return "fetched"

    def slow(self, seconds: float) -> str:
        time.sleep(seconds)
        return "done"

    def outer(self, other: "Service", seconds: float) -> str:
        """A sync run that calls another traced sync run on the same thread."""
        return other.slow(seconds)

    def later(self, seconds: float):
        """A plain method that returns a coroutine: the caller awaits the work."""
        return self._sleep(seconds)

    async def _sleep(self, seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "slept"

    def wait_for_loop(self) -> str:
        """Waits for work that only the loop it is blocking could run: never returns."""
        loop = asyncio.get_running_loop()
        return asyncio.run_coroutine_threadsafe(self._fetch(), loop).result()

"""Generator runs last while the consumer uses them: exhausted, closed early, or abandoned.

An abandoned generator (not closed, finalized later by the garbage collector or at loop
shutdown) must end at its last yield: finalization can come long after, and must neither
stretch the run nor invent an overlap with the instance's next run.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Tracing

STREAMS = """
    import asyncio

    class Streamer:
        name = "streamer"

        def __init__(self):
            self.cleaned_up = []

        def stream(self, n):
            try:
                for i in range(n):
                    yield i
            finally:
                self.cleaned_up.append("stream")

        async def astream(self, n):
            try:
                for i in range(n):
                    await asyncio.sleep(0)
                    yield i
            finally:
                self.cleaned_up.append("astream")

        def ping(self):
            return "pong"

        async def aping(self):
            return "pong"
"""


@pytest.fixture
def streams(tracing: Tracing):  # type: ignore[no-untyped-def]
    module = tracing.module(STREAMS)
    tracing.instrument(module, "Streamer.stream", "Streamer.astream", "Streamer.ping",
                       "Streamer.aping")
    return module


def test_exhausted_generator_run_ends_when_exhausted(tracing: Tracing, streams) -> None:  # type: ignore[no-untyped-def]
    s = streams.Streamer()
    gen = s.stream(3)
    assert next(gen) == 0
    time.sleep(0.02)
    after_first = time.time_ns()
    assert list(gen) == [1, 2]
    [run] = tracing.runs()
    assert (run.status, run.end_reason) == ("ok", "exhausted")
    assert run.end_ns is not None and run.end_ns >= after_first


def test_generator_closed_early_ends_when_closed(tracing: Tracing, streams) -> None:  # type: ignore[no-untyped-def]
    s = streams.Streamer()
    gen = s.stream(10)
    assert next(gen) == 0
    time.sleep(0.02)
    before_close = time.time_ns()
    gen.close()
    assert s.cleaned_up == ["stream"]  # GeneratorExit reached the original
    [run] = tracing.runs()
    assert (run.status, run.end_reason) == ("ok", "closed")
    assert run.end_ns is not None and run.end_ns >= before_close


def test_abandoned_generator_ends_at_its_last_yield(tracing: Tracing, streams) -> None:  # type: ignore[no-untyped-def]
    s = streams.Streamer()
    gen = s.stream(10)
    assert next(gen) == 0
    last_yield_seen = time.time_ns()
    holder: list[object] = [gen]
    holder.append(holder)  # a reference cycle: only the cyclic collector frees it
    del gen, holder
    time.sleep(0.02)
    assert s.ping() == "pong"  # the instance's next run
    gc.collect()
    assert s.cleaned_up == ["stream"]
    abandoned, later = tracing.runs()
    assert abandoned.end_reason == "closed"
    assert abandoned.end_ns is not None and abandoned.end_ns <= last_yield_seen
    assert abandoned.end_ns < later.start_ns  # no overlap invented


def test_generator_consumer_is_not_part_of_the_run(tracing: Tracing, streams) -> None:  # type: ignore[no-untyped-def]
    s = streams.Streamer()
    for _ in s.stream(2):
        s.ping()  # the consumer calls the instance between items: a separate run
    stream, ping1, ping2 = tracing.runs()
    assert stream.method.endswith("stream") and ping1.method.endswith("ping")
    assert ping1.parent_run_id is None and ping2.parent_run_id is None


def test_exception_thrown_into_a_generator_passes_through(tracing: Tracing, streams) -> None:  # type: ignore[no-untyped-def]
    s = streams.Streamer()
    gen = s.stream(5)
    next(gen)
    error = ValueError("thrown in")
    with pytest.raises(ValueError) as caught:
        gen.throw(error)
    assert caught.value is error
    [run] = tracing.runs()
    assert (run.status, run.error_type) == ("error", "builtins.ValueError")


def test_exhausted_async_generator_run_ends_when_exhausted(tracing: Tracing, streams) -> None:  # type: ignore[no-untyped-def]
    s = streams.Streamer()

    async def main() -> tuple[list[int], int]:
        agen = s.astream(3)
        first = await agen.__anext__()
        await asyncio.sleep(0.02)
        after_first = time.time_ns()
        return [first] + [i async for i in agen], after_first

    items, after_first = asyncio.run(main())
    assert items == [0, 1, 2]
    [run] = tracing.runs()
    assert (run.status, run.end_reason) == ("ok", "exhausted")
    assert run.end_ns is not None and run.end_ns >= after_first


def test_async_generator_closed_early_ends_when_closed(tracing: Tracing, streams) -> None:  # type: ignore[no-untyped-def]
    s = streams.Streamer()

    async def main() -> int:
        agen = s.astream(10)
        await agen.__anext__()
        await asyncio.sleep(0.02)
        before_close = time.time_ns()
        await agen.aclose()
        return before_close

    before_close = asyncio.run(main())
    assert s.cleaned_up == ["astream"]
    [run] = tracing.runs()
    assert (run.status, run.end_reason) == ("ok", "closed")
    assert run.end_ns is not None and run.end_ns >= before_close


def test_async_generator_abandoned_and_collected_ends_at_its_last_yield(
    tracing: Tracing, streams  # type: ignore[no-untyped-def]
) -> None:
    s = streams.Streamer()

    async def main() -> int:
        agen = s.astream(10)
        async for _ in agen:
            break  # `break` does not close an async generator: it is abandoned
        last_yield_seen = time.time_ns()
        holder: list[object] = [agen]
        holder.append(holder)  # only the cyclic collector frees it
        del agen, holder
        await asyncio.sleep(0.02)
        await s.aping()  # the instance's next run
        gc.collect()  # the loop's finalizer hook schedules aclose() now
        for _ in range(5):
            await asyncio.sleep(0)
        assert s.cleaned_up == ["astream"]
        return last_yield_seen

    last_yield_seen = asyncio.run(main())
    abandoned, later = tracing.runs()
    assert abandoned.end_reason == "closed"
    assert abandoned.end_ns is not None and abandoned.end_ns <= last_yield_seen
    assert abandoned.end_ns < later.start_ns  # no overlap invented


def test_async_generator_abandoned_until_loop_shutdown_ends_at_its_last_yield(
    tracing: Tracing, streams  # type: ignore[no-untyped-def]
) -> None:
    s = streams.Streamer()
    kept: list[object] = []

    async def main() -> int:
        agen = s.astream(10)
        await agen.__anext__()
        last_yield_seen = time.time_ns()
        kept.append(agen)  # still referenced when asyncio.run() shuts the loop down
        await asyncio.sleep(0.02)
        await s.aping()
        await asyncio.sleep(0.02)
        return last_yield_seen

    last_yield_seen = asyncio.run(main())
    assert s.cleaned_up == ["astream"]  # closed by the loop's shutdown_asyncgens()
    abandoned, later = tracing.runs()
    assert abandoned.end_reason == "closed"
    assert abandoned.end_ns is not None and abandoned.end_ns <= last_yield_seen
    assert abandoned.end_ns < later.start_ns

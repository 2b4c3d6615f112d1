"""Wrappers that turn each call of a traced method into one run, and change nothing else.

The wrapper is a `wrapt.FunctionWrapper`, so `inspect.iscoroutinefunction`, signatures,
`__wrapped__` and descriptor binding behave as for the original. What a call returns is passed
through, except that coroutines and generators are driven by ours so that the run lasts as long
as the work does. Those drivers re-enter the run's context only while the original code runs
(never while suspended at a yield), so the consumer of a generator is not mistaken for part of
its run.
"""

from __future__ import annotations

import inspect
import sys
import time
import types
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, TypeVar

from . import runtime
from .errors import internal_error
from .runtime import ActiveRun, PendingRun, activate, deactivate

if TYPE_CHECKING:
    from .targets import Target

T = TypeVar("T")

SYNC, COROUTINE, GENERATOR, ASYNC_GENERATOR = "sync", "coroutine", "generator", "async_generator"


def kind_of(function: Callable[..., Any]) -> str:
    function = getattr(function, "__func__", function)  # classmethod, staticmethod
    if inspect.isasyncgenfunction(function):
        return ASYNC_GENERATOR
    if inspect.iscoroutinefunction(function):
        return COROUTINE
    if inspect.isgeneratorfunction(function):
        return GENERATOR
    return SYNC


def make_wrapper(target: Target, kind: str) -> Callable[..., Any]:
    """The `wrapt` wrapper function for one target."""

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        recorder = runtime.RECORDER
        if recorder is None:
            return wrapped(*args, **kwargs)
        try:
            subject = target.instance_of(wrapped, instance, args, kwargs)
            pending = recorder.prepare(target, subject, sys._getframe(1), args, kwargs)
        except Exception as exc:
            internal_error(f"preparing a run of {target.span_name}", exc)
            pending = None
        if pending is None:
            return wrapped(*args, **kwargs)
        if kind == COROUTINE:
            return _drive_coroutine(recorder, pending, wrapped(*args, **kwargs))
        if kind == ASYNC_GENERATOR:
            return _drive_async_generator(recorder, pending, wrapped(*args, **kwargs))
        if kind == GENERATOR:
            return _drive_generator(recorder, pending, wrapped(*args, **kwargs))
        return _run_sync(recorder, pending, wrapped, args, kwargs)

    return wrapper


def _run_sync(
    recorder: runtime.Recorder,
    pending: PendingRun,
    wrapped: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    run = recorder.begin(pending)
    tokens = activate(run)
    try:
        result = wrapped(*args, **kwargs)
    except BaseException as exc:
        deactivate(tokens)
        recorder.finish(run, exc)
        raise
    deactivate(tokens)
    # A plain method that hands back a coroutine or a future has not finished its work yet.
    if isinstance(result, types.CoroutineType) and run is not None:
        return _continue_coroutine(recorder, run, result)
    if run is not None and _is_future(result):
        result.add_done_callback(lambda future: _finish_future(recorder, run, future))
        return result
    recorder.finish(run, None)
    return result


def _is_future(value: object) -> bool:
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and asyncio.isfuture(value)


def _finish_future(recorder: runtime.Recorder, run: ActiveRun, future: Any) -> None:
    if future.cancelled():
        recorder.finish(run, future_cancelled())
        return
    recorder.finish(run, future.exception())


def future_cancelled() -> BaseException:
    import asyncio

    return asyncio.CancelledError()


async def _drive_coroutine(
    recorder: runtime.Recorder, pending: PendingRun, coroutine: Coroutine[Any, Any, T]
) -> T:
    run = recorder.begin(pending)
    return await _continue_coroutine(recorder, run, coroutine)


async def _continue_coroutine(
    recorder: runtime.Recorder, run: ActiveRun | None, awaitable: Awaitable[T]
) -> T:
    tokens = activate(run)
    try:
        result = await awaitable
    except BaseException as exc:
        deactivate(tokens)
        recorder.finish(run, exc)
        raise
    deactivate(tokens)
    recorder.finish(run, None)
    return result


def _drive_generator(
    recorder: runtime.Recorder, pending: PendingRun, generator: Generator[Any, Any, T]
) -> Generator[Any, Any, T]:
    """`yield from generator`, spelled out so the run's context is entered only while the
    generator's own code runs, and so that closing it early ends the run where it stopped."""
    run = recorder.begin(pending)
    to_send: Any = None
    to_throw: BaseException | None = None
    while True:
        tokens = activate(run)
        try:
            if to_throw is not None:
                exc, to_throw = to_throw, None
                item = generator.throw(exc)
            else:
                item = generator.send(to_send)
        except StopIteration as stop:
            deactivate(tokens)
            recorder.finish(run, None, reason="exhausted")
            return stop.value  # type: ignore[no-any-return]
        except BaseException as exc:
            deactivate(tokens)
            recorder.finish(run, exc)
            raise
        deactivate(tokens)
        suspended_ns = time.time_ns()
        try:
            to_send = yield item
        except GeneratorExit:
            _close_generator(recorder, run, generator, suspended_ns)
            raise
        except BaseException as exc:
            to_throw = exc


def _close_generator(
    recorder: runtime.Recorder, run: ActiveRun | None, generator: Generator[Any, Any, Any],
    suspended_ns: int,
) -> None:
    # Closed before exhaustion, perhaps much later by the garbage collector: the work ended when
    # the generator last handed out an item, not when it was finalized.
    tokens = activate(run)
    try:
        generator.close()
    except BaseException as exc:
        deactivate(tokens)
        recorder.finish(run, exc)
        raise
    deactivate(tokens)
    recorder.finish(run, None, reason="closed", end_ns=suspended_ns)


async def _drive_async_generator(
    recorder: runtime.Recorder, pending: PendingRun, generator: AsyncGenerator[Any, Any]
) -> AsyncGenerator[Any, Any]:
    """The async twin of `_drive_generator`."""
    run = recorder.begin(pending)
    to_send: Any = None
    to_throw: BaseException | None = None
    while True:
        tokens = activate(run)
        try:
            if to_throw is not None:
                exc, to_throw = to_throw, None
                item = await generator.athrow(exc)
            else:
                item = await generator.asend(to_send)
        except StopAsyncIteration:
            deactivate(tokens)
            recorder.finish(run, None, reason="exhausted")
            return
        except BaseException as exc:
            deactivate(tokens)
            recorder.finish(run, exc)
            raise
        deactivate(tokens)
        suspended_ns = time.time_ns()
        try:
            to_send = yield item
        except GeneratorExit:
            tokens = activate(run)
            try:
                await generator.aclose()
            except BaseException as exc:
                deactivate(tokens)
                recorder.finish(run, exc)
                raise
            deactivate(tokens)
            recorder.finish(run, None, reason="closed", end_ns=suspended_ns)
            raise
        except BaseException as exc:
            to_throw = exc

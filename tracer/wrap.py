"""Wrappers that turn each call of a traced method into one run, and change nothing else.

The wrapper is a `wrapt.FunctionWrapper`, so `inspect.iscoroutinefunction`, signatures,
`__wrapped__` and descriptor binding behave as for the original. What a call returns is passed
through, except that coroutines and generators are driven by ours so that the run lasts as long
as the work does. Those drivers re-enter the run's context only while the original code runs
(never while suspended at a yield), so the consumer of a generator is not mistaken for part of
its run.
"""

from __future__ import annotations

import copy
import inspect
import pkgutil
import sys
import time
import types
import weakref
from collections.abc import AsyncGenerator, Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, TypeVar

import wrapt

from . import runtime
from .errors import internal_error
from .runtime import ActiveRun, PendingRun, activate, deactivate
from .semconv import LOOP_RUNNING

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


def _reduce(proxy: Any) -> tuple[Any, ...]:
    """Pickle a traced function or method as the original pickles: a bound method by its object
    and name, a function by where it lives (looked up again, so traced again, on loading).
    wrapt's proxies refuse pickling and copying unless told how, and multiprocessing pickles
    the callables it sends to workers."""
    wrapped = proxy.__wrapped__
    owner = getattr(wrapped, "__self__", None)
    if owner is not None and not isinstance(owner, types.ModuleType):
        return getattr, (owner, wrapped.__name__)
    return pkgutil.resolve_name, (f"{wrapped.__module__}:{wrapped.__qualname__}",)


class _Picklable:
    """Pickling and copying for our wrapt proxies, as for the functions they stand for."""

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return _reduce(self)

    def __copy__(self) -> Any:
        return self  # functions and methods are copied as themselves

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        owner = getattr(self.__wrapped__, "__self__", None)  # type: ignore[attr-defined]
        if owner is None or isinstance(owner, type | types.ModuleType):
            return self
        # Like copy's handling of bound methods: the method of a deep copy of its object.
        return getattr(copy.deepcopy(owner, memo), self.__wrapped__.__name__)  # type: ignore[attr-defined]


class TracedBoundFunction(_Picklable, wrapt.BoundFunctionWrapper):
    pass


class TracedFunction(_Picklable, wrapt.FunctionWrapper):
    """The wrapper patched in for a target: a `wrapt.FunctionWrapper` that pickles."""

    __bound_function_wrapper__ = TracedBoundFunction


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
            return _coroutine_in_run(recorder, pending, None, wrapped(*args, **kwargs), target)
        if kind == ASYNC_GENERATOR:
            return _drive_async_generator(recorder, pending, wrapped(*args, **kwargs))
        if kind == GENERATOR:
            return _generator_in_run(recorder, pending, wrapped(*args, **kwargs))
        if target.returns_stream:
            return _stream_in_run(recorder, pending, wrapped(*args, **kwargs))
        return _run_sync(recorder, pending, wrapped, args, kwargs)

    return wrapper


def _stream_in_run(recorder: runtime.Recorder, pending: PendingRun, result: Any) -> Any:
    """A plain method that builds and returns a generator (LangChain's `astream_events`): the
    run is the iteration of what it returned, as for a generator function. Anything else it
    returns is handed back untraced."""
    if isinstance(result, types.AsyncGeneratorType):
        return _drive_async_generator(recorder, pending, result)
    if isinstance(result, types.GeneratorType):
        return _generator_in_run(recorder, pending, result)
    return result


def _run_sync(
    recorder: runtime.Recorder,
    pending: PendingRun,
    wrapped: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    run = recorder.begin(pending, sync=True)
    tokens = activate(run)
    try:
        result = wrapped(*args, **kwargs)
    except BaseException as exc:
        deactivate(tokens)
        recorder.finish(run, exc)
        raise
    deactivate(tokens)
    if run is None:
        return result
    # A plain method that hands back a coroutine or a future has not finished its work yet.
    if isinstance(result, types.CoroutineType):
        _mark_awaited(run)
        return _coroutine_in_run(recorder, None, run, result, pending.target)
    if _is_future(result):
        _mark_awaited(run)
        result.add_done_callback(lambda future: _finish_future(recorder, run, future))
        return result
    if pending.target.ends_with is None:
        recorder.finish(run, None)
    else:
        _finish_with(recorder, run, pending, result)
    return result


def _mark_awaited(run: ActiveRun) -> None:
    """A run marked as holding a running loop that returned an awaitable: it held the loop only
    until then. Its END says so (reason `awaited`)."""
    try:
        attributes = getattr(run.span, "attributes", None)
        if attributes is not None and attributes.get(LOOP_RUNNING):
            run.awaited = True
    except Exception as exc:
        internal_error("reading a run's attributes", exc)


def _finish_with(
    recorder: runtime.Recorder, run: ActiveRun | None, pending: PendingRun, result: Any
) -> None:
    """End the run when the future that `ends_with` finds ends (a streamed run's background
    task, a runtime's message loop): the target's work outlives its call. Now if there is none."""
    target = pending.target
    try:
        future = target.ends_with(result, pending.instance) if target.ends_with else None
    except Exception as exc:
        internal_error(f"finding where a run of {target.span_name} ends", exc)
        future = None
    if future is None or not _is_future(future):
        recorder.finish(run, None)
        return
    future.add_done_callback(lambda done: _finish_future(recorder, run, done))


_NOT_FUTURES: set[type] = {type(None), bool, int, float, str, bytes, list, tuple, dict}


def _is_future(value: object) -> bool:
    cls = type(value)
    if cls in _NOT_FUTURES:  # what most calls return: no need to ask asyncio
        return False
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None and asyncio.isfuture(value):
        return True
    if not hasattr(cls, "_asyncio_future_blocking") and len(_NOT_FUTURES) < 1024:
        _NOT_FUTURES.add(cls)
    return False


def _finish_future(recorder: runtime.Recorder, run: ActiveRun, future: Any) -> None:
    if future.cancelled():
        recorder.finish(run, future_cancelled())
        return
    recorder.finish(run, future.exception())


def future_cancelled() -> BaseException:
    import asyncio

    return asyncio.CancelledError()


class _Unstarted:
    """The original coroutine, until ours starts awaiting it.

    Were ours dropped unstarted (closed on purpose, or never awaited), the original would be
    freed unstarted too and Python would warn that it "was never awaited", on top of (or
    instead of nothing, after a deliberate close) what it says without racetrace. Closing it
    here leaves only our coroutine's warning, which carries the original's name. A run already
    begun (a plain method that returned the coroutine) ends then, as that method returned.
    """

    __slots__ = ("coroutine", "end_ns", "recorder", "run")

    def __init__(
        self, coroutine: Coroutine[Any, Any, Any], recorder: runtime.Recorder,
        run: ActiveRun | None,
    ) -> None:
        self.coroutine: Coroutine[Any, Any, Any] | None = coroutine
        self.recorder = recorder
        self.run = run
        self.end_ns = time.time_ns() if run is not None else None

    def take(self) -> Coroutine[Any, Any, Any]:
        coroutine, self.coroutine = self.coroutine, None
        assert coroutine is not None
        return coroutine

    def __del__(self) -> None:
        coroutine, self.coroutine = self.coroutine, None
        if coroutine is None:
            return
        try:
            # Only when nobody else holds it (a plain method may have kept its coroutine): two
            # references, the local and getrefcount's argument.
            if sys.getrefcount(coroutine) <= 2 and hasattr(coroutine, "close"):
                coroutine.close()
            if self.run is not None:
                self.recorder.finish(self.run, None, reason="closed", end_ns=self.end_ns)
        except Exception as exc:
            internal_error("dropping an unawaited coroutine", exc)


def _coroutine_in_run(
    recorder: runtime.Recorder,
    pending: PendingRun | None,
    run: ActiveRun | None,
    coroutine: Coroutine[Any, Any, T],
    target: Target,
) -> Coroutine[Any, Any, T]:
    """Our coroutine around the original, named as it is (warnings, task reprs)."""
    driver = _drive_coroutine(
        recorder, pending, run, _Unstarted(coroutine, recorder, run), target
    )
    try:
        driver.__name__ = coroutine.__name__
        driver.__qualname__ = coroutine.__qualname__
    except (AttributeError, TypeError):
        pass
    return driver


async def _drive_coroutine(
    recorder: runtime.Recorder,
    pending: PendingRun | None,
    run: ActiveRun | None,
    unstarted: _Unstarted,
    target: Target,
) -> Any:
    """Await the original inside the run: begun here when `pending` is given (a coroutine
    method's run starts when its coroutine does), else already begun (a plain method)."""
    coroutine = unstarted.take()
    if pending is not None:
        run = recorder.begin(pending)
    tokens = activate(run)
    try:
        result = await coroutine
    except BaseException as exc:
        deactivate(tokens)
        recorder.finish(run, exc)
        raise
    deactivate(tokens)
    if target.ends_with is None or pending is None:
        recorder.finish(run, None)
    else:
        _finish_with(recorder, run, pending, result)
    return result


def _generator_in_run(
    recorder: runtime.Recorder, pending: PendingRun, generator: Generator[Any, Any, T]
) -> Generator[Any, Any, T]:
    # The driver holds a weak reference to itself: the garbage collector clears it before it
    # finalizes the driver, which is how a close by the collector is told from the consumer's.
    itself: list[weakref.ref[Any] | None] = [None]
    driver = _drive_generator(recorder, pending, generator, itself)
    itself[0] = weakref.ref(driver)
    return driver


def _drive_generator(
    recorder: runtime.Recorder, pending: PendingRun, generator: Generator[Any, Any, T],
    itself: list[weakref.ref[Any] | None],
) -> Generator[Any, Any, T]:
    """`yield from generator`, spelled out so the run's context is entered only while the
    generator's own code runs. Closed early by its consumer, the run ends then; finalized by
    the garbage collector, perhaps much later, it ends where the generator last stopped."""
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
            ref = itself[0]
            collected = ref is not None and ref() is None
            _close_generator(recorder, run, generator, suspended_ns if collected else None)
            raise
        except BaseException as exc:
            to_throw = exc


def _close_generator(
    recorder: runtime.Recorder, run: ActiveRun | None, generator: Generator[Any, Any, Any],
    end_ns: int | None,
) -> None:
    tokens = activate(run)
    try:
        generator.close()
    except BaseException as exc:
        deactivate(tokens)
        recorder.finish(run, exc)
        raise
    deactivate(tokens)
    recorder.finish(run, None, reason="closed", end_ns=end_ns)


def _closed_by_event_loop() -> bool:
    """Whether an async generator is being finalized rather than closed by its consumer: by
    the event loop (its finalizer hook and `shutdown_asyncgens()` each run the generator's
    `aclose()` as a task of its own) or by the garbage collector with no loop at all."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return True
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return True
    return task is None or type(task.get_coro()).__name__ == "async_generator_athrow"


async def _drive_async_generator(
    recorder: runtime.Recorder, pending: PendingRun, generator: AsyncGenerator[Any, Any]
) -> AsyncGenerator[Any, Any]:
    """The async twin of `_drive_generator`; the event loop finalizes what is abandoned."""
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
            end_ns = suspended_ns if _closed_by_event_loop() else None
            tokens = activate(run)
            try:
                await generator.aclose()
            except BaseException as exc:
                deactivate(tokens)
                recorder.finish(run, exc)
                raise
            deactivate(tokens)
            recorder.finish(run, None, reason="closed", end_ns=end_ns)
            raise
        except BaseException as exc:
            to_throw = exc

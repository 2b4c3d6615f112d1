"""Wrappers that turn each call of a traced method into one run, and change nothing else.

A plain sync method becomes a plain function of ours (`make_method`, one frame a call); any
other callable a `TracedFunction` (a wrapt `FunctionWrapper`): either way
`inspect.iscoroutinefunction`, signatures, `__wrapped__` and descriptor binding behave as for the
original. What a call returns is passed
through, except that coroutines and generators are driven by ours so that the run lasts as long
as the work does. Those drivers re-enter the run's context only while the original code runs
(never while suspended at a yield), so the consumer of a generator is not mistaken for part of
its run.
"""

from __future__ import annotations

import contextvars
import copy
import functools
import inspect
import pkgutil
import sys
import types
import weakref
from collections.abc import AsyncGenerator, Callable, Coroutine, Generator
from types import CodeType
from typing import TYPE_CHECKING, Any, TypeVar

import wrapt

from . import current, runtime
from .clock import now_ns
from .errors import internal_error
from .frames import capture as _capture
from .frames import prepare as prepare_frames
from .runtime import _END_RETURNED, ActiveRun, PendingRun, activate, deactivate
from .sink import _GIL, load_encoder
from .span import load_ids
from .target import default_instance_of

# The current run's context variable, set, read and reset here directly on the hot path.
_enter = current.RUN.set
_leave = current.RUN.reset
_get_run = current.RUN.get
_Token = contextvars.Token

# Imported when the first target is patched: what its runs need is imported now, at an import,
# rather than on the first run (perhaps on an event loop that a blocking-call checker watches).
load_encoder()
load_ids()
prepare_frames()

if TYPE_CHECKING:
    from .target import Target

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
    """Pickling, copying and repr for our wrapt proxies, as for the functions they stand
    for."""

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

    def __repr__(self) -> str:
        return repr(self.__wrapped__)  # type: ignore[attr-defined]


class TracedBoundFunction(_Picklable, wrapt.BoundFunctionWrapper):
    pass


class TracedFunction(_Picklable, wrapt.FunctionWrapper):
    """The wrapper patched in for a target: a `wrapt.FunctionWrapper` that pickles and shows
    itself as the original does."""

    __bound_function_wrapper__ = TracedBoundFunction


def make_wrapper(target: Target, kind: str) -> Callable[..., Any]:
    """The `wrapt` wrapper function for one target (classmethods, staticmethods, functions,
    and methods that are coroutine or generator functions; `make_method` for the rest).

    A sync run happens in this one Python frame (no helper called around the original), and an
    exception leaves with this frame cut from its traceback, so the program sees the traceback
    it sees untraced.
    """

    if kind is COROUTINE:
        return _make_coroutine_wrapper(target)
    # A plain call: its run is decided and begun at once (`Recorder.start`).
    plain = kind is SYNC and not target.returns_stream
    own_self = target.instance_of is default_instance_of  # a method's run is on `self`

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        recorder = runtime.RECORDER
        pending = run = subject = None
        if recorder is not None:
            try:
                subject = (instance if own_self and instance is not None
                           else target.instance_of(wrapped, instance, args, kwargs))
                if plain:
                    run = recorder.start(target, subject, sys._getframe(1), args, kwargs)
                else:
                    pending = recorder.prepare(target, subject, sys._getframe(1), args, kwargs)
            except Exception as exc:
                internal_error(f"preparing a run of {target.span_name}", exc)
        if run is not None:
            # `activate(run)` and `deactivate(tokens)`, inlined for runs not exported.
            tokens = activate(run) if runtime.in_otel_context else _enter(run)
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as exc:
                deactivate(tokens)
                recorder.finish(run, exc)  # type: ignore[union-attr]
                _hide_our_frames(exc)
                raise
            if type(tokens) is _Token:
                try:
                    _leave(tokens)
                except Exception as exc:
                    internal_error("leaving a run's context", exc)
            else:
                deactivate(tokens)
            if id(type(result)) in _PLAIN_RESULTS and target.ends_with is None:
                recorder.returned(run)  # type: ignore[union-attr]
                return result
            return _after_sync_call(recorder, run, target, subject, result)  # type: ignore[arg-type]
        if pending is None:
            try:
                return wrapped(*args, **kwargs)
            except BaseException as exc:
                _hide_our_frames(exc)
                raise
        try:
            made = wrapped(*args, **kwargs)
        except BaseException as exc:
            _hide_our_frames(exc)
            raise
        # A coroutine or generator function, or a method that returns a stream: drive what
        # the call made.
        if kind is COROUTINE:
            return _coroutine_in_run(recorder, pending, None, made, target)  # type: ignore[arg-type]
        if kind is ASYNC_GENERATOR:
            return _async_generator_in_run(recorder, pending, made)  # type: ignore[arg-type]
        if kind is GENERATOR:
            return _generator_in_run(recorder, pending, made)  # type: ignore[arg-type]
        return _stream_in_run(recorder, pending, made)  # type: ignore[arg-type]

    return wrapper


def _make_coroutine_wrapper(target: Target) -> Callable[..., Any]:
    """`make_wrapper`'s for a coroutine function: the run is decided now, on the caller's
    stack, and begins when the coroutine starts, in the driver that awaits the original."""
    own_self = target.instance_of is default_instance_of  # a method's run is on `self`
    # The original's code and its named driver, as last seen (a function's code seldom
    # changes): the driver without a lookup by the code's id.
    last: _LastDriver = (None, _drive_pending, None, None)

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        nonlocal last
        recorder = runtime.RECORDER
        decided = subject = None
        if recorder is not None:
            try:
                subject = (instance if own_self and instance is not None
                           else target.instance_of(wrapped, instance, args, kwargs))
                decided = recorder.decide(target, subject, sys._getframe(1), args, kwargs)
            except Exception as exc:
                internal_error(f"preparing a run of {target.span_name}", exc)
        try:
            made = wrapped(*args, **kwargs)
        except BaseException as exc:
            _hide_our_frames(exc)
            raise
        if decided is None:
            return made
        if type(made) is not types.CoroutineType:  # any awaitable an async def may return
            return _coroutine_in_run(recorder, PendingRun(target, subject, decided), None,  # type: ignore[arg-type]
                                     made, target)
        code = made.cr_code
        known_code, drive, qualname, name = last
        if known_code is not code:
            drive = _named_driver(_drive_pending, _pending_drivers, code)
            last = (code, drive, None, None)
        # `_Unstarted(made, recorder, None)`, inlined: with no run, its `__del__` reads no more.
        unstarted = _new_unstarted(_Unstarted)
        unstarted.coroutine = made
        unstarted.run = None
        driver = drive(recorder, target, subject, decided, unstarted)
        # The named driver's coroutine carries the names of the original function's code: set
        # only the names a program changed on its function (names seen to agree are compared
        # by identity from then on).
        if made.__qualname__ is not qualname or made.__name__ is not name:
            last = _rename(last, driver, made)
        return driver

    return wrapper


class TracedMethod(_Picklable):
    """What is patched in for a coroutine method of a class (`make_coroutine_method`): a
    descriptor bound as a function is (a bound method, made in C: a wrapt proxy's binding and
    call cost ~0.4-0.7 µs more a call), that answers every attribute with the original's
    (`__code__` too, so `inspect.iscoroutinefunction` holds; `__class__`, so `isfunction`
    does), and whose call is the run. Each target has a subclass whose `__call__` is its traced
    function: one frame a call."""

    __slots__ = ("__wrapped__", "_self_racetrace_derived", "_self_racetrace_target")
    _OWN = frozenset(__slots__)

    def __init__(self, function: Callable[..., Any]) -> None:
        object.__setattr__(self, "__wrapped__", function)
        object.__setattr__(self, "_self_racetrace_derived", False)

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        return types.MethodType(self, instance)

    def __getattr__(self, name: str) -> Any:
        return getattr(object.__getattribute__(self, "__wrapped__"), name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in TracedMethod._OWN:
            object.__setattr__(self, name, value)
        else:
            setattr(self.__wrapped__, name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self.__wrapped__, name)

    def __dir__(self) -> list[str]:
        return dir(self.__wrapped__)

    # What the class itself would answer otherwise: the original's instead.
    @property  # type: ignore[misc]
    def __class__(self) -> type:  # type: ignore[override]
        return type(self.__wrapped__)

    @property
    def __module__(self) -> str:  # type: ignore[override]
        return self.__wrapped__.__module__  # type: ignore[no-any-return]

    @property
    def __doc__(self) -> str | None:  # type: ignore[override]
        return self.__wrapped__.__doc__

    @property
    def __dict__(self) -> dict[str, Any]:  # type: ignore[override]
        return self.__wrapped__.__dict__  # type: ignore[no-any-return]


# What each target's subclass keeps of TracedMethod's own (`type()` would set its own
# `__module__` and `__doc__`).
_ANSWERED = {name: TracedMethod.__dict__[name] for name in ("__module__", "__doc__")}


# A coroutine wrapper's last original code, its named driver, and the names its coroutines had
# when they agreed with the driver's (None: not known to agree).
_LastDriver = tuple["CodeType | None", Callable[..., Any], "str | None", "str | None"]


def _rename(last: _LastDriver, driver: Any, made: Any) -> _LastDriver:
    """Give the driver's coroutine the original's names where they differ; if they agree,
    what to compare by identity next time."""
    qualname, name = made.__qualname__, made.__name__
    if driver.__qualname__ != qualname or driver.__name__ != name:
        _name_like(driver, made)
        return last
    return (last[0], last[1], qualname, name)


def make_coroutine_method(target: Target, function: Callable[..., Any]) -> TracedMethod:
    """`make_method` for a coroutine method: the run is decided at call time, on the
    caller's stack, and begins when the coroutine starts (`_drive_pending`)."""
    instance_of = target.instance_of
    own_self = instance_of is default_instance_of  # the run's instance is `self`
    last: _LastDriver = (None, _drive_pending, None, None)

    # Positional-only: the original's keyword arguments may use any name (`proxy=`).
    def traced(proxy: Any, /, *args: Any, **kwargs: Any) -> Any:
        nonlocal last
        recorder = runtime.RECORDER
        decided = subject = None
        if recorder is not None and args:
            try:
                rest = args[1:]
                subject = args[0] if own_self else instance_of(function, args[0], rest, kwargs)
                running = _get_run()
                if (target.plain and not recorder.config.capture_args
                        and (running is None or running.instance_id != id(subject)
                             or running.ended)):
                    # `recorder.decide()`'s common case, inlined: the call site is all.
                    decided = (_capture(sys._getframe(1), target.owner, subject), None, None, None)
                else:
                    decided = recorder.decide(target, subject, sys._getframe(1), rest, kwargs)
            except Exception as exc:
                internal_error(f"preparing a run of {target.span_name}", exc)
        try:
            made = function(*args, **kwargs)
        except BaseException as exc:
            _hide_our_frames(exc)
            raise
        if decided is None:
            return made
        if type(made) is not types.CoroutineType:  # any awaitable an async def may return
            return _coroutine_in_run(recorder, PendingRun(target, subject, decided), None,  # type: ignore[arg-type]
                                     made, target)
        code = made.cr_code
        known_code, drive, qualname, name = last
        if known_code is not code:
            drive = _named_driver(_drive_pending, _pending_drivers, code)
            last = (code, drive, None, None)
        unstarted = _new_unstarted(_Unstarted)  # as in `_make_coroutine_wrapper`
        unstarted.coroutine = made
        unstarted.run = None
        driver = drive(recorder, target, subject, decided, unstarted)
        # The named driver's coroutine carries the names of the original function's code: set
        # only the names a program changed on its function (names seen to agree are compared
        # by identity from then on).
        if made.__qualname__ is not qualname or made.__name__ is not name:
            last = _rename(last, driver, made)
        return driver

    traced.__qualname__ = "TracedMethod.__call__"
    cls = type("TracedMethod", (TracedMethod,), {"__slots__": (), "__call__": traced,
                                                 **_ANSWERED})
    return cls(function)  # type: ignore[no-any-return]


def make_method(target: Target, function: Callable[..., Any]) -> Callable[..., Any]:
    """A plain function to patch in for a sync method of a class, in place of a wrapt proxy:
    the interpreter binds it as it binds the original, and a call costs the program one frame
    of its recursion limit (a wrapt proxy's C call counts as a frame of its own). The body is
    `make_wrapper`'s sync path, with `self` taken from the arguments as wrapt would take it."""
    streams = target.returns_stream
    instance_of = target.instance_of
    own_self = instance_of is default_instance_of  # the run's instance is `self`

    def traced(*args: Any, **kwargs: Any) -> Any:
        recorder = runtime.RECORDER
        pending = run = subject = None
        if recorder is not None and args:
            try:
                rest = args[1:]
                subject = args[0] if own_self else instance_of(function, args[0], rest, kwargs)
                if streams:
                    pending = recorder.prepare(target, subject, sys._getframe(1), rest, kwargs)
                else:
                    running = _get_run()
                    if (target.plain and not recorder.config.capture_args
                            and (running is None or running.instance_id != id(subject)
                                 or running.ended)):
                        # `recorder.start()`'s common case, inlined.
                        run = recorder._begin(
                            target, subject,
                            (_capture(sys._getframe(1), target.owner, subject), None, None, None),
                            True)
                    else:
                        run = recorder.start(target, subject, sys._getframe(1), rest, kwargs)
            except Exception as exc:
                internal_error(f"preparing a run of {target.span_name}", exc)
        if run is not None:
            # `activate(run)` and `deactivate(tokens)`, inlined for runs not exported.
            tokens = activate(run) if runtime.in_otel_context else _enter(run)
            try:
                result = function(*args, **kwargs)
            except BaseException as exc:
                deactivate(tokens)
                recorder.finish(run, exc)  # type: ignore[union-attr]
                _hide_our_frames(exc)
                raise
            if type(tokens) is _Token:
                try:
                    _leave(tokens)
                except Exception as exc:
                    internal_error("leaving a run's context", exc)
            else:
                deactivate(tokens)
            if id(type(result)) in _PLAIN_RESULTS and target.ends_with is None:
                if (run.ended or run.span is not None or run.awaited
                        or run.generation != recorder.generation):  # type: ignore[union-attr]
                    recorder.returned(run)  # type: ignore[union-attr]
                    return result
                # `recorder.returned(run)`, inlined for the common END of a sync run.
                run.ended = True
                try:
                    line = _END_RETURNED % (run.span_id, now_ns())
                    mapped = recorder.sink.mapped  # type: ignore[union-attr]
                    if mapped is not None and _GIL:
                        try:
                            mapped.write(line)
                        except ValueError:
                            recorder.sink.put(line)  # type: ignore[union-attr]
                    else:
                        recorder.sink.put(line)  # type: ignore[union-attr]
                except Exception as exc:
                    internal_error("ending a run", exc)
                return result
            return _after_sync_call(recorder, run, target, subject, result)  # type: ignore[arg-type]
        try:
            result = function(*args, **kwargs)
        except BaseException as exc:
            _hide_our_frames(exc)
            raise
        if pending is None:
            return result
        return _stream_in_run(recorder, pending, result)  # type: ignore[arg-type]

    functools.update_wrapper(traced, function)
    return traced


_THIS_FILE = __file__


def _hide_our_frames(exc: BaseException) -> None:
    """Cut racetrace's frames from the head of a traceback passing through a wrapper or driver,
    as pytest and wrapt-based tools do: the exception object, its chaining and the rest of its
    traceback stay as they are. A bare `raise` after this adds no entry for the raising frame."""
    try:
        tb = head = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == _THIS_FILE:
            tb = tb.tb_next
        if tb is not head:
            exc.__traceback__ = tb
    except Exception:  # an exception type that refuses a new traceback keeps its own
        pass


def _after_sync_call(
    recorder: runtime.Recorder, run: ActiveRun, target: Target, instance: object, result: Any
) -> Any:
    """A sync run's end: now, or when the coroutine or future the call handed back ends."""
    # A plain method that hands back a coroutine or a future has not finished its work yet.
    cls = type(result)
    if cls is types.CoroutineType:
        _mark_awaited(run)
        return _coroutine_in_run(recorder, None, run, result, target)
    entry = _FUTURE_CLASSES.get(id(cls))
    if entry is not None and entry[0] is cls:
        future = entry[1]
    else:
        future = _is_future(result)
    if future:
        _mark_awaited(run)
        try:
            result.add_done_callback(lambda done: _finish_future(recorder, run, done))
        except Exception as exc:  # a future-like object of its own: the program has it as is
            internal_error("watching a returned future", exc)
            recorder.finish(run, None)
        return result
    if target.ends_with is None:
        recorder.returned(run)
    else:
        _finish_with(recorder, run, target, instance, result)
    return result


def _mark_awaited(run: ActiveRun) -> None:
    """A run marked as holding a running loop that returned an awaitable: it held the loop only
    until then. Its END says so (reason `awaited`)."""
    if run.loop_running:
        run.awaited = True


def _stream_in_run(recorder: runtime.Recorder, pending: PendingRun, result: Any) -> Any:
    """A plain method that builds and returns a generator (LangChain's `astream_events`): the
    run is the iteration of what it returned, as for a generator function. Anything else it
    returns is handed back untraced."""
    kind = type(result)  # never isinstance: that may ask the object for its __class__
    if kind is types.AsyncGeneratorType:
        return _async_generator_in_run(recorder, pending, result)
    if kind is types.GeneratorType:
        return _generator_in_run(recorder, pending, result)
    return result


def _finish_with(
    recorder: runtime.Recorder, run: ActiveRun | None, target: Target, instance: object,
    result: Any,
) -> None:
    """End the run when the future that `ends_with` finds ends (a streamed run's background
    task, a runtime's message loop): the target's work outlives its call. Now if there is none."""
    try:
        future = target.ends_with(result, instance) if target.ends_with else None
    except Exception as exc:
        internal_error(f"finding where a run of {target.span_name} ends", exc)
        future = None
    if future is None or not _is_future(future):
        recorder.finish(run, None)
        return
    future.add_done_callback(lambda done: _finish_future(recorder, run, done))


# Whether a class is a future's, keyed by id(): a class is never hashed, compared or asked for
# an attribute (its metaclass may define `__eq__` without `__hash__`, or `__getattr__`); each
# value holds its class, so that the id cannot be reused meanwhile.
_FUTURE_CLASSES: dict[int, tuple[type, bool]] = {
    id(cls): (cls, False)
    for cls in (type(None), bool, int, float, str, bytes, list, tuple, dict)
}
# What a plain call returns most often, never a future nor a coroutine: its run ends now. By
# id(), as `_FUTURE_CLASSES`: a class is never hashed (builtin types live as long as Python).
_PLAIN_RESULTS = frozenset(
    id(cls) for cls in (type(None), bool, int, float, str, bytes, list, tuple, dict))
_class_mro = type.__dict__["__mro__"].__get__
_class_dict = type.__dict__["__dict__"].__get__


def _is_future(value: object) -> bool:
    cls = type(value)
    entry = _FUTURE_CLASSES.get(id(cls))
    if entry is not None and entry[0] is cls:
        return entry[1]
    try:
        # asyncio's own duck-typing marker, found in the class dicts without running their code.
        future = any("_asyncio_future_blocking" in _class_dict(k) for k in _class_mro(cls))
    except Exception:
        future = False
    if len(_FUTURE_CLASSES) < 1024:
        _FUTURE_CLASSES[id(cls)] = (cls, future)
    return future


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
        self.end_ns = now_ns() if run is not None else None

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


_new_unstarted = object.__new__


def _coroutine_in_run(
    recorder: runtime.Recorder,
    pending: PendingRun | None,
    run: ActiveRun | None,
    coroutine: Coroutine[Any, Any, T],
    target: Target,
) -> Coroutine[Any, Any, T]:
    """Our coroutine around the original, named as it is (warnings, task reprs, cr_code)."""
    drive = _drive_coroutine
    if type(coroutine) is types.CoroutineType:  # not any awaitable an async def may return
        drive = _named_driver(_drive_coroutine, _coroutine_drivers, coroutine.cr_code)
    unstarted = _new_unstarted(_Unstarted)  # `_Unstarted(coroutine, recorder, run)`, inlined
    unstarted.coroutine = coroutine
    unstarted.recorder = recorder
    unstarted.run = run
    unstarted.end_ns = now_ns() if run is not None else None
    driver = drive(recorder, pending, run, unstarted, target)
    # A named driver's coroutine carries the names of the original function's code: set only
    # the names a program changed on its function (or an awaitable of another kind).
    if driver.__qualname__ != coroutine.__qualname__ or driver.__name__ != coroutine.__name__:
        _name_like(driver, coroutine)
    return driver  # type: ignore[no-any-return]


# Copies of a driver whose code carries the original's name: the generator or coroutine it
# makes shows `gi_code.co_name` (`cr_code`, `ag_code`) as the original's. Keyed by id() of the
# original's code (hashing a code object hashes its bytecode); each value holds that code.
_coroutine_drivers: dict[int, tuple[CodeType, Callable[..., Any]]] = {}
_pending_drivers: dict[int, tuple[CodeType, Callable[..., Any]]] = {}
_generator_drivers: dict[int, tuple[CodeType, Callable[..., Any]]] = {}
_async_generator_drivers: dict[int, tuple[CodeType, Callable[..., Any]]] = {}


def _named_driver(
    driver: Callable[..., Any],
    drivers: dict[int, tuple[CodeType, Callable[..., Any]]],
    code: CodeType,
) -> Callable[..., Any]:
    entry = drivers.get(id(code))
    if entry is not None and entry[0] is code:
        return entry[1]
    try:
        renamed: dict[str, str] = {"co_name": code.co_name}
        qualname = getattr(code, "co_qualname", code.co_name)  # Python 3.11+
        if hasattr(code, "co_qualname"):
            renamed["co_qualname"] = qualname
        named = types.FunctionType(
            driver.__code__.replace(**renamed), driver.__globals__, code.co_name,  # type: ignore[attr-defined]
            driver.__defaults__, driver.__closure__,  # type: ignore[attr-defined]
        )
        named.__qualname__ = qualname
    except Exception:
        named = driver  # the original's names are still set on what it makes
    if len(drivers) < 4096:
        drivers[id(code)] = (code, named)
    return named


def _name_like(made: Any, original: Any) -> None:
    try:
        made.__name__ = original.__name__
        made.__qualname__ = original.__qualname__
    except (AttributeError, TypeError):
        pass


async def _drive_coroutine(
    recorder: runtime.Recorder,
    pending: PendingRun | None,
    run: ActiveRun | None,
    unstarted: _Unstarted,
    target: Target,
) -> Any:
    """Await the original inside the run: begun here when `pending` is given (a coroutine
    method's run starts when its coroutine does), else already begun (a plain method)."""
    coroutine = unstarted.coroutine
    unstarted.coroutine = None  # taken: ours runs it from here on
    if pending is not None:
        try:
            run = recorder._begin(pending.target, pending.instance, pending.decided)
        except Exception as exc:  # `recorder.begin(pending)`, one call less
            internal_error("starting a run", exc)
    if run is None:
        try:
            return await coroutine  # type: ignore[misc]
        except BaseException as exc:
            _hide_our_frames(exc)
            raise
    tokens = activate(run) if runtime.in_otel_context else _enter(run)
    try:
        result = await coroutine  # type: ignore[misc]
    except BaseException as exc:
        deactivate(tokens)
        recorder.finish(run, exc)
        _hide_our_frames(exc)
        raise
    deactivate(tokens)
    if target.ends_with is None or pending is None:
        recorder.returned(run)
    else:
        _finish_with(recorder, run, pending.target, pending.instance, result)
    return result


async def _drive_pending(
    recorder: runtime.Recorder,
    target: Target,
    instance: object,
    decided: runtime.Decided,
    unstarted: _Unstarted,
) -> Any:
    """`_drive_coroutine` for a coroutine function's run, decided at call time and begun here,
    when the coroutine starts; its context entered and left as the sync path's."""
    coroutine = unstarted.coroutine
    unstarted.coroutine = None  # taken: ours runs it from here on
    try:
        run = recorder._begin(target, instance, decided)
    except Exception as exc:
        internal_error("starting a run", exc)
        run = None
    if run is None:  # awaited outside the except clause: the program's errors chain as before
        try:
            return await coroutine  # type: ignore[misc]
        except BaseException as exc:
            _hide_our_frames(exc)
            raise
    tokens = activate(run) if runtime.in_otel_context else _enter(run)
    try:
        result = await coroutine  # type: ignore[misc]
    except BaseException as exc:
        deactivate(tokens)
        recorder.finish(run, exc)
        _hide_our_frames(exc)
        raise
    if type(tokens) is _Token:
        try:
            _leave(tokens)
        except Exception as exc:
            internal_error("leaving a run's context", exc)
    else:
        deactivate(tokens)
    if target.ends_with is not None:
        _finish_with(recorder, run, target, instance, result)
    elif (run.ended or run.span is not None or run.awaited
          or run.generation != recorder.generation):
        recorder.returned(run)
    else:
        # `recorder.returned(run)`, inlined for the common END of an async run.
        run.ended = True
        try:
            line = _END_RETURNED % (run.span_id, now_ns())
            mapped = recorder.sink.mapped
            if mapped is not None and _GIL:
                try:
                    mapped.write(line)
                except ValueError:
                    recorder.sink.put(line)
            else:
                recorder.sink.put(line)
        except Exception as exc:
            internal_error("ending a run", exc)
    return result


def _generator_in_run(
    recorder: runtime.Recorder, pending: PendingRun, generator: Generator[Any, Any, T]
) -> Generator[Any, Any, T]:
    # The driver holds a weak reference to itself: the garbage collector clears it before it
    # finalizes the driver, which is how a close by the collector is told from the consumer's.
    itself: list[weakref.ref[Any] | None] = [None]
    drive = _named_driver(_drive_generator, _generator_drivers, generator.gi_code)  # type: ignore[attr-defined]
    driver = drive(recorder, pending, generator, itself)
    itself[0] = weakref.ref(driver)
    _name_like(driver, generator)
    return driver  # type: ignore[no-any-return]


def _async_generator_in_run(
    recorder: runtime.Recorder, pending: PendingRun, generator: AsyncGenerator[Any, Any]
) -> AsyncGenerator[Any, Any]:
    drive = _named_driver(
        _drive_async_generator, _async_generator_drivers, generator.ag_code  # type: ignore[attr-defined]
    )
    driver = drive(recorder, pending, generator)
    _name_like(driver, generator)
    return driver  # type: ignore[no-any-return]


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
            _hide_our_frames(exc)
            raise
        deactivate(tokens)
        suspended_ns = now_ns()
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
        _hide_our_frames(exc)
        raise
    deactivate(tokens)
    recorder.finish(run, None, reason="closed", end_ns=end_ns)


def _is_cancellation(exc: BaseException) -> bool:
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and isinstance(exc, asyncio.CancelledError)


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
    finalized_ns: int | None = None
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
            if finalized_ns is not None and _is_cancellation(exc):
                recorder.finish(run, None, reason="closed", end_ns=finalized_ns)
            else:
                recorder.finish(run, exc)
            _hide_our_frames(exc)
            raise
        deactivate(tokens)
        suspended_ns = now_ns()
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
                _hide_our_frames(exc)
                raise
            deactivate(tokens)
            recorder.finish(run, None, reason="closed", end_ns=end_ns)
            raise
        except BaseException as exc:
            # Abandoned (left by `break`) and finalized while the loop shuts down: the loop
            # cancels the task that was to close it, so the cancellation is what arrives here.
            # The generator gets it as it would untraced; the run was closed, not cancelled.
            if _is_cancellation(exc) and _closed_by_event_loop():
                finalized_ns = suspended_ns
            to_throw = exc

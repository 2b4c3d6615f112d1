"""Where, when and by whom each asyncio task was created, and each thread started.

A run's own stack no longer shows who started it once `gather` or `create_task` has handed its
coroutine to the event loop. We wrap `BaseEventLoop.create_task` (the pure-Python loop that
asyncio uses by default) and remember, per task, the user's line that created it, the run that
was current there (which also links a run to its creator when context did not propagate), when
it was created and by which task. The last two tell a timer (one task creating jobs one by one
at a period) from a gather (tasks created together), and a task that was already waiting for a
lock or a queue from one created after the previous run had ended. For runs outside asyncio,
`Thread.start` is wrapped the same way: when each thread was started, and by which thread.

All of it is recorded once per task or thread, never per run.
"""

from __future__ import annotations

import sys
import threading
import weakref
from typing import Any

from . import current, importhook
from .clock import now_ns
from .errors import internal_error
from .frames import INTERNAL, OTHER, file_kind
from .frames import prepare as prepare_frames

# task -> (created at "file:line", created by run id, created at ns, created by task key)
TaskOrigin = tuple[str | None, str | None, int, str | None]
_origins: weakref.WeakKeyDictionary[Any, TaskOrigin] = weakref.WeakKeyDictionary()
_original_create_task: Any = None

# thread -> (started at ns, started by thread id)
ThreadOrigin = tuple[int, int]
_thread_origins: weakref.WeakKeyDictionary[Any, ThreadOrigin] = weakref.WeakKeyDictionary()
_original_thread_start: Any = None
_this_thread = threading.local()  # each thread's own origin, once looked up


def after_fork_in_child() -> None:
    """The thread that forked is the child's main thread: its origin is looked up again."""
    global _this_thread
    _this_thread = threading.local()


def origin_of(task: object) -> TaskOrigin | None:
    try:
        return _origins.get(task)
    except TypeError:
        return None


def thread_origin() -> ThreadOrigin | None:
    """When and by whom the current thread was started; None for the main thread and threads
    started before racetrace (they were there before any run)."""
    try:
        return _this_thread.origin  # type: ignore[no-any-return]
    except AttributeError:
        pass
    try:
        origin = _thread_origins.get(threading.current_thread())
    except TypeError:
        origin = None
    _this_thread.origin = origin
    return origin


def _creation_site() -> str | None:
    frame = sys._getframe(2)
    fallback = None
    depth = 0
    while frame is not None and depth < 32:
        kind = file_kind(frame.f_code.co_filename)
        if kind == OTHER:
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        if kind != INTERNAL and fallback is None:
            fallback = f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
        depth += 1
    return fallback


def _record(loop: Any, task: object) -> None:
    try:
        created_ns = now_ns()
        site = _creation_site()
        run = current.RUN.get()
        run_id = None
        if run is not None and not run.ended:
            run_id = run.run_id
        creator_key = None
        registry = current.registry
        asyncio = sys.modules.get("asyncio")
        if registry is not None and asyncio is not None:
            creator = asyncio.current_task(loop)
            if creator is not None:
                creator_key = registry.key_of(creator)
        _origins[task] = (site, run_id, created_ns, creator_key)
    except Exception as exc:
        internal_error("recording where a task was created", exc)


def _record_thread(thread: object) -> None:
    try:
        if thread not in _thread_origins:  # a second start() raises: keep the first
            _thread_origins[thread] = (now_ns(), threading.get_ident())
    except TypeError:
        pass  # a Thread subclass that cannot be hashed: no start time for it
    except Exception as exc:
        internal_error("recording when a thread was started", exc)


_wanted = False  # whether create_task is to be observed (the recorder is installed)
_hook_pending = False  # a hook waits for asyncio.base_events to be imported


def install() -> None:
    """Observe task creation, now if asyncio is imported, else when it is: importing asyncio
    only to patch it would cost every traced process ~15 ms at start-up."""
    global _wanted, _hook_pending
    _install_thread_start()
    _wanted = True
    if _original_create_task is not None or _hook_pending:
        return
    _hook_pending = True
    try:
        importhook.register(_on_base_events, "asyncio.base_events")
    except Exception as exc:
        _hook_pending = False
        internal_error("observing asyncio's task creation", exc)


def _on_base_events(base_events: Any) -> None:
    global _original_create_task, _hook_pending
    _hook_pending = False
    if not _wanted or _original_create_task is not None:
        return
    try:
        prepare_frames()  # tasks are coming: classify their creators' files off the loop
        original = base_events.BaseEventLoop.create_task
    except Exception as exc:
        internal_error("observing asyncio's task creation", exc)
        return

    def create_task(self: Any, coro: Any, *args: Any, **kwargs: Any) -> Any:
        task = original(self, coro, *args, **kwargs)
        _record(self, task)
        return task

    create_task.__wrapped__ = original  # type: ignore[attr-defined]
    create_task.__doc__ = original.__doc__
    create_task.__name__ = original.__name__
    create_task.__qualname__ = original.__qualname__
    base_events.BaseEventLoop.create_task = create_task
    _original_create_task = original


def _install_thread_start() -> None:
    global _original_thread_start
    if _original_thread_start is not None:
        return
    original = threading.Thread.start

    def start(self: Any) -> None:
        # Before the thread runs: its first run may begin before `start` returns.
        _record_thread(self)
        original(self)

    start.__wrapped__ = original  # type: ignore[attr-defined]
    start.__doc__ = original.__doc__
    start.__name__ = original.__name__
    start.__qualname__ = original.__qualname__
    threading.Thread.start = start  # type: ignore[method-assign]
    _original_thread_start = original


def uninstall() -> None:
    global _original_create_task, _original_thread_start, _wanted
    _wanted = False
    if _original_thread_start is not None:
        threading.Thread.start = _original_thread_start  # type: ignore[method-assign]
        _original_thread_start = None
    if _original_create_task is None:
        return
    base_events = sys.modules["asyncio.base_events"]  # imported: we patched it
    base_events.BaseEventLoop.create_task = _original_create_task  # type: ignore[method-assign]
    _original_create_task = None

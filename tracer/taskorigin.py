"""Where each asyncio task was created, and by which run: the race detector's "created at".

A run's own stack no longer shows who started it once `gather` or `create_task` has handed its
coroutine to the event loop. We wrap `BaseEventLoop.create_task` (the pure-Python loop that
asyncio uses by default) and remember, per task, the user's line that created it and the run
that was current there. That also links a run to its creator when context did not propagate.
"""

from __future__ import annotations

import sys
import weakref
from typing import Any

from .errors import internal_error
from .frames import INTERNAL, OTHER, file_kind

_origins: weakref.WeakKeyDictionary[Any, tuple[str, str | None]] = weakref.WeakKeyDictionary()
_original_create_task: Any = None


def origin_of(task: object) -> tuple[str, str | None] | None:
    try:
        return _origins.get(task)
    except TypeError:
        return None


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


def _record(task: object) -> None:
    from .runtime import current_run
    from .sink import run_id_of

    try:
        site = _creation_site()
        if site is None:
            return
        run = current_run()
        run_id = None
        if run is not None and not run.ended:
            run_id = run_id_of(run.span)
        _origins[task] = (site, run_id)
    except Exception as exc:
        internal_error("recording where a task was created", exc)


def install() -> None:
    global _original_create_task
    if _original_create_task is not None:
        return
    try:
        import asyncio.base_events as base_events
    except Exception:
        return
    original = base_events.BaseEventLoop.create_task

    def create_task(self: Any, coro: Any, *args: Any, **kwargs: Any) -> Any:
        task = original(self, coro, *args, **kwargs)
        _record(task)
        return task

    create_task.__wrapped__ = original  # type: ignore[attr-defined]
    create_task.__doc__ = original.__doc__
    create_task.__name__ = original.__name__
    create_task.__qualname__ = original.__qualname__
    base_events.BaseEventLoop.create_task = create_task  # type: ignore[method-assign]
    _original_create_task = original


def uninstall() -> None:
    global _original_create_task
    if _original_create_task is None:
        return
    import asyncio.base_events as base_events

    base_events.BaseEventLoop.create_task = _original_create_task  # type: ignore[method-assign]
    _original_create_task = None

"""racetrace: find runs that overlap on one object in concurrent Python programs.

The public API for people who prefer code to environment variables. Importing this module is
cheap: OpenTelemetry is imported only once tracing starts.

    import racetrace
    racetrace.start()                              # same as RACETRACE=1
    racetrace.instrument("myapp.agents:Agent.run")

    class Agent:
        @racetrace.trace                           # traced whenever tracing starts
        async def run(self, task): ...

(PYTEST_DONT_REWRITE: with RACETRACE set, racetrace.pth imports this package before pytest
marks its plugin's package for assertion rewriting; this marker keeps pytest from warning that
it cannot rewrite it, as pytest-cov's does. Nothing here asserts.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar, overload

from ._version import __version__

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["__version__", "instrument", "is_enabled", "start", "stop", "trace", "uninstrument"]


def start(targets: Sequence[str] = (), directory: str | None = None) -> None:
    """Start recording in this process (environment settings apply too)."""
    from racetrace.tracer import attach

    attach.start(tuple(targets), directory)


def stop() -> None:
    """Stop recording and restore every patched method."""
    from racetrace.tracer import attach

    attach.stop()


def is_enabled() -> bool:
    import sys

    runtime = sys.modules.get("racetrace.tracer.runtime")
    return runtime is not None and getattr(runtime, "RECORDER", None) is not None


def instrument(*specs: str) -> None:
    """Trace `module:Class.method` targets, starting the recorder if needed."""
    from racetrace.tracer import attach

    attach.start(tuple(specs))


def uninstrument() -> None:
    """Restore every patched method; recording of decorated functions stops too."""
    stop()


@overload
def trace(function: F) -> F: ...
@overload
def trace(*, stateful: bool | None = None) -> Callable[[F], F]: ...


def trace(function: Any = None, *, stateful: bool | None = None) -> Any:
    """Decorate a method (or function) so that each call is a run.

    Traced whenever tracing is on: `RACETRACE=1`, or `racetrace.start()` called before or after
    the class statement. While tracing is off the decorator costs nothing at call time: it
    returns the function unchanged and only remembers it (weakly), so that a later `start()`
    can patch it in its class or module, as it does a `module:Class.method` target.
    """

    def decorate(fn: F) -> F:
        import os

        from racetrace.tracer import semconv

        env_on = os.environ.get(semconv.ENV_ENABLE, "").strip().lower() not in semconv.OFF_VALUES
        if not (env_on or is_enabled()):
            from racetrace.tracer import deferred

            deferred.remember(fn, stateful)
            return fn
        try:
            if not is_enabled():
                start()
            from racetrace.tracer.decorate import wrap_function

            return wrap_function(fn, stateful=stateful)  # type: ignore[return-value]
        except Exception as exc:
            from racetrace.tracer.errors import internal_error

            internal_error("decorating " + getattr(fn, "__qualname__", "?"), exc)
            return fn

    if function is not None:
        return decorate(function)
    return decorate

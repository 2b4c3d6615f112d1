"""Start-up: what `racetrace.pth` runs in every Python process when RACETRACE is set.

Modelled on coverage.py's `process_startup()`: it returns at once unless the variable is on, is
idempotent (a .pth can be processed twice, and `racetrace.start()` may be called as well), and
each process writes its own file. Child processes inherit the environment, so subprocesses and
multiprocessing workers attach themselves the same way; forked children are handled by the
recorder's at-fork hook.
"""

from __future__ import annotations

import dataclasses
import os

from . import semconv

_started = False
_exit_hook = False
# The pid of the first traced process of a program (children inherit it): the one whose file is
# written even when it records no run, to name the targets that never resolved.
ENV_ROOT = "RACETRACE_ROOT_PID"


def startup() -> bool:
    """Attach if RACETRACE is on. Never raises: a failure is one `racetrace:` line."""
    if not _is_on(os.environ.get(semconv.ENV_ENABLE, "")):
        return False
    try:
        return start()
    except Exception as exc:
        from .errors import internal_error

        internal_error("start-up", exc)
        return False


def _is_on(value: str) -> bool:
    return value.strip().lower() not in semconv.OFF_VALUES


def start(
    targets: tuple[str, ...] | list[str] = (),
    directory: str | None = None,
    presets: tuple[str, ...] | None = None,
) -> bool:
    """Start recording in this process, with settings from the environment plus arguments."""
    global _started
    from . import presets as preset_registry
    from . import runtime
    from . import targets as target_registry
    from .config import Config

    if directory is not None:
        os.environ[semconv.ENV_DIR] = os.path.abspath(directory)
    config = Config.from_env()
    # Children resolve a relative folder against their own working directory; pin it, so that
    # every process of the program writes to the same place.
    os.environ[semconv.ENV_DIR] = config.directory
    if presets is not None:
        config = dataclasses.replace(config, presets=presets)
    runtime.install(config)
    os.environ.setdefault(ENV_ROOT, str(os.getpid()))
    global _exit_hook
    if not _exit_hook:
        import atexit

        atexit.register(_at_exit)
        _exit_hook = True
    if not _started:
        _started = True
        preset_registry.enable(config.presets)
    for spec in (*config.targets, *targets):
        target_registry.request_spec(spec)
    return True


def _at_exit() -> None:
    """Name the targets that never resolved: in the trace file's header and, with
    RACETRACE_VERBOSE, on stderr. A process that recorded no run has no file; the program's
    first process writes one all the same when it has targets to name, so that "nothing
    traced" reads apart from "nothing wrong" (its children do not: a helper process that never
    imports the program, such as multiprocessing's resource tracker, would name every target)."""
    try:
        from . import runtime, targets
        from .errors import verbose

        recorder = runtime.RECORDER
        if recorder is None:
            return
        missing = targets.unresolved()
        for spec, reason, said in missing:
            if not said:
                verbose(f"target {spec} not traced in process {os.getpid()}: {reason}")
        root = os.environ.get(ENV_ROOT) == str(os.getpid())
        recorder.sink.at_exit([{"target": spec, "reason": reason}
                               for spec, reason, _ in missing], create=root and bool(missing))
    except Exception as exc:
        from .errors import internal_error

        internal_error("exit", exc)


def stop() -> None:
    """Stop recording and restore every patched method (mostly for tests and notebooks)."""
    global _started
    from . import runtime, targets

    targets.uninstrument_all()
    runtime.uninstall()
    _started = False

"""Start-up: what `racetrace.pth` runs in every Python process when RACETRACE is set.

Modelled on coverage.py's `process_startup()`: it returns at once unless the variable is on, is
idempotent (a .pth can be processed twice, and `racetrace.start()` may be called as well), and
each process writes its own file. Child processes inherit the environment, so subprocesses and
multiprocessing workers attach themselves the same way; forked children are handled by the
recorder's at-fork hook.
"""

from __future__ import annotations

import os

from . import semconv

_started = False
_created_session: str | None = None  # the session this process created (not joined)
_exit_hook = False
# The pid of the first traced process of a program (children inherit it): the one whose file is
# written even when it records no run, so that "nothing traced" reads apart from "tracing never
# started", and the targets that never resolved are named.
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
    global _started, _created_session, _exit_hook
    import sys

    from . import presets as preset_registry
    from . import runtime, session
    from .config import Config

    if directory is not None:
        os.environ[semconv.ENV_DIR] = os.path.abspath(directory)
    config = Config.from_env()
    # Children resolve a relative folder against their own working directory; pin it, so that
    # every process of the program writes to the same place.
    os.environ[semconv.ENV_DIR] = root = config.directory
    if runtime.RECORDER is None:
        handed = os.environ.get(semconv.ENV_SESSION_DIR)
        folder = session.directory_for(config.directory, os.environ)
        if folder != handed:
            _created_session = folder
        config = config.replace(directory=folder)
    if presets is not None:
        config = config.replace(presets=presets)
    recorder = runtime.install(config)
    if os.path.dirname(config.directory) == root and recorder.sink.prepare_folder is None:
        folder = config.directory
        recorder.sink.prepare_folder = lambda: session.ensure(folder)
        if folder == _created_session:
            # Now, before the program runs: never inside one of its traced calls.
            keep = session.keep_from(os.environ.get(semconv.ENV_KEEP, ""))
            session.prune(root, keep=keep, current=folder)
    os.environ.setdefault(ENV_ROOT, str(os.getpid()))
    if not _exit_hook:
        import atexit

        atexit.register(_at_exit)
        _exit_hook = True
    if not _started:
        _started = True
        preset_registry.enable(config.presets)
    # The target machinery (and wrapt with the wrappers) is imported only when something is
    # to be traced: targets named here, or a preset's framework imported (presets/__init__).
    named = (*config.targets, *targets)
    if named:
        from . import targets as target_registry

        for spec in named:
            target_registry.request_spec(spec)
    if "racetrace.tracer.deferred" in sys.modules:  # @racetrace.trace applied while off
        from .decorate import adopt_deferred

        adopt_deferred()
    return True


def _at_exit() -> None:
    """Name the targets that never resolved: on stderr (with a hint; all of them with
    RACETRACE_VERBOSE) and in the trace file's header. A process that recorded no run has no
    file; the program's first process writes one all the same (a header alone), so that an
    empty session reads apart from tracing that never started. Its children do not: a helper
    process that never imports the program, such as multiprocessing's resource tracker, would
    leave a file of its own and name every target."""
    try:
        import sys

        from . import runtime

        recorder = runtime.RECORDER
        if recorder is None:
            return
        recorder.check_fork()
        missing: list[tuple[str, str]] = []
        targets = sys.modules.get(__package__ + ".targets")  # never imported: nothing named
        if targets is not None:
            targets.report_unresolved()
            missing = targets.unresolved()
        root = os.environ.get(ENV_ROOT) == str(os.getpid())
        recorder.sink.at_exit([{"target": spec, "reason": reason} for spec, reason in missing],
                              create=root)
    except Exception as exc:
        from .errors import internal_error

        internal_error("exit", exc)


def stop() -> None:
    """Stop recording and restore every patched method (mostly for tests and notebooks)."""
    global _started, _created_session
    from . import presets, runtime, targets

    presets.disable()
    targets.uninstrument_all()
    runtime.uninstall()
    _started = False
    # The next start in this process is a new program run, not the one that created this.
    if _created_session is not None and os.environ.get(semconv.ENV_SESSION_DIR) == _created_session:
        del os.environ[semconv.ENV_SESSION_DIR]
    _created_session = None
    if os.environ.get(ENV_ROOT) == str(os.getpid()):
        del os.environ[ENV_ROOT]

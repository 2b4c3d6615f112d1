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
_created_session: str | None = None  # the session this process created (not joined)


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

    global _created_session
    from . import session

    if directory is not None:
        os.environ[semconv.ENV_DIR] = os.path.abspath(directory)
    config = Config.from_env()
    # Children resolve a relative folder against their own working directory; pin it, so that
    # every process of the program writes to the same place.
    os.environ[semconv.ENV_DIR] = config.directory
    if runtime.RECORDER is None:
        handed = os.environ.get(semconv.ENV_SESSION_DIR)
        folder = session.directory_for(config.directory, os.environ)
        if folder != handed:
            _created_session = folder
        config = dataclasses.replace(config, directory=folder)
    if presets is not None:
        config = dataclasses.replace(config, presets=presets)
    runtime.install(config)
    if not _started:
        _started = True
        preset_registry.enable(config.presets)
        _name_unresolved_at_exit()
    for spec in (*config.targets, *targets):
        target_registry.request_spec(spec)
    from .decorate import adopt_deferred

    adopt_deferred()  # @racetrace.trace applied before this start
    return True


_exit_hook_registered = False


def _name_unresolved_at_exit() -> None:
    global _exit_hook_registered
    if _exit_hook_registered:
        return
    import atexit

    from . import targets

    atexit.register(targets.report_unresolved)
    _exit_hook_registered = True


def stop() -> None:
    """Stop recording and restore every patched method (mostly for tests and notebooks)."""
    global _started, _created_session
    from . import runtime, targets

    targets.uninstrument_all()
    runtime.uninstall()
    _started = False
    # The next start in this process is a new program run, not the one that created this.
    if _created_session is not None and os.environ.get(semconv.ENV_SESSION_DIR) == _created_session:
        del os.environ[semconv.ENV_SESSION_DIR]
    _created_session = None

"""How racetrace speaks from inside someone else's program: one `racetrace:` line, once.

The tracer must never change the host's behaviour, so its own failures are caught at every
boundary with user code and reported here instead of raised.
"""

from __future__ import annotations

import os
import sys

_said: set[str] = set()


def say(message: str, *, once_key: str | None = None) -> None:
    """Write `racetrace: message` to stderr; with once_key, only the first time for that key."""
    key = once_key if once_key is not None else message
    if key in _said:
        return
    _said.add(key)
    try:
        sys.stderr.write(f"racetrace: {message}\n")
        sys.stderr.flush()
    except Exception:  # a closed or broken stderr is the host's business, not ours
        pass


def internal_error(where: str, exc: BaseException) -> None:
    """Report a failure inside racetrace once per process; the host program goes on."""
    if isinstance(exc, RecursionError):
        # The program is at its recursion limit, not racetrace at fault: it gets its own
        # RecursionError where it would untraced, and stderr stays as it would be.
        return
    say(
        f"internal error in {where} ({type(exc).__name__}: {exc}); "
        "tracing goes on where it can, your program is not affected",
        once_key="internal-error",
    )


def is_verbose() -> bool:
    return os.environ.get("RACETRACE_VERBOSE", "").strip() not in ("", "0")


def verbose(message: str) -> None:
    if is_verbose():
        say(message)


def forget_after_fork() -> None:
    """A forked child reports its own problems: it may write somewhere else."""
    _said.clear()

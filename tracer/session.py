"""Trace sessions: one folder per top-level traced program run, which its children join.

Without sessions, trace files of every run pile up in one folder, and the report of today's run
still shows yesterday's finding. The first traced process of a program names
`RACETRACE_DIR/<time>-<pid>/` (or `RACETRACE_DIR/$RACETRACE_SESSION/`) and hands it to its
children through `RACETRACE_SESSION_DIR`; subprocesses, fork and spawn workers all write there.
The folder, marked by a small `.racetrace-session` file, is made when the first trace file is
opened; old sessions are pruned at start-up by the process that names the new one.

Standard library only: it runs at start-up in every traced process. What runs while the program
runs (`create`, from the trace writer) calls nothing a program may trace or patch: references to
`os` functions taken at import (a test's mock of `os.scandir`, a blocking-call checker) and no
`json` (a target may be `json:loads`).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import MutableMapping

from . import semconv
from .clock import now_ns

_UNSAFE = re.compile(r"[^A-Za-z0-9._+@=-]+")
_CREATED_NS = re.compile(r'"created_ns":\s*(\d{1,19})')
_os_mkdir = os.mkdir
_os_open = os.open
_os_write = os.write
_os_close = os.close
_TRACE_FILE = re.compile(r"^(?P<host>.+)\.(?P<pid>\d+)\.[0-9a-f]+\.jsonl$")


def directory_for(root: str, environ: MutableMapping[str, str]) -> str:
    """The folder this process writes into: the session its parent handed down when that lies
    in `root` (or is `root` itself, for tools that read one flat folder), else a new session,
    which is then handed down to this process's children through `environ`."""
    handed = environ.get(semconv.ENV_SESSION_DIR)
    if handed and (handed == root or os.path.dirname(handed) == root):
        return handed
    directory = os.path.join(root, session_name(environ.get(semconv.ENV_SESSION, "")))
    environ[semconv.ENV_SESSION_DIR] = directory
    return directory


def ensure(directory: str) -> None:
    """Make the session's folder and marker, as its first trace file is opened: a process that
    records nothing (a `racetrace` command run with RACETRACE exported, a helper process) leaves
    no empty session behind to pass for the latest."""
    root, name = os.path.split(directory)
    create(root, name)


def session_name(requested: str) -> str:
    """`requested` made safe as one folder name, or `<YYYYmmdd-HHMMSS>-<pid>`."""
    name = _UNSAFE.sub("_", requested.strip()).strip(".")
    if name:
        return name[:100]
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"


def keep_from(value: str) -> int:
    try:
        return max(1, int(value))
    except ValueError:
        return semconv.DEFAULT_KEEP


def create(root: str, name: str) -> str:
    """Make the session folder and its marker (kept if the session already exists)."""
    directory = os.path.join(root, name)
    make_dirs(directory, 0o700)
    marker = os.path.join(directory, semconv.SESSION_MARKER)
    try:
        fd = _os_open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return directory
    try:
        # `name` is made of [A-Za-z0-9._+@=-] (session_name): no JSON escaping needed.
        record = f'{{"name": "{name}", "created_ns": {now_ns()}, "pid": {os.getpid()}}}'
        _os_write(fd, record.encode())
    finally:
        _os_close(fd)
    return directory


def make_dirs(directory: str, mode: int = 0o777) -> None:
    """`os.makedirs(directory, mode, exist_ok=True)` through our own reference to `os.mkdir`
    (a program's patched `os.mkdir`, a blocking-call checker, never sees racetrace's)."""
    try:
        _os_mkdir(directory, mode)
    except FileExistsError:
        return
    except FileNotFoundError:
        parent = os.path.dirname(directory)
        if not parent or parent == directory:
            raise
        make_dirs(parent, mode)
        try:
            _os_mkdir(directory, mode)
        except FileExistsError:
            pass


def is_session(directory: str) -> bool:
    return os.path.isfile(os.path.join(directory, semconv.SESSION_MARKER))


def created_ns(directory: str) -> int:
    """When the session was created (its marker's record, else the marker's mtime)."""
    marker = os.path.join(directory, semconv.SESSION_MARKER)
    try:
        with open(marker, encoding="utf-8", errors="replace") as f:
            found = _CREATED_NS.search(f.read(4096))
        if found is not None:
            return int(found[1])
    except OSError:
        pass
    try:
        return os.stat(marker).st_mtime_ns
    except OSError:
        return 0


def sessions_in(root: str) -> list[str]:
    """The session folders directly under `root`, oldest first."""
    try:
        entries = [e.path for e in os.scandir(root) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []
    found = [path for path in entries if is_session(path)]
    return sorted(found, key=lambda path: (created_ns(path), os.path.basename(path)))


def prune(root: str, *, keep: int, current: str) -> list[str]:
    """Remove the oldest sessions beyond the newest `keep` (the current one counts). Never the
    current one, nor one that a live process on this host is still writing, nor a folder that
    holds anything but trace files. Returns what was removed."""
    sessions = [s for s in sessions_in(root) if s != current]
    removed = []
    for directory in sessions[: max(0, len(sessions) - (keep - 1))]:
        if _in_use(directory) or not _only_traces(directory):
            continue
        import shutil

        try:
            shutil.rmtree(directory)
        except OSError:
            continue
        removed.append(directory)
    return removed


def _only_traces(directory: str) -> bool:
    try:
        with os.scandir(directory) as entries:
            return all(
                e.is_file(follow_symlinks=False)
                and (e.name == semconv.SESSION_MARKER or e.name.endswith(".jsonl"))
                for e in entries
            )
    except OSError:
        return False


def _in_use(directory: str) -> bool:
    """Whether a process of this host that wrote a file here is still alive."""
    from .identity import host_name

    host = host_name()
    try:
        names = os.listdir(directory)
    except OSError:
        return False
    for name in names:
        match = _TRACE_FILE.match(name)
        if match is None or match["host"] != host:
            continue
        pid = int(match["pid"])
        if pid == os.getpid():
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        except OSError:  # alive, not ours to signal
            return True
        return True
    return False

"""Read what a test session's processes appended to their trace files since the last look.

The plugin checks every test as it ends, so it cannot reload the whole trace each time (that
would be quadratic in the length of the suite): it keeps an offset per file and decodes only
the complete lines written since. The pytest process, the subprocesses its tests start and
their children each write their own file in the session's directory (docs/trace-format.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from racetrace.analyzers.core.lines import read_header
from racetrace.analyzers.core.model import End, Origin, Process, Run
from racetrace.analyzers.core.tail import FileTail
from racetrace.tracer.session import is_session

_HEADER_PREFIX = b'{"type":"header","format":"racetrace.trace/'
# Taken at import: a test may patch `os.scandir` (to a Mock that raises, say) while the plugin
# looks at the trace folder after its body; the plugin's call must neither fail nor count.
_scandir = os.scandir
SUFFIX = ".jsonl"


# The test runner's own frames (pytest, pluggy, the async plugins, xdist) end every stack
# recorded in a test: the same lines for every run, and in the way of the user's.
_RUNNER_DIRS = tuple(f"{os.sep}{name}{os.sep}" for name in
                     ("_pytest", "pluggy", "pytest_asyncio", "xdist", "execnet"))
_RUNNER_FILES = (f"{os.sep}anyio{os.sep}pytest_plugin.py",)


def _is_runner_frame(frame: str) -> bool:
    return any(d in frame for d in _RUNNER_DIRS) or any(f in frame for f in _RUNNER_FILES)


def is_trace_file(path: str) -> bool:
    """Whether `path` starts with a racetrace trace header (what the tracer's sink writes)."""
    try:
        with open(path, "rb") as f:
            return f.read(len(_HEADER_PREFIX)) == _HEADER_PREFIX
    except OSError:
        return False


def header_pid(path: str) -> int | None:
    header = read_header(path)
    return header.pid if header is not None else None


@dataclass
class Poll:
    """What one look found: runs that started, ends of runs (in file order)."""

    runs: list[Run] = field(default_factory=list)
    ends: list[End] = field(default_factory=list)


@dataclass
class _File:
    tail: FileTail
    process: Process | None = None
    origin: Origin | None = None  # shared by its runs


class TraceTail:
    """Follows the trace files in one directory (not below it: xdist workers have their own)."""

    def __init__(self, directory: str, *, own_pid: int | None = None) -> None:
        self.directory = directory
        self._files: dict[str, _File] = {}
        self._ignored: set[str] = set()
        # Files already there belong to an earlier session (the directory was not emptied
        # because another tool owns it), except this process's own, opened before we looked.
        for path in self._listing():
            if own_pid is None or header_pid(path) != own_pid:
                self._ignored.add(path)

    @property
    def files(self) -> list[str]:
        return list(self._files)

    @property
    def processes(self) -> list[Process]:
        return [f.process for f in self._files.values() if f.process is not None]

    def _listing(self) -> list[str]:
        try:
            with _scandir(self.directory) as entries:
                return sorted(e.path for e in entries
                              if e.name.endswith(SUFFIX) and e.is_file())
        except FileNotFoundError:
            return []

    def poll(self) -> Poll:
        found = Poll()
        for path in self._listing():
            if path in self._ignored:
                continue
            state = self._files.get(path)
            if state is None:
                state = self._files[path] = _File(FileTail(path))
            self._read(path, state, found)
        return found

    @property
    def skipped_lines(self) -> int:
        return sum(f.tail.skipped for f in self._files.values())

    def _read(self, path: str, state: _File, found: Poll) -> None:
        for record in state.tail.read():
            kind = record.__class__
            if kind is Run:
                if state.origin is None:
                    state.origin = Origin(path, state.process.service if state.process else None)
                record.origin = state.origin
                if record.stack:
                    record.stack = [f for f in record.stack if not _is_runner_frame(f)]
                found.runs.append(record)
            elif kind is End:
                found.ends.append(record)
            elif state.process is None:
                state.origin = None  # now with the header's service
                state.process = Process(
                    host=record.host, pid=record.pid, source=path, service=record.service,
                    argv=record.argv, ppid=record.ppid, started_ns=record.wall_ns,
                    last_ns=record.wall_ns,
                )


def erase(directory: str, *, recursive: bool) -> None:
    """Remove the trace files an earlier session left in `directory`, as coverage.py erases its
    data before a run: a report must not mix two sessions. Only racetrace trace files go."""
    if not os.path.isdir(directory):
        return
    for root, dirs, names in os.walk(directory):
        # Sessions that `racetrace run` or RACETRACE=1 left here are not this test session's.
        dirs[:] = [d for d in dirs if not is_session(os.path.join(root, d))]
        for name in names:
            path = os.path.join(root, name)
            if name.endswith(SUFFIX) and is_trace_file(path):
                try:
                    os.remove(path)
                except OSError:
                    pass
        if not recursive:
            dirs.clear()

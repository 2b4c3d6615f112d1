"""`--follow`: tail trace files while the traced program still writes them.

Each poll finds new files under the given paths and reads only the bytes appended since the
last poll, keeping an incomplete last line for the next one (the writer flushes whole lines,
but a poll can land mid-write). Runs are decoded with the analyzers' own record types, so a
live trace is the same `Trace` a full load would give. A run still open in a process that is
still alive on this host reaches "now": it grows on screen while it runs.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from racetrace.analyzers.core.lines import finish
from racetrace.analyzers.core.load import load, trace_files
from racetrace.analyzers.core.model import (
    End,
    Header,
    Origin,
    Process,
    Run,
    Trace,
    last_ns_by_process,
)
from racetrace.analyzers.core.tail import FileTail


@dataclass
class _FileState:
    path: Path
    tail: FileTail
    header: Header | None = None
    runs: dict[str, Run] = field(default_factory=dict)
    last_ns: int = 0
    orphan_ends: int = 0  # ends whose start is not in this file
    foreign: Trace | None = None  # an OTLP file: re-read whole (rare, and not appended to)
    origin: Origin | None = None  # shared by its runs


class Follower:
    """Incremental reader of trace files; `poll()` then `snapshot()`."""

    def __init__(
        self, paths: Sequence[str | os.PathLike[str]], *, key_attr: str | None = None,
        skip_folder: Callable[[Path], bool] | None = None,
    ) -> None:
        self.paths = list(paths)
        self.key_attr = key_attr
        # Folders whose files are not followed (the sessions that ended before this follow).
        self.skip_folder = skip_folder
        self._skipped: dict[Path, bool] = {}
        self._files: dict[Path, _FileState] = {}
        self._hostnames = {socket.gethostname(), socket.gethostname().split(".")[0]}

    def poll(self) -> bool:
        """Read what was appended since the last poll; whether anything changed."""
        changed = False
        for path, _named in trace_files(self.paths):
            state = self._files.get(path)
            if state is None and not _named and self._skips(path.parent):
                continue
            if state is None:
                state = self._files[path] = _FileState(path, FileTail(path))
                changed = True
            changed |= self._read(state)
        return changed

    def _skips(self, folder: Path) -> bool:
        if self.skip_folder is None:
            return False
        skipped = self._skipped.get(folder)
        if skipped is None:
            skipped = self._skipped[folder] = self.skip_folder(folder)
        return skipped

    def _read(self, state: _FileState) -> bool:
        if state.foreign is not None or (
            state.tail.offset == 0 and _is_otlp(state.path)
        ):
            try:
                size = state.path.stat().st_size
            except OSError:
                return False
            if state.foreign is not None and size == state.tail.offset:
                return False
            state.tail.offset = size
            state.foreign = load([state.path], key_attr=self.key_attr)
            return True
        records = state.tail.read()
        if state.tail.restarted:  # truncated or replaced: what was read before is gone
            state.header, state.runs, state.last_ns, state.orphan_ends = None, {}, 0, 0
            state.origin = None
        source = str(state.path)
        for record in records:
            if isinstance(record, Run):
                if state.origin is None:
                    state.origin = Origin(source, state.header.service if state.header else None)
                record.origin = state.origin
                state.runs[record.run_id] = record
                state.last_ns = max(state.last_ns, record.start_ns)
            elif isinstance(record, End):
                run = state.runs.get(record.run_id)
                if run is None:
                    state.orphan_ends += 1
                    continue
                finish(run, record)
                state.last_ns = max(state.last_ns, record.end_ns)
            elif state.header is None:
                state.header = record
                state.origin = None  # now with the header's service
        return bool(records) or state.tail.restarted

    def snapshot(self) -> Trace:
        """Everything read so far, as one trace (runs sorted by start)."""
        runs: list[Run] = []
        processes: list[Process] = []
        problems: list[str] = []
        skipped = 0
        now = time.time_ns()
        for state in self._files.values():
            if state.foreign is not None:
                runs.extend(state.foreign.runs)
                processes.extend(state.foreign.processes)
                skipped += state.foreign.skipped_lines
                problems.extend(state.foreign.problems)
                continue
            skipped += state.tail.skipped + state.orphan_ends
            problems.extend(state.tail.problems)
            if not state.runs and state.header is None:
                continue
            runs.extend(state.runs.values())
            header = state.header
            any_run = next(iter(state.runs.values()), None)
            host = header.host if header else (any_run.host if any_run else "")
            pid = header.pid if header else (any_run.pid if any_run else 0)
            last = max(state.last_ns, header.wall_ns if header else 0)
            if self._alive(host, pid):
                last = max(last, now)
            processes.append(
                Process(
                    host=host,
                    pid=pid,
                    source=str(state.path),
                    service=header.service if header else None,
                    argv=header.argv if header else [],
                    ppid=header.ppid if header else None,
                    started_ns=header.wall_ns if header else 0,
                    last_ns=last,
                )
            )
        runs.sort(key=_start_of)
        return Trace(
            runs=runs,
            processes=processes,
            skipped_lines=skipped,
            problems=problems,
            files=[str(p) for p in self._files],
            process_last_ns=last_ns_by_process(processes),
        )

    def _alive(self, host: str, pid: int) -> bool:
        if pid <= 0 or host not in self._hostnames:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # exists, owned by someone else
        except OSError:
            return False
        return True


def _is_otlp(path: Path) -> bool:
    """An OpenTelemetry Collector file (OTLP JSON lines) rather than a racetrace trace."""
    try:
        with path.open("rb") as handle:
            return handle.read(64).lstrip().startswith(b'{"resourceSpans"')
    except OSError:
        return False


def _start_of(run: Run) -> int:
    return run.start_ns

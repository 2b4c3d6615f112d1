"""Read trace files back into runs: many processes merged, damage skipped and counted.

Accepts files and directories (every `*.jsonl` below a directory). A line that does not decode
(a process killed mid-write, a disk that filled up, a hand edit) is skipped, counted and named
once; the rest of the file still loads. Only input that cannot be read at all (a path that does
not exist, a file that is not a trace) is a `LoadError`.

Files are read a block at a time, never mapped (see `blocks.py`: a mapped file that shrinks
while it is decoded kills the reader with a signal).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from operator import attrgetter
from pathlib import Path
from typing import Any, Literal

from racetrace.tracer.semconv import STATUS_ERROR

from .blocks import Blocks
from .gcpause import gc_paused
from .lines import Loaded, NotATrace, ended_before_start, finish, load_lines
from .model import End, Process, Run, RunIndex, Trace, last_ns_by_process

__all__ = ["LoadError", "NotATrace", "load", "trace_files"]

TRACE_SUFFIXES = (".jsonl", ".json")

ProgressCallback = Callable[[int, int], None]  # (bytes done, bytes total)


class LoadError(Exception):
    """Input that cannot be loaded at all; the message is one line naming the file."""


def trace_files(paths: Iterable[str | os.PathLike[str]]) -> list[tuple[Path, bool]]:
    """Files to read, each with whether the user named it (rather than its directory)."""
    files: list[tuple[Path, bool]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(
                (p, False)
                for p in sorted(path.rglob("*"))
                if p.suffix in TRACE_SUFFIXES and p.is_file()
            )
        elif path.is_file():
            files.append((path, True))
        elif not path.exists():
            raise LoadError(f"{path}: no such file or directory")
        else:
            raise LoadError(f"{path}: not a regular file or directory")
    # A file named twice (a directory and a file in it) is read once.
    unique: dict[Path, tuple[Path, bool]] = {}
    for path, named in files:
        seen = unique.get(path.resolve())
        unique[path.resolve()] = (path, named or (seen is not None and seen[1]))
    return list(unique.values())


def load(
    paths: Iterable[str | os.PathLike[str]],
    *,
    key_attr: str | None = None,
    on_progress: ProgressCallback | None = None,
    details: Literal["eager", "lazy"] = "eager",
) -> Trace:
    """Load every run from `paths`, sorted by start time. With `details="lazy"` each run's
    details (class, label, task name, stack, ...) are read from its file when first used:
    the fastest load when only a few runs will be shown (`racetrace report`)."""
    return load_files(trace_files(paths), key_attr=key_attr, on_progress=on_progress,
                      details=details)


def load_files(
    files: list[tuple[Path, bool]],
    *,
    key_attr: str | None = None,
    on_progress: ProgressCallback | None = None,
    details: Literal["eager", "lazy"] = "eager",
) -> Trace:
    """`load` of the files `trace_files` listed."""
    total = sum(map(_size, (f for f, _ in files)))
    done = 0
    runs: list[Run] = []
    processes: list[Process] = []
    problems: list[str] = []
    skipped = 0
    index = RunIndex()
    loaded = Loaded()
    orphans: list[tuple[End, str]] = []  # ends whose start another file may hold
    with gc_paused():
        for file, named in files:
            try:
                with open(file, "rb", buffering=0) as handle:
                    size = _size(file)
                    if _looks_like_otlp(handle):
                        from .otlp import load_otlp_lines

                        file_runs, file_processes, file_skipped, file_problems = (
                            load_otlp_lines(handle.readall(), str(file), key_attr=key_attr))
                        file_runs = _indexed(file_runs, index, loaded, str(file),
                                             file_problems)
                    else:
                        file_runs, file_processes, file_skipped, file_problems = load_lines(
                            Blocks(handle), str(file), index, loaded, orphans,
                            details=details == "eager",
                        )
            except OSError as exc:
                raise LoadError(f"{file}: cannot read: {exc.strerror or exc}") from exc
            except NotATrace as exc:
                if named:
                    raise LoadError(f"{exc} (not a racetrace or OTLP trace file)") from None
                problems.append(f"{file}: ignored, not a trace file")
                continue
            runs.extend(file_runs)
            processes.extend(file_processes)
            skipped += file_skipped
            problems.extend(file_problems)
            done += size
            if on_progress is not None:
                on_progress(done, total)
        unmatched = 0
        for end, source in orphans:
            run = index.get(end.run_id)
            if run is None or run.end_ns is not None:
                skipped += 1
                unmatched += 1
                if len(problems) < 20:
                    what = "whose start is missing" if run is None else "that had already ended"
                    problems.append(f"{source}: end of run {end.run_id} {what}")
                continue
            if not finish(run, end):
                skipped += 1
                if len(problems) < 20:
                    problems.append(ended_before_start(source, end))
                continue
            loaded.ended(run)
        runs.sort(key=_start_of)
    return Trace(
        runs=runs,
        processes=processes,
        skipped_lines=skipped,
        problems=problems,
        files=[str(f) for f, _ in files],
        process_last_ns=last_ns_by_process(processes),
        index=index,
        lanes=loaded.lanes,
        lane_starts=loaded.lane_starts,
        notable=loaded.notable,
        on_loop=loaded.on_loop,
        unmatched_ends=unmatched,
    )


_start_of = attrgetter("start_ns")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:  # gone since it was listed
        raise LoadError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _looks_like_otlp(handle: Any) -> bool:
    start = handle.read(4096)
    handle.seek(0)
    return start.lstrip().startswith(b'{"resourceSpans"')


def _indexed(runs: list[Run], index: RunIndex, into: Loaded, source: str,
             problems: list[str]) -> list[Run]:
    """`runs` (from an OTLP file) without those whose id is already loaded, filed in lanes."""
    kept = []
    mine: dict[str, Run] = {}
    for run in runs:
        if run.run_id in mine or index.in_files(run.run_id):
            if len(problems) < 20:
                problems.append(f"{source}: run {run.run_id} loaded twice; kept the first")
            continue
        mine[run.run_id] = run
        kept.append(run)
        into.lanes.setdefault(run.instance_key, []).append(run)
        into.lane_starts.setdefault(run.instance_key, []).append(run.start_ns)
        if run.status == STATUS_ERROR or run.resource_key is not None:
            into.notable.append(run)
        if run.loop_running:
            into.on_loop.append(run)
    index.add(kept)
    return kept

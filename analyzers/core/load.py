"""Read trace files back into runs: many processes merged, damage skipped and counted.

Accepts files and directories (every `*.jsonl` below a directory). A line that does not decode
(a process killed mid-write, a disk that filled up, a hand edit) is skipped, counted and named
once; the rest of the file still loads. Only input that cannot be read at all (a path that does
not exist, a file that is not a trace) is a `LoadError`.

There is one decoding path, the columnar core (`tableload.load_table`): a `Trace` is a table's
runs as `Run` objects (its rows' views), for the code that wants every run as an object (the
live timeline, hand-built checks). Commands that only write runs read the table itself and make
each view as they write it (`rowviews`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import msgspec

from .details import attach_details, line_at
from .gcpause import gc_paused
from .lines import MAX_PROBLEMS, NotATrace, first_line, line_number

# `_looks_like_otlp` and `_size` too, for a module that still imports them from here.
from .loadfiles import (  # noqa: F401
    TRACE_SUFFIXES,
    LoadError,
    ProgressCallback,
    _looks_like_otlp,
    _size,
    trace_files,
)
from .model import Run, RunIndex, Trace, by_instance
from .table import Table

__all__ = ["TRACE_SUFFIXES", "LoadError", "NotATrace", "ProgressCallback", "load", "load_files",
           "trace_files", "trace_of"]


def load(
    paths: Iterable[str | os.PathLike[str]],
    *,
    key_attr: str | None = None,
    on_progress: ProgressCallback | None = None,
    details: Literal["eager", "lazy"] = "eager",
) -> Trace:
    """Load every run from `paths`, sorted by start time. With `details="lazy"` each run's
    details (class, label, task name, stack, ...) are read from its file when first used:
    the fastest load when only a few runs will be shown."""
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
    from .tableload import load_table

    table = load_table(files, key_attr=key_attr, on_progress=on_progress)
    return trace_of(table, details=details)


def trace_of(table: Table, *, details: Literal["eager", "lazy"] = "lazy") -> Trace:
    """The runs of `table` as a `Trace`: its rows' views (kept by the table), sorted by start
    (load order breaking ties), the rows of copied files left out; lanes, notable runs and the
    runs on a running loop in the order the loader met them. `details="eager"` reads every
    run's details now, counting those that do not decode as damaged lines."""
    import numpy as np

    with gc_paused():
        kept = np.arange(len(table))
        if table.dropped:
            kept = kept[~np.isin(kept, np.fromiter(table.dropped, dtype=np.int64))]
        in_load_order = table.views_of(kept)
        view_of = dict(zip(kept.tolist(), in_load_order, strict=True))
        trace = Trace(
            runs=[view_of[r] for r in kept[np.argsort(table.start[kept], kind="stable")]
                  .tolist()],
            processes=table.processes,
            skipped_lines=table.skipped_lines,
            problems=list(table.problems),
            files=table.files,
            process_last_ns=table.process_last_ns,
            unmatched_ends=table.unmatched_ends,
            notable=[view_of[r] for r in table.notable],
            on_loop=[view_of[r] for r in table.on_loop],
        )
        index = trace.index = RunIndex()
        index.add(in_load_order)  # the first loaded of a repeated id wins, as in the table
        index.linked.update((run_id, view_of[row]) for run_id, row in table.linked.items()
                            if row in view_of)
        lanes = trace.lanes = by_instance(in_load_order)
        trace.lane_starts = {key: [r.start_ns for r in lane] for key, lane in lanes.items()}
        if details == "eager":
            _read_details(trace, in_load_order)
    return trace


def _read_details(trace: Trace, runs: list[Run]) -> None:
    """Every run's details, decoded a stretch of its file at a time; a run whose details do
    not decode keeps blank ones and counts as a damaged line, named with its line number."""
    stretches: dict[int, list[Run]] = {}
    for run in runs:
        origin = run.origin
        if run.details is None and origin is not None and origin.lo >= 0:
            stretches.setdefault(id(origin), []).append(run)
    named: dict[str, int] = {}
    handles: dict[str, object] = {}
    try:
        for group in stretches.values():
            origin = group[0].origin
            assert origin is not None
            try:
                handle = handles.get(origin.path)
                if handle is None:
                    handle = handles[origin.path] = open(origin.path, "rb")
                handle.seek(origin.lo)  # type: ignore[attr-defined]
                data = handle.read(origin.hi - origin.lo)  # type: ignore[attr-defined]
            except OSError:
                data = b""
            for run, exc in attach_details(group, data):
                trace.skipped_lines += 1
                source = origin.path
                if named.setdefault(source, _problems_of(trace, source)) >= MAX_PROBLEMS:
                    continue
                named[source] += 1
                at = data.find(msgspec.json.encode(run.run_id))
                number = (line_number(data, 0, at, line_at(source, origin.lo))
                          if at >= 0 else "?")
                trace.problems.append(f"{source}:{number}: run {run.run_id}: details "
                                      f"unreadable: {first_line(exc)}")
    finally:
        for handle in handles.values():
            handle.close()  # type: ignore[attr-defined]


def _problems_of(trace: Trace, source: str) -> int:
    """How many problems of `source` a load named (at most `MAX_PROBLEMS` a file)."""
    return sum(1 for p in trace.problems if p.startswith((f"{source}:", f"{source} ")))

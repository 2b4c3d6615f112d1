"""`racetrace report` on two cores: the files of different processes analyzed apart, combined.

Every instance key belongs to one process, and each process writes its own file. So a trace of
several processes splits into two groups of files: a forked child loads and analyzes one
(`analyze_part`) while this process does the other, and `combine` analyzes what spans processes
(resource keys) and numbers the findings across both. The report is the one
`analyze(load(paths))` gives: the groups are contiguous in file order, as a single load would
meet them, and when a group turns out to need the other (an END line whose run is in the other
group's files, a resource run whose parent run is there) the trace is analyzed again in one
piece.

It is used only where it pays and is safe: on Linux (fork), with two CPUs or more, no other
thread running, and at least `MIN_BYTES` of racetrace files from distinct processes.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import sys
import threading
from collections.abc import Iterable
from itertools import accumulate
from pathlib import Path
from typing import Any, NoReturn

from racetrace.analyzers.core.lines import read_header
from racetrace.analyzers.core.load import LoadError, ProgressCallback, trace_files
from racetrace.analyzers.core.tableload import load_table

from .analyze import Part, analyze, analyze_part, combine
from .loops import DEFAULT_BLOCKING_NS
from .report import Report
from .suppressions import Suppressions

MIN_BYTES = 64 << 20  # below this, forking and combining cost more than they save

Files = list[tuple[Path, bool]]


def analyze_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    suppressions: Suppressions | None = None,
    max_pairs: int = 100,
    key_attr: str | None = None,
    on_progress: ProgressCallback | None = None,
    min_bytes: int = MIN_BYTES,
    jobs: int | None = None,
    blocking_threshold_ns: int = DEFAULT_BLOCKING_NS,
) -> Report:
    """Load and analyze `paths` (a `LoadError` for input that cannot be read), on two cores
    when that pays (see the module docstring). `jobs=1`: in this process only; `jobs=2`:
    on two whenever the files and the machine allow, however small."""
    files = trace_files(paths)
    groups = None
    if jobs != 1:
        groups = split(files, min_bytes=0 if jobs == 2 else min_bytes)
    if groups is not None:
        report = analyze_split(groups, suppressions, max_pairs, on_progress,
                               blocking_threshold_ns=blocking_threshold_ns)
        if report is not None:
            return report
    table = load_table(files, key_attr=key_attr, on_progress=on_progress)
    gc.freeze()  # the trace lives until exit: spare the cyclic collector rescanning it
    return analyze(table, suppressions=suppressions, max_pairs=max_pairs,
                   blocking_threshold_ns=blocking_threshold_ns)


def split(files: Files, *, min_bytes: int = MIN_BYTES) -> tuple[Files, Files] | None:
    """Two contiguous groups of about equal size, or None where splitting does not pay or the
    files do not allow it (a file without a racetrace header: OTLP input, damage; two files of
    one process, or a copy of one)."""
    if len(files) < 2 or not _may_fork():
        return None
    try:
        sizes = [path.stat().st_size for path, _ in files]
    except OSError:
        return None  # the single load names the problem
    if sum(sizes) < min_bytes:
        return None
    processes = set()
    for path, _ in files:
        header = read_header(path)
        if header is None or (header.host, header.pid) in processes:
            return None
        processes.add((header.host, header.pid))
    total = sum(sizes)
    before = list(accumulate(sizes[:-1]))
    cut = min(range(len(before)), key=lambda i: abs(2 * before[i] - total)) + 1
    return files[:cut], files[cut:]


def _may_fork() -> bool:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    # Forking a process with other threads running can leave a lock held in the child.
    return (sys.platform.startswith("linux") and hasattr(os, "fork") and (cpus or 1) >= 2
            and threading.active_count() == 1)


def analyze_split(
    groups: tuple[Files, Files], suppressions: Suppressions | None = None, max_pairs: int = 100,
    on_progress: ProgressCallback | None = None, *,
    blocking_threshold_ns: int = DEFAULT_BLOCKING_NS,
) -> Report | None:
    """The report from two groups of files (`split`), the second analyzed in a forked child;
    None when they must be analyzed in one piece."""
    mine, theirs = groups
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        _child(theirs, suppressions, max_pairs, write_end, blocking_threshold_ns)
    os.close(write_end)
    try:
        own = _part_of(mine, suppressions, max_pairs, on_progress, blocking_threshold_ns)
        with os.fdopen(read_end, "rb") as pipe:
            read_end = -1
            answer = pipe.read()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGTERM)
        raise
    finally:
        if read_end != -1:
            os.close(read_end)
        os.waitpid(child, 0)
    try:
        kind, value = pickle.loads(answer)
    except Exception:  # the child died without answering (killed, out of memory)
        return None
    if kind == "error":
        raise LoadError(value)
    if kind != "part":  # the child failed: the single analysis will say how, if it fails too
        return None
    other: Part = value
    if any(p.unmatched_ends or p.missed_links for p in (own, other)):
        return None
    return combine([own, other], suppressions=suppressions, max_pairs=max_pairs)


def _part_of(files: Files, suppressions: Suppressions | None, max_pairs: int,
             on_progress: ProgressCallback | None,
             blocking_threshold_ns: int = DEFAULT_BLOCKING_NS) -> Part:
    table = load_table(files, on_progress=on_progress)
    gc.freeze()
    return analyze_part(table, suppressions=suppressions, max_pairs=max_pairs,
                        blocking_threshold_ns=blocking_threshold_ns)


def _child(files: Files, suppressions: Suppressions | None, max_pairs: int,
           write_end: int, blocking_threshold_ns: int = DEFAULT_BLOCKING_NS) -> NoReturn:
    """The forked child's whole life: its part, or what went wrong, down the pipe."""
    answer: tuple[str, Any]
    try:
        answer = ("part", _part_of(files, suppressions, max_pairs, None, blocking_threshold_ns))
    except LoadError as exc:
        answer = ("error", str(exc))
    except BaseException:
        answer = ("failed", None)
    try:
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
    finally:
        os._exit(0)  # no teardown, no atexit handlers of the parent's


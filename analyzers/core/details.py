"""The rest of a run's START line (`RunDetails`), decoded apart from the fields every run needs.

A lazy load (`load(..., details="lazy")`) leaves each run the `Origin` of its START line: a
stretch of a few dozen lines of its file. The first time a report or a screen reads a run's
class, task name or stack, `read_details` reads that stretch again and finds the line by the
run's id; a stretch asked for a third time is decoded whole, for the runs of it still to come.
A report shows a few thousand runs of a million, so this costs milliseconds where decoding every
line's details up front costs a second.

If the file changed since it was loaded (replaced, truncated, deleted) and the line is not where
it was, the run's details stay empty rather than wrong: nothing here raises. A START line that is
there but whose details do not decode (a wrong-typed label or stack: the loader checks only the
fields every run needs) is damage: the run is counted in `unreadable()`, which the commands
report with the lines the load skipped.
"""

from __future__ import annotations

import atexit
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import BinaryIO, Protocol

import msgspec
from racetrace.tracer import semconv

from .records import Origin, RunDetails


class Run(Protocol):
    """What this module reads and sets of a run (`model.Run`, which imports this module)."""

    run_id: str
    origin: Origin | None
    details: RunDetails | None

    @property
    def source(self) -> str: ...


class _EndLine(msgspec.Struct, tag_field="type", tag=semconv.LINE_END):
    pass


class _HeaderLine(msgspec.Struct, tag_field="type", tag=semconv.LINE_HEADER):
    pass


class _RunId(msgspec.Struct):
    run_id: str = ""


_line_decoder = msgspec.json.Decoder(RunDetails)
_stretch_decoder = msgspec.json.Decoder(RunDetails | _EndLine | _HeaderLine)
_id_decoder = msgspec.json.Decoder(_RunId)
# What a damaged line can raise: msgspec's errors, and RecursionError for nesting too deep.
_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, RecursionError)
MAX_PROBLEMS = 20

SEARCHES_PER_STRETCH = 2  # runs looked up one by one before the stretch is decoded whole
PREFETCH_MIN = 8  # runs of one stretch asked for at once from which it is decoded whole
STRETCHES_KEPT = 32  # recently read stretches: what a report reads sits close together


class _Stretch:
    """A stretch read back from its file, and what was learnt of it."""

    __slots__ = ("data", "decoded", "failed", "origin", "searches")

    def __init__(self, origin: Origin, data: bytes) -> None:
        self.origin = origin  # kept alive, so that its id (the cache key) is not reused
        self.data = data
        self.searches = 0
        self.decoded: dict[str, RunDetails] | None = None
        self.failed: dict[str, Exception] = {}  # run id -> why its START line did not decode


class _Unreadable:
    """Runs whose details were found damaged when read (a few named, all counted)."""

    def __init__(self) -> None:
        self.runs: set[str] = set()
        self.problems: list[str] = []

    def note(self, run: Run, exc: Exception, stretch: _Stretch) -> None:
        if run.run_id in self.runs:
            return
        self.runs.add(run.run_id)
        if len(self.problems) < MAX_PROBLEMS:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            # Named by its line, as a load reading every run's details names it (`load.py`).
            at = stretch.data.find(msgspec.json.encode(run.run_id))
            number: int | str = "?"
            if at >= 0:
                try:
                    number = (line_at(stretch.origin.path, stretch.origin.lo)
                              + stretch.data.count(b"\n", 0, at))
                except OSError:
                    pass
            self.problems.append(f"{run.source}:{number}: run {run.run_id}: details "
                                 f"unreadable: {reason}")


_unreadable = _Unreadable()


def line_at(path: str, offset: int) -> int:
    """The number of the line starting at byte `offset` of `path` (the rare path: a damaged
    line is being named)."""
    number = 1
    with open(path, "rb") as handle:
        while offset > 0:
            block = handle.read(min(offset, 1 << 20))
            if not block:
                break
            number += block.count(b"\n")
            offset -= len(block)
    return number


def unreadable() -> tuple[int, list[str]]:
    """How many runs read so far had damaged details, and the first few, named."""
    return len(_unreadable.runs), list(_unreadable.problems)


_stretches: OrderedDict[int, _Stretch] = OrderedDict()
FILES_KEPT_OPEN = 16
_files: OrderedDict[str, BinaryIO] = OrderedDict()


@atexit.register
def _close_files() -> None:
    while _files:
        _files.popitem()[1].close()

_lock = threading.Lock()  # the timeline reads details on its UI thread and in its workers


def read_details(run: Run) -> RunDetails:
    """`run`'s details from its trace file; empty ones when they cannot be found there."""
    origin = run.origin
    if origin is None or origin.lo < 0:
        return RunDetails(run_id=run.run_id)
    with _lock:
        stretch = _stretch(origin)
        if stretch.decoded is None and stretch.searches < SEARCHES_PER_STRETCH:
            stretch.searches += 1
            found = _find(stretch, run.run_id)
        else:
            found = _decoded(stretch).get(run.run_id)
        if found is None and run.run_id in stretch.failed:
            _unreadable.note(run, stretch.failed[run.run_id], stretch)
    return found if found is not None else RunDetails(run_id=run.run_id)


def prefetch(runs: Iterable[Run]) -> None:
    """Read the details of many runs at once, as a report about to show them does: a stretch
    holding several of them is decoded whole rather than searched once per run."""
    groups: dict[int, tuple[Origin, list[Run]]] = {}
    for run in runs:
        origin = run.origin
        if run.details is None and origin is not None and origin.lo >= 0:
            groups.setdefault(id(origin), (origin, []))[1].append(run)
    for origin, group in groups.values():
        if len(group) >= PREFETCH_MIN:
            with _lock:
                stretch = _stretch(origin)
                decoded = _decoded(stretch)
                for run in group:
                    found = decoded.get(run.run_id)
                    if found is None and run.run_id in stretch.failed:
                        _unreadable.note(run, stretch.failed[run.run_id], stretch)
                    run.details = found or RunDetails(run_id=run.run_id)


def attach_details(runs: Sequence[Run], data: bytes | memoryview
                   ) -> list[tuple[Run, Exception]]:
    """Decode the details of `runs`, whose START lines are all in `data`, and attach them.
    Returns the runs whose details did not decode, with why (a run whose details are already
    set, found damaged before, is left as it is)."""
    failed: dict[str, Exception] = {}
    details = _decode_stretch(data, failed)
    if len(details) == len(runs) and all(
        d.run_id == r.run_id for d, r in zip(details, runs, strict=True)
    ):
        for run, detail in zip(runs, details, strict=True):
            run.details = detail
        return []
    by_id: dict[str, RunDetails] = {}  # damage, or lines repeated: match by id, the first
    for detail in details:  # line of an id winning (as a lazy read finds it)
        by_id.setdefault(detail.run_id, detail)
    unreadable = []
    for run in runs:
        found = by_id.get(run.run_id)
        if found is None:
            if run.details is not None:
                continue
            unreadable.append((run, failed.get(run.run_id) or ValueError("START line not found")))
        run.details = found or RunDetails(run_id=run.run_id)
    return unreadable


def _decode_stretch(data: bytes | memoryview, failed: dict[str, Exception]) -> list[RunDetails]:
    """The details of every START line in `data`, damaged lines skipped into `failed` (by run
    id, where the line has a readable one)."""
    try:
        records = _stretch_decoder.decode_lines(data)
    except _ERRORS:
        records = []
        for line in bytes(data).splitlines():
            try:
                records.append(_stretch_decoder.decode(line))
            except _ERRORS as exc:
                run_id = _run_id(line)
                if run_id:
                    failed.setdefault(run_id, exc)
    return [r for r in records if r.__class__ is RunDetails]


def _run_id(line: bytes) -> str:
    try:
        return _id_decoder.decode(line).run_id
    except _ERRORS:
        return ""


def _decoded(stretch: _Stretch) -> dict[str, RunDetails]:
    if stretch.decoded is None:
        stretch.decoded = {}
        for details in _decode_stretch(stretch.data, stretch.failed):
            stretch.decoded.setdefault(details.run_id, details)
    return stretch.decoded


def _find(stretch: _Stretch, run_id: str) -> RunDetails | None:
    """The START line of `run_id` in the stretch: wherever the id appears, decode the line
    there (a line of that id that does not decode goes to `stretch.failed`)."""
    data = stretch.data
    needle = msgspec.json.encode(run_id)
    at = data.find(needle)
    while at >= 0:
        lo = data.rfind(b"\n", 0, at) + 1
        hi = data.find(b"\n", at)
        if hi < 0:
            hi = len(data)
        try:
            details = _line_decoder.decode(data[lo:hi])
        except _ERRORS as exc:
            details = None
            if _run_id(data[lo:hi]) == run_id:
                stretch.failed.setdefault(run_id, exc)
        if details is not None and details.run_id == run_id:
            return details
        at = data.find(needle, hi)
    return None


def _stretch(origin: Origin) -> _Stretch:
    key = id(origin)
    stretch = _stretches.get(key)
    if stretch is not None:
        _stretches.move_to_end(key)
        return stretch
    try:
        handle = _opened(origin.path)
        handle.seek(origin.lo)
        data = handle.read(origin.hi - origin.lo) or b""
    except OSError:
        data = b""
    stretch = _stretches[key] = _Stretch(origin, data)
    if len(_stretches) > STRETCHES_KEPT:
        _stretches.popitem(last=False)
    return stretch


def _opened(path: str) -> BinaryIO:
    """`path`, open (unbuffered): a report reads from a few files thousands of times."""
    handle = _files.get(path)
    if handle is None:
        handle = _files[path] = open(path, "rb", buffering=0)
        if len(_files) > FILES_KEPT_OPEN:
            _files.popitem(last=False)[1].close()
    else:
        _files.move_to_end(path)
    return handle

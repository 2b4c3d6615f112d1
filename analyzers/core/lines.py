"""Decode one racetrace trace file (JSON lines: a header, then START and END records) into
runs, as fast as Python allows: this is where a million-run load spends its time, most of it
building Python objects and reaching them again in memory. So:

- Records are decoded by msgspec a stretch of `CHUNK_BYTES` at a time, straight from the file's
  pages (the caller maps it); a stretch that fails (damage somewhere in it) is decoded again
  line by line, so only the damaged lines are lost, a last line cut short included.
- A START line is decoded into the fields every run needs (`Run`); the rest (`RunDetails`) is
  decoded from the same stretch now (`details=True`) or later, on demand (`details.py`).
- What is damage: a line that does not decode (bad JSON, a wrong-typed field, an integer wider
  than 64 bits, nesting too deep to decode), a line that is not valid UTF-8 (each stretch is
  checked at C speed: its run keeps its times but not its unreadable class, label or stack), an
  END before its START. The type of each detail field is checked where the details are
  decoded: here with `details=True`, else by `details.py` when a run is first shown.
- Each stretch is taken in whole while its objects are still in the CPU cache, in C-level
  passes (`map`, `compress`, `dict.update`) rather than Python loops where it can: ENDs are
  matched through the runs still open (a small dict), runs filed in their lanes, parents noted.
  The index of every run id (`RunIndex`) is built only if something needs it.
"""

from __future__ import annotations

import codecs
import os
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import attrgetter, is_, lt, ne
from typing import Any

import msgspec
from racetrace.tracer import semconv

from .blocks import Blocks
from .details import attach_details
from .model import End, Header, Origin, Process, Run, RunDetails, RunIndex

CHUNK_BYTES = 1 << 16  # also what a lazy details read re-reads: keep it small
MAX_PROBLEMS = 20  # damaged lines named per file; all are counted

_decoder = msgspec.json.Decoder(Header | Run | End)
# What a damaged line can raise: msgspec's errors, and RecursionError for nesting too deep.
DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, RecursionError)

_STATUSES = {
    s: s for s in (semconv.STATUS_OK, semconv.STATUS_ERROR, semconv.STATUS_CANCELLED,
                   semconv.STATUS_UNFINISHED)
}


# The values of `semconv.END_REASON`, kept as one string each rather than one per run.
_REASONS = {r: r for r in ("returned", "raised", "exhausted", "closed", "cancelled")}


@dataclass
class Loaded:
    """What a load gathers across files besides their runs (see `Trace`)."""

    lanes: dict[str, list[Run]] = field(default_factory=dict)
    lane_starts: dict[str, list[int]] = field(default_factory=dict)
    notable: list[Run] = field(default_factory=list)
    on_loop: list[Run] = field(default_factory=list)  # sync runs started on a running loop

    def ended(self, run: Run) -> None:
        """Note `run`, just ended, among the notable runs if it failed (one with a resource key
        is there already, since it started)."""
        if run.status == semconv.STATUS_ERROR and run.resource_key is None:
            self.notable.append(run)


_header_decoder = msgspec.json.Decoder(Header)


def read_header(path: str | os.PathLike[str]) -> Header | None:
    """The header of a trace file, or None (unreadable, or not starting with one)."""
    try:
        with open(path, "rb") as handle:
            return _header_decoder.decode(handle.readline())
    except (OSError, *DECODE_ERRORS):
        return None


class NotATrace(Exception):
    """A file in which not a single line is a trace record."""


def first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


class Damage:
    """Lines skipped while decoding one file: how many, and the first few, named."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.skipped = 0
        self.problems: list[str] = []

    def add(self, number: int, exc: Exception) -> None:
        self.skipped += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{self.source}:{number}: skipped: {first_line(exc)}")

    def note(self, problem: str) -> None:
        self.skipped += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)


def _identity(header: Header) -> tuple[Any, ...]:
    return (header.host, header.pid, header.wall_ns, header.monotonic_ns)


def decode_chunks(data: Any, damage: Damage, numbers: _LineNumbers, base: int = 0,
                  size: int | None = None, final: bool = True
                  ) -> Iterator[tuple[int, int, list[Any]]]:
    """A block's records, `(lo, hi, records)` a stretch at a time (offsets into `data`),
    damaged lines skipped into `damage`. The block is `data[:size]`, at byte `base` of its
    file; only the `final` block of a file may end in a line cut short."""
    size = len(data) if size is None else size
    # Most traces are ASCII: one fast pass over the whole buffer spares a UTF-8 check per
    # stretch (bytes past `size` may make it fail: that only costs the checks).
    text = data.isascii()
    view = memoryview(data)
    pos = 0
    decode_lines = _decoder.decode_lines
    try:
        while pos < size:
            cut = size
            if pos + CHUNK_BYTES < size:
                cut = data.rfind(b"\n", pos, pos + CHUNK_BYTES) + 1
                if cut <= pos:  # a single line longer than a chunk
                    cut = data.find(b"\n", pos + CHUNK_BYTES, size) + 1 or size
            if ((final and cut == size and data[size - 1:size] != b"\n")
                    or not (text or _utf8(view[pos:cut]))):
                # Possibly cut short by a writer killed mid-line, or holding bytes that are
                # not text: decode it line by line.
                yield pos, cut, _decode_each(bytes(view[pos:cut]), numbers.at(base + pos),
                                             damage)
            else:
                try:
                    records = decode_lines(view[pos:cut])
                except DECODE_ERRORS:
                    records = _decode_each(bytes(view[pos:cut]), numbers.at(base + pos),
                                           damage)
                yield pos, cut, records
            pos = cut
    finally:
        view.release()  # or the block's buffer could not be reused


class _LineNumbers:
    """The line number at a byte offset of a file, counted on from the last one asked for:
    only damaged stretches need one, so the bytes before are read again only then."""

    def __init__(self, blocks: Blocks) -> None:
        self.blocks = blocks
        self.pos = 0
        self.number = 1

    def at(self, pos: int) -> int:
        for lo in range(self.pos, pos, 1 << 20):
            self.number += self.blocks.read(lo, min(pos, lo + (1 << 20))).count(b"\n")
        self.pos = pos
        return self.number


def _utf8(data: Any) -> bool:
    """Whether `data` is valid UTF-8 (msgspec checks only the fields it keeps)."""
    try:
        codecs.utf_8_decode(data, "strict", True)
    except UnicodeDecodeError:
        return False
    return True


def line_number(data: Any, lo: int, at: int, first: int) -> int:
    """The number of the line holding byte `at`, counting `first` from byte `lo`."""
    return first + data[lo:at].count(b"\n")


def _decode_each(data: bytes, first_number: int, damage: Damage) -> list[Any]:
    decode = _decoder.decode
    records: list[Any] = []
    for number, line in enumerate(data.splitlines(), first_number):
        if not line.strip():
            continue
        try:
            record = decode(line)
        except DECODE_ERRORS as exc:
            damage.add(number, exc)
            continue
        if not _utf8(line):
            if record.__class__ is not Run:
                damage.add(number, ValueError("invalid UTF-8"))
                continue
            # Its times and identity decoded: keep the run, without the details that did not.
            damage.note(f"{damage.source}:{number}: run {record.run_id}: invalid UTF-8; its "
                        "class, label, task and stack are unreadable")
            record.details = RunDetails(run_id=record.run_id)
        records.append(record)
    return records


def finish(run: Run, end: End) -> bool:
    """Complete `run` with its END record; False (and `run` left open) for an END before the
    run's START, which is damage."""
    if end.end_ns < run.start_ns:
        return False
    run.end_ns = end.end_ns
    run.status = _STATUSES.get(end.status, end.status)
    run.end_reason = end.reason
    if end.error_type is not None or end.error_message is not None:
        run.error_type = end.error_type
        run.error_message = end.error_message
    return True


def ended_before_start(source: str, end: End) -> str:
    return f"{source}: end of run {end.run_id} before its start; the run is left unfinished"


def sound_ends(owners: list[Run], ends: list[End], damage: Damage, opened: dict[str, Any]
               ) -> tuple[list[Run], list[End]]:
    """The rare path: ENDs stamped before their run's START are damage; the run stays open in
    `opened` (a later, sound END may still complete it). The pairs that remain."""
    kept_owners: list[Run] = []
    kept_ends: list[End] = []
    for run, end in zip(owners, ends, strict=True):
        if end.end_ns < run.start_ns:
            damage.note(ended_before_start(damage.source, end))
            opened[run.run_id] = run
            continue
        kept_owners.append(run)
        kept_ends.append(end)
    return kept_owners, kept_ends


_RUN_ID = attrgetter("run_id")
_START_NS = attrgetter("start_ns")
_END_NS = attrgetter("end_ns")
_KEY = attrgetter("instance_key")
_RESOURCE = attrgetter("resource_key")
_PARENT = attrgetter("parent_run_id")
_CREATOR = attrgetter("task_created_by_run")
_LOOP = attrgetter("loop_running")
_STATUS = attrgetter("status")
_REASON = attrgetter("reason")


def load_lines(
    data: Any,
    source: str,
    index: RunIndex,
    into: Loaded,
    orphans: list[tuple[End, str]],
    *,
    details: bool = True,
) -> tuple[list[Run], list[Process], int, list[str]]:
    """The runs and the process of one trace file (`bytes`, or its `Blocks`). ENDs whose START
    is not in this file go to `orphans`, for the caller to match once every file is loaded.
    `details=False` leaves each run's details to be read on demand."""
    blocks = data if isinstance(data, Blocks) else Blocks.of(data)
    damage = Damage(source)
    numbers = _LineNumbers(blocks)
    file = _FileLoad(source, damage, details, into, index.linked, numbers)
    for base, block, size, final in blocks:
        for lo, hi, records in decode_chunks(block, damage, numbers, base, size, final):
            file.add(lo, hi, records, block, base)
    if not file.seen:
        if damage.skipped:
            raise NotATrace(damage.problems[0])
        return [], [], 0, []
    runs, header = file.runs, file.header
    if (header is None or _identity(header) in index.headers) and index.holds_any(runs):
        # A copy of a file loaded before (each process writes its own file, never repeating
        # a run in another, so only a file whose header was seen, or that has none, can be).
        runs = _without_duplicates(runs, index, into, damage)
    if header is not None:
        index.headers.add(_identity(header))
    index.add(runs)
    if file.unmatched:
        # ENDs before their START in the file, second ENDs, or ENDs of another file's runs.
        mine = index.last_file()
        for end in file.unmatched:
            run = mine.get(end.run_id)
            if run is None or run.end_ns is not None:
                orphans.append((end, source))
                continue
            if not finish(run, end):
                damage.note(ended_before_start(source, end))
                continue
            into.ended(run)
    if header is not None:
        process = Process(
            host=header.host, pid=header.pid, source=source, service=header.service,
            argv=header.argv, ppid=header.ppid, started_ns=header.wall_ns,
            last_ns=max(file.last_ns, header.wall_ns), unresolved_targets=file.unresolved,
        )
    else:
        first = runs[0] if runs else None
        process = Process(host=first.host if first else "", pid=first.pid if first else 0,
                          source=source, last_ns=file.last_ns)
    return runs, [process], damage.skipped, damage.problems


class _FileLoad:
    """One file's records, taken a stretch at a time while its objects are still in the CPU
    cache: a pass over a million runs after the fact would miss the cache on every run."""

    def __init__(self, source: str, damage: Damage, details: bool, into: Loaded,
                 linked: dict[str, Run], numbers: _LineNumbers) -> None:
        self.source = source
        self.damage = damage
        self.details = details
        self.numbers = numbers
        self.into = into
        self.linked = linked
        self.header: Header | None = None
        self.runs: list[Run] = []
        self.open: dict[str, Run] = {}  # runs started and not (yet) ended
        self.unmatched: list[End] = []
        self.last_ns = 0
        self.seen = 0
        self.unresolved: list[Any] = []

    def add(self, lo: int, hi: int, records: list[Any], data: Any, base: int) -> None:
        self.seen += len(records)
        kinds = list(map(type, records))
        stretch = list(compress(records, map(is_, kinds, repeat(Run))))
        ends = list(compress(records, map(is_, kinds, repeat(End))))
        if len(stretch) + len(ends) < len(records):
            headers = [r for r in records if r.__class__ is Header]
            if self.header is None:
                self.header = headers[0]
            # A later header (written at exit) says which targets never resolved.
            self.unresolved = headers[-1].unresolved_targets
        if stretch:
            self._started(stretch, lo, hi, data, base)
        if ends:
            self._ended(ends)

    def _started(self, stretch: list[Run], lo: int, hi: int, data: Any, base: int) -> None:
        header = self.header
        service = header.service if header is not None else None
        set_each(stretch, "origin", repeat(Origin(self.source, service, base + lo, base + hi)))
        if self.details:
            unreadable = attach_details(stretch, data[lo:hi])
            if unreadable:
                self._unreadable(unreadable, lo, hi, data, base)
        self.last_ns = max(self.last_ns, max(map(_START_NS, stretch)))
        opened = self.open
        size = len(opened)
        opened.update(zip(map(_RUN_ID, stretch), stretch, strict=True))
        if len(opened) - size != len(stretch):
            stretch = self._first_of_each(stretch)
        self.runs += stretch
        lanes = self.into.lanes
        lane_starts = self.into.lane_starts
        lane_of = lanes.get
        for key, run, start in zip(map(_KEY, stretch), stretch, map(_START_NS, stretch),
                                   strict=True):
            lane = lane_of(key)
            if lane is None:
                lanes[key] = [run]
                lane_starts[key] = [start]
            else:
                lane.append(run)
                lane_starts[key].append(start)
        if any(map(_RESOURCE, stretch)):
            self.into.notable += (r for r in stretch if r.resource_key is not None)
        if any(map(_LOOP, stretch)):
            self.into.on_loop += (r for r in stretch if r.loop_running)
        if any(map(_PARENT, stretch)) or any(map(_CREATOR, stretch)):
            self._link(stretch)

    def _unreadable(self, runs: list[tuple[Run, Exception]], lo: int, hi: int,
                    data: Any, base: int) -> None:
        """Count runs whose START decoded but whose details did not (a wrong-typed label,
        class or stack): the run stays, blank where its line is damaged."""
        first = self.numbers.at(base + lo)
        for run, exc in runs:
            at = data.find(msgspec.json.encode(run.run_id), lo, hi)
            number = line_number(data, lo, at, first) if at >= 0 else "?"
            self.damage.note(f"{self.source}:{number}: run {run.run_id}: details unreadable: "
                             f"{first_line(exc)}")

    def _link(self, stretch: list[Run]) -> None:
        """A run started inside another (its parent, or the run that created its task) finds it
        open now, nearly always: remember it, so that ancestry needs no index of every run."""
        opened = self.open
        for run in stretch:
            for link in (run.parent_run_id, run.task_created_by_run):
                parent = opened.get(link) if link is not None else None
                if parent is not None:
                    self.linked.setdefault(link, parent)  # type: ignore[arg-type]

    def _first_of_each(self, stretch: list[Run]) -> list[Run]:
        """The rare path: a run id repeated while its run is open (a repeated line). The first
        START counts, but `update` has just let the later one win: undo that."""
        opened = self.open
        ids = set(map(_RUN_ID, stretch))
        firsts = {r.run_id: r for r in reversed(self.runs) if r.run_id in ids and r.end_ns is None}
        kept = []
        for run in stretch:
            if run.run_id in firsts:
                self.damage.note(f"{self.source}: run {run.run_id} loaded twice; kept the first")
            else:
                firsts[run.run_id] = run
                kept.append(run)
        opened.update(firsts)
        return kept

    def _ended(self, ends: list[End]) -> None:
        """Complete the runs these ENDs belong to; an END that finds no open run waits in
        `unmatched` (its START later in the file, a second END, another file's run)."""
        self.last_ns = max(self.last_ns, max(map(_END_NS, ends)))
        owners = list(map(self.open.pop, map(_RUN_ID, ends), repeat(None)))
        if None in owners:
            pairs = [(r, e) for r, e in zip(owners, ends, strict=True) if r is not None]
            self.unmatched += (e for r, e in zip(owners, ends, strict=True) if r is None)
            owners = [r for r, _ in pairs]
            ends = [e for _, e in pairs]
        if any(map(lt, map(_END_NS, ends), map(_START_NS, owners))):
            owners, ends = sound_ends(owners, ends, self.damage, self.open)
        if not owners:
            return
        set_each(owners, "end_ns", map(_END_NS, ends))
        statuses = list(map(_STATUS, ends))
        set_each(owners, "status", map(_STATUSES.get, statuses, statuses))
        set_each(owners, "end_reason", map(_REASONS.get, (reasons := list(map(_REASON, ends))),
                                           reasons))
        # Runs that did not return are few: find them at C speed, then complete them one by one.
        for run, end in compress(zip(owners, ends, strict=True),
                                 map(ne, statuses, repeat(semconv.STATUS_OK))):
            run.error_type = end.error_type
            run.error_message = end.error_message
            self.into.ended(run)


def set_each(objects: Iterable[Any], name: str, values: Iterable[Any]) -> None:
    """`setattr(o, name, v)` for each pair, at C speed (a deque of size 0 drains the map)."""
    deque(map(setattr, objects, repeat(name), values), maxlen=0)


def _without_duplicates(runs: list[Run], index: RunIndex, into: Loaded,
                        damage: Damage) -> list[Run]:
    """The rare path: runs loaded from an earlier file already (a copied file). Keep those."""
    kept = []
    dropped = set()
    for run in runs:
        if not index.in_files(run.run_id):
            kept.append(run)
            continue
        dropped.add(id(run))
        damage.note(f"{damage.source}: run {run.run_id} loaded twice; kept the first")
    for key in {r.instance_key for r in runs}:
        lane = [r for r in into.lanes[key] if id(r) not in dropped]
        if lane:
            into.lanes[key] = lane
            into.lane_starts[key] = [r.start_ns for r in lane]
        else:
            del into.lanes[key], into.lane_starts[key]
    into.notable[:] = [r for r in into.notable if id(r) not in dropped]
    into.on_loop[:] = [r for r in into.on_loop if id(r) not in dropped]
    return kept

"""The timeline's model: one lane per instance key (and per resource key), runs stacked in sub-rows.

Pure data, no Textual. Each run takes the lowest sub-row free at its start (so runs that overlap
stack, and every run stays visible); the stretches where two or more runs of a lane were active
are hatched. Times are nanoseconds relative to the trace's first start. Within a sub-row runs
never overlap, so their starts *and* ends ascend: the renderer finds what is on screen by
bisection.

Lanes grow as the loader reads (`LaneSet.update`, called between blocks): each update places only
the runs read since the last one, most lanes a block of runs at a time at C speed (a lane whose
runs do not overlap is one sub-row: no per-run Python work), and hands out a snapshot the screen
can hold while the next update goes on. Nothing per run is made beyond the loader's own `Run`:
starts and ends are packed arrays, and a one-row lane's row and position of each run are
implied. `build_lanes(trace)` is one update with the whole trace.
"""

from __future__ import annotations

import gc
import heapq
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain, compress, islice, repeat
from operator import attrgetter, le, lt, sub
from typing import TYPE_CHECKING

from racetrace.analyzers.model import Run, Trace
from racetrace.analyzers.overlap import overlap_stretches
from racetrace.analyzers.provenance import CreationSite

if TYPE_CHECKING:
    from racetrace.analyzers.report import Finding, InstanceSummary, Report

# Status values of a run (racetrace.tracer.semconv; the TUI does not import the tracer).
STATUS_OK = "ok"
STATUS_ERROR = "error"
STATUS_CANCELLED = "cancelled"
STATUS_UNFINISHED = "unfinished"
MARKED_STATUSES = frozenset({STATUS_ERROR, STATUS_CANCELLED, STATUS_UNFINISHED})

_SEVERITY_RANK = {"error": 3, "warning": 2, "info": 1}
# Finding kinds whose runs held their thread's running event loop (analyzers.report.LOOP_KINDS).
LOOP_KINDS = frozenset({"nested-loop", "loop-blocking"})
MIN_LANE_HEIGHT = 2  # the gutter needs two lines: the label, then class and key
# While the loader has not read a run's end yet, the run holds its sub-row: nothing read later
# in its file can have started after it ended.
HELD = 1 << 62

_START = attrgetter("start_ns")
_END = attrgetter("end_ns")
_STATUS = attrgetter("status")
_METHOD = attrgetter("method")
_HOST = attrgetter("host")
_PID = attrgetter("pid")
_KEY = attrgetter("instance_key")
_FAN_OUT = attrgetter("fan_out_of")
_RESOURCE = attrgetter("resource_key")

FrontierOf = Callable[[Run], int]  # where a run whose end is not known is drawn to (absolute)


@dataclass(slots=True)
class SubRow:
    """Runs that never overlap each other, in start order, with where each is drawn."""

    runs: Sequence[Run] = ()
    starts: Sequence[int] = ()
    ends: Sequence[int] = ()  # drawn end: open runs reach their process' last record
    marked: Sequence[int] = ()  # indices of failed/cancelled/unfinished runs, ascending
    positions: Sequence[int] = ()  # each run's position in its lane's `runs`


@dataclass(slots=True, eq=False)
class Lane:
    """One instance (or resource) key: its runs, their sub-rows, and what the analysis said."""

    id: str  # "instance:<key>" or "resource:<key>": the two key spaces never collide
    key: str
    cls: str
    label: str | None
    is_resource: bool
    runs: Sequence[Run]  # start order
    row_of: Sequence[int]  # sub-row of each run
    pos_of: Sequence[int]  # index of each run inside its sub-row
    subrows: list[SubRow]
    stretches: list[tuple[int, int]]  # where two or more runs were active, relative ns
    stretch_ends: list[int]  # their ends, ascending (stretches are disjoint): for bisection
    instance_count: int  # distinct instances (more than one only on a resource lane)
    findings: list[Finding] = field(default_factory=list)
    severity: str | None = None
    max_concurrency: int = 1
    # Runs a batch call fanned out on this resource key (part of the batch run on its object).
    fan_outs: int = 0
    # Runs of its nested-loop and loop-blocking findings: they stopped their thread's loop.
    loop_runs: frozenset[str] = frozenset()
    created: CreationSite | None = None  # where its instance was created (from the report)
    last_end: int = 0  # the latest drawn end, relative ns
    _index: dict[str, int] | None = None
    _methods: str | None = None
    _search: tuple[tuple[str, str, str], str] | None = None
    _processes: tuple[str, ...] | None = None

    @property
    def height(self) -> int:
        return max(len(self.subrows), MIN_LANE_HEIGHT)

    @property
    def first_start(self) -> int:
        return self.subrows[0].starts[0] if self.subrows and self.subrows[0].starts else 0

    @property
    def short_class(self) -> str:
        return self.cls.rsplit(".", 1)[-1] if self.cls else ""

    @property
    def search(self) -> str:
        """Lowercase haystack for the `/` filter: label, class, key, methods. Made on first
        use (a pass over the lane's runs: the app makes them after the analysis)."""
        if self._methods is None:
            self._methods = "\n".join(sorted(set(map(_METHOD, self.runs)))).lower()
        head = (self.label or "", self.cls, self.key)
        if self._search is None or self._search[0] != head:  # (the report may name it)
            self._search = (head, "\n".join([*head, self._methods]).lower())
        return self._search[1]

    @property
    def processes(self) -> tuple[str, ...]:
        """The processes its runs ran in, `host/pid`, in order of first appearance."""
        if self._processes is None:
            seen = dict.fromkeys(zip(map(_HOST, self.runs), map(_PID, self.runs), strict=True))
            self._processes = tuple(f"{host}/{pid}" for host, pid in seen)
        return self._processes

    @property
    def index(self) -> dict[str, int]:
        """run_id -> position in `runs`, made on first use (for the few lanes that need it)."""
        if self._index is None:
            self._index = {run.run_id: i for i, run in enumerate(self.runs)}
        return self._index

    def position(self, run_id: str, start_ns: int) -> int | None:
        """The position of run `run_id` (which started at absolute `start_ns`), by bisection."""
        runs = self.runs
        i = bisect_left(runs, start_ns, key=_START)
        while i < len(runs) and runs[i].start_ns == start_ns:
            if runs[i].run_id == run_id:
                return i
            i += 1
        return None

    def start_of(self, i: int) -> int:
        row = self.subrows[self.row_of[i]]
        return row.starts[self.pos_of[i]]

    def end_of(self, i: int) -> int:
        row = self.subrows[self.row_of[i]]
        return row.ends[self.pos_of[i]]

    def overlapping(self, i: int, limit: int = 50) -> list[tuple[int, int]]:
        """Runs of this lane that overlap run `i`: `(index, overlap ns)`, at most `limit`."""
        start, end = self.start_of(i), self.end_of(i)
        out: list[tuple[int, int]] = []
        # Within a sub-row both starts and ends ascend, so the candidates are one slice.
        for row in self.subrows:
            lo = bisect_right(row.ends, start)
            hi = bisect_left(row.starts, end)
            for pos in range(lo, hi):
                j = row.positions[pos]
                if j == i:
                    continue
                length = min(end, row.ends[pos]) - max(start, row.starts[pos])
                if length > 0:
                    out.append((j, length))
        out.sort()
        return out[:limit]


@dataclass(slots=True)
class Lanes:
    """Every lane of a trace, ordered: lanes with findings first (worst first), then by start."""

    lanes: list[Lane]
    origin_ns: int  # absolute time of relative 0: the first run's start
    span_ns: int  # relative end of the last run (or of the last open run's process)
    run_count: int
    by_id: dict[str, Lane] = field(default_factory=dict)

    def lane_of_finding(self, finding: Finding) -> Lane | None:
        kind = "resource" if getattr(finding, "key_kind", "instance") == "resource" else "instance"
        return self.by_id.get(f"{kind}:{finding.instance_key}") or self.by_id.get(
            f"instance:{finding.instance_key}"
        )


def build_lanes(trace: Trace, report: Report | None = None) -> Lanes:
    """Group the trace's runs into lanes; with `report`, its findings order and mark them."""
    if not trace.runs:
        return Lanes([], 0, 0, 0)
    # Lanes are small lists that hold no cycles; the cyclic collector would rescan them for
    # nothing every few thousand allocations.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        model = LaneSet().update(
            # (Unchecked order: the lanes check their own, on the starts they read anyway.)
            trace.runs_by_instance(ordered=False), trace.failed_or_resourced(), trace.last_ns_of,
            final=True, run_count=len(trace.runs),
        )
    finally:
        if was_enabled:
            gc.enable()
    return apply_report(model, report) if report is not None else model


class LaneSet:
    """The lanes of a trace as it is read: `update` with what the loader holds now, again and
    again; each update places the runs read since the last and returns a snapshot."""

    def __init__(self) -> None:
        self.origin: int | None = None
        self._instances: dict[str, _Growing] = {}
        self._resources: dict[str, _Growing] = {}
        self._resource_runs = -1  # how many runs with a resource key the last update saw
        self._snapshots: dict[str, Lane] = {}

    def update(
        self,
        by_instance: dict[str, list[Run]],
        notable: Sequence[Run] | None,
        frontier_of: FrontierOf,
        *,
        final: bool,
        run_count: int | None = None,
    ) -> Lanes:
        """Lanes of the runs in `by_instance` (instance key -> runs in start order, as read so
        far; lists the loader keeps appending to) and of the resource-keyed runs in `notable`.

        `frontier_of(run)`: how far an open run reaches (the last record read of its process).
        `final`: everything is read; the snapshot may share this set's arrays (no more updates).
        """
        fresh = self._new_runs(by_instance)
        lowest = min((starts[0] for _, _, _, starts in fresh if starts), default=None)
        if lowest is not None and (self.origin is None or lowest < self.origin):
            if self.origin is not None:  # an earlier run in a later file: start over from it
                self.__init__()  # type: ignore[misc]
                fresh = self._new_runs(by_instance)
            self.origin = lowest
        if self.origin is None:
            return Lanes([], 0, 0, 0)
        origin = self.origin
        instances = self._instances
        # A batch call's fan-out run is part of the batch run on the object: shown on its
        # resource lane only, as the analysis counts it. It has a resource key: it is notable.
        fanned = {run.instance_key for run in notable or () if run.fan_out_of is not None}
        for key, state, block, starts in fresh:
            if key in fanned:
                kept = [i for i, run in enumerate(block) if run.fan_out_of is None]
                block, starts = [block[i] for i in kept], [starts[i] for i in kept]
            state.add(block, starts, origin, frontier_of, final)
        for state in instances.values():
            if state.open:
                state.settle(origin, frontier_of, final)
        if len(instances) > len(by_instance):  # a lane dropped (a copied file's duplicates)
            for key in [k for k in instances if k not in by_instance]:
                del instances[key]
                self._snapshots.pop(f"instance:{key}", None)
        self._update_resources(notable or (), origin, frontier_of, final)
        return self._snapshot(final, run_count)

    def _new_runs(self, by_instance: dict[str, list[Run]]
                  ) -> list[tuple[str, _Growing, list[Run], list[int]]]:
        """Per lane with runs not placed yet: its state, those runs in start order, and their
        starts. A new lane, a list the loader replaced, or runs that came out of order (a lane
        read from several files) start the lane over, from all its runs sorted."""
        out: list[tuple[str, _Growing, list[Run], list[int]]] = []
        instances = self._instances
        for key, runs in by_instance.items():
            state = instances.get(key)
            if state is not None and state.source is runs:
                if state.seen == len(runs):
                    continue
                if not state.resorted:
                    block = runs[state.seen:]
                    starts = list(map(_START, block))
                    if _ascending(starts) and (
                            not state.runs or starts[0] >= state.runs[-1].start_ns):
                        state.seen = len(runs)
                        out.append((key, state, block, starts))
                        continue
            block = runs[:]
            starts = list(map(_START, block))
            state = instances[key] = _Growing(f"instance:{key}", key, False)
            state.source = runs
            state.seen = len(runs)
            if not _ascending(starts):
                state.resorted = True
                block.sort(key=_START)
                starts = list(map(_START, block))
            out.append((key, state, block, starts))
        return out

    def _update_resources(self, notable: Sequence[Run], origin: int, frontier_of: FrontierOf,
                          final: bool) -> None:
        """Resource lanes (few runs, from several processes): laid out again whenever they
        grow or hold an open run."""
        keyed = [run for run in notable if run.resource_key is not None] if notable else []
        still_open = any(state.open for state in self._resources.values())
        if len(keyed) == self._resource_runs and not still_open and not final:
            return
        self._resource_runs = len(keyed)
        groups: dict[str, list[Run]] = {}
        for run in keyed:
            groups.setdefault(run.resource_key, []).append(run)  # type: ignore[arg-type]
        resources: dict[str, _Growing] = {}
        for key, runs in groups.items():
            runs.sort(key=_START)
            state = resources[key] = _Growing(f"resource:{key}", key, True)
            state.add(runs, list(map(_START, runs)), origin, frontier_of, final)
        for key in self._resources.keys() - resources.keys():
            self._snapshots.pop(f"resource:{key}", None)
        self._resources = resources

    def _snapshot(self, final: bool, run_count: int | None) -> Lanes:
        snapshots = self._snapshots
        lanes: list[Lane] = []
        span = 0
        for state in chain(self._instances.values(), self._resources.values()):
            lane = snapshots.get(state.id)
            if lane is None or state.dirty:
                if not state.runs:
                    continue
                lane = snapshots[state.id] = state.lane(share=final)
                state.dirty = False
            lanes.append(lane)
            if lane.last_end > span:
                span = lane.last_end
        lanes.sort(key=_lane_order)
        if run_count is None:
            run_count = sum(len(state.source or ()) for state in self._instances.values())
        return Lanes(lanes, self.origin or 0, span, run_count, {lane.id: lane for lane in lanes})


class _Row:
    """A sub-row as it grows (see `SubRow`)."""

    __slots__ = ("ends", "marked", "positions", "runs", "starts")

    def __init__(self, runs: list[Run]) -> None:
        self.runs = runs
        self.starts = array("q")
        self.ends = array("q")
        self.marked: list[int] = []
        self.positions = array("q")


class _Growing:
    """One lane as its runs arrive: where each is drawn, which are still open.

    While every run fits in one sub-row (most lanes: one run at a time) the row *is* the lane:
    its runs list is the lane's, and a run's row and position are implied. The first overlap
    turns the lane into rows of their own, with per-run row and position arrays."""

    __slots__ = (
        "busy",
        "cls",
        "dirty",
        "fan_outs",
        "free",
        "id",
        "instances",
        "is_resource",
        "key",
        "label",
        "last_end",
        "open",
        "peak",
        "pos_of",
        "resorted",
        "row_of",
        "rows",
        "runs",
        "seen",
        "source",
    )

    def __init__(self, lane_id: str, key: str, is_resource: bool) -> None:
        self.id = lane_id
        self.key = key
        self.is_resource = is_resource
        self.source: list[Run] | None = None  # the loader's list for this key
        self.seen = 0  # how much of `source` has been taken in
        self.resorted = False  # placed from a sorted copy: laid out again on each update
        self.runs: list[Run] = []
        self.rows: list[_Row] = []
        self.row_of: array[int] | None = None  # None while there is one row
        self.pos_of: array[int] | None = None
        self.busy: list[tuple[int, int, int]] = []  # (free from, row, position) of active runs
        self.free: list[int] = []  # rows whose last run has ended, lowest first
        self.open: list[int] = []  # positions of runs whose end is not read yet
        self.peak = 1
        self.instances: set[str] = set()
        self.fan_outs = 0
        self.cls = ""
        self.label: str | None = None
        self.last_end = 0
        self.dirty = True

    # -- placing runs ------------------------------------------------------------------------

    def add(self, block: list[Run], starts: list[int], origin: int, frontier_of: FrontierOf,
            final: bool) -> None:
        """Place `block` (runs in start order, all starting no earlier than those placed;
        `starts` their start times). A few passes over the block at C speed: a pass that
        touches a million runs costs a cache miss each, so each field is read once."""
        if not block:
            return
        if not self.runs:
            first = block[0]
            if self.is_resource:
                self.cls, self.label = "resource", self.key
            else:
                self.cls, self.label = first.instance_class, first.instance_label
        if self.open:
            self.settle(origin, frontier_of, final)
        self.dirty = True
        if self.is_resource:
            self.instances.update(map(_KEY, block))
            self.fan_outs += len(block) - list(map(_FAN_OUT, block)).count(None)
        raw = list(map(_END, block))
        opened: list[int] = []
        if None in raw:
            i = raw.index(None)
            while True:
                opened.append(i)
                raw[i] = frontier_of(block[i])
                try:
                    i = raw.index(None, i + 1)
                except ValueError:
                    break
        held = not final and bool(opened)
        if len(block) >= VECTOR_MIN:
            starts, ends = _relative(starts, raw, origin)
        else:
            starts = list(map(sub, starts, repeat(origin)))
            ends = list(map(sub, raw, repeat(origin)))
            if not all(map(le, starts, ends)):
                ends = list(map(max, ends, starts))  # a clock step backwards: an instant
        if self._fits_one_row(starts, ends, opened, held):
            self._append_row(block, starts, ends, opened, held)
            last = ends[-1]  # ascending in one row
        else:
            self._place_each(block, starts, ends, set(opened) if held else ())
            last = max(ends)
        if last > self.last_end:
            self.last_end = last

    def _fits_one_row(self, starts: list[int], ends: list[int], opened: list[int],
                      held: bool) -> bool:
        """Whether the block goes on after the lane's one row: no two of its runs overlap,
        nor its first the row's last, and only its last run may still be open."""
        if self.row_of is not None or len(self.rows) > 1:
            return False
        if self.busy and self.busy[0][0] > starts[0]:
            return False
        if held and opened != [len(starts) - 1]:
            return False
        # Run i frees the row for run i+1 when it ended by then (and started before it: an
        # instant run still takes its start's nanosecond).
        if isinstance(starts, array):
            return _fits_vector(starts, ends)  # type: ignore[arg-type]
        after = islice(starts, 1, None)
        return all(map(le, ends, after)) and all(map(lt, starts, islice(starts, 1, None)))

    def _append_row(self, block: list[Run], starts: list[int], ends: list[int],
                    opened: list[int], held: bool) -> None:
        if not self.rows:
            self.rows.append(_Row(self.runs))
        row = self.rows[0]
        base = len(self.runs)
        self.runs += block
        row.starts.extend(starts)
        row.ends.extend(ends)
        statuses = list(map(_STATUS, block))
        if statuses.count(STATUS_OK) != len(statuses):
            row.marked += compress(range(base, base + len(block)),
                                   map(MARKED_STATUSES.__contains__, statuses))
        last = base + len(block) - 1
        key = HELD if held else max(ends[-1], starts[-1] + 1)
        self.busy = [(key, 0, last)]
        self.free = []
        if held:
            self.open.append(last)

    def _split_rows(self) -> None:
        """The first overlap: row 0 gets a list of its own, runs their row and position."""
        n = len(self.runs)
        row = self.rows[0]
        row.runs = self.runs[:]
        row.positions = array("q", range(n))
        self.row_of = array("q", [0]) * n
        self.pos_of = array("q", range(n))

    def _place_each(self, block: list[Run], starts: list[int], ends: list[int],
                    held: Iterable[int]) -> None:
        """The general case, one run at a time: the lowest sub-row free at each start."""
        if self.rows and self.row_of is None:
            self._split_rows()
        rows = self.rows
        busy, free = self.busy, self.free
        push, pop = heapq.heappush, heapq.heappop
        row_of, pos_of = self.row_of, self.pos_of
        runs = self.runs
        peak = self.peak
        for i, (run, start, end) in enumerate(zip(block, starts, ends, strict=True)):
            while busy and busy[0][0] <= start:
                push(free, pop(busy)[1])
            if free:
                number = pop(free)
            else:
                number = len(rows)
                rows.append(_Row([]))
            row = rows[number]
            position = len(runs)
            pos = len(row.starts)
            if row_of is None:
                # The lane's first block, not fitting one row: rows of their own from here.
                self.row_of = row_of = array("q")
                self.pos_of = pos_of = array("q")
            row_of.append(number)
            pos_of.append(pos)
            row.positions.append(position)
            if run.status in MARKED_STATUSES:
                row.marked.append(pos)
            row.runs.append(run)  # type: ignore[attr-defined]
            row.starts.append(start)
            row.ends.append(end)
            runs.append(run)
            if i in held:  # type: ignore[operator]
                push(busy, (HELD, number, position))
                self.open.append(position)
            else:
                push(busy, (max(end, start + 1), number, position))
            if len(busy) > peak:
                peak = len(busy)
        self.peak = peak

    def settle(self, origin: int, frontier_of: FrontierOf, final: bool) -> None:
        """Runs open at the last update: drawn further, or to their end now that it is read
        (freeing their sub-row from then on)."""
        still: list[int] = []
        ended: dict[int, int] = {}
        for position in self.open:
            run = self.runs[position]
            if self.row_of is None:
                number, pos = 0, position
            else:
                number, pos = self.row_of[position], self.pos_of[position]  # type: ignore[index]
            row = self.rows[number]
            start = row.starts[pos]
            if run.end_ns is None:
                row.ends[pos] = max(frontier_of(run) - origin, start)
                still.append(position)
                if final:
                    ended[position] = max(row.ends[pos], start + 1)
            else:
                end = max(run.end_ns - origin, start)
                row.ends[pos] = end
                ended[position] = max(end, start + 1)
                if run.status not in MARKED_STATUSES and row.marked and row.marked[-1] == pos:
                    row.marked.pop()
                elif run.status in MARKED_STATUSES and (not row.marked or row.marked[-1] != pos):
                    row.marked.append(pos)
            if row.ends[pos] > self.last_end:
                self.last_end = row.ends[pos]
        self.dirty = True
        if ended:
            self.busy = [(ended.get(p, key), number, p) for key, number, p in self.busy]
            heapq.heapify(self.busy)
        self.open = [] if final else still

    # -- the snapshot ------------------------------------------------------------------------

    def lane(self, *, share: bool) -> Lane:
        """This lane as the screen shows it; with `share`, on this state's own arrays (no
        update will follow), else on copies the next update leaves alone."""
        n = len(self.runs)
        if self.row_of is None:
            row = self.rows[0]
            runs = self.runs if share else self.runs[:]
            subrows = [SubRow(runs, *_copied(share, row.starts, row.ends), row.marked[:],
                              range(n))]
            row_of: Sequence[int] = bytes(n)
            pos_of: Sequence[int] = range(n)
            stretches: list[tuple[int, int]] = []
        else:
            runs = self.runs if share else self.runs[:]
            subrows = []
            for r in self.rows:
                starts, ends, positions = _copied(share, r.starts, r.ends, r.positions)
                subrows.append(SubRow(r.runs if share else r.runs[:], starts, ends,
                                      r.marked[:], positions))
            row_of, pos_of = _copied(share, self.row_of, self.pos_of)  # type: ignore[arg-type]
            stretches = overlap_stretches(
                chain.from_iterable(zip(r.starts, r.ends, strict=True) for r in self.rows))
        label, cls, key = self.label, self.cls, self.key
        return Lane(
            id=self.id,
            key=key,
            cls=cls,
            label=label,
            is_resource=self.is_resource,
            runs=runs,
            row_of=row_of,
            pos_of=pos_of,
            subrows=subrows,
            stretches=stretches,
            stretch_ends=[e for _, e in stretches],
            instance_count=len(self.instances) if self.is_resource else 1,
            max_concurrency=self.peak,
            fan_outs=self.fan_outs,
            last_end=self.last_end,
        )


# From this many runs, a block's times are checked and converted by numpy: a Python pass costs
# about 100 ns a run, numpy's about 1 ns but some microseconds a call.
VECTOR_MIN = 256


def _relative(starts: list[int], ends: list[int], origin: int) -> tuple[array[int], array[int]]:
    """Starts and ends relative to `origin`, as arrays (an end before its start: the start)."""
    import numpy as np

    s = np.array(starts, dtype=np.int64)
    s -= origin
    e = np.array(ends, dtype=np.int64)
    e -= origin
    np.maximum(e, s, out=e)  # a clock step backwards: an instant
    return array("q", s.tobytes()), array("q", e.tobytes())


def _fits_vector(starts: array[int], ends: array[int]) -> bool:
    import numpy as np

    s = np.frombuffer(starts, dtype=np.int64)
    e = np.frombuffer(ends, dtype=np.int64)
    return bool((s[1:] > s[:-1]).all() and (e[:-1] <= s[1:]).all())


def _ascending(values: list[int]) -> bool:
    if len(values) >= VECTOR_MIN:
        import numpy as np

        v = np.array(values, dtype=np.int64)
        return bool((v[1:] >= v[:-1]).all())
    return all(map(le, values, islice(values, 1, None)))


def _copied(share: bool, *arrays: array[int]) -> list[array[int]]:
    return list(arrays) if share else [a[:] for a in arrays]


def apply_report(model: Lanes, report: Report) -> Lanes:
    """Mark each lane with its findings and worst severity, and put lanes with findings first.

    Cheap (no pass over the runs), so the app can do it on its own thread when an analysis
    finishes after the timeline is already on screen. Mutates the lanes of `model`.
    """
    summaries: dict[str, InstanceSummary] = {}
    for summary in report.instances:
        summaries[f"{'resource' if summary.is_resource else 'instance'}:{summary.key}"] = summary
    findings_by_lane: dict[str, list[Finding]] = {}
    for finding in report.findings:
        kind = "resource" if getattr(finding, "key_kind", "") == "resource" else "instance"
        findings_by_lane.setdefault(f"{kind}:{finding.instance_key}", []).append(finding)
        for other in getattr(finding, "also_on", ()):  # a finding merged from this lane's key
            findings_by_lane.setdefault(f"{other['key_kind']}:{other['key']}", []).append(
                finding)
    for lane in model.lanes:
        summary = summaries.get(lane.id)
        lane.findings = findings_by_lane.get(lane.id, [])
        lane.loop_runs = frozenset(r.run_id for f in lane.findings if f.kind in LOOP_KINDS
                                   for r in f.runs)
        lane.severity = summary.severity if summary is not None else None
        if summary is not None:
            lane.max_concurrency = summary.max_concurrency
            if summary.label and not lane.label:
                lane.label = summary.label
            lane.created = summary.created_at
        if lane.findings and lane.severity is None:
            lane.severity = _worst(f.severity for f in lane.findings)
    lanes = sorted(model.lanes, key=_lane_order)
    return Lanes(lanes, model.origin_ns, model.span_ns, model.run_count, model.by_id)


def _lane_order(lane: Lane) -> tuple[int, int, int]:
    # Resource lanes go after the instances with the same severity: they repeat runs.
    return (-_SEVERITY_RANK.get(lane.severity or "", 0), lane.is_resource, lane.first_start)


def _worst(severities: Iterable[str]) -> str | None:
    best = None
    for severity in severities:
        if _SEVERITY_RANK.get(severity, 0) > _SEVERITY_RANK.get(best or "", 0):
            best = severity
    return best

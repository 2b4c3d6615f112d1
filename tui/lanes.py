"""The timeline's model: one lane per instance key (and per resource key), runs stacked in sub-rows.

Pure data, no Textual. Each run takes the lowest sub-row free at its start (so runs that overlap
stack, and every run stays visible); the stretches where two or more runs of a lane were active
are hatched. Times are nanoseconds relative to the trace's first start. Within a sub-row runs
never overlap, so their starts *and* ends ascend: the renderer finds what is on screen by
bisection.

Lanes are laid out from the columns of the trace's `Table` (`analyzers.table`), never from a
Python object per run: a lane is its table rows in start order, its sub-rows packed arrays of
starts, ends and rows. Most lanes hold one run at a time: one sort and one comparison over all
rows (numpy) finds them, and each is one sub-row without any per-run Python work; only the
lanes whose runs overlap are placed run by run. A run's `Run` is the table's view of its row,
made when a details panel, the selection or a finding reads it (`Lane.runs[i]`).

`LaneSet.update` lays out the rows read so far while the loader goes on (`stream.py`);
`build_lanes(trace_or_table)` is one update with the whole trace.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, overload

import numpy as np
from racetrace.analyzers.core.details import read_details
from racetrace.analyzers.core.model import Run, Trace
from racetrace.analyzers.core.records import Origin, RunDetails
from racetrace.analyzers.core.table import NO_END, Table
from racetrace.analyzers.findings.overlap import overlap_stretches
from racetrace.analyzers.findings.provenance import CreationSite

if TYPE_CHECKING:
    from racetrace.analyzers.findings.report import Finding, InstanceSummary, Report

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
PAUSE_EVERY = 4096  # runs of a lane placed one by one between two calls of `pause`


def _no_pause() -> None:
    pass


class RowViews(Sequence[Run]):
    """The runs of some table rows (a lane's, a sub-row's) as `Run` views, each made when read;
    `status(i)` and `run_id(i)` read the columns without making one."""

    __slots__ = ("rows", "table")

    def __init__(self, table: Table, rows: Sequence[int]) -> None:
        self.table = table
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, index: int) -> Run: ...
    @overload
    def __getitem__(self, index: slice) -> RowViews: ...
    def __getitem__(self, index: int | slice) -> Run | RowViews:
        if isinstance(index, slice):
            return RowViews(self.table, self.rows[index])
        return self.table.run(self.rows[index])

    def __iter__(self) -> Iterator[Run]:
        rows = self.rows
        for lo in range(0, len(rows), 64):
            yield from self.table.views_of(rows[lo: lo + 64])

    def status(self, i: int) -> str:
        table = self.table
        return table.statuses.strings[table.cols["status"].data[self.rows[i]]]

    def run_id(self, i: int) -> str:
        return self.table.run_id(self.rows[i])


@dataclass(slots=True)
class SubRow:
    """Runs that never overlap each other, in start order, with where each is drawn."""

    runs: Sequence[Run] = ()  # a `RowViews` in a laid out lane
    starts: Sequence[int] = ()
    ends: Sequence[int] = ()  # drawn end: open runs reach their process' last record
    marked: Sequence[int] = ()  # indices of failed/cancelled/unfinished runs, ascending
    positions: Sequence[int] = ()  # each run's position in its lane's `runs`


class LaneIndex(Mapping[str, int]):
    """run_id -> position in a lane's `runs`, through the table's id index (no dict per lane)."""

    __slots__ = ("lane",)

    def __init__(self, lane: Lane) -> None:
        self.lane = lane

    def __getitem__(self, run_id: str) -> int:
        found = self.lane.position_of_row(self.lane.table.row_by_id(run_id))
        if found is None:
            raise KeyError(run_id)
        return found

    def __iter__(self) -> Iterator[str]:
        lane = self.lane
        return (lane.table.run_id(row) for row in lane.rows)

    def __len__(self) -> int:
        return len(self.lane.rows)


@dataclass(slots=True, eq=False)
class Lane:
    """One instance (or resource) key: its runs, their sub-rows, and what the analysis said."""

    id: str  # "instance:<key>" or "resource:<key>": the two key spaces never collide
    key: str
    cls: str
    label: str | None
    is_resource: bool
    table: Table
    rows: Sequence[int]  # the table rows of its runs, in start order
    starts: Sequence[int]  # their starts, relative ns
    row_of: Sequence[int]  # sub-row of each run
    pos_of: Sequence[int]  # index of each run inside its sub-row
    subrows: list[SubRow]
    stretches: list[tuple[int, int]]  # where two or more runs were active, relative ns
    stretch_ends: list[int]  # their ends, ascending (stretches are disjoint): for bisection
    instance_count: int  # distinct instances (more than one only on a resource lane)
    origin_ns: int = 0  # absolute time of relative 0
    findings: list[Finding] = field(default_factory=list)
    severity: str | None = None
    max_concurrency: int = 1
    # Runs a batch call fanned out on this resource key (part of the batch run on its object).
    fan_outs: int = 0
    # Runs of its nested-loop and loop-blocking findings: they stopped their thread's loop.
    loop_runs: frozenset[str] = frozenset()
    created: CreationSite | None = None  # where its instance was created (from the report)
    last_end: int = 0  # the latest drawn end, relative ns
    _methods: str | None = None
    _search: tuple[tuple[str, str, str], str] | None = None
    _processes: tuple[str, ...] | None = None

    @property
    def runs(self) -> RowViews:
        """Its runs in start order, each a `Run` view made when read."""
        return RowViews(self.table, self.rows)

    @property
    def height(self) -> int:
        return max(len(self.subrows), MIN_LANE_HEIGHT)

    @property
    def first_start(self) -> int:
        return self.starts[0] if len(self.starts) else 0

    @property
    def short_class(self) -> str:
        return self.cls.rsplit(".", 1)[-1] if self.cls else ""

    @property
    def search(self) -> str:
        """Lowercase haystack for the `/` filter: label, class, key, methods (read from the
        method column, made on first use)."""
        if self._methods is None:
            ids = np.unique(self.table.cols["method"].data[np.asarray(self.rows)])
            names = self.table.methods.strings
            self._methods = "\n".join(sorted({names[i] for i in ids.tolist() if i >= 0})).lower()
        head = (self.label or "", self.cls, self.key)
        if self._search is None or self._search[0] != head:  # (the report may name it)
            self._search = (head, "\n".join([*head, self._methods]).lower())
        return self._search[1]

    @property
    def processes(self) -> tuple[str, ...]:
        """The processes its runs ran in, `host/pid`, in order of first appearance."""
        if self._processes is None:
            ids = self.table.cols["process"].data[np.asarray(self.rows)]
            unique, first = np.unique(ids, return_index=True)
            keys = self.table.process_keys
            self._processes = tuple(keys[unique[i]] for i in np.argsort(first).tolist())
        return self._processes

    @property
    def index(self) -> LaneIndex:
        """run_id -> position in `runs`."""
        return LaneIndex(self)

    def position_of_row(self, row: int | None) -> int | None:
        """The position of table row `row` in this lane, by bisection over its starts."""
        if row is None:
            return None
        starts, rows = self.starts, self.rows
        relative = int(self.table.start[row]) - self.origin_ns
        i = bisect_left(starts, relative)
        while i < len(rows) and starts[i] == relative:
            if rows[i] == row:
                return i
            i += 1
        return None

    def position(self, run_id: str, start_ns: int) -> int | None:
        """The position of run `run_id` (which started at absolute `start_ns`), by bisection."""
        starts, rows = self.starts, self.rows
        relative = start_ns - self.origin_ns
        i = bisect_left(starts, relative)
        table = self.table
        while i < len(rows) and starts[i] == relative:
            if table.run_id(rows[i]) == run_id:
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


def build_lanes(trace: Trace | Table, report: Report | None = None) -> Lanes:
    """Group the trace's runs into lanes; with `report`, its findings order and mark them.
    A `Trace` (of `Run` objects: `--follow`, a picture, tests) is put into columns first,
    its runs serving as the views."""
    table = Table.from_trace(trace) if isinstance(trace, Trace) else trace
    if not len(table):
        return Lanes([], 0, 0, 0)
    model = LaneSet().update(table, len(table), final=True)
    return apply_report(model, report) if report is not None else model


class LaneSet:
    """The lanes of a table as it is read: `update` with the rows committed so far, again and
    again; each update lays them out anew (one sort, vectorized checks; only lanes with
    overlaps run by run) and returns a snapshot that the next update leaves alone."""

    def __init__(self) -> None:
        self._names: dict[int, tuple[str, str | None]] = {}  # instance id -> (class, label)

    def update(
        self,
        table: Table,
        rows: int,
        *,
        final: bool,
        last_of: Mapping[str, int] | None = None,
        frontier: int = 0,
        pause: Callable[[], None] | None = None,
    ) -> Lanes:
        """Lanes of rows `0..rows` of `table`.

        `final`: everything is read: a run without END is drawn to the last moment its process
        recorded (`table.process_last_ns`). Else it holds its sub-row, drawn to `last_of` of its
        process (the files read whole) or to `frontier` (how far the file being read got).
        `pause`: called between lanes (a layout in a background thread lets the screen go
        first: see `turns.py`).
        """
        if not rows:
            return Lanes([], 0, 0, 0)
        cols = table.cols
        start = cols["start"].data[:rows]
        live = np.ones(rows, dtype=bool)
        if table.dropped:
            live[np.fromiter((r for r in table.dropped if r < rows), dtype=np.int64)] = False
        run_count = int(live.sum())
        if not run_count:
            return Lanes([], 0, 0, 0)
        origin = int(start[live].min()) if table.dropped else int(start.min())
        # How far a run without END is drawn: its process' last record (at least its start).
        known = table.process_last_ns if final else (last_of or {})
        reach = np.array([known.get(key, -1 if final else frontier)
                          for key in table.process_keys] or [0], dtype=np.int64)
        marked_ids = [i for i in map(table.statuses.get, MARKED_STATUSES) if i is not None]
        places = _Places(table, rows, origin, reach, marked_ids, final)
        lanes: list[Lane] = []
        pause = pause or _no_pause
        pause()
        self._lay_out(places, np.flatnonzero(live & ~cols["fan_out"].data[:rows]),
                      cols["instance"].data[:rows], False, lanes, pause)
        resource = cols["resource"].data[:rows]
        self._lay_out(places, np.flatnonzero(live & (resource >= 0)), resource, True, lanes,
                      pause)
        span = max((lane.last_end for lane in lanes), default=0)
        lanes.sort(key=_lane_order)
        return Lanes(lanes, origin, span, run_count, {lane.id: lane for lane in lanes})

    def _lay_out(self, places: _Places, rows: np.ndarray, key_of: np.ndarray,
                 is_resource: bool, out: list[Lane], pause: Callable[[], None]) -> None:
        """Lanes of `rows` grouped by `key_of` (instance or resource ids), each in start order
        (stable: load order breaks ties). Arrays of the rows' size are made a few at a time:
        at a million runs each is 8 MB."""
        if not len(rows):
            return
        table = places.table
        # (Each step over all the rows holds the interpreter a few ms at a million runs: the
        # screen goes first between them.)
        pause()
        order = rows[np.lexsort((places.start[rows], key_of[rows]))]
        del rows
        pause()
        keys = key_of[order]
        n = len(order)
        cut = np.flatnonzero(keys[1:] != keys[:-1]) + 1
        lo = np.concatenate(([0], cut)).tolist()
        hi = np.concatenate((cut, [n])).tolist()
        pause()
        starts, ends, free = places.times(order)
        pause()
        # A lane is one sub-row when each run frees it by the next one's start.
        clash = free[:-1] > starts[1:]
        clash[cut - 1] = False  # (across two lanes)
        several = set((np.searchsorted(cut, np.flatnonzero(clash), side="right")).tolist())
        del clash
        pause()
        is_marked = np.isin(table.cols["status"].data[order], places.marked_ids)
        strings = (table.resources if is_resource else table.instances).strings
        order_view = memoryview(order.astype(np.int32) if len(table) < 1 << 31 else order)
        starts_view = memoryview(starts)
        ends_view = memoryview(ends)
        instance = table.cols["instance"].data
        fan_out = table.cols["fan_out"].data
        for lane, (a, b) in enumerate(zip(lo, hi, strict=True)):
            pause()
            key_id = int(keys[a])
            key = strings[key_id]
            lane_rows = order_view[a:b]
            lane_starts = starts_view[a:b]
            if is_resource:
                cls, label = "resource", key
                ids = order[a:b]
                instance_count = len(np.unique(instance[ids]))
                fan_outs = int(fan_out[ids].sum())
            else:
                cls, label = self._name_of(table, key_id, order_view[a])
                instance_count, fan_outs = 1, 0
            count = b - a
            if lane not in several:
                subrows = [SubRow(RowViews(table, lane_rows), lane_starts, ends_view[a:b],
                                  np.flatnonzero(is_marked[a:b]).tolist(), range(count))]
                row_of: Sequence[int] = bytes(count)
                pos_of: Sequence[int] = range(count)
                stretches: list[tuple[int, int]] = []
                peak = 1
            else:
                lane_ends = ends[a:b].tolist()
                subrows, row_of, pos_of, peak = _place_each(
                    table, lane_rows, starts[a:b].tolist(), lane_ends, free[a:b].tolist(),
                    is_marked[a:b].tolist(), pause)
                stretches = overlap_stretches(zip(lane_starts, lane_ends, strict=True))
            out.append(Lane(
                id=f"{'resource' if is_resource else 'instance'}:{key}",
                key=key,
                cls=cls,
                label=label,
                is_resource=is_resource,
                table=table,
                rows=lane_rows,
                starts=lane_starts,
                row_of=row_of,
                pos_of=pos_of,
                subrows=subrows,
                stretches=stretches,
                stretch_ends=[e for _, e in stretches],
                instance_count=instance_count,
                origin_ns=places.origin,
                max_concurrency=peak,
                fan_outs=fan_outs,
                last_end=int(ends[a:b].max()),
            ))

    def _name_of(self, table: Table, key_id: int, row: int) -> tuple[str, str | None]:
        """An instance lane's class and label: its first run's details, read from its file
        once. Without making its `Run` view: a view made while the load goes on would keep
        the ends read by then (and the columns as they were)."""
        name = self._names.get(key_id)
        if name is None:
            views = table.views
            found = views[row] if isinstance(views, list) else views.get(row)
            if found is not None:
                details = found.detail()
            else:
                details = table.details.get(row) or read_details(_Unread(
                    table.run_id(row), _origin_of(table, row)))
            name = self._names[key_id] = (details.instance_class, details.instance_label)
        return name


@dataclass(slots=True)
class _Places:
    """Where the rows `0..rows` of a table are drawn (see `LaneSet.update`)."""

    table: Table
    rows: int
    origin: int
    reach: np.ndarray  # per process id: how far its runs without END are drawn
    marked_ids: list[int]  # the status ids of runs with an end mark
    final: bool

    @property
    def start(self) -> np.ndarray:
        return self.table.cols["start"].data[: self.rows]

    def times(self, order: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Relative starts and drawn ends of `order`'s rows, and until when each keeps its
        sub-row (an instant run still takes its start's nanosecond; while the load goes on,
        a run without END holds it)."""
        cols = self.table.cols
        starts = cols["start"].data[order]
        ends = cols["end"].data[order]
        opened = ends == NO_END
        if opened.any():
            at = np.flatnonzero(opened)
            ends[at] = np.maximum(self.reach[cols["process"].data[order[at]]], starts[at])
        starts -= self.origin
        ends -= self.origin
        np.maximum(ends, starts, out=ends)  # a clock step backwards: an instant
        free = starts + 1
        np.maximum(free, ends, out=free)
        if not self.final:
            free[opened] = HELD
        return starts, ends, free


@dataclass(slots=True)
class _Unread:
    """What `details.read_details` reads of a run: its id and where its START line is."""

    run_id: str
    origin: Origin | None
    details: RunDetails | None = None

    @property
    def source(self) -> str:
        return self.origin.path if self.origin is not None else ""


def _origin_of(table: Table, row: int) -> Origin | None:
    stretch = int(table.cols["stretch"].data[row])
    return table.origins[stretch] if stretch >= 0 else None


def _place_each(table: Table, rows: Sequence[int], starts: list[int], ends: list[int],
                frees: list[int], marked: list[bool], pause: Callable[[], None] = _no_pause,
                ) -> tuple[list[SubRow], array[int], array[int], int]:
    """The general case, one run at a time: the lowest sub-row free at each start."""
    row_starts: list[array[int]] = []
    row_ends: list[array[int]] = []
    row_rows: list[array[int]] = []
    row_positions: list[array[int]] = []
    row_marked: list[list[int]] = []
    row_of = array("q")
    pos_of = array("q")
    busy: list[tuple[int, int]] = []  # (free from, sub-row) of the runs active
    idle: list[int] = []  # sub-rows whose last run has ended, lowest first
    push, pop = heapq.heappush, heapq.heappop
    peak = 1
    for i, start in enumerate(starts):
        if not i % PAUSE_EVERY:
            pause()
        while busy and busy[0][0] <= start:
            push(idle, pop(busy)[1])
        if idle:
            number = pop(idle)
        else:
            number = len(row_starts)
            row_starts.append(array("q"))
            row_ends.append(array("q"))
            row_rows.append(array("q"))
            row_positions.append(array("q"))
            row_marked.append([])
        pos = len(row_starts[number])
        row_of.append(number)
        pos_of.append(pos)
        row_starts[number].append(start)
        row_ends[number].append(ends[i])
        row_rows[number].append(rows[i])
        row_positions[number].append(i)
        if marked[i]:
            row_marked[number].append(pos)
        push(busy, (frees[i], number))
        if len(busy) > peak:
            peak = len(busy)
    subrows = [SubRow(RowViews(table, r), s, e, m, p) for s, e, r, p, m in zip(
        row_starts, row_ends, row_rows, row_positions, row_marked, strict=True)]
    return subrows, row_of, pos_of, peak


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

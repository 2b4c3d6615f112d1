"""The timeline's model: one lane per instance key (and per resource key), runs stacked in sub-rows.

Pure data, no Textual: `build_lanes(trace, report)` groups runs by key, gives each run the
lowest sub-row free at its start (so runs that overlap stack, and every run stays visible), and
takes the stretches where two or more runs of the lane were active from the analyzer's sweep.
Times are nanoseconds relative to the trace's first start. Within a sub-row runs never overlap,
so their starts *and* ends ascend: the renderer finds what is on screen by bisection.
"""

from __future__ import annotations

import gc
import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from racetrace.analyzers.model import Run, Trace
from racetrace.analyzers.overlap import overlap_stretches
from racetrace.analyzers.provenance import CreationSite

if TYPE_CHECKING:
    from racetrace.analyzers.report import Finding, InstanceSummary, Report

# Status values of a run (racetrace.tracer.semconv; the TUI does not import the tracer).
STATUS_ERROR = "error"
STATUS_CANCELLED = "cancelled"
STATUS_UNFINISHED = "unfinished"
MARKED_STATUSES = frozenset({STATUS_ERROR, STATUS_CANCELLED, STATUS_UNFINISHED})

_SEVERITY_RANK = {"error": 3, "warning": 2, "info": 1}
# Finding kinds whose runs held their thread's running event loop (analyzers.report.LOOP_KINDS).
LOOP_KINDS = frozenset({"nested-loop", "loop-blocking"})
MIN_LANE_HEIGHT = 2  # the gutter needs two lines: the label, then class and key


@dataclass(slots=True)
class SubRow:
    """Runs that never overlap each other, in start order, with where each is drawn."""

    runs: list[Run] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)  # drawn end: open runs reach their process' last
    marked: list[int] = field(default_factory=list)  # indices of failed/cancelled/unfinished runs


@dataclass(slots=True)
class Lane:
    """One instance (or resource) key: its runs, their sub-rows, and what the analysis said."""

    id: str  # "instance:<key>" or "resource:<key>": the two key spaces never collide
    key: str
    cls: str
    label: str | None
    is_resource: bool
    runs: list[Run]  # start order
    row_of: list[int]  # sub-row of each run
    pos_of: list[int]  # index of each run inside its sub-row
    subrows: list[SubRow]
    stretches: list[tuple[int, int]]  # where two or more runs were active, relative ns
    stretch_ends: list[int]  # their ends, ascending (stretches are disjoint): for bisection
    search: str  # lowercase haystack for the `/` filter: label, class, key, methods
    processes: tuple[str, ...]
    instance_count: int  # distinct instances (more than one only on a resource lane)
    findings: list[Finding] = field(default_factory=list)
    severity: str | None = None
    max_concurrency: int = 1
    # Runs a batch call fanned out on this resource key (part of the batch run on its object).
    fan_outs: int = 0
    index: dict[str, int] = field(default_factory=dict)  # run_id -> position in `runs`
    # Runs of its nested-loop and loop-blocking findings: they stopped their thread's loop.
    loop_runs: frozenset[str] = frozenset()
    created: CreationSite | None = None  # where its instance was created (from the report)

    @property
    def height(self) -> int:
        return max(len(self.subrows), MIN_LANE_HEIGHT)

    @property
    def first_start(self) -> int:
        return self.subrows[0].starts[0] if self.subrows and self.subrows[0].starts else 0

    @property
    def short_class(self) -> str:
        return self.cls.rsplit(".", 1)[-1] if self.cls else ""

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
                other = row.runs[pos]
                j = self.index.get(other.run_id)
                if j is None or j == i:
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
    # Lanes are many small lists and dicts that hold no cycles; the cyclic collector would
    # rescan all of them every few thousand allocations (most of the time, unpaused).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _build_lanes(trace, report)
    finally:
        if was_enabled:
            gc.enable()


def _build_lanes(trace: Trace, report: Report | None) -> Lanes:
    runs = trace.runs
    if not runs:
        return Lanes([], 0, 0, 0)
    origin = runs[0].start_ns
    by_instance: dict[str, list[Run]] = {}
    by_resource: dict[str, list[Run]] = {}
    for run in runs:  # already in start order: each group stays sorted
        # A batch call's fan-out run is part of the batch run on the object: shown on its
        # resource lane only, as the analysis counts it.
        if run.fan_out_of is None:
            group = by_instance.get(run.instance_key)
            if group is None:
                by_instance[run.instance_key] = group = []
            group.append(run)
        if run.resource_key is not None:
            by_resource.setdefault(run.resource_key, []).append(run)
    last_ns_of = trace.last_ns_of
    lanes: list[Lane] = []
    span = 0
    for kind, groups in (("instance", by_instance), ("resource", by_resource)):
        for key, group in groups.items():
            lane = _build_lane(f"{kind}:{key}", key, kind == "resource", group, origin, last_ns_of)
            for row in lane.subrows:
                if row.ends and row.ends[-1] > span:
                    span = row.ends[-1]
            lanes.append(lane)
    lanes.sort(key=_lane_order)
    model = Lanes(lanes, origin, span, len(runs), {lane.id: lane for lane in lanes})
    return apply_report(model, report) if report is not None else model


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


def _build_lane(
    lane_id: str, key: str, is_resource: bool, runs: Sequence[Run], origin: int, last_ns_of: object
) -> Lane:
    subrows: list[SubRow] = []
    row_of: list[int] = []
    pos_of: list[int] = []
    busy: list[tuple[int, int]] = []  # (drawn end, sub-row) of the runs still active
    free: list[int] = []  # sub-rows whose last run has ended, lowest first
    push, pop = heapq.heappush, heapq.heappop
    methods: set[str] = set()
    processes: dict[str, None] = {}
    instances: set[str] = set()
    last_of = last_ns_of  # Trace.last_ns_of, bound
    peak = 1
    for run in runs:
        start = run.start_ns - origin
        end = (run.end_ns if run.end_ns is not None else last_of(run)) - origin  # type: ignore[operator]
        if end < start:
            end = start  # a clock step backwards: draw it as an instant rather than drop it
        while busy and busy[0][0] <= start:
            push(free, pop(busy)[1])
        if free:
            row = pop(free)
        else:
            row = len(subrows)
            subrows.append(SubRow())
        sub = subrows[row]
        pos_of.append(len(sub.runs))
        row_of.append(row)
        if run.status in MARKED_STATUSES:
            sub.marked.append(len(sub.runs))
        sub.runs.append(run)
        sub.starts.append(start)
        sub.ends.append(end)
        push(busy, (max(end, start + 1), row))
        if len(busy) > peak:
            peak = len(busy)
        methods.add(run.method)
        processes[run.process_key] = None
        instances.add(run.instance_key)
    first = runs[0]
    if is_resource:
        cls, label = "resource", key
    else:
        cls, label = first.instance_class, first.instance_label
    stretches: list[tuple[int, int]] = []
    if len(subrows) > 1:
        stretches = overlap_stretches(
            (s, e) for row in subrows for s, e in zip(row.starts, row.ends, strict=True)
        )
    search = "\n".join([label or "", cls, key, *sorted(methods)]).lower()
    lane = Lane(
        id=lane_id,
        key=key,
        cls=cls,
        label=label,
        is_resource=is_resource,
        runs=list(runs),
        row_of=row_of,
        pos_of=pos_of,
        subrows=subrows,
        stretches=stretches,
        stretch_ends=[e for _, e in stretches],
        search=search,
        processes=tuple(processes),
        instance_count=len(instances),
        max_concurrency=peak,
    )
    lane.index = {run.run_id: i for i, run in enumerate(lane.runs)}
    if is_resource:
        lane.fan_outs = sum(1 for run in runs if run.fan_out_of is not None)
    return lane

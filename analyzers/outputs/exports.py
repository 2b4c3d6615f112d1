"""Exports for other tools: OTLP JSON lines (the Collector's file format: otel-tui, Jaeger via a
Collector) and Chrome trace events (Perfetto, chrome://tracing).

Chrome: a run is an async slice (`b`/`e`), never a complete event (`X`): complete events on
one thread must nest, and overlapping runs on one object are exactly what does not nest. Each
instance is a group of async tracks named after it, one track per "slot": runs are packed into
the fewest slots such that runs in one slot never overlap, so each track is a valid sequence and
every overlap shows as runs stacked side by side. Findings are instant events at the moment the
overlap starts.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from itertools import islice
from typing import Any

import numpy as np
import orjson
from racetrace.analyzers.core import rowviews
from racetrace.analyzers.core.model import Run, Trace
from racetrace.analyzers.core.table import Table
from racetrace.analyzers.findings.explain import subject
from racetrace.analyzers.findings.report import Report
from racetrace.tracer import semconv

from racetrace._version import __version__

OTLP_BATCH = 512  # spans per line, as a Collector batch would hold


# -- OTLP JSON --------------------------------------------------------------------------------
def any_value(value: Any) -> dict[str, Any]:
    """A Python value as an OTLP/JSON AnyValue (64-bit integers as strings, per the mapping)."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    return {"stringValue": str(value)}


def _key_values(attributes: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_value(v)} for k, v in attributes.items() if v is not None]


def run_attributes(run: Run) -> dict[str, Any]:
    """The span attributes the tracer would have set for `run` (tracer/semconv.py names)."""
    details = run.detail()
    return {
        semconv.INSTANCE_KEY: run.instance_key,
        semconv.INSTANCE_CLASS: run.instance_class,
        semconv.INSTANCE_LABEL: run.instance_label,
        semconv.INSTANCE_ID: run.instance_id,
        semconv.RESOURCE_KEY: run.resource_key,
        semconv.STATEFUL: run.stateful,
        semconv.PARENT_RUN: run.parent_run_id,
        semconv.FAN_OUT_OF: run.fan_out_of,
        semconv.TASK_NAME: run.task_name,
        semconv.TASK_KEY: run.task_key,
        semconv.TASK_CREATED_AT: run.task_created_at,
        semconv.TASK_CREATED_BY_RUN: run.task_created_by_run,
        semconv.TASK_CREATED_NS: run.task_created_ns,
        semconv.TASK_CREATED_BY_TASK: run.task_created_by_task,
        semconv.THREAD_STARTED_NS: run.thread_started_ns,
        semconv.THREAD_STARTED_BY: run.thread_started_by,
        semconv.THREAD_ID: run.thread_id,
        semconv.THREAD_NAME: run.thread_name,
        semconv.PROCESS_PID: run.pid,
        semconv.HOST_NAME: run.host,
        semconv.CODE_FUNCTION: run.function,
        semconv.CODE_FILE: run.file,
        semconv.CODE_LINE: run.line,
        semconv.STACK: list(run.stack) or None,
        "racetrace.args": run.args,
        semconv.LOOP_RUNNING: run.loop_running or None,
        semconv.LOOP_OWN: details.runs_own_loop or None,
        semconv.INSTANCE_CREATED_AT: details.created_at,
        semconv.INSTANCE_CREATED_IN: details.created_in,
        semconv.INSTANCE_CREATED_SCOPE: details.created_scope,
        semconv.END_STATUS: run.status,
        semconv.END_REASON: run.end_reason,
        semconv.ERROR_TYPE: run.error_type,
        semconv.EXCEPTION_MESSAGE: run.error_message,
    }


def _span(trace: Trace, run: Run) -> dict[str, Any]:
    # An unfinished run has no end; OTLP needs one, so it gets its provisional end (the last
    # moment its process recorded) and keeps racetrace.end.status = unfinished, which our
    # reader turns back into an open run.
    end = run.end_ns if run.end_ns is not None else trace.last_ns_of(run)
    span: dict[str, Any] = {
        "traceId": run.trace_id or run.run_id.rjust(32, "0"),
        "spanId": run.run_id,
        "parentSpanId": run.parent_span_id or "",
        "name": run.method,
        "kind": 1,  # SPAN_KIND_INTERNAL
        "startTimeUnixNano": str(run.start_ns),
        "endTimeUnixNano": str(end),
        "attributes": _key_values(run_attributes(run)),
        "status": {},
    }
    if run.status == semconv.STATUS_ERROR:
        span["status"] = {"code": 2, "message": run.error_message or run.error_type or ""}
        span["events"] = [{
            "name": "exception",
            "timeUnixNano": str(end),
            "attributes": _key_values({"exception.type": run.error_type,
                                       "exception.message": run.error_message}),
        }]
    return span


def otlp_lines(trace: Trace, *, batch: int = OTLP_BATCH) -> Iterator[bytes]:
    """One `{"resourceSpans": [...]}` line per process and batch of `batch` spans."""
    by_process: dict[tuple[str | None, str, int], list[Run]] = {}
    for run in trace.runs:
        by_process.setdefault((run.service, run.host, run.pid), []).append(run)
    for (service, host, pid), runs in by_process.items():
        resource = {"attributes": _key_values({
            semconv.SERVICE_NAME: service or "unknown_service",
            semconv.HOST_NAME: host,
            semconv.PROCESS_PID: pid,
        })}
        for lo in range(0, len(runs), batch):
            line = {"resourceSpans": [{
                "resource": resource,
                "scopeSpans": [{
                    "scope": {"name": "racetrace", "version": __version__},
                    "spans": [_span(trace, r) for r in runs[lo:lo + batch]],
                }],
            }]}
            yield orjson.dumps(line) + b"\n"


# -- Chrome trace events ----------------------------------------------------------------------
def _slots(trace: Trace, runs: list[Run]) -> list[int]:
    """For runs in start order, the lowest slot free at each run's start (interval partitioning):
    runs in one slot never overlap, and the number of slots is the peak concurrency."""
    free: list[int] = []
    busy: list[tuple[int, int]] = []  # (end, slot)
    slots = []
    for run in runs:
        while busy and busy[0][0] <= run.start_ns:
            heapq.heappush(free, heapq.heappop(busy)[1])
        slot = heapq.heappop(free) if free else len(busy)
        slots.append(slot)
        heapq.heappush(busy, (max(trace.last_ns_of(run), run.start_ns), slot))
    return slots


def _finding_at(finding: Any) -> int | None:
    """Where a finding's instant event goes: its overlap's start, else its first run's; None
    for a finding with no run (nothing to place it by)."""
    if not finding.runs:
        return None
    at = finding.overlap_start_ns
    return finding.runs[0].start_ns if at is None else at


def _chrome_args(run: Run) -> dict[str, Any]:
    """A run's begin event's `args`."""
    args = {
        "method": run.method, "run_id": run.run_id, "status": run.status,
        "instance_key": run.instance_key, "task": run.task_name, "thread": run.thread_name,
        "callsite": run.callsite, "parent_run_id": run.parent_run_id,
    }
    if run.error_type:
        args["error"] = f"{run.error_type}: {run.error_message}"
    return args


def chrome_trace(trace: Trace, report: Report | None = None) -> dict[str, Any]:
    """The trace as a Chrome trace-event JSON object (timestamps in µs from the first run)."""
    origin = trace.start_ns or 0

    def us(ns: int) -> float:
        return (ns - origin) / 1000

    pids: dict[str, int] = {}
    used: set[int] = set()
    events: list[dict[str, Any]] = []

    def pid_of(run: Run) -> int:
        pid = pids.get(run.process_key)
        if pid is None:
            pid = run.pid if run.pid and run.pid not in used else max(used, default=0) + 1
            pids[run.process_key] = pid
            used.add(pid)
            events.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
                           "args": {"name": f"{run.service or 'python'} pid {run.pid} "
                                            f"on {run.host or '?'}"}})
        return pid

    groups: dict[str, list[Run]] = {}
    for run in trace.runs:
        groups.setdefault(run.instance_key, []).append(run)
    track = 0
    timed: list[tuple[float, int, dict[str, Any]]] = []
    for key, runs in groups.items():
        runs.sort(key=lambda r: r.start_ns)
        first = runs[0]
        lane = subject(first.instance_class, first.instance_label, key)
        slot_ids: dict[int, str] = {}
        for run, slot in zip(runs, _slots(trace, runs), strict=True):
            if slot not in slot_ids:
                track += 1
                slot_ids[slot] = f"0x{track:x}"
            pid = pid_of(run)
            common = {"cat": "racetrace.run", "name": lane, "id": slot_ids[slot], "pid": pid,
                      "tid": run.thread_id or 0}
            args = _chrome_args(run)
            end = run.end_ns if run.end_ns is not None else trace.last_ns_of(run)
            timed.append((us(run.start_ns), 1, {"ph": "b", "ts": us(run.start_ns), **common,
                                                "args": args}))
            timed.append((us(end), 0, {"ph": "e", "ts": us(end), **common}))
    if report is not None:
        for finding in report.findings:
            at = _finding_at(finding)
            if at is None:
                continue
            timed.append((us(at), 2, {
                "ph": "i", "s": "p", "cat": "racetrace.finding", "ts": us(at),
                "pid": pid_of(finding.runs[0]), "tid": 0,
                "name": f"{finding.id} {finding.severity}: {finding.headline}",
                "args": {"kind": finding.kind, "pairs": finding.pair_count,
                         "overlap_ns": finding.overlap_ns, "fix": finding.fix},
            }))
    # At one timestamp, ends before begins: a slot reused at the instant it frees stays valid.
    timed.sort(key=lambda t: (t[0], t[1]))
    events.extend(e for _, _, e in timed)
    return {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {"generator": f"racetrace {__version__}", "origin_unix_ns": origin},
    }


# -- the same, written run by run from a loaded table -----------------------------------------
# A million runs as `Run` objects (and the events of all of them) are gigabytes: these read the
# columns to order and group the runs, and make each run's view only to write it
# (`rowviews.views`). Their bytes are those of `otlp_lines` and `chrome_trace` on a `Trace` of
# the same files.
def otlp_table_lines(table: Table, *, batch: int = OTLP_BATCH) -> Iterator[bytes]:
    """`otlp_lines` of a table."""
    shown = table.trace()  # what `_span` reads of a trace: when unfinished runs stop
    rows = rowviews.start_order(table)
    for group in rowviews.groups(_process_of(table), rows):
        first = table.passing_views(group[:1])[0]
        resource = {"attributes": _key_values({
            semconv.SERVICE_NAME: first.service or "unknown_service",
            semconv.HOST_NAME: first.host,
            semconv.PROCESS_PID: first.pid,
        })}
        runs = rowviews.views(table, group, batch=batch)
        for _ in range(0, len(group), batch):
            line = {"resourceSpans": [{
                "resource": resource,
                "scopeSpans": [{
                    "scope": {"name": "racetrace", "version": __version__},
                    "spans": [_span(shown, r) for r in islice(runs, batch)],
                }],
            }]}
            yield orjson.dumps(line) + b"\n"


def _process_of(table: Table) -> np.ndarray:
    """Per row, an id of its (service, host, pid): how `otlp_lines` groups runs."""
    services: dict[str | None, int] = {}
    of_origin = np.array([services.setdefault(o.service if o is not None else None,
                                              len(services)) for o in table.origins] or [0],
                         dtype=np.int64)
    stretch = table.stretch.astype(np.int64)
    service = np.where(stretch >= 0, of_origin[np.maximum(stretch, 0)],
                       services.setdefault(None, len(services)))
    keys = np.stack([service, table.host.astype(np.int64), table.pid])
    if not keys.shape[1]:
        return np.zeros(0, dtype=np.int64)
    return np.unique(keys, axis=1, return_inverse=True)[1].reshape(-1)


def chrome_table_chunks(table: Table, report: Report | None = None) -> Iterator[bytes]:
    """`orjson.dumps(chrome_trace(...)) + b"\\n"` of a table, in chunks."""
    rows = rowviews.start_order(table)
    origin = int(table.start[rows[0]]) if len(rows) else 0

    def us(ns: int) -> float:
        return (ns - origin) / 1000

    starts = table.start
    ends = rowviews.last_ns(table)
    process = table.process
    pids: dict[int, int] = {}  # process id (the table's) -> the pid shown
    used: set[int] = set()
    meta: list[dict[str, Any]] = []

    def pid_of(run: Run, key: int) -> int:
        pid = pids.get(key)
        if pid is None:
            pid = run.pid if run.pid and run.pid not in used else max(used, default=0) + 1
            pids[key] = pid
            used.add(pid)
            meta.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
                         "args": {"name": f"{run.service or 'python'} pid {run.pid} "
                                          f"on {run.host or '?'}"}})
        return pid

    # The runs lane after lane (each lane in start order), as `chrome_trace` adds their events.
    lanes = rowviews.groups(table.instance, rows)
    order = np.concatenate(lanes) if lanes else np.zeros(0, dtype=np.int64)
    lane_of = np.empty(len(order), dtype=np.int64)
    track_of = np.empty(len(order), dtype=np.int64)
    names: list[str] = []
    track = 0
    at = 0
    for number, lane in enumerate(lanes):
        first = table.passing_views(lane[:1])[0]
        names.append(subject(first.instance_class, first.instance_label,
                             table.instance_keys[int(table.instance[lane[0]])]))
        slot_ids: dict[int, int] = {}
        for slot in _slot_numbers(starts[lane].tolist(),
                                  np.maximum(ends[lane], starts[lane]).tolist()):
            if slot not in slot_ids:
                track += 1
                slot_ids[slot] = track
            track_of[at] = slot_ids[slot]
            at += 1
        lane_of[at - len(lane): at] = number
    # Each process named where its first run (in that order) is met.
    keys = process[order]
    _, firsts = np.unique(keys, return_index=True)
    for position in np.sort(firsts).tolist():
        row = int(order[position])
        pid_of(table.passing_views([row])[0], int(process[row]))
    finds: list[tuple[float, dict[str, Any]]] = []
    if report is not None:
        for finding in report.findings:
            at_ns = _finding_at(finding)
            if at_ns is None:
                continue
            run = finding.runs[0]
            key = table.processes_[run.process_key]
            finds.append((us(at_ns), {
                "ph": "i", "s": "p", "cat": "racetrace.finding", "ts": us(at_ns),
                "pid": pid_of(run, key), "tid": 0,
                "name": f"{finding.id} {finding.severity}: {finding.headline}",
                "args": {"kind": finding.kind, "pairs": finding.pair_count,
                         "overlap_ns": finding.overlap_ns, "fix": finding.fix},
            }))
    # Every event, sorted as `chrome_trace` sorts them: by time, ends before begins before
    # findings, then in the order added (a run's begin, its end, lane after lane).
    count = len(order)
    begin_ts = (starts[order] - origin) / 1000
    end_ts = (ends[order] - origin) / 1000
    ts = np.concatenate([begin_ts, end_ts, np.array([t for t, _ in finds], dtype=np.float64)])
    phase = np.concatenate([np.ones(count, dtype=np.int8), np.zeros(count, dtype=np.int8),
                            np.full(len(finds), 2, dtype=np.int8)])
    added = np.concatenate([np.arange(count) * 2, np.arange(count) * 2 + 1,
                            2 * count + np.arange(len(finds))])
    events = np.lexsort((added, phase, ts))
    yield b'{"traceEvents":['
    separator = b""
    for event in meta:
        yield separator + orjson.dumps(event)
        separator = b","
    thread = table.thread
    has_thread = table.has_thread
    # The views of the runs, made in the order their begins are written (start order).
    begins = events[events < count]
    views = rowviews.views(table, order[begins])
    chunk: list[bytes] = []
    for event in events.tolist():
        if event >= 2 * count:
            chunk.append(orjson.dumps(finds[event - 2 * count][1]))
        else:
            position = event % count
            row = int(order[position])
            common = {"cat": "racetrace.run", "name": names[lane_of[position]],
                      "id": f"0x{int(track_of[position]):x}", "pid": pids[int(process[row])],
                      "tid": int(thread[row]) if has_thread[row] else 0}
            if event < count:
                run = next(views)
                common["tid"] = run.thread_id or 0
                chunk.append(orjson.dumps({"ph": "b", "ts": us(run.start_ns), **common,
                                           "args": _chrome_args(run)}))
            else:
                chunk.append(orjson.dumps({"ph": "e", "ts": us(int(ends[row])), **common}))
        if len(chunk) == 4096:
            yield separator + b",".join(chunk)
            separator = b","
            chunk = []
    if chunk:
        yield separator + b",".join(chunk)
    yield (b'],"displayTimeUnit":"ms","otherData":'
           + orjson.dumps({"generator": f"racetrace {__version__}", "origin_unix_ns": origin})
           + b"}\n")


def _slot_numbers(starts: list[int], ends: list[int]) -> list[int]:
    """`_slots` of runs given by their starts and (resolved) ends, in start order."""
    free: list[int] = []
    busy: list[tuple[int, int]] = []  # (end, slot)
    slots = []
    for start, end in zip(starts, ends, strict=True):
        while busy and busy[0][0] <= start:
            heapq.heappush(free, heapq.heappop(busy)[1])
        slot = heapq.heappop(free) if free else len(busy)
        slots.append(slot)
        heapq.heappush(busy, (end, slot))
    return slots

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
from typing import Any

import orjson
from racetrace.analyzers.core.model import Run, Trace
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
            args = {
                "method": run.method, "run_id": run.run_id, "status": run.status,
                "instance_key": run.instance_key, "task": run.task_name,
                "thread": run.thread_name, "callsite": run.callsite,
                "parent_run_id": run.parent_run_id,
            }
            if run.error_type:
                args["error"] = f"{run.error_type}: {run.error_message}"
            end = run.end_ns if run.end_ns is not None else trace.last_ns_of(run)
            timed.append((us(run.start_ns), 1, {"ph": "b", "ts": us(run.start_ns), **common,
                                                "args": args}))
            timed.append((us(end), 0, {"ph": "e", "ts": us(end), **common}))
    if report is not None:
        for finding in report.findings:
            at = finding.overlap_start_ns
            if at is None and finding.runs:
                at = finding.runs[0].start_ns
            if at is None or not finding.runs:
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

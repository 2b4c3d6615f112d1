"""Read OTLP JSON lines, as the OpenTelemetry Collector's file exporter writes them: one
`{"resourceSpans": [...]}` object per line (the OTLP/JSON mapping: lowerCamelCase names, hex
trace and span ids, 64-bit integers as strings, enums as numbers).

Our own spans carry `racetrace.instance.key`; spans from other instrumentations do not, so
`key_attr` names the attribute that identifies the object they ran on (`gen_ai.agent.id`, say),
looked up on the span and then on its resource. Spans with neither are not runs and are left
out, counted in one problem line. A foreign span's parent run is its nearest ancestor span
that is a run, so re-entrance through intermediate spans is still seen.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec
from racetrace.tracer import semconv

from .lines import NotATrace
from .model import Origin, Process, Run, make_run


class _AnyValue(msgspec.Struct):
    stringValue: str | None = None
    intValue: int | str | None = None
    boolValue: bool | None = None
    doubleValue: float | str | None = None
    arrayValue: _ArrayValue | None = None
    bytesValue: str | None = None


class _ArrayValue(msgspec.Struct):
    values: list[_AnyValue] = []


class _KeyValue(msgspec.Struct):
    key: str
    value: _AnyValue | None = None


class _Status(msgspec.Struct):
    code: int | str = 0
    message: str = ""


class _Event(msgspec.Struct):
    name: str = ""
    attributes: list[_KeyValue] = []


class _Span(msgspec.Struct):
    spanId: str
    startTimeUnixNano: int | str
    traceId: str = ""
    parentSpanId: str = ""
    name: str = ""
    endTimeUnixNano: int | str | None = None
    attributes: list[_KeyValue] = []
    status: _Status | None = None
    events: list[_Event] = []


class _ScopeSpans(msgspec.Struct):
    spans: list[_Span] = []


class _Resource(msgspec.Struct):
    attributes: list[_KeyValue] = []


class _ResourceSpans(msgspec.Struct):
    resource: _Resource | None = None
    scopeSpans: list[_ScopeSpans] = []
    # Before OTLP 0.15 the scope level was called instrumentationLibrarySpans.
    instrumentationLibrarySpans: list[_ScopeSpans] = []


class _TracesData(msgspec.Struct):
    resourceSpans: list[_ResourceSpans]


_decoder = msgspec.json.Decoder(_TracesData)

_ERROR_CODES = {2, "2", "STATUS_CODE_ERROR"}
_HEX = frozenset("0123456789abcdefABCDEF")
_STATUSES = {s: s for s in (semconv.STATUS_OK, semconv.STATUS_ERROR, semconv.STATUS_CANCELLED,
                            semconv.STATUS_UNFINISHED)}


def value_of(value: _AnyValue | None) -> Any:
    """An OTLP AnyValue as the Python value it holds."""
    if value is None:
        return None
    if value.stringValue is not None:
        return value.stringValue
    if value.intValue is not None:
        try:
            return int(value.intValue)
        except ValueError:
            return value.intValue
    if value.boolValue is not None:
        return value.boolValue
    if value.doubleValue is not None:
        try:
            return float(value.doubleValue)
        except ValueError:
            return value.doubleValue
    if value.arrayValue is not None:
        return [value_of(v) for v in value.arrayValue.values]
    return value.bytesValue


def _attributes(pairs: list[_KeyValue]) -> dict[str, Any]:
    return {kv.key: value_of(kv.value) for kv in pairs}


def _hex_id(raw: str) -> str:
    """OTLP/JSON ids are hex; protobuf's generic JSON mapping writes base64: accept both."""
    if not raw:
        return raw
    if len(raw) in (16, 32) and all(c in _HEX for c in raw):
        return raw.lower()
    try:
        return base64.b64decode(raw, validate=True).hex()
    except (binascii.Error, ValueError):
        return raw


def _ns(value: int | str | None) -> int | None:
    if value is None:
        return None
    try:
        ns = int(value)
    except ValueError:
        return None
    return ns or None  # 0 means unset


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def load_otlp_lines(
    data: bytes, source: str, *, key_attr: str | None
) -> tuple[list[Run], list[Process], int, list[str]]:
    """Runs and processes from one file of OTLP JSON lines; damaged lines skipped, counted."""
    skipped = 0
    problems: list[str] = []
    parsed: list[tuple[dict[str, Any], _Span]] = []
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            batch = _decoder.decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            skipped += 1
            if len(problems) < 20:
                message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                problems.append(f"{source}:{number}: skipped: {message}")
            continue
        for resource_spans in batch.resourceSpans:
            resource = _attributes(resource_spans.resource.attributes
                                   if resource_spans.resource else [])
            for scope in (*resource_spans.scopeSpans, *resource_spans.instrumentationLibrarySpans):
                parsed.extend((resource, span) for span in scope.spans)
    if not parsed and skipped:
        raise NotATrace(problems[0])

    parents = {_hex_id(span.spanId): _hex_id(span.parentSpanId) for _, span in parsed}
    runs: list[Run] = []
    keyless = 0
    for resource, span in parsed:
        run = _run(resource, span, key_attr, source)
        if run is None:
            keyless += 1
        else:
            runs.append(run)
    run_ids = {r.run_id for r in runs}
    for run in runs:
        if run.parent_run_id is None and run.parent_span_id:
            run.parent_run_id = _nearest_run(run.parent_span_id, parents, run_ids)
    if keyless:
        hint = f"--key-attr {key_attr!r} is not on them" if key_attr else (
            "pass --key-attr ATTR to pick the attribute that identifies their object")
        problems.append(f"{source}: {keyless} span{'s' if keyless != 1 else ''} without "
                        f"{semconv.INSTANCE_KEY} left out ({hint})")
    return runs, _processes(runs, source), skipped, problems


def _nearest_run(span_id: str, parents: dict[str, str], run_ids: set[str]) -> str | None:
    seen = 0
    while span_id and seen < 1000:
        if span_id in run_ids:
            return span_id
        span_id = parents.get(span_id, "")
        seen += 1
    return None


def _run(resource: dict[str, Any], span: _Span, key_attr: str | None, source: str) -> Run | None:
    attrs = _attributes(span.attributes)
    key = attrs.get(semconv.INSTANCE_KEY)
    if key is None and key_attr:
        key = attrs.get(key_attr, resource.get(key_attr))
    start = _ns(span.startTimeUnixNano)
    if key is None or start is None:
        return None

    def get(name: str) -> Any:
        value = attrs.get(name)
        return resource.get(name) if value is None else value

    end = _ns(span.endTimeUnixNano)
    status = attrs.get(semconv.END_STATUS)
    error_type = _str(attrs.get(semconv.ERROR_TYPE))
    error_message = _str(attrs.get(semconv.EXCEPTION_MESSAGE))
    for event in span.events:
        if event.name == "exception":
            ev = _attributes(event.attributes)
            error_type = error_type or _str(ev.get("exception.type"))
            error_message = error_message or _str(ev.get("exception.message"))
    if status is None:
        code = span.status.code if span.status else 0
        status = semconv.STATUS_ERROR if code in _ERROR_CODES else semconv.STATUS_OK
        if status == semconv.STATUS_ERROR and error_message is None and span.status:
            error_message = span.status.message or None
    if status == semconv.STATUS_UNFINISHED:
        end = None  # exported by racetrace with a provisional end
    elif end is None:
        status = semconv.STATUS_UNFINISHED
    stack = attrs.get(semconv.STACK)
    parent_span = _hex_id(span.parentSpanId) or None
    label = attrs.get(semconv.INSTANCE_LABEL, attrs.get(semconv.GEN_AI_AGENT_NAME))
    return make_run(
        run_id=_hex_id(span.spanId),
        method=span.name,
        start_ns=start,
        instance_key=str(key),
        instance_class=str(attrs.get(semconv.INSTANCE_CLASS) or attrs.get("code.namespace")
                           or span.name),
        instance_label=_str(label),
        instance_id=_int(attrs.get(semconv.INSTANCE_ID)),
        resource_key=_str(attrs.get(semconv.RESOURCE_KEY)),
        stateful=attrs.get(semconv.STATEFUL) if isinstance(attrs.get(semconv.STATEFUL), bool)
        else None,
        trace_id=_hex_id(span.traceId) or None,
        parent_span_id=parent_span,
        parent_run_id=_str(attrs.get(semconv.PARENT_RUN)),
        task_name=_str(attrs.get(semconv.TASK_NAME)),
        task_key=_str(attrs.get(semconv.TASK_KEY)),
        task_created_at=_str(attrs.get(semconv.TASK_CREATED_AT)),
        task_created_by_run=_str(attrs.get(semconv.TASK_CREATED_BY_RUN)),
        task_created_ns=_int(attrs.get(semconv.TASK_CREATED_NS)),
        task_created_by_task=_str(attrs.get(semconv.TASK_CREATED_BY_TASK)),
        thread_started_ns=_int(attrs.get(semconv.THREAD_STARTED_NS)),
        thread_started_by=_int(attrs.get(semconv.THREAD_STARTED_BY)),
        thread_id=_int(attrs.get(semconv.THREAD_ID)),
        thread_name=_str(attrs.get(semconv.THREAD_NAME)),
        pid=_int(get(semconv.PROCESS_PID)) or 0,
        host=str(get(semconv.HOST_NAME) or resource.get(semconv.SERVICE_NAME) or ""),
        function=_str(attrs.get(semconv.CODE_FUNCTION)),
        file=_str(attrs.get(semconv.CODE_FILE)),
        line=_int(attrs.get(semconv.CODE_LINE)),
        stack=[str(s) for s in stack] if isinstance(stack, list) else [],
        args=_str(attrs.get("racetrace.args")),
        end_ns=end,
        status=_STATUSES.get(str(status), str(status)),
        end_reason=_str(attrs.get(semconv.END_REASON)),
        error_type=error_type,
        error_message=error_message,
        origin=Origin(source, _str(resource.get(semconv.SERVICE_NAME))),
    )


def _processes(runs: list[Run], source: str) -> list[Process]:
    by_key: dict[str, Process] = {}
    for run in runs:
        process = by_key.get(run.process_key)
        if process is None:
            process = by_key[run.process_key] = Process(
                host=run.host, pid=run.pid, source=source, service=run.service,
                started_ns=run.start_ns,
            )
        last = run.end_ns if run.end_ns is not None else run.start_ns
        process.last_ns = max(process.last_ns, last, run.start_ns)
        process.started_ns = min(process.started_ns, run.start_ns)
    return list(by_key.values())

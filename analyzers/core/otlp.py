"""Read OTLP JSON lines, as the OpenTelemetry Collector's file exporter writes them: one
`{"resourceSpans": [...]}` object per line (the OTLP/JSON mapping: lowerCamelCase names, hex
trace and span ids, 64-bit integers as strings, enums as numbers).

Our own spans carry `racetrace.instance.key`; spans from other instrumentations do not, so
`key_attr` names the attribute that identifies the object they ran on (`gen_ai.agent.name`, say),
looked up on the span and then on its resource. Spans with neither are not runs and are left
out, counted in one problem line. So are spans of a GenAI operation that is not a run on the
agent (`create_agent`, `chat`, `execute_tool`, ...: per the GenAI semantic conventions a run is
an `invoke_agent` or `invoke_workflow`), even when they carry the key. Spans of no GenAI
operation (or another one: LangSmith's `chain`) that carry the key are runs, unless they sit
inside a run on the same key with no tool span between: a graph's node spans inherit its
thread id, and are steps of the graph's run. A foreign span's parent run is its nearest
ancestor span that is a run, whatever the spans in between, so re-entrance through a tool
span is still seen.

Foreign spans carry no task or thread: the analysis then knows nothing of their flow of
control, and claims re-entrance only from the parent chain. Their process is the resource's
`process.pid` and `host.name` (else its `service.name`); pid 0 means unknown.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec
from racetrace.tracer import semconv

from .lines import NotATrace
from .model import Origin, Process, Run, make_run
from .records import NS_MAX


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
# `gen_ai.operation.name` values (GenAI semantic conventions) that are a run on the agent (or
# workflow) object, and those that are not: steps inside a run (a model call, a tool) or work
# outside any run (creating the agent). Spans of these never become runs, whatever they carry.
RUN_OPERATIONS = frozenset({"invoke_agent", "invoke_workflow"})
NOT_RUN_OPERATIONS = frozenset({"create_agent", "chat", "text_completion", "generate_content",
                                "embeddings", "retrieval", "execute_tool"})
_TOOL = "execute_tool"
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


def _ns(value: int | str | None, bad: list[str] | None = None) -> int | None:
    ns = _int(value, bad)
    if ns is not None and not 0 <= ns <= NS_MAX:  # as a racetrace file's (`records.Ns`)
        if bad is not None:
            bad.append(str(value))
        return None
    return ns or None  # 0 means unset


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any, bad: list[str] | None = None) -> int | None:
    """An integer attribute; None when absent, not a number, or outside the signed 64-bit
    range the report's JSON (and the trace format) can carry (noted in `bad`)."""
    try:
        number = None if value is None else int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if number is not None and not _INT64_MIN <= number <= _INT64_MAX:
        if bad is not None:
            bad.append(str(value)[:20])
        return None
    return number


_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


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
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
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
    not_runs: dict[str, int] = {}
    tools: set[str] = set()  # spans of tool calls: user code between two runs
    unsure: list[Run] = []  # runs whose span has no run operation: maybe a step of another
    offered: set[str] = set()  # what keyless invoke_agent spans carry: candidates for key_attr
    too_big: list[str] = []  # integers outside the 64-bit range, read as unset
    for resource, span in parsed:
        operation = _str(_attribute(span, semconv.GEN_AI_OPERATION))
        if operation == _TOOL:
            tools.add(_hex_id(span.spanId))
        run = _run(resource, span, key_attr, source, operation, too_big)
        if isinstance(run, Run):
            runs.append(run)
            if operation not in RUN_OPERATIONS and _attribute(span, semconv.INSTANCE_KEY) is None:
                unsure.append(run)
        elif run is None:
            keyless += 1
            if operation in RUN_OPERATIONS and len(offered) < 50:
                offered.update(kv.key for kv in span.attributes)
        else:
            not_runs[run] = not_runs.get(run, 0) + 1
    steps = _steps(unsure, {r.run_id: r for r in runs}, parents, tools)
    if steps:
        runs = [r for r in runs if r.run_id not in steps]
        problems.append(f"{source}: {len(steps)} span{'s' if len(steps) != 1 else ''} inside "
                        f"a run on the same key taken as steps of that run, not runs")
    run_ids = {r.run_id for r in runs}
    for run in runs:
        if run.parent_run_id is None and run.parent_span_id:
            run.parent_run_id = _nearest_run(run.parent_span_id, parents, run_ids)
    if keyless:
        hint = f"--key-attr {key_attr!r} is not on them" if key_attr else (
            "pass --key-attr ATTR to pick the attribute that identifies their object")
        if offered:
            hint += ("; their invoke_agent spans carry "
                     + ", ".join(sorted(offered - {semconv.GEN_AI_OPERATION})[:12]))
        problems.append(f"{source}: {keyless} span{'s' if keyless != 1 else ''} without "
                        f"{semconv.INSTANCE_KEY} left out ({hint})")
    if too_big:
        problems.append(f"{source}: {len(too_big)} integer value{'s' if len(too_big) != 1 else ''}"
                        f" outside the 64-bit range read as unset (first: {too_big[0]})")
    if not_runs:
        total = sum(not_runs.values())
        operations = ", ".join(f"{n} {op}" for op, n in sorted(not_runs.items()))
        problems.append(f"{source}: {total} span{'s' if total != 1 else ''} with the key left "
                        f"out: not runs on the agent ({operations})")
    return runs, _processes(runs, source), skipped, problems


def _steps(
    unsure: list[Run], runs: dict[str, Run], parents: dict[str, str], tools: set[str]
) -> set[str]:
    """The runs that are steps of an enclosing run: spans without a run operation (LangSmith's
    `chain` spans, which all carry the graph's thread id) whose nearest enclosing run has the
    same key, with no tool span between. A tool between is user code calling back in: a run.
    Like racetrace's own delegation rule, without the frames: nested spans of one key are one
    run unless a tool separates them."""
    steps = set()
    for run in unsure:
        span_id, seen = parents.get(run.run_id, ""), 0
        while span_id and span_id not in tools and seen < 1000:
            outer = runs.get(span_id)
            if outer is not None:
                if outer.instance_key == run.instance_key:
                    steps.add(run.run_id)
                break
            span_id, seen = parents.get(span_id, ""), seen + 1
    return steps


def _attribute(span: _Span, name: str) -> Any:
    for kv in span.attributes:
        if kv.key == name:
            return value_of(kv.value)
    return None


def _nearest_run(span_id: str, parents: dict[str, str], run_ids: set[str]) -> str | None:
    seen = 0
    while span_id and seen < 1000:
        if span_id in run_ids:
            return span_id
        span_id = parents.get(span_id, "")
        seen += 1
    return None


def _run(
    resource: dict[str, Any], span: _Span, key_attr: str | None, source: str,
    operation: str | None, bad: list[str],
) -> Run | str | None:
    """The span as a run; None when it has no key, its operation name when that is not a run.
    Integers out of range are read as unset and noted in `bad`."""
    attrs = _attributes(span.attributes)
    key = attrs.get(semconv.INSTANCE_KEY)
    ours = key is not None
    if key is None and key_attr:
        key = attrs.get(key_attr, resource.get(key_attr))
        if key is not None and operation in NOT_RUN_OPERATIONS:
            return operation
    start = _ns(span.startTimeUnixNano, bad)
    if key is None or start is None:
        return None

    def get(name: str) -> Any:
        value = attrs.get(name)
        return resource.get(name) if value is None else value

    end = _ns(span.endTimeUnixNano, bad)
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
    cls = attrs.get(semconv.INSTANCE_CLASS) or attrs.get("code.namespace")
    if not cls and operation in RUN_OPERATIONS:
        # `autogen agent`: the system and the kind of object, rather than the span's name.
        system = attrs.get("gen_ai.system") or attrs.get("gen_ai.provider.name")
        kind = "workflow" if operation == "invoke_workflow" else "agent"
        cls = f"{system} {kind}" if system else kind
    return make_run(
        run_id=_hex_id(span.spanId),
        method=span.name,
        start_ns=start,
        instance_key=str(key),
        instance_class=str(cls or span.name),
        instance_label=_str(label),
        instance_id=_int(attrs.get(semconv.INSTANCE_ID), bad),
        resource_key=_str(attrs.get(semconv.RESOURCE_KEY)),
        fan_out_of=_str(attrs.get(semconv.FAN_OUT_OF)),
        stateful=attrs.get(semconv.STATEFUL) if isinstance(attrs.get(semconv.STATEFUL), bool)
        else None,
        trace_id=_hex_id(span.traceId) or None,
        parent_span_id=parent_span,
        parent_run_id=_str(attrs.get(semconv.PARENT_RUN)),
        task_name=_str(attrs.get(semconv.TASK_NAME)),
        task_key=_str(attrs.get(semconv.TASK_KEY)),
        task_created_at=_str(attrs.get(semconv.TASK_CREATED_AT)),
        task_created_by_run=_str(attrs.get(semconv.TASK_CREATED_BY_RUN)),
        task_created_ns=_int(attrs.get(semconv.TASK_CREATED_NS), bad),
        task_created_by_task=_str(attrs.get(semconv.TASK_CREATED_BY_TASK)),
        thread_started_ns=_int(attrs.get(semconv.THREAD_STARTED_NS), bad),
        thread_started_by=_int(attrs.get(semconv.THREAD_STARTED_BY), bad),
        # Another tool's thread.id says nothing of asyncio tasks: runs on one thread may be
        # independent tasks, so it is no evidence of nesting (the name is still shown).
        thread_id=_int(attrs.get(semconv.THREAD_ID), bad) if ours else None,
        thread_name=_str(attrs.get(semconv.THREAD_NAME)),
        pid=_int(get(semconv.PROCESS_PID), bad) or 0,
        host=str(get(semconv.HOST_NAME) or resource.get(semconv.SERVICE_NAME) or ""),
        function=_str(attrs.get(semconv.CODE_FUNCTION)),
        file=_str(attrs.get(semconv.CODE_FILE)),
        line=_int(attrs.get(semconv.CODE_LINE), bad),
        stack=[str(s) for s in stack] if isinstance(stack, list) else [],
        args=_str(attrs.get("racetrace.args")),
        loop_running=attrs.get(semconv.LOOP_RUNNING) is True,
        runs_own_loop=attrs.get(semconv.LOOP_OWN) is True,
        created_at=_str(attrs.get(semconv.INSTANCE_CREATED_AT)),
        created_in=_str(attrs.get(semconv.INSTANCE_CREATED_IN)),
        created_scope=_str(attrs.get(semconv.INSTANCE_CREATED_SCOPE)),
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

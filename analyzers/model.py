"""The run record: one call of a traced method, as read back from the trace files.

`Run` is a msgspec Struct rather than a dataclass: it is decoded straight from a START line (the
field names map onto the trace format's keys below), and a 1M-run trace creates a million of
them, where a frozen dataclass's `__init__` alone would cost seconds. It is filled in once by
the loader (its END line) and treated as immutable after that.
"""

from __future__ import annotations

from itertools import islice
from operator import attrgetter, le
from typing import Any

import msgspec
from racetrace.tracer import semconv

# Struct field -> key in a START line (docs/trace-format.md).
_START_KEYS = {
    "method": "name",
    "instance_key": semconv.INSTANCE_KEY,
    "instance_class": semconv.INSTANCE_CLASS,
    "instance_label": semconv.INSTANCE_LABEL,
    "instance_id": semconv.INSTANCE_ID,
    "resource_key": semconv.RESOURCE_KEY,
    "stateful": semconv.STATEFUL,
    "parent_run_id": semconv.PARENT_RUN,
    "task_name": semconv.TASK_NAME,
    "task_key": semconv.TASK_KEY,
    "task_created_at": semconv.TASK_CREATED_AT,
    "task_created_by_run": semconv.TASK_CREATED_BY_RUN,
    "thread_id": semconv.THREAD_ID,
    "thread_name": semconv.THREAD_NAME,
    "pid": semconv.PROCESS_PID,
    "host": semconv.HOST_NAME,
    "function": semconv.CODE_FUNCTION,
    "file": semconv.CODE_FILE,
    "line": semconv.CODE_LINE,
    "stack": semconv.STACK,
    "args": "racetrace.args",
    "outlives_call": semconv.OUTLIVES_CALL,
}


_START = attrgetter("start_ns")


class Run(msgspec.Struct, tag_field="type", tag=semconv.LINE_START, rename=_START_KEYS,
          gc=False, kw_only=True):
    run_id: str
    method: str
    start_ns: int
    instance_key: str
    instance_class: str = ""
    instance_label: str | None = None
    instance_id: int | None = None
    resource_key: str | None = None
    stateful: bool | None = None
    trace_id: str | None = None
    parent_span_id: str | None = None
    parent_run_id: str | None = None
    task_name: str | None = None
    task_key: str | None = None
    task_created_at: str | None = None
    task_created_by_run: str | None = None
    thread_id: int | None = None
    thread_name: str | None = None
    pid: int = 0
    host: str = ""
    function: str | None = None
    file: str | None = None
    line: int | None = None
    stack: list[str] = []
    args: str | None = None
    # The run may go on after its call returned (a streamed run ending with its background
    # task): the calling task is free to start other runs meanwhile.
    outlives_call: bool = False
    # From the END line; an unfinished run keeps these defaults.
    end_ns: int | None = None
    status: str = semconv.STATUS_UNFINISHED
    end_reason: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    # Where the run was read from.
    source: str = ""
    service: str | None = None

    @property
    def callsite(self) -> str | None:
        if self.file is None:
            return None
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    @property
    def finished(self) -> bool:
        return self.end_ns is not None

    @property
    def process_key(self) -> str:
        return f"{self.host}/{self.pid}"

    def to_json(self) -> dict[str, Any]:
        """The normalized form `racetrace runs --json` prints and reports embed."""
        return {
            "run_id": self.run_id,
            "parent_run_id": self.parent_run_id,
            "trace_id": self.trace_id,
            "method": self.method,
            "instance_key": self.instance_key,
            "instance_class": self.instance_class,
            "instance_label": self.instance_label,
            "instance_id": self.instance_id,
            "resource_key": self.resource_key,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "duration_ns": None if self.end_ns is None else self.end_ns - self.start_ns,
            "status": self.status,
            "end_reason": self.end_reason,
            "error": None
            if self.error_type is None
            else {"type": self.error_type, "message": self.error_message},
            "task": None
            if self.task_key is None and self.task_name is None
            else {
                "name": self.task_name,
                "id": self.task_key,
                "created_at": self.task_created_at,
                "created_by_run": self.task_created_by_run,
            },
            "thread": {"id": self.thread_id, "name": self.thread_name},
            "pid": self.pid,
            "host": self.host,
            "service": self.service,
            "callsite": self.callsite,
            "function": self.function,
            "stack": list(self.stack),
            "source": self.source,
        }


class End(msgspec.Struct, tag_field="type", tag=semconv.LINE_END, gc=False,
          rename={"status": semconv.END_STATUS, "reason": semconv.END_REASON,
                  "error_type": semconv.ERROR_TYPE, "error_message": semconv.EXCEPTION_MESSAGE}):
    run_id: str
    end_ns: int
    status: str = semconv.STATUS_OK
    reason: str | None = None
    error_type: str | None = None
    error_message: str | None = None


class Header(msgspec.Struct, tag_field="type", tag=semconv.LINE_HEADER, gc=False):
    format: str
    pid: int = 0
    ppid: int | None = None
    host: str = ""
    service: str | None = None
    argv: list[str] = []
    python: str | None = None
    racetrace: str | None = None
    wall_ns: int = 0
    monotonic_ns: int | None = None


class Process(msgspec.Struct, gc=False):
    """One traced process, as its trace file's header describes it."""

    host: str
    pid: int
    source: str
    service: str | None = None
    argv: list[str] = []
    ppid: int | None = None
    started_ns: int = 0
    last_ns: int = 0  # the latest timestamp it recorded: where its unfinished runs stop

    @property
    def key(self) -> str:
        return f"{self.host}/{self.pid}"


class Trace(msgspec.Struct, gc=False):
    """Everything a load produced: runs sorted by start, the processes, what was skipped."""

    runs: list[Run]
    processes: list[Process]
    skipped_lines: int = 0
    problems: list[str] = []  # one line each, "file:line: what"
    files: list[str] = []

    process_last_ns: dict[str, int] = {}  # process key -> latest timestamp it recorded
    # Indexes the loader fills as it goes (it touches every run anyway); a Trace built by hand
    # gets them on first use. Rebuilt when `runs` has grown since.
    file_indexes: list[dict[str, Run]] = []  # per file loaded: run id -> run
    run_index: dict[str, Run] = {}  # run id -> run, for a Trace not loaded from files
    lanes: dict[str, list[Run]] = {}  # instance key -> its runs, in start order
    lanes_sorted: bool = False

    def run_by_id(self, run_id: str) -> Run | None:
        files = self.file_indexes
        if files and sum(map(len, files)) == len(self.runs):
            for index in files:
                run = index.get(run_id)
                if run is not None:
                    return run
            return None
        index = self.run_index
        if len(index) != len(self.runs):
            index = self.run_index = {r.run_id: r for r in self.runs}
        return index.get(run_id)

    def runs_by_instance(self, *, ordered: bool = True) -> dict[str, list[Run]]:
        """Runs grouped by instance key, each group in start order (shared: do not mutate).

        `ordered=False` skips checking the order, for a caller that checks it itself."""
        lanes = self.lanes
        if sum(map(len, lanes.values())) != len(self.runs):
            lanes = {}
            for run in self.runs:
                group = lanes.get(run.instance_key)
                if group is None:
                    lanes[run.instance_key] = [run]
                else:
                    group.append(run)
            self.lanes = lanes
            self.lanes_sorted = False
        if ordered and not self.lanes_sorted:
            for group in lanes.values():
                if len(group) > 1 and not all(map(le, map(_START, group),
                                                  map(_START, islice(group, 1, None)))):
                    group.sort(key=_START)
            self.lanes_sorted = True
        return lanes

    def last_ns_of(self, run: Run) -> int:
        """The end of a run, or for an unfinished one the last moment its process recorded."""
        if run.end_ns is not None:
            return run.end_ns
        return max(self.process_last_ns.get(run.process_key, run.start_ns), run.start_ns)

    @property
    def start_ns(self) -> int | None:
        return min((r.start_ns for r in self.runs), default=None)

    @property
    def end_ns(self) -> int | None:
        ends = [self.last_ns_of(r) for r in self.runs]
        return max(ends, default=None)


def last_ns_by_process(processes: list[Process]) -> dict[str, int]:
    """Process key -> the latest moment any of its files recorded (`Trace.process_last_ns`)."""
    last: dict[str, int] = {}
    for process in processes:
        last[process.key] = max(last.get(process.key, 0), process.last_ns)
    return last

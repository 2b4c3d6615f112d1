"""The run record: one call of a traced method, as read back from the trace files.

`Run` is a msgspec Struct rather than a dataclass: it is decoded straight from a START line (the
field names map onto the trace format's keys below), and a 1M-run trace creates a million of
them, where a frozen dataclass's `__init__` alone would cost seconds. It is filled in once by
the loader (its END line) and treated as immutable after that.

A run is decoded in two parts, because building Python objects is what a large load spends its
time on. The fields are what the analysis reads of every run: times, identities, the call site.
The rest (`RunDetails`: class, label, task name, stack, ...) is read for the few runs a report
or a screen shows, through properties: the loader decodes it up front (`details="eager"`), or
leaves each run its `Origin` and `racetrace.analyzers.core.details` reads it from the file on first
use (`details="lazy"`, what `racetrace report` does).
"""

from __future__ import annotations

from itertools import compress, islice
from operator import attrgetter, le
from typing import Any

import msgspec
from racetrace.tracer import semconv

from .details import read_details
from .records import Int64, Ns, Origin, RunDetails

__all__ = ["End", "Header", "Int64", "Ns", "Origin", "Process", "Run", "RunDetails",
           "RunIndex", "Trace", "UnresolvedTarget", "last_ns_by_process", "make_run",
           "unresolved_targets"]

# Struct field -> key in a START line (docs/trace-format.md).
_START_KEYS = {
    "method": "name",
    "instance_key": semconv.INSTANCE_KEY,
    "resource_key": semconv.RESOURCE_KEY,
    "stateful": semconv.STATEFUL,
    "parent_run_id": semconv.PARENT_RUN,
    "fan_out_of": semconv.FAN_OUT_OF,
    "task_key": semconv.TASK_KEY,
    "task_created_by_run": semconv.TASK_CREATED_BY_RUN,
    "task_created_ns": semconv.TASK_CREATED_NS,
    "thread_id": semconv.THREAD_ID,
    "thread_started_ns": semconv.THREAD_STARTED_NS,
    "pid": semconv.PROCESS_PID,
    "host": semconv.HOST_NAME,
    "file": semconv.CODE_FILE,
    "line": semconv.CODE_LINE,
    "outlives_call": semconv.OUTLIVES_CALL,
    "loop_running": semconv.LOOP_RUNNING,
    # Not from the START line: the END's fields and what the loader adds, under keys no writer
    # uses, so that a START carrying `status` or `end_ns` does not end its run.
    **{name: f"racetrace:loader.{name}" for name in ("end_ns", "status", "end_reason", "error_type",
                                       "error_message", "origin", "details")},
}

_START = attrgetter("start_ns")
_LOOP_RUNNING = attrgetter("loop_running")

class Run(msgspec.Struct, tag_field="type", tag=semconv.LINE_START, rename=_START_KEYS,
          gc=False, kw_only=True):
    # In the order the tracer writes them: msgspec matches each key first against the field
    # after the last one it matched.
    run_id: str
    method: str
    start_ns: Ns
    instance_key: str
    pid: Int64 = 0
    host: str = ""
    thread_id: Int64 | None = None
    # When the run's thread was started (outside asyncio; None for the main thread and threads
    # started before tracing), and when its task was created: what tells a timer, a gather and
    # a task that was waiting for a lock apart (`classify`, `ordering`).
    thread_started_ns: Int64 | None = None
    task_key: str | None = None
    task_created_by_run: str | None = None
    task_created_ns: Int64 | None = None
    file: str | None = None
    line: Int64 | None = None
    parent_run_id: str | None = None
    # A run a batch call fanned out on a resource key of its own (the batch run's id): a run
    # on the resource only; on the object it is part of the batch run.
    fan_out_of: str | None = None
    resource_key: str | None = None
    stateful: bool | None = None
    # The run may go on after its call returned (a streamed run ending with its background
    # task): the calling task is free to start other runs meanwhile.
    outlives_call: bool = False
    # A synchronous run started on a thread whose event loop was running: the loop waited.
    loop_running: bool = False
    # From the END line; an unfinished run keeps these defaults.
    end_ns: int | None = None
    status: str = semconv.STATUS_UNFINISHED
    end_reason: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    # Where the run was read from, and the rest of its START line (see the module docstring).
    origin: Origin | None = None
    details: RunDetails | None = None

    @property
    def source(self) -> str:
        return self.origin.path if self.origin is not None else ""

    @property
    def service(self) -> str | None:
        return self.origin.service if self.origin is not None else None

    def detail(self) -> RunDetails:
        """The rest of the START line, read from the trace file on first use."""
        details = self.details
        if details is None:
            details = self.details = read_details(self)
        return details

    @property
    def instance_class(self) -> str:
        return self.detail().instance_class

    @property
    def instance_label(self) -> str | None:
        return self.detail().instance_label

    @property
    def instance_id(self) -> int | None:
        return self.detail().instance_id

    @property
    def trace_id(self) -> str | None:
        return self.detail().trace_id

    @property
    def parent_span_id(self) -> str | None:
        return self.detail().parent_span_id

    @property
    def task_name(self) -> str | None:
        return self.detail().task_name

    @property
    def task_created_at(self) -> str | None:
        return self.detail().task_created_at

    @property
    def task_created_by_task(self) -> str | None:
        return self.detail().task_created_by_task

    @property
    def thread_name(self) -> str | None:
        return self.detail().thread_name

    @property
    def thread_started_by(self) -> int | None:
        return self.detail().thread_started_by

    @property
    def context_created_ns(self) -> int | None:
        """When the run's flow of control (its task, else its thread) came to be, if known."""
        return self.task_created_ns if self.task_key is not None else self.thread_started_ns

    @property
    def context_creator(self) -> object:
        """What created the run's task (a task key) or started its thread (a thread id)."""
        if self.task_key is not None:
            return self.task_created_by_task
        return self.thread_started_by

    @property
    def function(self) -> str | None:
        return self.detail().function

    @property
    def stack(self) -> list[str]:
        return self.detail().stack

    @stack.setter
    def stack(self, frames: list[str]) -> None:
        self.detail().stack = frames

    @property
    def args(self) -> str | None:
        return self.detail().args

    @property
    def runs_own_loop(self) -> bool:
        return self.detail().runs_own_loop


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
            "fan_out_of": self.fan_out_of,
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
                "created_ns": self.task_created_ns,
                "created_by_task": self.task_created_by_task,
            },
            "thread": {"id": self.thread_id, "name": self.thread_name,
                       "started_ns": self.thread_started_ns,
                       "started_by": self.thread_started_by},
            "pid": self.pid,
            "host": self.host,
            "service": self.service,
            "callsite": self.callsite,
            "function": self.function,
            "stack": list(self.stack),
            "source": self.source,
            "loop_running": self.loop_running,
        }


_DETAIL_FIELDS = frozenset(RunDetails.__struct_fields__) - {"run_id"}


def make_run(**fields: Any) -> Run:
    """A run built from keyword arguments, details (`stack=`, `task_name=`, ...) included."""
    details = {name: fields.pop(name) for name in list(fields) if name in _DETAIL_FIELDS}
    return Run(**fields, details=RunDetails(run_id=fields["run_id"], **details))


class End(msgspec.Struct, tag_field="type", tag=semconv.LINE_END, gc=False,
          rename={"status": semconv.END_STATUS, "reason": semconv.END_REASON,
                  "error_type": semconv.ERROR_TYPE, "error_message": semconv.EXCEPTION_MESSAGE}):
    run_id: str
    end_ns: Ns
    status: str = semconv.STATUS_OK
    reason: str | None = None
    error_type: str | None = None
    error_message: str | None = None


class UnresolvedTarget(msgspec.Struct, gc=False, frozen=True):
    """A target the user named that a process never traced, and why (its header says)."""

    target: str
    reason: str = ""


class Header(msgspec.Struct, tag_field="type", tag=semconv.LINE_HEADER, gc=False):
    format: str
    pid: Int64 = 0
    ppid: Int64 | None = None
    host: str = ""
    service: str | None = None
    argv: list[str] = []
    python: str | None = None
    racetrace: str | None = None
    wall_ns: Ns = 0
    monotonic_ns: Int64 | None = None
    # Written again in a later header line at exit when it changed (the file's first header
    # is written with its first run).
    unresolved_targets: list[UnresolvedTarget] = []


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
    unresolved_targets: list[UnresolvedTarget] | None = None  # None: its file does not say

    @property
    def unresolved(self) -> tuple[str, ...]:
        """The specs of `unresolved_targets` (what `racetrace report`'s gate line names)."""
        return tuple(t.target for t in self.unresolved_targets or ())

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
    # Indexes the loader fills as it goes; a Trace built by hand gets them on first use.
    # Rebuilt when `runs` has grown since.
    index: RunIndex | None = None  # run id -> run, over the files loaded
    lanes: dict[str, list[Run]] = {}  # instance key -> its runs, in start order
    lanes_sorted: bool = False
    # Instance key -> the start times of its lane, as the loader met them (in the CPU cache,
    # where reading them later from a million runs would not be); dropped when a lane changes.
    lane_starts: dict[str, list[int]] = {}
    notable: list[Run] | None = None  # the runs that failed or have a resource key, if known
    on_loop: list[Run] | None = None  # the sync runs started on a running loop, if known
    unmatched_ends: int = 0  # END lines that found no run to end (counted in skipped_lines)

    def run_by_id(self, run_id: str) -> Run | None:
        index = self.index
        if index is None or index.size != len(self.runs):
            index = self.index = RunIndex()
            index.add(self.runs)
        return index.get(run_id)

    def runs_by_instance(self, *, ordered: bool = True) -> dict[str, list[Run]]:
        """Runs grouped by instance key, each group in start order (shared: do not mutate).

        `ordered=False` skips checking the order, for a caller that checks it itself."""
        lanes = self.lanes
        if sum(map(len, lanes.values())) != len(self.runs):
            lanes = self.lanes = by_instance(self.runs)
            self.lanes_sorted = False
            self.lane_starts = {}
        if ordered and not self.lanes_sorted:
            for key, group in lanes.items():
                if len(group) > 1 and not all(map(le, map(_START, group),
                                                  map(_START, islice(group, 1, None)))):
                    group.sort(key=_START)
                    self.lane_starts.pop(key, None)
            self.lanes_sorted = True
        return lanes

    def failed_or_resourced(self) -> list[Run]:
        """The runs that failed or carry a resource key (few), in no particular order."""
        if self.notable is None:
            self.notable = [r for r in self.runs
                            if r.status == semconv.STATUS_ERROR or r.resource_key is not None]
        return self.notable

    def runs_on_loop(self) -> list[Run]:
        """The synchronous runs that started on a thread whose event loop was running (few)."""
        if self.on_loop is None:
            self.on_loop = list(compress(self.runs, map(_LOOP_RUNNING, self.runs)))
        return self.on_loop

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


class RunIndex:
    """Run id -> run, over the files loaded so far. Each file's dict is built on first use:
    the loader matches ENDs through the runs still open, and the analysis looks up few runs
    by id (parents, mostly found while loading: `linked`), so most loads never need it."""

    def __init__(self) -> None:
        self._files: list[list[Run]] = []
        self._dicts: list[dict[str, Run] | None] = []
        self.linked: dict[str, Run] = {}  # runs named as a parent by a later run
        self.size = 0

    def add(self, runs: list[Run]) -> None:
        self._files.append(runs)
        self._dicts.append(None)
        self.size += len(runs)

    def get(self, run_id: str) -> Run | None:
        run = self.linked.get(run_id)
        if run is not None:
            return run
        for number in range(len(self._files)):
            run = self.file(number).get(run_id)
            if run is not None:
                return run
        return None

    def file(self, number: int) -> dict[str, Run]:
        """The run ids of the `number`th file added (the first run of a repeated id wins)."""
        ids = self._dicts[number]
        if ids is None:
            runs = self._files[number]
            ids = self._dicts[number] = dict(zip(map(_RUN_ID, reversed(runs)), reversed(runs),
                                                 strict=True))
        return ids


_RUN_ID = attrgetter("run_id")


def unresolved_targets(processes: list[Process]) -> list[UnresolvedTarget]:
    """Targets that no process traced: each named unresolved by every process whose file says
    (a module only a worker imports is unresolved in its parent alone)."""
    told = [p.unresolved_targets for p in processes if p.unresolved_targets is not None]
    if not told:
        return []
    common = set.intersection(*({t.target for t in listed} for listed in told))
    seen: dict[str, UnresolvedTarget] = {}
    for listed in told:
        for target in listed:
            if target.target in common:
                seen.setdefault(target.target, target)
    return sorted(seen.values(), key=lambda t: t.target)


def by_instance(runs: list[Run]) -> dict[str, list[Run]]:
    """`runs` grouped by instance key, each group and the keys in the order of `runs`."""
    lanes: dict[str, list[Run]] = {}
    for run in runs:
        group = lanes.get(run.instance_key)
        if group is None:
            lanes[run.instance_key] = [run]
        else:
            group.append(run)
    return lanes


def last_ns_by_process(processes: list[Process]) -> dict[str, int]:
    """Process key -> the latest moment any of its files recorded (`Trace.process_last_ns`)."""
    last: dict[str, int] = {}
    for process in processes:
        last[process.key] = max(last.get(process.key, 0), process.last_ns)
    return last

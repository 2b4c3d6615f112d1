"""The recorder: what happens when a traced method is called, starts running and ends.

Wrappers (wrap.py) call `prepare` at call time, on the caller's stack, then `begin` when the
run starts executing (for a coroutine, inside its task) and `finish` when it ends. Every entry
point here swallows its own failures: tracing may degrade, the host program may not change.
"""

from __future__ import annotations

import os
import reprlib
import sys
import threading
from contextvars import ContextVar, Token
from types import CodeType, FrameType
from typing import TYPE_CHECKING, Any

from racetrace._version import __version__

from . import provenance, semconv, taskorigin
from .clock import now_ns
from .config import Config
from .delegation import is_delegation
from .errors import forget_after_fork, internal_error, say
from .frames import called_by_owner, callsite_frame, short_stack
from .identity import InstanceRegistry, class_name_of, host_name, new_registry
from .sink import JsonLinesSink, run_id_of
from .span import LeanSpanFactory, RunSpan, SdkSpanFactory, reseed_after_fork

if TYPE_CHECKING:
    from .targets import Target

_args_repr = reprlib.Repr()
_args_repr.maxstring = 80
_args_repr.maxother = 80


class ActiveRun:
    """A run that has started; `ended` flips once, whoever ends it."""

    __slots__ = ("awaited", "callsite", "ended", "generation", "instance_id", "resource_key",
                 "span", "stack")

    def __init__(self, span: RunSpan | Any, instance_id: int, generation: int,
                 pending: PendingRun | None = None) -> None:
        self.span = span
        self.instance_id = instance_id
        self.generation = generation
        # What a fan-out run of this one reports as its call site: the user's batch call.
        self.resource_key = pending.resource_key if pending is not None else None
        self.callsite = pending.callsite if pending is not None else None
        self.stack = pending.stack if pending is not None else []
        self.ended = False
        # A sync call on a running loop that returned an awaitable: the run goes on with it,
        # and the loop was held only while the call returned (END reason `awaited`).
        self.awaited = False


class PendingRun:
    """What is known at call time, on the caller's stack, before the run starts."""

    __slots__ = ("args", "callsite", "fan_out_of", "instance", "resource_key", "stack", "target")

    def __init__(
        self,
        target: Target,
        instance: object,
        callsite: tuple[CodeType, int] | None,
        stack: list[str],
        args: str | None,
        resource_key: str | None,
        fan_out_of: ActiveRun | None = None,
    ) -> None:
        self.target = target
        self.fan_out_of = fan_out_of
        self.instance = instance
        self.callsite = callsite
        self.stack = stack
        self.args = args
        self.resource_key = resource_key


# The attribute names of every run, bound once: this is the hot path.
_INSTANCE_KEY = semconv.INSTANCE_KEY
_INSTANCE_CLASS = semconv.INSTANCE_CLASS
_INSTANCE_ID = semconv.INSTANCE_ID
_INSTANCE_LABEL = semconv.INSTANCE_LABEL
_PROCESS_PID = semconv.PROCESS_PID
_HOST_NAME = semconv.HOST_NAME
_PARENT_RUN = semconv.PARENT_RUN
_THREAD_ID = semconv.THREAD_ID
_THREAD_NAME = semconv.THREAD_NAME
_CODE_FUNCTION = semconv.CODE_FUNCTION
_CODE_FILE = semconv.CODE_FILE
_CODE_LINE = semconv.CODE_LINE
_STACK = semconv.STACK

# Keyed by id() of the class, never by the class: a metaclass may define `__eq__` without
# `__hash__`. The value holds the class, so that its id cannot be reused meanwhile.
_class_names: dict[int, tuple[type, str]] = {}
_created_sites = provenance.SITES  # never rebound, only cleared
_pending_classes = provenance.PENDING  # never rebound, only cleared

_current_run: ContextVar[ActiveRun | None] = ContextVar("racetrace_current_run", default=None)
# Per thread, what is looked up once: its Thread (`current_thread()` costs a lookup and a lock).
_this_thread = threading.local()


def _status_of(exc: BaseException | None) -> tuple[str, str]:
    if exc is None:
        return semconv.STATUS_OK, "returned"
    if isinstance(exc, GeneratorExit):
        return semconv.STATUS_CANCELLED, "closed"
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None and isinstance(exc, asyncio.CancelledError):
        return semconv.STATUS_CANCELLED, "cancelled"
    return semconv.STATUS_ERROR, "raised"


def _message_of(exc: BaseException) -> str:
    try:
        message = str(exc)
        if type(message) is not str:
            message = str.__str__(message)
    except BaseException:  # the program's exception is what goes on, not this one
        message = f"<unprintable {type(exc).__name__}>"
    return message[:1000]


class Recorder:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.host = host_name()
        self.pid = os.getpid()
        self.generation = 0
        self.registry: InstanceRegistry = new_registry()
        self.sink = JsonLinesSink(config.directory, self.host, config.service, __version__)
        self.spans: LeanSpanFactory | SdkSpanFactory = LeanSpanFactory(self.sink)
        if config.otlp:
            try:
                self.spans = SdkSpanFactory(self.sink, config.service, __version__)
            except ImportError:
                say(
                    "OTEL_EXPORTER_OTLP_ENDPOINT is set but the OTLP exporter is not installed "
                    "(pip install 'racetrace[otlp]'); writing trace files only"
                )

    # -- call time -------------------------------------------------------------------------
    def prepare(self, target: Target, instance: object, caller: FrameType | None,
                args: tuple[Any, ...], kwargs: dict[str, Any]) -> PendingRun | None:
        """None when this call is the running run delegating to itself (one run, not two), or,
        for a target that traces only the calls users make (`framework_calls` off), when the
        framework calls it from its own code on an object that holds no resource.

        Delegation merges runs on one object only: a delegated call that carries a resource
        key the running run does not (a batch call's per-input `ainvoke` on its own
        conversation thread) is a run of its own on that key, a fan-out of the running run."""
        resource_key = None
        if target.resource_of is not None:
            try:
                resource_key = target.resource_of(instance, args, kwargs)
            except Exception as exc:
                internal_error(f"finding the resource key of {target.span_name}", exc)
        current = _current_run.get()
        fan_out_of = None
        if (
            current is not None
            and not current.ended
            and current.instance_id == id(instance)
            and current.generation == self.generation
            and is_delegation(caller, instance, target.owner)
        ):
            if resource_key is None or resource_key == current.resource_key:
                return None
            fan_out_of = current
        if (
            not target.framework_calls
            and resource_key is None
            and called_by_owner(caller, target.owner)
        ):
            return None  # the framework's own plumbing inside a run: part of that run
        captured = None
        if self.config.capture_args:
            captured = _args_repr.repr((args, kwargs))
        if fan_out_of is not None:
            # Called by the batch's own plumbing (often in a task or a pool thread of its
            # own): the user's line is the batch call's.
            return PendingRun(target, instance, fan_out_of.callsite, fan_out_of.stack,
                              captured, resource_key, fan_out_of)
        site = callsite_frame(caller, target.owner, instance)
        # The line is read now: by the time a coroutine starts, its caller has moved on.
        callsite = (site.f_code, site.f_lineno) if site is not None else None
        return PendingRun(target, instance, callsite, short_stack(site), captured, resource_key,
                          fan_out_of)

    # -- run start -------------------------------------------------------------------------
    def begin(self, pending: PendingRun | None, *, sync: bool = False) -> ActiveRun | None:
        """`sync`: the run is a plain call that holds its thread until it returns."""
        if pending is None:
            return None
        try:
            return self._begin(pending, sync)
        except Exception as exc:
            internal_error("starting a run", exc)
            return None

    def _begin(self, pending: PendingRun, sync: bool = False) -> ActiveRun:
        start_ns = now_ns()
        if _pending_classes:  # a class made with its target patched: decorated by now
            provenance.observe_pending()
        target = pending.target
        instance = pending.instance
        # The label is read once per instance, with the key, without running the object's code.
        key, label = self.registry.identify(instance, target.label_of)
        cls = type(instance)
        if issubclass(cls, type):  # never isinstance: it may ask the object for __class__
            cls = instance  # type: ignore[assignment]
        known = _class_names.get(id(cls))
        if known is not None and known[0] is cls:
            class_name = known[1]
        else:
            class_name = class_name_of(instance)
            _class_names[id(cls)] = (cls, class_name)
        attributes: dict[str, Any] = {
            _INSTANCE_KEY: key,
            _INSTANCE_CLASS: class_name,
            _INSTANCE_ID: id(instance),
            _PROCESS_PID: self.pid,
            _HOST_NAME: self.host,
        }
        if label is not None:
            attributes[_INSTANCE_LABEL] = label
            if target.gen_ai_agent:
                attributes[semconv.GEN_AI_OPERATION] = "invoke_agent"
                attributes[semconv.GEN_AI_AGENT_NAME] = label
                attributes[semconv.GEN_AI_AGENT_ID] = key
        # Where the object was made: on its first run only (a dict lookup on the others).
        entry = _created_sites.get(id(instance))
        created = (provenance.first_sight(instance, key)
                   if entry is not None and entry[2] is not key else None)
        if created is not None:
            file, line, function, scope = created
            attributes[semconv.INSTANCE_CREATED_AT] = f"{file}:{line}"
            attributes[semconv.INSTANCE_CREATED_IN] = function
            attributes[semconv.INSTANCE_CREATED_SCOPE] = scope
        if target.stateful is not None:
            attributes[semconv.STATEFUL] = target.stateful
        if target.ends_with is not None:
            attributes[semconv.OUTLIVES_CALL] = True
        if pending.resource_key is not None:
            attributes[semconv.RESOURCE_KEY] = pending.resource_key
        parent = _current_run.get()
        parent_span = None
        if parent is not None and parent.generation == self.generation:
            attributes[_PARENT_RUN] = run_id_of(parent.span)
            parent_span = parent.span
        if pending.fan_out_of is not None:
            attributes[semconv.FAN_OUT_OF] = run_id_of(pending.fan_out_of.span)
        attributes[_THREAD_ID] = threading.get_ident()
        try:
            # Read on each run: a thread may be renamed.
            attributes[_THREAD_NAME] = _this_thread.thread.name
        except AttributeError:  # this thread's first run: its Thread, looked up once
            thread = _this_thread.thread = threading.current_thread()
            attributes[_THREAD_NAME] = thread.name
        # A call whose run outlives it (`ends_with`: a streamed run's background task) holds
        # the loop only while it returns, not for the run's length.
        self._add_task(attributes, sync and target.ends_with is None, target.runs_loop)
        site = pending.callsite
        if site is not None:
            code, line = site
            attributes[_CODE_FUNCTION] = code.co_name
            attributes[_CODE_FILE] = code.co_filename
            attributes[_CODE_LINE] = line
        if pending.stack:
            attributes[_STACK] = pending.stack
        if pending.args is not None:
            attributes["racetrace.args"] = pending.args
        span = self.spans.start(target.span_name, attributes, start_ns, parent_span)
        return ActiveRun(span, id(instance), self.generation, pending)

    def _add_task(self, attributes: dict[str, Any], sync: bool = False,
                  runs_loop: bool = False) -> None:
        """The run's asyncio task, or outside asyncio its thread's start: the flow of control
        it ran in, and when and by whom that was created (recorded once per task or thread)."""
        asyncio = sys.modules.get("asyncio")
        # current_task() raises outside a running loop: look first, rather than pay for an
        # exception on every run of sync code.
        loop = asyncio._get_running_loop() if asyncio is not None else None
        if loop is not None and sync:
            # A plain call on the loop's own thread: the loop waits until it returns.
            attributes[semconv.LOOP_RUNNING] = True
            if runs_loop:
                attributes[semconv.LOOP_OWN] = True
        task = asyncio.current_task(loop) if loop is not None else None
        if task is None:
            started = taskorigin.thread_origin()
            if started is not None:
                attributes[semconv.THREAD_STARTED_NS] = started[0]
                attributes[semconv.THREAD_STARTED_BY] = started[1]
            return
        attributes[semconv.TASK_NAME] = task.get_name()
        attributes[semconv.TASK_KEY] = self.registry.key_of(task)
        origin = taskorigin.origin_of(task)
        if origin is not None:
            created_at, created_by_run, created_ns, created_by_task = origin
            if created_at is not None:
                attributes[semconv.TASK_CREATED_AT] = created_at
            if created_by_run is not None:
                attributes[semconv.TASK_CREATED_BY_RUN] = created_by_run
            attributes[semconv.TASK_CREATED_NS] = created_ns
            if created_by_task is not None:
                attributes[semconv.TASK_CREATED_BY_TASK] = created_by_task

    # -- run end ---------------------------------------------------------------------------
    def finish(
        self,
        run: ActiveRun | None,
        exc: BaseException | None,
        *,
        reason: str | None = None,
        end_ns: int | None = None,
    ) -> None:
        if run is None or run.ended:
            return
        run.ended = True
        if run.generation != self.generation:
            return  # a run inherited through fork: the parent process records its end
        try:
            status, default_reason = _status_of(exc)
            if run.awaited:
                default_reason = "awaited"
            end: dict[str, Any] = {
                semconv.END_STATUS: status,
                semconv.END_REASON: reason or default_reason,
            }
            if exc is not None and status == semconv.STATUS_ERROR:
                end[semconv.ERROR_TYPE] = f"{type(exc).__module__}.{type(exc).__qualname__}"
                end[semconv.EXCEPTION_MESSAGE] = _message_of(exc)
            span = run.span
            if end_ns is None:
                # Always our clock: an SDK span would read `time.time_ns`, which tests may freeze.
                end_ns = now_ns()
            if type(span) is RunSpan:
                span.finish(end, end_ns)
                return
            span.set_attributes(end)
            if status == semconv.STATUS_ERROR:
                self.spans.failed(span)
            span.end(end_ns)
        except Exception as exc2:
            internal_error("ending a run", exc2)

    # -- processes -------------------------------------------------------------------------
    def after_fork_in_child(self) -> None:
        global _this_thread
        _this_thread = threading.local()
        self.generation += 1
        self.pid = os.getpid()
        self.registry = new_registry()
        self.sink.after_fork_in_child()
        _settle_at_multiprocessing_exit(self.sink)
        forget_after_fork()
        taskorigin.after_fork_in_child()
        reseed_after_fork()

    def shutdown(self) -> None:
        try:
            self.spans.shutdown()
        finally:
            self.sink.close()


def _settle_at_multiprocessing_exit(sink: JsonLinesSink) -> None:
    """A multiprocessing child started by fork leaves through `os._exit`, past atexit: its
    file is cut to its lines by a multiprocessing finalizer instead (registered when the
    child's bootstrap runs its after-fork hooks, which first drop the parent's finalizers).
    Other forked children that `os._exit` leave their file padded, as a killed process does."""
    util = sys.modules.get("multiprocessing.util")
    if util is None:
        return
    try:
        util.register_after_fork(sink, _register_settle)
    except Exception as exc:
        internal_error("watching a multiprocessing child's exit", exc)


def _register_settle(sink: JsonLinesSink) -> None:
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        util.Finalize(None, sink.settle, exitpriority=-1000)


def current_run() -> ActiveRun | None:
    return _current_run.get()


Tokens = tuple[Token[ActiveRun | None], object]


# Whether runs are set in the OpenTelemetry context too: only when they are exported (OTLP).
# A run that no backend receives must not become the parent of the program's own spans, or
# they would be orphans with a new trace id in the user's telemetry. Which run is current for
# racetrace itself (parent runs) is its own context variable either way.
_in_otel_context = False
# OpenTelemetry's context and trace modules, imported only when runs are set in the context.
otel_context: Any = None
trace: Any = None


def activate(run: ActiveRun | None) -> Tokens | None:
    """Make `run` the current run in this context (and the current OpenTelemetry span when
    runs are exported)."""
    if run is None:
        return None
    try:
        if not _in_otel_context:
            return (_current_run.set(run), None)
        return (
            _current_run.set(run),
            otel_context.attach(trace.set_span_in_context(run.span)),
        )
    except Exception as exc:
        internal_error("entering a run's context", exc)
        return None


def deactivate(tokens: Tokens | None) -> None:
    if tokens is None:
        return
    try:
        if tokens[1] is not None:
            otel_context.detach(tokens[1])  # type: ignore[arg-type]
        _current_run.reset(tokens[0])
    except Exception as exc:
        internal_error("leaving a run's context", exc)


RECORDER: Recorder | None = None
_fork_hook_registered = False


def install(config: Config) -> Recorder:
    global RECORDER, _fork_hook_registered, _in_otel_context, otel_context, trace
    if RECORDER is None:
        RECORDER = Recorder(config)
        _in_otel_context = isinstance(RECORDER.spans, SdkSpanFactory)
        if _in_otel_context:
            from opentelemetry import context as otel_context
            from opentelemetry import trace
        if not _fork_hook_registered:
            # At-fork hooks cannot be removed: one for the process, for whichever recorder
            # is current then, so that start/stop cycles do not pile them up.
            os.register_at_fork(after_in_child=_after_fork)
            _fork_hook_registered = True
        taskorigin.install()
    return RECORDER


def _after_fork() -> None:
    recorder = RECORDER
    if recorder is None:
        return
    try:
        recorder.after_fork_in_child()
    except Exception as exc:
        internal_error("after fork", exc)


def uninstall() -> None:
    global RECORDER
    recorder, RECORDER = RECORDER, None
    taskorigin.uninstall()
    if recorder is not None:
        recorder.shutdown()

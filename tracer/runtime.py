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
from contextvars import Token
from types import FrameType
from typing import TYPE_CHECKING, Any

from racetrace._version import __version__

from . import current, provenance, semconv, taskorigin
from . import span as ids
from .clock import now_ns
from .config import Config
from .delegation import is_delegation
from .errors import forget_after_fork, internal_error, say
from .frames import Site, called_by_owner, capture
from .identity import InstanceRegistry, class_name_of, host_name, new_registry
from .sink import _GIL, JsonLinesSink, encode_line
from .span import SdkSpanFactory, otel_parent, reseed_after_fork

if TYPE_CHECKING:
    from .target import Target

_args_repr = reprlib.Repr()
_args_repr.maxstring = 80
_args_repr.maxother = 80


class ActiveRun:
    """A run that has started; `ended` flips once, whoever ends it. A run is no span object
    unless runs are exported (`span`, an SDK span, then): its ids are all its lines need.

    Made on the hot path without `__init__` (`Recorder._begin` fills every slot)."""

    __slots__ = ("awaited", "decided", "ended", "generation", "instance_id", "loop_running",
                 "span", "span_id", "trace")

    span_id: int
    # The trace id in hex, as bytes; for a run that starts a trace, the process's 16-byte
    # prefix, to which the run's own id is appended (`trace_id`).
    trace: bytes
    span: Any
    instance_id: int
    generation: int
    # What was decided at call time (`Decided`): its call site, resource key.
    decided: Decided
    ended: bool
    # Whether the run started holding a running event loop (LOOP_RUNNING).
    loop_running: bool
    # A sync call on a running loop that returned an awaitable: the run goes on with it,
    # and the loop was held only while the call returned (END reason `awaited`).
    awaited: bool

    @property
    def run_id(self) -> str:
        return format(self.span_id, "016x")

    @property
    def trace_bytes(self) -> bytes:
        trace = self.trace
        return trace + b"%016x" % self.span_id if len(trace) == 16 else trace

    @property
    def trace_id(self) -> str:
        return self.trace_bytes.decode()

    @property
    def site(self) -> Site | None:
        """What a fan-out run of this one reports as its call site: the user's batch call."""
        return self.decided[0]

    @property
    def resource_key(self) -> str | None:
        return self.decided[2]


_new_run = object.__new__


# What is known at call time, on the caller's stack, before the run starts: its call site and
# stack, the arguments' text (RACETRACE_CAPTURE_ARGS), its resource key, the run it fans out of.
Decided = tuple["Site | None", "str | None", "str | None", "ActiveRun | None"]


class PendingRun:
    """A run decided at call time, to begin later (when its coroutine or generator starts)."""

    __slots__ = ("decided", "instance", "target")

    def __init__(self, target: Target, instance: object, decided: Decided) -> None:
        self.target = target
        self.instance = instance
        self.decided = decided


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
_TASK_NAME = semconv.TASK_NAME
_LOOP_RUNNING = semconv.LOOP_RUNNING
_START = semconv.LINE_START
# A START line: what only this run has (its ids and start), then the parts encoded once, each
# with its leading comma (target, instance, thread, task or thread start, call site: joined in
# one, `_tail`), then what only this run says (`extra`).
_START_PREFIX = b'{"type":"' + _START.encode() + b'","run_id":"%016x","trace_id":"'
_PARTS = b'"start_ns":%d%b%b}\n'
# A run that starts a trace: its trace id is the process's prefix and its own id.
_ROOT_LINE = _START_PREFIX + b'%b%016x","parent_span_id":null,' + _PARTS
_CHILD_LINE = _START_PREFIX + b'%b","parent_span_id":"%016x",' + _PARTS
_END_STATUS = semconv.END_STATUS
_END_REASON = semconv.END_REASON
# The END line of a run that ended well, the common case, made without a dict or the encoder.
_END_OK = (b'{"type":"end","run_id":"%016x","end_ns":%d,"' + _END_STATUS.encode() + b'":"'
           + semconv.STATUS_OK.encode() + b'","' + _END_REASON.encode() + b'":"%s"}\n')
_END_RETURNED = _END_OK.replace(b"%s", b"returned")

# Keyed by id() of the class, never by the class: a metaclass may define `__eq__` without
# `__hash__`. The value holds the class, so that its id cannot be reused meanwhile; its name is
# None for a metaclass (the run's instance is a class: named per class).
_class_names: dict[int, tuple[type, str | None]] = {}
_created_sites = provenance.SITES  # never rebound, only cleared
_pending_classes = provenance.PENDING  # never rebound, only cleared
_modules = sys.modules
# A fork made in C (`fork()` through ctypes, uWSGI forking its workers without
# `py-call-osafterfork`) runs no at-fork hook: a run's start looks for one. On Linux, by a byte
# of a page that the kernel hands a forked child zeroed (MADV_WIPEONFORK): reading it costs
# ~15 ns, where `os.getpid()` is a system call (~150 ns); elsewhere by comparing the pid.
_getpid = os.getpid
_MADV_WIPEONFORK = 18  # Linux 4.14+; `mmap.MADV_WIPEONFORK` only from Python 3.12


def _fork_page() -> Any:
    """A page whose first byte is 1 in this process and 0 in a child forked from it; None
    where the kernel cannot do that."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import mmap

        page = mmap.mmap(-1, mmap.PAGESIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        page.madvise(getattr(mmap, "MADV_WIPEONFORK", _MADV_WIPEONFORK))
    except (ImportError, AttributeError, OSError, ValueError):
        return None
    page[0] = 1
    return page

_current_run = current.RUN
# Per thread, what is looked up once: its id and name (renaming a thread after its first run
# is not seen: the cost of reading it on every run is not worth that), and when and by whom it
# was started.
_this_thread = threading.local()


def _class_name(instance: object) -> str:
    """`module.Qualname` of the instance's class, or of the instance for a class (a
    classmethod's run): one lookup, keyed by the class, either way the same name."""
    cls = type(instance)
    known = _class_names.get(id(cls))
    if known is None or known[0] is not cls:
        # never isinstance: it may ask the object for __class__
        known = _class_names[id(cls)] = (cls, None if issubclass(cls, type) else
                                         class_name_of(instance))
    if known[1] is not None:
        return known[1]
    # The instance is a class, its type a metaclass: the class's own name, kept by the class.
    own = _class_names.get(id(instance))
    if own is not None and own[0] is instance and own[1] is not None:
        return own[1]
    name = class_name_of(instance)
    if own is None:
        _class_names[id(instance)] = (instance, name)  # type: ignore[assignment]
    return name


# A part of a START line: its attributes (for an SDK span) and the same, encoded (for the line
# we write ourselves): `,"key":value,...`, inside the JSON object, after what comes before.
Part = tuple[dict[str, Any], bytes]


def _part(attributes: dict[str, Any]) -> Part:
    """`attributes`, and the same encoded with a leading comma (nothing for none)."""
    return attributes, encode_line(attributes)[1:-2].join((b",", b"")) if attributes else b""


def _thread_part() -> tuple[Part, Part | None]:
    """This thread's id and name, and when and by whom it was started (None for the main
    thread and threads started before racetrace): looked up on its first run."""
    thread = threading.current_thread()
    part = _part({_THREAD_ID: threading.get_ident(), _THREAD_NAME: thread.name})
    started = taskorigin.thread_origin()
    origin = None
    if started is not None:
        origin = _part({semconv.THREAD_STARTED_NS: started[0],
                        semconv.THREAD_STARTED_BY: started[1]})
    _this_thread.part = part, origin
    return part, origin


def _target_part(target: Target) -> bytes:
    """The START line's name and what its target says of every run, encoded once."""
    part = target.line_part
    if part is None:
        attributes: dict[str, Any] = {"name": target.span_name}
        attributes.update(_target_attributes(target))
        part = target.line_part = b"," + encode_line(attributes)[1:-2]
    return part


def _target_attributes(target: Target) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    if target.stateful is not None:
        attributes[semconv.STATEFUL] = target.stateful
    if target.ends_with is not None:
        attributes[semconv.OUTLIVES_CALL] = True
    return attributes


# A call site's part, by id() of the site (capture's cached tuple, held by the value).
_site_parts: dict[int, tuple[Site, Part]] = {}


def _site_part(site: Site) -> Part:
    entry = _site_parts.get(id(site))
    if entry is not None and entry[0] is site:
        return entry[1]
    attributes: dict[str, Any] = {
        _CODE_FUNCTION: site[0], _CODE_FILE: site[1], _CODE_LINE: site[2]}
    if site[3]:
        attributes[_STACK] = site[3]
    part = _part(attributes)
    if len(_site_parts) >= 10_000:  # sites of code made in a loop: forget them all
        _site_parts.clear()
    _site_parts[id(site)] = (site, part)
    return part


# A START line's parts joined, kept with the instance's entry (`Recorder._begin`): what it was
# made of (site, target, instance, thread and flow parts, compared by identity), then the bytes.
Tail = tuple[Any, bytes, "Part", "Part", bytes, bytes]


def _tail(entry: Any, site: Site | None, target_part: bytes, instance_part: Part,
          thread: Part, flow_part: bytes) -> Tail:
    site_bytes = b""
    if site is not None:
        known_site = _site_parts.get(id(site))
        site_bytes = (known_site[1] if known_site is not None and known_site[0] is site
                      else _site_part(site))[1]
    tail = (site, target_part, instance_part, thread, flow_part,
            b"".join((target_part, instance_part[1], thread[1], flow_part, site_bytes)))
    if entry.ref is not None:  # an object known by address alone: its part is made each run
        entry.tail = tail
    return tail


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
        self.fork_page = _fork_page()
        self.generation = 0
        self.registry: InstanceRegistry = new_registry()
        self.sink = JsonLinesSink(config.directory, self.host, config.service, __version__)
        # SDK spans only when runs are exported; else runs are no span object at all.
        self.spans: SdkSpanFactory | None = None
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
        """The run this call makes, to begin when its work starts; None: no run (`_decide`)."""
        decided = self.decide(target, instance, caller, args, kwargs)
        return None if decided is None else PendingRun(target, instance, decided)

    def decide(self, target: Target, instance: object, caller: FrameType | None,
               args: tuple[Any, ...], kwargs: dict[str, Any]) -> Decided | None:
        """What `prepare` decides, without the object (a coroutine's driver takes it as is)."""
        if target.plain and not self.config.capture_args:  # as in `start`
            running = _current_run.get()
            if running is None or running.instance_id != id(instance) or running.ended:
                return (capture(caller, target.owner, instance), None, None, None)
        return self._decide(target, instance, caller, args, kwargs)

    def start(self, target: Target, instance: object, caller: FrameType | None,
              args: tuple[Any, ...], kwargs: dict[str, Any]) -> ActiveRun | None:
        """`prepare` and `begin` of a plain call that runs now, in one."""
        if target.plain and not self.config.capture_args:
            # No resource key, every call a run: only a running run on the same object can
            # make this call part of it (`_decide`).
            running = _current_run.get()
            if running is None or running.instance_id != id(instance) or running.ended:
                return self._begin(
                    target, instance, (capture(caller, target.owner, instance), None, None, None),
                    True)
        decided = self._decide(target, instance, caller, args, kwargs)
        return None if decided is None else self._begin(target, instance, decided, True)

    def _decide(self, target: Target, instance: object, caller: FrameType | None,
                args: tuple[Any, ...], kwargs: dict[str, Any]) -> Decided | None:
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
        current_run = _current_run.get()
        fan_out_of = None
        if (
            current_run is not None
            and not current_run.ended
            and current_run.instance_id == id(instance)
            and current_run.generation == self.generation
            and is_delegation(caller, instance, target.owner)
        ):
            if resource_key is None or resource_key == current_run.resource_key:
                return None
            fan_out_of = current_run
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
            return (fan_out_of.site, captured, resource_key, fan_out_of)
        # The line is read now: by the time a coroutine starts, its caller has moved on.
        return (capture(caller, target.owner, instance), captured, resource_key, None)

    # -- run start -------------------------------------------------------------------------
    def begin(self, pending: PendingRun | None, *, sync: bool = False) -> ActiveRun | None:
        """`sync`: the run is a plain call that holds its thread until it returns."""
        if pending is None:
            return None
        try:
            return self._begin(pending.target, pending.instance, pending.decided, sync)
        except Exception as exc:
            internal_error("starting a run", exc)
            return None

    def _begin(self, target: Target, instance: object, decided: Decided,
               sync: bool = False) -> ActiveRun:
        """Begin a run: its START line, made of parts encoded once (per instance, target,
        thread, task and call site) and the few values of this run."""
        page = self.fork_page
        if (not page[0]) if page is not None else _getpid() != self.pid:
            self._forked_without_hooks()  # forked without the at-fork hooks: reset now
        start_ns = now_ns()
        if _pending_classes:  # a class made with its target patched: decorated by now
            provenance.observe_pending()
        site, captured, resource_key, fan_out_of = decided
        parent = _current_run.get()
        if parent is not None and parent.generation != self.generation:
            parent = None  # a run inherited through fork: the parent process's
        spans = self.spans
        # The label is read once per instance, with the key, without running the object's code.
        # An object seen before: its entry holds its encoded part (a weak reference to it
        # tells it from a later object at the same address).
        entry = self.registry.entries.get(id(instance))
        parts = entry.parts if entry is not None else None
        instance_part = parts[target.gen_ai_agent] if parts is not None else None
        if instance_part is None or entry.ref() is not instance:  # type: ignore[union-attr]
            entry = self.registry.labelled(instance, target.label_of)
            instance_part = self._instance_part(entry, instance, target.gen_ai_agent)
        # What only this run says: kept apart, encoded when there is any.
        extra: dict[str, Any] = {}
        if _created_sites:  # where the object was made: on its first run only
            known = _created_sites.get(id(instance))
            created = (provenance.first_sight(instance, entry.key)
                       if known is not None and known[2] is not entry.key else None)
            if created is not None:
                file, line, function, scope = created
                extra[semconv.INSTANCE_CREATED_AT] = f"{file}:{line}"
                extra[semconv.INSTANCE_CREATED_IN] = function
                extra[semconv.INSTANCE_CREATED_SCOPE] = scope
        if resource_key is not None:
            extra[semconv.RESOURCE_KEY] = resource_key
        if parent is not None:
            extra[_PARENT_RUN] = parent.run_id
        if fan_out_of is not None:
            extra[semconv.FAN_OUT_OF] = fan_out_of.run_id
        try:
            thread, origin = _this_thread.part
        except AttributeError:  # this thread's first run
            thread, origin = _thread_part()
        # The run's asyncio task, or outside asyncio its thread's start: the flow of control
        # it ran in, and when and by whom that was created (looked up once per task or thread).
        asyncio = _modules.get("asyncio")
        # current_task() raises outside a running loop: look first, rather than pay for an
        # exception on every run of sync code.
        loop = asyncio._get_running_loop() if asyncio is not None else None
        loop_running = False
        flow = origin
        if loop is not None:
            # A call whose run outlives it (`ends_with`: a streamed run's background task)
            # holds the loop only while it returns, not for the run's length.
            if sync and target.ends_with is None:
                # A plain call on the loop's own thread: the loop waits until it returns.
                extra[_LOOP_RUNNING] = loop_running = True
                if target.runs_loop:
                    extra[semconv.LOOP_OWN] = True
            task = asyncio.current_task(loop)
            if task is not None:
                known_task = self.registry.entries.get(id(task))
                flow = known_task.extra if known_task is not None else None
                if flow is None or known_task.ref() is not task:  # type: ignore[union-attr]
                    flow = self._task_part(task)
        if captured is not None:
            extra["racetrace.args"] = captured
        if spans is not None:
            site_part = None
            if site is not None:
                known_site = _site_parts.get(id(site))
                site_part = (known_site[1] if known_site is not None and known_site[0] is site
                             else _site_part(site))
            return self._begin_span(target, instance, start_ns, instance_part, extra, thread,
                                    flow, site_part, decided, loop_running)
        span_id = next(ids.run_ids)  # the run's id, formatted into the line
        # The line's parts after its ids and start, joined once and kept with the object for
        # as long as its runs come with the same target, thread, task and call site: one bytes
        # format of five values per run, where six parts cost ~400 ns more.
        target_part = target.line_part
        if target_part is None:
            target_part = _target_part(target)
        flow_part = flow[1] if flow is not None else b""
        tail = entry.tail  # type: ignore[union-attr]
        if (tail is None or tail[0] is not site or tail[1] is not target_part
                or tail[2] is not instance_part or tail[3] is not thread
                or tail[4] is not flow_part):
            tail = _tail(entry, site, target_part, instance_part, thread, flow_part)
        own = encode_line(extra)[1:-2].join((b",", b"")) if extra else b""
        if parent is not None:
            trace = parent.trace_bytes
            line = _CHILD_LINE % (span_id, trace, parent.span_id, start_ns, tail[5], own)
        else:
            outer = None
            if "opentelemetry.trace" in _modules:
                # `otel_parent()`'s first look, inlined: most runs are in no span of the
                # program's (its context variable holds none).
                fast = ids.fast_lookup
                if not (fast and fast[0]._RUNTIME_CONTEXT is fast[1]
                        and fast[2].get().get(fast[3]) is None):
                    outer = otel_parent()
            if outer is None:
                trace = ids.trace_prefix
                line = _ROOT_LINE % (span_id, trace, span_id, start_ns, tail[5], own)
            else:
                trace = b"%032x" % outer[0]
                line = _CHILD_LINE % (span_id, trace, outer[1], start_ns, tail[5], own)
        sink = self.sink
        mapped = sink.mapped
        if mapped is not None and _GIL:
            try:
                mapped.write(line)  # the sink's hot path, inlined: a copy into its map
            except ValueError:
                sink.put(line)
        else:
            sink.put(line)
        run = _new_run(ActiveRun)
        run.span_id = span_id
        run.trace = trace
        run.span = None
        run.instance_id = id(instance)
        run.generation = self.generation
        run.decided = decided
        run.ended = run.awaited = False
        run.loop_running = loop_running
        return run

    def _begin_span(self, target: Target, instance: object, start_ns: int,
                    instance_part: Part, extra: dict[str, Any], thread: Part,
                    flow: Part | None, site_part: Part | None, decided: Decided,
                    loop_running: bool) -> ActiveRun:
        """A run as an SDK span (runs exported over OTLP): the START line's attributes, whose
        processor (the sink's `on_start`) writes the line."""
        attributes = dict(instance_part[0])
        attributes.update(_target_attributes(target))
        attributes.update(thread[0])
        if flow is not None:
            attributes.update(flow[0])
        if site_part is not None:
            attributes.update(site_part[0])
        attributes.update(extra)
        span = self.spans.start(target.span_name, attributes, start_ns)  # type: ignore[union-attr]
        context = span.get_span_context()
        run = _new_run(ActiveRun)
        run.span_id = context.span_id
        run.trace = b"%032x" % context.trace_id
        run.span = span
        run.instance_id = id(instance)
        run.generation = self.generation
        run.decided = decided
        run.ended = run.awaited = False
        run.loop_running = loop_running
        return run

    def _instance_part(self, entry: Any, instance: object, gen_ai: bool) -> Part:
        """What every run on the object says of it, kept with its key (unless the object is
        known by address only: its label is read again each time)."""
        parts = entry.parts
        if parts is not None:
            part = parts[gen_ai]
            if part is not None:
                return part  # type: ignore[no-any-return]
        key, label = entry.key, entry.label
        attributes: dict[str, Any] = {
            _INSTANCE_KEY: key,
            _INSTANCE_CLASS: _class_name(instance),
            _INSTANCE_ID: id(instance),
            _PROCESS_PID: self.pid,
            _HOST_NAME: self.host,
        }
        if label is not None:
            attributes[_INSTANCE_LABEL] = label
            if gen_ai:
                attributes[semconv.GEN_AI_OPERATION] = "invoke_agent"
                attributes[semconv.GEN_AI_AGENT_NAME] = label
                attributes[semconv.GEN_AI_AGENT_ID] = key
        part = _part(attributes)
        if entry.ref is not None:
            if parts is None:
                parts = entry.parts = [None, None]
            parts[gen_ai] = part
        return part

    def _task_part(self, task: object) -> Part:
        """The task's name and key, and where, when and by whom it was created: looked up on
        its first run, kept with its key (a task renamed later keeps the name of its first
        run)."""
        entry = self.registry.entry_of(task)
        part = entry.extra
        if part is not None:
            return part  # type: ignore[no-any-return]
        attributes: dict[str, Any] = {_TASK_NAME: task.get_name(),  # type: ignore[attr-defined]
                                      semconv.TASK_KEY: entry.key}
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
        part = entry.extra = _part(attributes)
        return part

    # -- run end ---------------------------------------------------------------------------
    def returned(self, run: ActiveRun) -> None:
        """`finish(run, None)` for a plain call that returned: the common END, made directly."""
        if run.ended:
            return
        if run.span is not None or run.awaited or run.generation != self.generation:
            self.finish(run, None)
            return
        run.ended = True
        try:
            line = _END_RETURNED % (run.span_id, now_ns())
            sink = self.sink
            mapped = sink.mapped
            if mapped is not None and _GIL:
                try:
                    mapped.write(line)
                except ValueError:
                    sink.put(line)
            else:
                sink.put(line)
        except Exception as exc:
            internal_error("ending a run", exc)

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
            if end_ns is None:
                # Always our clock: an SDK span would read `time.time_ns`, which tests may freeze.
                end_ns = now_ns()
            span = run.span
            if exc is None and span is None:
                # Returned (or exhausted, closed, awaited): the common END, made directly.
                self.sink.write_line(_END_OK % (
                    run.span_id, end_ns,
                    (reason or ("awaited" if run.awaited else "returned")).encode()))
                return
            status, default_reason = _status_of(exc)
            if run.awaited:
                default_reason = "awaited"
            end: dict[str, Any] = {
                _END_STATUS: status,
                _END_REASON: reason or default_reason,
            }
            if exc is not None and status == semconv.STATUS_ERROR:
                end[semconv.ERROR_TYPE] = f"{type(exc).__module__}.{type(exc).__qualname__}"
                end[semconv.EXCEPTION_MESSAGE] = _message_of(exc)
            if span is None:
                self.sink.write_end(run.run_id, end_ns, end)
                return
            span.set_attributes(end)
            if status == semconv.STATUS_ERROR:
                self.spans.failed(span)  # type: ignore[union-attr]
            span.end(end_ns)
        except Exception as exc2:
            internal_error("ending a run", exc2)

    # -- processes -------------------------------------------------------------------------
    def after_fork_in_child(self) -> None:
        self.generation += 1
        self.pid = os.getpid()
        if self.fork_page is not None:
            self.fork_page[0] = 1  # this process's now: its own children's is zeroed
        self.registry = current.registry = new_registry()
        self.sink.after_fork_in_child()
        _settle_at_multiprocessing_exit(self.sink)
        _process_after_fork()

    def check_fork(self) -> None:
        """Where the process is left (exit, stop): a child forked in C, with no run since,
        must not cut or close the parent's file."""
        if _getpid() != self.pid:
            self._forked_without_hooks()

    def _forked_without_hooks(self) -> None:
        try:
            self.after_fork_in_child()
        except Exception as exc:
            self.pid = _getpid()
            if self.fork_page is not None:
                self.fork_page[0] = 1
            internal_error("after fork", exc)

    def shutdown(self) -> None:
        self.check_fork()
        try:
            if self.spans is not None:
                self.spans.shutdown()
        finally:
            self.sink.close()


def _process_after_fork() -> None:
    """What a forked child resets with or without a recorder (tracing stopped before the fork
    may start again in the child): ids of its own, its threads looked up again."""
    global _this_thread
    _this_thread = threading.local()
    forget_after_fork()
    taskorigin.after_fork_in_child()
    reseed_after_fork()


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


Tokens = Token[ActiveRun | None] | tuple[Token[ActiveRun | None], object]


# Whether runs are set in the OpenTelemetry context too: only when they are exported (OTLP).
# A run that no backend receives must not become the parent of the program's own spans, or
# they would be orphans with a new trace id in the user's telemetry. Which run is current for
# racetrace itself (parent runs) is its own context variable either way.
in_otel_context = False
# OpenTelemetry's context and trace modules, imported only when runs are set in the context.
otel_context: Any = None
trace: Any = None


def activate(run: ActiveRun | None) -> Tokens | None:
    """Make `run` the current run in this context (and the current OpenTelemetry span when
    runs are exported): the token of ours, or a pair with OpenTelemetry's."""
    if run is None:
        return None
    try:
        if not in_otel_context:
            return _current_run.set(run)
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
        if type(tokens) is tuple:
            otel_context.detach(tokens[1])
            _current_run.reset(tokens[0])
        else:
            _current_run.reset(tokens)  # type: ignore[arg-type]
    except Exception as exc:
        internal_error("leaving a run's context", exc)


RECORDER: Recorder | None = None
_fork_hook_registered = False


def install(config: Config) -> Recorder:
    global RECORDER, _fork_hook_registered, in_otel_context, otel_context, trace
    if RECORDER is None:
        RECORDER = Recorder(config)
        ids.load_ids()  # drawn in this process (a child forked in C after a stop has the parent's)
        current.registry = RECORDER.registry
        in_otel_context = RECORDER.spans is not None
        if in_otel_context:
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
    try:
        if recorder is None:
            _process_after_fork()
        else:
            recorder.after_fork_in_child()
    except Exception as exc:
        internal_error("after fork", exc)


def uninstall() -> None:
    global RECORDER
    recorder, RECORDER = RECORDER, None
    current.registry = None
    taskorigin.uninstall()
    if recorder is not None:
        recorder.shutdown()

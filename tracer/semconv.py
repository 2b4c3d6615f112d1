"""Names shared by the writer (tracer) and the reader (analyzers): span attributes and trace lines.

This module is the single source of truth for them, and imports nothing, so that the analyzers
can use it without pulling in OpenTelemetry.
"""

# Span attributes of a run.
INSTANCE_KEY = "racetrace.instance.key"
INSTANCE_CLASS = "racetrace.instance.class"
INSTANCE_LABEL = "racetrace.instance.label"
INSTANCE_ID = "racetrace.instance.id"
RESOURCE_KEY = "racetrace.resource.key"
STATEFUL = "racetrace.stateful"
# Where the object was created, on its first run in each process only: `file:line`, the
# creating function's qualified name, and `module` | `class` | `function` (see provenance.py).
INSTANCE_CREATED_AT = "racetrace.instance.created_at"
INSTANCE_CREATED_IN = "racetrace.instance.created_in"
INSTANCE_CREATED_SCOPE = "racetrace.instance.created_scope"
# The run may outlive its call (a preset's `ends_with`: a streamed run's background task, a
# runtime's message loop): after the call returns, the calling task goes on with other work.
OUTLIVES_CALL = "racetrace.outlives_call"
PARENT_RUN = "racetrace.parent_run"
# A run that a batch call on the same instance fanned out on a resource key of its own (the
# outer run's id): one run with the outer on the object, a run of its own on the resource.
FAN_OUT_OF = "racetrace.fan_out_of"
TASK_NAME = "racetrace.task.name"
TASK_KEY = "racetrace.task.id"
TASK_CREATED_AT = "racetrace.task.created_at"
TASK_CREATED_BY_RUN = "racetrace.task.created_by_run"
# When the run's task was created and by which task: a timer creates its jobs one by one at a
# period, a gather creates them together; a task created before the previous run ended was
# waiting for it (a lock, a queue).
TASK_CREATED_NS = "racetrace.task.created_ns"
TASK_CREATED_BY_TASK = "racetrace.task.created_by_task"
# The same for a run outside asyncio: when its thread was started, and by which thread.
THREAD_STARTED_NS = "racetrace.thread.started_ns"
THREAD_STARTED_BY = "racetrace.thread.started_by"
STACK = "racetrace.stack"
# A synchronous run that started on a thread whose asyncio event loop was running: while it
# runs, that loop (every other task on it) waits. Written only when true.
LOOP_RUNNING = "racetrace.loop.running"
# ... and the run is an entry point that runs an event loop of its own (a preset's
# `Runner.run_sync`): on a running loop it fails at once or deadlocks. Only with LOOP_RUNNING.
LOOP_OWN = "racetrace.loop.own"
THREAD_ID = "thread.id"
THREAD_NAME = "thread.name"
PROCESS_PID = "process.pid"
HOST_NAME = "host.name"
SERVICE_NAME = "service.name"
CODE_FUNCTION = "code.function.name"
CODE_FILE = "code.file.path"
CODE_LINE = "code.line.number"

# Set on the span just before it ends.
END_STATUS = "racetrace.end.status"  # ok | error | cancelled
END_REASON = "racetrace.end.reason"  # returned | raised | exhausted | closed | cancelled | awaited
ERROR_TYPE = "error.type"
EXCEPTION_MESSAGE = "exception.message"

# GenAI semantic conventions, set where a run is an agent invocation.
GEN_AI_OPERATION = "gen_ai.operation.name"
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_AGENT_ID = "gen_ai.agent.id"

# Trace file lines (see docs/trace-format.md).
TRACE_FORMAT = "racetrace.trace/1"
LINE_HEADER = "header"
LINE_START = "start"
LINE_END = "end"

STATUS_OK = "ok"
STATUS_ERROR = "error"
STATUS_CANCELLED = "cancelled"
STATUS_UNFINISHED = "unfinished"

# Environment variables.
ENV_ENABLE = "RACETRACE"
ENV_TARGETS = "RACETRACE_TARGETS"
ENV_DIR = "RACETRACE_DIR"
ENV_VERBOSE = "RACETRACE_VERBOSE"
ENV_CAPTURE_ARGS = "RACETRACE_CAPTURE_ARGS"
ENV_SUPPRESSIONS = "RACETRACE_SUPPRESSIONS"
ENV_SESSION = "RACETRACE_SESSION"  # the session's name under RACETRACE_DIR (default: time-pid)
ENV_SESSION_DIR = "RACETRACE_SESSION_DIR"  # set for children: the folder they join
ENV_KEEP = "RACETRACE_KEEP"  # how many sessions to keep (default 20)
DEFAULT_DIR = "racetrace-traces"
DEFAULT_KEEP = 20
SESSION_MARKER = ".racetrace-session"

OFF_VALUES = frozenset({"", "0", "false", "off", "no"})

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
TASK_NAME = "racetrace.task.name"
TASK_KEY = "racetrace.task.id"
TASK_CREATED_AT = "racetrace.task.created_at"
TASK_CREATED_BY_RUN = "racetrace.task.created_by_run"
STACK = "racetrace.stack"
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
END_REASON = "racetrace.end.reason"  # returned | raised | exhausted | closed | cancelled
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
DEFAULT_DIR = "racetrace-traces"

OFF_VALUES = frozenset({"", "0", "false", "off", "no"})

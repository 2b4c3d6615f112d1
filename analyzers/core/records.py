"""The parts of a run record that reading a run's details needs: its `RunDetails` (the rest of
its START line) and the `Origin` of the line. Apart from `model`, so that `details` (which
`model.Run` calls to read them) imports no module that imports it back.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from racetrace.tracer import semconv

# RunDetails field -> key in a START line.
_DETAIL_KEYS = {
    "instance_class": semconv.INSTANCE_CLASS,
    "instance_label": semconv.INSTANCE_LABEL,
    "instance_id": semconv.INSTANCE_ID,
    "task_name": semconv.TASK_NAME,
    "task_created_at": semconv.TASK_CREATED_AT,
    "task_created_by_task": semconv.TASK_CREATED_BY_TASK,
    "thread_name": semconv.THREAD_NAME,
    "thread_started_by": semconv.THREAD_STARTED_BY,
    "function": semconv.CODE_FUNCTION,
    "stack": semconv.STACK,
    "args": "racetrace.args",
    "runs_own_loop": semconv.LOOP_OWN,
    "created_at": semconv.INSTANCE_CREATED_AT,
    "created_in": semconv.INSTANCE_CREATED_IN,
    "created_scope": semconv.INSTANCE_CREATED_SCOPE,
}


# Integers as a trace line may hold them: what does not fit in 64 bits (which every JSON writer
# downstream, `runs --json` and the report included, refuses) damages its line at load rather
# than crashing a command later. Timestamps are nanoseconds since the epoch, never negative,
# and below 2**63 - 1: an unfinished run is open until one past its process' last moment,
# which must still fit.
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
NS_MAX = 2**63 - 2
Ns = Annotated[int, msgspec.Meta(ge=0, le=NS_MAX)]


class RunDetails(msgspec.Struct, tag_field="type", tag=semconv.LINE_START, rename=_DETAIL_KEYS,
                 gc=False, kw_only=True):
    """What a run's START line says beyond what the analysis reads of every run."""

    run_id: str = ""
    instance_class: str = ""
    instance_label: str | None = None
    instance_id: Int64 | None = None
    trace_id: str | None = None
    parent_span_id: str | None = None
    task_name: str | None = None
    task_created_at: str | None = None
    task_created_by_task: str | None = None
    thread_name: str | None = None
    thread_started_by: int | None = None
    function: str | None = None
    stack: list[str] = []
    args: str | None = None
    runs_own_loop: bool = False  # an entry point that runs an event loop of its own
    # Where the instance was created: on its first run in each process only.
    created_at: str | None = None
    created_in: str | None = None
    created_scope: str | None = None


class Origin(msgspec.Struct, gc=False):
    """Where runs were read from: the file, its service, and the stretch of bytes `lo:hi`
    holding their START lines (a few dozen lines the loader decoded together; -1 when the
    runs did not come from our own line format). One object is shared by the runs of a
    stretch, so that recording it costs a pointer per run."""

    path: str = ""
    service: str | None = None
    lo: int = -1
    hi: int = -1



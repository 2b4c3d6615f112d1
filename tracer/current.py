"""What the tracer's observers need to know of the recorder, and nothing more: the run current in
this context, and the registry that names objects while recording is on.

The runtime sets these; the observers of task and object creation (taskorigin.py,
provenance.py) read them. This module imports nothing of the tracer, so those observers depend
on it and not on the runtime, and the tracer's imports run one way: targets → wrap → runtime.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

# The run current in this context (a runtime.ActiveRun), or None.
RUN: ContextVar[Any] = ContextVar("racetrace_current_run", default=None)

# The recorder's registry of object keys (identity.InstanceRegistry) while recording is on,
# else None.
registry: Any = None

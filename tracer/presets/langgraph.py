"""LangGraph: a compiled graph's `invoke`, `ainvoke`, `stream`, `astream`, `astream_events`,
`batch` and `abatch` (defined on `Pregel`, or inherited by it from LangChain's `Runnable`).

The graph object is stateless (one compiled graph serves every request); the conversation is
the checkpointer's thread, so the run's resource key is `config["configurable"]["thread_id"]`:
two runs on one thread at once are a bug (each reads the same checkpoint and the later write
wins), also from two graph objects or two processes sharing a checkpointer. A subgraph that
the graph runs itself is part of the parent's run; one that a node's code invokes is a run of
its own, in its parent's thread under a namespace of its own: it gets no key.
`invoke` iterates `stream`, `ainvoke` and `astream_events` iterate `astream` on the same
graph: one run each. `batch` and `abatch` are one run on the graph, but each input's
`invoke`/`ainvoke` carries its own config: one naming a thread is a run of its own on that
thread (a fan-out of the batch run), so two inputs on one thread show as the lost update
they are.
"""

from __future__ import annotations

from typing import Any

from .langchain import FAMILY, STREAM_BUILDERS
from .spec import EntryPoint, Preset, get_argument

PREGEL = "langgraph.pregel"
METHODS = ("invoke", "ainvoke", "stream", "astream", "astream_events", "batch", "abatch")


def thread_of(graph: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """`langgraph/thread/<thread_id>` when the graph keeps checkpoints, else None."""
    config = get_argument(args, kwargs, 1, "config")
    if not isinstance(config, dict):
        return None
    configurable = config.get("configurable")
    if not isinstance(configurable, dict):
        return None
    thread_id = configurable.get("thread_id")
    if thread_id is None or configurable.get("checkpoint_ns"):
        return None
    # Without a checkpointer a thread id names nothing shared. A subgraph's comes in its config.
    if getattr(graph, "checkpointer", None) in (None, False) and not configurable.get(
        "__pregel_checkpointer"
    ):
        return None
    return f"langgraph/thread/{thread_id}"


PRESET = Preset(
    name="langgraph",
    tested=(("langgraph", "1.2.24"), ("langgraph-checkpoint", "4.3.2")),
    family=FAMILY,
    entry_points=tuple(
        EntryPoint(PREGEL, f"Pregel.{method}", stateful=False, resource=thread_of,
                   framework_calls=False, returns_stream=method in STREAM_BUILDERS)
        for method in METHODS
    ),
)


def enable() -> None:
    PRESET.enable()

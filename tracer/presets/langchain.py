"""LangChain Core runnables: `invoke`, `ainvoke`, `stream`, `astream`, `batch`, `abatch` and
`astream_events`.

Runnables (chat models, prompts, chains, tools, retrievers) are stateless: their state lives in
what they are given, so overlapping runs on one are expected (`batch` fans out on one instance by
design) and reported as info. The defaults delegate on the same instance (`ainvoke` runs `invoke`
in an executor thread with the context copied, `astream` awaits `ainvoke`, `batch` maps `invoke`
over a thread pool): each is one run, unless a per-input call carries a resource key the batch
run does not (a compiled graph's inputs on their threads): that is a fan-out run on its key.
A `RunnableWithMessageHistory`'s `batch` hands the whole batch to its inner chain instead,
whose per-input calls carry no key: its sessions are not seen per input. Concrete classes
override these methods, so every override is covered, present and future. A run is a call the
user's code makes: the calls a runnable makes on others (a chain on its steps, a history wrapper
on its inner chain) are the plumbing of that run, not runs of their own. LangGraph's own
runnables (nodes, channel writers, the graphs) are left to the langgraph preset.

The conversation of a `RunnableWithMessageHistory` is its chat history, named by the
configurable fields of `history_factory_config` (`session_id` by default): that is the run's
resource key, and two runs on one history at once are a bug (both read it before either
writes, and the history ends interleaved).
"""

from __future__ import annotations

from typing import Any

from .spec import EntryPoint, Preset, get_argument

RUNNABLE = "langchain_core.runnables.base"
HISTORY = "langchain_core.runnables.history"
METHODS = ("invoke", "ainvoke", "stream", "astream", "batch", "abatch", "astream_events")
# Plain methods that return the async generator they build: a run is its iteration.
STREAM_BUILDERS = frozenset({"astream_events"})


def history_of(runnable: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """`langchain/history/<session_id>` (or the values of every configured history field)."""
    config = get_argument(args, kwargs, 1, "config")
    configurable = config.get("configurable") if isinstance(config, dict) else None
    if not isinstance(configurable, dict):
        return None
    fields = [getattr(spec, "id", None) for spec in getattr(runnable, "history_factory_config", ())]
    values = [configurable.get(name) for name in fields if name]
    if not values or any(value is None for value in values):
        return None
    return "langchain/history/" + "/".join(str(value) for value in values)

# One library for call sites and delegation: a LangChain chain calling into a partner package
# or LangGraph calling a runnable is framework code, not the user's.
FAMILY = ("langchain_core", "langchain*", "langgraph*")

PRESET = Preset(
    name="langchain",
    tested=(("langchain-core", "1.8.3"),),
    family=FAMILY,
    entry_points=(
        *(
            EntryPoint(RUNNABLE, f"Runnable.{method}", stateful=False, framework_calls=False,
                       returns_stream=method in STREAM_BUILDERS)
            for method in METHODS
        ),
        *(
            EntryPoint(HISTORY, f"RunnableWithMessageHistory.{method}", stateful=False,
                       resource=history_of, framework_calls=False,
                       returns_stream=method in STREAM_BUILDERS)
            for method in METHODS
        ),
    ),
    exclude=("langgraph",),
)


def enable() -> None:
    PRESET.enable()

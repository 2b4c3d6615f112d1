"""Errors that frameworks (and Python itself) raise when one object is driven concurrently.

A table of signatures, each an exception type and a message pattern, taken from the frameworks'
own sources (versions as in the presets), with what the error means and how to fix it. `match`
looks a run's error up; the report ties a matched error to the overlap on the run's instance or
resource key when `from_overlap` says the error is what such an overlap looks like from inside.

Pure and standalone: the standard library only, nothing else of racetrace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class KnownError:
    id: str  # stable, e.g. "autogen.team-already-running"
    framework: str  # "AutoGen", "OpenAI Agents SDK", "LangGraph", "asyncio", "Python"
    error_type: str  # qualified name as raised, e.g. "builtins.ValueError"
    meaning: str
    fix: str
    # True: the error is raised because runs overlapped on one object (look for the overlap on
    # the failing run's instance or resource); False: a concurrency misuse with no overlap.
    from_overlap: bool
    pattern: re.Pattern[str] = field(repr=False, compare=False, default=re.compile(""))
    # True: a synchronous entry point tried to run an event loop on a thread whose loop was
    # already running (the report's `nested-loop` finding).
    nested_loop: bool = False


def _sig(id: str, framework: str, error_type: str, message: str, meaning: str, fix: str,
         *, from_overlap: bool = True, nested_loop: bool = False) -> KnownError:
    return KnownError(id, framework, error_type, meaning, fix, from_overlap, re.compile(message),
                      nested_loop)


# Most specific first: the first signature that matches wins.
SIGNATURES: tuple[KnownError, ...] = (
    # -- AutoGen AgentChat / Core 0.7 ---------------------------------------------------------
    _sig(
        "autogen.team-already-running", "AutoGen", "builtins.ValueError",
        r"^The team is already running, it cannot run again until it is stopped\.",
        "A team's run() or run_stream() was called while another run of the same team was "
        "still going: the team (its agents, conversation and runtime) is shared.",
        "Build a team per request (a factory), or serialize the runs with a lock; to continue "
        "one conversation, await the previous run first.",
    ),
    _sig(
        "autogen.team-reset-while-running", "AutoGen", "builtins.RuntimeError",
        r"^The group chat is currently running\. It must be stopped before it can be reset\.",
        "reset() was called on a team while a run of it was going (another request, or a "
        "callback of the run itself).",
        "Reset only between runs: give each request its own team, or reset under the same lock "
        "that serializes the runs.",
    ),
    _sig(
        "autogen.team-load-while-running", "AutoGen", "builtins.RuntimeError",
        r"^The team cannot be loaded while it is running\.",
        "load_state() was called on a team while a run of it was going.",
        "Load state into a team nobody is running: a fresh team per request, or under the "
        "lock that serializes its runs.",
    ),
    _sig(
        "autogen.runtime-already-started", "AutoGen", "builtins.RuntimeError",
        r"^Runtime is already started",
        "SingleThreadedAgentRuntime.start() was called while the runtime was running: two "
        "callers (or a team with an embedded runtime and its user) share one runtime.",
        "Start a runtime once and stop it once (stop_when_idle()), from one owner; give "
        "concurrent work runtimes of their own.",
    ),
    _sig(
        "autogen.runtime-not-started", "AutoGen", "builtins.RuntimeError",
        r"^Runtime is not started",
        "stop(), stop_when_idle() or stop_when() was called on a runtime that was not running, "
        "typically the second of two stops racing on a shared runtime.",
        "Let the one owner that started the runtime stop it.",
    ),
    _sig(
        "autogen.agent-type-exists", "AutoGen", "builtins.ValueError",
        r"^Agent with (type|id) .+ already exists\.",
        "An agent type (or id) was registered twice on one runtime: two teams or two setups "
        "share the runtime and register the same names.",
        "Register agent types once per runtime, or give each team its own runtime.",
    ),
    _sig(
        "autogen.agent-bound-elsewhere", "AutoGen", "builtins.RuntimeError",
        r"^Agent is already bound to a different (ID|runtime)",
        "One agent object was bound to a second runtime or id: an agent instance is shared "
        "between teams or runtimes.",
        "Create an agent per team and runtime (a factory).",
    ),
    _sig(
        "autogen.termination-reached", "AutoGen", "autogen_agentchat.base.TerminatedException",
        r"^Termination condition has already been reached",
        "A termination condition object was checked after it had fired: one condition is "
        "shared by runs or teams, and one run's termination leaked into another.",
        "Create a termination condition per team (and reset it between runs).",
    ),
    # -- OpenAI Agents SDK 0.24 -----------------------------------------------------------------
    _sig(
        "openai-agents.run-sync-in-event-loop", "OpenAI Agents SDK", "builtins.RuntimeError",
        r"run_sync\(\) cannot be called when an event loop is already running",
        "Runner.run_sync() was called from code running inside an event loop (an async web "
        "handler, a notebook, a tool or callback of another run).",
        "Inside async code, await Runner.run(...) instead; keep run_sync() for plain scripts.",
        from_overlap=False, nested_loop=True,
    ),
    _sig(
        "openai-agents.tools-changed-during-concurrent-runs", "OpenAI Agents SDK",
        "agents.exceptions.UserError",
        r"^Agent\.tools changed while concurrent runs were using the same Agent",
        "A run replaced agent.tools while other runs were using the same Agent object.",
        "Use an agent per run (agent.clone(tools=[*agent.tools])), or leave Agent.tools alone "
        "and enable tools through the run context.",
    ),
    _sig(
        "openai-agents.hosted-model-shared", "OpenAI Agents SDK", "agents.exceptions.UserError",
        r"already has a paused response owned by another agent run",
        "One hosted multi-agent model instance was used by two runs at once.",
        "Use a separate model instance for each concurrent run.",
    ),
    _sig(
        "openai-agents.session-write-in-progress", "OpenAI Agents SDK",
        "agents.exceptions.UserError",
        r"^The pending Session write is already in progress for this RunState",
        "One RunState was resumed or saved twice at once.",
        "Resume a RunState once; serialize work on one conversation.",
    ),
    # -- LangGraph 1.x ------------------------------------------------------------------------
    _sig(
        "langgraph.concurrent-graph-update", "LangGraph", "langgraph.errors.InvalidUpdateError",
        r"Can receive only one (value|Overwrite value) per (step|super-step)",
        "Two nodes running in the same step (parallel branches) wrote one state key that has "
        "no reducer (INVALID_CONCURRENT_GRAPH_UPDATE).",
        "Give the key a reducer (Annotated[list, operator.add], add_messages), or make only one "
        "branch write it.",
        from_overlap=False,
    ),
    # -- Storage under the frameworks' sessions and checkpointers ----------------------------
    _sig(
        "sqlite.database-locked", "SQLite (SqliteSaver, SQLiteSession)",
        "sqlite3.OperationalError", r"database is locked",
        "Two writers held one SQLite database at once (threads, processes or two connections "
        "of one checkpointer or session store).",
        "Serialize writes to one conversation (one run per thread or session at a time), or "
        "use a store built for concurrent writers (Postgres).",
    ),
    # -- asyncio and Python, as shared objects make them fail --------------------------------
    _sig(
        "asyncio.async-generator-already-running", "asyncio", "builtins.RuntimeError",
        r"asynchronous generator is already running",
        "Two tasks iterated one async generator (a shared stream) at once.",
        "Give each consumer its own stream, or fan one consumer's items out through queues.",
    ),
    _sig(
        "python.generator-already-executing", "Python", "builtins.ValueError",
        r"^generator already executing",
        "Two threads advanced one generator (a shared iterator or stream) at once.",
        "Give each thread its own iterator, or guard the shared one with a lock.",
    ),
    _sig(
        "asyncio.different-loop", "asyncio", "builtins.RuntimeError",
        r"attached to a different loop|is bound to a different event loop",
        "An object bound to one event loop (a client, lock, queue or future) was used from "
        "another loop: a singleton shared across threads or asyncio.run() calls.",
        "Create loop-bound objects inside the loop that uses them (per thread, per "
        "asyncio.run), not at import time in a shared singleton.",
    ),
    _sig(
        "asyncio.run-in-running-loop", "asyncio", "builtins.RuntimeError",
        r"asyncio\.run\(\) cannot be called from a running event loop"
        r"|This event loop is already running"
        r"|Cannot run the event loop while another loop is running",
        "A synchronous wrapper started an event loop from code already running in one (a sync "
        "invoke() called from an async handler or callback).",
        "Call the async API (await ...ainvoke()) from async code.",
        from_overlap=False, nested_loop=True,
    ),
    _sig(
        "asyncio.coroutine-reused", "asyncio", "builtins.RuntimeError",
        r"cannot reuse already awaited coroutine",
        "One coroutine object was awaited twice: a coroutine (not a function making them) was "
        "stored and shared between callers.",
        "Share the coroutine function and call it per use, or share a Task and await that.",
    ),
    _sig(
        "python.changed-during-iteration", "Python", "builtins.RuntimeError",
        r"(dictionary|dictionary keys|Set|deque|OrderedDict) (changed size|mutated) during "
        r"iteration",
        "A shared container was modified while being iterated: another thread (or a callback "
        "of the iteration) changed an object's state under it.",
        "Iterate over a copy, or guard the shared state with a lock; better, do not share it.",
    ),
)


def _type_matches(wanted: str, actual: str) -> bool:
    """Same class name, and the same top-level package (a class re-exported from a package's
    `__init__` is defined in a private module: `autogen_agentchat.base._termination`). A bare
    actual name (no module known) matches on the name alone."""
    wanted_module, _, wanted_name = wanted.rpartition(".")
    actual_module, _, actual_name = actual.rpartition(".")
    if actual_name != wanted_name:
        return False
    if not actual_module or actual_module == wanted_module:
        return True
    return actual_module.partition(".")[0] == wanted_module.partition(".")[0]


def match(error_type: str | None, message: str | None) -> KnownError | None:
    """The known error a run's exception (qualified type, message) is, or None.

    With no type, the message alone decides; with no message, nothing matches.
    """
    if not message:
        return None
    for signature in SIGNATURES:
        if error_type is not None and not _type_matches(signature.error_type, error_type):
            continue
        if signature.pattern.search(message):
            return signature
    return None

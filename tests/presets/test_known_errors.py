"""Known framework errors: each signature against the message the framework really raises."""

from __future__ import annotations

import asyncio
import importlib.util
import sqlite3
from pathlib import Path

import pytest
from racetrace.analyzers.findings import known_errors
from racetrace.analyzers.findings.known_errors import SIGNATURES, match

# (signature id, error type as the tracer records it, the message as raised, the source of the
# message: top-level package, text it contains). Messages copied from the framework versions
# the presets were tested with; `test_messages_still_exist_in_the_installed_frameworks` checks
# they are still what the installed versions say.
FRAMEWORK_MESSAGES = [
    ("autogen.team-already-running", "builtins.ValueError",
     "The team is already running, it cannot run again until it is stopped.", "autogen_agentchat"),
    ("autogen.team-reset-while-running", "builtins.RuntimeError",
     "The group chat is currently running. It must be stopped before it can be reset.",
     "autogen_agentchat"),
    ("autogen.team-load-while-running", "builtins.RuntimeError",
     "The team cannot be loaded while it is running.", "autogen_agentchat"),
    ("autogen.runtime-already-started", "builtins.RuntimeError",
     "Runtime is already started", "autogen_core"),
    ("autogen.runtime-not-started", "builtins.RuntimeError", "Runtime is not started",
     "autogen_core"),
    ("autogen.agent-type-exists", "builtins.ValueError",
     "Agent with type assistant already exists.", "autogen_core"),
    ("autogen.agent-bound-elsewhere", "builtins.RuntimeError",
     "Agent is already bound to a different runtime", "autogen_core"),
    ("autogen.termination-reached",
     "autogen_agentchat.base._termination.TerminatedException",
     "Termination condition has already been reached", "autogen_agentchat"),
    ("openai-agents.run-sync-in-event-loop", "builtins.RuntimeError",
     "AgentRunner.run_sync() cannot be called when an event loop is already running.",
     "agents"),
    ("openai-agents.tools-changed-during-concurrent-runs", "agents.exceptions.UserError",
     "Agent.tools changed while concurrent runs were using the same Agent. Use a separate "
     "agent per run, for example agent.clone(tools=[*agent.tools]), or keep Agent.tools "
     "unchanged and use context-based tool enablement.", "agents"),
    ("openai-agents.session-write-in-progress", "agents.exceptions.UserError",
     "The pending Session write is already in progress for this RunState", "agents"),
    ("langgraph.concurrent-graph-update", "langgraph.errors.InvalidUpdateError",
     "At key 'answer': Can receive only one value per step. Use an Annotated key to handle "
     "multiple values.\nFor troubleshooting, visit: https://docs.langchain.com/oss/python/"
     "langgraph/errors/INVALID_CONCURRENT_GRAPH_UPDATE", "langgraph"),
]


@pytest.mark.parametrize(("expected", "error_type", "message", "package"), FRAMEWORK_MESSAGES)
def test_framework_messages_are_known(expected: str, error_type: str, message: str,
                                      package: str) -> None:
    known = match(error_type, message)
    assert known is not None and known.id == expected
    assert known.meaning and known.fix and known.framework


@pytest.mark.parametrize(("expected", "error_type", "message", "package"), FRAMEWORK_MESSAGES)
def test_messages_still_exist_in_the_installed_frameworks(expected: str, error_type: str,
                                                         message: str, package: str) -> None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{package} is not installed")
    # The fixed part of the message, as written in the source (f-strings keep their text).
    fixed = {
        "autogen.agent-type-exists": "already exists.",
        "langgraph.concurrent-graph-update": "Can receive only one value per step.",
        "openai-agents.tools-changed-during-concurrent-runs":
            "Agent.tools changed while concurrent runs were using the same Agent. ",
    }.get(expected, message)
    sources = Path(next(iter(spec.submodule_search_locations))).rglob("*.py")
    assert any(fixed in path.read_text(errors="replace") for path in sources), fixed


def test_the_type_must_agree() -> None:
    message = "The team is already running, it cannot run again until it is stopped."
    assert match("builtins.ValueError", message) is not None
    assert match("ValueError", message) is not None  # a bare name, as some exporters write it
    assert match("builtins.RuntimeError", message) is None
    assert match("myapp.errors.ValueError", message) is None  # another package's ValueError
    assert match(None, message) is not None  # no type known: the message decides


def test_nothing_matches_without_a_message_or_on_unrelated_errors() -> None:
    assert match("builtins.ValueError", None) is None
    assert match("builtins.ValueError", "") is None
    assert match("builtins.ValueError", "invalid literal for int() with base 10: 'x'") is None
    assert match("builtins.KeyError", "'thread_id'") is None


def test_signatures_are_well_formed() -> None:
    ids = [s.id for s in SIGNATURES]
    assert len(ids) == len(set(ids))
    for signature in SIGNATURES:
        assert "." in signature.error_type, signature.id
        assert signature.pattern.pattern, signature.id
        assert signature.meaning.endswith(")") or signature.meaning.endswith("."), signature.id
        assert signature.fix.endswith("."), signature.id


def test_the_module_is_standalone() -> None:
    source = Path(known_errors.__file__).read_text()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert imports == ["from __future__ import annotations", "import re",
                       "from dataclasses import dataclass, field"]


# Python's and asyncio's own errors, raised for real here.

def caught(action) -> BaseException:  # type: ignore[no-untyped-def]
    try:
        action()
    except BaseException as exc:
        return exc
    raise AssertionError("nothing was raised")


def recorded(exc: BaseException) -> tuple[str, str]:
    """(type, message) as the tracer records an exception."""
    return f"{type(exc).__module__}.{type(exc).__qualname__}", str(exc)


def test_generator_advanced_from_two_threads() -> None:
    def stream():
        yield next(shared)  # re-entering the running generator, as a second thread would

    shared = stream()
    exc = caught(lambda: next(shared))
    assert match(*recorded(exc)).id == "python.generator-already-executing"  # type: ignore[union-attr]


def test_async_generator_iterated_by_two_tasks() -> None:
    async def stream():
        await asyncio.sleep(0.01)
        yield 1

    async def main() -> BaseException:
        shared = stream()
        first = asyncio.ensure_future(shared.__anext__())
        await asyncio.sleep(0)
        try:
            await shared.__anext__()
        except RuntimeError as exc:
            await first
            return exc
        raise AssertionError("no error")

    exc = asyncio.run(main())
    assert match(*recorded(exc)).id == "asyncio.async-generator-already-running"  # type: ignore[union-attr]


def test_loop_bound_object_used_from_another_loop() -> None:
    shared = asyncio.Event()  # a singleton's event, lock or queue, made at import time

    async def first_loop() -> None:
        waiter = asyncio.ensure_future(shared.wait())  # binds it to this loop
        await asyncio.sleep(0)
        waiter.cancel()

    async def second_loop() -> None:  # another thread's or another asyncio.run()'s
        await shared.wait()

    asyncio.run(first_loop())
    exc = caught(lambda: asyncio.run(second_loop()))
    assert match(*recorded(exc)).id == "asyncio.different-loop"  # type: ignore[union-attr]


def test_sync_wrapper_starting_a_loop_inside_a_loop() -> None:
    async def inner() -> None:
        return None

    async def main() -> BaseException:
        coroutine = inner()
        try:
            asyncio.run(coroutine)
        except RuntimeError as exc:
            coroutine.close()
            return exc
        raise AssertionError("no error")

    known = match(*recorded(asyncio.run(main())))
    assert known is not None and known.id == "asyncio.run-in-running-loop"
    assert not known.from_overlap


def test_coroutine_awaited_twice() -> None:
    async def work() -> int:
        return 1

    async def main() -> BaseException:
        shared = work()
        await shared
        try:
            await shared
        except RuntimeError as exc:
            return exc
        raise AssertionError("no error")

    assert match(*recorded(asyncio.run(main()))).id == "asyncio.coroutine-reused"  # type: ignore[union-attr]


def test_container_changed_during_iteration() -> None:
    state = {"a": 1}

    def iterate() -> None:
        for key in state:
            state[key + "!"] = 2  # a callback (or another thread) changing shared state

    assert match(*recorded(caught(iterate))).id == "python.changed-during-iteration"  # type: ignore[union-attr]


def test_sqlite_database_locked(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    first = sqlite3.connect(path, timeout=0)
    first.execute("create table t (x)")
    first.commit()
    first.execute("begin exclusive")
    second = sqlite3.connect(path, timeout=0)
    exc = caught(lambda: second.execute("insert into t values (1)"))
    first.rollback()
    first.close()
    second.close()
    assert match(*recorded(exc)).id == "sqlite.database-locked"  # type: ignore[union-attr]


def test_langgraph_parallel_branches_writing_one_key() -> None:
    pytest.importorskip("langgraph")
    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict):
        answer: str

    builder = StateGraph(State)
    builder.add_node("left", lambda state: {"answer": "left"})
    builder.add_node("right", lambda state: {"answer": "right"})
    builder.add_edge(START, "left")
    builder.add_edge(START, "right")
    builder.add_edge("left", END)
    builder.add_edge("right", END)
    graph = builder.compile()
    exc = caught(lambda: graph.invoke({"answer": ""}))
    known = match(*recorded(exc))
    assert known is not None and known.id == "langgraph.concurrent-graph-update"

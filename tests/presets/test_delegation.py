"""One run or two: decided by whose code stands between two calls on one instance.

A function installed on the instance (or its class) under the name of the method it wraps (a
spy, `patch.object(..., wraps=...)`) is that method: the framework's own `astream_events ->
astream` stays one run. A callback stored under another name (`agent.on_reply = handler`)
is the user's code: calling `run()` from it while the first run is active is re-entrance.
Real programs, traced in a subprocess as users trace them.
"""

from __future__ import annotations

import pytest
from preset_helpers import Scenarios, overlap_findings

AGENT = """
    import asyncio

    class Agent:
        on_reply = None  # a callback slot, set by the user: not a method of the class

        def __init__(self):
            self.history = []

        async def run(self, task):
            replies = []
            async for reply in self.run_stream(task):
                replies.append(reply)
                if self.on_reply is not None:
                    await self.on_reply(reply)
            return replies

        async def run_stream(self, task):
            for step in range(2):
                await asyncio.sleep(0.02)
                self.history.append(f"{task} {step}")
                yield f"{task} step {step}"

    class Relay:
        '''Another class of the same module: its methods are not the agent's.'''

        def __init__(self, agent):
            self.agent = agent

        async def on_reply(self, reply):
            if "step 0" in reply and "again" not in reply:
                await self.agent.run("again")
"""
TARGETS = {"RACETRACE_TARGETS": "agent:Agent.run,agent:Agent.run_stream"}


def _program(scenarios: Scenarios, main: str):
    scenarios.root.joinpath("agent.py").write_text(__import__("textwrap").dedent(AGENT))
    return scenarios.program(main, env=TARGETS).check()


def _warnings(done) -> list[dict]:
    return [f for f in done.findings() if f["severity"] in ("warning", "error")]


def test_a_spy_installed_under_the_methods_name_is_that_method(scenarios: Scenarios) -> None:
    done = _program(scenarios, """
        import asyncio, functools
        from unittest import mock
        from agent import Agent

        async def main():
            agent = Agent()
            original = agent.run_stream
            calls = []

            def recorder(*args, **kwargs):  # a test's spy: records, then calls the original
                calls.append(args)
                return original(*args, **kwargs)

            agent.run_stream = recorder
            await agent.run("spied")
            del agent.run_stream
            with mock.patch.object(agent, "run_stream", wraps=agent.run_stream):
                await agent.run("wrapped")
            with mock.patch.object(Agent, "run_stream", autospec=True,
                                   side_effect=Agent.run_stream):
                await agent.run("autospec")
            # What pytest-mock's `mocker.spy(agent, "run_stream")` installs on the instance.
            method = agent.run_stream

            @functools.wraps(method)
            def wrapper(*args, **kwargs):
                return method(*args, **kwargs)

            with mock.patch.object(agent, "run_stream", side_effect=wrapper, autospec=True):
                await agent.run("mocker.spy")
            print(len(calls), len(agent.history))

        asyncio.run(main())
    """)
    assert done.stdout.split() == ["1", "8"]
    assert done.methods() == ["Agent.run"] * 4  # run_stream is each run's own delegation
    assert done.findings() == []


def test_a_callback_stored_under_another_name_is_the_users_reentrant_run(
    scenarios: Scenarios,
) -> None:
    done = _program(scenarios, """
        import asyncio
        from agent import Agent

        async def main():
            agent = Agent()

            async def handler(reply):  # the user's callback, stored on the agent
                if "step 0" in reply and "again" not in reply:
                    await agent.run("again")

            agent.on_reply = handler
            await agent.run("first")

        asyncio.run(main())
    """)
    assert done.methods() == ["Agent.run", "Agent.run"]
    outer, inner = done.runs()
    assert inner["parent_run_id"] == outer["run_id"]
    (finding,) = _warnings(done)
    assert finding["kind"] == "reentrant" and finding["run_count"] == 2


def test_a_method_of_another_class_in_the_agents_module_is_not_the_agents_code(
    scenarios: Scenarios,
) -> None:
    # Only methods bound to the same instance delegate for a target the user named: a
    # neighbour class in the same file is someone else's code.
    done = _program(scenarios, """
        import asyncio
        from agent import Agent, Relay

        async def main():
            agent = Agent()
            agent.on_reply = Relay(agent).on_reply
            await agent.run("first")

        asyncio.run(main())
    """)
    assert done.methods() == ["Agent.run", "Agent.run"]
    (finding,) = _warnings(done)
    assert finding["kind"] == "reentrant"


GRAPH = """
    import asyncio
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict):
        n: int

    async def bump(state):
        await asyncio.sleep(0.01)
        return {"n": state["n"] + 1}

    builder = StateGraph(State)
    builder.add_node("bump", bump)
    builder.add_edge(START, "bump")
    builder.add_edge("bump", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t1"}}
"""


def test_langgraph_astream_events_through_a_spied_astream_is_one_run(
    scenarios: Scenarios,
) -> None:
    pytest.importorskip("langgraph.checkpoint.memory")
    done = scenarios.program(GRAPH + """
    seen = []
    original = graph.astream

    def recorder(*args, **kwargs):  # LangGraph's own tests spy on astream like this
        seen.append(kwargs.get("stream_mode"))
        return original(*args, **kwargs)

    async def main():
        graph.astream = recorder
        events = [e async for e in graph.astream_events({"n": 1}, config, version="v2")]
        print(len(seen), events[-1]["event"])

    asyncio.run(main())
    """).check()
    assert done.stdout.split() == ["1", "on_chain_end"]
    graphs = [r for r in done.runs() if r["method"].startswith("langgraph.")]
    assert [r["method"].rsplit(".", 1)[-1] for r in graphs] == ["astream_events"]
    assert graphs[0]["resource_key"] == "langgraph/thread/t1"
    assert overlap_findings(done) == []

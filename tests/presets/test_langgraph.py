"""The LangGraph preset on LangGraph itself, offline (a fake chat model, InMemorySaver)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("langgraph")
pytest.importorskip("langgraph.checkpoint.memory")

from preset_helpers import Scenarios, overlap_findings, overlapping_pairs

THREAD = "langgraph/thread/user-7"


def test_two_graphs_on_one_thread_at_once_overlap_on_the_thread(scenarios: Scenarios) -> None:
    done = scenarios.sample("langgraph_shared_thread").check()
    assert "thread user-7 holds 2 messages; 4 were exchanged" in done.stdout  # the lost update
    runs = done.runs()
    graphs = done.runs_of("Pregel.ainvoke")
    models = done.runs_of("BaseChatModel.ainvoke")
    assert len(runs) == len(graphs) + len(models) == 4
    assert len({r["instance_key"] for r in graphs}) == 2  # a graph per request...
    assert {r["resource_key"] for r in graphs} == {THREAD}  # ...on one thread
    assert all(r["resource_key"] is None for r in models)
    assert [m["parent_run_id"] for m in models] == [g["run_id"] for g in graphs]
    assert overlapping_pairs(graphs) == 0
    assert overlapping_pairs(graphs, "resource_key") == 1
    assert overlapping_pairs(models) == 1  # the shared, stateless model
    by_key = {f["instance"]["key"]: f for f in overlap_findings(done)}
    assert set(by_key) == {THREAD, models[0]["instance_key"]}
    thread = by_key[THREAD]
    assert (thread["kind"], thread["key_kind"]) == ("concurrent", "resource")
    assert (thread["run_count"], thread["pair_count"]) == (2, 1)
    assert by_key[models[0]["instance_key"]]["severity"] == "info"


def test_one_run_at_a_time_per_thread_has_no_findings(scenarios: Scenarios) -> None:
    done = scenarios.sample("langgraph_shared_thread_fixed").check()
    assert "thread user-7 holds 4 messages" in done.stdout
    runs = done.runs()
    assert done.methods() == ["Pregel.ainvoke", "BaseChatModel.ainvoke"] * 2
    assert overlapping_pairs(runs) == 0
    assert overlapping_pairs(runs, "resource_key") == 0
    assert done.findings() == []


SHAPES = """
    import asyncio, json, time
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict):
        n: int

    def bump(state):
        return {"n": state["n"] + 1}

    def build(checkpointer=None, child=None):
        builder = StateGraph(State)
        builder.add_node("bump", bump)
        builder.add_edge(START, "bump")
        last = "bump"
        if child is not None:
            builder.add_node("child", child)
            builder.add_edge("bump", "child")
            last = "child"
        builder.add_edge(last, END)
        return builder.compile(checkpointer=checkpointer)

    async def main():
        saver = InMemorySaver()
        graph = build(saver)
        config = {"configurable": {"thread_id": "t1"}}
        done = {}
        graph.invoke({"n": 0}, config); done["invoke"] = time.time_ns()  # -> stream
        list(graph.stream({"n": 0}, config)); done["stream"] = time.time_ns()
        await graph.ainvoke({"n": 0}, config); done["ainvoke"] = time.time_ns()  # -> astream
        [c async for c in graph.astream({"n": 0}, config)]; done["astream"] = time.time_ns()
        [e async for e in graph.astream_events({"n": 0}, config, version="v2")]
        done["astream_events"] = time.time_ns()  # -> astream, in a task of its own
        build().invoke({"n": 0}, config); done["no checkpointer"] = time.time_ns()
        parent = build(saver, child=build())  # the graph runs its subgraph itself
        parent.invoke({"n": 0}, {"configurable": {"thread_id": "t2"}})
        done["subgraph"] = time.time_ns()
        sub = build()

        def call_sub(state, config):  # the user's node code invokes a subgraph
            return sub.invoke(state, config)

        caller = build(saver, child=call_sub)
        caller.invoke({"n": 0}, {"configurable": {"thread_id": "t3"}})
        done["node calls subgraph"] = time.time_ns()
        print(json.dumps(done))

    asyncio.run(main())
"""


def test_graph_runs_keys_and_subgraphs(scenarios: Scenarios) -> None:
    done = scenarios.program(SHAPES).check()
    returned = json.loads(done.stdout.splitlines()[-1])
    runs = done.runs()
    users = [r for r in runs if r["parent_run_id"] is None]
    assert [r["method"].rsplit(".", 1)[1] for r in users] == [
        "invoke", "stream", "ainvoke", "astream", "astream_events", "invoke", "invoke", "invoke",
    ]
    for run, call in zip(users, returned, strict=True):
        assert run["status"] == "ok" and run["end_ns"] <= returned[call], (call, run)
    keys = [r["resource_key"] for r in users]
    assert keys == ["langgraph/thread/t1"] * 5 + [
        None, "langgraph/thread/t2", "langgraph/thread/t3"]
    # A subgraph the graph runs itself is part of its run; one the user's node invokes is a
    # run inside it, in the parent's thread: no key of its own.
    (child,) = [r for r in runs if r["parent_run_id"] is not None]
    assert child["parent_run_id"] == users[-1]["run_id"]
    assert child["method"].endswith("Pregel.invoke") and child["resource_key"] is None
    assert len(runs) == 9  # no runs for LangGraph's own node runnables
    assert overlapping_pairs(runs) == 0
    assert overlapping_pairs(runs, "resource_key") == 0
    assert done.findings() == []


ONE_GRAPH = """
    import asyncio
    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, MessagesState, StateGraph

    def make_model():
        return FakeListChatModel(responses=["ok"], sleep=0.05)

    async def respond(state, config):
        model = make_model()  # per call: no shared model in this program
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("respond", respond)
    builder.add_edge(START, "respond")
    builder.add_edge("respond", END)
    GRAPH = builder.compile(checkpointer=InMemorySaver())  # one graph for the service: fine

    async def ask(thread):
        await GRAPH.ainvoke({"messages": [("user", "hi")]},
                            {"configurable": {"thread_id": thread}})

    async def main():
        await asyncio.gather(ask("alice"), ask("bob"), ask("bob"))

    asyncio.run(main())
"""


def test_one_graph_serving_threads_overlaps_only_on_the_thread_used_twice(
    scenarios: Scenarios,
) -> None:
    done = scenarios.program(ONE_GRAPH).check()
    graphs = done.runs_of("Pregel.ainvoke")
    assert len(graphs) == 3 and len({r["instance_key"] for r in graphs}) == 1
    assert [r["resource_key"] for r in graphs] == [
        "langgraph/thread/alice", "langgraph/thread/bob", "langgraph/thread/bob",
    ]
    assert overlapping_pairs(graphs) == 3  # the graph object: stateless, expected
    assert overlapping_pairs(graphs, "resource_key") == 1  # thread "bob": the bug
    (graph_finding,) = [f for f in overlap_findings(done)
                        if f["instance"]["key"] == graphs[0]["instance_key"]]
    assert (graph_finding["severity"], graph_finding["pair_count"]) == ("info", 3)

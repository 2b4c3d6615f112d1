"""A batch call fans out: one run on the graph, a run per input on that input's thread.

A compiled LangGraph graph's `abatch`/`batch` calls `ainvoke`/`invoke` on itself once per input,
each with its own config. Delegation merges runs on one object, so each input is part of the
batch run on the graph; but an input naming a thread is a run on that thread, and two inputs
on one thread are a lost update. Real graphs with an InMemorySaver, offline.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import jsonschema
import pytest
from preset_helpers import Scenarios, clean_environ, overlap_findings, racetrace_cli

pytest.importorskip("langgraph.checkpoint.memory")

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "analyzers/findings/report.schema.json").read_text()
)

GRAPH = """
    import asyncio, time
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict):
        n: int

    async def abump(state):
        await asyncio.sleep(0.05)
        return {"n": state["n"] + 1}

    def bump(state):
        time.sleep(0.05)
        return {"n": state["n"] + 1}

    def compiled(node):
        builder = StateGraph(State)
        builder.add_node("bump", node)
        builder.add_edge(START, "bump")
        builder.add_edge("bump", END)
        return builder.compile(checkpointer=InMemorySaver())

    def on(thread):
        return {"configurable": {"thread_id": thread}}
"""


def _batch_and_fan_outs(runs: list[dict], method: str) -> tuple[dict, list[dict]]:
    (batch,) = [r for r in runs if r["method"].endswith(method)]
    fan_outs = [r for r in runs if r["fan_out_of"] is not None]
    assert {r["fan_out_of"] for r in fan_outs} == {batch["run_id"]}
    assert all(r["instance_key"] == batch["instance_key"] for r in fan_outs)
    # Called from the batch's plumbing; the user's line is the batch call.
    assert batch["callsite"].rsplit("/", 1)[-1].startswith("main.py:")
    assert {r["callsite"] for r in fan_outs} == {batch["callsite"]}
    return batch, fan_outs


def test_abatch_on_one_thread_twice_is_a_lost_update_on_the_thread(
    scenarios: Scenarios,
) -> None:
    done = scenarios.program(GRAPH + """
    graph = compiled(abump)
    out = asyncio.run(graph.abatch([{"n": 1}, {"n": 10}, {"n": 100}],
                                   [on("t1"), on("t1"), on("t2")]))
    print([o["n"] for o in out])
    """).check()
    assert done.stdout.split("\n")[0] == "[2, 11, 101]"
    batch, fan_outs = _batch_and_fan_outs(done.runs(), ".abatch")
    assert batch["resource_key"] is None
    assert sorted(r["resource_key"] for r in fan_outs) == [
        "langgraph/thread/t1", "langgraph/thread/t1", "langgraph/thread/t2"]
    assert all(r["method"].endswith("Pregel.ainvoke") for r in fan_outs)

    report = done.report()
    jsonschema.validate(report, SCHEMA)
    # On the graph, the inputs are the batch run's own work: nothing overlaps there.
    (finding,) = overlap_findings(done)
    assert (finding["key_kind"], finding["instance"]["key"]) == ("resource", "langgraph/thread/t1")
    assert finding["kind"] == "concurrent" and finding["severity"] == "warning"
    assert (finding["run_count"], finding["pair_count"]) == (2, 1)
    assert {r["fan_out_of"] for r in finding["runs"]} == {batch["run_id"]}

    text = racetrace_cli("report", str(done.trace_dir))
    assert f"fan-out of run {batch['run_id']}" in text.stdout


def test_sync_batch_under_the_langgraph_preset_alone_fans_out_on_threads(
    scenarios: Scenarios,
) -> None:
    done = scenarios.program(GRAPH + """
    graph = compiled(bump)
    print(graph.batch([{"n": 1}, {"n": 2}], [on("s1"), on("s1")]))
    """, env={"RACETRACE": "langgraph"}).check()
    _, fan_outs = _batch_and_fan_outs(done.runs(), "Pregel.batch")
    assert len(fan_outs) == 2 and {r["thread"]["id"] for r in fan_outs} != {None}
    (finding,) = overlap_findings(done)
    assert (finding["key_kind"], finding["instance"]["key"]) == ("resource", "langgraph/thread/s1")
    assert finding["run_count"] == 2


def test_abatch_on_distinct_threads_records_fan_outs_and_finds_nothing(
    scenarios: Scenarios,
) -> None:
    done = scenarios.program(GRAPH + """
    graph = compiled(abump)
    asyncio.run(graph.abatch([{"n": 1}, {"n": 2}, {"n": 3}], [on("a"), on("b"), on("c")]))
    """).check()
    _, fan_outs = _batch_and_fan_outs(done.runs(), ".abatch")
    assert len(fan_outs) == 3
    assert done.findings() == []


def test_the_timeline_shows_fan_outs_on_their_thread_only(scenarios: Scenarios) -> None:
    from racetrace.analyzers.core.load import load
    from racetrace.tui.lanes import build_lanes

    done = scenarios.program(GRAPH + """
    graph = compiled(abump)
    asyncio.run(graph.abatch([{"n": 1}, {"n": 2}], [on("t1"), on("t1")]))
    """).check()
    lanes = build_lanes(load([done.trace_dir])).lanes
    (thread,) = [lane for lane in lanes if lane.is_resource]
    assert (thread.key, len(thread.runs), thread.fan_outs) == ("langgraph/thread/t1", 2, 2)
    (graph,) = [lane for lane in lanes if lane.runs[0].method.endswith(".abatch")]
    assert len(graph.runs) == 1  # the batch run; its inputs are part of it on the graph


def test_a_failed_fan_out_run_is_not_a_second_failure_of_the_graph(
    scenarios: Scenarios,
) -> None:
    done = scenarios.program(GRAPH + """
    async def picky(state):
        await asyncio.sleep(0.01)
        if state["n"] == 10:
            raise ValueError("no tens")
        return {"n": state["n"] + 1}

    graph = compiled(picky)
    try:
        asyncio.run(graph.abatch([{"n": 1}, {"n": 10}], [on("a"), on("b")]))
    except ValueError:
        print("failed")
    """).check()
    assert done.stdout.strip() == "failed"
    batch, fan_outs = _batch_and_fan_outs(done.runs(), ".abatch")
    assert batch["status"] == "error"
    assert [r["status"] for r in fan_outs if r["resource_key"] == "langgraph/thread/b"] == [
        "error"]
    report = done.report()
    (graph,) = [i for i in report["instances"]
                if (i["key"], i["key_kind"]) == (batch["instance_key"], "instance")]
    assert graph["errors"] == 1  # the batch run's own failure, once


def test_an_open_fan_out_run_is_unfinished_on_one_core_or_two(tmp_path: Path) -> None:
    program = tmp_path / "main.py"
    program.write_text(textwrap.dedent(GRAPH + """
    import sys

    async def hang(state):
        print("waiting", flush=True)
        await asyncio.sleep(3600)

    asyncio.run(compiled(hang).abatch([{"n": 1}], [on("h")]))
    """))
    directory = tmp_path / "traces"
    env = clean_environ({"RACETRACE": "1", "RACETRACE_DIR": str(directory)})
    child = subprocess.Popen([sys.executable, str(program)], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "waiting"
        for _ in range(600):  # the fan-out run's START line, then kill it as a supervisor would
            files = list(directory.rglob("*.jsonl"))
            if files and b"racetrace.fan_out_of" in files[0].read_bytes():
                break
            time.sleep(0.05)
    finally:
        child.kill()
        child.wait()
    for jobs in ("1", "2"):
        done = racetrace_cli("report", str(directory), "-j", jobs, "--json", "-")
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        jsonschema.validate(report, SCHEMA)
        # The batch run on the graph and its input on the thread: two open runs.
        assert report["summary"]["unfinished_runs"] == 2
        assert "langgraph/thread/h" in {f["instance"]["key"] for f in report["findings"]
                                        if f["kind"] == "unfinished"}

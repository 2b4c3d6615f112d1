"""Periodic needs evidence of a timer; runs kept apart by design are not latent. Real asyncio and
threading programs, traced in a subprocess under `racetrace run` (RACETRACE=1), as users do."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
TARGETS = ("agentlib:Agent.run", "agentlib:Agent.run_stream", "agentlib:Team.run")


@pytest.fixture
def traced(tmp_path: Path, cli, analyzed) -> Callable[..., Any]:
    """`traced(source, *targets)`: run `source` as a program traced with agentlib's targets
    (plus `targets`, classes of a `shared.py` written beside it), and return its report."""

    def run(source: str, *targets: str) -> Any:
        (tmp_path / "main.py").write_text(textwrap.dedent(source))
        directory = tmp_path / "traces"
        args = ["run", "-q", "-d", str(directory)]  # -q: the report is read below
        for target in (*TARGETS, *targets):
            args += ["-t", target]
        done = cli(*args, "--", sys.executable, str(tmp_path / "main.py"), cwd=tmp_path,
                   env={"PYTHONPATH": os.pathsep.join([str(SAMPLES), str(tmp_path)])})
        assert done.returncode == 0, done.stderr
        assert not [line for line in done.stderr.splitlines()
                    if line.startswith("racetrace:")], done.stderr
        return analyzed([directory])

    return run


def kinds(report: Any) -> list[str]:
    return sorted(f.kind for f in report.findings)


# -- periodic: one creator at a period ---------------------------------------------------------
def test_gathered_handlers_that_start_staggered_are_concurrent_not_periodic(traced) -> None:
    report = traced("""
        import asyncio
        from agentlib import Agent, FakeModel

        agent = Agent("support", FakeModel(latency=0.1))

        async def handle(i):
            await asyncio.sleep(i * 0.05)  # a load test: requests at a steady rate
            return await agent.run(f"request {i}")

        async def main():
            await asyncio.gather(*(handle(i) for i in range(6)))

        asyncio.run(main())
    """)
    (finding,) = report.findings
    assert (finding.kind, finding.severity) == ("concurrent", "warning")
    assert finding.run_count == 6
    assert "timer" not in finding.explanation and "timer" not in finding.fix
    # The evidence read: six tasks created together, by one task.
    runs = report.trace.runs
    created = sorted(r.task_created_ns for r in runs)
    assert created[-1] - created[0] < 10_000_000
    assert len({r.task_created_by_task for r in runs}) == 1


def test_a_timer_loop_creating_a_task_per_tick_is_periodic(traced) -> None:
    report = traced("""
        import asyncio
        from agentlib import Agent, FakeModel

        digest = Agent("digest", FakeModel(latency=0.2))

        async def job(tick):
            await digest.run(f"digest #{tick}")

        async def timer():
            jobs = []
            while len(jobs) < 6:
                jobs.append(asyncio.create_task(job(len(jobs))))
                await asyncio.sleep(0.1)
            await asyncio.gather(*jobs)

        asyncio.run(timer())
    """)
    (finding,) = report.findings
    assert (finding.kind, finding.run_count) == ("periodic", 6)
    assert "every" in finding.explanation


def test_a_timer_thread_starting_a_thread_per_tick_is_periodic(traced, tmp_path) -> None:
    (tmp_path / "shared.py").write_text(textwrap.dedent("""
        import time

        class Store:
            def save(self, n):
                time.sleep(0.25)
    """))
    report = traced("""
        import threading, time
        from shared import Store

        store = Store()
        threads = []
        for tick in range(5):
            threads.append(threading.Thread(target=store.save, args=(tick,)))
            threads[-1].start()
            time.sleep(0.1)
        for thread in threads:
            thread.join()
    """, "shared:Store.save")
    (finding,) = report.findings
    assert (finding.kind, finding.run_count) == ("periodic", 5)
    assert all(r.thread_started_ns is not None for r in report.trace.runs)


# -- latent: independent users only ------------------------------------------------------------
def test_a_task_per_request_stays_latent_even_when_the_caller_awaits_each(traced) -> None:
    report = traced("""
        import asyncio
        from agentlib import Agent

        AGENT = Agent("support")

        async def handle(i):
            return await AGENT.run(f"request {i}")

        async def serve():
            for i in range(4):  # today one at a time; a server would not wait
                await asyncio.create_task(handle(i), name=f"request-{i}")

        asyncio.run(serve())
    """)
    (finding,) = report.findings
    assert (finding.kind, finding.severity) == ("latent", "info")
    assert finding.details["contexts"] == 4
    assert not any(i.serialized for i in report.instances)


def test_runs_awaited_one_after_another_in_one_task_are_ordered(traced) -> None:
    report = traced("""
        import asyncio
        from agentlib import Agent

        agent = Agent("planner")

        async def main():
            for step in range(3):
                await agent.run(f"step {step}")

        asyncio.run(main())
    """)
    assert report.findings == []


def test_independent_tasks_that_happened_not_to_overlap_are_latent(traced) -> None:
    report = traced("""
        import asyncio
        from agentlib import Agent, FakeModel

        agent = Agent("support", FakeModel(latency=0.01))

        async def handle(i):
            await asyncio.sleep(i * 0.2)  # far apart today: luck, nothing else
            return await agent.run(f"request {i}")

        async def main():
            await asyncio.gather(*(handle(i) for i in range(3)))

        asyncio.run(main())
    """)
    assert kinds(report) == ["latent"]


def test_threads_serialized_by_a_lock_are_not_latent(traced, tmp_path, cli) -> None:
    (tmp_path / "shared.py").write_text(textwrap.dedent("""
        import time

        class Store:
            def save(self, n):
                time.sleep(0.03)
    """))
    report = traced("""
        import threading
        from shared import Store

        store, lock = Store(), threading.Lock()

        def worker(n):
            with lock:
                store.save(n)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    """, "shared:Store.save")
    assert report.findings == []
    (instance,) = report.instances
    assert "3 started right after the previous run ended" in instance.serialized
    done = cli("report", str(tmp_path / "traces"), "-v")
    assert "NOTE: racetrace: serialized: Store" in done.stdout


def test_threads_that_happened_not_to_overlap_are_latent(traced, tmp_path) -> None:
    (tmp_path / "shared.py").write_text(textwrap.dedent("""
        import time

        class Store:
            def save(self, n):
                time.sleep(0.01)
    """))
    report = traced("""
        import threading, time
        from shared import Store

        store = Store()

        def worker(n):
            time.sleep(n * 0.15)
            store.save(n)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    """, "shared:Store.save")
    assert kinds(report) == ["latent"]


# -- a run's own child tasks -------------------------------------------------------------------
def test_autogen_team_run_again_and_again_has_no_latent_agents(traced) -> None:
    pytest.importorskip("autogen_agentchat")
    pytest.importorskip("autogen_ext.models.replay")
    report = traced("""
        import asyncio
        from autogen_agentchat.agents import AssistantAgent
        from autogen_agentchat.conditions import MaxMessageTermination
        from autogen_agentchat.teams import RoundRobinGroupChat
        from autogen_ext.models.replay import ReplayChatCompletionClient

        async def main():
            writer = AssistantAgent("writer", model_client=ReplayChatCompletionClient(
                ["draft 1", "draft 2", "draft 3"]))
            critic = AssistantAgent("critic", model_client=ReplayChatCompletionClient(
                ["ok 1", "ok 2", "ok 3"]))
            team = RoundRobinGroupChat([writer, critic],
                                       termination_condition=MaxMessageTermination(3))
            for n in range(3):  # one after the other: each turn in a task of the team run's
                await team.run(task=f"release note {n}")
                await team.reset()

        asyncio.run(main())
    """)
    runs = report.trace.runs
    agents = [r for r in runs if r.instance_label in ("writer", "critic")]
    assert len(agents) == 6 and len({r.task_key for r in agents}) > 2
    assert report.findings == []
    assert json.dumps([i.to_json() for i in report.instances])  # serializable as is


def test_langgraph_branches_staggered_by_their_own_sleep_are_concurrent(traced) -> None:
    pytest.importorskip("langgraph")
    report = traced("""
        import asyncio, operator
        from typing import Annotated, TypedDict
        from langgraph.graph import END, START, StateGraph

        class Sub(TypedDict):
            n: int

        async def work(state):
            await asyncio.sleep(0.12)
            return {"n": state["n"] + 1}

        sub = StateGraph(Sub)
        sub.add_node("work", work)
        sub.add_edge(START, "work")
        sub.add_edge("work", END)
        SUB = sub.compile()  # one subgraph, shared by the branches

        class State(TypedDict):
            done: Annotated[list, operator.add]

        def branch(i):
            async def node(state):
                await asyncio.sleep(i * 0.05)  # the node's own sleep staggers the branches
                out = await SUB.ainvoke({"n": i})
                return {"done": [out["n"]]}
            return node

        builder = StateGraph(State)
        for i in range(4):
            builder.add_node(f"b{i}", branch(i))
            builder.add_edge(START, f"b{i}")
            builder.add_edge(f"b{i}", END)
        GRAPH = builder.compile()

        asyncio.run(GRAPH.ainvoke({"done": []}))
    """)
    (finding,) = report.findings
    assert finding.kind == "concurrent" and finding.run_count == 4
    assert "timer" not in finding.explanation


# -- the columnar judgement agrees with the run-by-run one -------------------------------------
def test_serialized_on_the_columns_says_what_serialized_on_the_runs_says(
        traced, tmp_path, monkeypatch) -> None:
    """`ordering.serialized_rows` finds the runs of one flow of control and the handed-over
    runs on the table's columns; its answer is `serialized`'s, run by run on the views, for
    lanes kept apart by a lock (threads and tasks), by a timer, by one task awaiting each
    run, and for lanes apart by luck."""
    from racetrace.analyzers.core.load import trace_files
    from racetrace.analyzers.core.tableload import load_table
    from racetrace.analyzers.findings import ordering
    from racetrace.analyzers.findings.classify import Ancestry
    from racetrace.analyzers.findings.ordering import serialized, serialized_rows

    (tmp_path / "shared.py").write_text(textwrap.dedent("""
        import time

        class Store:
            def save(self, n):
                time.sleep(0.02)
    """))
    traced("""
        import asyncio, threading, time
        from agentlib import Agent, FakeModel
        from shared import Store

        store, lock = Store(), threading.Lock()
        planner = Agent("planner")
        ticker = Agent("ticker", FakeModel(latency=0.01))
        guarded = Agent("guarded", FakeModel(latency=0.01))
        lucky = Agent("lucky", FakeModel(latency=0.01))
        guard = asyncio.Lock()

        def worker(n):
            with lock:
                store.save(n)

        async def tick(n):
            await ticker.run(f"tick {n}")

        async def locked(n):
            async with guard:
                await guarded.run(f"job {n}")

        async def late(n):
            await asyncio.sleep(n * 0.12)
            await lucky.run(f"request {n}")

        async def main():
            for step in range(3):
                await planner.run(f"step {step}")
            ticks = []
            for n in range(4):
                ticks.append(asyncio.create_task(tick(n)))
                await asyncio.sleep(0.05)
            await asyncio.gather(*ticks, *(locked(n) for n in range(4)),
                                 *(late(n) for n in range(3)))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        asyncio.run(main())
    """, "shared:Store.save")
    table = load_table(trace_files([tmp_path / "traces"]))
    lanes = table.lanes()
    answers = []
    for lane in range(len(lanes)):
        rows = lanes.rows_of(lane)
        columns = serialized_rows(table, rows, table.runs(rows), Ancestry(table.lookup))
        runs = serialized(table.views_of(rows), Ancestry(table.lookup))
        assert columns == runs, table.instance_keys[lanes.keys[lane]]
        # Rows that are not a slice of the lanes' order: judged on their own columns.
        alone = serialized_rows(table, rows.copy(), table.runs(rows), Ancestry(table.lookup))
        assert alone == runs
        answers.append(runs)
    assert len(answers) == 5
    # The flags over the lanes' order worked out a few rows at a time: the same answers.
    monkeypatch.setattr(ordering, "_FLAGS_ROWS", 2)
    ordering._FLAGS.clear()
    for lane, expected in enumerate(answers):
        rows = lanes.rows_of(lane)
        assert serialized_rows(table, rows, table.runs(rows), Ancestry(table.lookup)) == expected
    # Every reason was met (a lock, one task, a timer), and luck.
    assert None in answers
    assert {r for a in answers if a is not None for r in a.reasons} == {
        "handed over", "one flow of control", "one timer"}


def test_the_analysis_keeps_nothing_of_its_lanes_flags_once_done(tmp_path: Path) -> None:
    # A viewer holds its table for its whole life: the lanes' flags worked out for the latent
    # rule (~2 bytes a run) must go with the analysis, and a second analysis say the same.
    import importlib.util

    from racetrace.analyzers.core.load import trace_files
    from racetrace.analyzers.core.tableload import load_table
    from racetrace.analyzers.findings import ordering
    from racetrace.analyzers.findings.analyze import analyze

    bench = Path(__file__).resolve().parents[2] / "benchmarks" / "analyzer_scale.py"
    spec = importlib.util.spec_from_file_location("analyzer_scale", bench)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_mixed(tmp_path, 4000, instances=40, processes=2)
    table = load_table(trace_files([tmp_path]))
    first = analyze(table)
    assert any(f.kind == "latent" for f in first.findings)
    assert table not in ordering._FLAGS
    second = analyze(table)
    assert [(f.kind, f.run_count) for f in second.findings] == [
        (f.kind, f.run_count) for f in first.findings]


def test_no_timer_on_the_columns_never_hides_a_timer_the_views_show(writer) -> None:
    """`classify.no_timer` lets the latent rule skip the views of a window of runs; wherever it
    says no timer started them, `timers` on their views agrees: ticks of one creator, ticks
    that vary too much, tasks without a creation time, two call sites, no call site, runs on
    threads."""
    from racetrace.analyzers.core.load import trace_files
    from racetrace.analyzers.core.tableload import load_table
    from racetrace.analyzers.findings.classify import no_timer, timers

    t0, ms = 1_780_000_000_000_000_000, 1_000_000
    w = writer()

    def tick(key: str, n: int, at: float, created: float | None, **kwargs: object) -> None:
        extra = {} if created is None else {"racetrace.task.created_ns": t0 + int(created * ms),
                                            "racetrace.task.created_by_task": "task/main"}
        w.run(at, at + 5, key=key, task=f"{key}-{n}", **extra, **kwargs)  # type: ignore[arg-type]

    for n in range(10):
        tick("timer/1", n, n * 100 + 1, n * 100)  # one creator, every 100 ms: a timer
        tick("jitter/1", n, n * 100 + 1, n * 100 + (60 if n % 2 else 0))
        tick("burst/1", n, n * 100 + 1, 0.001 * n)  # created together, started apart
        tick("unknown/1", n, n * 100 + 1, None)
        tick("sites/1", n, n * 100 + 1, n * 100, site=f"/app/main.py:{10 + n % 2}")
        tick("nosite/1", n, n * 100 + 1, n * 100, site=None)
        w.run(n * 100, n * 100 + 5, key="threads/1", thread=n + 2)
    table = load_table(trace_files([w.write()]))
    lanes = table.lanes()
    said = {}
    for lane in range(len(lanes)):
        rows = lanes.rows_of(lane)
        key = table.instance_keys[lanes.keys[lane]]
        if key == "timer/1":
            assert len(timers(table.views_of(rows[:8]))) == 8  # a real timer, in the views
        for lo in range(len(rows)):
            for size in (2, 3, 8):
                window = rows[lo: lo + size]
                if no_timer(table, window):
                    assert timers(table.views_of(window)) == {}, (key, lo, size)
                said.setdefault(key, set()).add(no_timer(table, window))
    assert said["timer/1"] == {True, False}  # True only for windows under three runs
    assert said["burst/1"] == said["unknown/1"] == said["nosite/1"] == {True}
    assert False in said["sites/1"] and False in said["threads/1"]

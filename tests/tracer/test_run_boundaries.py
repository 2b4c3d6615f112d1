"""One run, not many: delegation on one instance is one run; calls from elsewhere are separate.

Also the context each run records: task, thread, the user's call site, the parent run.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Programs, Tracing

AGENT = """
    import asyncio
    import time

    class Agent:
        def __init__(self, name):
            self.name = name
            self.on_message = None
            self.stamps = []  # when the delegated-to code did its work

        async def run(self, task):
            out = []
            async for message in self.run_stream(task):
                out.append(message)
                if self.on_message is not None:
                    await self.on_message(message)
            return out

        async def run_stream(self, task):
            for step in range(2):
                await asyncio.sleep(0.01)
                self.stamps.append(time.time_ns())
                yield f"{task}:{step}"

        def run_sync(self, task):
            return list(self.stream_sync(task))

        def stream_sync(self, task):
            yield task

    class Specialist(Agent):
        async def run(self, task):
            result = ["specialist"] + await super().run(task)
            self.stamps.append(time.time_ns())
            return result
"""

# Telling a module's own functions from its classes' methods needs code.co_qualname (3.11).
NEEDS_QUALNAME = pytest.mark.skipif(sys.version_info < (3, 11), reason="no co_qualname")

TARGETS = ("Agent.run", "Agent.run_stream", "Agent.run_sync", "Agent.stream_sync",
           "Specialist.run")


@pytest.fixture
def agents(tracing: Tracing):  # type: ignore[no-untyped-def]
    module = tracing.module(AGENT)
    tracing.instrument(module, *TARGETS)
    return module


def test_run_delegating_to_run_stream_on_the_same_instance_is_one_run(
    tracing: Tracing, agents  # type: ignore[no-untyped-def]
) -> None:
    agent = agents.Agent("a")
    assert asyncio.run(agent.run("t")) == ["t:0", "t:1"]
    assert agent.run_sync("s") == ["s"]
    runs = tracing.runs()
    assert [r.method.rsplit(".", 1)[1] for r in runs] == ["run", "run_sync"]
    assert all(r.status == "ok" for r in runs)
    # The one run spans the delegated-to work: the outer method's start and end.
    assert runs[0].start_ns < agent.stamps[0] < agent.stamps[-1] < runs[0].end_ns  # type: ignore[operator]


def test_super_run_from_a_traced_override_is_one_run_with_the_outer_bounds(
    tracing: Tracing, agents  # type: ignore[no-untyped-def]
) -> None:
    agent = agents.Specialist("s")
    result = asyncio.run(agent.run("t"))
    assert result == ["specialist", "t:0", "t:1"]
    [run] = tracing.runs()
    assert run.start_ns < agent.stamps[0] and agent.stamps[-1] <= run.end_ns  # type: ignore[operator]
    assert run.method == f"{agents.__name__}.Specialist.run"
    assert run.instance_class == f"{agents.__name__}.Specialist"
    assert run.callsite is not None and run.callsite.startswith(__file__)


def test_callback_re_entering_run_is_a_separate_run_with_its_parent(
    tracing: Tracing, agents  # type: ignore[no-untyped-def]
) -> None:
    agent = agents.Agent("planner")

    async def on_message(message: str) -> None:
        if message == "plan:0":
            await agent.run("follow-up")

    agent.on_message = on_message
    asyncio.run(agent.run("plan"))
    outer, inner = tracing.runs()
    assert inner.parent_run_id == outer.run_id
    # The OpenTelemetry parent too: the re-entrant run is in the outer run's trace.
    assert (inner.parent_span_id, inner.trace_id) == (outer.run_id, outer.trace_id)
    assert inner.instance_key == outer.instance_key
    assert outer.start_ns < inner.start_ns < inner.end_ns < outer.end_ns  # type: ignore[operator]
    assert inner.function == "on_message"


def test_a_task_the_run_starts_on_its_own_instance_is_part_of_the_run(tracing: Tracing) -> None:
    module = tracing.module(
        """
        import asyncio

        class Pipeline:
            async def run(self):
                # The run drives its own stream from a task it starts: still one run.
                return await asyncio.create_task(self._pump())

            async def _pump(self):
                return [item async for item in self.stream()]

            async def stream(self):
                for i in range(2):
                    await asyncio.sleep(0)
                    yield i
        """
    )
    tracing.instrument(module, "Pipeline.run", "Pipeline.stream")
    assert asyncio.run(module.Pipeline().run()) == [0, 1]
    [run] = tracing.runs()
    assert run.method.endswith("Pipeline.run")


def test_runs_from_two_tasks_on_one_instance_are_separate_and_unrelated(
    tracing: Tracing, agents  # type: ignore[no-untyped-def]
) -> None:
    agent = agents.Agent("shared")

    async def main() -> None:
        await asyncio.gather(agent.run("a"), agent.run("b"))

    asyncio.run(main())
    first, second = tracing.runs()
    assert first.instance_key == second.instance_key
    assert first.parent_run_id is None and second.parent_run_id is None
    assert first.task_key != second.task_key
    assert second.start_ns < first.end_ns  # type: ignore[operator]  # they overlap


def test_runs_from_two_threads_on_one_instance_are_separate(tracing: Tracing) -> None:
    module = tracing.module(
        """
        class Counter:
            def __init__(self, barrier):
                self.barrier = barrier

            def bump(self):
                self.barrier.wait(timeout=30)  # both runs are inside at once
                return 1
        """
    )
    tracing.instrument(module, "Counter.bump")
    counter = module.Counter(threading.Barrier(2))
    threads = [threading.Thread(target=counter.bump, name=f"worker-{n}") for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    runs = tracing.runs()
    assert len(runs) == 2
    assert {r.thread_name for r in runs} == {"worker-0", "worker-1"}
    assert len({r.thread_id for r in runs}) == 2
    assert {r.instance_key for r in runs} == {runs[0].instance_key}
    assert all(r.parent_run_id is None for r in runs)
    assert runs[1].start_ns < runs[0].end_ns  # type: ignore[operator]


def test_call_site_is_the_users_line(tracing: Tracing, agents) -> None:  # type: ignore[no-untyped-def]
    agent = agents.Agent("a")
    agent.run_sync("x"); line = _line()  # noqa: E702
    [run] = tracing.runs()
    assert run.callsite == f"{__file__}:{line}"
    assert run.function == "test_call_site_is_the_users_line"
    assert run.stack[0] == f"{__file__}:{line} in test_call_site_is_the_users_line"


def test_call_site_of_a_gathered_coroutine_is_the_gather_line(
    tracing: Tracing, agents  # type: ignore[no-untyped-def]
) -> None:
    agent = agents.Agent("a")
    lines: list[int] = []

    async def main() -> None:
        await asyncio.gather(agent.run("a"), agent.run("b")); lines.append(_line())  # noqa: E702

    asyncio.run(main())
    runs = tracing.runs()
    assert [r.callsite for r in runs] == [f"{__file__}:{lines[0]}"] * 2
    assert all(r.function == "main" for r in runs)


def test_call_site_line_is_read_at_the_call_not_when_the_coroutine_starts(
    tracing: Tracing, agents  # type: ignore[no-untyped-def]
) -> None:
    agent = agents.Agent("a")
    lines: list[int] = []

    async def main() -> None:
        task = asyncio.create_task(agent.run("x")); lines.append(_line())  # noqa: E702
        await asyncio.sleep(0)  # the caller moves on to this line before the run starts
        await task

    asyncio.run(main())
    [run] = tracing.runs()
    assert run.callsite == f"{__file__}:{lines[0]}"
    assert run.stack[0].startswith(f"{__file__}:{lines[0]} in ")


def test_task_name_id_and_creation_site_are_recorded(tracing: Tracing, agents) -> None:  # type: ignore[no-untyped-def]
    agent = agents.Agent("a")
    lines: list[int] = []

    async def main() -> None:
        task = asyncio.create_task(agent.run("x"), name="request-7"); lines.append(_line())  # noqa: E702
        await task
        await agent.run("y")

    asyncio.run(main())
    in_task, in_main = tracing.runs()
    assert in_task.task_name == "request-7"
    assert in_task.task_created_at == f"{__file__}:{lines[0]}"
    assert in_task.task_key and in_main.task_key and in_task.task_key != in_main.task_key
    assert in_main.task_created_at is not None  # the asyncio.run() line of this test
    assert in_main.task_created_at.startswith(f"{__file__}:")


def test_task_creation_time_and_creating_task_are_recorded_once_per_task(
    tracing: Tracing, agents  # type: ignore[no-untyped-def]
) -> None:
    agent = agents.Agent("a")
    moments: list[int] = []

    async def job(n: int) -> None:
        await agent.run(str(n))
        await agent.run(f"{n} again")  # a second run of the same task: same creation

    async def main() -> None:
        moments.append(time.time_ns())
        await asyncio.gather(job(1), job(2))
        moments.append(time.time_ns())

    asyncio.run(main())
    runs = tracing.runs()
    tasks = {r.task_key for r in runs}
    assert len(tasks) == 2
    for task in tasks:
        mine = [r for r in runs if r.task_key == task]
        assert len({r.task_created_ns for r in mine}) == 1
    assert all(moments[0] <= r.task_created_ns <= r.start_ns <= moments[1] for r in runs)
    # Both created by main()'s task: asyncio.run's task, which no task created.
    (creator,) = {r.task_created_by_task for r in runs}
    assert creator is not None and creator not in tasks


def test_a_threads_start_time_and_starting_thread_are_recorded(
    tracing: Tracing, agents  # type: ignore[no-untyped-def]
) -> None:
    agent = agents.Agent("a")
    before = time.time_ns()
    thread = threading.Thread(target=agent.run_sync, args=("x",))
    thread.start()
    thread.join()
    agent.run_sync("y")  # the main thread: started before tracing
    in_thread, in_main = tracing.runs()
    assert before <= in_thread.thread_started_ns <= in_thread.start_ns
    assert in_thread.thread_started_by == threading.get_ident()
    assert in_main.thread_started_ns is None and in_main.task_key is None


def test_stopping_restores_thread_start_and_create_task(
    tmp_path, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    import asyncio.base_events as base_events

    import racetrace

    monkeypatch.delenv("RACETRACE_DIR", raising=False)
    originals = (threading.Thread.start, base_events.BaseEventLoop.create_task)
    racetrace.start(directory=str(tmp_path / "traces"))
    try:
        assert threading.Thread.start is not originals[0]
    finally:
        racetrace.stop()
    assert (threading.Thread.start, base_events.BaseEventLoop.create_task) == originals


def test_run_records_process_host_and_thread(tracing: Tracing, agents) -> None:  # type: ignore[no-untyped-def]
    agents.Agent("a").run_sync("x")
    [run] = tracing.runs()
    assert run.pid == os.getpid()
    assert run.host and run.instance_key.startswith(f"{run.host}/{os.getpid()}.")
    assert run.thread_id == threading.get_ident()
    assert run.thread_name == threading.current_thread().name
    assert run.task_name is None  # no event loop here


@NEEDS_QUALNAME
def test_single_file_program_callback_re_entry_and_call_sites(programs: Programs) -> None:
    # Class, callback and main in one file, traced with the decorator: the callback's
    # re-entry is a separate run, and each run's call site is the user's line in that file.
    source = """
        import asyncio
        import racetrace

        class Agent:
            def __init__(self):
                self.on_message = None

            @racetrace.trace
            async def run(self, task):
                for step in range(2):
                    await asyncio.sleep(0.01)
                    if self.on_message is not None:
                        await self.on_message(f"{task}:{step}")

        agent = Agent()

        async def on_message(message):
            if message == "plan:0":
                await agent.run("follow-up")

        async def main():
            agent.on_message = on_message
            await agent.run("plan")

        asyncio.run(main())
    """
    done = programs.run(source).check()
    outer, inner = done.runs()
    path = str(programs.root / "main.py")
    assert outer.callsite == f"{path}:24"
    assert inner.callsite == f"{path}:20"
    assert inner.parent_run_id == outer.run_id


def _line() -> int:
    return sys._getframe(1).f_lineno


@NEEDS_QUALNAME
def test_module_functions_beside_the_class_are_the_users_code(tracing: Tracing) -> None:
    # One module holding a class made inside a function, and the code that drives it: the
    # class's methods are its own (delegation), the module's functions are the user's.
    module = tracing.module(
        """
        import racetrace

        def make_agent():
            class Local:
                @racetrace.trace
                def run(self, on_step=None):
                    if on_step is not None:
                        on_step()
                    return self.step()

                @racetrace.trace
                def step(self):
                    return "stepped"

            return Local()

        def main():
            agent = make_agent()
            agent.run(on_step=lambda: agent.run())
            return agent
        """
    )
    module.main()
    outer, inner = tracing.runs()
    assert all(r.method.endswith("Local.run") for r in (outer, inner))  # step: delegation
    assert inner.parent_run_id == outer.run_id  # the lambda's re-entry is a run of its own
    assert (outer.function, outer.line) == ("main", 20)
    assert (inner.function, inner.line) == ("<lambda>", 20)

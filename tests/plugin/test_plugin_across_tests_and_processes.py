"""Runs that cross boundaries: work leaked from an earlier test, subprocesses a test starts,
and async tests under pytest-asyncio and anyio."""

from __future__ import annotations

import pytest
from plugin_support import TARGETS, Suite, racetrace_lines


def test_work_leaked_from_an_earlier_test_is_reported_on_the_later_one(suite: Suite) -> None:
    pytest.importorskip("pytest_asyncio")
    suite.write(test_leak="""
        import asyncio

        import pytest

        import agentlib


        # Holds the background request until the foreground one is done, so that the leaked
        # run is still running then, however slow the machine.
        class GatedModel(agentlib.FakeModel):
            def __init__(self):
                super().__init__()
                self.gate = asyncio.Event()

            async def complete(self, prompt):
                if "summarize" in prompt:
                    await self.gate.wait()
                return await super().complete(prompt)


        # A module-level agent and one event loop for the module: what a test leaves running
        # on it is still running when the next test starts.
        MODEL = GatedModel()
        AGENT = agentlib.Agent("helper", MODEL)
        pytestmark = pytest.mark.asyncio(loop_scope="module")
        background = []


        async def test_starts_background_work():
            background.append(asyncio.create_task(AGENT.run("summarize")))
            await asyncio.sleep(0)  # the task starts: its run begins in this test


        async def test_uses_the_same_agent():
            await AGENT.run("answer")
            MODEL.gate.set()
            await background.pop()
    """)
    result = suite.run("--racetrace", *TARGETS, plugins=["asyncio"])
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*_ test_uses_the_same_agent _*",
        "racetrace: where each run of these findings started:",
        "  run * agentlib.Agent.run [[]pid *[]]: started in an EARLIER test, "
        "test_leak.py::test_starts_background_work (call), and was still running when this "
        "test began",
        "  run * agentlib.Agent.run [[]pid *[]]: started in this test (call)",
        "WARNING: racetrace: concurrent runs on Agent 'helper' (*)*",
    ])
    result.stdout.fnmatch_lines(["FAILED test_leak.py::test_uses_the_same_agent - racetrace*"])
    assert racetrace_lines(result) == []


def test_a_subprocess_started_by_a_test_counts_for_that_test(suite: Suite) -> None:
    suite.write(child="""
        import asyncio
        import sys

        import agentlib


        async def main(together):
            agent = agentlib.Agent("in-child")
            if together:
                await asyncio.gather(agent.run("a"), agent.run("b"))
            else:
                await agent.run("a")
                await agent.run("b")


        asyncio.run(main(sys.argv[1] == "together"))
    """, test_child="""
        import os
        import subprocess
        import sys


        def test_starts_a_child_that_overlaps():
            subprocess.run([sys.executable, "child.py", "together"], check=True)


        def test_starts_a_child_that_does_not():
            subprocess.run([sys.executable, "child.py", "in-turn"], check=True)


        def test_children_inherit_the_settings():
            assert os.environ["RACETRACE"] == "1"
            assert os.environ["RACETRACE_TARGETS"] == "agentlib:Agent.run"
            assert os.environ["RACETRACE_DIR"] == os.path.abspath("racetrace-traces")
    """)
    result = suite.run("--racetrace", *TARGETS)
    result.assert_outcomes(failed=1, passed=2)
    result.stdout.fnmatch_lines([
        "*_ test_starts_a_child_that_overlaps _*",
        "  run * agentlib.Agent.run [[]pid *[]]: started in this test (call)",
        "  run * agentlib.Agent.run [[]pid *[]]: started in this test (call)",
        "WARNING: racetrace: concurrent runs on Agent 'in-child' (*)*",
    ])
    # Each child wrote its own file (the pytest process ran no traced method: it has none).
    files = sorted((suite.path / "racetrace-traces").glob("*.jsonl"))
    assert len(files) == 2, files


def test_pytest_asyncio_and_anyio_tests_are_traced(suite: Suite) -> None:
    pytest.importorskip("pytest_asyncio")
    pytest.importorskip("anyio")
    suite.write(test_async="""
        import asyncio

        import anyio
        import pytest

        import agentlib


        @pytest.mark.asyncio
        async def test_gather_under_pytest_asyncio():
            agent = agentlib.Agent("asyncio-agent")
            await asyncio.gather(agent.run("a"), agent.run("b"))


        @pytest.mark.anyio
        async def test_task_group_under_anyio():
            agent = agentlib.Agent("anyio-agent")
            async with anyio.create_task_group() as group:
                group.start_soon(agent.run, "a")
                group.start_soon(agent.run, "b")


        @pytest.mark.asyncio
        async def test_one_after_the_other():
            agent = agentlib.Agent("sequential")
            await agent.run("a")
            await agent.run("b")


        @pytest.fixture
        def anyio_backend():
            return "asyncio"
    """)
    result = suite.run("--racetrace", *TARGETS, plugins=["asyncio", "anyio"])
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines([
        "FAILED test_async.py::test_gather_under_pytest_asyncio - racetrace*",
        "FAILED test_async.py::test_task_group_under_anyio - racetrace*",
    ], consecutive=False)
    assert racetrace_lines(result) == []

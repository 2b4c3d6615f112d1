"""`pytest --racetrace`: a test whose runs overlap on one instance fails with the race-detector
report; a test whose runs do not, passes. Runs count for the test during whose setup, call or
teardown they started."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from plugin_support import REPO, RUN_TIMEOUT, TARGETS, Suite, racetrace_lines

SHARED_AND_SEPARATE = """
    import asyncio

    import agentlib

    SHARED = agentlib.Agent("shared")


    def test_gather_on_one_agent():
        async def main():
            await asyncio.gather(SHARED.run("a"), SHARED.run("b"))

        asyncio.run(main())


    def test_an_agent_per_task():
        async def main():
            await asyncio.gather(agentlib.Agent("x").run("a"), agentlib.Agent("y").run("b"))

        asyncio.run(main())
"""

FIXED = """
    import asyncio

    import agentlib

    SHARED = agentlib.Agent("shared")


    def test_one_run_at_a_time():
        async def main():
            lock = asyncio.Lock()

            async def ask(task):
                async with lock:
                    return await SHARED.run(task)

            await asyncio.gather(ask("a"), ask("b"))

        asyncio.run(main())
"""


def test_overlapping_runs_fail_the_test_with_the_report(suite: Suite) -> None:
    suite.write(test_suite=SHARED_AND_SEPARATE)
    result = suite.run("--racetrace", *TARGETS)
    result.assert_outcomes(failed=1, passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "*_ test_gather_on_one_agent _*",
        "racetrace: where each run of these findings started:",
        "  run * agentlib.Agent.run [[]pid *[]]: started in this test (call)",
        "  run * agentlib.Agent.run [[]pid *[]]: started in this test (call)",
        "WARNING: racetrace: concurrent runs on Agent 'shared' (*)  [[]F1[]]",
        "  Run 1 of 2: agentlib.Agent.run *",
        "    called from *test_suite.py:* in main",
        "  Fix: *",
        "SUMMARY: racetrace: 1 finding (1 warning): 1 concurrent; 2 runs on 1 instance*",
    ])
    result.stdout.fnmatch_lines([
        "FAILED test_suite.py::test_gather_on_one_agent - racetrace*",
    ])
    assert "test_an_agent_per_task FAILED" not in result.stdout.str()
    assert racetrace_lines(result) == []


def test_a_suite_without_overlaps_passes(suite: Suite) -> None:
    suite.write(test_fixed=FIXED)
    result = suite.run("--racetrace", *TARGETS)
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*= racetrace =*", "racetrace: no findings; trace files in*"])
    assert racetrace_lines(result) == []


def test_a_bare_flag_before_a_path_is_the_flag_not_a_mode(suite: Suite) -> None:
    suite.write(test_suite=SHARED_AND_SEPARATE, test_fixed=FIXED)
    result = suite.run(*TARGETS, "--racetrace", "test_suite.py")
    result.assert_outcomes(failed=1, passed=1)  # test_fixed.py was not asked for


def test_runs_in_fixtures_count_for_their_test(suite: Suite) -> None:
    suite.write(test_fixtures="""
        import asyncio

        import pytest

        import agentlib


        def overlap(name):
            agent = agentlib.Agent(name)

            async def main():
                await asyncio.gather(agent.run("a"), agent.run("b"))

            asyncio.run(main())


        @pytest.fixture
        def overlaps_in_setup():
            overlap("setup-agent")


        @pytest.fixture
        def overlaps_in_teardown():
            yield
            overlap("teardown-agent")


        def test_with_setup(overlaps_in_setup):
            pass


        def test_with_teardown(overlaps_in_teardown):
            pass
    """)
    result = suite.run("--racetrace", *TARGETS)
    # An overlap in setup fails the test's call; one in teardown errors its teardown.
    result.assert_outcomes(failed=1, passed=1, errors=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines([
        "*_ test_with_setup _*",
        "  run * started in this test (setup)",
        "*concurrent runs on Agent 'setup-agent'*",
    ])
    result.stdout.fnmatch_lines([
        "*_ ERROR at teardown of test_with_teardown _*",
        "  run * started in this test (teardown)",
        "*concurrent runs on Agent 'teardown-agent'*",
    ])
    assert out.count("concurrent runs on Agent 'setup-agent'") >= 1


def test_a_test_failing_on_its_own_keeps_its_error_and_gains_the_report(suite: Suite) -> None:
    suite.write(test_both="""
        import asyncio

        import agentlib


        def test_overlaps_then_fails():
            agent = agentlib.Agent("both")

            async def main():
                await asyncio.gather(agent.run("a"), agent.run("b"))

            asyncio.run(main())
            assert 1 + 1 == 3, "the test's own failure"
    """)
    result = suite.run("--racetrace", *TARGETS)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "E * the test's own failure",
        "*- racetrace -*",
        "*concurrent runs on Agent 'both'*",
    ])


def test_the_session_report_is_the_analyzers_json_report(suite: Suite) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    suite.write(test_suite=SHARED_AND_SEPARATE)
    result = suite.run("--racetrace", *TARGETS, "--racetrace-report", "out/report.json")
    result.assert_outcomes(failed=1, passed=1)
    path = suite.path / "out" / "report.json"
    result.stdout.fnmatch_lines([f"*JSON report: {path}"])
    report = json.loads(path.read_text(encoding="utf-8"))
    schema_file = REPO / "analyzers/findings/report.schema.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    jsonschema.validate(report, schema)
    assert report["summary"]["runs"] == 4
    assert [f["kind"] for f in report["findings"] if f["severity"] == "warning"] == [
        "concurrent"]
    # The trace files stay for `racetrace report` and the TUI.
    assert [Path(f).parent for f in report["files"]] == [suite.path / "racetrace-traces"]
    # Read by the same core as `racetrace report`: the same report, byte for byte.
    cli = subprocess.run([sys.executable, "-m", "racetrace", "report", "-q", "--json", "-",
                          *report["files"]], capture_output=True, check=False)
    assert cli.stdout == path.read_bytes()


def test_under_racetrace_run_the_session_records_into_its_folder(suite: Suite) -> None:
    # `racetrace run` starts the recorder with the interpreter; the plugin keeps it (and its
    # folder), so that `racetrace report` on that folder sees the whole session.
    suite.write(test_suite=SHARED_AND_SEPARATE)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        result = suite.pytester.run(
            sys.executable, "-m", "racetrace", "run", "--dir", "traced", "--",
            sys.executable, "-m", "pytest", "-p", "racetrace", "--racetrace", *TARGETS,
            timeout=RUN_TIMEOUT)
    result.assert_outcomes(failed=1, passed=1)
    assert not (suite.path / "racetrace-traces").exists()
    report = suite.pytester.run(sys.executable, "-m", "racetrace", "report", "traced",
                                "--fail-on", "overlap", "-q", timeout=RUN_TIMEOUT)
    assert report.ret == 66
    report.stdout.fnmatch_lines(["SUMMARY: racetrace: 1 finding (1 warning): 1 concurrent*"])

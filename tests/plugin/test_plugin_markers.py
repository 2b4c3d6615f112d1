"""The `racetrace` marker: tracing for marked tests without --racetrace, and per-test settings."""

from __future__ import annotations

import pytest
from plugin_support import TARGETS, Suite

OVERLAP = """
def overlap(name):
    agent = agentlib.Agent(name)

    async def main():
        await asyncio.gather(agent.run("a"), agent.run("b"))

    asyncio.run(main())
"""


def marked_suite(body: str) -> str:
    return "import asyncio\n\nimport pytest\n\nimport agentlib\n" + OVERLAP + body


def test_a_marker_traces_its_test_without_the_option(suite: Suite) -> None:
    suite.write(test_suite=marked_suite("""

@pytest.mark.racetrace(targets=["agentlib:Agent.run"])
def test_marked():
    overlap("marked")


def test_not_marked():
    overlap("not-marked")
"""))
    result = suite.run("--strict-markers")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["FAILED test_suite.py::test_marked - racetrace*"])
    assert "'not-marked'" not in result.stdout.str()


def test_markers_adjust_the_session_per_test(suite: Suite) -> None:
    suite.write(test_suite=marked_suite("""

@pytest.mark.racetrace("warn")
def test_warned():
    overlap("warned")


@pytest.mark.racetrace(False)
def test_unchecked():
    overlap("unchecked")


@pytest.mark.racetrace(suppress=["benign:agentlib.Agent"])
def test_suppressed():
    overlap("suppressed")


@pytest.mark.racetrace(fail_on="never")
def test_never_fails():
    overlap("never")


def test_checked():
    overlap("checked")
"""))
    result = suite.run("--racetrace", *TARGETS)
    result.assert_outcomes(failed=1, passed=4)
    result.stdout.fnmatch_lines([
        "*= racetrace =*",
        "test_suite.py::test_warned: warned (call): concurrent runs on Agent 'warned'*",
    ])
    result.stdout.fnmatch_lines(["FAILED test_suite.py::test_checked - racetrace*"])
    for quiet in ("unchecked", "suppressed", "never"):
        assert f"Agent '{quiet}'" not in result.stdout.str()


def test_a_module_marker_with_targets_enables_the_module(suite: Suite) -> None:
    suite.write(test_suite=marked_suite("""

pytestmark = pytest.mark.racetrace(targets="agentlib:Agent.run")


def test_overlaps():
    overlap("module")


@pytest.mark.racetrace("off")
def test_switched_off():
    overlap("off")
"""))
    result = suite.run()
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["FAILED test_suite.py::test_overlaps - racetrace*"])


@pytest.mark.parametrize(("marker", "message"), [
    ("racetrace(target='agentlib:Agent.run')",
     "*racetrace: test_suite.py::test_it: @pytest.mark.racetrace: unknown argument 'target' "
     "(expected mode, targets, suppress, fail_on)"),
    ("racetrace('sometimes')",
     "*racetrace: test_suite.py::test_it: @pytest.mark.racetrace: unknown mode 'sometimes'*"),
    ("racetrace(suppress=3)",
     "*@pytest.mark.racetrace: suppress= takes a string or a list of strings, not 3"),
    ("racetrace(suppress=['quiet:agentlib.*'])",
     "*@pytest.mark.racetrace: suppress:1: bad suppression rule 'quiet:agentlib.*'*"),
    ("racetrace(fail_on='sometimes')",
     "*@pytest.mark.racetrace: fail_on: unknown term 'sometimes'*"),
    ("racetrace(targets=['agentlib.Agent.run'])",
     "*@pytest.mark.racetrace: targets: bad target 'agentlib.Agent.run'*"),
])
def test_a_bad_marker_errors_its_test_in_one_line(suite: Suite, marker: str,
                                                  message: str) -> None:
    suite.write(test_suite=f"""
        import pytest


        @pytest.mark.{marker}
        def test_it():
            pass


        def test_other():
            pass
    """)
    result = suite.run()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([message])

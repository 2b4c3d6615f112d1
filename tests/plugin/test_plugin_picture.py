"""`--racetrace-report DIR/`: the session's report goes into the folder, and each test racetrace
fails gets its timeline there as an SVG, the picture a CI job keeps as an artifact."""

from __future__ import annotations

import stat
import xml.etree.ElementTree as ET
from pathlib import Path

from plugin_support import TARGETS, Suite, racetrace_lines

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


def _svg_text(path: Path) -> str:
    return "".join(ET.parse(path).getroot().itertext()).replace("\xa0", " ")


def test_a_failing_test_gets_its_timeline_beside_the_report(suite: Suite) -> None:
    suite.write(test_suite=SHARED_AND_SEPARATE)
    result = suite.run("--racetrace", *TARGETS, "--racetrace-report", "racetrace-out/")
    result.assert_outcomes(failed=1, passed=1)
    out = suite.path / "racetrace-out"
    report = out / "racetrace-report.json"
    assert report.is_file()
    pictures = sorted(out.glob("*.svg"))
    assert [p.name for p in pictures] == ["test_suite.py_test_gather_on_one_agent.svg"]
    picture = pictures[0]
    assert stat.S_IMODE(picture.stat().st_mode) == 0o600
    text = _svg_text(picture)
    assert "shared  Agent" in text  # the lane of the shared agent
    assert "╱" in text  # its runs' overlap, hatched
    assert "concurrent" in text and "Findings (1)" in text
    assert "test_suite.py::test_gather_on_one_agent" in text  # what it is a picture of
    assert "'x'" not in text and " x  Agent" not in text  # the passing test's agents are not
    result.stdout.fnmatch_lines([f"racetrace: the timeline: {picture}"])
    assert racetrace_lines(result) == []


def test_a_report_file_gets_no_pictures(suite: Suite) -> None:
    suite.write(test_suite=SHARED_AND_SEPARATE)
    result = suite.run("--racetrace", *TARGETS, "--racetrace-report", "report.json")
    result.assert_outcomes(failed=1, passed=1)
    assert (suite.path / "report.json").is_file()
    assert not list(suite.path.rglob("*.svg"))
    assert "the timeline:" not in result.stdout.str()

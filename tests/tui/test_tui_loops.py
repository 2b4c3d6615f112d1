"""nested-loop and loop-blocking findings on the timeline: listed, jumped to, their runs shaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tui_helpers import SIZE, make_app, needs_analyzer, run_async, screen_text, settle

pytestmark = needs_analyzer

PROGRAMS = Path(__file__).resolve().parents[1] / "analyzers" / "programs"
TARGETS = "loopsvc:Service.fetch,loopsvc:Service.slow"


@pytest.fixture(scope="module")
def loops(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One trace directory: a process that nests a loop, one that blocks its loop 300 ms."""
    directory = tmp_path_factory.mktemp("loops") / "traces"
    env = {**os.environ, "RACETRACE": "1", "RACETRACE_TARGETS": TARGETS,
           "RACETRACE_DIR": str(directory)}
    for mode in ("nested", "blocking"):
        done = subprocess.run([sys.executable, str(PROGRAMS / "loop_program.py"), mode],
                              cwd=PROGRAMS, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    return directory


def option_texts(app) -> list[str]:
    listing = app.findings_list
    return [str(listing.get_option_at_index(i).prompt) for i in range(listing.option_count)]


@run_async
async def test_loop_findings_are_listed_and_their_runs_shaded(loops: Path) -> None:
    app = make_app(loops)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        kinds = [f.kind for f in app.report.findings]
        assert kinds[:2] == ["nested-loop", "loop-blocking"]  # the error first
        texts = option_texts(app)
        assert "nested-loop" in texts[0] and "loop inside a running loop" in texts[0]
        assert "loop-blocking" in texts[1] and "loop blocked" in texts[1]
        for i, finding in enumerate(app.report.findings[:2]):
            while app.finding_index != i:
                await pilot.press("n")
            lane, index = app.timeline.selected()
            assert lane is not None and lane.runs[index].run_id in finding.run_ids
            assert lane.loop_runs == frozenset(finding.run_ids)
        # Both lanes come first (they have findings); each shows its run shaded.
        shown = screen_text(app)
        assert shown.count("▒") >= 2
        assert "Service" in shown


@run_async
async def test_the_threshold_reaches_the_timeline_analysis(loops: Path) -> None:
    app = make_app(loops, blocking_threshold_ns=60_000_000_000)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        kinds = {f.kind for f in app.report.findings}
        assert "nested-loop" in kinds and "loop-blocking" not in kinds
        assert not any("loop-blocking" in text for text in option_texts(app))


@run_async
async def test_details_of_a_blocking_run_say_the_loop_waited(loops: Path) -> None:
    from racetrace.tui.describe import run_details
    from rich.console import Console

    app = make_app(loops)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        (finding,) = [f for f in app.report.findings if f.kind == "loop-blocking"]
        lane = app.lanes.lane_of_finding(finding)
        index = lane.index[finding.runs[0].run_id]
        with open(os.devnull, "w") as sink:
            console = Console(width=200, record=True, file=sink)
            console.print(run_details(lane, index, app.report))
        text = console.export_text()
        assert "event loop" in text and "the loop waited" in text
        assert "event loop blocked by Service" in text  # the finding's block

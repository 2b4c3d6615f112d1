"""The timeline says where each instance was created: in its lane's description and in a run's
details. A real program (the singleton_requests sample) traced in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tui_helpers import make_app, needs_analyzer, plain, run_async, screen_text, settle

pytestmark = needs_analyzer

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def record_singleton(directory: Path) -> Path:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RACETRACE", "OTEL_"))}
    done = subprocess.run(
        [sys.executable, "-m", "racetrace", "run", "-d", str(directory),
         "-t", "agentlib:Agent.run", "-t", "agentlib:Agent.run_stream", "--",
         sys.executable, str(SAMPLES / "singleton_requests.py")],
        capture_output=True, text=True, timeout=180, cwd=SAMPLES, env=env)
    assert done.returncode == 0, done.stderr
    return directory


@run_async
async def test_the_lane_and_the_details_show_where_the_singleton_was_made(
        tmp_path: Path) -> None:
    trace = record_singleton(tmp_path / "traces")
    app = make_app(trace)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        (lane,) = [lane for lane in app.timeline.lane_layout.lanes if not lane.is_resource]
        assert lane.created is not None
        assert (lane.created.line, lane.created.role) == (11, "singleton")
        title, description = screen_text(app).splitlines()[:2]
        assert "Agent" in title.split("│")[0]
        gutter = description.split("│")[0].strip()
        assert gutter.startswith("module singleton") and gutter.endswith(".py:11")
        await pilot.press("enter")
        shown = plain(app.screen.query_one("#details").content, width=200)
        assert "created at" in shown
        assert f"{SAMPLES / 'singleton_requests.py'}:11 in <module>" in shown
        assert "at module level: a singleton" in shown

"""`racetrace export --format svg|html`: the timeline as the TUI draws it, for where there is no
terminal. A real program runs traced (RACETRACE=1) in a subprocess; the export runs as a user
runs it; the tests read the picture's text: lanes, runs' marks, the findings and the legend."""

from __future__ import annotations

import html
import os
import re
import stat
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"

# A worker shared by four tasks: one run ends well, one fails, one is cancelled, and one is
# still running when the process ends (os._exit: no END line is ever written).
WORKERS = """
    import asyncio


    class Worker:
        def __init__(self, name):
            self.name = name

        async def run(self, how):
            await asyncio.sleep(0.05)
            if how == "fail":
                raise ValueError("boom")
            if how == "hang":
                await asyncio.sleep(3600)
            return how
"""
MAIN = """
    import asyncio
    import os

    from workers import Worker


    async def main():
        crew = Worker("crew")
        ok = asyncio.ensure_future(crew.run("ok"))
        fail = asyncio.ensure_future(crew.run("fail"))
        cancelled = asyncio.ensure_future(crew.run("hang"))
        asyncio.ensure_future(crew.run("hang"))
        await asyncio.sleep(0.1)
        cancelled.cancel()
        await asyncio.gather(ok, fail, cancelled, return_exceptions=True)
        os._exit(0)


    asyncio.run(main())
"""


def _traced(script: Path, directory: Path, targets: str) -> Path:
    """Run `script` with RACETRACE=1, as a user does, and return its trace folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RACETRACE", "OTEL_"))}
    env.update(RACETRACE="1", RACETRACE_TARGETS=targets, RACETRACE_DIR=str(directory))
    done = subprocess.run([sys.executable, str(script)], cwd=script.parent, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert list(directory.rglob("*.jsonl")), f"nothing traced: {done.stderr}"
    return directory


def _export(traces: Path, fmt: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "racetrace", "export", str(traces), "--format", fmt,
         "-o", str(out), *extra],
        capture_output=True, text=True, timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("RACETRACE")},
    )


def svg_text(path: Path) -> str:
    """The characters an SVG shows, in order (Rich writes a space as a no-break space)."""
    root = ET.parse(path).getroot()
    return "".join(root.itertext()).replace("\xa0", " ")


def html_text(path: Path) -> str:
    page = path.read_text(encoding="utf-8")
    return html.unescape(re.sub(r"<[^>]+>", "", page)).replace("\xa0", " ")


@pytest.fixture(scope="module")
def gather_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared_gather sample, traced: one agent, three runs at once."""
    out = tmp_path_factory.mktemp("gather") / "traces"
    return _traced(SAMPLES / "shared_gather.py", out, "agentlib:Agent.run")


@pytest.fixture(scope="module")
def marks_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A failed, a cancelled and an unfinished run on one shared worker."""
    program = tmp_path_factory.mktemp("marks")
    (program / "workers.py").write_text(textwrap.dedent(WORKERS))
    (program / "main.py").write_text(textwrap.dedent(MAIN))
    return _traced(program / "main.py", program / "traces", "workers:Worker.run")


def test_svg_shows_the_samples_lane_its_overlap_and_the_finding(
    gather_trace: Path, tmp_path: Path
) -> None:
    out = tmp_path / "timeline.svg"
    done = _export(gather_trace, "svg", out)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    text = svg_text(out)
    assert "assistant  Agent" in text  # the lane: label, then class
    assert "3 runs · 3 at once" in text
    assert "╱╱╱" in text  # the overlap, hatched: it reads without colour
    assert "Findings (" in text
    assert re.search(r"warning\s+concurrent\s+assistant", text)
    assert "╱╱ overlap" in text  # the legend
    assert "1 instance" in text and "3 runs" in text  # the header


def test_svg_marks_failed_cancelled_and_unfinished_runs(marks_trace: Path, tmp_path: Path) -> None:
    out = tmp_path / "marks.svg"
    done = _export(marks_trace, "svg", out)
    assert done.returncode == 0, done.stderr
    text = svg_text(out)
    assert "crew  Worker" in text
    assert "✗ failed" in text and "⊘ cancelled" in text and "╌» never ended" in text  # legend
    for mark in "✗⊘»":  # and on the lane, beside the legend
        assert text.count(mark) >= 2, mark
    assert re.search(r"unfinished\s+crew", text)


def test_html_is_one_page_with_the_same_timeline(gather_trace: Path, tmp_path: Path) -> None:
    out = tmp_path / "timeline.html"
    done = _export(gather_trace, "html", out)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>racetrace: " in page
    # Self-contained: nothing fetched, no script.
    assert not re.search(r"(src|href)=|url\(|<script", page)
    text = html_text(out)
    assert "assistant  Agent" in text
    assert "╱╱╱" in text
    assert re.search(r"warning\s+concurrent\s+assistant", text)


def test_the_picture_holds_every_lane_and_finding(tmp_path: Path) -> None:
    """Sixty lanes (more than a 40-row screen): the picture grows to show them all."""
    from tui_helpers import write_many_lanes

    traces = tmp_path / "traces"
    traces.mkdir()
    write_many_lanes(traces / "many.jsonl", 60)
    out = tmp_path / "many.svg"
    done = _export(traces, "svg", out, "--width", "100")
    assert done.returncode == 0, done.stderr
    text = svg_text(out)
    assert "agent-000" in text and "agent-059" in text
    assert "No findings" in text


def test_export_help_explains_every_format() -> None:
    done = subprocess.run([sys.executable, "-m", "racetrace", "export", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    flat = " ".join(done.stdout.split())
    for fmt in ("chrome:", "otlp:", "svg:", "html:"):
        assert fmt in flat
    assert "self-contained" in flat
    top = subprocess.run([sys.executable, "-m", "racetrace", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert "SVG" in top.stdout


def test_an_unwritable_output_is_one_line(gather_trace: Path, tmp_path: Path) -> None:
    done = _export(gather_trace, "svg", tmp_path / "missing" / "out.svg")
    assert done.returncode == 2
    assert done.stderr.startswith("racetrace: ") and done.stderr.count("\n") == 1


def test_a_picture_of_too_many_lanes_says_how_many_it_left_out(tmp_path: Path) -> None:
    from racetrace.analyzers.core.load import load
    from racetrace.analyzers.findings.analyze import analyze
    from racetrace.tui.picture import MAX_LANE_ROWS, render
    from tui_helpers import write_many_lanes

    lanes = MAX_LANE_ROWS // 2 + 50  # two rows a lane
    write_many_lanes(tmp_path / "many.jsonl", lanes)
    trace = load([tmp_path])
    out = tmp_path / "many.svg"
    out.write_text(render(trace, analyze(trace), source="many", fmt="svg"), encoding="utf-8")
    text = svg_text(out)
    assert "agent-000" in text and f"agent-{lanes - 1:03d}" not in text
    assert "50 more lanes not shown" in text
    assert "No findings" in text  # the findings still have their place below


def test_a_picture_can_be_drawn_from_inside_a_running_event_loop(shop: Path) -> None:
    """As from an async test's hook: the app gets a loop of its own, on its own thread."""
    import asyncio

    from racetrace.analyzers.core.load import load
    from racetrace.analyzers.findings.analyze import analyze
    from racetrace.tui.picture import render

    trace = load([shop])

    async def draw() -> str:
        return render(trace, analyze(trace), source="shop", fmt="html")

    page = asyncio.run(draw())
    assert "assistant" in html.unescape(re.sub(r"<[^>]+>", "", page))

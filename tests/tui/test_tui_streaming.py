"""The timeline streams in: lanes of the part read so far show before the load completes, with
a progress bar, keys working and the user's place kept; findings follow the whole trace.

The traces are the benchmarks' synthetic ones (`analyzer_scale.write_mixed`, the tracer's own
line format) in several process files. The load is real; a test holds it half read by blocking
the loading thread in the app's `on_partial` hook (called after each partial layout is posted)
until the test lets it go on.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from tui_helpers import SIZE, make_app, needs_analyzer, run_async, screen_text, settle

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def write_mixed(directory: Path, runs: int, **kwargs: Any) -> Path:
    spec = importlib.util.spec_from_file_location("analyzer_scale",
                                                  BENCHMARKS / "analyzer_scale.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_mixed(directory, runs, **kwargs)
    return directory


class Gate:
    """Holds the loading thread at each partial layout until the test opens the next one."""

    def __init__(self) -> None:
        self.opened = 0
        self.reached = 0
        self._cond = threading.Condition()

    def __call__(self, part: Any) -> None:  # in the loading thread
        with self._cond:
            self.reached += 1
            self._cond.notify_all()
            # Bounded, so that a failing test never leaves a thread waiting forever.
            self._cond.wait_for(lambda: self.opened >= self.reached, timeout=30)

    def open(self, count: int = 1) -> None:
        with self._cond:
            self.opened += count
            self._cond.notify_all()

    def open_all(self) -> None:
        self.open(10_000)


async def until(condition: Any, pilot: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the screen")
        await asyncio.sleep(0.01)
    await pilot.pause()


@pytest.fixture
def trace_dir(tmp_path: Path) -> Path:
    # Three process files: the first partial layout comes after the first one is read.
    return write_mixed(tmp_path, 3_000, instances=60, processes=3)


@run_async
async def test_lanes_show_before_the_load_completes_with_a_progress_bar(
        trace_dir: Path) -> None:
    gate = Gate()
    app = make_app(trace_dir, on_partial=gate)
    async with app.run_test(size=SIZE) as pilot:
        try:
            await until(lambda: app.lanes is not None and app.streaming, pilot)
            assert app.trace is None  # still loading
            assert not app.loading
            partial = app.lanes.run_count
            assert 0 < partial < 3_000
            assert app.timeline.lane_layout.lanes
            assert screen_text(app).strip()
            assert app.query_one("#reading").display
            assert app.reading_bar.percentage is not None and app.reading_bar.percentage < 1
            assert "reading" in str(app.header_bar.render()).lower()
        finally:
            gate.open_all()
        await settle(pilot)
        assert app.trace is not None and len(app.trace.runs) == 3_000
        assert app.lanes.run_count == 3_000
        assert not app.streaming
        assert not app.query_one("#reading").display
        assert app.partial_updates >= 1


@needs_analyzer
@run_async
async def test_findings_appear_once_the_whole_trace_is_analyzed(trace_dir: Path) -> None:
    gate = Gate()
    app = make_app(trace_dir, on_partial=gate)
    async with app.run_test(size=SIZE) as pilot:
        try:
            await until(lambda: app.streaming, pilot)
            assert app.report is None
            assert "findings once all of it is read" in str(app.header_bar.render())
        finally:
            gate.open_all()
        await settle(pilot)
        assert app.report is not None and app.report.findings
        assert app.findings_list.count == len(app.report.findings)
        # The lanes with findings come first, as after a load that was never partial.
        assert app.timeline.lane_layout.lanes[0].findings


@run_async
async def test_keys_work_while_the_trace_is_loading(trace_dir: Path) -> None:
    gate = Gate()
    app = make_app(trace_dir, on_partial=gate)
    async with app.run_test(size=SIZE) as pilot:
        try:
            await until(lambda: app.streaming, pilot)
            timeline = app.timeline
            first_lane, _ = timeline.selected()
            view = timeline.view
            await pilot.press("plus")  # zoom in
            assert timeline.view.ns_per_cell < view.ns_per_cell
            zoomed = timeline.view
            await pilot.press("right")  # pan
            assert timeline.view.start_ns > zoomed.start_ns
            await pilot.press("down")  # next lane
            lane, _ = timeline.selected()
            assert lane is not None and lane is not first_lane
            assert app.trace is None  # all of it while the load was held
        finally:
            gate.open_all()
        await settle(pilot)


@run_async
async def test_the_selection_and_the_view_survive_a_partial_update(trace_dir: Path) -> None:
    gate = Gate()
    app = make_app(trace_dir, on_partial=gate)
    async with app.run_test(size=SIZE) as pilot:
        try:
            await until(lambda: app.streaming, pilot)
            timeline = app.timeline
            await pilot.press("down", "down", "tab", "plus")
            chosen = timeline.selected_run_id()
            view = timeline.view
            shown = app.lanes
            gate.open()  # the load goes on to the next layout
            await until(lambda: app.lanes is not shown or app.trace is not None, pilot)
            assert app.lanes.run_count > shown.run_count
            assert timeline.selected_run_id() == chosen
            assert timeline.view == view  # the user zoomed: the view stays
        finally:
            gate.open_all()
        await settle(pilot)
        assert timeline.selected_run_id() == chosen


@run_async
async def test_quitting_while_loading_stops_the_load(trace_dir: Path) -> None:
    gate = Gate()
    app = make_app(trace_dir, on_partial=gate)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.streaming, pilot)
        await pilot.press("q")
        gate.open_all()
    assert app.trace is None  # the load was abandoned, not finished


def test_streamed_lanes_equal_the_lanes_of_the_loaded_trace(
        trace_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Laid out a block at a time as the loader reads (many small blocks, layouts between
    them), the lanes come out as one layout of the whole trace does."""
    from racetrace.analyzers.core import blocks
    from racetrace.analyzers.core.load import trace_files
    from racetrace.analyzers.core.tableload import load_table
    from racetrace.tui.lanes import build_lanes
    from racetrace.tui.stream import LaneStream

    posted: list[Any] = []
    stream = LaneStream(posted.append, interval=0.0)
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 16_384)  # many blocks, open runs at each cut
    table = load_table(trace_files([trace_dir]), on_partial=stream.partial)
    streamed = stream.finish(table)
    whole = build_lanes(table)
    assert stream.updates > 10
    assert [lane.id for lane in streamed.lanes] == [lane.id for lane in whole.lanes]
    assert (streamed.origin_ns, streamed.span_ns, streamed.run_count) == (
        whole.origin_ns, whole.span_ns, whole.run_count)
    for a, b in zip(streamed.lanes, whole.lanes, strict=True):
        assert list(a.runs) == list(b.runs)
        assert list(a.row_of) == list(b.row_of) and list(a.pos_of) == list(b.pos_of)
        assert a.stretches == b.stretches and a.max_concurrency == b.max_concurrency
        for r, s in zip(a.subrows, b.subrows, strict=True):
            assert list(r.starts) == list(s.starts) and list(r.ends) == list(s.ends)
            assert list(r.marked) == list(s.marked)

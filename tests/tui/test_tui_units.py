"""The pure parts of the timeline: safe text, time view and ticks, lanes and sub-rows, painting."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from racetrace.analyzers.core.load import load
from racetrace.tui import viewport
from racetrace.tui.lanes import build_lanes
from racetrace.tui.paint import BAR, EMPTY, SELECTED, paint_row
from racetrace.tui.textsafe import clean, shorten
from racetrace.tui.viewport import View, tick_label
from tui_helpers import DATA


def test_escape_sequences_become_visible_escapes() -> None:
    assert clean("a\x1b[31mred\x07") == "a\\x1b[31mred\\x07"
    assert clean("one\ntwo") == "one\\ntwo"
    assert clean("one\ntwo\x1b", multiline=True) == "one\ntwo\\x1b"
    assert clean("\x9b2J") == "\\x9b2J"
    assert clean("abc\u202edef") == "abc\\u202edef"
    assert clean(None) == ""


def test_markup_is_left_alone_because_it_is_never_parsed() -> None:
    assert clean("[bold]x[/]") == "[bold]x[/]"


def test_shorten_keeps_the_part_that_tells_keys_apart() -> None:
    assert shorten("host/1234.abcd/17", 9, keep="middle") == "host…d/17"
    assert shorten("assistant", 5) == "assi…"
    assert shorten("/a/b/c/file.py", 8, keep="end") == "…file.py"
    assert shorten("日本語テキスト", 7) == "日本語…"
    assert shorten("short", 10) == "short"


def test_zoom_keeps_the_anchor_in_the_same_column() -> None:
    view = View(0.0, 100.0)
    zoomed = viewport.zoom(view, 2.0, anchor_ns=5_000.0, width=100, max_ns_per_cell=1e9)
    assert zoomed.ns_per_cell == 50.0
    assert zoomed.x_of(5_000.0) == view.x_of(5_000.0)


def test_zoom_stops_at_one_nanosecond_per_column() -> None:
    view = View(0.0, 1.5)
    assert viewport.zoom(view, 8.0, 10.0, 100, 1e9).ns_per_cell == viewport.MIN_NS_PER_CELL


def test_tick_labels_carry_the_decimals_their_step_needs() -> None:
    assert tick_label(40e6, 20e6) == "40 ms"
    assert tick_label(1.25e9, 50e6) == "1.25 s"
    assert tick_label(61.234e9, 1e6) == "1m01.234s"
    assert tick_label(150e9, 30e9) == "2m30s"
    assert tick_label(3_700e9, 60e9) == "1h01m"
    assert tick_label(0.0, 1e6) == "0"
    assert tick_label(250.0, 50.0) == "250 ns"


def test_ticks_never_crowd_each_other() -> None:
    for npc in (1.0, 37.0, 1e4, 3e6, 2e9):
        step, marks = viewport.ticks(View(123.0, npc), 120, 14)
        columns = [x for x, _ in marks]
        assert all(b - a >= 13 for a, b in itertools.pairwise(columns))
        assert step >= npc * 14


def test_overlapping_runs_stack_in_sub_rows_and_none_is_lost() -> None:
    lanes = build_lanes(load([DATA / "shop"]))
    for lane in lanes.lanes:
        placed = sum(len(row.runs) for row in lane.subrows)
        assert placed == len(lane.runs)
        for row in lane.subrows:
            for i in range(1, len(row.starts)):
                # Never overlapping within a sub-row: starts and ends both ascend.
                assert row.ends[i - 1] <= row.starts[i]
                assert row.starts[i - 1] <= row.starts[i]
    assistant = next(lane for lane in lanes.lanes if lane.label == "assistant")
    assert len(assistant.subrows) == 3
    assert assistant.stretches == [(5_000_000, 90_000_000)]


def test_a_resource_key_gets_its_own_lane_across_processes() -> None:
    lanes = build_lanes(load([DATA / "shop"]))
    resource = lanes.by_id["resource:session-7"]
    assert resource.is_resource
    assert resource.instance_count == 2
    assert len(resource.processes) == 2


def test_unfinished_runs_reach_their_process_last_record() -> None:
    trace = load([DATA / "unfinished"])
    lanes = build_lanes(trace)
    stuck = next(lane for lane in lanes.lanes if lane.label == "stuck")
    assert stuck.end_of(0) == lanes.span_ns == 90_000_000


def test_marks_show_status_without_colour() -> None:
    lanes = build_lanes(load([DATA / "shop"]))
    worker = lanes.by_id["instance:host-a/100/4"]
    row = worker.subrows[0]
    view = viewport.fit(lanes.span_ns, 130)
    text = "".join(t for t, _ in paint_row(row, worker, view, 130))
    assert "✗" in text  # failed
    assert "⊘" in text  # cancelled
    assert text.rstrip().endswith("»")  # unfinished, open to the end
    assert "╌" in text


def test_a_dense_sub_row_costs_one_run_per_column() -> None:
    """100,000 back-to-back runs in one sub-row, all on screen: painting stays bounded, and the
    one failed run among them still shows its mark."""
    from racetrace.analyzers.core.model import Run, Trace

    runs = [
        Run(run_id=str(i), method="m", start_ns=i * 10, instance_key="k", pid=1, host="h",
            end_ns=i * 10 + 10, status="error" if i == 54_321 else "ok")
        for i in range(100_000)
    ]
    lanes = build_lanes(Trace(runs=runs, processes=[]))
    lane = lanes.lanes[0]
    assert len(lane.subrows) == 1
    view = View(0.0, lanes.span_ns / 100)
    segments = paint_row(lane.subrows[0], lane, view, 100, {3: SELECTED})
    text = "".join(t for t, _ in segments)
    assert len(text) == 100
    assert text.count("✗") == 1
    styles = {s for _, s in segments}
    assert SELECTED in styles and BAR in styles and EMPTY not in styles


def test_painting_reads_the_status_of_only_the_marked_runs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An ended run's status is settled when its lane is laid out: painting reads only those of
    the runs listed as marked (failed, cancelled, unfinished), and still shows their marks."""
    from racetrace.analyzers.core.model import Run, Trace
    from racetrace.tui import lanes as lanes_module

    statuses = {7: "error", 300: "cancelled"}
    runs = [
        Run(run_id=str(i), method="m", start_ns=i * 10, instance_key="k", pid=1, host="h",
            end_ns=i * 10 + 10, status=statuses.get(i, "ok"))
        for i in range(1_000)
    ]
    lane = build_lanes(Trace(runs=runs, processes=[])).lanes[0]
    assert len(lane.subrows) == 1 and list(lane.subrows[0].marked) == [7, 300]
    read: list[int] = []
    status = lanes_module.RowViews.status

    def counted(self: Any, i: int) -> str:
        read.append(i)
        return status(self, i)

    monkeypatch.setattr(lanes_module.RowViews, "status", counted)
    for view, width in ((View(0.0, 10.0), 1000), (View(0.0, 100.0), 100)):  # 1, 10 a column
        read.clear()
        text = "".join(t for t, _ in paint_row(lane.subrows[0], lane, view, width))
        assert read and set(read) <= {7, 300}
        assert "✗" in text and "⊘" in text

"""The timeline on the columnar core: lanes laid out from a `Table` (what the app loads) are the
lanes laid out from the object loader's `Run`s, and showing them makes a `Run` view only for
what is read (the selection, a details panel, a finding), never one per run laid out or painted.

The traces are the test data (damaged, unfinished, resource keys) and the benchmarks' synthetic
one (`analyzer_scale.write_mixed`: contended lanes, errors, open runs, several processes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from racetrace.analyzers.core.load import load, trace_files
from racetrace.analyzers.core.tableload import load_table
from racetrace.tui.lanes import Lanes, build_lanes
from test_tui_streaming import write_mixed
from tui_helpers import DATA, SIZE, make_app, needs_analyzer, run_async, settle


def _shape(lanes: Lanes) -> list[Any]:
    out: list[Any] = [(lanes.origin_ns, lanes.span_ns, lanes.run_count)]
    for lane in lanes.lanes:
        out.append((
            lane.id, lane.cls, lane.label, lane.instance_count, lane.fan_outs,
            lane.max_concurrency, lane.stretches, lane.last_end, lane.processes, lane.search,
            [r.run_id for r in lane.runs], list(lane.row_of), list(lane.pos_of),
            [(list(s.starts), list(s.ends), list(s.marked), list(s.positions),
              [r.run_id for r in s.runs]) for s in lane.subrows],
        ))
    return out


@pytest.mark.parametrize("name", ["shop", "unfinished", "damaged"])
def test_lanes_of_the_table_are_the_lanes_of_the_loaded_runs(name: str) -> None:
    files = trace_files([DATA / name])
    assert _shape(build_lanes(load_table(files))) == _shape(build_lanes(load([DATA / name])))


def test_lanes_of_a_mixed_trace_from_columns_and_from_runs(tmp_path: Path) -> None:
    write_mixed(tmp_path, 6_000, instances=300, processes=3)
    table = load_table(trace_files([tmp_path]))
    lanes = build_lanes(table)
    assert any(lane.max_concurrency > 1 for lane in lanes.lanes)  # overlaps, sub-rows
    assert _shape(lanes) == _shape(build_lanes(load([tmp_path])))


def test_laying_out_makes_no_run_view(tmp_path: Path) -> None:
    write_mixed(tmp_path, 4_000, instances=50, processes=3)
    table = load_table(trace_files([tmp_path]))
    lanes = build_lanes(table)
    # Each lane's name is its first run's details, read from the file without a view.
    assert all(lane.cls.endswith("Agent") for lane in lanes.lanes if not lane.is_resource)
    assert table.views == {}
    # A run is found by its id through the table, the lane's rows and starts.
    lane = max(lanes.lanes, key=lambda lane: len(lane.rows))
    for i in (0, len(lane.rows) // 2, len(lane.rows) - 1):
        run = lane.runs[i]
        assert lane.index[run.run_id] == i
        assert lane.position(run.run_id, run.start_ns) == i
    assert "0123456789abcdef" not in lane.index


@needs_analyzer
@run_async
async def test_the_screen_shows_a_big_lane_with_views_only_for_what_it_reads(
        tmp_path: Path) -> None:
    write_mixed(tmp_path, 6_000, instances=8, processes=2)
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.trace.runs.table
        made = len(table.views)  # the analysis's: its findings' runs
        for key in ("minus", "minus", "tab", "down", "tab", "end", "n"):
            await pilot.press(key)
        await pilot.pause()
        text = "\n".join(app.timeline.render_line(y).text for y in range(SIZE[1] - 6))
        assert "▏" in text  # runs painted
        # Painting thousands of runs and moving between them makes a view only for the
        # runs selected (the status line), none per run painted.
        assert len(table.views) - made <= 7
        assert app.report is not None and app.report.findings


@needs_analyzer
@run_async
async def test_many_findings_are_listed_in_batches_and_all_reachable(tmp_path: Path) -> None:
    write_mixed(tmp_path, 20_000, instances=600, processes=2)
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        findings = app.report.findings
        panel = app.findings_list
        assert len(findings) > 2 * 100  # more than a batch or two
        await pilot.press("N")  # the last finding: listed, and marked, at once
        assert panel.highlighted == len(findings) - 1 == app.finding_index
        for _ in range(20):
            await pilot.pause()
        assert panel.option_count == len(findings)
        assert [panel.get_option_at_index(i).id for i in (0, len(findings) - 1)] == [
            "f0", f"f{len(findings) - 1}"]

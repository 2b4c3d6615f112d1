"""Findings on the timeline: lanes with findings first, n/N through each, o, and e (export)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from racetrace.tui.screens import ExportScreen
from tui_helpers import SIZE, make_app, needs_analyzer, run_async, settle

pytestmark = needs_analyzer


@run_async
async def test_lanes_with_findings_come_first(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        lanes = app.timeline.lane_layout.lanes
        with_findings = [bool(lane.findings) for lane in lanes]
        assert with_findings == sorted(with_findings, reverse=True)
        assert with_findings[0]


@run_async
async def test_n_lands_on_each_finding_in_turn_and_selects_its_runs(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        findings = app.report.findings
        assert len(findings) >= 4
        timeline = app.timeline
        for i, finding in enumerate(findings):
            await pilot.press("n")
            assert app.finding_index == i
            lane, index = timeline.selected()
            assert lane is not None and lane is app.lanes.lane_of_finding(finding)
            assert lane.runs[index].run_id in finding.run_ids
            assert timeline.related is not None
            assert set(timeline.related[1]) == set(finding.run_ids)
            # Every run of the finding is on screen.
            for run_id in finding.run_ids:
                j = lane.index[run_id]
                assert timeline.view.start_ns <= lane.start_of(j)
                assert lane.end_of(j) <= timeline.view.end_ns(timeline.bars_width)
            assert app.findings_list.highlighted == i
        await pilot.press("n")
        assert app.finding_index == 0  # wraps around


@run_async
async def test_shift_n_goes_back(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        last = len(app.report.findings) - 1
        await pilot.press("N")
        assert app.finding_index == last
        await pilot.press("N")
        assert app.finding_index == last - 1


@run_async
async def test_an_overlap_finding_shows_its_overlap_in_red(shop: Path) -> None:
    from racetrace.tui.paint import RELATED_OVERLAP, SELECTED_OVERLAP, paint_row

    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        timeline = app.timeline
        lane, _ = timeline.selected()
        styles = set()
        for line, row in enumerate(lane.subrows):
            cells = paint_row(row, lane, timeline.view, timeline.bars_width,
                              timeline._highlights.get((lane.id, line)))
            styles |= {style for _, style in cells}
        assert {SELECTED_OVERLAP, RELATED_OVERLAP} <= styles


@run_async
async def test_o_shows_only_instances_with_findings(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        everything = len(app.timeline.lane_layout.lanes)
        await pilot.press("o")
        shown = app.timeline.lane_layout.lanes
        assert shown and all(lane.findings for lane in shown)
        assert len(shown) < everything
        await pilot.press("o")
        assert len(app.timeline.lane_layout.lanes) == everything


@run_async
async def test_the_details_explain_the_finding_and_its_fix(shop: Path) -> None:
    from tui_helpers import plain

    app = make_app(shop)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("n", "enter")
        shown = plain(app.screen.query_one("#details").content)
        finding = app.report.findings[0]
        assert "Fix:" in shown
        assert finding.kind in shown
        assert "Overlaps 2 runs on this instance" in shown


@run_async
async def test_e_writes_a_report_that_validates(shop: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.json"
    target.parent.mkdir()
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("e")
        assert isinstance(app.screen, ExportScreen)
        field = app.screen.query_one("#export-path")
        field.value = str(target)
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, ExportScreen)
    document = json.loads(target.read_text())
    assert document["schema"] == "racetrace.report/1"
    assert len(document["findings"]) == len(app.report.findings)
    schema_path = Path(__import__("racetrace.analyzers").analyzers.__file__).parent
    schema_file = schema_path / "findings" / "report.schema.json"
    if not schema_file.exists():
        pytest.skip("analyzers/findings/report.schema.json is not there yet")
    import jsonschema

    jsonschema.validate(document, json.loads(schema_file.read_text()))


@run_async
async def test_e_into_a_missing_directory_says_why_and_stays_open(
    shop: Path, tmp_path: Path
) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("e")
        app.screen.query_one("#export-path").value = str(tmp_path / "no" / "such" / "r.json")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ExportScreen)
        from tui_helpers import plain

        assert "cannot write" in plain(app.screen.query_one("#export-error").content)
        await pilot.press("escape")
        assert not isinstance(app.screen, ExportScreen)

"""The timeline's first-hour rough edges (issue 12): quitting, typing fast into the filter, the
cursor and the view staying on the trace, lane names using the width, the findings getting the
room, an 80x24 terminal, where `e` writes, and the status line and header agreeing."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from racetrace.tui.screens import DetailsScreen, ExportScreen
from rich.cells import cell_len
from textual import events
from textual.widgets._toast import Toast
from tui_helpers import SIZE, make_app, plain, run_async, screen_text, settle

T0 = 1_700_000_000_000_000_000
MS = 1_000_000
CHAT_KEY = "vm/24325.3997b4/1"


def write_one_team(path: Path) -> None:
    """One lane: a group chat (long label and class) run three times at once."""
    lines = [{"type": "header", "format": "racetrace.trace/1", "pid": 7, "host": "vm",
              "wall_ns": T0}]
    for k in range(3):
        start = T0 + k * 5 * MS
        lines.append({"type": "start", "run_id": f"r{k}", "name": "teams.RoundRobinGroupChat.run",
                      "start_ns": start, "racetrace.instance.key": CHAT_KEY,
                      "racetrace.instance.class": "autogen_agentchat.teams.RoundRobinGroupChat",
                      "racetrace.instance.label": "RoundRobinGroupChat support-team",
                      "racetrace.task.name": f"Task-{k}", "process.pid": 7, "host.name": "vm"})
        lines.append({"type": "end", "run_id": f"r{k}", "end_ns": start + 50 * MS,
                      "racetrace.end.status": "ok"})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def _cursor_on_screen(app) -> bool:  # type: ignore[no-untyped-def]
    timeline = app.timeline
    view, cursor = timeline.view, timeline.cursor_ns
    return cursor is not None and view.start_ns <= cursor < view.end_ns(timeline.bars_width)


def _status(app) -> str:  # type: ignore[no-untyped-def]
    return plain(app.status_bar.content, width=400)


def _burst(app, *keys: tuple[str, str | None]) -> None:  # type: ignore[no-untyped-def]
    """Keys queued all at once, as a fast typist's reach the app: none waits for a refresh."""
    for key, char in keys:
        app.post_message(events.Key(key, char))


# -- quitting -------------------------------------------------------------------------------

@run_async
async def test_ctrl_c_quits_as_in_htop(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert app.return_code == 0
        assert not app.is_running


@run_async
async def test_ctrl_c_quits_from_the_filter_box_too(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", "a")
        assert app.focused is app.filter_input
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert not app.is_running


# -- the filter takes every key typed after `/` ---------------------------------------------------

@run_async
async def test_keys_typed_in_one_burst_after_slash_reach_the_filter(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        _burst(app, ("slash", "/"), ("a", "a"), ("s", "s"), ("s", "s"), ("enter", "\r"))
        await settle(pilot)
        assert not isinstance(app.screen, DetailsScreen)  # enter submitted the filter
        assert app.filter_input.value == "ass"
        assert app.timeline.text_filter == "ass"
        assert [lane.label for lane in app.timeline.lane_layout.lanes] == ["assistant"]
        assert app.focused is app.timeline


# -- the cursor and the view stay on the trace ------------------------------------------------

@run_async
async def test_the_cursor_label_stays_on_screen_after_shift_right(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("plus", "plus", "plus")
        for _ in range(3):
            await pilot.press("shift+right")
            assert _cursor_on_screen(app)
            assert "▼" in app.ruler.render_line(1).text  # drawn where its label says


@run_async
async def test_the_cursor_label_stays_on_screen_after_only_findings(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        # The last lane (no findings), zoomed in around its run; `o` hides it.
        await pilot.press("end", "up")
        while app.timeline.selected()[0].findings:
            await pilot.press("down")
        await pilot.press("plus", "plus", "plus", "plus")
        await pilot.press("o")
        await pilot.pause()
        assert app.timeline.selected()[0].findings
        assert _cursor_on_screen(app)
        assert "▼" in app.ruler.render_line(1).text


@run_async
async def test_zooming_out_stops_at_fit_and_never_shows_negative_times(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fitted = app.timeline.view
        await pilot.press("minus", "minus", "minus", "left", "left")
        assert app.timeline.view == fitted
        labels = app.ruler.render_line(0).text
        assert not re.search(r"-\d", labels), labels


@run_async
async def test_panning_stops_at_either_end_of_the_trace(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        timeline = app.timeline
        span = timeline.model.span_ns
        await pilot.press("plus", "plus", "plus")
        for _ in range(12):
            await pilot.press("shift+right")
        end = timeline.view.end_ns(timeline.bars_width)
        assert abs(end - span) <= timeline.view.ns_per_cell
        for _ in range(12):
            await pilot.press("shift+left")
        assert timeline.view.start_ns == 0


@run_async
async def test_the_ruler_and_the_header_give_one_span(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        header = plain(app.header_bar.content, width=400)
        span = re.search(r"span (\S+ \S+)", header)
        assert span is not None, header
        assert f"{span.group(1)} across" in app.ruler.render_line(1).text


# -- lane names and the room for the findings -------------------------------------------------

@run_async
async def test_lane_names_use_a_wide_terminal(tmp_path: Path) -> None:
    write_one_team(tmp_path / "team.jsonl")
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "RoundRobinGroupChat support-team  RoundRobinGroupChat" in text
        assert CHAT_KEY in text  # whole, not "vm/…b4/1"
        assert app.timeline.gutter_width > 34
    narrow = make_app(tmp_path)
    async with narrow.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert narrow.timeline.gutter_width <= 80 // 3
        assert "RoundRobinGroupChat" in screen_text(narrow)


@run_async
async def test_one_lane_leaves_the_screen_to_the_findings(tmp_path: Path) -> None:
    write_one_team(tmp_path / "team.jsonl")
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        lane_rows = app.timeline.lane_layout.total_rows
        assert app.timeline.region.height == lane_rows == 3
        # Everything under the lanes, but the status line and the footer, is the findings'.
        below = 40 - app.findings_list.region.y - 1
        assert app.findings_list.region.height == below
        assert app.findings_list.region.y == app.status_bar.region.y + 1


@run_async
async def test_80x24_shows_whole_finding_lines_and_every_footer_key(shop: Path) -> None:
    from textual.widgets._footer import FooterKey

    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        findings = app.findings_list
        first = findings.render_line(0).text.rstrip(" │")
        assert "overlap 85 ms" in first, first
        keys = list(app.footer.query(FooterKey))
        assert keys and all(key.region.right <= 80 for key in keys)
        assert {"?", "q"} <= {key.key_display for key in keys}
        assert cell_len(first) <= findings.region.width


# -- `e` writes beside the traces --------------------------------------------------------------

@run_async
async def test_e_writes_the_report_beside_the_traces(shop: Path, tmp_path: Path,
                                                     monkeypatch) -> None:  # type: ignore[no-untyped-def]
    traces = tmp_path / "project" / "racetrace-traces"
    shutil.copytree(shop, traces)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    app = make_app(os.path.relpath(traces, elsewhere))  # as typed: relative to where it runs
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("e")
        assert isinstance(app.screen, ExportScreen)
        field = app.screen.query_one("#export-path")
        expected = tmp_path / "project" / "racetrace-report.json"
        assert field.value == str(expected)
        await pilot.press("enter")
        await pilot.pause(0.2)
        written = json.loads(expected.read_text())
        assert written["schema"].startswith("racetrace.report/")
        # Its trace files still name the traces from where the report lies.
        assert written["files"] and all(Path(f).is_absolute() and Path(f).is_file()
                                        for f in written["files"])
        assert not list(elsewhere.iterdir())
        assert not (traces / "racetrace-report.json").exists()  # not taken for a trace file
        toasts = [w for w in app.screen.walk_children() if isinstance(w, Toast)]
        assert toasts
        box = app.findings_list.region
        for toast in toasts:  # inside the findings box, clear of its border
            assert toast.region.bottom <= box.bottom - 1
            assert toast.region.right <= box.right - 1


# -- the status line names the finding only in its lane ------------------------------------------

@run_async
async def test_status_names_the_finding_only_while_in_its_lane(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()
        assert "finding 1/" in _status(app)
        await pilot.press("slash", *"planner", "enter")
        await pilot.pause()
        lane, _ = app.timeline.selected()
        assert lane is not None and lane.label == "planner"
        assert "finding" not in _status(app)

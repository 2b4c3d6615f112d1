"""Any input: hostile text shown literally; empty, runless, unfinished-only and corrupt traces."""

from __future__ import annotations

from pathlib import Path

from racetrace.tui.describe import run_details
from racetrace.tui.screens import DetailsScreen
from tui_helpers import SIZE, make_app, plain, run_async, screen_text, settle


def _message(app) -> str:  # type: ignore[no-untyped-def]
    return plain(app.query_one("#message").content)


@run_async
async def test_markup_and_escape_sequences_in_a_trace_are_shown_literally(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "[bold red]evil[/] \\x1b[3" in text
        assert "[link=http://evil]Tool[/link" in text
        assert "\x1b" not in text and "\x07" not in text


def test_details_of_a_hostile_run_contain_no_control_characters(shop: Path) -> None:
    from racetrace.analyzers.core.load import load
    from racetrace.tui.lanes import build_lanes

    lanes = build_lanes(load([shop]))
    lane = lanes.by_id["instance:host-a/100/5"]
    text = plain(run_details(lane, 0, None))
    assert "shop.tools.Tool.[b]run[/b]\\x1b[2J" in text
    assert "[bold red]evil[/] \\x1b[31mlabel\\x07" in text
    assert "\x1b" not in text


@run_async
async def test_an_error_message_shows_in_the_details(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"host-a/100/4", "enter", "tab", "enter")
        assert isinstance(app.screen, DetailsScreen)
        shown = plain(app.screen.query_one("#details").content)
        assert "boom: [bold]not markup[/bold]" in shown
        assert "ValueError" in shown


@run_async
async def test_an_empty_directory_says_so(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.failed
        assert "No trace files" in _message(app)
        assert app.failure is None  # not an error: nothing to show
        await pilot.press("n", "e", "down", "plus")  # keys do nothing harmful
        await pilot.press("q")


@run_async
async def test_a_trace_without_runs_says_so(data: Path) -> None:
    app = make_app(data / "no_runs")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "No runs" in _message(app)


@run_async
async def test_a_trace_of_only_unfinished_runs_is_drawn_open_to_its_end(data: Path) -> None:
    app = make_app(data / "unfinished")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert not app.failed
        assert app.trace is not None and all(r.end_ns is None for r in app.trace.runs)
        assert "»" in screen_text(app)


@run_async
async def test_a_corrupt_file_is_one_clear_line_not_a_traceback(data: Path) -> None:
    app = make_app(data / "corrupt.jsonl")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.failed
        assert app.failure is not None and "corrupt.jsonl" in app.failure
        assert "\n" not in app.failure
        assert "racetrace:" in _message(app)


@run_async
async def test_damaged_lines_are_skipped_and_counted(data: Path) -> None:
    app = make_app(data / "damaged")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert not app.failed
        assert "1 damaged line skipped" in plain(app.query_one("#header").content)

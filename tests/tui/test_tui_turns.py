"""The screen goes first while a trace loads (`tui/turns.py`): the loading thread stands aside
while a key or a new layout waits to be shown, and never for good.

The loads are real (the benchmarks' synthetic traces, several process files), held half read by
the app's `on_partial` hook as in test_tui_streaming.py; the threads are real threads.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from test_tui_streaming import Gate, until, write_mixed
from textual import events
from tui_helpers import SIZE, make_app, run_async, settle


@pytest.fixture
def trace_dir(tmp_path: Path) -> Path:
    return write_mixed(tmp_path, 3_000, instances=60, processes=3)


def test_a_held_loader_waits_until_released() -> None:
    from racetrace.tui.turns import Turns

    turns = Turns(longest=30)
    turns.hold()
    entered, left = threading.Event(), threading.Event()

    def loader() -> None:
        entered.set()
        turns.pause()
        left.set()

    thread = threading.Thread(target=loader)
    thread.start()
    try:
        assert entered.wait(10)
        assert not left.wait(0.1)  # still waiting for the screen
        turns.release()
        assert left.wait(10)
    finally:
        turns.release()
        thread.join(10)
    assert turns.waits == 1
    turns.pause()  # free: goes straight on
    assert turns.waits == 1 and turns.lapses == 0


def test_a_hold_nobody_releases_lapses() -> None:
    """A key that changed nothing on screen releases nothing: the loader goes on anyway, and
    does not wait for that key again."""
    from racetrace.tui.turns import Turns

    turns = Turns(longest=0.01)
    turns.hold()
    turns.pause()
    assert not turns.held
    turns.pause()
    assert turns.waits == 1
    assert turns.lapses == 1


def test_streamed_lanes_wait_for_the_screen_and_equal_the_whole_layout(
        trace_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With turns, the loader waits after posting each layout until the screen (here another
    thread) took it, and pauses between lanes; the lanes come out as one layout of the whole."""
    from racetrace.analyzers.core import blocks
    from racetrace.analyzers.core.load import trace_files
    from racetrace.analyzers.core.tableload import load_table
    from racetrace.tui.lanes import build_lanes
    from racetrace.tui.messages import LanesGrew
    from racetrace.tui.stream import LaneStream
    from racetrace.tui.turns import Turns

    turns = Turns(longest=30)
    taken: list[Any] = []

    def post(message: Any) -> None:
        if isinstance(message, LanesGrew):
            assert turns.held  # held before the screen can see it
            taken.append(message.lanes)
            # The screen shows it a moment later, from its own thread.
            threading.Timer(0.001, turns.release).start()

    pauses = 0
    pause = turns.pause

    def counted() -> None:
        nonlocal pauses
        pauses += 1
        pause()

    monkeypatch.setattr(turns, "pause", counted)
    stream = LaneStream(post, interval=0.0, turns=turns)
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 16_384)
    table = load_table(trace_files([trace_dir]), on_partial=stream.partial)
    streamed = stream.finish(table)
    whole = build_lanes(table)
    assert len(taken) == stream.updates > 10
    assert turns.waits >= 1 and not turns.held
    assert pauses > stream.updates * 2  # at each block, after each layout, between lanes
    assert [lane.id for lane in streamed.lanes] == [lane.id for lane in whole.lanes]
    for a, b in zip(streamed.lanes, whole.lanes, strict=True):
        assert list(a.runs) == list(b.runs)
        assert list(a.row_of) == list(b.row_of)
        for r, s in zip(a.subrows, b.subrows, strict=True):
            assert list(r.starts) == list(s.starts) and list(r.ends) == list(s.ends)


def test_the_loader_posts_its_progress_held(trace_dir: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Each progress message (and each layout, which carries the bytes read) is posted with
    the loader held: its next pause waits until the screen has painted it (a paint beside a
    running loader took 5-10 times as long)."""
    from racetrace.analyzers.core.load import trace_files
    from racetrace.analyzers.core.tableload import load_table
    from racetrace.tui import stream as stream_module
    from racetrace.tui.messages import LanesGrew, LoadProgress
    from racetrace.tui.stream import LaneStream
    from racetrace.tui.turns import Turns

    turns = Turns(longest=30)
    posted: list[tuple[str, bool]] = []

    def post(message: Any) -> None:
        assert isinstance(message, (LoadProgress, LanesGrew))
        posted.append((type(message).__name__, turns.held))
        if turns.held:  # the screen paints it a moment later, from its own thread
            threading.Timer(0.001, turns.release).start()

    monkeypatch.setattr(stream_module, "PROGRESS_INTERVAL", 0.0)
    stream = LaneStream(post, interval=3600.0, turns=turns)  # one layout: the first
    load_table(trace_files([trace_dir]), on_partial=stream.partial, block_bytes=16_384)
    assert [name for name, _ in posted].count("LanesGrew") == stream.updates == 1
    assert len(posted) > 10
    assert all(held for _, held in posted)  # (a layout carries the bytes read with it)
    assert turns.lapses == 0


@run_async
async def test_the_app_releases_the_loader_after_each_progress_paint(
        trace_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a progress message at every block, each held until painted, the load completes
    without a hold lapsing: the app released every one of them."""
    from racetrace.tui import stream as stream_module

    monkeypatch.setattr(stream_module, "PROGRESS_INTERVAL", 0.0)
    app = make_app(trace_dir)
    app.turns.longest = 60  # a hold the app forgot would stall the load for a minute
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.trace is not None and len(app.trace.runs) == 3_000
    assert app.turns.lapses == 0


@run_async
async def test_a_key_holds_the_loader_until_its_effect_is_shown(trace_dir: Path) -> None:
    gate = Gate()
    app = make_app(trace_dir, on_partial=gate)
    async with app.run_test(size=SIZE) as pilot:
        try:
            await until(lambda: app.streaming, pilot)
            assert not app.turns.held  # the screen took the first layout
            timeline = app.timeline
            await pilot.press("plus")  # zoomed in: there is room to pan
            await until(lambda: not app.turns.held, pilot)
            view = timeline.view
            key = events.Key("right", None)
            app.post_message(key)  # as the terminal driver posts it
            assert app.turns.held  # from the moment it arrives
            await until(lambda: timeline.view != view and not app.turns.held, pilot)
            assert app.trace is None  # all of it between two layouts of a held load
            # Input for another widget releases it too, once the screen has refreshed.
            await pilot.press("slash")
            await pilot.press("x")
            await until(lambda: not app.turns.held, pilot)
            assert app.filter_input.value == "x"
        finally:
            gate.open_all()
        await settle(pilot)
        assert app.trace is not None and len(app.trace.runs) == 3_000


@run_async
async def test_a_layout_holds_the_loader_until_the_screen_took_it(trace_dir: Path) -> None:
    """The loader posts a layout and waits (its next pause) until the screen has shown it: it
    never lays out or reads on while the screen takes the lanes."""
    seen: list[tuple[int, int]] = []
    app: Any = None

    def after(part: Any) -> None:  # in the loading thread, after its pause that follows a post
        seen.append((part.rows, app.lanes.run_count if app.lanes is not None else -1))

    app = make_app(trace_dir, on_partial=after)
    app.turns.longest = 60  # no lapse, however slow the machine
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
    assert seen
    for rows, shown in seen:
        assert shown == rows  # the screen holds the lanes of every row read so far
    assert app.turns.waits >= 1


@run_async
async def test_the_collector_is_back_once_the_findings_are_listed(trace_dir: Path) -> None:
    was_enabled = gc.isenabled()
    gate = Gate()
    app = make_app(trace_dir, on_partial=gate)
    async with app.run_test(size=SIZE) as pilot:
        try:
            await until(lambda: app.streaming, pilot)
            assert not gc.isenabled()  # no full collection of a heap not frozen yet
        finally:
            gate.open_all()
        await settle(pilot)
        await until(lambda: app.report is not None and not app.findings_list.listing, pilot)
        assert gc.isenabled() == was_enabled
    assert gc.isenabled() == was_enabled


@run_async
async def test_the_timeline_keeps_only_the_strips_of_what_it_shows(trace_dir: Path) -> None:
    app = make_app(trace_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        timeline = app.timeline
        for key in ("right", "plus", "down", "tab", "left", "minus") * 3:
            await pilot.press(key)
        await pilot.pause()
        rows = timeline.scrollable_content_region.height
        assert 0 < len(timeline._cache) <= rows


@run_async
async def test_findings_are_listed_in_the_pauses_between_keys(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hundreds of findings are listed a batch at a time, and not while keys keep coming (each
    batch lays the screen out again); once the keys stop, all of them are listed."""
    from racetrace.tui import findings_list
    from racetrace.tui.findings_list import BATCH

    monkeypatch.setattr(findings_list, "KEYS_PAUSE", 2.0)  # a pause, however slow the machine
    write_mixed(tmp_path, 6_000, instances=400, processes=3)
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await until(lambda: app.report is not None, pilot)
        findings = app.findings_list
        await until(lambda: not findings.listing, pilot)
        assert findings.count == len(app.report.findings) > 2 * BATCH
        # Listed again just after a key: the first batch now, the rest after a pause in keys.
        app.last_input = time.monotonic()
        findings.show(app.report.findings, app.lanes.origin_ns)
        assert findings.listing and findings.option_count == BATCH
        await pilot.press("right")  # a key meanwhile: answered, the list still a batch long
        assert findings.option_count == BATCH
        await until(lambda: not findings.listing, pilot)
        assert findings.option_count == findings.count
        assert gc.isenabled()


@run_async
async def test_the_app_reads_small_blocks_without_changing_the_default(trace_dir: Path) -> None:
    """The app's load reads blocks of `STREAM_BLOCK_BYTES` (passed to `load_table`), while the
    module's default stays as it was: a load running beside it in the same process (another
    app, a report, a test) reads its own size."""
    from racetrace.analyzers.core import blocks
    from racetrace.tui.app import STREAM_BLOCK_BYTES

    default = blocks.BLOCK_BYTES
    seen: list[int] = []

    def after(part: Any) -> None:  # in the loading thread, after a layout
        seen.append(blocks.BLOCK_BYTES)

    app = make_app(trace_dir, on_partial=after)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
    assert app.trace is not None and len(app.trace.runs) == 3_000
    assert seen and set(seen) == {default} != STREAM_BLOCK_BYTES
    assert blocks.BLOCK_BYTES == default


@pytest.mark.parametrize("case", ["missing", "empty", "no_runs", "quit_while_loading",
                                  "quit_before_findings", "no_findings", "follow"])
@run_async
async def test_the_collector_is_back_however_the_app_ends(trace_dir: Path, tmp_path: Path,
                                                          case: str) -> None:
    """The collector paused at start-up is back when the app has nothing to show (a load that
    failed, a trace without runs), when it quits mid-load or before the findings are listed,
    and it is never paused while following."""
    was_enabled = gc.isenabled()
    gate = Gate()
    kwargs: dict[str, Any] = {}
    path = trace_dir
    if case == "missing":
        path = tmp_path / "nope"
    elif case == "empty":
        path = tmp_path / "empty"
        path.mkdir()
    elif case == "no_runs":
        path = Path(__file__).parent / "data" / "no_runs"
    elif case == "no_findings":
        path = Path(__file__).parent / "data" / "shop" / "host-b.200.jsonl"  # one run
    elif case == "follow":
        kwargs["follow"] = True
    elif case == "quit_while_loading":
        kwargs["on_partial"] = gate
    app = make_app(path, **kwargs)
    try:
        async with app.run_test(size=SIZE) as pilot:
            if case == "quit_while_loading":
                await until(lambda: app.streaming, pilot)
                assert not gc.isenabled()
                await pilot.press("q")
                gate.open_all()  # (the held loader sees the app closing and stops)
            elif case == "quit_before_findings":
                await until(lambda: app.trace is not None, pilot)
                await pilot.press("q")
            elif case == "follow":
                await until(lambda: app.trace is not None, pilot)
                assert gc.isenabled() == was_enabled
                await pilot.press("q")
            else:
                await settle(pilot)
                await until(lambda: app.trace is not None or app.failed, pilot)
                if case == "no_findings":
                    await until(lambda: app.report is not None, pilot)
                    assert not app.report.findings
                await pilot.pause()
                assert gc.isenabled() == was_enabled
    finally:
        gate.open_all()
    assert gc.isenabled() == was_enabled


@pytest.mark.parametrize("fps", [None, "30"])
def test_the_screen_paints_up_to_200_times_a_second_unless_textual_fps_says(
        fps: str | None, tmp_path: Path) -> None:
    """Textual's 60 a second put a key's paint up to 33 ms after the progress bar's: the app's
    screens, the first and a dialog's, paint up to 200 times a second, TEXTUAL_FPS still wins,
    and Textual's own rate is back once the app has ended (for other apps of the process)."""
    import os
    import subprocess

    from racetrace.tui.app import FRAMES_PER_SECOND

    env = {k: v for k, v in os.environ.items() if k != "TEXTUAL_FPS"}
    if fps is not None:
        env["TEXTUAL_FPS"] = fps
    code = """if True:
        import asyncio, sys
        import textual.screen as s
        from racetrace.tui.app import RacetraceApp
        before = s.UPDATE_PERIOD
        app = RacetraceApp([sys.argv[1]])
        seen = []
        async def main():
            async with app.run_test() as pilot:
                await pilot.press("question_mark")
                for screen in app.screen_stack:
                    seen.append(screen._update_timer._interval)
        asyncio.run(main())
        print(before, s.UPDATE_PERIOD, *seen)
    """
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, env=env, timeout=120, check=True)
    before, after, *screens = map(float, done.stdout.split())
    assert before == 1 / int(fps or 60)
    assert len(screens) == 2  # the timeline's and the help's
    assert screens == [before if fps else 1 / FRAMES_PER_SECOND] * 2
    assert after == before


@run_async
async def test_the_first_lanes_come_after_the_screen_has_started_up(trace_dir: Path) -> None:
    """The screen lays itself out and composes the footer's keys (~100 ms of the interpreter)
    before the load begins: lanes shown during that made the first keys wait for all of it."""
    from racetrace.tui.app import RacetraceApp
    from textual.widgets._footer import FooterKey

    seen: list[int] = []

    class Watched(RacetraceApp):
        CSS_PATH = Path(sys.modules[RacetraceApp.__module__].__file__).parent / "racetrace.tcss"

        def on_lanes_grew(self, message: Any) -> None:
            seen.append(len(self.footer.query(FooterKey)))  # the footer's keys by then
            super().on_lanes_grew(message)

    app = Watched([str(trace_dir)], source="shop")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
    assert app.trace is not None and len(app.trace.runs) == 3_000
    assert seen and seen[0] > 0


@run_async
async def test_the_loader_stops_at_its_next_block_once_the_app_has_quit(
        trace_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Quitting while a trace loads: the loader reads no further block and never waits for a
    screen that is gone (the process's exit waits for the loading thread: before, it read on
    until its next layout, each progress it posted held for a paint that never came)."""
    from racetrace.tui import app as app_module
    from racetrace.tui import stream as stream_module

    blocks: list[bool] = []  # a block handed to the layout: whether the app had quit by then
    quit_, load_over = threading.Event(), threading.Event()
    partial, load_table = stream_module.LaneStream.partial, app_module.load_table

    def counted(self: Any, part: Any) -> None:
        blocks.append(quit_.is_set())
        partial(self, part)

    def loading(*args: Any, **kwargs: Any) -> Any:
        try:
            return load_table(*args, **kwargs)
        finally:
            load_over.set()

    monkeypatch.setattr(stream_module.LaneStream, "partial", counted)
    monkeypatch.setattr(app_module, "load_table", loading)
    monkeypatch.setattr(stream_module, "PROGRESS_INTERVAL", 0.0)  # a progress at every block
    gate = Gate()
    app = make_app(trace_dir, on_partial=gate)
    app.turns.longest = 5  # a hold nobody releases would be seen as a lapse
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(lambda: app.streaming and gate.reached >= 1, pilot)
            await pilot.press("j")
            await pilot.press("q")
        quit_.set()
    finally:
        gate.open_all()
    assert load_over.wait(120)
    assert app.trace is None  # (the load had not finished)
    assert blocks.count(True) == 0
    assert app.turns.lapses == 0


def test_a_closed_turns_never_holds_the_loader_again() -> None:
    from racetrace.tui.turns import Turns

    turns = Turns(longest=30)
    turns.hold()
    turns.close()  # the app is gone, its hold with it
    assert not turns.held
    turns.hold()  # a key the driver read during the quit
    assert not turns.held
    turns.pause()
    assert turns.waits == 0 and turns.lapses == 0


@run_async
async def test_a_timeline_key_that_changes_nothing_still_releases_the_loader(
        trace_dir: Path) -> None:
    """`n` before the analysis (a notice, no selection or view moved), `e` (a notice: no
    report yet), `?` (a dialog), pressed on the timeline while lanes stream in: the
    loader is released once the screen has refreshed, not left to wait for the hold to lapse
    (200 ms of load each)."""
    from racetrace.tui.screens import HelpScreen

    gate = Gate()
    app = make_app(trace_dir, on_partial=gate)
    app.turns.longest = 60
    async with app.run_test(size=SIZE) as pilot:
        try:
            await until(lambda: app.streaming and not app.turns.held, pilot)
            assert app.focused is app.timeline
            for key in ("n", "e", "question_mark"):
                view, selected = app.timeline.view, app.timeline.selected()
                # As the terminal driver posts it:
                app.post_message(events.Key(key, "?" if key == "question_mark" else key))
                assert app.turns.held
                await until(lambda: not app.turns.held, pilot)
                assert app.timeline.view == view and app.timeline.selected() == selected
            assert isinstance(app.screen, HelpScreen)
        finally:
            gate.open_all()
        await settle(pilot)
    assert app.turns.lapses == 0

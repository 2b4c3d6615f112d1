"""Keys and mouse on the timeline: selection, pan, zoom, fit, filter, resize, details, help."""

from __future__ import annotations

from pathlib import Path

from racetrace.tui.screens import DetailsScreen, HelpScreen
from racetrace.tui.timeline import Timeline
from tui_helpers import SIZE, make_app, run_async, settle


@run_async
async def test_the_trace_loads_into_one_lane_per_instance_and_resource(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        ids = [lane.id for lane in app.timeline.lane_layout.lanes]
        assert len(ids) == 7  # six instances and the resource key they share
        assert "resource:session-7" in ids
        assert app.timeline.selection is not None
        assert not app.loading


@run_async
async def test_down_and_up_move_between_lanes(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        lanes = app.timeline.lane_layout.lanes
        assert app.timeline.selection.lane_id == lanes[0].id
        await pilot.press("down")
        assert app.timeline.selection.lane_id == lanes[1].id
        await pilot.press("down", "down", "up")
        assert app.timeline.selection.lane_id == lanes[2].id


@run_async
async def test_tab_walks_the_runs_of_a_lane_in_start_order(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        lane, index = app.timeline.selected()
        assert index == 0
        await pilot.press("tab")
        assert app.timeline.selected() == (lane, 1)
        await pilot.press("tab", "shift+tab")
        assert app.timeline.selected() == (lane, 1)
        await pilot.press("end")
        assert app.timeline.selected() == (lane, len(lane.runs) - 1)


@run_async
async def test_zoom_in_and_out_around_the_cursor(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        timeline = app.timeline
        before = timeline.view
        cursor = timeline.cursor_ns
        column = timeline.view.x_of(cursor)
        await pilot.press("plus")
        assert timeline.view.ns_per_cell == before.ns_per_cell / 2
        assert abs(timeline.view.x_of(cursor) - column) < 1e-6
        await pilot.press("minus")
        assert timeline.view.ns_per_cell == before.ns_per_cell


@run_async
async def test_left_and_right_pan_and_zero_fits_everything(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        timeline = app.timeline
        fitted = timeline.view
        await pilot.press("plus", "plus", "right", "right")
        assert timeline.view.start_ns > fitted.start_ns
        panned = timeline.view
        await pilot.press("left")
        assert timeline.view.start_ns < panned.start_ns
        await pilot.press("0")
        assert timeline.view == fitted


@run_async
async def test_the_ruler_follows_zoom(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        ruler = app.query_one("#ruler")
        labels = ruler.render_line(0).text
        assert "100 ms" in labels
        await pilot.press("plus", "plus", "plus", "plus")
        await pilot.pause()
        assert ruler.render_line(0).text != labels


@run_async
async def test_slash_filters_lanes_by_label_class_key_or_method(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        assert app.filtering
        await pilot.press(*"digest")
        assert [lane.label for lane in app.timeline.lane_layout.lanes] == ["digest"]
        await pilot.press("enter")
        assert app.focused is app.timeline
        assert app.timeline.selected()[0].label == "digest"
        await pilot.press("escape")
        assert len(app.timeline.lane_layout.lanes) == 7


@run_async
async def test_a_filter_matches_methods_too(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"tool.[b]run", "enter")
        assert [lane.key for lane in app.timeline.lane_layout.lanes] == ["host-a/100/5"]


@run_async
async def test_a_filter_that_matches_nothing_leaves_no_selection(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"nothing-like-this", "enter")
        assert app.timeline.lane_layout.lanes == []
        assert app.timeline.selected() == (None, None)
        await pilot.press("down", "tab", "plus", "enter")  # nothing to act on, nothing breaks
        assert app.screen is app.screen_stack[0]


@run_async
async def test_enter_opens_the_details_and_escape_closes_them(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        selection = app.timeline.selection
        await pilot.press("enter")
        assert isinstance(app.screen, DetailsScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailsScreen)
        assert app.timeline.selection == selection


@run_async
async def test_question_mark_shows_every_key(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


@run_async
async def test_a_click_selects_the_run_under_the_pointer(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        timeline = app.timeline
        layout = timeline.lane_layout
        position = next(i for i, lane in enumerate(layout.lanes) if lane.label == "digest")
        lane = layout.lanes[position]
        target = 3
        row = layout.first_rows[position] + lane.row_of[target]
        middle = (lane.start_of(target) + lane.end_of(target)) / 2
        x = timeline.bars_offset + int(timeline.view.x_of(middle))
        await pilot.click(Timeline, offset=(x, row))
        assert timeline.selected() == (lane, target)


@run_async
async def test_a_resize_keeps_the_view_and_the_selection(shop: Path) -> None:
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        timeline = app.timeline
        await pilot.press("down", "down", "tab", "plus", "right")
        selection = timeline.selection
        start = timeline.view.start_ns
        span = timeline.view.ns_per_cell * timeline.bars_width
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert timeline.selection == selection
        assert timeline.view.start_ns == start
        assert abs(timeline.view.ns_per_cell * timeline.bars_width - span) < 1e-6 * span
        await pilot.resize_terminal(*SIZE)
        await pilot.pause()
        assert timeline.selection == selection


@run_async
async def test_tall_lists_of_lanes_scroll_to_keep_the_selection_visible(tmp_path: Path) -> None:
    from tui_helpers import write_many_lanes

    write_many_lanes(tmp_path / "many.jsonl", lanes=60)
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        timeline = app.timeline
        for _ in range(40):
            await pilot.press("down")
        lane, _ = timeline.selected()
        top = timeline.lane_layout.first_rows[timeline.lane_layout.position_of(lane.id)]
        visible = timeline.scrollable_content_region.height
        assert timeline.scroll_offset.y <= top < timeline.scroll_offset.y + visible


@run_async
async def test_shift_wheel_and_sideways_scroll_pan_in_time(shop: Path) -> None:
    from textual import events

    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        timeline = app.timeline
        await pilot.press("plus", "plus")
        start = timeline.view.start_ns

        def scroll(kind: type, **modifiers: bool) -> None:
            timeline.post_message(kind(timeline, 40, 5, 0, 0, 0, modifiers.get("shift", False),
                                       False, False, screen_x=40, screen_y=5))

        scroll(events.MouseScrollRight)
        await pilot.pause()
        assert timeline.view.start_ns > start
        moved = timeline.view.start_ns
        scroll(events.MouseScrollUp, shift=True)
        await pilot.pause()
        assert timeline.view.start_ns < moved


@run_async
async def test_the_findings_list_jumps_to_the_finding_chosen_there(shop: Path) -> None:
    from tui_helpers import has_analyzer

    if not has_analyzer():
        return
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f")
        assert app.focused is app.findings_list
        await pilot.press("down", "down")
        await pilot.pause()
        assert app.finding_index == 2
        lane, _ = app.timeline.selected()
        assert lane is app.lanes.lane_of_finding(app.report.findings[2])
        await pilot.press("escape")
        assert app.focused is app.timeline


@run_async
async def test_the_timeline_keys_are_letters_for_the_filter_box(shop: Path) -> None:
    """The timeline's keys run as the app first reads them (priority), but only while the
    timeline has the focus: typed into the filter box they are text, and enter submits it."""
    app = make_app(shop)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        timeline = app.timeline
        view = timeline.view
        await pilot.press("slash", *"hjkl0HL", "plus", "minus", "enter")
        assert app.filter_input.value == "hjkl0HL+-"  # (no lane matches it)
        assert timeline.view == view  # neither panned nor zoomed
        assert app.focused is timeline and app.screen is app.screen_stack[0]  # no details
        await pilot.press("escape")
        await pilot.press("plus")  # the timeline's again
        assert timeline.view != view


@run_async
async def test_the_footer_fits_the_terminal_after_each_resize(shop: Path) -> None:
    """The footer's keys go compact below 120 columns, for the size the terminal has now (it
    followed the size before the resize: compact at 160 columns after a narrow one, and
    roomy at 90)."""
    app = make_app(shop)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        assert not app.footer.compact
        for width, compact in ((90, True), (160, False), (100, True), (130, False)):
            await pilot.resize_terminal(width, 40)
            await pilot.pause()
            assert app.size.width == width
            assert app.footer.compact is compact, width
    app = make_app(shop)
    async with app.run_test(size=(100, 40)) as pilot:  # narrow from the start
        await settle(pilot)
        assert app.footer.compact

"""The timeline widget: lanes down, time across, one `Strip` per screen row (Textual's Line API).

Nothing here is a widget per run: `render_line(y)` finds the lane and sub-row at that row by
bisection, paints the visible stretch of time with `paint.paint_row`, and caches the strip
until the view, the selection or the data change. Vertical scrolling is the `ScrollView`'s;
time has its own view (`viewport.View`), changed by pan and zoom, because a trace spans from
nanoseconds to hours and no fixed virtual width fits both.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.strip import Strip

from . import viewport
from .describe import created_role, plural
from .lanes import Lane, Lanes, SubRow
from .layout import Layout, layout
from .paint import CURSOR, EMPTY, RELATED, SELECTED, STYLE_NAMES, paint_row
from .textsafe import clean, shorten

EMPTY_ROW = SubRow()  # the lines of a lane below its last sub-row (the gutter needs two)
SEVERITY_BADGE = {"error": "‼", "warning": "!", "info": "i"}
MIN_GUTTER = 18
MAX_GUTTER = 64
NAMES_MEASURED = 5_000  # lanes whose names size the gutter: enough to see, cheap for 100k lanes
PAN_FRACTION = 1 / 8  # of the visible width, per left/right press
ZOOM_STEP = 2.0
CACHED_STRIPS = 512


@dataclass(frozen=True, slots=True)
class Selection:
    lane_id: str
    index: int  # position of the run in `lane.runs`


class Timeline(ScrollView, can_focus=True):
    """Lanes of runs over time; owns the time view, the selection and the cursor."""

    # Priority: run as the app first reads the key. Otherwise a key goes from the app to the
    # timeline and bubbles back to the app before its binding runs, three turns of the event
    # loop in which a paint of the loader's news could come first (10-35 ms at a million runs).
    # (Only while the timeline has the focus: the filter box and the dialogs get their keys.)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left,h", "pan(-1)", "Pan", key_display="←→", priority=True),
        Binding("right,l", "pan(1)", "Pan", show=False, priority=True),
        Binding("shift+left,H", "pan(-8)", "Pan a screen", show=False, priority=True),
        Binding("shift+right,L", "pan(8)", "Pan a screen", show=False, priority=True),
        Binding("plus,equals_sign", "zoom(2)", "Zoom", key_display="+-", priority=True),
        Binding("minus,underscore", "zoom(0.5)", "Zoom out", show=False, priority=True),
        Binding("0", "fit", "Fit", show=False, priority=True),
        Binding("up,k", "lane(-1)", "Lane", key_display="↑↓", priority=True),
        Binding("down,j", "lane(1)", "Lane", show=False, priority=True),
        Binding("tab", "run(1)", "Run", key_display="tab", show=False, priority=True),
        Binding("shift+tab", "run(-1)", "Previous run", show=False, priority=True),
        Binding("pageup", "lane_page(-1)", "Page up", show=False, priority=True),
        Binding("pagedown", "lane_page(1)", "Page down", show=False, priority=True),
        Binding("home", "edge(-1)", "First run", show=False, priority=True),
        Binding("end", "edge(1)", "Last run", show=False, priority=True),
        Binding("enter", "details", "Details", key_display="⏎", priority=True),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "timeline--empty",
        "timeline--empty-alt",
        "timeline--cursor",
        "timeline--bar",
        "timeline--overlap",
        "timeline--related",
        "timeline--selected",
        "timeline--related-overlap",
        "timeline--selected-overlap",
        "timeline--gutter",
        "timeline--gutter-alt",
        "timeline--gutter-selected",
        "timeline--label",
        "timeline--detail",
        "timeline--divider",
        "timeline--severity-error",
        "timeline--severity-warning",
        "timeline--severity-info",
    }

    text_filter: var[str] = var("")
    only_findings: var[bool] = var(False)

    class SelectionChanged(Message):
        """The selected run changed (or went away)."""

        def __init__(self, lane: Lane | None, index: int | None) -> None:
            super().__init__()
            self.lane = lane
            self.index = index

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, Timeline.SelectionChanged)

    class ViewChanged(Message):
        """The time view or the cursor moved: the ruler follows."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, Timeline.ViewChanged)

    class DetailsRequested(Message):
        """Enter on a run: show everything about it."""

        def __init__(self, lane: Lane, index: int) -> None:
            super().__init__()
            self.lane = lane
            self.index = index

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = Lanes([], 0, 0, 0)
        self.lane_layout: Layout = layout(self.model)
        self.view = viewport.View(0.0, 1.0)
        self.selection: Selection | None = None
        self.related: tuple[str, frozenset[str]] | None = None  # a finding's lane and runs
        self.cursor_ns: float | None = None
        self._autofit = True  # the user has not zoomed or panned since "fit all"
        self._names_width = 0  # columns the lanes' names need (see `gutter_width`)
        # Lane id -> (its name and creation site, the columns they need): names are measured
        # once, not again each time the streamed lanes grow.
        self._title_widths: dict[str, tuple[object, int]] = {}
        self._bars_width = 0
        self._generation = 0
        # The strips of the current state only (cleared when it changes: the old ones are never
        # drawn again), enough for a tall screen scrolled to and fro. Two thousand strips of
        # past states were ~40,000 objects that each full collection walked (5-15 ms).
        self._cache: LRUCache[tuple[int, int], Strip] = LRUCache(CACHED_STRIPS)
        self._styles: dict[str, Style] = {}
        self._highlights: dict[tuple[str, int], dict[int, int]] = {}

    # -- geometry ---------------------------------------------------------------------------

    @property
    def gutter_width(self) -> int:
        """Wide enough for the lanes' names (label, class, key): up to a third of a narrow
        screen, two fifths of a wide one."""
        width = self.size.width
        share = width // 3 if width < 120 else width * 2 // 5
        cap = max(MIN_GUTTER, min(MAX_GUTTER, share))
        return min(max(self._names_width, MIN_GUTTER), cap)

    @property
    def bars_width(self) -> int:
        return max(self.size.width - self.gutter_width - 1, 1)

    @property
    def bars_offset(self) -> int:
        """The column where bars begin, relative to the widget."""
        return self.gutter_width + 1

    def _max_ns_per_cell(self) -> float:
        return viewport.fit(self.model.span_ns, self.bars_width).ns_per_cell

    # -- data -------------------------------------------------------------------------------

    def set_model(self, model: Lanes, *, keep_place: bool, measure_names: bool = True) -> None:
        """Show `model`; with `keep_place`, keep the view and the selected run where possible
        (and the selected lane on the same screen line, when lanes came before it).
        `measure_names=False`: the same lanes as before (with more runs), as wide."""
        lane, index = self.selected()
        previous = None
        if lane is not None and index is not None:
            run = lane.runs[index]
            position = self.lane_layout.position_of(lane.id)
            line = (None if position is None
                    else self.lane_layout.first_rows[position] - self.scroll_offset.y)
            previous = (lane.id, run.run_id, run.start_ns, line)
        self.model = model
        if measure_names:
            known = self._title_widths
            self._names_width = max(
                (lane_names_width(lane, known) for lane in model.lanes[:NAMES_MEASURED]),
                default=0,
            )
        self._relayout()
        if keep_place and not self._autofit:
            self._changed(view_moved=False)
        else:
            self.view = viewport.fit(model.span_ns, self.bars_width)
            self._autofit = True
        if previous is not None:
            lane_id, run_id, start_ns, line = previous
            lane = model.by_id.get(lane_id)
            found = lane.position(run_id, start_ns) if lane is not None else None
            if lane is not None and found is not None and lane.id in self.lane_layout.positions:
                self.selection = Selection(lane.id, found)
                if keep_place and line is not None:
                    top = self.lane_layout.first_rows[self.lane_layout.positions[lane.id]]
                    if top - self.scroll_offset.y != line:
                        self.scroll_to(y=max(top - line, 0), animate=False, immediate=True)
                self._changed()
                # The run itself may have changed (ended, failed): the status line follows.
                self.post_message(self.SelectionChanged(lane, found))
                return
            self.selection = None
        if self.selection is None and self.lane_layout.lanes:
            self._select(self.lane_layout.lanes[0], 0, reveal=False, cursor=not keep_place)
        self._changed()

    def selected_run_id(self) -> tuple[str, str] | None:
        lane, index = self.selected()
        if lane is None or index is None:
            return None
        return lane.id, lane.runs[index].run_id

    def selected(self) -> tuple[Lane | None, int | None]:
        if self.selection is None:
            return None, None
        lane = self.model.by_id.get(self.selection.lane_id)
        if lane is None or not 0 <= self.selection.index < len(lane.runs):
            return None, None
        return lane, self.selection.index

    def watch_text_filter(self) -> None:
        self._refilter()

    def watch_only_findings(self) -> None:
        self._refilter()

    def _refilter(self) -> None:
        self._relayout()
        lane, _ = self.selected()
        if lane is not None and lane.id not in self.lane_layout.positions:
            lane = None
        if lane is None and self.lane_layout.lanes:
            first = self.lane_layout.lanes[0]
            self._select(first, self._nearest_run(first), reveal=True, cursor=False)
        elif lane is None:
            self.selection = None
            self.post_message(self.SelectionChanged(None, None))
        else:
            self._reveal_lane(lane)
        self._changed()

    def _relayout(self) -> None:
        self.lane_layout = layout(self.model, self.text_filter, self.only_findings)
        self.virtual_size = Size(self.size.width, self.lane_layout.total_rows)

    # -- selection and view -----------------------------------------------------------------

    def select_run(self, lane: Lane, index: int, *, related: frozenset[str] | None = None) -> None:
        """Select run `index` of `lane`, highlighting `related` run ids of the same lane."""
        self.related = (lane.id, related) if related else None
        self._select(lane, index, reveal=True, cursor=True)

    def show_range(self, start_ns: float, end_ns: float) -> None:
        """Zoom and pan so that `[start_ns, end_ns]` (relative) fills most of the screen."""
        self.view = self._clamped(viewport.fit_range(start_ns, end_ns, self.bars_width, 0.15))
        self._autofit = False
        self._changed()

    def _select(self, lane: Lane, index: int, *, reveal: bool, cursor: bool) -> None:
        self.selection = Selection(lane.id, index)
        if reveal:
            self._reveal_lane(lane)
            start, end = lane.start_of(index), lane.end_of(index)
            moved = viewport.centre_on(self.view, start, end, self.bars_width)
            if moved != self.view:
                self.view = self._clamped(moved)
                self._autofit = False
        if cursor:
            start, end = lane.start_of(index), lane.end_of(index)
            left = max(start, self.view.start_ns)
            right = min(max(end, start + 1), self.view.end_ns(self.bars_width))
            self.cursor_ns = (left + right) / 2 if right > left else start
        self._changed()
        self.post_message(self.SelectionChanged(lane, index))

    def _reveal_lane(self, lane: Lane) -> None:
        position = self.lane_layout.position_of(lane.id)
        if position is None:
            return
        top = self.lane_layout.first_rows[position]
        height = lane.height
        if self.selection is not None and self.selection.lane_id == lane.id:
            # A tall lane: bring the selected run's sub-row into view, not just the lane's top.
            sub = lane.row_of[self.selection.index]
            top, height = top + max(sub - 1, 0), min(height, 3)
        y = self.scroll_offset.y
        visible = max(self.scrollable_content_region.height, 1)
        if top < y:
            self.scroll_to(y=top, animate=False, immediate=True)
        elif top + height > y + visible:
            self.scroll_to(y=max(top + height - visible, 0), animate=False, immediate=True)

    def _clamped(self, view: viewport.View) -> viewport.View:
        return viewport.clamp(view, self.model.span_ns, self.bars_width)

    def clear_selection(self) -> None:
        """No selected run and no cursor (a picture of the timeline shows neither)."""
        self.selection = None
        self.related = None
        self.cursor_ns = None
        self._changed()

    def _keep_cursor_on_screen(self) -> None:
        """A cursor the view moved away from comes back: to the selected run where it shows,
        else to the middle, so the ruler's cursor label always names a time on screen."""
        if self.cursor_ns is None:
            return
        width = self.bars_width
        left, right = self.view.start_ns, self.view.end_ns(width)
        if left <= self.cursor_ns < right:
            return
        lane, index = self.selected()
        if lane is not None and index is not None:
            start, end = max(lane.start_of(index), left), min(lane.end_of(index), right)
            if start < right and end >= left:
                self.cursor_ns = (start + max(end, start)) / 2
                return
        self.cursor_ns = self.view.t_of(width / 2)

    def _changed(self, view_moved: bool = True) -> None:
        if view_moved:
            self._keep_cursor_on_screen()
        self._generation += 1
        self._cache.clear()
        self._highlights = self._compute_highlights()
        self.refresh()
        if view_moved:
            self.post_message(self.ViewChanged())

    def _compute_highlights(self) -> dict[tuple[str, int], dict[int, int]]:
        marks: dict[tuple[str, int], dict[int, int]] = {}
        if self.related is not None:
            lane = self.model.by_id.get(self.related[0])
            if lane is not None:
                for run_id in self.related[1]:
                    i = lane.index.get(run_id)
                    if i is not None:
                        marks.setdefault((lane.id, lane.row_of[i]), {})[lane.pos_of[i]] = RELATED
        lane, index = self.selected()
        if lane is not None and index is not None:
            row = marks.setdefault((lane.id, lane.row_of[index]), {})
            row[lane.pos_of[index]] = SELECTED
        return marks

    # -- actions ----------------------------------------------------------------------------

    def action_pan(self, screens_eighths: float) -> None:
        cells = self.bars_width * PAN_FRACTION * screens_eighths
        self.view = self._clamped(viewport.pan(self.view, cells))
        self._autofit = False
        self._changed()

    def action_zoom(self, factor: float) -> None:
        anchor = self.cursor_ns
        if anchor is None:
            anchor = self.view.t_of(self.bars_width / 2)
        zoomed = viewport.zoom(self.view, factor, anchor, self.bars_width, self._max_ns_per_cell())
        self.view = self._clamped(zoomed)
        self._autofit = False
        self._changed()

    def action_fit(self) -> None:
        self.view = viewport.fit(self.model.span_ns, self.bars_width)
        self._autofit = True
        self._changed()

    def action_lane(self, delta: int) -> None:
        lanes = self.lane_layout.lanes
        if not lanes:
            return
        lane, _ = self.selected()
        position = self.lane_layout.position_of(lane.id) if lane is not None else None
        if position is None:
            target = 0
        else:
            target = min(max(position + delta, 0), len(lanes) - 1)
            if target == position:
                self.app.bell()
                return
        new_lane = lanes[target]
        self.related = self.related if self.related and self.related[0] == new_lane.id else None
        self._select(new_lane, self._nearest_run(new_lane), reveal=True, cursor=False)

    def action_lane_page(self, direction: int) -> None:
        lane, _ = self.selected()
        if lane is None:
            return
        position = self.lane_layout.position_of(lane.id) or 0
        rows = max(self.scrollable_content_region.height - 2, 1)
        first_rows = self.lane_layout.first_rows
        target_row = first_rows[position] + direction * rows
        target = min(max(bisect_right(first_rows, target_row) - 1, 0), len(first_rows) - 1)
        self.action_lane(target - position)

    def action_run(self, delta: int) -> None:
        lane, index = self.selected()
        if lane is None or index is None:
            return
        target = index + delta
        if not 0 <= target < len(lane.runs):
            self.app.bell()
            return
        self._select(lane, target, reveal=True, cursor=True)

    def action_edge(self, direction: int) -> None:
        lane, _ = self.selected()
        if lane is None:
            return
        self._select(lane, 0 if direction < 0 else len(lane.runs) - 1, reveal=True, cursor=True)

    def action_details(self) -> None:
        lane, index = self.selected()
        if lane is not None and index is not None:
            self.post_message(self.DetailsRequested(lane, index))

    def _nearest_run(self, lane: Lane) -> int:
        """The run of `lane` under the cursor, else the one nearest to it in time."""
        if self.cursor_ns is None:
            return 0
        t = self.cursor_ns
        best, best_distance = 0, math.inf
        for sub in lane.subrows:
            k = bisect_right(sub.starts, t) - 1
            for pos in (k, k + 1):
                if 0 <= pos < len(sub.starts):
                    start, end = sub.starts[pos], sub.ends[pos]
                    distance = 0 if start <= t <= end else min(abs(start - t), abs(end - t))
                    if distance < best_distance:
                        best_distance = distance
                        best = sub.positions[pos]
        return best

    # -- mouse --------------------------------------------------------------------------------

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        found = self.lane_layout.lane_at(self.scroll_offset.y + offset.y)
        if found is None:
            return
        position, line = found
        lane = self.lane_layout.lanes[position]
        x = offset.x - self.bars_offset
        if x < 0:
            self._select(lane, self._nearest_run(lane), reveal=True, cursor=False)
            return
        t = self.view.t_of(x + 0.5)
        self.cursor_ns = t
        index = self._run_at(lane, line, x) if line < len(lane.subrows) else None
        if index is None:
            index = self._nearest_run(lane)
        self.related = self.related if self.related and self.related[0] == lane.id else None
        self._select(lane, index, reveal=False, cursor=False)
        if event.chain == 2:
            self.action_details()

    def _run_at(self, lane: Lane, line: int, x: int) -> int | None:
        """The run drawn at column `x` of sub-row `line` (within a column either side)."""
        sub = lane.subrows[line]
        left, right = self.view.t_of(x - 1), self.view.t_of(x + 2)
        lo = bisect_left(sub.ends, left)
        hi = bisect_left(sub.starts, right)
        if lo >= hi:
            return None
        centre = self.view.t_of(x + 0.5)
        pos = min(
            range(lo, hi),
            key=lambda p: 0 if sub.starts[p] <= centre <= sub.ends[p]
            else min(abs(sub.starts[p] - centre), abs(sub.ends[p] - centre)),
        )
        return sub.positions[pos]

    def on_mouse_scroll_left(self, event: events.MouseScrollLeft) -> None:
        event.stop()
        self.action_pan(-1)

    def on_mouse_scroll_right(self, event: events.MouseScrollRight) -> None:
        event.stop()
        self.action_pan(1)

    def _on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        if event.shift or event.ctrl:
            event.stop()
            self.action_pan(1)
        else:
            super()._on_mouse_scroll_down(event)

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        if event.shift or event.ctrl:
            event.stop()
            self.action_pan(-1)
        else:
            super()._on_mouse_scroll_up(event)

    # -- rendering ------------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        old = self._bars_width
        new = self.bars_width
        if old and new != old:
            # Keep the same stretch of time on screen, whatever the new width.
            self.view = viewport.View(self.view.start_ns, self.view.ns_per_cell * old / new)
        self._bars_width = new
        self.virtual_size = Size(self.size.width, self.lane_layout.total_rows)
        if self._autofit:
            self.view = viewport.fit(self.model.span_ns, new)
        lane, _ = self.selected()
        if lane is not None:
            self.call_after_refresh(self._reveal_lane, lane)
        self._changed()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._cache.clear()

    def _style(self, name: str, partial: bool = False) -> Style:
        """A component's Rich style; `partial` for overlays (bold, a colour) on another style."""
        key = f"{name}/partial" if partial else name
        style = self._styles.get(key)
        if style is None:
            style = self.get_component_rich_style(f"timeline--{name}", partial=partial)
            self._styles[key] = style
        return style

    def render_line(self, y: int) -> Strip:
        row = self.scroll_offset.y + y
        width = self.size.width
        key = (row, self._generation * 10_000 + width)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._render_row(row, width)
            self._cache[key] = strip
        return strip

    def _render_row(self, row: int, width: int) -> Strip:
        found = self.lane_layout.lane_at(row)
        if found is None:
            return Strip.blank(width, self._style("empty"))
        position, line = found
        lane = self.lane_layout.lanes[position]
        alt = position % 2 == 1
        gutter = self._gutter(lane, line, alt)
        divider = Segment("│", self._style("divider"))
        bars_width = self.bars_width
        cursor_x = None
        if self.cursor_ns is not None:
            cursor_x = math.floor(self.view.x_of(self.cursor_ns))
        cells = paint_row(
            lane.subrows[line] if line < len(lane.subrows) else EMPTY_ROW,
            lane,
            self.view,
            bars_width,
            self._highlights.get((lane.id, line)),
            cursor_x,
        )
        empty = "empty-alt" if alt else "empty"
        background = self._style(empty)
        segments = [*gutter, divider]
        for text, style_id in cells:
            if style_id == EMPTY:
                style = background
            elif style_id == CURSOR:  # a line over the lane's own background
                style = background + self._style("cursor", partial=True)
            else:
                style = self._style(STYLE_NAMES[style_id])
            segments.append(Segment(text, style))
        return Strip(segments).adjust_cell_length(width, background)

    def legend_style(self, name: str) -> Style:
        """The style of a mark (`bar`, `overlap`, ...), for the help's legend."""
        return self._style(name)

    def _gutter(self, lane: Lane, line: int, alt: bool) -> list[Segment]:
        width = self.gutter_width
        selected = self.selection is not None and self.selection.lane_id == lane.id
        base = self._style("gutter-selected" if selected else ("gutter-alt" if alt else "gutter"))
        label_style = base + self._style("label", partial=True)
        detail_style = base + self._style("detail", partial=True)
        room = width - 3
        if line == 0:
            marker = "▶" if selected else " "
            badge = SEVERITY_BADGE.get(lane.severity or "", " ")
            badge_style = (
                base + self._style(f"severity-{lane.severity}", partial=True)
                if lane.severity
                else base
            )
            name, cls = lane_title(lane)
            name = shorten(name, room)
            segments = [
                Segment(marker, base),
                Segment(badge, badge_style),
                Segment(" ", base),
                Segment(name, label_style),
            ]
            used = cell_len(name)
            # The class goes beside the label when it fits whole; the label never gives way.
            if cls and used + 2 + cell_len(cls) <= room:
                segments.append(Segment("  " + cls, detail_style))
                used += 2 + cell_len(cls)
            segments.append(_pad(room - used, base))
            return segments
        if line == 1:
            name, cls = lane_title(lane)
            beside = cell_len(shorten(name, room)) + 2 + cell_len(cls) <= room
            text = lane_where(lane, room, "" if beside else cls)
        elif line == 2:
            count = len(lane.runs)
            text = f"{count:,} run{'s' if count != 1 else ''}"
            if lane.max_concurrency > 1:
                text += f" · {lane.max_concurrency} at once"
            text = shorten(text, room)
        else:
            return [Segment(" " * width, base)]
        return [Segment("   " + text, detail_style), _pad(room - cell_len(text), base)]


def lane_title(lane: Lane) -> tuple[str, str]:
    """A lane's name (its label, else its class) and its class when that says more."""
    cls = "" if lane.is_resource else clean(lane.short_class)
    if lane.label:
        name = clean(lane.label)
        return name, cls if cls and cls != name else ""
    return cls or clean(lane.key), ""


def lane_where(lane: Lane, width: int, cls: str = "") -> str:
    """A lane's second line: which key (and later, where the instance was created), after the
    class when the class did not fit beside the label."""
    if lane.is_resource:
        text = f"resource key · {plural(lane.instance_count, 'instance')}"
        if lane.fan_outs:
            text += f" · {lane.fan_outs} fan-out"
        return shorten(text, width)
    if lane.created is not None:
        # Where it was made says more than its key (the details panel has that); a long file
        # name gives way in the middle, keeping its line number.
        head = (f"{cls} · " if cls else "") + f"{clean(created_role(lane.created))} "
        room = max(width - cell_len(head), 8)
        return shorten(head + shorten(clean(lane.created.short), room, keep="middle"), width)
    key = clean(lane.key)
    if cls:
        room = width - cell_len(cls) - 1
        return shorten(f"{cls} {shorten(key, max(room, 8), keep='middle')}", width)
    return shorten(key, width, keep="middle")


def lane_names_width(lane: Lane, known: dict[str, tuple[object, int]] | None = None) -> int:
    """Columns a lane's gutter needs to show its name, class and key whole. `known`: the
    widths of names measured before, by lane id (kept up to date here)."""
    said = (lane.label, lane.cls, lane.created)
    cached = known.get(lane.id) if known is not None else None
    if cached is not None and cached[0] == said:
        width = cached[1]
    else:
        name, cls = lane_title(lane)
        title = cell_len(name) + (2 + cell_len(cls) if cls else 0)
        where = len(lane.key) if not lane.is_resource else 30
        if lane.created is not None:  # the second line tells where it was made instead
            where = cell_len(f"{created_role(lane.created)} {lane.created.short}")
        width = max(title, where)
        if known is not None:
            known[lane.id] = (said, width)
    runs = len(f"{len(lane.runs):,} runs · {lane.max_concurrency:,} at once")
    return 3 + max(width, runs) + 1


def _pad(count: int, style: Style) -> Segment:
    return Segment(" " * max(count, 0), style)

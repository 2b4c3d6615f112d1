"""The time ruler above the lanes: tick labels in readable units, following zoom and pan.

Two lines: labels, then tick marks and the cursor (▼). The left part, above the lane names,
shows the cursor's time and how much time the screen spans. Its columns line up with the
timeline's bars because it asks the timeline for the gutter width and the view.
"""

from __future__ import annotations

import math
from typing import ClassVar

from racetrace.analyzers.findings.timefmt import format_duration
from rich.segment import Segment
from textual.strip import Strip
from textual.widget import Widget

from .timeline import Timeline
from .viewport import tick_label, ticks

MIN_LABEL_GAP = 3  # columns between two labels


class Ruler(Widget):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "ruler--label", "ruler--tick", "ruler--cursor", "ruler--gutter"
    }

    def __init__(self, timeline: Timeline, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.timeline = timeline

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.refresh()

    def render_line(self, y: int) -> Strip:
        timeline = self.timeline
        width = self.size.width
        gutter = timeline.gutter_width
        bars = max(min(timeline.bars_width, width - gutter - 1), 0)
        view = timeline.view
        label_style = self.get_component_rich_style("ruler--label")
        tick_style = self.get_component_rich_style("ruler--tick")
        cursor_style = self.get_component_rich_style("ruler--cursor")
        gutter_style = self.get_component_rich_style("ruler--gutter")
        step, marks = self._ticks(bars)
        cursor_x = None
        if timeline.cursor_ns is not None:
            x = math.floor(view.x_of(timeline.cursor_ns))
            cursor_x = x if 0 <= x < bars else None
        if y == 0:
            if timeline.cursor_ns is not None:
                left = f" ▼ {tick_label(timeline.cursor_ns, view.ns_per_cell)}"
            else:
                left = ""
            cells = [" "] * bars
            for x, t in marks:
                label = tick_label(t, step)
                if x + len(label) <= bars:
                    cells[x : x + len(label)] = label
            segments = [
                Segment(left[:gutter].ljust(gutter), gutter_style),
                Segment(" ", gutter_style),
                Segment("".join(cells), label_style),
            ]
        else:
            span = format_duration(view.ns_per_cell * bars)
            left = f" {span} across"
            line = ["─"] * bars
            for x, _ in marks:
                line[x] = "┬"
            segments = [
                Segment(left[:gutter].ljust(gutter), gutter_style),
                Segment("├", tick_style),
            ]
            if cursor_x is not None:
                segments += [
                    Segment("".join(line[:cursor_x]), tick_style),
                    Segment("▼", cursor_style),
                    Segment("".join(line[cursor_x + 1 :]), tick_style),
                ]
            else:
                segments.append(Segment("".join(line), tick_style))
        return Strip(segments).adjust_cell_length(width, gutter_style)

    def _ticks(self, bars: int) -> tuple[float, list[tuple[int, float]]]:
        """Ticks spaced so that the longest label still leaves a gap before the next one."""
        view = self.timeline.view
        gap = 10
        for _ in range(4):
            step, marks = ticks(view, bars, gap)
            longest = max((len(tick_label(t, step)) for _, t in marks), default=0)
            if longest + MIN_LABEL_GAP <= gap:
                return step, marks
            gap = longest + MIN_LABEL_GAP
        return step, marks

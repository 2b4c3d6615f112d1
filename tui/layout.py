"""Which lanes are shown, in what order, and which screen row belongs to which lane and sub-row.

The filter (`/`) and "only findings" (`o`) choose lanes; each shown lane takes `lane.height`
rows. Row lookup is a bisection over the lanes' first rows, so it costs the same for 10 lanes
or 100,000.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from .lanes import Lane, Lanes


@dataclass(slots=True)
class Layout:
    lanes: list[Lane]
    first_rows: list[int]  # screen row (in the scrolled content) where each lane begins
    total_rows: int
    positions: dict[str, int]  # lane id -> position in `lanes`

    def lane_at(self, row: int) -> tuple[int, int] | None:
        """`(lane position, line within the lane)` at content row `row`, or None past the end."""
        if row < 0 or row >= self.total_rows:
            return None
        i = bisect_right(self.first_rows, row) - 1
        return i, row - self.first_rows[i]

    def position_of(self, lane_id: str) -> int | None:
        return self.positions.get(lane_id)


def layout(model: Lanes, text_filter: str = "", only_findings: bool = False) -> Layout:
    """The lanes to show: those matching every word of `text_filter` (case-insensitive)."""
    words = text_filter.lower().split()
    shown: list[Lane] = []
    first_rows: list[int] = []
    row = 0
    for lane in model.lanes:
        if only_findings and not lane.findings:
            continue
        if words and not all(word in lane.search for word in words):
            continue
        shown.append(lane)
        first_rows.append(row)
        row += lane.height
    return Layout(shown, first_rows, row, {lane.id: i for i, lane in enumerate(shown)})

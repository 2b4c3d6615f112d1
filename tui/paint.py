"""Paint one sub-row of bars into terminal cells: which glyph and which style each column gets.

This is the timeline's inner loop, so it works on plain lists and small integers and never
touches more than about one run per column: runs that fall inside a column already painted
are skipped by bisection (their marks still show), so a sub-row holding 100,000 runs costs the
same as one holding 100. The widget turns the result into a `Strip`.

Marks do not rely on colour: an overlap is hatched (╱), a failed run ends in ✗, a cancelled
one in ⊘, an unfinished one is dashed (╌) and ends in », a run that held its thread's running
event loop (a nested-loop or loop-blocking finding) is shaded (▒), and each run starts with a thin
bar (▏), so that runs touching in a sub-row, or stacked with close starts, stay apart.
"""

from __future__ import annotations

import math
from bisect import bisect_left

from .lanes import STATUS_CANCELLED, STATUS_ERROR, STATUS_UNFINISHED, Lane, RowViews, SubRow
from .viewport import View

# Cell styles, lowest priority first; the widget maps each to a component class. Selected
# and related runs keep their own colour where they overlap, hatched (in red, by the CSS).
EMPTY, CURSOR, BAR, OVERLAP, RELATED, SELECTED, RELATED_OVERLAP, SELECTED_OVERLAP = range(8)
STYLE_NAMES = (
    "empty", "cursor", "bar", "overlap", "related", "selected", "related-overlap",
    "selected-overlap",
)
_IN_OVERLAP = {BAR: OVERLAP, RELATED: RELATED_OVERLAP, SELECTED: SELECTED_OVERLAP}

BODY = " "
HATCH = "╱"
DASH = "╌"
LOOP_SHADE = "▒"
SEPARATOR = "▏"
CURSOR_LINE = "│"
END_MARK = {STATUS_ERROR: "✗", STATUS_CANCELLED: "⊘", STATUS_UNFINISHED: "»"}
# Which glyph wins when several runs share a column.
_GLYPH_RANK = {BODY: 0, DASH: 1, LOOP_SHADE: 1, HATCH: 2, SEPARATOR: 3, "»": 4, "⊘": 5, "✗": 6}
_BELOW_SEPARATOR = frozenset(g for g, rank in _GLYPH_RANK.items() if rank < _GLYPH_RANK[SEPARATOR])

Segments = list[tuple[str, int]]


def paint_row(
    row: SubRow,
    lane: Lane,
    view: View,
    width: int,
    highlight: dict[int, int] | None = None,
    cursor_x: int | None = None,
) -> Segments:
    """`(text, style)` runs covering `width` columns for one sub-row of `lane`.

    `highlight` maps a position in the sub-row to SELECTED or RELATED.
    """
    glyph = [BODY] * width
    style = [EMPTY] * width
    if width <= 0:
        return []
    highlight = highlight or {}
    starts, ends = row.starts, row.ends
    runs: RowViews = row.runs  # type: ignore[assignment]
    v0 = view.start_ns
    npc = view.ns_per_cell
    v1 = v0 + npc * width
    n = len(starts)
    i = bisect_left(ends, v0)
    marked = row.marked
    # Only the runs in `marked` can have a mark: a run whose END was not read when its lane
    # was laid out is marked (unfinished), and an ended run's status stays. Their statuses
    # are read (a column read: no `Run` per painted run); the others' are not read at all.
    next_marked = bisect_left(marked, i)
    marked_count = len(marked)
    status_of = runs.status if marked else _no_status  # (an empty row has no columns)
    loop_runs = lane.loop_runs
    while i < n:
        s = starts[i]
        if s >= v1:
            break
        e = ends[i]
        x0 = int((s - v0) // npc)
        if x0 < 0:
            x0 = 0
        x1 = math.ceil((e - v0) / npc)
        if x1 <= x0:
            x1 = x0 + 1
        if x1 > width:
            x1 = width
        cell_style = highlight.get(i, BAR)
        if s >= v0 and glyph[x0] in _BELOW_SEPARATOR:
            # Every run's first column is marked, so that runs touching in a sub-row, or
            # stacked in sub-rows that start close together, still read as separate runs.
            glyph[x0] = SEPARATOR
        while next_marked < marked_count and marked[next_marked] < i:
            next_marked += 1
        status = (status_of(i) if next_marked < marked_count and marked[next_marked] == i
                  else None)
        body = DASH if status == STATUS_UNFINISHED else BODY
        if loop_runs and runs.run_id(i) in loop_runs:
            body = LOOP_SHADE
        for x in range(x0, x1):
            if style[x] < cell_style:
                style[x] = cell_style
            if glyph[x] == BODY:
                glyph[x] = body
        mark = END_MARK.get(status) if status is not None else None
        if mark is not None and e <= v1:
            _put(glyph, x1 - 1, mark)
        # Runs that start and end inside the column where this one ends add nothing to see
        # but their marks: skip them by bisection on the (ascending) ends.
        j = bisect_left(ends, v0 + x1 * npc, i + 1)
        if j > i + 1:
            last = x1 - 1
            k = next_marked  # (the first marked at or after `i`)
            while k < marked_count and marked[k] < j:
                if marked[k] > i:
                    # (A run open when its lane was laid out may have ended since, `ok`.)
                    _put(glyph, last, END_MARK.get(status_of(marked[k]), BODY))
                k += 1
            if highlight:
                for pos, hl in highlight.items():
                    if i < pos < j and style[last] < hl:
                        style[last] = hl
        i = j
    if lane.stretches:
        _hatch_overlaps(lane, glyph, style, v0, npc, width)
    if cursor_x is not None and 0 <= cursor_x < width and style[cursor_x] == EMPTY:
        style[cursor_x] = CURSOR
        glyph[cursor_x] = CURSOR_LINE
    return _runs_of(glyph, style)


def _no_status(i: int) -> str:
    raise IndexError(i)


def _put(glyph: list[str], x: int, mark: str) -> None:
    if _GLYPH_RANK.get(mark, 0) > _GLYPH_RANK.get(glyph[x], 0):
        glyph[x] = mark


def _hatch_overlaps(
    lane: Lane, glyph: list[str], style: list[int], v0: float, npc: float, width: int
) -> None:
    stretches = lane.stretches
    stretch_ends = lane.stretch_ends
    v1 = v0 + npc * width
    k = bisect_left(stretch_ends, v0)
    n = len(stretches)
    while k < n:
        a, b = stretches[k]
        if a >= v1:
            break
        x0 = max(int((a - v0) // npc), 0)
        x1 = min(max(math.ceil((b - v0) / npc), x0 + 1), width)
        for x in range(x0, x1):
            cell = style[x]
            if cell >= BAR:
                style[x] = _IN_OVERLAP.get(cell, cell)
                if glyph[x] in (BODY, DASH):
                    glyph[x] = HATCH
        k = bisect_left(stretch_ends, v0 + x1 * npc, k + 1)


def _runs_of(glyph: list[str], style: list[int]) -> Segments:
    out: Segments = []
    text = glyph[0]
    current = style[0]
    for g, s in zip(glyph[1:], style[1:], strict=True):
        if s == current:
            text += g
        else:
            out.append((text, current))
            text = g
            current = s
    out.append((text, current))
    return out

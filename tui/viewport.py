"""The visible window of time: which nanoseconds each terminal column shows, and the ruler's ticks.

Times here are nanoseconds relative to the trace's first start (wall-clock nanoseconds since
1970 do not fit a float's 53 bits exactly; offsets from the origin do). A `View` is immutable:
pan and zoom return a new one, so a widget can compare views to know whether to redraw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_NS_PER_CELL = 1.0  # one nanosecond per column: the clock's own resolution
MIN_SPAN_NS = 1_000  # a trace whose runs all start at once still gets a readable scale


@dataclass(frozen=True, slots=True)
class View:
    """`start_ns` at the left edge of the bars, `ns_per_cell` nanoseconds per column."""

    start_ns: float
    ns_per_cell: float

    def end_ns(self, width: int) -> float:
        return self.start_ns + self.ns_per_cell * width

    def x_of(self, t_ns: float) -> float:
        """The column (fractional) where time `t_ns` falls."""
        return (t_ns - self.start_ns) / self.ns_per_cell

    def t_of(self, x: float) -> float:
        """The time at column `x` (its left edge)."""
        return self.start_ns + x * self.ns_per_cell


def fit(span_ns: int, width: int) -> View:
    """A view that shows exactly `[0, span_ns]` across `width` columns, so that the ruler's
    "across" and the header's span are one number."""
    span = max(span_ns, MIN_SPAN_NS)
    return View(0.0, max(span / max(width, 1), MIN_NS_PER_CELL))


def fit_range(start_ns: float, end_ns: float, width: int, margin: float = 0.1) -> View:
    """A view that shows `[start_ns, end_ns]` with `margin` (a fraction of it) either side."""
    span = max(end_ns - start_ns, MIN_SPAN_NS / 10)
    pad = span * margin
    npc = max((span + 2 * pad) / max(width, 1), MIN_NS_PER_CELL)
    return View(start_ns - pad, npc)


def zoom(view: View, factor: float, anchor_ns: float, width: int, max_ns_per_cell: float) -> View:
    """Zoom by `factor` (>1 zooms in) keeping `anchor_ns` at the same column."""
    npc = min(max(view.ns_per_cell / factor, MIN_NS_PER_CELL), max_ns_per_cell)
    x = view.x_of(anchor_ns)
    if not 0 <= x <= width:  # an anchor off screen would fling the view away: use the middle
        x = width / 2
        anchor_ns = view.t_of(x)
    return View(anchor_ns - x * npc, npc)


def pan(view: View, cells: float) -> View:
    return View(view.start_ns + cells * view.ns_per_cell, view.ns_per_cell)


def clamp(view: View, span_ns: int, width: int) -> View:
    """Keep the view inside the trace: never before its start (no negative times), never past
    its end, and never wider than the whole trace (zooming out stops at "fit")."""
    widest = fit(span_ns, width).ns_per_cell
    npc = min(view.ns_per_cell, widest)
    visible = npc * width
    high = max(max(span_ns, MIN_SPAN_NS) - visible, 0.0)
    start = min(max(view.start_ns, 0.0), high)
    return View(start, npc)


def centre_on(view: View, start_ns: float, end_ns: float, width: int) -> View:
    """Pan (not zoom) so that `[start_ns, end_ns]` is on screen; centred if it was not."""
    left = view.start_ns
    right = view.end_ns(width)
    if start_ns >= left and end_ns <= right:
        return view
    if end_ns - start_ns >= right - left:
        return View(start_ns - view.ns_per_cell * 2, view.ns_per_cell)
    middle = (start_ns + end_ns) / 2
    return View(middle - view.ns_per_cell * width / 2, view.ns_per_cell)


# Tick steps: 1-2-5 below a second, then steps people count in (seconds, minutes, hours).
_BIG_STEPS = (
    1e9, 2e9, 5e9, 10e9, 15e9, 30e9,
    60e9, 120e9, 300e9, 600e9, 900e9, 1800e9,
    3600e9, 7200e9, 21600e9, 43200e9, 86400e9,
)


def tick_step(ns_per_cell: float, min_gap_cells: int) -> float:
    """The smallest readable step that leaves `min_gap_cells` columns between ticks."""
    want = ns_per_cell * min_gap_cells
    if want < 1e9:
        exponent = math.floor(math.log10(max(want, 1.0)))
        for mantissa in (1, 2, 5, 10):
            step = mantissa * 10.0**exponent
            if step >= want:
                return step
    for step in _BIG_STEPS:
        if step >= want:
            return step
    return math.ceil(want / 86400e9) * 86400e9


def ticks(view: View, width: int, min_gap_cells: int = 14) -> tuple[float, list[tuple[int, float]]]:
    """The step and the ticks `(column, time)` that fall inside `width` columns."""
    step = tick_step(view.ns_per_cell, min_gap_cells)
    first = math.ceil(view.start_ns / step)
    out: list[tuple[int, float]] = []
    k = first
    while True:
        t = k * step
        x = round(view.x_of(t))
        if x >= width:
            break
        if x >= 0:
            out.append((x, t))
        k += 1
    return step, out


_UNITS = ((1e9, "s"), (1e6, "ms"), (1e3, "µs"), (1.0, "ns"))


def tick_label(t_ns: float, step_ns: float) -> str:
    """A tick's time, with just the decimals its step needs: `1.25 s`, `40 ms`, `2m30s`."""
    if abs(t_ns) < step_ns / 2:
        return "0"
    sign = "-" if t_ns < 0 else ""
    t = abs(t_ns)
    if t >= 60e9:
        minutes, rest = divmod(t, 60e9)
        if t >= 3600e9:
            hours, minutes = divmod(minutes, 60)
            head = f"{int(hours)}h{int(minutes):02d}m"
            if step_ns >= 60e9:
                return sign + head
        else:
            head = f"{int(minutes)}m"
        decimals = _decimals(1e9, step_ns)
        seconds = rest / 1e9
        width = 2 if decimals == 0 else 3 + decimals
        return f"{sign}{head}{seconds:0{width}.{decimals}f}s"
    for size, unit in _UNITS:
        if t >= size:
            decimals = _decimals(size, step_ns)
            return f"{sign}{t / size:.{decimals}f} {unit}"
    return f"{sign}{t:.0f} ns"


def _decimals(unit_ns: float, step_ns: float) -> int:
    if step_ns >= unit_ns:
        return 0
    return min(max(math.ceil(math.log10(unit_ns / step_ns) - 1e-9), 0), 9)

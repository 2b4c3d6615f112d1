"""Durations for people: ns to minutes, three significant digits."""

from __future__ import annotations

_UNITS = ((60_000_000_000, "min"), (1_000_000_000, "s"), (1_000_000, "ms"), (1_000, "µs"))


def format_duration(ns: int | float) -> str:
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    for size, unit in _UNITS:
        if ns >= size:
            value = ns / size
            text = f"{value:.3g}" if value < 1000 else f"{value:.0f}"
            return f"{sign}{text} {unit}"
    return f"{sign}{int(ns)} ns"

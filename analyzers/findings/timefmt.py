"""Durations for people: ns to minutes, three significant digits; and back (`parse_duration`)."""

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


_PARSE_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
                "min": 60_000_000_000}


def parse_duration(text: str, *, default_unit: str = "ms") -> int:
    """`"500ms"`, `"0.5s"`, `"250us"`, `"2 s"` (a bare number is in `default_unit`) -> ns.
    A `ValueError` names what is wrong."""
    spec = text.strip().lower()
    number = spec.rstrip("abcdefghijklmnopqrstuvwxyzµ ").strip()
    unit = spec[len(number):].strip() or default_unit
    if not number:
        raise ValueError(f"not a duration: {text!r} (e.g. 100ms, 0.5s)")
    if unit not in _PARSE_UNITS:
        raise ValueError(f"unknown unit {unit!r} in {text!r} (expected one of "
                         f"{', '.join(u for u in _PARSE_UNITS if u != 'µs')})")
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"not a duration: {text!r} (e.g. 100ms, 0.5s)") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"not a duration: {text!r} (must be zero or more)")
    return int(value * _PARSE_UNITS[unit])

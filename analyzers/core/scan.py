"""The optional C scanner of trace lines (`_scan.c`), or None: what `tableload` tries on each
stretch of a file before msgspec.

The scanner accepts only lines in the exact shape racetrace's tracer writes and turns them into
columns with no Python object per run for what becomes a number; a stretch holding anything
else is decoded by msgspec as before, so the table is the same either way. It is built when
racetrace is installed where a C compiler is (`setup.py`: an optional extension); without one,
or with `RACETRACE_PURE_PYTHON=1` (for tests and for comparing), every stretch goes through
msgspec.
"""

from __future__ import annotations

import os
from typing import Any

ENV_PURE = "RACETRACE_PURE_PYTHON"

try:
    from ._scan import Scanner as _Scanner
except ImportError:  # built without a compiler: the pure path
    _Scanner = None


def available() -> bool:
    """Whether loads use the C scanner now (built, and not turned off)."""
    return _Scanner is not None and os.environ.get(ENV_PURE, "") in ("", "0")


def scanner_for(table: Any) -> Any:
    """A scanner interning into `table`'s string tables, or None (see `available`)."""
    if not available():
        return None
    return _Scanner(table.instances, table.resources, table.methods, table.hosts,
                    table.files_, table.statuses, table.reasons)

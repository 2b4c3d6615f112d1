"""A loaded `Table` read run by run, as the commands that write every run do (`runs`,
`export`): the rows in the order a `Trace` holds its runs, each run's view made, written and
dropped, a batch at a time, never a `Run` object per row held.

A batch's details (class, label, task name, stack) are read together (`details.prefetch`): its
runs sit in a few stretches of their files, each decoded once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from .details import prefetch
from .model import Run
from .table import NO_END, Table

BATCH = 2048  # views alive at once


def start_order(table: Table) -> np.ndarray:
    """The rows a `Trace` of the same files holds, in its order: by start, load order breaking
    ties, the rows of a copied file left out."""
    rows = np.argsort(table.start, kind="stable")
    if table.dropped:
        rows = rows[~np.isin(rows, np.fromiter(table.dropped, dtype=np.int64))]
    return rows


def last_ns(table: Table) -> np.ndarray:
    """Per row, `Trace.last_ns_of` its run: its end, or for an unfinished run the last moment
    its process recorded (its start, if later or unknown)."""
    end = table.end
    open_rows = end == NO_END
    if not open_rows.any():
        return end
    last = np.array([table.process_last_ns.get(p, -1) for p in table.process_keys] or [-1],
                    dtype=np.int64)
    resolved = end.copy()
    resolved[open_rows] = np.maximum(last[table.process[open_rows]], table.start[open_rows])
    return resolved


def groups(keys: np.ndarray, rows: np.ndarray) -> list[np.ndarray]:
    """`rows` split by `keys[rows]` (ids, -1 for none, left out), each group in the order of
    `rows`, the groups in the order of their first row."""
    keyed = rows[keys[rows] >= 0]
    if not len(keyed):
        return []
    of = keys[keyed]
    order = np.argsort(of, kind="stable")
    cut = np.flatnonzero(of[order][1:] != of[order][:-1]) + 1
    parts = np.split(keyed[order], cut)
    position = np.empty(len(keys), dtype=np.int64)
    position[rows] = np.arange(len(rows))
    return sorted(parts, key=lambda part: int(position[part[0]]))


def views(table: Table, rows: Sequence[int] | np.ndarray, *, batch: int = BATCH,
          details: bool = True) -> Iterator[Run]:
    """The views of `rows`, in order, made `batch` at a time and not kept by the table;
    with their details read a batch at a time (`details=False`: on first use, one by one)."""
    for lo in range(0, len(rows), batch):
        made = table.passing_views(rows[lo: lo + batch])
        if details:
            prefetch(made)
        yield from made

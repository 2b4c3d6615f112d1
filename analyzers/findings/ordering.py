"""Whether runs on one key that never overlapped were kept apart by design, or by luck.

`latent` is for several *independent* users of one object whose runs merely happened not to
overlap. Runs that something kept apart are not latent. Each run after the first (runs in start
order, none overlapping) is judged against the one before it:

- handed over: it started within `HANDOVER_NS` of the previous run's end, in a task (thread)
  that existed before that end. That task was already waiting, for a lock, a queue or a running
  guard, and the end woke it. A task created after the end cannot have been waiting for it; a
  thread whose start is unknown is the main thread or one started before tracing: it existed.
- one flow of control: both runs belong to one user. A run's user is the task (thread) of its
  outermost run (`Ancestry.root_of`): sequential code awaiting each run in one task, and the
  tasks a run creates for its own steps (AutoGen's runtime dispatches each turn in a new task)
  are that run's, not independent users. Runs that one timer started (`classify.timers`: one
  creator, a task per tick, regular over the runs around them) are the timer's.

When every run is explained, the key was serialized: no `latent` finding, and the report says
why (`--verbose`). Runs handed to a new task per request or job, whose creator merely awaited
each one today, are neither: each task is its own user, created after the previous run ended.
That is how servers run them, and under load they overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from weakref import WeakKeyDictionary

import numpy as np
from racetrace.analyzers.core.model import Run
from racetrace.analyzers.core.table import NO_END, Table

from .classify import HANDOVER_NS, Ancestry, Timer, no_timer, timers

HANDED_OVER = "handed over"
ONE_FLOW = "one flow of control"
ONE_TIMER = "one timer"
TIMER_WINDOW = 8  # runs searched for timers at a time


@dataclass(frozen=True, slots=True)
class Serialized:
    """How the runs of a key were kept apart: per reason, how many runs it explains."""

    runs: int
    reasons: dict[str, int]

    def describe(self) -> str:
        parts = []
        if self.reasons.get(HANDED_OVER):
            parts.append(f"{self.reasons[HANDED_OVER]} started right after the previous run "
                         "ended, in a task or thread that was already waiting for it (a lock, "
                         "a queue or a running guard)")
        if self.reasons.get(ONE_FLOW):
            parts.append(f"{self.reasons[ONE_FLOW]} came from the same flow of control as the "
                         "previous run (sequential code, or the steps one run dispatched to "
                         "tasks of its own)")
        if self.reasons.get(ONE_TIMER):
            parts.append(f"{self.reasons[ONE_TIMER]} came from the timer that started the "
                         "previous run, which started one job at a time")
        return (f"its {self.runs} runs were kept apart by design, not by luck: of the runs "
                f"after the first, {'; '.join(parts)}")


def serialized(runs: Sequence[Run], ancestry: Ancestry) -> Serialized | None:
    """How the runs (one key's, start-sorted, none overlapping) were serialized, or None when
    some run followed the previous one without anything keeping them apart (latent)."""
    reasons = {HANDED_OVER: 0, ONE_FLOW: 0, ONE_TIMER: 0}
    timed: dict[str, Timer] = {}
    judged_until = 0  # runs[:judged_until] have been searched for timers
    previous = runs[0]
    previous_user = _user(previous, ancestry)
    for number in range(1, len(runs)):
        run = runs[number]
        user = _user(run, ancestry)
        if user == previous_user:
            reasons[ONE_FLOW] += 1
        elif _handed_over(previous, run):
            reasons[HANDED_OVER] += 1
        else:
            if not _may_tick(previous, run):
                return None
            if number >= judged_until:
                # Timers among the runs from here on, a window at a time: a key decided here
                # (most latent ones: one difference is enough) touches a few dozen runs, not
                # all of a million.
                lo = max(0, min(number - 1, len(runs) - TIMER_WINDOW))
                judged_until = lo + TIMER_WINDOW
                timed.update(timers(runs[lo:judged_until]))
            timer = timed.get(run.run_id)
            if timer is None or timer != timed.get(previous.run_id):
                return None
            reasons[ONE_TIMER] += 1
        previous, previous_user = run, user
    return Serialized(len(runs), {k: n for k, n in reasons.items() if n})


def serialized_rows(table: Table, rows: np.ndarray, runs: Sequence[Run],
                    ancestry: Ancestry) -> Serialized | None:
    """`serialized(runs, ancestry)` for `runs`, the views of `rows` of `table`: the runs that
    followed one of the same flow of control, or were handed over, found on the columns, so
    that only the others are judged run by run (a key of a thousand runs that were handed
    over one to the next makes no view of them). The same answer as `serialized`."""
    flags = None
    if len(rows) >= 2 and table.by_id is None:
        flags = _lane_flags(table, rows)
    if flags is None:
        return serialized(runs, ancestry)
    same_user, handed = flags
    rest = np.flatnonzero(~same_user & ~handed) + 1
    reasons = {HANDED_OVER: int((handed & ~same_user).sum()), ONE_FLOW: int(same_user.sum()),
               ONE_TIMER: 0}
    timed: dict[str, Timer] = {}
    judged_until = 0
    for number in rest.tolist():
        if not timed:
            # No timer known yet: the run ticks with the previous one only if the timers of
            # its window say so. Most latent keys are decided here, on the columns: their
            # first such run follows from another call site, or from a burst of tasks that
            # no one timer created, and no view of their runs is made.
            if number < judged_until or not _may_tick_rows(table, rows[number - 1],
                                                           rows[number]):
                return None
            lo = max(0, min(number - 1, len(runs) - TIMER_WINDOW))
            if no_timer(table, rows[lo: lo + TIMER_WINDOW]):
                return None
        # Only the views judged here are made (not a window of them around each).
        previous, run = table.passing_views(rows[number - 1: number + 1])
        if not _may_tick(previous, run):
            return None
        if number >= judged_until:
            lo = max(0, min(number - 1, len(runs) - TIMER_WINDOW))
            judged_until = lo + TIMER_WINDOW
            timed.update(timers(table.passing_views(rows[lo:judged_until])))
        timer = timed.get(run.run_id)
        if timer is None or timer != timed.get(previous.run_id):
            return None
        reasons[ONE_TIMER] += 1
    return Serialized(len(runs), {k: n for k, n in reasons.items() if n})


def _lane_flags(table: Table, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """For each run of `rows` after the first: whether it is of the previous run's flow of
    control (`_user`), and whether it was handed over (`_handed_over`); None when a run
    links to another (its user is its root's) or has neither task nor thread. A lane's rows
    are a slice of the table's lanes' `order`: worked out once for all of it."""
    base = rows.base
    if (isinstance(base, np.ndarray) and base.ndim == 1 and base.dtype == rows.dtype
            and rows.strides == base.strides):
        at = ((rows.__array_interface__["data"][0] - base.__array_interface__["data"][0])
              // rows.itemsize)
        if 0 <= at and at + len(rows) <= len(base):
            known = _FLAGS.get(table)
            if known is None or known[0] is not base:
                known = _FLAGS[table] = (base, *_flags_over(table, base))
            _, bad_at, same, handed = known
            end = at + len(rows)
            if np.searchsorted(bad_at, at) != np.searchsorted(bad_at, end):
                return None
            return same[at: end - 1], handed[at: end - 1]
    bad, same, handed = _flags(table, rows)
    return None if bad.any() else (same, handed)


def _flags_over(table: Table, order: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_flags` over all of `order`, a slice at a time (the gathered columns of a million rows
    would hold tens of MB at once): the positions whose user the columns cannot tell (few),
    and the pairs' flags."""
    bad_at: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    same: list[np.ndarray] = [np.zeros(0, dtype=bool)]
    handed: list[np.ndarray] = [np.zeros(0, dtype=bool)]
    linked = _linked(table)
    for lo in range(0, len(order), _FLAGS_ROWS):
        bad, same_user, handed_over = _flags(table, order[lo: lo + _FLAGS_ROWS + 1], linked)
        bad_at.append(np.flatnonzero(bad[:_FLAGS_ROWS]) + lo)
        same.append(same_user)
        handed.append(handed_over)
    return np.concatenate(bad_at), np.concatenate(same), np.concatenate(handed)


def forget(table: Table) -> None:
    """Drop what `serialized_rows` kept of `table` (its lanes' flags, ~2 bytes a run): the
    analysis is over, and a viewer keeps the table for its whole life."""
    _FLAGS.pop(table, None)


def _linked(table: Table) -> np.ndarray | None:
    """Per row: whether it links to another run (a parent, its task's creator); None when no
    row does."""
    if not (table.parents or table.creators):
        return None
    linked = np.zeros(len(table), dtype=bool)
    linked[np.fromiter((*table.parents, *table.creators), dtype=np.int64,
                       count=len(table.parents) + len(table.creators))] = True
    return linked


def _flags(table: Table, rows: np.ndarray, linked: np.ndarray | None = None,
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per run of `rows`: whether the columns cannot tell its user; per pair of runs one
    after the other: the later one of the same user, handed over. `linked`: `_linked(table)`,
    when worked out already."""
    has_task = table.has_task[rows]
    if linked is None:
        linked = _linked(table)
    # Where every run has a task (asyncio code), the thread columns are not read.
    tasks_only = bool(has_task.all())
    # A run of neither task nor thread has a context of its own; a linked one, its root's.
    bad = np.zeros(len(rows), dtype=bool) if tasks_only else ~(has_task | table.has_thread[rows])
    if linked is not None:
        bad |= linked[rows]
    # `_user`: the run's own task, else its thread (no run links to another: its own flow).
    task = table.task[rows]
    same_user = task[1:] == task[:-1]
    if not tasks_only:
        host, pid, thread = table.host[rows], table.pid[rows], table.thread[rows]
        both_threads = ~has_task[1:] & ~has_task[:-1]
        same_user &= has_task[1:] & has_task[:-1]
        same_user |= (both_threads & (host[1:] == host[:-1]) & (pid[1:] == pid[:-1])
                      & (thread[1:] == thread[:-1]))
    # `_handed_over`.
    end = table.end[rows][:-1]
    gap = table.start[rows][1:] - end
    after = rows[1:]
    ready = table.has_task_created[after] & (table.task_created[after] <= end)
    if not tasks_only:
        started_ok = ~table.has_thread_started[after] | (table.thread_started[after] <= end)
        ready = np.where(has_task[1:], ready, started_ok)
    handed = (end != NO_END) & (gap >= 0) & (gap <= HANDOVER_NS) & ready
    return bad, same_user, handed


_FLAGS_ROWS = 1 << 16
# Per table: its lanes' order and the flags of `_flags` over it.
_FLAGS: WeakKeyDictionary[Table, tuple[np.ndarray, ...]] = WeakKeyDictionary()


def _may_tick(previous: Run, run: Run) -> bool:
    """What one timer's two runs have at the least: one call site, and flows of control whose
    creation was recorded, the later one created after the earlier."""
    if previous.file != run.file or previous.line != run.line:
        return False
    before, after = previous.context_created_ns, run.context_created_ns
    return before is not None and after is not None and before <= after


def _may_tick_rows(table: Table, previous: int, row: int) -> bool:
    """`_may_tick` of two rows' views, read on the columns."""
    if table.file[previous] != table.file[row]:  # string ids: equal ids, equal files
        return False
    has_line = table.has_line
    if has_line[previous] != has_line[row] or (
            has_line[row] and table.line[previous] != table.line[row]):
        return False
    before, after = _created_at(table, previous), _created_at(table, row)
    return before is not None and after is not None and before <= after


def _created_at(table: Table, row: int) -> int | None:
    """`Run.context_created_ns` of a row's view."""
    if table.has_task[row]:
        return int(table.task_created[row]) if table.has_task_created[row] else None
    return int(table.thread_started[row]) if table.has_thread_started[row] else None


def _user(run: Run, ancestry: Ancestry) -> object:
    return ancestry.user_of(run)


def _handed_over(previous: Run, run: Run) -> bool:
    end = previous.end_ns
    if end is None or not 0 <= run.start_ns - end <= HANDOVER_NS:
        return False
    if run.task_key is not None:
        created = run.task_created_ns
        return created is not None and created <= end
    started = run.thread_started_ns
    return started is None or started <= end

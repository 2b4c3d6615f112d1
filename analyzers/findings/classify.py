"""What kind of overlap two runs on one key are: reentrant, cross-process, periodic, concurrent.

- reentrant: the later run started inside the earlier run's call chain. Known through the
  parent-run chain (OpenTelemetry context) and, where context did not propagate, through the
  run that created the later run's asyncio task; also when both ran in the same asyncio task (or,
  outside asyncio, on the same thread): one task can only run one call stack, so the later run
  is nested in the earlier one. Runs whose trace recorded neither task nor thread (other tools'
  OTLP spans) are re-entrant only through the parent chain.
- cross-process: the runs came from two processes (a resource key shared across processes).
- periodic: both runs were started by one timer whose job outlasts its period. A timer is one
  creator, seen in the trace: runs from one call site started by one long-lived task's (or
  thread's) loop at a regular interval, or in tasks (threads) that one task (thread) created one
  by one at a regular interval. Runs that merely start at a steady rate are not a timer: tasks
  created together (a gather whose handlers sleep `i * 50 ms` first, a load test) that start
  staggered are independent, and their overlaps concurrent.
- concurrent: anything else: independent tasks, threads or requests drove one object at once.

The first that applies wins, in that order: re-entrance is a causal fact, the others are
circumstances.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import islice, pairwise, repeat
from operator import attrgetter, sub

import numpy as np
from racetrace.analyzers.core.model import Run
from racetrace.analyzers.core.table import Table

from .report import CONCURRENT, CROSS_PROCESS, PERIODIC, REENTRANT

# A call site is periodic when it has at least this many runs on one key...
PERIODIC_MIN_RUNS = 3
# ...started at intervals that vary by at most this fraction of their mean (stdev / mean)...
PERIODIC_MAX_VARIATION = 0.25
# ...of at least this long: a timer's period is human-scale, while a burst of tasks launched
# together (gather) starts its runs microseconds apart, also regularly.
PERIODIC_MIN_PERIOD_NS = 10_000_000
# A run that starts within this long of the previous one's end was handed over: woken by that
# end (a lock released, a queue item taken, a task awaited). Longer than an event loop's turn
# and a thread's GIL switch interval (5 ms) on a busy machine; far shorter than a timer's period.
HANDOVER_NS = 5_000_000

_MAX_ANCESTRY = 10_000  # links followed per run, against cycles in damaged traces


class Ancestry:
    """The runs in whose call chain a run started, memoized: run id -> set of ancestor ids."""

    def __init__(self, lookup: Callable[[str], Run | None]) -> None:
        self._lookup = lookup
        self._cache: dict[str, frozenset[str]] = {}
        self._roots: dict[str, Run] = {}
        self._users: dict[str, object] = {}
        self.misses = 0  # links to runs the lookup did not know

    def learn(self, known: dict[str, frozenset[str]],
              users: dict[str, object] | None = None) -> None:
        """Ancestries (and users, see `user_of`) worked out elsewhere (another part of the
        trace)."""
        self._cache.update(known)
        if users:
            self._users.update(users)

    def user_of(self, run: Run) -> object:
        """The flow of control a run's work belongs to: the context of its outermost run."""
        if run.parent_run_id is None and run.task_created_by_run is None:
            return context_of(run)
        user = self._users.get(run.run_id)
        if user is None:
            user = self._users[run.run_id] = context_of(self.root_of(run))
        return user

    def root_of(self, run: Run) -> Run:
        """The outermost run in whose call chain `run` started (itself when none): the one
        flow of control its work belongs to. Parent runs first, then the run that created its
        task; a link to a run the lookup does not know ends the walk."""
        if run.parent_run_id is None and run.task_created_by_run is None:
            return run
        root = self._roots.get(run.run_id)
        if root is not None:
            return root
        root = run
        seen = {run.run_id}
        while len(seen) < _MAX_ANCESTRY:
            link = root.parent_run_id or root.task_created_by_run
            if link is None or link in seen:
                break
            known = self._roots.get(link)
            if known is not None:
                root = known
                break
            parent = self._lookup(link)
            if parent is None:
                break
            seen.add(link)
            root = parent
        self._roots[run.run_id] = root
        return root

    def of(self, run: Run) -> frozenset[str]:
        if run.parent_run_id is None and run.task_created_by_run is None:
            return frozenset()
        cached = self._cache.get(run.run_id)
        if cached is not None:
            return cached
        seen: set[str] = set()
        todo = [run.parent_run_id, run.task_created_by_run]
        while todo and len(seen) < _MAX_ANCESTRY:
            link = todo.pop()
            if link is None or link in seen or link == run.run_id:
                continue
            seen.add(link)
            known = self._cache.get(link)
            if known is not None:
                seen.update(known)
                continue
            parent = self._lookup(link)
            if parent is None:
                self.misses += 1
            else:
                todo.append(parent.parent_run_id)
                todo.append(parent.task_created_by_run)
        result = frozenset(seen)
        self._cache[run.run_id] = result
        return result


def context_of(run: Run) -> tuple[str, object]:
    """The flow of control a run ran in: its asyncio task, or else its thread. A run with
    neither (another tool's span) shares its context with no other run: "same context" is
    evidence of re-entrance only when the trace recorded the context."""
    if run.task_key is not None:
        return ("task", run.task_key)
    if run.thread_id is None:
        return ("unknown", run.run_id)
    return ("thread", (run.host, run.pid, run.thread_id))


Site = tuple[str | None, int | None]  # (file, line) of a run's call site
Timer = tuple[object, ...]  # what started a series of runs: one loop, or one creator


def _regular(times: list[int]) -> bool:
    """Whether sorted `times` are ticks: enough of them, at a human-scale, steady interval.
    C-level passes: a latent key of a thousand runs asks this too."""
    if len(times) < PERIODIC_MIN_RUNS:
        return False
    gaps = list(map(sub, islice(times, 1, None), times))
    mean = sum(gaps) / len(gaps)
    if mean < PERIODIC_MIN_PERIOD_NS:
        return False
    # Plain float arithmetic: `statistics.pstdev` is exact, and a thousand times slower.
    deviation = math.sqrt(sum(map(pow, map(sub, gaps, repeat(mean)), repeat(2))) / len(gaps))
    return deviation <= PERIODIC_MAX_VARIATION * mean


def _awaited(series: list[tuple[int, list[Run]]]) -> bool:
    """Whether each task (thread) of a series was created right after the previous one's runs
    ended: its creator awaited them, it did not tick (a loop serving requests one by one)."""
    for (_, earlier), (created, _) in pairwise(series):
        end = earlier[-1].end_ns
        if end is None or not 0 <= created - end <= HANDOVER_NS:
            return False
    return True


_SITE = attrgetter("file", "line")
_TASK = attrgetter("task_key")
_TASK_CREATED = attrgetter("task_created_ns")


def timers(runs: Sequence[Run]) -> dict[str, Timer]:
    """The runs among `runs` (one key's) that a timer started: run id -> that timer.

    Per call site with enough runs: the runs of one task (thread) that start at a regular
    interval (a long-lived loop), and the runs of tasks (threads) created one by one, by one
    task (thread), at a regular interval (a loop that creates a task per tick). Only those: a
    burst of tasks created together is no timer however regularly their runs start, and a run
    without creation evidence (an older trace, other tools' spans) is never a timer's."""
    sites = list(map(_SITE, runs))
    by_site: dict[Site, list[Run]]
    if len(set(sites)) == 1:
        by_site = {sites[0]: list(runs)}
    else:
        by_site = {}
        for site, run in zip(sites, runs, strict=True):
            by_site.setdefault(site, []).append(run)
    found: dict[str, Timer] = {}
    for site, group in by_site.items():
        if len(group) < PERIODIC_MIN_RUNS or site[0] is None:
            continue
        tasks = list(map(_TASK, group))
        series: list[tuple[int, list[Run]]]
        if None not in tasks and len(set(tasks)) == len(group):
            # The usual shape: a task per run. Only a creator can be a timer here.
            created = list(map(_TASK_CREATED, group))
            if None in created or not _regular(sorted(created)):
                continue  # decided at C speed: the fate of nearly every site
            order = sorted(zip(created, range(len(group)), strict=True))
            series = [(c, [group[i]]) for c, i in order]
        else:
            by_context: dict[object, list[Run]] = {}
            for run in group:
                by_context.setdefault(context_of(run), []).append(run)
            for context, members in by_context.items():
                if _regular(sorted(r.start_ns for r in members)):
                    timer = ("loop", site, context)
                    found.update((r.run_id, timer) for r in members)
            series = sorted(
                ((created, members) for members in by_context.values()
                 if (created := members[0].context_created_ns) is not None),
                key=_first)
        if not _regular([created for created, _ in series]) or _awaited(series):
            continue
        # Regular creations: read who created them (from the run details, so only now).
        creators = {(m[0].host, m[0].pid, m[0].context_creator) for _, m in series}
        if len(creators) == 1 and next(iter(creators))[2] is not None:
            timer = ("creator", site, *next(iter(creators)))
            for _, members in series:
                for run in members:
                    found.setdefault(run.run_id, timer)
    return found


def no_timer(table: Table, rows: np.ndarray) -> bool:
    """Whether `timers` of the views of `rows` (a table's, loaded from trace files) surely
    finds none, told from the columns alone in the usual shapes: too few runs, no call site,
    or one call site with a task per run whose creations were not regular. False: judge the
    views."""
    if len(rows) < PERIODIC_MIN_RUNS:
        return True
    file = table.file[rows]
    if (file != file[0]).any():
        return False
    has_line = table.has_line[rows]
    if (has_line != has_line[0]).any() or (has_line[0]
                                           and (table.line[rows] != table.line[rows[0]]).any()):
        return False
    if file[0] < 0:
        return True  # no call site: no timer's
    if not table.has_task[rows].all() or len(set(table.task[rows].tolist())) != len(rows):
        return False
    return (not table.has_task_created[rows].all()
            or not _regular(sorted(table.task_created[rows].tolist())))


def _first(item: tuple[int, list[Run]]) -> int:
    return item[0]


def pair_kind(
    earlier: Run,
    later: Run,
    later_ancestors: frozenset[str],
    earlier_ancestors: frozenset[str],
    timed: dict[str, Timer],
) -> str:
    """The kind of overlap between two runs on one key (`earlier` started first); `timed`
    holds the runs a timer started (`timers`)."""
    if (
        earlier.run_id in later_ancestors
        or later.run_id in earlier_ancestors
        # One task runs one call stack at a time, so a later run in the earlier one's task
        # started inside it; unless the earlier run's call returned and left its work running.
        or (context_of(earlier) == context_of(later) and not earlier.outlives_call)
    ):
        return REENTRANT
    if earlier.pid != later.pid or earlier.host != later.host:
        return CROSS_PROCESS
    if timed:
        timer = timed.get(later.run_id)
        if timer is not None and timer == timed.get(earlier.run_id):
            return PERIODIC
    return CONCURRENT

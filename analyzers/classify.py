"""What kind of overlap two runs on one key are: reentrant, cross-process, periodic, concurrent.

- reentrant: the later run started inside the earlier run's call chain. Known through the
  parent-run chain (OpenTelemetry context) and, where context did not propagate, through the
  run that created the later run's asyncio task; also when both ran in the same asyncio task (or,
  outside asyncio, on the same thread): one task can only run one call stack, so the later run
  is nested in the earlier one. Runs whose trace recorded neither task nor thread (other tools'
  OTLP spans) are re-entrant only through the parent chain.
- cross-process: the runs came from two processes (a resource key shared across processes).
- periodic: both runs came from one call site whose runs start at a regular interval (a timer
  whose job outlasts its period).
- concurrent: anything else: independent tasks, threads or requests drove one object at once.

The first that applies wins, in that order: re-entrance is a causal fact, the others are
circumstances.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from itertools import islice

from .model import Run
from .report import CONCURRENT, CROSS_PROCESS, PERIODIC, REENTRANT

# A call site is periodic when it has at least this many runs on one key...
PERIODIC_MIN_RUNS = 3
# ...started at intervals that vary by at most this fraction of their mean (stdev / mean)...
PERIODIC_MAX_VARIATION = 0.25
# ...of at least this long: a timer's period is human-scale, while a burst of tasks launched
# together (gather) starts its runs microseconds apart, also regularly.
PERIODIC_MIN_PERIOD_NS = 10_000_000

_MAX_ANCESTRY = 10_000  # links followed per run, against cycles in damaged traces


class Ancestry:
    """The runs in whose call chain a run started, memoized: run id -> set of ancestor ids."""

    def __init__(self, lookup: Callable[[str], Run | None]) -> None:
        self._lookup = lookup
        self._cache: dict[str, frozenset[str]] = {}
        self.misses = 0  # links to runs the lookup did not know

    def learn(self, known: dict[str, frozenset[str]]) -> None:
        """Ancestries worked out elsewhere (another part of the trace)."""
        self._cache.update(known)

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


def site_of(run: Run) -> Site:
    return (run.file, run.line)


def periodic_callsites(runs: Iterable[Run]) -> frozenset[Site]:
    """The call sites among `runs` (one key's) whose runs start at a regular interval."""
    starts: dict[Site, list[int]] = {}
    for run in runs:
        if run.file is not None:
            site = (run.file, run.line)
            times = starts.get(site)
            if times is None:
                starts[site] = [run.start_ns]
            else:
                times.append(run.start_ns)
    found = set()
    for site, times in starts.items():
        if len(times) < PERIODIC_MIN_RUNS:
            continue
        times.sort()
        gaps = list(map(int.__sub__, islice(times, 1, None), times))
        mean = sum(gaps) / len(gaps)
        if mean < PERIODIC_MIN_PERIOD_NS:
            continue
        # Plain float arithmetic: `statistics.pstdev` is exact, and a thousand times slower.
        deviation = math.sqrt(sum((g - mean) ** 2 for g in gaps) / len(gaps))
        if deviation <= PERIODIC_MAX_VARIATION * mean:
            found.add(site)
    return frozenset(found)


def pair_kind(
    earlier: Run,
    later: Run,
    later_ancestors: frozenset[str],
    earlier_ancestors: frozenset[str],
    periodic: frozenset[Site],
) -> str:
    """The kind of overlap between two runs on one key (`earlier` started first)."""
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
    if periodic:
        site = (later.file, later.line)
        if site in periodic and site == (earlier.file, earlier.line):
            return PERIODIC
    return CONCURRENT

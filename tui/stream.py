"""The timeline while the trace is still being read: lanes from the blocks decoded so far.

The loader calls `LaneStream.partial` between blocks (`analyzers.load`'s `on_partial`), in the
loading thread. Each call posts the bytes read (a progress message that replaces the last
one); now and then, the first time as soon as there is a run, it also lays out the lanes read
so far (`LaneSet.update`: only the runs new since the last time) and posts them. Laying out
never takes more than about a third of the loading thread's time: the next update waits at
least twice as long as this one took.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from racetrace.analyzers.load import Partial
from racetrace.analyzers.model import Run, Trace
from textual.message import Message

from .lanes import Lanes, LaneSet
from .messages import LanesGrew, LoadProgress

INTERVAL = 0.5  # seconds between two layouts of the lanes read so far, at least


class LaneStream:
    """Lays out a load in progress; `finish` gives the lanes of the whole trace."""

    def __init__(self, post: Callable[[Message], object], interval: float = INTERVAL,
                 after_update: Callable[[Partial], None] | None = None) -> None:
        self.post = post
        self.interval = interval
        # Called after each layout is posted (tests hold the load there, half read).
        self.after_update = after_update
        self.lanes = LaneSet()
        self.updates = 0
        self._next_at = 0.0
        self._frontier = 0
        self._source = ""
        self._last_of: dict[str, int] = {}
        self._processes_seen = 0

    def partial(self, part: Partial) -> None:
        self.post(LoadProgress(part.done, part.total))
        began = time.monotonic()
        if began < self._next_at or not part.lanes:
            return
        lanes = self._update(part)
        if not lanes.lanes:
            return
        self.updates += 1
        self.post(LanesGrew(lanes, part.done, part.total))
        spent = time.monotonic() - began
        if self.interval:  # (0: after every block, as tests ask)
            self._next_at = time.monotonic() + max(self.interval, 2 * spent)
        if self.after_update is not None:
            self.after_update(part)

    def _update(self, part: Partial) -> Lanes:
        if len(part.processes) != self._processes_seen:
            self._processes_seen = len(part.processes)
            self._last_of = {f"{p.host}/{p.pid}": p.last_ns for p in part.processes}
        # The file being read reaches as far as its latest start read: each lane's runs are in
        # start order, so the last of each lane is enough.
        if part.source != self._source:
            self._source, self._frontier = part.source, 0
        frontier = self._frontier
        for runs in part.lanes.values():
            if runs and runs[-1].start_ns > frontier and runs[-1].source == part.source:
                frontier = runs[-1].start_ns
        self._frontier = frontier
        last_of = self._last_of

        def frontier_of(run: Run) -> int:
            return max(last_of.get(run.process_key, frontier), run.start_ns)

        return self.lanes.update(part.lanes, part.notable, frontier_of, final=False)

    def finish(self, trace: Trace) -> Lanes:
        """The lanes of the loaded trace: the runs not laid out yet, the ends read last."""
        if not trace.runs:
            return Lanes([], 0, 0, 0)
        return self.lanes.update(trace.runs_by_instance(ordered=False),
                                 trace.failed_or_resourced(),
                                 trace.last_ns_of, final=True, run_count=len(trace.runs))

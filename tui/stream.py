"""The timeline while the trace is still being read: lanes from the rows decoded so far.

The loader calls `LaneStream.partial` between blocks (`analyzers.tableload`'s `on_partial`), in
the loading thread. Each call posts the bytes read (a progress message that replaces the last
one); now and then, the first time as soon as there is a run, it lays out the rows read so
far instead (`LaneSet.update`, on the table's columns) and posts them with the bytes read.
Laying out never takes more than about a third of the loading thread's time: the next update
waits at least twice as long as this one took.

With `turns` (`turns.py`), the loader lets the screen go first: it pauses at each block and
between lanes of a layout, and after posting a layout or its progress it waits until the
screen has shown it.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from racetrace.analyzers.core.table import Table
from racetrace.analyzers.core.tableload import TablePartial
from textual.message import Message

from .lanes import Lanes, LaneSet
from .messages import LanesGrew, LoadProgress
from .turns import Turns

INTERVAL = 0.5  # seconds between two layouts of the lanes read so far, at least
# Seconds between two progress messages, at least: each repaints the header, and the screen's
# time is the keys' (the loader calls `partial` every few milliseconds).
PROGRESS_INTERVAL = 0.1


class LaneStream:
    """Lays out a load in progress; `finish` gives the lanes of the whole trace."""

    def __init__(self, post: Callable[[Message], object], interval: float = INTERVAL,
                 after_update: Callable[[TablePartial], None] | None = None,
                 turns: Turns | None = None) -> None:
        self.post = post
        self.interval = interval
        self.turns = turns  # None: nobody to take turns with (tests, a load without screen)
        self._pause = turns.pause if turns is not None else _no_pause
        # Called after each layout is posted (tests hold the load there, half read).
        self.after_update = after_update
        self.lanes = LaneSet()
        self.updates = 0
        self._next_at = 0.0
        self._source = ""
        self._file_first = 0  # the first row of the file being read
        self._rows = 0  # rows at the last call
        self._last_of: dict[str, int] = {}
        self._processes_seen = 0
        self._progress_at = 0.0

    def partial(self, part: TablePartial) -> None:
        self._pause()
        # The loader pauses the cyclic collector, for the whole process: the screen's own
        # garbage (events, messages, strips) would pile up until the end of the load (~15 MB
        # at a million runs) and then sit in the oldest generation. The youngest generation
        # holds what a block left (~1 ms to collect); older ones, all that the load kept so
        # far (`collect(1)` at each layout held the interpreter 10-40 ms at a million runs).
        gc.collect(0)
        if part.source != self._source:
            # The rows of the files before were all read by the last call.
            self._source, self._file_first = part.source, self._rows
        self._rows = part.rows
        began = time.monotonic()
        if began < self._next_at or not part.rows:
            if began >= self._progress_at:
                self._progress_at = began + PROGRESS_INTERVAL
                self._post_held(LoadProgress(part.done, part.total))
            return
        lanes = self._update(part)
        self._progress_at = time.monotonic() + PROGRESS_INTERVAL
        if not lanes.lanes:
            self._post_held(LoadProgress(part.done, part.total))
            return
        self.updates += 1
        # The screen takes the new lanes (10-40 ms at a million runs), and the bytes read with
        # them, before the load goes on.
        self._post_held(LanesGrew(lanes, part.done, part.total))
        spent = time.monotonic() - began
        self._pause()
        if self.interval:  # (0: after every block, as tests ask)
            self._next_at = time.monotonic() + max(self.interval, 2 * spent)
        if self.after_update is not None:
            self.after_update(part)

    def _post_held(self, message: Message) -> None:
        """Post `message` and let the screen show it before the load goes on (the next
        pause waits). A paint that shares the interpreter with the loader took 5-10 times
        as long (a progress bar's 2 ms, 20 ms), and a key pressed meanwhile waited for it."""
        if self.turns is not None:
            self.turns.hold()
        self.post(message)

    def _update(self, part: TablePartial) -> Lanes:
        table = part.table
        if len(table.processes) != self._processes_seen:
            self._processes_seen = len(table.processes)
            self._last_of = {f"{p.host}/{p.pid}": p.last_ns for p in table.processes}
        # The file being read reaches as far as its latest start read.
        starts = table.cols["start"].data[self._file_first: part.rows]
        frontier = int(starts.max()) if len(starts) else 0
        return self.lanes.update(table, part.rows, final=False, last_of=self._last_of,
                                 frontier=frontier, pause=self._pause)

    def finish(self, table: Table) -> Lanes:
        """The lanes of the loaded trace."""
        return self.lanes.update(table, len(table), final=True, pause=self._pause)


def _no_pause() -> None:
    pass

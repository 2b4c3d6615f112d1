"""racetrace's clock: wall time the program under test cannot stop or move.

Test suites freeze time (freezegun patches `time.time_ns`, `time.monotonic_ns` and every module
attribute that refers to them). Runs are stamped with a monotonic clock anchored once to wall
time, both read through references held in a closure, where such patching does not reach: a
run in a frozen test is stamped when it really happened, and a wall-clock step (NTP) does not
reorder runs of one process.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def _anchored_clock() -> Callable[[], int]:
    monotonic_ns = time.monotonic_ns
    realtime = getattr(time, "CLOCK_REALTIME", None)
    if realtime is not None:
        # clock_gettime_ns is not among what time-freezing tools patch, even at start-up.
        wall_ns = time.clock_gettime_ns(realtime)
    else:  # pragma: no cover - Windows
        wall_ns = time.time_ns()
    offset = wall_ns - monotonic_ns()

    def now_ns() -> int:
        """Nanoseconds since the epoch, from the monotonic clock."""
        return monotonic_ns() + offset

    return now_ns


now_ns = _anchored_clock()

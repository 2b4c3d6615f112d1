"""Which test each run belongs to: the test (and phase) during which it started.

Tests run one after the other in a pytest process (an xdist worker is a process of its own), so
a run belongs to the test whose setup, call or teardown was under way when the run started, by
the wall clock that the tracer stamps runs with (`time.time_ns`, shared by the subprocesses a
test starts). Runs are read back from the trace files as the session goes (pytest_tail).

For each test this keeps its own runs and the earlier runs still open when it began (leaked
work: a background task, a thread, a subprocess that outlived its test): only those can
overlap the test's runs. A check analyzes them together; ended runs of earlier tests are
forgotten, so memory follows the test, not the suite.
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from dataclasses import dataclass

from racetrace.analyzers.core.lines import finish
from racetrace.analyzers.core.model import End, Process, Run, Trace

WINDOWS_KEPT = 3000  # phase windows remembered for naming the test a late-read run came from


@dataclass(frozen=True, slots=True)
class Window:
    """One phase of one test, in wall-clock nanoseconds; `end_ns` None while it runs."""

    nodeid: str
    phase: str  # setup | call | teardown
    start_ns: int
    end_ns: int | None = None

    def describe(self) -> str:
        return f"{self.nodeid} ({self.phase})"


class Attribution:
    def __init__(self) -> None:
        self._windows: deque[Window] = deque(maxlen=WINDOWS_KEPT)
        self.nodeid: str | None = None
        self.test_start_ns = 0
        self.current: dict[str, Run] = {}  # runs started during the current test
        self.carried: dict[str, Run] = {}  # earlier runs open when it began
        self.origin: dict[str, Window | None] = {}  # run id -> where it started (None: no test)
        self.checked: set[str] = set()  # run ids the current test's last check saw
        self.runs_seen = 0

    # -- the clock of the session -----------------------------------------------------------
    def begin_phase(self, nodeid: str, phase: str) -> None:
        now = time.time_ns()
        if nodeid != self.nodeid:
            self._begin_test(nodeid, now)
        self._windows.append(Window(nodeid, phase, now))

    def end_phase(self) -> None:
        if self._windows and self._windows[-1].end_ns is None:
            last = self._windows.pop()
            self._windows.append(Window(last.nodeid, last.phase, last.start_ns, time.time_ns()))

    def _begin_test(self, nodeid: str, now: int) -> None:
        # Of everything seen so far, only runs still open can overlap the new test's runs.
        keep = {i: r for i, r in (*self.carried.items(), *self.current.items())
                if r.end_ns is None}
        self.origin = {i: self.origin.get(i) for i in keep}
        self.carried = keep
        self.current = {}
        self.checked = set()
        self.nodeid = nodeid
        self.test_start_ns = now

    def window_of(self, start_ns: int) -> Window | None:
        """The phase under way at `start_ns`, or None (between tests, or forgotten)."""
        windows = self._windows
        index = bisect.bisect_right(windows, start_ns, key=_window_start) - 1
        if index < 0:
            return None
        window = windows[index]
        if window.end_ns is not None and start_ns >= window.end_ns:
            return None
        return window

    # -- runs as they are read ----------------------------------------------------------------
    def add(self, runs: list[Run], ends: list[End]) -> None:
        for run in runs:
            self.runs_seen += 1
            if run.start_ns >= self.test_start_ns and self.nodeid is not None:
                self.current[run.run_id] = run
            else:
                # Read late (a subprocess's file, a line written after the last look): it
                # belongs to an earlier test, and matters only if it is still open now.
                self.carried[run.run_id] = run
            self.origin[run.run_id] = self.window_of(run.start_ns)
        for end in ends:
            run = self.current.get(end.run_id) or self.carried.get(end.run_id)
            if run is not None and run.end_ns is None:
                finish(run, end)
        # A late run that had already ended before this test began is of no use.
        for run_id in [i for i, r in self.carried.items()
                       if r.end_ns is not None and r.end_ns <= self.test_start_ns]:
            del self.carried[run_id]
            self.origin.pop(run_id, None)

    # -- what a check analyzes ----------------------------------------------------------------
    def snapshot(self, processes: list[Process]) -> Trace:
        """The current test's runs and the earlier runs still open when it began, as a Trace
        in which every unfinished run is open until now (its process may well be alive)."""
        runs = sorted((*self.carried.values(), *self.current.values()), key=_run_start)
        now = time.time_ns()
        keys = {r.process_key for r in runs}
        known = {p.key: p for p in processes if p.key in keys}
        for run in runs:
            if run.process_key not in known:
                known[run.process_key] = Process(host=run.host, pid=run.pid, source=run.source)
        return Trace(
            runs=runs,
            processes=list(known.values()),
            process_last_ns=dict.fromkeys(keys, now),
        )

    def is_current(self, run_id: str) -> bool:
        return run_id in self.current


def _window_start(window: Window) -> int:
    return window.start_ns


def _run_start(run: Run) -> int:
    return run.start_ns

"""The screen goes first: the loading thread stands aside while a key or a new layout waits to
be shown.

Python runs one thread at a time. While a trace loads, the loading thread wants the interpreter
all the time, so the screen got it only every other millisecond: a key's few milliseconds of
work took two to three times as long on the clock (82 ms at a million runs). Instead, the app
`hold`s the loader when a key arrives (and the loader holds itself when it posts a layout or
its progress) and `release`s it once the screen has painted the result; the loader `pause`s
between blocks of the file (a few ms of work each) and waits while it is held. A hold nobody
releases (a key that changed nothing on screen) lapses after `longest` seconds, and the loader
always reads at least one block between two waits, so that keys held down slow the load but
never stop it. Once the app has gone (`close`), nothing holds the loader any more: no screen
would release it, and the process's exit waits for the loading thread.
"""

from __future__ import annotations

import threading
import time

LONGEST = 0.2  # seconds: the longest the loader waits for one hold


class Turns:
    def __init__(self, longest: float = LONGEST) -> None:
        self.longest = longest
        self._free = threading.Event()
        self._free.set()
        self.waits = 0  # pauses that waited for the screen
        self.waited = 0.0  # seconds the loader spent waiting
        self.lapses = 0  # holds nobody released within `longest`
        self.closed = False  # the screen is gone: `hold` does nothing

    @property
    def held(self) -> bool:
        return not self._free.is_set()

    def hold(self) -> None:
        """The screen has something to show (any thread)."""
        if not self.closed:
            self._free.clear()
            if self.closed:  # (closed meanwhile, from the app's thread)
                self._free.set()

    def release(self) -> None:
        """The screen has shown it (the app's thread, after the refresh)."""
        self._free.set()

    def close(self) -> None:
        """The screen is gone: release the loader, for good."""
        self.closed = True
        self._free.set()

    def pause(self) -> None:
        """Between two pieces of the loader's work, in its thread: wait while held."""
        if self._free.is_set():
            return
        began = time.monotonic()
        self.waits += 1
        if not self._free.wait(self.longest):
            self._free.set()  # lapsed: nobody will release it
            self.lapses += 1
        self.waited += time.monotonic() - began

"""The findings list under the timeline: one line per finding, worst first.

Moving through it (arrows, or `n`/`N` anywhere) moves the timeline to the finding; the app
listens for `FindingChosen`. An empty list says why it is empty instead of showing nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from .describe import finding_line

if TYPE_CHECKING:
    from racetrace.analyzers.findings.report import Finding


NARROW = 110  # columns below which a finding's line leaves out the instance key


BATCH = 100  # findings listed per screen refresh
KEYS_PAUSE = 0.25  # seconds without input before the next batch is listed


class FindingsList(OptionList):
    class FindingChosen(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    class Listed(Message):
        """Every finding shown is listed now (after batches: see `show`)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.count = 0
        self._shown: tuple[Sequence[Finding], int] | None = None
        self._narrow = False

    def show(self, findings: Sequence[Finding], origin_ns: int) -> None:
        self.count = len(findings)
        self._shown = (findings, origin_ns)
        highlighted = self.highlighted
        # A thousand findings take ~200 ms to list: the first screenfuls now, the rest a batch
        # after each refresh of the screen, so that keys are answered meanwhile. (Not
        # `call_later`: a widget handles the messages it posts itself in one go, so the
        # batches ran back to back and a key waited for all of them, ~100 ms at 1M runs.)
        self.set_options(self._finding_options(0, BATCH))
        if self.count > BATCH:
            self._next_batch(self._shown)
        if highlighted is not None and highlighted < self.count:
            self.mark(highlighted)
        self.border_title = f"Findings ({len(findings)})" if findings else "Findings"

    @property
    def listing(self) -> bool:
        """Batches of the findings shown are still to come (`Listed` follows them)."""
        return self._shown is not None and self.option_count < self.count

    def _finding_options(self, lo: int, hi: int) -> list[Option]:
        assert self._shown is not None
        findings, origin_ns = self._shown
        return [Option(finding_line(findings[i], origin_ns, narrow=self._narrow), id=f"f{i}")
                for i in range(lo, min(hi, len(findings)))]

    def _next_batch(self, shown: object) -> None:
        # Each batch lays the screen out again (the list grew: 7-11 ms): while keys come,
        # the rest waits for a pause in them.
        since = time.monotonic() - getattr(self.app, "last_input", 0.0)
        if since < KEYS_PAUSE:
            self.set_timer(KEYS_PAUSE - since, lambda: self._next_batch(shown))
        else:
            self.call_after_refresh(self._list_more, shown)

    def _list_more(self, shown: object, upto: int | None = None) -> None:
        """The next batch of the findings `shown` lists (or those up to `upto`), unless
        others are shown since."""
        if shown is not self._shown:
            return
        listed = self.option_count
        until = upto if upto is not None else listed + BATCH
        self.add_options(self._finding_options(listed, until))
        if upto is None and self.option_count < self.count:
            self._next_batch(shown)
        elif self.option_count >= self.count:
            self.post_message(self.Listed())

    def on_resize(self) -> None:
        narrow = self.size.width < NARROW
        if narrow != self._narrow:
            self._narrow = narrow
            if self._shown is not None and self.count:
                self.show(*self._shown)

    def show_note(self, note: str, style: str = "dim") -> None:
        self.count = 0
        self._shown = None
        self.set_options([Option(Text(note, style), disabled=True)])
        self.border_title = "Findings"

    def mark(self, index: int) -> None:
        """Highlight finding `index` (the app already jumped to it)."""
        if index >= self.option_count and self._shown is not None:
            self._list_more(self._shown, index + 1)
        self.highlighted = index

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        # Only the user's own moves in the list jump; `n`/`N` have jumped already.
        if self.has_focus and self.count:
            self.post_message(self.FindingChosen(event.option_index))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.count:
            self.post_message(self.FindingChosen(event.option_index))

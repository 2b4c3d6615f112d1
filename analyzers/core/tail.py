"""Reading a trace file while it is still written: the complete lines appended since last time.

`racetrace tui --follow` and the pytest plugin both poll trace files that live processes append
to. Each poll decodes only what was appended, and only whole lines: a writer may be in the middle
of one, which is then read, whole, by the next poll. Damaged lines are skipped, counted and named
(with their line numbers) as the full loader does.
"""

from __future__ import annotations

import io
import os

import msgspec

from .details import attach_details
from .lines import DECODE_ERRORS, MAX_PROBLEMS, first_line
from .model import End, Header, Run

Record = Header | Run | End

_decoder = msgspec.json.Decoder(Record)
# Taken at import: the pytest plugin reads while a test may have `open` or `os.fstat` patched.
_open = io.open
_fstat = os.fstat


class FileTail:
    """One trace file, followed: `read()` returns the records appended since the last call."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.offset = 0
        self.lines = 0  # whole lines consumed so far, for naming damaged ones
        self.skipped = 0
        self.problems: list[str] = []
        self.restarted = False

    def read(self) -> list[Record]:
        """The records of the whole lines appended since the last read. A file that shrank was
        replaced or truncated: it is read again from its start (`restarted` tells callers)."""
        self.restarted = False
        try:
            with _open(self.path, "rb") as handle:
                size = _fstat(handle.fileno()).st_size
                if size < self.offset:
                    self.offset = self.lines = 0
                    self.restarted = True
                if size == self.offset:
                    return []
                handle.seek(self.offset)
                data = handle.read(size - self.offset)
        except OSError:
            return []  # gone between listing and reading: the caller's next listing says so
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            return []
        self.offset += cut
        return self._decode(data[:cut])

    def _decode(self, data: bytes) -> list[Record]:
        records = self._records(data)
        # What is followed is shown as it comes: its details are decoded now, not on demand.
        attach_details([r for r in records if r.__class__ is Run], data)
        return records

    def _records(self, data: bytes) -> list[Record]:
        first = self.lines + 1
        self.lines += data.count(b"\n")
        try:
            return _decoder.decode_lines(data)  # the fast path: no damage in this stretch
        except DECODE_ERRORS:
            pass
        records: list[Record] = []
        for number, line in enumerate(data.splitlines(), first):
            if not line.strip():
                continue
            try:
                records.append(_decoder.decode(line))
            except DECODE_ERRORS as exc:
                self.skipped += 1
                if len(self.problems) < MAX_PROBLEMS:
                    self.problems.append(f"{self.path}:{number}: skipped: {first_line(exc)}")
        return records

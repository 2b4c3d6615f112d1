"""Decode the lines of one racetrace trace file (JSON lines: a header, then START and END
records), as fast as Python allows: this is where a million-run load spends its time. The
columnar loader (`tableload.py`) reads each file through here; so do the followers and the
pytest plugin (`finish`, `read_header`). So:

- Records are decoded by msgspec a stretch of `CHUNK_BYTES` at a time, from a block of the
  file (`blocks.py`; the columnar loader offers each stretch to the C scanner first,
  `scan.py`); a stretch that fails (damage somewhere in it) is decoded again line by line, so
  only the damaged lines are lost, a last line cut short included.
- A START line is decoded into the fields every run needs (`Run`); the rest (`RunDetails`) is
  decoded by `details.py`, for every run at once (`load(details="eager")`) or when used.
- What is damage: a line that does not decode (bad JSON, a wrong-typed field, an integer wider
  than 64 bits, nesting too deep to decode), a line that is not valid UTF-8 (each stretch is
  checked at C speed: its run keeps its times but not its unreadable class, label or stack), an
  END before its START (`tableload`). The type of each detail field is checked where the
  details are decoded (`details.py`).
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
from racetrace.tracer import semconv

from .blocks import Blocks
from .model import End, Header, Run, RunDetails

CHUNK_BYTES = 1 << 16  # also what a lazy details read re-reads: keep it small
MAX_PROBLEMS = 20  # damaged lines named per file; all are counted

_decoder = msgspec.json.Decoder(Header | Run | End)
# What a damaged line can raise: msgspec's errors, and RecursionError for nesting too deep.
DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, RecursionError)

_STATUSES = {
    s: s for s in (semconv.STATUS_OK, semconv.STATUS_ERROR, semconv.STATUS_CANCELLED,
                   semconv.STATUS_UNFINISHED)
}


_header_decoder = msgspec.json.Decoder(Header)


def read_header(path: str | os.PathLike[str]) -> Header | None:
    """The header of a trace file, or None (unreadable, or not starting with one)."""
    try:
        with open(path, "rb") as handle:
            return _header_decoder.decode(handle.readline())
    except (OSError, *DECODE_ERRORS):
        return None


class NotATrace(Exception):
    """A file in which not a single line is a trace record."""


def first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


class Damage:
    """Lines skipped while decoding one file: how many, and the first few, named."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.skipped = 0
        self.problems: list[str] = []

    def add(self, number: int, exc: Exception) -> None:
        self.skipped += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{self.source}:{number}: skipped: {first_line(exc)}")

    def note(self, problem: str) -> None:
        self.skipped += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)


def _identity(header: Header) -> tuple[Any, ...]:
    return (header.host, header.pid, header.wall_ns, header.monotonic_ns)


def decode_chunks(data: Any, damage: Damage, numbers: _LineNumbers, base: int = 0,
                  size: int | None = None, final: bool = True,
                  scan: Callable[[Any, int, int, int], bool] | None = None
                  ) -> Iterator[tuple[int, int, list[Any]]]:
    """A block's records, `(lo, hi, records)` a stretch at a time (offsets into `data`),
    damaged lines skipped into `damage`. The block is `data[:size]`, at byte `base` of its
    file; only the `final` block of a file may end in a line cut short. `scan(data, lo, hi,
    base)`, when given, is offered each stretch first: where it returns True it took the
    stretch, which is not decoded here (the C scanner, `scan.py`)."""
    size = len(data) if size is None else size
    # Most traces are ASCII: one fast pass over the whole buffer spares a UTF-8 check per
    # stretch (bytes past `size` may make it fail: that only costs the checks).
    text = data.isascii()
    view = memoryview(data)
    pos = 0
    decode_lines = _decoder.decode_lines
    try:
        while pos < size:
            cut = size
            if pos + CHUNK_BYTES < size:
                cut = data.rfind(b"\n", pos, pos + CHUNK_BYTES) + 1
                if cut <= pos:  # a single line longer than a chunk
                    cut = data.find(b"\n", pos + CHUNK_BYTES, size) + 1 or size
            if scan is not None and scan(data, pos, cut, base):
                pos = cut
                continue
            if ((final and cut == size and data[size - 1:size] != b"\n")
                    or not (text or _utf8(view[pos:cut]))):
                # Possibly cut short by a writer killed mid-line, or holding bytes that are
                # not text: decode it line by line.
                yield pos, cut, _decode_each(bytes(view[pos:cut]), numbers.at(base + pos),
                                             damage)
            else:
                try:
                    records = decode_lines(view[pos:cut])
                except DECODE_ERRORS:
                    records = _decode_each(bytes(view[pos:cut]), numbers.at(base + pos),
                                           damage)
                yield pos, cut, records
            pos = cut
    finally:
        view.release()  # or the block's buffer could not be reused


class _LineNumbers:
    """The line number at a byte offset of a file, counted on from the last one asked for:
    only damaged stretches need one, so the bytes before are read again only then."""

    def __init__(self, blocks: Blocks) -> None:
        self.blocks = blocks
        self.pos = 0
        self.number = 1

    def at(self, pos: int) -> int:
        for lo in range(self.pos, pos, 1 << 20):
            self.number += self.blocks.read(lo, min(pos, lo + (1 << 20))).count(b"\n")
        self.pos = pos
        return self.number


def _utf8(data: Any) -> bool:
    """Whether `data` is valid UTF-8 (msgspec checks only the fields it keeps)."""
    try:
        codecs.utf_8_decode(data, "strict", True)
    except UnicodeDecodeError:
        return False
    return True


def line_number(data: Any, lo: int, at: int, first: int) -> int:
    """The number of the line holding byte `at`, counting `first` from byte `lo`."""
    return first + data[lo:at].count(b"\n")


def _decode_each(data: bytes, first_number: int, damage: Damage) -> list[Any]:
    decode = _decoder.decode
    records: list[Any] = []
    for number, line in enumerate(data.splitlines(), first_number):
        if not line.strip():
            continue
        try:
            record = decode(line)
        except DECODE_ERRORS as exc:
            damage.add(number, exc)
            continue
        if not _utf8(line):
            if record.__class__ is not Run:
                damage.add(number, ValueError("invalid UTF-8"))
                continue
            # Its times and identity decoded: keep the run, without the details that did not.
            damage.note(f"{damage.source}:{number}: run {record.run_id}: invalid UTF-8; its "
                        "class, label, task and stack are unreadable")
            record.details = RunDetails(run_id=record.run_id)
        records.append(record)
    return records


def finish(run: Run, end: End) -> bool:
    """Complete `run` with its END record; False (and `run` left open) for an END before the
    run's START, which is damage."""
    if end.end_ns < run.start_ns:
        return False
    run.end_ns = end.end_ns
    run.status = _STATUSES.get(end.status, end.status)
    run.end_reason = end.reason
    if end.error_type is not None or end.error_message is not None:
        run.error_type = end.error_type
        run.error_message = end.error_message
    return True


def ended_before_start(source: str, end: End) -> str:
    return f"{source}: end of run {end.run_id} before its start; the run is left unfinished"

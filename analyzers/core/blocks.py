"""A trace file read a block of whole lines at a time, never mapped into memory.

Every reader of whole files goes through here (the report, `runs`, `export`, `sessions`, the
timeline): a file that ends in NUL bytes (the tracer's mapped chunk, unwritten yet, of a live or
killed process) is read to where its data ends, the padding neither read as lines nor counted
as damage.

A mapped file that shrinks while it is read (a user truncating it, a disk tool rewriting it)
kills the reader with SIGBUS, which Python cannot catch. Reading takes what the file holds at
each moment: a file cut short mid-read ends early, its last line damage like any other. Blocks
are read into one reused buffer, so that a large file costs neither its size in memory nor an
allocation's page faults per block.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO

BLOCK_BYTES = 4 << 20
# How far back the end of a padded file's data is looked for, a read at a time.
_PAD_STEP = 1 << 16


def data_end(handle: BinaryIO) -> int | None:
    """Where the data of a file that ends in NUL bytes ends, or None (its last byte is not
    NUL). The tracer maps its file a chunk at a time: a live writer's file, or a killed one's,
    ends in the unwritten rest of its chunk, NUL bytes that no line holds (JSON escapes them)
    and that are the end of the data, not damage."""
    try:
        fd = handle.fileno()
        end = os.fstat(fd).st_size
        if end == 0 or os.pread(fd, 1, end - 1) != b"\0":
            return None
        while end > 0:
            low = max(0, end - _PAD_STEP)
            piece = os.pread(fd, end - low, low)
            kept = len(piece.rstrip(b"\0"))
            if kept:
                return low + kept
            end = low
    except OSError:
        return None
    return 0


def unpadded(data: bytes | bytearray, size: int) -> int:
    """`size`, less the NUL bytes that end `data[:size]`."""
    while size and data[size - 1] == 0:
        size -= 1
    return size


class Blocks:
    """The lines of a file (or of bytes already in memory), `(base, data, size, final)` a
    block at a time: `data[:size]` holds whole lines starting at byte `base` of the file,
    except that the `final` block may end in a line cut short. `data` is reused for the next
    block: keep slices of it, never the object. `read(lo, hi)` reads a range again (for the
    rare line number a damaged line needs). `block_bytes`: the size of a block (default
    `BLOCK_BYTES`); a line longer than it makes its block larger."""

    def __init__(self, handle: BinaryIO | None = None, data: bytes | None = None, *,
                 block_bytes: int | None = None) -> None:
        self.handle = handle
        self.data = data
        self.block_bytes = block_bytes

    @classmethod
    def of(cls, data: bytes) -> Blocks:
        return cls(data=data)

    def __iter__(self) -> Iterator[tuple[int, bytes | bytearray, int, bool]]:
        if self.data is not None:
            yield 0, self.data, unpadded(self.data, len(self.data)), True
            return
        assert self.handle is not None
        buffer = bytearray(self.block_bytes or BLOCK_BYTES)
        base = 0
        filled = 0
        # A padded file is read to where its data ends (what a live writer adds later is not).
        limit = data_end(self.handle)
        if limit is not None:
            limit -= self.handle.tell()
        while True:
            end = False
            with memoryview(buffer) as view:
                while filled < len(buffer):  # fill the buffer, or reach the end of the file
                    if limit is not None:
                        room = limit - base - filled
                        if room <= 0:
                            end = True
                            break
                        got = self.handle.readinto(view[filled:filled + room])
                    else:
                        got = self.handle.readinto(view[filled:])
                    if not got:
                        end = True
                        break
                    filled += got
            if end:
                filled = unpadded(buffer, filled)  # a file that grew padded while read
                if filled:
                    yield base, buffer, filled, True
                return
            cut = buffer.rfind(b"\n", 0, filled) + 1
            if cut == 0:  # one line longer than the buffer: make room and read on
                buffer.extend(bytes(len(buffer)))
                continue
            yield base, buffer, cut, False
            base += cut
            buffer[: filled - cut] = buffer[cut:filled]
            filled -= cut

    def read(self, lo: int, hi: int) -> bytes:
        if self.data is not None:
            return self.data[lo:hi]
        assert self.handle is not None
        try:
            return os.pread(self.handle.fileno(), max(0, hi - lo), lo)
        except OSError:
            return b""

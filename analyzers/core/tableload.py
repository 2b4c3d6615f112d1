"""Trace files into a `Table` (columns), with the same records, damage and merging rules as
`load` had over `Run` objects (decoded by `lines.py`): what every reader loads.

Each stretch of lines is offered to the optional C scanner (`scan.py`), which takes it only if
every line is in the exact shape our tracer writes and turns it into column bytes; any other
stretch is decoded by msgspec into the loader's own record types (`Run`, `End`, `Header`: the
same validation, so the same lines are damage), turned into column chunks at C speed, and
dropped: no `Run` object outlives its stretch. The table is the same either way. A START's
row is found again by its END through the runs still open (a dict of their ids, small); END
fields are scattered into the columns by row. Run details (class, label, stack, ...) are
never decoded here: a run's view reads them from its file when a report shows it
(`details.py`).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import compress, repeat
from operator import attrgetter, is_, lt
from pathlib import Path
from typing import Any

import numpy as np
from msgspec.structs import astuple
from racetrace.tracer import semconv

from .blocks import Blocks
from .gcpause import gc_paused
from .lines import (
    Damage,
    NotATrace,
    _identity,
    _LineNumbers,
    decode_chunks,
    ended_before_start,
    finish,
)
from .loadfiles import LoadError, ProgressCallback, _looks_like_otlp, _size
from .model import End, Header, Origin, Process, Run, last_ns_by_process
from .scan import scanner_for
from .table import FIELD_AT, NO_END, Table

_RUN_ID = attrgetter("run_id")
_END_NS = attrgetter("end_ns")
_STATUS = attrgetter("status")
_REASON = attrgetter("reason")


@dataclass
class TablePartial:
    """What a load holds between two blocks of a file (`load_table(on_partial=...)`), for a
    viewer to show before the load completes: rows `0..rows` of `table` are committed (their
    END fields as read so far: a run whose END is not read yet is `NO_END`, status unfinished);
    `table.processes` are the files read whole. Read it during the call only; change nothing."""

    done: int  # bytes read so far, of `total`
    total: int
    table: Table
    rows: int
    source: str  # the file being read


TablePartialCallback = Callable[[TablePartial], None]


def load_table(
    files: list[tuple[Path, bool]],
    *,
    key_attr: str | None = None,
    on_progress: ProgressCallback | None = None,
    on_partial: TablePartialCallback | None = None,
    block_bytes: int | None = None,
) -> Table:
    """`load_files`, into columns (see the module docstring). `on_partial` is called after
    each block of each racetrace file (see `TablePartial`). `block_bytes`: how much of a file
    is read at a time (default `blocks.BLOCK_BYTES`; the table does not depend on it)."""
    table = Table()
    total = sum(map(_size, (f for f, _ in files)))
    done = 0
    headers: set[tuple[Any, ...]] = set()
    orphans: list[tuple[End, str]] = []
    file_rows: list[tuple[int, int]] = []  # each loaded file's rows
    scanner = scanner_for(table)
    with gc_paused():
        for file, named in files:
            try:
                with open(file, "rb", buffering=0) as handle:
                    size = _size(file)
                    if _looks_like_otlp(handle):
                        _load_otlp(table, handle.readall(), str(file), key_attr, file_rows)
                    else:
                        blocks = Blocks(handle, block_bytes=block_bytes)
                        if on_partial is not None:
                            blocks = _Watched(handle, TablePartial(
                                done, total, table, len(table), str(file)), on_partial,
                                block_bytes)
                        _FileLoad(table, str(file), headers, orphans, file_rows,
                                  scanner).read(blocks)
            except OSError as exc:
                raise LoadError(f"{file}: cannot read: {exc.strerror or exc}") from exc
            except NotATrace as exc:
                if named:
                    raise LoadError(f"{exc} (not a racetrace or OTLP trace file)") from None
                table.problems.append(f"{file}: ignored, not a trace file")
                continue
            done += size
            if on_progress is not None:
                on_progress(done, total)
        unmatched = 0
        for end, source in orphans:
            row = table.row_by_id(end.run_id)
            if row is None or table.end[row] != NO_END:
                table.skipped_lines += 1
                unmatched += 1
                if len(table.problems) < 20:
                    what = ("whose start is missing" if row is None
                            else "that had already ended")
                    table.problems.append(f"{source}: end of run {end.run_id} {what}")
                continue
            if not _finish(table, row, end):
                table.skipped_lines += 1
                if len(table.problems) < 20:
                    table.problems.append(ended_before_start(source, end))
    table.files = [str(f) for f, _ in files]
    table.process_last_ns = last_ns_by_process(table.processes)
    table.unmatched_ends = unmatched
    if table.dropped:
        table.notable = [r for r in table.notable if r not in table.dropped]
        table.on_loop = [r for r in table.on_loop if r not in table.dropped]
    return table


class _Watched(Blocks):
    """A file's blocks, with `on_partial` called each time the loader is done with one (its
    rows committed: the loader asks for the next block after its flush)."""

    def __init__(self, handle: Any, partial: TablePartial,
                 on_partial: TablePartialCallback, block_bytes: int | None = None) -> None:
        super().__init__(handle, block_bytes=block_bytes)
        self.partial = partial
        self.on_partial = on_partial

    def __iter__(self) -> Iterator[tuple[int, bytes | bytearray, int, bool]]:
        partial = self.partial
        first = partial.done
        for block in super().__iter__():
            yield block
            base, _, size, _ = block
            partial.done = first + base + size
            partial.rows = len(partial.table)
            self.on_partial(partial)


def _finish(table: Table, row: int, end: End) -> bool:
    """`lines.finish` on a row."""
    if end.end_ns < table.start[row]:
        return False
    table.cols["end"].data[row] = end.end_ns
    status = table.cols["status"].data[row] = table.statuses[end.status]
    table.cols["reason"].data[row] = table.reasons[end.reason]
    if end.error_type is not None or end.error_message is not None:
        table.errors[row] = (end.error_type, end.error_message)
    # An OTLP row is shown through its own `Run` (made at load): it ends too.
    view = table.views.get(row) if isinstance(table.views, dict) else None
    if view is not None:
        finish(view, end)
    _ended(table, row, status)
    return True


def _ended(table: Table, row: int, status: int) -> None:
    if (status == table.statuses[semconv.STATUS_ERROR]
            and table.cols["resource"].data[row] < 0):
        table.notable.append(row)


def _load_otlp(table: Table, data: bytes, source: str, key_attr: str | None,
               file_rows: list[tuple[int, int]]) -> None:
    from .otlp import load_otlp_lines

    runs, processes, skipped, problems = load_otlp_lines(data, source, key_attr=key_attr)
    kept: list[Run] = []
    mine: set[str] = set()
    for run in runs:
        if run.run_id in mine or table.row_by_id(run.run_id) is not None:
            if len(problems) < 20:
                problems.append(f"{source}: run {run.run_id} loaded twice; kept the first")
            continue
        mine.add(run.run_id)
        kept.append(run)
    first = len(table)
    rows = table.append_runs(kept)
    table.notable.extend(int(r) for r, run in zip(rows, kept, strict=True)
                         if run.status == semconv.STATUS_ERROR or run.resource_key is not None)
    table.on_loop.extend(int(r) for r, run in zip(rows, kept, strict=True) if run.loop_running)
    file_rows.append((first, len(table)))
    table.processes.extend(processes)
    table.skipped_lines += skipped
    table.problems.extend(problems)


class _FileLoad:
    """One racetrace file's lines into the table (on rows). A run still open is its row in
    `open` (run id -> row, less the file's first row); its start is in `starts` (by the same
    number), for its END to be checked against. STARTs and END fields go into the columns a
    block (a few thousand runs) at a time, where numpy's cost per call is small against the
    work. Each stretch is offered to the C scanner first (`scan.py`), if there is one; what it
    turns down is decoded by msgspec."""

    def __init__(self, table: Table, source: str, headers: set[tuple[Any, ...]],
                 orphans: list[tuple[End, str]], file_rows: list[tuple[int, int]],
                 scanner: Any = None) -> None:
        self.table = table
        self.source = source
        self.headers = headers
        self.orphans = orphans
        self.file_rows = file_rows
        self.scanner = scanner
        self.damage = Damage(source)
        self.header: Header | None = None
        self.unresolved: list[Any] = []
        self.open: dict[str, int] = {}  # runs started and not (yet) ended
        self.starts = array("q")  # each row's start (row less `first`)
        self.resourced: set[int] = set()  # rows (less `first`) with a resource key
        self.unmatched: list[End] = []
        self.last_ns = 0
        self.seen = 0
        self.first = len(table)
        self.next_row = len(table)
        self.staged = False  # STARTs staged in the table (msgspec's), not yet committed
        self.error_status = table.statuses[semconv.STATUS_ERROR]
        self.ok_status = table.statuses[semconv.STATUS_OK]
        # END fields waiting for the next flush (rows less `first`).
        self.end_rows = array("q")
        self.end_ns = array("q")
        self.end_status = array("i")
        self.end_reason = array("i")

    def read(self, blocks: Blocks) -> None:
        numbers = _LineNumbers(blocks)
        scan = self._scanned if self.scanner is not None else None
        for base, block, size, final in blocks:
            for lo, hi, records in decode_chunks(block, self.damage, numbers, base, size,
                                                 final, scan):
                self._add(lo, hi, records, base)
            self._flush()
        self._close()

    def _scanned(self, data: Any, lo: int, hi: int, base: int) -> bool:
        """The stretch `data[lo:hi]` through the C scanner: False (nothing changed) where it
        is not in the tracer's own shape, or holds a rare case (a run id repeated, an END
        whose run is not open or that precedes its start), which msgspec's path then takes."""
        got = self.scanner.parse(data, lo, hi)
        if got is None:
            return False
        ids, end_ids, start_ns, end_ns, links, resourced, looping, failed = got
        opened = self.open
        rel = self.next_row - self.first
        n = len(ids)
        if n:
            if not opened.keys().isdisjoint(ids):
                return False
            size = len(opened)
            opened.update(zip(ids, range(rel, rel + n), strict=True))
            if len(opened) - size != n:  # an id twice in the stretch
                for run_id in ids:
                    opened.pop(run_id, None)
                return False
        starts = self.starts
        mark = len(starts)
        starts.frombytes(start_ns)
        # Before the ENDs: a run that ends in this stretch was open when its child started.
        found = [(link, opened[link]) for _, parent, creator, _ in links
                 for link in (parent, creator) if link is not None and link in opened
                 ] if links else ()
        owners: list[int] = []
        if end_ids:
            ends = array("q")
            ends.frombytes(end_ns)
            size = len(opened)
            owners = list(map(opened.pop, end_ids, repeat(None)))
            if (size - len(opened) != len(owners)
                    or any(map(lt, ends, map(starts.__getitem__, owners)))):
                for run_id, owner in zip(end_ids, owners, strict=True):
                    if owner is not None:
                        opened[run_id] = owner
                for run_id in ids:
                    opened.pop(run_id, None)
                del starts[mark:]
                return False
        table = self.table
        if self.staged:  # msgspec's rows first: rows are in line order
            self._commit()
        stretch = -1
        if n:
            header = self.header
            table.origins.append(Origin(self.source, header.service if header is not None
                                        else None, base + lo, base + hi))
            stretch = len(table.origins) - 1
        codes, reasons = self.scanner.take(data, stretch)
        self.seen += n + len(end_ids)
        self.next_row += n
        first = self.first + rel
        if resourced:
            table.notable += (first + i for i in resourced)
            self.resourced.update(rel + i for i in resourced)
        if looping:
            table.on_loop += (first + i for i in looping)
        for i, parent, creator, fan in links:
            if parent is not None:
                table.parents[first + i] = parent
            if creator is not None:
                table.creators[first + i] = creator
            if fan is not None:
                table.fan_outs[first + i] = fan
        for link, owner in found:
            table.linked.setdefault(link, self.first + owner)
        if end_ids:
            self.last_ns = max(self.last_ns, max(ends))
            self.end_rows.extend(owners)
            self.end_ns += ends
            status = array("i")
            status.frombytes(codes)
            self.end_status += status
            self.end_reason.frombytes(reasons)
            for j, error_type, error_message in failed:
                owner = owners[j]
                row = self.first + owner
                if error_type is not None or error_message is not None:
                    table.errors[row] = (error_type, error_message)
                if status[j] == self.error_status and owner not in self.resourced:
                    table.notable.append(row)
        return True

    def _add(self, lo: int, hi: int, records: list[Any], base: int) -> None:
        self.seen += len(records)
        kinds = list(map(type, records))
        starts = list(compress(records, map(is_, kinds, repeat(Run))))
        ends = list(compress(records, map(is_, kinds, repeat(End))))
        if len(starts) + len(ends) < len(records):
            headers = [r for r in records if r.__class__ is Header]
            if self.header is None:
                self.header = headers[0]
            self.unresolved = headers[-1].unresolved_targets
        if starts:
            self._started(starts, lo, hi, base)
        if ends:
            self._ended(ends)

    def _started(self, starts: list[Run], lo: int, hi: int, base: int) -> None:
        table = self.table
        header = self.header
        service = header.service if header is not None else None
        ids = list(map(_RUN_ID, starts))
        opened = self.open
        size = len(opened)
        rel = self.next_row - self.first
        if opened.keys().isdisjoint(ids):
            opened.update(zip(ids, range(rel, rel + len(ids)), strict=True))
            if len(opened) - size != len(starts):  # an id twice in the stretch: undo, redo
                for run_id in ids:
                    opened.pop(run_id, None)
                starts = self._first_of_each(starts, ids, rel)
        else:
            starts = self._first_of_each(starts, ids, rel)
        if not starts:
            return
        if self.scanner is not None and self.scanner.pending:  # its rows first
            self._commit()
        n = len(starts)
        self.next_row += n
        table.origins.append(Origin(self.source, service, base + lo, base + hi))
        c = table.stage(starts, len(table.origins) - 1, exact=True)
        assert c is not None
        self.staged = True
        self.starts.extend(c[FIELD_AT["start_ns"]])
        first = self.first + rel
        # Noted now, in line order with the failed runs their ENDs note.
        # (`stage` gave the fields as columns: a test of a tuple costs no attribute reads.)
        if any(c[FIELD_AT["resource_key"]]):
            kept = [i for i, r in enumerate(starts) if r.resource_key is not None]
            table.notable += (first + i for i in kept)
            self.resourced.update(rel + i for i in kept)
        if any(c[FIELD_AT["loop_running"]]):
            table.on_loop += (first + i for i, r in enumerate(starts) if r.loop_running)
        if any(c[FIELD_AT["details"]]):  # lines whose details are unreadable (not UTF-8)
            table.details.update((row, r.details) for row, r in zip(
                range(first, first + n), starts, strict=True) if r.details is not None)
        if any(c[FIELD_AT["parent_run_id"]]) or any(c[FIELD_AT["task_created_by_run"]]):
            # A run started inside another finds it open now, nearly always: remember it,
            # so that ancestry needs no index of every run.
            for run in starts:
                for link in (run.parent_run_id, run.task_created_by_run):
                    parent = opened.get(link) if link is not None else None
                    if parent is not None:
                        table.linked.setdefault(link, self.first + parent)  # type: ignore

    def _first_of_each(self, starts: list[Run], ids: list[str], rel: int) -> list[Run]:
        """The rare path: a run id repeated while its run is open. The first START counts."""
        opened = self.open
        kept: list[Run] = []
        for run, run_id in zip(starts, ids, strict=True):
            if run_id in opened:
                self.damage.note(f"{self.source}: run {run_id} loaded twice; kept the first")
                self.last_ns = max(self.last_ns, run.start_ns)  # its process recorded it
                continue
            opened[run_id] = rel + len(kept)
            kept.append(run)
        return kept

    def _ended(self, ends: list[End]) -> None:
        table = self.table
        # Every field of each END in one C call, as columns: run_id, end_ns, status, reason.
        ids, end_ns, statuses, reasons = list(zip(*map(astuple, ends), strict=True))[:4]
        self.last_ns = max(self.last_ns, max(end_ns))  # unmatched ones too
        opened = self.open
        size = len(opened)
        owners = list(map(opened.pop, ids, repeat(None)))
        if size - len(opened) != len(owners):  # an END whose run is not open: rare
            pairs = [(r, e) for r, e in zip(owners, ends, strict=True) if r is not None]
            self.unmatched += (e for r, e in zip(owners, ends, strict=True) if r is None)
            owners = [r for r, _ in pairs]
            ends = [e for _, e in pairs]
            end_ns = tuple(map(_END_NS, ends))
            statuses = tuple(map(_STATUS, ends))
            reasons = tuple(map(_REASON, ends))
        if any(map(lt, end_ns, map(self.starts.__getitem__, owners))):
            owners, ends = self._sound(owners, ends)
            end_ns = tuple(map(_END_NS, ends))
            statuses = tuple(map(_STATUS, ends))
            reasons = tuple(map(_REASON, ends))
        if not owners:
            return
        self.end_rows.extend(owners)
        self.end_ns.extend(end_ns)
        codes = list(map(table.statuses.__getitem__, statuses))
        self.end_status.extend(codes)
        self.end_reason.extend(map(table.reasons.__getitem__, reasons))
        ok = self.ok_status
        if codes.count(ok) != len(codes):
            for owner, end, status in zip(owners, ends, codes, strict=True):
                if status == ok:
                    continue
                row = self.first + owner
                if end.error_type is not None or end.error_message is not None:
                    table.errors[row] = (end.error_type, end.error_message)
                if status == self.error_status and owner not in self.resourced:
                    table.notable.append(row)

    def _sound(self, owners: list[int], ends: list[End]) -> tuple[list[int], list[End]]:
        """The rare path: ENDs stamped before their run's START are damage; the run stays
        open (a later, sound END may still complete it). The pairs that remain."""
        kept_owners: list[int] = []
        kept_ends: list[End] = []
        for owner, end in zip(owners, ends, strict=True):
            if end.end_ns < self.starts[owner]:
                self.damage.note(ended_before_start(self.source, end))
                self.open[end.run_id] = owner
                continue
            kept_owners.append(owner)
            kept_ends.append(end)
        return kept_owners, kept_ends

    def _commit(self) -> None:
        """Rows for the STARTs staged (by msgspec's path or the scanner: one of them)."""
        table = self.table
        first = len(table)
        if self.staged:
            table.commit(notable=False)
            self.staged = False
        scanner = self.scanner
        if scanner is not None and scanner.pending:
            table.commit_scanned(scanner.flush())
        if len(table) > first:  # the latest START of the block (dropped repeats aside)
            self.last_ns = max(self.last_ns, int(table.start[first:].max()))

    def _flush(self) -> None:
        self._commit()
        if self.end_rows:
            table = self.table
            rows = np.frombuffer(self.end_rows, dtype=np.int64) + self.first
            table.cols["end"].data[rows] = np.frombuffer(self.end_ns, dtype=np.int64)
            table.cols["status"].data[rows] = np.frombuffer(self.end_status, dtype=np.int32)
            table.cols["reason"].data[rows] = np.frombuffer(self.end_reason, dtype=np.int32)
            self.end_rows, self.end_ns = array("q"), array("q")
            self.end_status, self.end_reason = array("i"), array("i")

    def _close(self) -> None:
        self._flush()
        table = self.table
        damage = self.damage
        last = len(table)
        if not self.seen:
            if damage.skipped:
                raise NotATrace(damage.problems[0])
            return
        header = self.header
        first = self.first
        if first < last and (header is None or _identity(header) in self.headers):
            self._drop_copies(first, last)
        if header is not None:
            self.headers.add(_identity(header))
        self.file_rows_add(first, last)
        if self.unmatched:
            self._unmatched(first, last)
        if header is not None:
            process = Process(
                host=header.host, pid=header.pid, source=self.source, service=header.service,
                argv=header.argv, ppid=header.ppid, started_ns=header.wall_ns,
                last_ns=max(self.last_ns, header.wall_ns), unresolved_targets=self.unresolved,
            )
        else:
            # The first run kept (a copy's runs are dropped).
            kept = next((r for r in range(first, last) if r not in table.dropped), None)
            host, pid = ("", 0) if kept is None else (
                table.hosts.strings[table.host[kept]], int(table.pid[kept]))
            process = Process(host=host, pid=pid, source=self.source, last_ns=self.last_ns)
        table.processes.append(process)
        table.skipped_lines += damage.skipped
        table.problems.extend(damage.problems)

    def file_rows_add(self, first: int, last: int) -> None:
        self.file_rows.append((first, last))

    def _drop_copies(self, first: int, last: int) -> None:
        """The rare path: runs an earlier file loaded already (a copied file): drop them."""
        table = self.table
        earlier = [(lo, hi) for lo, hi in self.file_rows]
        if not earlier:
            return
        before: set[str] = set()
        for lo, hi in earlier:
            before.update(table.run_id(r) for r in range(lo, hi) if r not in table.dropped)
        for row in range(first, last):
            run_id = table.run_id(row)
            if run_id in before:
                table.dropped.add(row)
                self.damage.note(f"{self.source}: run {run_id} loaded twice; kept the first")

    def _unmatched(self, first: int, last: int) -> None:
        """ENDs before their START in the file, second ENDs, or ENDs of another file's runs."""
        table = self.table
        mine: dict[str, int] = {}
        for row in range(last - 1, first - 1, -1):
            if row not in table.dropped:
                mine[table.run_id(row)] = row
        for end in self.unmatched:
            row = mine.get(end.run_id)
            if row is None or table.end[row] != NO_END:
                self.orphans.append((end, self.source))
                continue
            if not _finish(table, row, end):
                self.damage.note(ended_before_start(self.source, end))

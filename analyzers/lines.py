"""Decode one racetrace trace file (JSON lines: a header, then START and END records) into
runs, as fast as Python allows: this is where a million-run load spends its time.

- Records are decoded by msgspec about a megabyte at a time and consumed while their objects
  are still in the CPU cache; a chunk that fails (damage somewhere in it) is decoded again line
  by line, so only the damaged lines are lost, a last line cut short by a killed writer included.
- One pass matches each END to its START, files each run in its instance's lane, and points
  the status at one shared string (less memory, cheaper comparisons later).
- Run ids are kept per file (`RunIndex`): merging them into one dict would cost a pass over
  every run, and a run's end is nearly always in its own file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
from racetrace.tracer import semconv

from .model import End, Header, Process, Run

CHUNK_BYTES = 1 << 20
MAX_PROBLEMS = 20  # damaged lines named per file; all are counted

_decoder = msgspec.json.Decoder(Header | Run | End)

_STATUSES = {
    s: s for s in (semconv.STATUS_OK, semconv.STATUS_ERROR, semconv.STATUS_CANCELLED,
                   semconv.STATUS_UNFINISHED)
}


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


class RunIndex:
    """Run id -> run over the files loaded so far, one dict per file."""

    def __init__(self) -> None:
        self.files: list[dict[str, Run]] = []
        self._headers: set[tuple[Any, ...]] = set()

    def get(self, run_id: str) -> Run | None:
        for runs in self.files:
            run = runs.get(run_id)
            if run is not None:
                return run
        return None

    def may_hold(self, runs: dict[str, Run], header: Header | None) -> bool:
        """Whether some of `runs` were loaded before. Each process writes its own file and never
        repeats a run in another, so only a file whose header was seen already (a copy) or that
        has none needs the full check."""
        if header is not None and _identity(header) not in self._headers:
            return False
        return any(not seen.keys().isdisjoint(runs) for seen in self.files)

    def add(self, runs: dict[str, Run], header: Header | None) -> None:
        self.files.append(runs)
        if header is not None:
            self._headers.add(_identity(header))


def _identity(header: Header) -> tuple[Any, ...]:
    return (header.host, header.pid, header.wall_ns, header.monotonic_ns)


def decode_chunks(data: bytes, damage: Damage) -> Iterator[list[Any]]:
    """A file's records, about `CHUNK_BYTES` at a time, damaged lines skipped into `damage`."""
    view = memoryview(data)
    size = len(data)
    pos = 0
    decode_lines = _decoder.decode_lines
    while pos < size:
        cut = size
        if pos + CHUNK_BYTES < size:
            cut = data.rfind(b"\n", pos, pos + CHUNK_BYTES) + 1
            if cut <= pos:  # a single line longer than a chunk
                cut = data.find(b"\n", pos + CHUNK_BYTES) + 1 or size
        if cut == size and not data.endswith(b"\n"):
            # Possibly cut short by a writer killed mid-line: decode it line by line.
            yield _decode_each(data[pos:cut], data.count(b"\n", 0, pos) + 1, damage)
        else:
            try:
                yield decode_lines(view[pos:cut])
            except (msgspec.DecodeError, msgspec.ValidationError):
                yield _decode_each(data[pos:cut], data.count(b"\n", 0, pos) + 1, damage)
        pos = cut


def _decode_each(data: bytes, first_number: int, damage: Damage) -> list[Any]:
    decode = _decoder.decode
    records: list[Any] = []
    for number, line in enumerate(data.splitlines(), first_number):
        if not line.strip():
            continue
        try:
            records.append(decode(line))
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            damage.add(number, exc)
    return records


def finish(run: Run, end: End) -> None:
    """Complete `run` with its END record."""
    run.end_ns = end.end_ns
    run.status = _STATUSES.get(end.status, end.status)
    run.end_reason = end.reason
    if end.error_type is not None or end.error_message is not None:
        run.error_type = end.error_type
        run.error_message = end.error_message


def load_lines(
    data: bytes,
    source: str,
    index: RunIndex,
    lanes: dict[str, list[Run]],
    orphans: list[tuple[End, str]],
) -> tuple[list[Run], list[Process], int, list[str]]:
    """The runs and the process of one trace file. ENDs whose START is not in this file go to
    `orphans`, for the caller to match once every file is loaded."""
    damage = Damage(source)
    header: Header | None = None
    service = None
    runs: list[Run] = []
    mine: dict[str, Run] = {}
    find = mine.get
    lane_of = lanes.get
    canon = _STATUSES.get
    last_ns = 0
    seen = 0
    # The hot loop: locals only, no call it can avoid.
    for records in decode_chunks(data, damage):
        seen += len(records)
        for record in records:
            kind = record.__class__
            if kind is Run:
                mine[record.run_id] = record
                record.source = source
                record.service = service
                if record.start_ns > last_ns:
                    last_ns = record.start_ns
                runs.append(record)
                lane = lane_of(record.instance_key)
                if lane is None:
                    lanes[record.instance_key] = [record]
                else:
                    lane.append(record)
            elif kind is End:
                run = find(record.run_id)
                if run is None or run.end_ns is not None:
                    orphans.append((record, source))
                    continue
                end_ns = record.end_ns
                run.end_ns = end_ns
                status = record.status
                run.status = canon(status, status)
                run.end_reason = record.reason
                if record.error_type is not None or record.error_message is not None:
                    run.error_type = record.error_type
                    run.error_message = record.error_message
                if end_ns > last_ns:
                    last_ns = end_ns
            elif header is None:
                header = record
                service = header.service
    if not seen:
        if damage.skipped:
            raise NotATrace(damage.problems[0])
        return [], [], 0, []
    if len(mine) != len(runs) or index.may_hold(mine, header):
        runs = _without_duplicates(runs, index, lanes, damage)
        mine = {r.run_id: r for r in runs}
    index.add(mine, header)
    if header is not None:
        process = Process(
            host=header.host, pid=header.pid, source=source, service=header.service,
            argv=header.argv, ppid=header.ppid, started_ns=header.wall_ns,
            last_ns=max(last_ns, header.wall_ns),
        )
    else:
        first = runs[0] if runs else None
        process = Process(host=first.host if first else "", pid=first.pid if first else 0,
                          source=source, last_ns=last_ns)
    return runs, [process], damage.skipped, damage.problems


def _without_duplicates(
    runs: list[Run], index: RunIndex, lanes: dict[str, list[Run]], damage: Damage
) -> list[Run]:
    """The rare path: a run id seen before (a copied file, a repeated line). Keep the first."""
    kept = []
    seen: set[str] = set()
    for run in runs:
        if run.run_id not in seen and index.get(run.run_id) is None:
            seen.add(run.run_id)
            kept.append(run)
            continue
        lane = lanes[run.instance_key]
        lane[:] = [r for r in lane if r is not run]
        damage.note(f"{damage.source}: run {run.run_id} loaded twice; kept the first")
    return kept

"""The columnar trace core: every run of a trace as one row of typed numpy columns.

A million runs as a million `Run` objects cost about 1 KB each; as columns about 150 bytes, and
the analysis reads them with vectorized passes instead of touching each object.
`tableload.load_table` fills a `Table` straight from trace files (no `Run` kept per row);
`Table.from_trace` puts an already loaded `Trace` (the TUI's, the pytest plugin's, a hand-built
one) into columns, its own `Run` objects serving as the rows' views.

The API (also what a timeline can draw from):

- `len(table)`; rows are in load order: files in the order given, START lines in file order.
  `dropped` holds the rows of a copied file that an earlier file had loaded (skip them).
- Columns (numpy arrays, one entry per row): `start` and `end` (ns; `end` is `NO_END`, -1, for
  a run that never ended), `instance` / `resource` / `method` / `host` / `file` / `status` /
  `reason` / `process` (ids into the string tables `instance_keys`, `resources.strings`, ...,
  `process_keys` ("host/pid"); -1 for none), `pid`, `line`, `thread`, `thread_started`,
  `task_created` (each with a `has_*` mask: False where the line did not say), `task` (the task
  key, bytes, or str objects once one is not ASCII; `has_task`), `stateful` (-1 unknown, 0, 1),
  `outlives`, `loop`, `fan_out` (bools), `rid` (the run id as an integer; see `run_id(row)`).
- `resolved_ends()`: `end`, with an unfinished run open until one past the last moment its
  process recorded (what overlap checks use).
- `lanes()`: the rows of each instance key (a batch's fan-out runs left out where one of
  them is resource-keyed or failed; `member`, `fanned`), each lane sorted by start
  (stable: load order breaks ties), as `Lanes`: `keys` (instance id per lane, in the order the
  keys were met), `rows_of(lane)`, and `starts_of(lane)` / `ends_of(lane)` (sorted starts and
  their resolved ends: a lane's visible runs are a binary search away, `np.searchsorted`).
- `run(row)`: the `Run` view of a row (made on first use, then the same object), its details
  read lazily from the file (`details.py`); `views_of(rows)` makes many at once (a column read
  per field); `runs(rows)`: a lazy sequence of views (`RowRuns`).
- `run_by_id(run_id)` / `row_by_id(run_id)`: the run with that id (one a later run named as
  its parent while it was open, else the first loaded), or None.
- `notable` (rows that failed or have a resource key, in the order the loader met them),
  `on_loop` (sync runs started on a running loop), and what a `Trace` says besides its runs:
  `processes`, `files`, `problems`, `skipped_lines`, `process_last_ns`, `unmatched_ends`
  (`trace()` gives them as a `Trace` without runs).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import attrgetter, is_
from typing import Any, overload

import numpy as np
from msgspec.structs import astuple
from racetrace.tracer import semconv

from .model import Origin, Process, Run, RunDetails, Trace, last_ns_by_process

NO_END = -1


class Interner(dict):  # type: ignore[type-arg]
    """str -> small int, new strings numbered as met; None is -1."""

    def __init__(self) -> None:
        super().__init__({None: -1})
        self.strings: list[str] = []

    def __missing__(self, key: str) -> int:
        number = self[key] = len(self.strings)
        self.strings.append(key)
        return number

    def string(self, number: int) -> str | None:
        return self.strings[number] if number >= 0 else None


class Column:
    """A numpy array grown by appending chunks (doubling), read as `values`."""

    def __init__(self, dtype: Any, fill: Any = 0) -> None:
        self.data = np.full(1024, fill, dtype=dtype)
        self.fill = fill
        self.size = 0

    def reserve(self, count: int) -> None:
        need = self.size + count
        if need > len(self.data):
            grown = np.empty(max(need, 2 * len(self.data)), dtype=self.data.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown

    def extend(self, values: Any) -> None:
        kind = self.data.dtype.kind
        values = np.asarray(values) if kind in "SO" else np.asarray(values, self.data.dtype)
        if kind == "O" and values.dtype.kind == "S":
            values = _texts(values)
        elif values.dtype.kind == "S" and values.dtype.itemsize > self.data.dtype.itemsize:
            self.data = self.data.astype(values.dtype)
        elif values.dtype.kind == "O" and kind == "S":
            # Text that is not ASCII: every value becomes a str, or equal keys would differ.
            # Only the used part: past `size` a grown column holds uninitialized bytes.
            texts = np.empty(len(self.data), dtype=object)
            texts[: self.size] = _texts(self.data[: self.size])
            self.data = texts
        self.reserve(len(values))
        self.data[self.size: self.size + len(values)] = values
        self.size += len(values)

    def extend_list(self, values: list[Any]) -> None:
        """Append Python values: at C speed a constant run of them (most columns of a block:
        one process, one thread, one method), else converted one by one."""
        self.extend(_array(values, self.data.dtype))

    @property
    def values(self) -> np.ndarray:
        return self.data[: self.size]


_INT_COLUMNS = ("start", "end", "pid", "line", "thread", "thread_started", "task_created")
_MASKS = ("has_line", "has_thread", "has_thread_started", "has_task_created", "has_task")


@dataclass
class Lanes:
    """Each instance key's rows in start order (see the module docstring)."""

    order: np.ndarray  # rows, lane after lane
    keys: np.ndarray  # instance id of each lane
    lo: np.ndarray  # each lane's slice of `order`
    hi: np.ndarray
    starts: np.ndarray  # start of each row of `order`
    ends: np.ndarray  # resolved end of each row of `order`
    member: np.ndarray  # per row of the table: in a lane
    fanned: np.ndarray  # instance ids whose lanes left their fan-out runs out

    def __len__(self) -> int:
        return len(self.keys)

    def rows_of(self, lane: int) -> np.ndarray:
        return self.order[self.lo[lane]: self.hi[lane]]

    def starts_of(self, lane: int) -> np.ndarray:
        return self.starts[self.lo[lane]: self.hi[lane]]

    def ends_of(self, lane: int) -> np.ndarray:
        return self.ends[self.lo[lane]: self.hi[lane]]


class Table:
    """The runs of a trace as columns (see the module docstring)."""

    def __init__(self) -> None:
        self.cols: dict[str, Column] = {
            "start": Column(np.int64), "end": Column(np.int64, NO_END),
            "pid": Column(np.int64), "line": Column(np.int64), "thread": Column(np.int64),
            "thread_started": Column(np.int64), "task_created": Column(np.int64),
            "instance": Column(np.int32), "resource": Column(np.int32),
            "method": Column(np.int32), "host": Column(np.int32), "file": Column(np.int32),
            "process": Column(np.int32), "status": Column(np.int32),
            "reason": Column(np.int32, -1), "stretch": Column(np.int32, -1),
            "task": Column("S1", b""), "rid": Column(np.uint64),
            "stateful": Column(np.int8), "outlives": Column(np.bool_),
            "loop": Column(np.bool_), "fan_out": Column(np.bool_),
            **{m: Column(np.bool_) for m in _MASKS},
        }
        self.instances = Interner()
        self.resources = Interner()
        self.methods = Interner()
        self.hosts = Interner()
        self.files_ = Interner()
        self.processes_ = Interner()
        self.statuses = Interner()
        self.statuses[semconv.STATUS_UNFINISHED]  # status 0: what a run without END has
        self.reasons = Interner()
        self.origins: list[Origin | None] = []
        # Sparse: what few rows carry (row -> value).
        self.alien_ids: dict[int, str] = {}  # run ids that are not 16 lowercase hex digits
        self.parents: dict[int, str] = {}
        self.creators: dict[int, str] = {}
        self.fan_outs: dict[int, str] = {}
        self.errors: dict[int, tuple[str | None, str | None]] = {}
        self.details: dict[int, RunDetails] = {}  # rows whose details are known already
        self.views: dict[int, Run] | list[Run] = {}
        self.notable: list[int] = []
        self.on_loop: list[int] = []
        self.linked: dict[str, int] = {}  # run id -> the open run a later run named as parent
        self.dropped: set[int] = set()  # rows of a copied file, loaded before
        self._id_index: tuple[np.ndarray, np.ndarray] | None = None
        self._alien_rows: dict[str, int] | None = None
        self._alien_count = 0
        self.by_id: dict[str, int] | None = None  # run id -> row, of a table of `Run` objects
        self._frozen: dict[str, np.ndarray] | None = None
        self._staged: Staged | None = None
        # What a `Trace` says besides its runs.
        self.processes: list[Process] = []
        self.skipped_lines = 0
        self.problems: list[str] = []
        self.files: list[str] = []
        self.process_last_ns: dict[str, int] = {}
        self.unmatched_ends = 0
        # Run id -> its view, for the ancestry the analysis follows.
        self.lookup = self.run_by_id

    # -- reading -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.cols["start"].size

    def __getattr__(self, name: str) -> np.ndarray:
        cols = self.__dict__.get("cols")
        if cols is not None and name in cols:
            return cols[name].values
        raise AttributeError(name)

    @property
    def instance_keys(self) -> list[str]:
        return self.instances.strings

    @property
    def process_keys(self) -> list[str]:
        return self.processes_.strings

    def resolved_ends(self) -> np.ndarray:
        """`end`, an unfinished run's being one past the last moment its process recorded
        (its start, if later)."""
        end = self.end
        open_rows = end == NO_END
        if not open_rows.any():
            return end
        last = np.array([self.process_last_ns.get(p, -1) for p in self.process_keys] or [0],
                        dtype=np.int64)
        resolved = end.copy()
        starts = self.start[open_rows]
        resolved[open_rows] = np.maximum(last[self.process[open_rows]], starts) + 1
        return resolved

    def lanes(self) -> Lanes:
        member = np.ones(len(self), dtype=bool)
        fanned = np.zeros(0, dtype=np.int32)
        fan = self.fan_out
        if fan.any():
            # A batch call's fan-out runs are left out of its object's lane where one of them
            # is flagged (resource-keyed or failed): there they are runs of their resource.
            notable = np.array(self.notable, dtype=np.int64)
            if len(notable):
                fanned = np.unique(self.instance[notable[fan[notable]]])
            member &= ~(fan & np.isin(self.instance, fanned))
        if self.dropped:
            member[np.fromiter(self.dropped, dtype=np.int64)] = False
        rows = np.flatnonzero(member)
        order = _lane_order(rows, self.instance[rows], self.start, len(self.instance_keys))
        keys_sorted = self.instance[order]
        cut = np.flatnonzero(keys_sorted[1:] != keys_sorted[:-1]) + 1
        lo = np.concatenate(([0], cut)) if len(order) else np.zeros(0, dtype=np.int64)
        hi = np.concatenate((cut, [len(order)])) if len(order) else np.zeros(0, dtype=np.int64)
        return Lanes(order=order, keys=keys_sorted[lo] if len(order) else keys_sorted[:0],
                     lo=lo, hi=hi, starts=self.start[order],
                     ends=self.resolved_ends()[order], member=member, fanned=fanned)

    def run(self, row: int) -> Run:
        """The `Run` view of `row` (the same object each time)."""
        views = self.views
        if isinstance(views, list):
            return views[row]
        view = views.get(row)
        if view is None:
            view = self.views_of([row])[0]
        return view

    def runs(self, rows: Sequence[int] | np.ndarray, first: Run | None = None) -> RowRuns:
        """`rows` as views (`RowRuns`); `first`, when given, is the first row's view."""
        return RowRuns(self, rows, first)

    def views_of(self, rows: Sequence[int] | np.ndarray) -> list[Run]:
        """The views of `rows`, those not made yet made together (a column read per field,
        not per run)."""
        views = self.views
        if isinstance(views, list):
            return [views[int(r)] for r in rows]
        rows = [int(r) for r in rows]
        missing = [r for r in rows if r not in views]
        if missing:
            views.update(zip(missing, self._make(missing), strict=True))
        return [views[r] for r in rows]

    def passing_views(self, rows: Sequence[int] | np.ndarray) -> list[Run]:
        """The views of `rows`, those already made reused, the others made but not kept."""
        views = self.views
        if isinstance(views, list):
            return [views[int(r)] for r in rows]
        rows = [int(r) for r in rows]
        missing = [r for r in rows if r not in views]
        if not missing:
            return [views[r] for r in rows]
        made = dict(zip(missing, self._make(missing), strict=True))
        return [views.get(r) or made[r] for r in rows]

    def _make(self, rows: list[int]) -> list[Run]:
        """The views of `rows`, built a field at a time: each column read for all of them
        (mapped through its string table at C speed), then a `Run` per row given only the
        fields most runs set (msgspec takes a short keyword list several times faster than
        all 26), the rest set on the few views that differ from the default."""
        c = self._columns()
        if len(rows) == 1:  # scalar reads: a one-row slice per column costs more
            row = rows[0]
            get = {name: [c[name].item(row)] for name in _VIEW_COLUMNS}
        else:
            at = np.array(rows, dtype=np.int64)
            get = {name: c[name][at].tolist() for name in _VIEW_COLUMNS}
        ids = [f"{rid:016x}" for rid in get["rid"]]
        if self.alien_ids:
            for i, row in enumerate(rows):
                alien = self.alien_ids.get(row)
                if alien is not None:
                    ids[i] = alien
        task = get["task"]
        if task and task[0].__class__ is bytes:
            task = [key.decode("ascii") for key in task]
        ends = get["end"]
        if NO_END in ends:
            ends = [None if end == NO_END else end for end in ends]
        origins = self.origins
        made = [
            Run(run_id=run_id, method=method, start_ns=start, instance_key=instance, pid=pid,
                host=host, thread_id=thread, thread_started_ns=thread_started,
                task_key=task_key, task_created_ns=task_created, file=file, line=line,
                end_ns=end, status=status, origin=origins[stretch] if stretch >= 0 else None)
            for (run_id, method, start, instance, pid, host, thread, thread_started, task_key,
                 task_created, file, line, end, status, stretch) in zip(
                ids, map(self.methods.strings.__getitem__, get["method"]), get["start"],
                map(self.instances.strings.__getitem__, get["instance"]), get["pid"],
                map(self.hosts.strings.__getitem__, get["host"]),
                _present(get["thread"], get["has_thread"]),
                _present(get["thread_started"], get["has_thread_started"]),
                _present(task, get["has_task"]),
                _present(get["task_created"], get["has_task_created"]),
                _strings(self.files_.strings, get["file"]),
                _present(get["line"], get["has_line"]), ends,
                map(self.statuses.strings.__getitem__, get["status"]), get["stretch"], strict=True)]
        # The fields few runs have.
        for name, field, strings in (("resource", "resource_key", self.resources.strings),
                                     ("reason", "end_reason", self.reasons.strings)):
            values = get[name]
            if values.count(-1) != len(values):
                for i, value in enumerate(values):
                    if value >= 0:
                        setattr(made[i], field, strings[value])
        stateful = get["stateful"]
        if stateful.count(-1) != len(stateful):
            for i, value in enumerate(stateful):
                if value >= 0:
                    made[i].stateful = _TRI[value]
        for name, field in (("outlives", "outlives_call"), ("loop", "loop_running")):
            if True in get[name]:
                for i, value in enumerate(get[name]):
                    if value:
                        setattr(made[i], field, True)
        for links, field in ((self.creators, "task_created_by_run"),
                             (self.parents, "parent_run_id"), (self.fan_outs, "fan_out_of"),
                             (self.details, "details")):
            if links:
                for i, value in enumerate(map(links.get, rows)):
                    if value is not None:
                        setattr(made[i], field, value)
        if self.errors:
            for i, error in enumerate(map(self.errors.get, rows)):
                if error is not None:
                    made[i].error_type, made[i].error_message = error
        return made

    def _columns(self) -> dict[str, np.ndarray]:
        frozen = self._frozen
        if frozen is None or len(frozen["start"]) != len(self):
            frozen = self._frozen = {name: col.values for name, col in self.cols.items()}
        return frozen

    def run_id(self, row: int) -> str:
        if self.by_id is not None:  # a table of `Run` objects: its ids are theirs
            return self.views[row].run_id
        alien = self.alien_ids.get(row)
        if alien is not None:
            return alien
        return f"{int(self.cols['rid'].data[row]):016x}"

    def row_by_id(self, run_id: str) -> int | None:
        """The row of `run_id`: one a later run named as parent while it was open, else the
        first loaded; None when no row has it (or only a dropped one)."""
        row = self.linked.get(run_id)
        if row is not None:
            return row
        if self.by_id is not None:  # a table of `Run` objects
            if not self.by_id and self.views:
                for number, run in enumerate(self.views):
                    self.by_id.setdefault(run.run_id, number)  # type: ignore[union-attr]
            return self.by_id.get(run_id)
        value = canonical_id(run_id)
        if value is None:
            if self._alien_rows is None or self._alien_count != len(self.alien_ids):
                self._alien_count = len(self.alien_ids)
                self._alien_rows = {}
                for r, i in sorted(self.alien_ids.items()):
                    if r not in self.dropped:
                        self._alien_rows.setdefault(i, r)
            return self._alien_rows.get(run_id)
        index = self._id_index
        if index is None or len(index[0]) != len(self):
            rid = self.rid
            order = np.argsort(rid, kind="stable")
            index = self._id_index = (order, rid[order])
        order, ids = index
        at = int(np.searchsorted(ids, np.uint64(value)))
        while at < len(ids) and ids[at] == value:
            row = int(order[at])
            if row not in self.alien_ids and row not in self.dropped:
                return row
            at += 1
        return None

    def run_by_id(self, run_id: str) -> Run | None:
        row = self.row_by_id(run_id)
        return None if row is None else self.run(row)

    def trace(self) -> Trace:
        """A `Trace` of this table's processes, files and damage, without runs (what a
        report holds)."""
        return Trace(runs=[], processes=self.processes, skipped_lines=self.skipped_lines,
                     problems=self.problems, files=self.files,
                     process_last_ns=self.process_last_ns, unmatched_ends=self.unmatched_ends)

    # -- building ----------------------------------------------------------------------------
    def append_runs(self, runs: Sequence[Run]) -> np.ndarray:
        """Rows for `runs` (already complete), their objects serving as views."""
        first = len(self)
        if not runs:
            return np.arange(first, first)
        self.add_starts(runs, notable=False)
        rows = np.arange(first, first + len(runs))
        ended = [(i, r) for i, r in enumerate(runs) if r.end_ns is not None]
        if ended:
            self.cols["end"].data[first + np.array([i for i, _ in ended])] = [
                r.end_ns for _, r in ended]
        status = self.cols["status"].data
        reason = self.cols["reason"].data
        for i, run in enumerate(runs):
            status[first + i] = self.statuses[run.status]
            reason[first + i] = self.reasons[run.end_reason]
            if run.error_type is not None or run.error_message is not None:
                self.errors[first + i] = (run.error_type, run.error_message)
            if run.details is not None:
                self.details[first + i] = run.details
            if run.origin is not None:
                self.cols["stretch"].data[first + i] = len(self.origins)
                self.origins.append(run.origin)
        assert isinstance(self.views, dict)
        self.views.update(zip(range(first, first + len(runs)), runs, strict=True))
        return rows

    def add_starts(self, runs: Sequence[Run], stretch: int = -1, *,
                   notable: bool = True) -> None:
        """Append a row per START (`Run` as decoded); their ENDs come later."""
        self.stage(runs, stretch)
        self.commit(notable=notable)

    def stage(self, runs: Sequence[Run], stretch: int = -1, *,
              exact: bool = False) -> list[tuple[Any, ...]] | None:
        """Take the fields of a stretch of STARTs while their objects are still in the CPU
        cache (`Staged`); `commit` makes rows of what was staged. Returns the runs' fields as
        columns (tuples, in the order of `Run`'s fields: `FIELD_AT` says where each is).
        `exact`: the caller knows each of `runs` is a `Run` (no subclass)."""
        staged = self._staged
        if staged is None:
            staged = self._staged = Staged()
        if runs:
            return staged.take(self, runs, stretch, exact)
        return None

    def commit(self, *, notable: bool = True) -> None:
        staged = self._staged
        if staged is None:
            return
        self._staged = None
        n = len(staged.ids)
        if not n:
            return
        first = len(self)
        cols = self.cols
        for col in cols.values():
            col.reserve(n)
        lists = staged.lists
        for name in ("start", "pid", "instance", "resource", "method", "host", "file",
                     "stateful"):
            cols[name].extend(_staged_array(lists[name], cols[name].data.dtype, n))
        for name in ("outlives", "loop"):
            cols[name].extend(_staged_array(lists[name], np.bool_, n))
        for name in _NULLABLE:
            values = lists[name]
            try:  # nearly always: every run has it (a None fails at once), or none has
                column = _staged_array(values, np.int64, n)
            except TypeError:
                _nullable(cols[name], cols["has_" + name], values)
            else:
                cols["has_" + name].extend(np.ones(n, dtype=bool))
                cols[name].extend(column)
        stretches = staged.stretches
        cols["stretch"].extend(np.repeat(np.array(stretches[0::2], dtype=np.int32),
                                         stretches[1::2]))
        self._not_ended(n)
        self._add_processes(first, n)
        tasks = staged.tasks
        if None in tasks:
            cols["has_task"].extend([t is not None for t in tasks])
            tasks = [t if t is not None else "" for t in tasks]
        else:
            cols["has_task"].extend(np.ones(n, dtype=bool))
        cols["task"].extend(_bytes_array(tasks))
        fan = np.zeros(n, dtype=bool)
        if staged.fans:
            fan[[i for i, _ in staged.fans]] = True
        cols["fan_out"].extend(fan)
        cols["rid"].extend(self._ids(staged.ids, first))
        for pairs, into in ((staged.parents, self.parents), (staged.creators, self.creators),
                            (staged.fans, self.fan_outs)):
            into.update((first + i, v) for i, v in pairs)
        if notable:
            resources = cols["resource"].values[first:]
            if (resources >= 0).any():
                self.notable.extend((first + np.flatnonzero(resources >= 0)).tolist())
            loops = cols["loop"].values[first:]
            if loops.any():
                self.on_loop.extend((first + np.flatnonzero(loops)).tolist())

    def commit_scanned(self, staged: dict[str, Any]) -> None:
        """Rows for the STARTs the C scanner staged (`scan.py`): its `flush()`, each column
        as bytes in the column's type (bools as bytes, task keys NUL-padded to
        `task_width`), the same rows `commit` makes of the same lines."""
        n = staged["count"]
        if not n:
            return
        first = len(self)
        cols = self.cols
        for col in cols.values():
            col.reserve(n)
        for name, dtype in _SCANNED:
            cols[name].extend(np.frombuffer(staged[name], dtype=dtype))
        self._not_ended(n)
        self._add_processes(first, n)
        cols["task"].extend(np.frombuffer(staged["task"], dtype=f"S{staged['task_width']}"))

    def _not_ended(self, n: int) -> None:
        """END fields of `n` new rows: no END read yet (the loader scatters them in later)."""
        cols = self.cols
        cols["end"].extend(np.full(n, NO_END, dtype=np.int64))
        cols["status"].extend(np.zeros(n, dtype=np.int32))
        cols["reason"].extend(np.full(n, -1, dtype=np.int32))

    def _add_processes(self, first: int, n: int) -> None:
        """The `process` of rows `first:first + n`, from their host and pid."""
        cols = self.cols
        hosts, pids = cols["host"].values[first:], cols["pid"].values[first:]
        if (hosts == hosts[0]).all() and (pids == pids[0]).all():
            process = self.processes_[f"{self.hosts.strings[hosts[0]]}/{pids[0]}"]
            cols["process"].extend(np.full(n, process, dtype=np.int32))
        else:
            names = self.hosts.strings
            cols["process"].extend([self.processes_[f"{names[h]}/{p}"]
                                    for h, p in zip(hosts.tolist(), pids.tolist(), strict=True)])

    def _ids(self, ids: list[str], first: int) -> np.ndarray:
        """Run ids as uint64 (16 lowercase hex digits, the tracer's); others kept aside."""
        joined = "".join(ids)
        if (len(joined) == 16 * len(ids) and joined.isascii()
                and not any(c in joined for c in "ABCDEF")):
            try:
                raw = bytes.fromhex(joined)
            except ValueError:
                raw = b""
            if len(raw) == 8 * len(ids):
                values = np.frombuffer(raw, dtype=">u8").astype(np.uint64)
                if values.all():
                    return values
        out = np.zeros(len(ids), dtype=np.uint64)
        for i, run_id in enumerate(ids):
            value = canonical_id(run_id)
            if value is None:
                self.alien_ids[first + i] = run_id
            else:
                out[i] = value
        return out

    @classmethod
    def from_runs(cls, runs: Sequence[Run]) -> Table:
        """A table of `runs` (in that order), each its own row's view. Only the columns the
        analysis and the timeline read are filled (the rest of a row is its view, the run
        itself): one pass over the objects, which a large trace's memory holds far apart."""
        table = cls()
        table.views = list(runs)
        count = len(runs)
        if not count:
            return table
        cols = table.cols
        (starts, ends, pids, hosts, threads, tasks, instances, resources, stateful,
         fans, statuses, methods) = zip(*map(_LEAN, runs), strict=True)
        cols["start"].extend_list(list(starts))
        ends = list(ends)
        if None in ends:
            ends = [NO_END if e is None else e for e in ends]
        cols["end"].extend_list(ends)
        cols["pid"].extend_list(list(pids))
        host_ids = list(map(table.hosts.__getitem__, hosts))
        cols["host"].extend_list(host_ids)
        # Process ids from the distinct (host, pid) pairs: a string per pair, not per run.
        pairs, inverse = np.unique(np.stack([cols["host"].values.astype(np.int64),
                                             cols["pid"].values]), axis=1, return_inverse=True)
        names = table.hosts.strings
        ids = np.array([table.processes_[f"{names[h]}/{p}"] for h, p in pairs.T.tolist()],
                       dtype=np.int32)
        cols["process"].extend(ids[inverse.reshape(-1)])
        _nullable(cols["thread"], cols["has_thread"], list(threads))
        tasks = list(tasks)
        if None in tasks:
            cols["has_task"].extend([t is not None for t in tasks])
            tasks = [t if t is not None else "" for t in tasks]
        else:
            cols["has_task"].extend(np.ones(count, dtype=bool))
        cols["task"].extend(_bytes_array(tasks))
        cols["instance"].extend_list(list(map(table.instances.__getitem__, instances)))
        cols["resource"].extend_list(list(map(table.resources.__getitem__, resources)))
        cols["stateful"].extend_list(list(map(_TRI_CODE.__getitem__, stateful)))
        cols["fan_out"].extend_list([f is not None for f in fans])
        # The timeline marks runs by status and lists a lane's methods from the columns.
        cols["status"].extend_list(list(map(table.statuses.__getitem__, statuses)))
        cols["method"].extend_list(list(map(table.methods.__getitem__, methods)))
        for col in cols.values():  # what the views hold: left at the columns' fill
            if col.size < count:
                col.reserve(count - col.size)
                col.data[col.size: count] = col.fill
                col.size = count
        table.by_id = {}  # filled on first use
        table.notable = [i for i, r in enumerate(runs)
                         if r.status == semconv.STATUS_ERROR or r.resource_key is not None]
        table.on_loop = [i for i, r in enumerate(runs) if r.loop_running]
        return table

    @classmethod
    def from_trace(cls, trace: Trace) -> Table:
        """`trace` as columns, lane after lane (each in load order), its runs as the views;
        `notable` and `on_loop` in the order the trace has them."""
        lanes = trace.runs_by_instance(ordered=False)
        runs = [r for lane in lanes.values() for r in lane]
        table = cls.from_runs(runs)
        row_of = {id(r): i for i, r in enumerate(runs)}
        table.notable = [row_of[id(r)] for r in trace.failed_or_resourced() if id(r) in row_of]
        table.on_loop = [row_of[id(r)] for r in trace.runs_on_loop() if id(r) in row_of]
        table.processes = trace.processes
        table.skipped_lines = trace.skipped_lines
        table.problems = trace.problems
        table.files = trace.files
        table.process_last_ns = trace.process_last_ns or last_ns_by_process(trace.processes)
        table.unmatched_ends = trace.unmatched_ends
        table.lookup = trace.run_by_id
        trace.runs_by_instance()  # the lanes in start order, as the timeline wants them too
        return table


class Staged:
    """STARTs taken by `Table.stage`, not yet rows: an array per column (a tuple of a
    stretch's values appended in one C call; strings interned now, while they are in the CPU
    cache),
    the run ids and task keys, and the few links."""

    __slots__ = ("creators", "fans", "ids", "lists", "parents", "stretches", "tasks")

    def __init__(self) -> None:
        # Numbers go into machine arrays at once, while their objects are in the CPU cache
        # (`commit` reads them without touching an object); a column that meets a value
        # the array cannot hold (None) turns into a list of the values.
        self.lists: dict[str, Any] = {name: array(code) for name, code in _STAGED_LISTS}
        self.ids: list[str] = []
        self.tasks: list[str | None] = []
        self.stretches: list[int] = []  # (stretch, count) pairs
        self.parents: list[tuple[int, str]] = []  # (index among the staged runs, run id)
        self.creators: list[tuple[int, str]] = []
        self.fans: list[tuple[int, str]] = []

    def take(self, table: Table, runs: Sequence[Run], stretch: int,
             exact: bool = False) -> list[tuple[Any, ...]]:
        # Every field of each run in one C call (`astuple`), turned into columns by `zip`.
        n = len(runs)
        if exact or all(map(is_, map(type, runs), repeat(Run))):
            c = list(zip(*map(astuple, runs), strict=True))
        else:
            c = list(zip(*map(_RUN_FIELDS, runs), strict=True))
        lists = self.lists
        for name, field in _PLAIN_FIELDS:
            values = lists[name]
            if values.__class__ is list:  # a column that met a None
                values += c[field]
                continue
            size = len(values)
            try:
                values.extend(c[field])
            except (TypeError, OverflowError):  # a None, or a number no column holds
                del values[size:]
                lists[name] = [*values, *c[field]]  # `commit` converts (or fails) as before
        lists["stateful"].extend(map(_TRI_CODE.__getitem__, c[_AT["stateful"]]))
        lists["instance"].extend(map(table.instances.__getitem__, c[_AT["instance_key"]]))
        lists["resource"].extend(map(table.resources.__getitem__, c[_AT["resource_key"]]))
        lists["method"].extend(map(table.methods.__getitem__, c[_AT["method"]]))
        lists["host"].extend(map(table.hosts.__getitem__, c[_AT["host"]]))
        lists["file"].extend(map(table.files_.__getitem__, c[_AT["file"]]))
        first = len(self.ids)
        self.ids += c[_AT["run_id"]]
        self.tasks += c[_AT["task_key"]]
        for field, pairs in (("parent_run_id", self.parents),
                             ("task_created_by_run", self.creators),
                             ("fan_out_of", self.fans)):
            values = c[_AT[field]]
            if values.count(None) != n:
                pairs += ((first + i, v) for i, v in enumerate(values) if v is not None)
        self.stretches += (stretch, n)
        return c


class RowRuns(Sequence[Run]):
    """The `Run` views of some rows of a table, made as they are read, a window of `WINDOW`
    rows at a time (readers go in order: a key's runs one after the other). Views made here are
    not kept by the table: walking a million rows holds a window of them, not a million."""

    __slots__ = ("_lo", "_window", "first", "rows", "table")
    WINDOW = 64

    def __init__(self, table: Table, rows: Sequence[int] | np.ndarray,
                 first: Run | None = None) -> None:
        self.table = table
        self.rows = rows
        self.first = first if len(rows) else None  # the first row's view, made already
        self._lo = 0
        self._window: list[Run] = []

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, index: int) -> Run: ...
    @overload
    def __getitem__(self, index: slice) -> RowRuns: ...
    def __getitem__(self, index: int | slice) -> Run | RowRuns:
        if isinstance(index, slice):
            start = index.indices(len(self.rows))[0] if index.step in (None, 1) else -1
            return RowRuns(self.table, self.rows[index], self.first if start == 0 else None)
        if index < 0:
            index += len(self.rows)
        if not 0 <= index < len(self.rows):
            raise IndexError(index)
        if index == 0 and self.first is not None:
            return self.first
        at = index - self._lo
        if not 0 <= at < len(self._window):
            self._lo = index
            self._window = self.table.passing_views(self.rows[index: index + self.WINDOW])
            at = 0
        return self._window[at]

    def __iter__(self) -> Iterator[Run]:
        rows = self.rows
        skip = 0
        if self.first is not None:
            yield self.first
            skip = 1
        for lo in range(skip, len(rows), 8):  # readers often stop early: a few at a time
            yield from self.table.passing_views(rows[lo: lo + 8])


def _lane_order(rows: np.ndarray, instance: np.ndarray, start: np.ndarray,
                keys: int) -> np.ndarray:
    """`rows` by instance, then start, load order breaking ties: `lexsort((start, instance))`,
    found cheaper. A process writes each START as its run begins, so a lane's rows, taken in
    load order, are nearly always in start order already: a stable sort by instance alone
    (a radix sort in linear time while the ids fit 16 bits) leaves only the few lanes where
    two threads' STARTs crossed to sort by start."""
    # (+1: a row without an instance, -1, sorts first as in `lexsort`.)
    by_key = np.argsort((instance + 1).astype(np.uint16) if keys < 1 << 16 else instance,
                        kind="stable")
    order = rows[by_key]
    starts = start[order]
    lanes = instance[by_key]
    unsorted = np.flatnonzero((starts[1:] < starts[:-1]) & (lanes[1:] == lanes[:-1]))
    if len(unsorted) > len(order) >> 4:  # much out of order: one sort of all costs less
        return rows[np.lexsort((start[rows], instance))]
    for key in np.unique(lanes[unsorted]).tolist():
        lo, hi = np.searchsorted(lanes, key), np.searchsorted(lanes, key, side="right")
        lane = order[lo:hi]
        order[lo:hi] = lane[np.argsort(starts[lo:hi], kind="stable")]
    return order


def canonical_id(run_id: str) -> int | None:
    """A run id of 16 lowercase hex digits as its (non-zero) integer, else None."""
    if len(run_id) != 16 or not run_id.isascii() or any(c in run_id for c in "ABCDEF"):
        return None
    try:
        value = int(run_id, 16)
    except ValueError:
        return None
    return value if value and f"{value:016x}" == run_id else None


def _nullable(column: Column, mask: Column, values: list[Any]) -> None:
    missing = values.count(None)
    if missing == len(values):
        mask.extend(np.zeros(len(values), dtype=bool))
        column.extend(np.zeros(len(values), dtype=np.int64))
    elif missing:
        mask.extend([v is not None for v in values])
        column.extend([v if v is not None else 0 for v in values])
    else:
        mask.extend(np.ones(len(values), dtype=bool))
        column.extend_list(values)


def _staged_array(values: Any, dtype: Any, count: int) -> np.ndarray:
    """A staged column (`Staged.lists`) as a numpy array: an `array` read in place (its type
    code has the dtype's size), a list converted."""
    if isinstance(values, array):
        return np.frombuffer(values, dtype=dtype)
    return np.fromiter(values, dtype, count)


def _array(values: list[Any], dtype: Any) -> np.ndarray:
    if values and values.count(values[0]) == len(values):
        return np.full(len(values), values[0], dtype=dtype)
    return np.fromiter(values, dtype=dtype, count=len(values))


def _bytes_array(texts: list[str]) -> np.ndarray:
    """Task keys as a bytes array (ASCII without NUL, the tracer's), else as objects."""
    joined = "".join(texts)
    if joined.isascii() and "\0" not in joined:
        return np.array(texts, dtype="S") if texts else np.zeros(0, dtype="S1")
    out = np.empty(len(texts), dtype=object)
    out[:] = texts
    return out


def _texts(values: np.ndarray) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = [v.decode("ascii") for v in values.tolist()]
    return out


def _strings(strings: list[str], ids: list[int]) -> list[str | None]:
    """String ids as their strings (-1: None)."""
    if -1 in ids:
        return [strings[i] if i >= 0 else None for i in ids]
    return list(map(strings.__getitem__, ids))


def _present(values: list[Any], present: list[bool]) -> list[Any]:
    """`values`, None where `present` says the line did not have one."""
    if False in present:
        return [v if has else None for v, has in zip(values, present, strict=True)]
    return values


_TRI = {-1: None, 0: False, 1: True}
_TRI_CODE = {None: -1, False: 0, True: 1}
_START = attrgetter("start_ns")
_KEY = attrgetter("instance_key")
_RESOURCE = attrgetter("resource_key")
_METHOD = attrgetter("method")
_HOST = attrgetter("host")
_PID = attrgetter("pid")
_FILE = attrgetter("file")
_LINE = attrgetter("line")
_THREAD = attrgetter("thread_id")
_THREAD_STARTED = attrgetter("thread_started_ns")
_TASK_CREATED = attrgetter("task_created_ns")
_TASK = attrgetter("task_key")
_STATEFUL = attrgetter("stateful")
_OUTLIVES = attrgetter("outlives_call")
_LOOP = attrgetter("loop_running")
_FAN_OUT = attrgetter("fan_out_of")
_RUN_ID = attrgetter("run_id")
_PARENT = attrgetter("parent_run_id")
_CREATOR = attrgetter("task_created_by_run")
_NULLABLE = ("line", "thread", "thread_started", "task_created")
# Each staged column and the type code of its `array` (int64, int32, int8; bools as int8).
_STAGED_LISTS = (("start", "q"), ("pid", "q"), ("outlives", "b"), ("loop", "b"),
                 ("stateful", "b"), ("instance", "i"), ("resource", "i"), ("method", "i"),
                 ("host", "i"), ("file", "i"), *((name, "q") for name in _NULLABLE))
# Where each field of a `Run` is in `astuple(run)`; `_RUN_FIELDS` reads the same tuple from an
# object of another type.
_AT = FIELD_AT = {name: i for i, name in enumerate(Run.__struct_fields__)}
_RUN_FIELDS = attrgetter(*Run.__struct_fields__)
_VIEW_COLUMNS = (
    "method", "start", "instance", "pid", "host", "thread", "has_thread", "thread_started",
    "has_thread_started", "task", "has_task", "task_created", "has_task_created", "file", "line",
    "has_line", "resource", "stateful", "outlives", "loop", "end", "status", "reason", "stretch",
    "rid")
_LEAN = attrgetter("start_ns", "end_ns", "pid", "host", "thread_id", "task_key", "instance_key",
                   "resource_key", "stateful", "fan_out_of", "status", "method")
# The columns `commit_scanned` takes from the scanner as they are, and their types.
_SCANNED = (("start", np.int64), ("pid", np.int64), ("instance", np.int32),
            ("resource", np.int32), ("method", np.int32), ("host", np.int32),
            ("file", np.int32), ("stateful", np.int8), ("stretch", np.int32),
            ("rid", np.uint64), ("outlives", np.bool_), ("loop", np.bool_),
            ("fan_out", np.bool_), ("has_task", np.bool_),
            *((name, np.int64) for name in _NULLABLE),
            *(("has_" + name, np.bool_) for name in _NULLABLE))
_PLAIN_FIELDS = tuple((name, _AT[field]) for name, field in (
    ("start", "start_ns"), ("pid", "pid"), ("outlives", "outlives_call"),
    ("loop", "loop_running"), ("line", "line"),
    ("thread", "thread_id"), ("thread_started", "thread_started_ns"),
    ("task_created", "task_created_ns")))

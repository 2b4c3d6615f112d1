"""The columnar trace core (`table.Table`, `tableload.load_table`): the same runs, damage and
report as the object loader (`load`), views made only for the runs the analysis reads, and the
lane API a timeline can draw from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from racetrace.analyzers.core import lines, scan
from racetrace.analyzers.core.load import load, trace_files
from racetrace.analyzers.core.model import Run, make_run
from racetrace.analyzers.core.table import NO_END, Table
from racetrace.analyzers.core.tableload import load_table
from racetrace.analyzers.findings.analyze import analyze
from racetrace.analyzers.findings.parallel import analyze_paths

T0, MS = 1_780_000_000_000_000_000, 1_000_000  # as the writer fixture stamps (conftest)

FIELDS = [f for f in Run.__struct_fields__ if f not in ("origin", "details")]


def same_runs(paths: list[Path]) -> Table:
    """Load `paths` both ways; assert the same runs, processes and damage."""
    trace = load(paths, details="lazy")
    table = load_table(trace_files(paths))
    assert (table.skipped_lines, table.problems, table.processes, table.unmatched_ends) == (
        trace.skipped_lines, trace.problems, trace.processes, trace.unmatched_ends)
    rows = [r for r in range(len(table)) if r not in table.dropped]
    views = sorted(table.views_of(rows), key=lambda r: r.start_ns)
    assert [[getattr(r, f) for f in FIELDS] for r in views] == [
        [getattr(r, f) for f in FIELDS] for r in trace.runs]
    assert [(r.source, r.origin.lo, r.origin.hi) for r in views] == [
        (r.source, r.origin.lo, r.origin.hi) for r in trace.runs]
    assert [table.run_id(r) for r in table.notable] == [r.run_id for r in trace.notable], (
        [(table.run_id(r), table.run(r).status, table.run(r).resource_key) for r in table.notable],
        [(r.run_id, r.status, r.resource_key) for r in trace.notable])
    if scan.available():  # and the same table without the C scanner (test_scan.py)
        from test_scan import pure, state

        with pure():
            assert state(load_table(trace_files(paths))) == state(table)
    return table


def report_bytes(report: Any) -> bytes:
    return orjson.dumps(report.to_json())


def same_report(paths: list[Path]) -> None:
    """The report from columns is the report from `Run` objects, on one core and on two."""
    expected = report_bytes(analyze(load(paths)))
    assert report_bytes(analyze_paths(paths, jobs=1)) == expected
    assert report_bytes(analyze(Table.from_trace(load(paths)))) == expected


def busy(w: Any, offset: float = 0) -> None:
    """An instance used one run at a time by many tasks (latent), one hammered by overlapping
    tasks with a re-entrant callback (concurrent, reentrant), errors, a resource key shared
    with another instance, an unfinished run and a run on a running loop."""
    for n in range(20):
        w.run(offset + n * 10, offset + n * 10 + 5, key="quiet/1", task=f"q{n}")
    parent = w.run(offset, offset + 50, key="hot/1", task="a")
    w.run(offset + 10, offset + 20, key="hot/1", task="a", parent=parent)
    for n in range(6):
        w.run(offset + 5 + n, offset + 30 + n, key="hot/1", task=f"h{n}",
              status="error" if n % 2 else "ok",
              error=("builtins.ValueError", "bad") if n % 2 else None)
    w.run(offset + 1, offset + 40, key="conv/1", task="c1", resource="session-1")
    w.run(offset + 2, offset + 41, key="conv/2", task="c2", resource="session-1")
    w.run(offset + 60, None, key="hot/1", task="late")
    w.run(offset + 70, offset + 300, key="loop/1", thread=3,
          **{"racetrace.loop.running": True})


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lines, "CHUNK_BYTES", 700)  # a few lines per stretch


def test_damaged_files_load_into_columns_as_into_runs(writer, small_chunks) -> None:
    first, second = writer("1.jsonl", pid=1), writer("2.jsonl", pid=2)
    busy(first)
    busy(second, offset=1000)
    open_id = first.run(400, None, task="ends elsewhere")
    first.raw(b'{"type":"start","run_id":')  # cut short
    first.raw(b"\xff\xfe not text")
    repeated = first.run(500, 510, task="twice")
    first.raw(first.lines[-2])  # its START again, after it ended: a second run of that id
    first.raw(b'{"type":"end","run_id":"%s","end_ns":1,"racetrace.end.status":"ok"}'
              % repeated.encode())  # an END before its START
    second.raw(b'{"type":"end","run_id":"%s","end_ns":1780000000450000000,'
               b'"racetrace.end.status":"error","error.type":"X"}' % open_id.encode())
    second.raw(b'{"type":"end","run_id":"00000000000fffff","end_ns":5,'
               b'"racetrace.end.status":"ok"}')  # whose START is nowhere
    paths = [first.write(), second.write()]
    (paths[0].parent / "copy.jsonl").write_bytes(paths[0].read_bytes())  # loaded once
    paths.append(paths[0].parent / "copy.jsonl")
    table = same_runs(paths)
    assert table.skipped_lines >= 5 and table.unmatched_ends == 1 and table.dropped
    same_report(paths)


def repeat_start_while_open(w: Any, start_ms: float) -> None:
    w.run(start_ms, start_ms + 50, task="dup")
    end = w.lines.pop()
    w.raw(w.lines[-1])  # its START again while it is open: the first counts
    w.raw(end)


def test_a_start_repeated_while_open_counts_once(writer, small_chunks) -> None:
    first, second = writer("1.jsonl", pid=1), writer("2.jsonl", pid=2)
    busy(first)
    repeat_start_while_open(first, 600)  # in the next stretch (small stretches)
    second.raw(b"")
    busy(second, offset=5)
    repeat_start_while_open(second, 700)
    paths = [first.write(), second.write()]
    same_runs(paths)
    same_report(paths)


def test_a_start_repeated_in_one_stretch_counts_once(writer) -> None:
    w = writer()
    busy(w)
    repeat_start_while_open(w, 600)  # in the same stretch (the default 64 KB)
    w.run(700, None, run_id="00000000000abcde", task="first")
    w.run(9000, 9500, run_id="00000000000abcde", task="again")  # dropped; its END counts
    paths = [w.write()]
    table = same_runs(paths)
    assert any("loaded twice" in p for p in table.problems)
    same_report(paths)


def test_odd_run_ids_and_task_keys_keep_their_text(writer) -> None:
    w = writer()
    w.run(0, 10, run_id="r1", task="tâche")  # not hex, not ASCII
    w.run(5, 20, run_id="ABCDEF0123456789", task="t2", parent="r1")
    w.run(6, 21, run_id="0000000000000000", task=None)
    paths = [w.write()]
    table = same_runs(paths)
    assert table.run_by_id("r1").run_id == "r1"
    assert table.run_by_id("ABCDEF0123456789").parent_run_id == "r1"
    assert table.run_by_id("abcdef0123456789") is None
    assert table.run_by_id("0000000000000000").task_key is None
    same_report(paths)


def test_otlp_input_loads_into_columns(writer, cli, tmp_path: Path) -> None:
    w = writer()
    busy(w)
    w.write()
    out = tmp_path / "spans.jsonl"
    done = cli("export", str(w.path), "--format", "otlp", "-o", str(out))
    assert done.returncode == 0, done.stderr
    same_runs([out])
    same_report([out])


def test_the_analysis_makes_views_only_of_the_runs_it_reads(writer) -> None:
    w = writer()
    for key in range(40):  # quiet keys, each used by one task: nothing to look at run by run
        for n in range(50):
            w.run(key * 1000 + n * 10, key * 1000 + n * 10 + 5, key=f"k/{key}", task=f"t{key}")
    busy(w, offset=100_000)
    paths = [w.write()]
    table = load_table(trace_files(paths))
    report = analyze(table)
    assert report_bytes(report) == report_bytes(analyze(load(paths)))
    assert isinstance(table.views, dict) and len(table.views) < len(table) // 4
    assert report.trace.runs == [] and report.summary.runs == len(table)


def test_lanes_give_each_instance_its_rows_in_start_order(writer) -> None:
    w = writer()
    w.run(30, 40, key="b/1", task="x")
    first = w.run(10, 20, key="a/1", task="y")
    w.run(5, 8, key="b/1", task="z")  # written out of order, as threads can
    w.run(50, None, key="a/1", task="open")
    table = load_table(trace_files([w.write()]))
    lanes = table.lanes()
    assert [table.instance_keys[k] for k in lanes.keys] == ["b/1", "a/1"]  # as met
    b, a = (table.views_of(lanes.rows_of(n)) for n in range(2))
    assert [r.task_key for r in b] == ["task/z", "task/x"]
    assert [r.task_key for r in a] == ["task/y", "task/open"]
    assert np.all(np.diff(lanes.starts_of(0)) >= 0)
    last = table.process_last_ns[a[1].process_key]
    assert lanes.ends_of(1).tolist() == [a[0].end_ns, last + 1]  # open until its process stopped
    assert table.end[lanes.rows_of(1)[1]] == NO_END
    assert table.run(int(lanes.rows_of(1)[0])) is a[0] is table.run_by_id(first)


@pytest.mark.parametrize("reversed_lane", [False, True])
def test_lanes_sort_by_start_and_keep_load_order_between_equal_starts(
        writer, reversed_lane: bool) -> None:
    w = writer()
    for n in range(64):  # a long lane; a few of its STARTs crossed (or all: written backwards)
        at = 1000 - n * 10 if reversed_lane else n * 10 + (15 if n % 16 == 3 else 0)
        w.run(at, at + 1, key="long/1", task=f"l{n}")
        if n % 8 == 0:
            w.run(500, 501, key="tie/1", task=f"t{n}")  # one start: load order decides
    table = load_table(trace_files([w.write()]))
    lanes = table.lanes()
    for lane in range(len(lanes)):
        rows = lanes.rows_of(lane).tolist()
        assert rows == sorted(rows, key=lambda r: (int(table.start[r]), r))
    assert [table.instance_keys[k] for k in lanes.keys] == ["long/1", "tie/1"]


def test_a_task_key_keeps_its_identity_when_later_keys_are_not_ascii() -> None:
    def run(n: int, task: str) -> Run:
        return make_run(run_id=f"{n:016x}", method="m", start_ns=n, instance_key="k",
                        task_key=task)

    table = Table()
    table.add_starts([run(1, "t1")])
    table.add_starts([run(2, "t1"), run(3, "tâche")])
    table.add_starts([run(4, "t1")])
    assert table.task[0] == table.task[1] == table.task[3] != table.task[2]
    assert [table.run(r).task_key for r in range(4)] == ["t1", "t1", "tâche", "t1"]


def test_a_non_ascii_task_key_after_a_grown_column() -> None:
    """Past 1024 rows the task column has grown (uninitialized bytes past its size): turning
    it into text converts only the rows it holds."""
    def run(n: int, task: str) -> Run:
        return make_run(run_id=f"{n + 1:016x}", method="m", start_ns=n, instance_key="k",
                        task_key=task)

    table = Table()
    table.add_starts([run(n, f"t{n}") for n in range(1500)])
    task = table.cols["task"]
    assert len(task.data) > task.size
    task.data[task.size:] = b"\xff"  # what np.empty may leave there: not ASCII
    table.add_starts([run(1500, "tâche")])
    assert [table.run(r).task_key for r in (0, 1499, 1500)] == ["t0", "t1499", "tâche"]
    assert len(table.task) == 1501 and table.task[1499] == "t1499"


def test_more_end_statuses_and_reasons_than_a_short_holds(writer) -> None:
    """Each END status and reason is a string id in a column: 40000 distinct ones (bad input,
    or a program that puts text in them) load and report as the object loader does."""
    w = writer()
    for n in range(40_000):
        run_id = w.run(n * 0.01, None, key=f"k/{n % 7}", task=f"t{n % 3}")
        w.raw(orjson.dumps({"type": "end", "run_id": run_id,
                            "end_ns": 1_780_000_000_000_000_000 + n * 10_000 + 50_000,
                            "racetrace.end.status": f"s{n}",
                            "racetrace.end.reason": f"r{n}"}))
    paths = [w.write()]
    table = same_runs(paths)
    last = table.run(len(table) - 1)
    assert (last.status, last.end_reason) == ("s39999", "r39999")
    same_report(paths)


def test_an_end_in_our_format_completes_an_otlp_span(writer, cli, tmp_path: Path) -> None:
    """An OTLP row is shown through the `Run` the OTLP reader made: an END from a racetrace
    file that completes it completes that view too."""
    w = writer("spans.jsonl", pid=1)
    w.run(0, 10, key="shared", task="a")
    open_id = w.run(5, None, key="shared", task="b")
    w.write()
    spans = tmp_path / "spans.otlp.jsonl"
    done = cli("export", str(w.path), "--format", "otlp", "-o", str(spans))
    assert done.returncode == 0, done.stderr
    later = writer("later.jsonl", pid=2)
    later.run(20, 30, key="other", task="c")
    later.raw(orjson.dumps({"type": "end", "run_id": open_id, "end_ns": T0 + 8 * MS,
                            "racetrace.end.status": "error", "error.type": "builtins.KeyError",
                            "exception.message": "k"}))
    paths = [spans, later.write()]
    table = same_runs(paths)
    run = table.run_by_id(open_id)
    assert (run.end_ns, run.status, run.error_type) == (T0 + 8 * MS, "error", "builtins.KeyError")
    same_report(paths)


def test_a_header_less_copy_names_the_process_of_the_runs_it_keeps(writer) -> None:
    """A file without a header is named by its first run that counts: a copy's runs that an
    earlier file loaded are dropped, so a later file's own run names it (or none: "", 0)."""
    first = writer("a.jsonl", pid=7, header=False)
    first.run(0, 10, task="a")
    first.run(5, None, task="b")
    second = writer("b.jsonl", pid=8, header=False)
    second.lines = list(first.lines)
    second.run(20, None, key="obj/9", task="c")
    paths = [first.write(), second.write()]
    copy = paths[0].parent / "copy.jsonl"
    copy.write_bytes(paths[0].read_bytes())
    paths.append(copy)
    table = same_runs(paths)
    assert [(p.host, p.pid) for p in table.processes] == [
        ("testhost", 7), ("testhost", 8), ("", 0)]
    same_report(paths)


def fan_out(w: Any, start_ms: float, end_ms: float | None, batch: str, **kwargs: Any) -> str:
    return w.run(start_ms, end_ms, **{"racetrace.fan_out_of": batch}, **kwargs)


def test_fan_out_runs_without_a_resource_stay_on_their_object(writer) -> None:
    """Only a batch whose fan-out runs are resource-keyed or failed moves them to their
    resource: plain fan-out runs are runs of their object (whose lane is theirs alone here)."""
    w = writer()
    batch = w.run(0, 10, key="graph/1", task="a", method="app.Graph.abatch")
    fan_out(w, 1, 5, batch, key="node/1", task="a")
    fan_out(w, 2, 6, batch, key="node/1", task="b")
    fan_out(w, 3, None, batch, key="node/1", task="c")
    paths = [w.write()]
    table = load_table(trace_files(paths))
    lanes = table.lanes()
    assert [table.instance_keys[k] for k in lanes.keys] == ["graph/1", "node/1"]
    report = analyze(table)
    assert {(f.kind, f.instance_key) for f in report.findings} == {
        ("concurrent", "node/1"), ("unfinished", "node/1")}
    assert [r.task_key for r in report.unfinished] == ["task/c"]
    same_report(paths)


def test_a_lane_that_left_fan_outs_out_lists_its_open_runs_by_start(writer) -> None:
    w = writer()
    batch = w.run(0, None, key="graph/1", task="a", method="app.Graph.abatch")
    fan_out(w, 1, 2, batch, key="graph/1", task="a", resource="t1")
    fan_out(w, 1, 3, batch, key="graph/1", task="a")  # left out with its flagged sibling
    w.run(5, None, key="graph/1", task="u1")
    w.run(3, None, key="graph/1", task="u2", thread=2)  # written later, started earlier
    paths = [w.write()]
    table = load_table(trace_files(paths))
    lanes = table.lanes()
    assert table.views_of(lanes.rows_of(0))[-1].task_key == "task/u1"
    assert len(lanes.rows_of(0)) == 3
    report = analyze(table)
    unfinished = [f for f in report.findings if f.kind == "unfinished"]
    assert [r.task_key for r in unfinished[0].runs] == ["task/a", "task/u2", "task/u1"]
    same_report(paths)


def test_timestamps_at_the_int64_limit_are_damage(writer) -> None:
    """An unfinished run is open until one past its process' last moment: a time of 2**63 - 1
    would leave no room, so it damages its line (both loaders); 2**63 - 2 still loads, and two
    runs open there overlap, the last one open until 2**63 - 1 (no wrap)."""
    w = writer(header=False)
    top = 2**63 - 2
    for n, start in enumerate((top - 10, top, top + 1)):
        w.run(0, None, key="edge/1", task=f"t{n}")
        line = orjson.loads(w.lines[-1])
        line["start_ns"] = start
        w.lines[-1] = orjson.dumps(line)
    paths = [w.write()]
    table = same_runs(paths)
    assert table.skipped_lines == 1 and len(table) == 2
    assert table.resolved_ends().tolist() == [top + 1, top + 1]
    report = analyze(table)
    assert {(f.kind, f.instance_key) for f in report.findings} == {
        ("concurrent", "edge/1"), ("unfinished", "edge/1")}
    same_report(paths)


def test_a_start_line_does_not_say_how_its_run_ended(writer) -> None:
    """END fields come from END lines: a START carrying them (its run unfinished) is read the
    same by both loaders, as a run that never ended."""
    w = writer()
    w.run(0, None, key="odd/1", task="a", end_ns=T0 + 5 * MS, status="error",
          end_reason="raised", error_type="X", error_message="boom",
          origin={"path": "elsewhere", "service": None, "lo": 0, "hi": 1})
    w.run(1, 3, key="odd/1", task="b", status="ok", end_ns=1, **{"racetrace.end.status": "x"})
    paths = [w.write()]
    table = same_runs(paths)
    runs = load(paths).runs
    assert [(r.end_ns, r.status, r.end_reason, r.error_type, r.error_message)
            for r in runs] == [(None, "unfinished", None, None, None),
                               (T0 + 3 * MS, "ok", None, None, None)]
    assert runs[0].source == str(paths[0]) == table.run(0).source
    same_report(paths)


def test_a_lane_reads_its_first_run_through_one_view(writer) -> None:
    """Each lane's first view is made once (all lanes in one batch) and is the one its
    creation site and identity read: `RowRuns` given it hands it out for the first row, by
    index, slice or iteration, and makes the others as before."""
    w = writer()
    for n in range(30):
        w.run(n * 10, n * 10 + 5, key=f"k/{n % 3}", task=f"t{n}")
    paths = [w.write()]
    table = load_table(trace_files(paths))
    lanes = table.lanes()
    rows = lanes.rows_of(1)
    first = table.passing_views(rows[:1])[0]
    runs = table.runs(rows, first=first)
    assert runs[0] is first and runs[:2][0] is first and next(iter(runs)) is first
    assert runs[1:][0] is not first and runs[1:][0].run_id == table.run_id(int(rows[1]))
    assert [r.run_id for r in runs] == [table.run_id(int(r)) for r in rows]
    assert len(table.runs(rows[:0], first=first)) == 0
    same_report(paths)


@pytest.mark.parametrize("chunks", ["whole", "small"])
def test_fields_a_line_may_leave_out_load_as_into_runs(writer, monkeypatch, chunks) -> None:
    """Columns are staged a stretch at a time, each field's values in one pass: a field that
    some runs of a stretch have and others leave out (thread, task, call site, creation
    times), in one stretch or in the next, loads as the object loader has it; so do ENDs
    read as columns among ENDs whose START is elsewhere or stamped before it."""
    if chunks == "small":
        monkeypatch.setattr(lines, "CHUNK_BYTES", 700)
    w = writer("mixed.jsonl")
    for n in range(40):
        extra: dict[str, Any] = {}
        if n % 3 == 0:
            extra["racetrace.thread.started_ns"] = T0 + n
        if n % 4 == 1:
            extra["racetrace.task.created_ns"] = T0 + n * 2
        w.run(n * 10, n * 10 + 15 if n % 7 else None, key=f"obj/{n % 3}",
              task=None if n % 5 == 2 else f"t{n}", thread=None if n % 6 == 4 else 7,
              site=None if n % 4 == 3 else f"/app/m.py:{n % 2 + 1}",
              stateful=None if n % 2 else bool(n % 4), status="error" if n % 9 == 8 else "ok",
              error=("builtins.KeyError", "k") if n % 9 == 8 else None,
              resource="db" if n % 11 == 10 else None)
    early = w.run(500, 510, task="stamped early")
    w.lines[-1] = w.lines[-1].replace(b'"end_ns":%d' % (T0 + 510 * MS), b'"end_ns":%d' % T0)
    w.run(520, 530, task="after")
    w.raw(b'{"type":"end","run_id":"00000000000ffff1","end_ns":1780000000600000000,'
          b'"racetrace.end.status":"ok"}')  # whose START is nowhere
    table = same_runs([w.write()])
    assert table.row_by_id(early) is not None and table.end[table.row_by_id(early)] == NO_END
    assert not table.has_thread.all() and table.has_thread.any()
    assert not table.has_task.all() and table.has_task.any()
    assert not table.has_line.all() and table.has_line.any()
    same_report([w.path])


def test_block_bytes_sets_the_size_read_at_a_time_and_not_the_table(writer) -> None:
    """`load_table(block_bytes=...)` reads the files in blocks of that size (one `on_partial`
    a block) without touching the module's default, and loads the same table."""
    from racetrace.analyzers.core import blocks

    w = writer()
    busy(w)
    busy(w, offset=1000)
    path = w.write()
    default = blocks.BLOCK_BYTES
    paths = trace_files([path])
    size = path.stat().st_size
    seen: list[tuple[int, int]] = []
    small = load_table(paths, block_bytes=2048,
                       on_partial=lambda part: seen.append((part.done, blocks.BLOCK_BYTES)))
    whole = load_table(paths)
    assert blocks.BLOCK_BYTES == default
    assert {d for _, d in seen} == {default}
    done = [d for d, _ in seen]
    steps = [b - a for a, b in zip([0, *done], done, strict=False)]
    assert len(seen) >= size // 2048 and max(steps) <= 2048 and seen[-1][0] == size
    assert (small.skipped_lines, small.problems, small.processes) == (
        whole.skipped_lines, whole.problems, whole.processes)
    assert [[getattr(small.run(r), f) for f in FIELDS] for r in range(len(small))] == [
        [getattr(whole.run(r), f) for f in FIELDS] for r in range(len(whole))]

"""`load` is a layer over the columnar core: one decoding path. A `Trace`'s runs are the views
of a `load_table` table's rows, with the loader's indexes (lanes, notable runs, runs by id) and,
loaded eagerly, every run's details read up front and their damage counted and named."""

from __future__ import annotations

from pathlib import Path

import orjson
from racetrace.analyzers.core.load import load, trace_files, trace_of
from racetrace.analyzers.core.tableload import load_table


def test_a_traces_runs_are_its_tables_views_in_start_order(writer) -> None:
    first, second = writer("a.jsonl", pid=1), writer("b.jsonl", pid=2)
    outer = first.run(0, 100, task="t1")
    first.run(10, 20, task="t2", parent=outer)
    first.run(30, None, key="obj/2", resource="conv")
    second.run(5, 50, key="obj/3", status="error", error=("KeyError", "k"))
    second.run(15, 25, key="obj/3", **{"racetrace.loop.running": True})
    paths = [first.write(), second.write()]
    table = load_table(trace_files(paths))
    trace = trace_of(table)
    assert [r.start_ns for r in trace.runs] == sorted(r.start_ns for r in trace.runs)
    row_of = {table.run_id(row): row for row in range(len(table))}
    assert all(run is table.run(row_of[run.run_id]) for run in trace.runs)
    assert trace.run_by_id(outer) is table.run_by_id(outer)
    assert [r.run_id for r in trace.failed_or_resourced()] == [
        table.run_id(row) for row in table.notable]
    assert [r.loop_running for r in trace.runs_on_loop()] == [True]
    assert list(trace.runs_by_instance()) == ["obj/1", "obj/2", "obj/3"]  # as met in the files
    assert (trace.processes, trace.skipped_lines, trace.files) == (
        table.processes, table.skipped_lines, table.files)
    # Loaded from the paths, the same runs.
    loaded = load(paths)
    assert [r.to_json() for r in loaded.runs] == [r.to_json() for r in trace.runs]


def test_an_eager_load_names_runs_whose_details_do_not_decode(writer) -> None:
    w = writer()
    w.run(0, 10)
    bad = w.run(20, 30)
    w.run(40, 50)
    # The second run's label and stack of the wrong type: its times decode, its details not.
    at = next(n for n, line in enumerate(w.lines) if bad.encode() in line and b"start" in line)
    record = orjson.loads(w.lines[at])
    record.update({"racetrace.instance.label": 123, "racetrace.stack": "not a list"})
    w.lines[at] = orjson.dumps(record)
    path = w.write()
    trace = load([path])
    assert trace.skipped_lines == 1 and len(trace.runs) == 3
    (problem,) = trace.problems
    assert problem.startswith(f"{path}:{at + 1}: run {bad}: details unreadable: ")
    shown = trace.run_by_id(bad)
    assert shown is not None and shown.instance_label is None and shown.stack == []
    assert all(r.details is not None for r in trace.runs)
    # Lazily, nothing is read (nor counted) until a run is shown.
    lazy = load([path], details="lazy")
    assert lazy.skipped_lines == 0 and all(r.details is None for r in lazy.runs)
    assert lazy.runs[0].instance_class == "app.Agent"


def test_a_copied_file_and_an_unreadable_path(writer, tmp_path: Path) -> None:
    import shutil

    import pytest
    from racetrace.analyzers.core.load import LoadError

    w = writer("a.jsonl")
    w.run(0, 10)
    path = w.write()
    shutil.copy(path, path.with_name("b.jsonl"))
    trace = load([path.parent])
    assert len(trace.runs) == 1 and trace.skipped_lines == 1
    assert trace.problems == [f"{path.with_name('b.jsonl')}: run {trace.runs[0].run_id} "
                              "loaded twice; kept the first"]
    with pytest.raises(LoadError, match="no such file or directory"):
        load([tmp_path / "nowhere"])

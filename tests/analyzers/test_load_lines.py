"""The loader's fast path keeps the slow path's promises: damage anywhere costs only the damaged
lines (named with their line numbers), copies are loaded once, ends find their starts in other
files, and lanes group runs by instance in start order."""

from __future__ import annotations

from pathlib import Path

import pytest
from racetrace.analyzers.core import lines
from racetrace.analyzers.core.load import load


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lines, "CHUNK_BYTES", 700)  # a few lines per chunk


def test_damage_in_one_chunk_loses_only_that_line(writer, small_chunks) -> None:
    w = writer()
    for n in range(30):
        w.run(n * 10, n * 10 + 5, task=f"t{n}")
        if n == 17:
            w.raw(b'{"type":"start","run_id":')
    trace = load([w.write()])
    assert len(trace.runs) == 30 and all(r.end_ns is not None for r in trace.runs)
    assert trace.skipped_lines == 1
    (problem,) = trace.problems
    damaged_line = 1 + 2 * 18 + 1  # header, 18 runs of two lines, then the damage
    assert problem.startswith(f"{w.path}:{damaged_line}: skipped:")


def test_a_last_line_cut_short_is_skipped(writer, small_chunks) -> None:
    w = writer()
    for n in range(10):
        w.run(n * 10, n * 10 + 5, task=f"t{n}")
    w.run(200, None, task="open")
    path = w.write()
    path.write_bytes(path.read_bytes() + b'{"type":"end","run_id":"00')
    trace = load([path])
    assert len(trace.runs) == 11 and trace.skipped_lines == 1
    assert [r.status for r in trace.runs].count("unfinished") == 1


def test_a_copied_file_is_loaded_once(writer, tmp_path: Path) -> None:
    w = writer("a.jsonl")
    w.run(0, 10, task="a")
    w.run(5, 20, task="b")
    original = w.write()
    (original.parent / "copy.jsonl").write_bytes(original.read_bytes())
    trace = load([original.parent])
    assert len(trace.runs) == 2 and trace.skipped_lines == 2
    assert sum(map(len, trace.runs_by_instance().values())) == 2


def test_an_end_in_another_file_finds_its_start(writer) -> None:
    first, second = writer("1.jsonl", pid=1), writer("2.jsonl", pid=2, header=False)
    run_id = first.run(0, None, task="a")
    second.raw(b'{"type":"end","run_id":"%s","end_ns":1780000000050000000,'
               b'"racetrace.end.status":"ok"}' % run_id.encode())
    trace = load([first.write(), second.write()])
    (run,) = trace.runs
    assert run.end_ns == 1_780_000_000_050_000_000 and run.status == "ok"


def test_lanes_group_runs_by_instance_in_start_order(writer) -> None:
    w = writer()
    w.run(30, 40, key="b/1", task="x")
    w.run(10, 20, key="a/1", task="y")
    w.run(5, 8, key="b/1", task="z")  # written out of order, as threads can
    trace = load([w.write()])
    lanes = trace.runs_by_instance()
    assert {k: [r.start_ns for r in v] for k, v in lanes.items()} == {
        "b/1": sorted(r.start_ns for r in trace.runs if r.instance_key == "b/1"),
        "a/1": [trace.runs[1].start_ns],
    }
    assert trace.run_by_id(trace.runs[0].run_id) is trace.runs[0]


def test_statuses_share_one_string_each(writer) -> None:
    w = writer()
    w.run(0, 10, task="a")
    w.run(20, 30, task="b")
    a, b = load([w.write()]).runs
    assert a.status == "ok" and a.status is b.status

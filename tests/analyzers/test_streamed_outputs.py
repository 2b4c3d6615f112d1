"""`racetrace runs` and `racetrace export` (chrome, otlp) read the columnar core and write run
by run from views: what they write is what the `Trace`-based writers write for the same files,
byte for byte, on hand-made traces (several processes, overlaps on an object and on a resource
key, unfinished and failed runs, a copied file, damage) and on recorded samples."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from racetrace.analyzers.core.load import load, trace_files
from racetrace.analyzers.core.tableload import load_table
from racetrace.analyzers.findings.analyze import analyze
from racetrace.analyzers.findings.provenance import sites_by_instance
from racetrace.analyzers.outputs import exports


@pytest.fixture
def mixed(writer, tmp_path: Path) -> Path:
    """Two processes; three overlapping runs on one agent, a conversation shared by two agents,
    an unfinished run, a failure, a run on no thread, a copied file and a damaged line."""
    a = writer("a.jsonl", pid=100)
    a.run(0, 50, task="t1")
    a.run(10, 60, task="t2")
    a.run(20, 30, task="t3", status="error", error=("ValueError", "bad\nline"))
    a.run(70, None, key="obj/2", label="other", resource="conv-1")
    a.run(80, 90, key="obj/3", label=None, site=None, thread=0, resource="conv-1")
    a.raw(b'{"type": "start", "run_id": broken')
    a.write()
    b = writer("b.jsonl", pid=200)
    for n in range(7):  # more runs than a batch of two
        b.run(5 + 10 * n, 12 + 10 * n, key="obj/9", label="worker", task=f"w{n}")
    b.run(40, 45, key="obj/2", label="other", resource="conv-1")
    b.write()
    shutil.copy(a.path, a.path.with_name("c.jsonl"))
    return a.path.parent


def _files(path: Path) -> Any:
    return trace_files([path])


def test_otlp_from_the_columns_is_the_trace_export(mixed: Path, cli) -> None:
    trace = load([mixed])
    expected = b"".join(exports.otlp_lines(trace))
    assert b"".join(exports.otlp_table_lines(load_table(_files(mixed)))) == expected
    assert (b"".join(exports.otlp_table_lines(load_table(_files(mixed)), batch=2))
            == b"".join(exports.otlp_lines(trace, batch=2)))
    done = cli("export", "-f", "otlp", str(mixed))
    assert done.returncode == 0
    assert done.stdout.encode() == expected
    # The bad line in each copy, the copy's five runs: as a `Trace` counts them.
    assert trace.skipped_lines == 7 and "skipped 7 damaged lines" in done.stderr


def test_chrome_from_the_columns_is_the_trace_export(mixed: Path, cli) -> None:
    trace = load([mixed])
    table = load_table(_files(mixed))
    for report in (None, analyze(trace)):
        expected = orjson.dumps(exports.chrome_trace(trace, report)) + b"\n"
        shown = analyze(table) if report is not None else None
        assert b"".join(exports.chrome_table_chunks(table, shown)) == expected
    events = orjson.loads(expected)["traceEvents"]
    assert sum(e["ph"] == "b" for e in events) == len(trace.runs) == 13
    assert any(e["ph"] == "i" for e in events)  # the findings are there
    done = cli("export", "-f", "chrome", str(mixed))
    assert done.returncode == 0 and done.stdout.encode() == expected


def _overlaps(trace: Any) -> dict[str, int]:
    """Run id -> the others it overlapped on its object or its resource key, pair by pair."""
    def count(run: Any, same: Any) -> int:
        lo, hi = run.start_ns, trace.last_ns_of(run)
        return sum(1 for o in trace.runs if o is not run and same(o)
                   and o.start_ns < hi and lo < trace.last_ns_of(o) and hi > lo
                   and trace.last_ns_of(o) > o.start_ns)

    return {r.run_id: max(count(r, lambda o, r=r: o.instance_key == r.instance_key),
                          count(r, lambda o, r=r: r.resource_key is not None
                                and o.resource_key == r.resource_key))
            for r in trace.runs}


def test_runs_json_is_every_run_with_its_overlaps_and_creation_site(mixed: Path, cli) -> None:
    trace = load([mixed])
    overlaps = _overlaps(trace)
    sites = sites_by_instance(trace)
    done = cli("runs", "--json", str(mixed))
    assert done.returncode == 0
    listed = orjson.loads(done.stdout)
    assert listed == [{**r.to_json(), "overlapping_runs": overlaps[r.run_id],
                       "instance_created_at": (sites[r.instance_key].to_json()
                                               if r.instance_key in sites else None)}
                      for r in trace.runs]
    assert [r["overlapping_runs"] for r in listed if r["instance_key"] == "obj/1"] == [2, 2, 2]
    # Written run by run, laid out as one indented array.
    assert done.stdout.encode() == orjson.dumps(listed, option=orjson.OPT_INDENT_2) + b"\n"


def test_runs_table_lines_up_every_run_and_filters(mixed: Path, cli) -> None:
    trace = load([mixed])
    overlaps = _overlaps(trace)
    done = cli("runs", str(mixed))
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0] == "13 runs"
    header, rule, rows = lines[1], lines[2], lines[3:]
    assert len(rows) == 13 and header.split()[0] == "start" and "pid" in header
    column = header.index("status")
    assert all(row[column - 2: column] == "  " and row[column] != " " for row in rows)
    assert rule.split("  ")[0] == "-" * len(rule.split("  ")[0])
    done = cli("runs", "--only-overlapping", str(mixed))
    shown = done.stdout.splitlines()
    overlapping = sum(1 for n in overlaps.values() if n)
    assert shown[0] == f"{overlapping} runs of 13" and len(shown) == overlapping + 3
    done = cli("runs", "--instance", "nobody", str(mixed))
    assert done.stdout == "no runs match (of 13)\n"


def test_runs_and_exports_of_no_runs(writer, cli) -> None:
    path = writer("empty.jsonl").write()
    assert cli("runs", "--json", str(path)).stdout == "[]\n"
    assert cli("runs", str(path)).stdout.startswith("no runs in ")
    assert cli("export", "-f", "otlp", str(path)).stdout == ""
    chrome = orjson.loads(cli("export", "-f", "chrome", str(path)).stdout)
    assert chrome["traceEvents"] == [] and chrome["otherData"]["origin_unix_ns"] == 0


@pytest.mark.parametrize("sample", ["shared_gather", "periodic_overlap", "reentrant_callback"])
def test_recorded_samples_export_as_their_traces_do(sample: str, sample_trace) -> None:
    path = sample_trace(sample)
    trace = load([path])
    table = load_table(_files(path))
    assert b"".join(exports.otlp_table_lines(table)) == b"".join(exports.otlp_lines(trace))
    assert (b"".join(exports.chrome_table_chunks(table, analyze(table)))
            == orjson.dumps(exports.chrome_trace(trace, analyze(trace))) + b"\n")


@pytest.mark.parametrize("command", [["runs"], ["runs", "--json"], ["export", "-f", "chrome"],
                                     ["export", "-f", "otlp"]])
def test_written_runs_name_the_line_of_details_that_do_not_decode(writer, cli,
                                                                   command: list[str]) -> None:
    """Written run by run, a run whose details do not decode is named by its file and line,
    as a load of every run's details names it."""
    w = writer()
    for n in range(30):  # a few stretches: the damaged line is not in the first
        w.run(n * 10, n * 10 + 5)
    bad = w.run(400, 410)
    at = next(n for n, line in enumerate(w.lines) if bad.encode() in line and b"start" in line)
    record = orjson.loads(w.lines[at])
    record["racetrace.instance.label"] = 123
    w.lines[at] = orjson.dumps(record)
    path = w.write()
    (problem,) = load([path]).problems
    assert problem.startswith(f"{path}:{at + 1}: run {bad}: details unreadable: ")
    done = cli(*command, str(path))
    assert done.returncode == 0
    assert f"racetrace: skipped 1 damaged line (first: {problem})" in done.stderr

"""What `racetrace report` does for speed must not change what it reports: details read on
demand equal those decoded up front, and the files of different processes analyzed on two cores
give the report one analysis gives (or, when they depend on each other, one analysis runs)."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from racetrace.analyzers.core import details, lines
from racetrace.analyzers.core.load import LoadError, load, trace_files
from racetrace.analyzers.findings import parallel
from racetrace.analyzers.findings.analyze import analyze
from racetrace.analyzers.findings.parallel import analyze_paths, analyze_split, split


def report_json(paths: list[Path], *, lazy: bool = True) -> dict[str, Any]:
    return analyze(load(paths, details="lazy" if lazy else "eager")).to_json()


def busy_process(w: Any, *, seed: int, session: str | None = None) -> None:
    """Runs of one process: a contended agent with a re-entrant callback and failures, a
    singleton used by many requests one at a time, a run that never ends, and (optionally)
    runs on a conversation shared with other processes."""
    rng = random.Random(seed)
    pid = w.pid
    t = 0.0
    for n in range(40):  # five requests at a time on one agent
        start = t + rng.uniform(0, 5)
        first = w.run(start, start + rng.uniform(6, 30), key=f"{pid}/hot", task=f"h{n}",
                      status="error" if n % 9 == 0 else "ok",
                      error=("app.Busy", "already running") if n % 9 == 0 else None,
                      site=f"/app/hot.py:{10 + n % 3}")
        if n % 7 == 0:  # its tool calls back into the agent
            w.run(start + 1, start + 2, key=f"{pid}/hot", task=f"cb{n}", parent=first)
        t += 4
    for n in range(30):  # a singleton, one request at a time
        w.run(200 + n * 10, 205 + n * 10, key=f"{pid}/single", task=f"s{n}", label="single")
    w.run(600, None, key=f"{pid}/stuck", task="stuck")
    if session is not None:
        for n in range(3):
            w.run(700 + n * 3 + seed, 720 + n * 3 + seed, key=f"{pid}/chat{n}", task=f"c{n}",
                  resource=session)


@pytest.fixture(autouse=True)
def forkable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Split even on a machine with one CPU: what is tested is the result, not the speed."""
    monkeypatch.setattr(parallel, "_may_fork", lambda: True)


@pytest.fixture
def processes(writer: Callable[..., Any]) -> list[Path]:
    paths = []
    for n in range(4):
        w = writer(f"p{n}.jsonl", pid=100 + n)
        busy_process(w, seed=n, session="session-7")
        paths.append(w.write())
    return paths


# -- details on demand -------------------------------------------------------------------------
@pytest.mark.parametrize("sample", ["shared_gather", "reentrant_callback", "periodic_overlap",
                                    "singleton_requests"])
def test_a_lazy_load_reports_what_an_eager_one_does_on_the_samples(sample_trace,
                                                                    sample: str) -> None:
    path = sample_trace(sample)
    assert report_json([path]) == report_json([path], lazy=False)


def test_a_lazy_load_reports_what_an_eager_one_does_across_processes(
        processes: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lines, "CHUNK_BYTES", 2048)  # many stretches
    report = report_json(processes)
    assert report == report_json(processes, lazy=False)
    assert {"concurrent", "reentrant", "cross-process", "latent", "unfinished",
            "errors"} <= set(report["summary"]["findings_by_kind"])


def test_details_are_read_from_the_file_on_first_use(
        processes: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lines, "CHUNK_BYTES", 2048)
    lazy = load(processes, details="lazy")
    eager = {r.run_id: r for r in load(processes).runs}
    assert all(r.details is None for r in lazy.runs)
    for run in lazy.runs:  # every stretch searched, then decoded whole
        twin = eager[run.run_id]
        assert (run.instance_class, run.instance_label, run.task_name, run.thread_name,
                run.stack, run.function) == (
                twin.instance_class, twin.instance_label, twin.task_name, twin.thread_name,
                twin.stack, twin.function)
        assert run.details is not None
    assert {r.instance_class for r in lazy.runs} == {"app.Agent"}


def test_details_of_a_file_changed_since_loading_are_empty_not_wrong(
        writer: Callable[..., Any]) -> None:
    w = writer()
    for n in range(5):
        w.run(n * 10, n * 10 + 5, task=f"t{n}", cls="app.First")
    path = w.write()
    trace = load([path], details="lazy")
    other = writer("other.jsonl")
    for n in range(5):
        other.run(n * 10, n * 10 + 5, task=f"other{n}", cls="app.Other")
    path.write_bytes(other.write().read_bytes())  # same size and places, other runs
    assert [(r.instance_class, r.task_name) for r in trace.runs] == [("", None)] * 5


def test_a_stretch_is_searched_twice_then_decoded_whole(
        writer: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    searched: list[str] = []
    find = details._find
    monkeypatch.setattr(details, "_find", lambda data, run_id: searched.append(run_id)
                        or find(data, run_id))
    w = writer()
    for n in range(10):
        w.run(n * 10, n * 10 + 5, task=f"t{n}")
    trace = load([w.write()], details="lazy")
    assert [r.task_name for r in trace.runs] == [f"t{n}" for n in range(10)]
    assert len(searched) == details.SEARCHES_PER_STRETCH


# -- what the loader keeps so that analysis need not touch every run again --------------------
def test_lanes_keep_their_start_times_and_parents_are_found_while_loading(
        writer: Callable[..., Any]) -> None:
    w = writer()
    parent = w.run(0, 50, task="a")
    w.run(10, 20, task="a", parent=parent)
    w.run(5, 30, key="obj/2", task="b")
    w.run(3, 8, key="obj/2", task="c")  # written after a later start: threads do that
    trace = load([w.write()], details="lazy")
    for key, lane in trace.lanes.items():
        assert trace.lane_starts[key] == [r.start_ns for r in lane]
    assert trace.index is not None and set(trace.index.linked) == {parent}
    assert trace.run_by_id(parent) is trace.index.linked[parent]
    report = analyze(trace)
    for key, lane in trace.lanes.items():  # put in order by the analysis, starts with them
        assert trace.lane_starts.get(key, [r.start_ns for r in lane]) == sorted(
            r.start_ns for r in lane)
    assert report.summary.by_kind.get("reentrant") == 1


# -- two cores -----------------------------------------------------------------------------------
def test_two_cores_report_what_one_does(processes: list[Path]) -> None:
    groups = split(trace_files(processes), min_bytes=0)
    assert groups is not None and [len(g) for g in groups] == [2, 2]
    combined = analyze_split(groups)
    assert combined is not None, "fell back to one analysis"
    assert combined.to_json() == report_json(processes)
    assert combined.summary.by_kind["cross-process"] == 1  # the conversation spans the groups


def test_two_cores_fall_back_when_an_end_is_in_the_other_groups_file(
        writer: Callable[..., Any]) -> None:
    first, second = writer("1.jsonl", pid=1), writer("2.jsonl", pid=2)
    busy_process(first, seed=1)
    run_id = first.run(900, None, task="late")
    busy_process(second, seed=2)
    second.raw(b'{"type":"end","run_id":"%s","end_ns":1780000000950000000,'
               b'"racetrace.end.status":"ok"}' % run_id.encode())
    paths = [first.write(), second.write()]
    groups = split(trace_files(paths), min_bytes=0)
    assert groups is not None
    assert analyze_split(groups) is None
    assert analyze_paths(paths, min_bytes=0).to_json() == report_json(paths)


def test_files_split_only_when_each_has_its_own_process(
        writer: Callable[..., Any], processes: list[Path], tmp_path: Path) -> None:
    assert split(trace_files(processes[:1]), min_bytes=0) is None  # one file
    assert split(trace_files(processes), min_bytes=1 << 40) is None  # too small to pay
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(processes[0].read_bytes())
    assert split(trace_files([*processes, copy]), min_bytes=0) is None  # a copy
    headless = writer("headless.jsonl", pid=9, header=False)
    headless.run(0, 1)
    assert split(trace_files([*processes, headless.write()]), min_bytes=0) is None


def test_a_file_gone_before_the_child_reads_it_is_one_load_error(processes: list[Path]) -> None:
    groups = split(trace_files(processes), min_bytes=0)
    assert groups is not None
    gone = groups[1][-1][0]
    gone.unlink()
    with pytest.raises(LoadError, match=f"{gone.name}: cannot read"):
        analyze_split(groups)


def test_the_command_reports_the_same_on_one_or_two_processes(
        cli: Callable[..., Any], processes: list[Path], tmp_path: Path) -> None:
    outputs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"report-{jobs}.json"
        done = cli("report", str(processes[0].parent), "-j", jobs, "--json", str(out),
                   "--fail-on", "overlap")
        assert done.returncode == 66, done.stderr
        outputs.append((done.stdout, out.read_bytes()))
    assert outputs[0] == outputs[1]
    assert b'"cross-process"' in outputs[0][1]


def test_two_cores_see_a_conversations_child_runs_as_their_runs_users(
        writer: Callable[..., Any]) -> None:
    # One team run per process, one after the other; each turn on the conversation is a task
    # of the team run's, on an agent of its own: serialized by the team runs, not latent.
    paths = []
    for n in range(4):
        w = writer(f"p{n}.jsonl", pid=300 + n)
        team = w.run(n * 100, n * 100 + 90, key=f"{300 + n}/team", task="main")
        for turn in range(2):
            at = n * 100 + 10 + turn * 40
            w.run(at, at + 30, key=f"{300 + n}/agent{turn}", task=f"turn-{turn}",
                  created_by=team, resource=f"chat-{n}")
        paths.append(w.write())
    groups = split(trace_files(paths), min_bytes=0)
    assert groups is not None
    combined = analyze_split(groups)
    assert combined is not None, "fell back to one analysis"
    single = report_json(paths)
    assert combined.to_json() == single
    assert single["findings"] == []
    assert all(i["serialized"] for i in single["instances"] if i["key"].startswith("chat-"))

"""Reading runs back: files and folders, processes merged, damage skipped and counted."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import pytest
from racetrace.analyzers.core.load import LoadError, load

if TYPE_CHECKING:
    from conftest import Finished, Programs

PROGRAM = """
    import asyncio
    import multiprocessing as mp
    from agentlib import Agent

    def in_child():
        asyncio.run(Agent("child").run("c"))

    async def main():
        agent = Agent("parent")
        await asyncio.gather(agent.run("a"), agent.run("b"))

    if __name__ == "__main__":
        asyncio.run(main())
        process = mp.get_context("spawn").Process(target=in_child)
        process.start()
        process.join()
"""

RUNS_JSON_FIELDS = {
    "run_id", "parent_run_id", "method", "instance_key", "instance_class", "instance_label",
    "start_ns", "end_ns", "status", "error", "task", "thread", "pid", "host", "callsite",
    "stack",
}


@pytest.fixture
def two_processes(programs: Programs) -> Finished:
    done = programs.run(PROGRAM, targets=["agentlib:Agent.run", "agentlib:Agent.run_stream"])
    assert len(done.check().files()) == 2
    return done


def test_a_folder_merges_every_process_sorted_by_start(two_processes: Finished) -> None:
    trace = load([two_processes.trace_dir])
    runs = trace.runs
    assert [r.instance_label for r in runs] == ["parent", "parent", "child"]
    assert [r.start_ns for r in runs] == sorted(r.start_ns for r in runs)
    assert len({r.pid for r in runs}) == 2
    assert len(trace.processes) == 2 and trace.skipped_lines == 0
    assert {p.pid for p in trace.processes} == {r.pid for r in runs}


def test_files_can_be_named_one_by_one(two_processes: Finished) -> None:
    files = two_processes.files()
    assert sorted(r.run_id for r in load(files).runs) == sorted(
        r.run_id for r in two_processes.runs()
    )
    per_file = [sorted(r.instance_label or "" for r in load([f]).runs) for f in files]
    assert sorted(per_file) == [["child"], ["parent", "parent"]]


def test_truncated_and_corrupt_lines_are_skipped_counted_and_reported_once(
    programs: Programs, two_processes: Finished
) -> None:
    parent_file = next(
        f for f in two_processes.files() if b'"parent"' in f.read_bytes()
    )
    lines = parent_file.read_bytes().splitlines(keepends=True)
    assert [orjson.loads(line)["type"] for line in lines] == [
        "header", "start", "start", "end", "end",
    ]
    cut_run_id = orjson.loads(lines[4])["run_id"]
    lines.insert(2, b'{"type":"start","run_id": oops\n')  # a corrupt line mid-file
    lines[-1] = lines[-1][: len(lines[-1]) // 2]  # the last line, cut short by a kill
    parent_file.write_bytes(b"".join(lines))
    trace = load([two_processes.trace_dir])
    assert trace.skipped_lines == 2
    assert len(trace.runs) == 3
    ends = {r.run_id: r.end_ns for r in trace.runs if r.instance_label == "parent"}
    assert ends.pop(cut_run_id) is None  # its END was the truncated line: unfinished
    assert [end is not None for end in ends.values()] == [True]
    assert len(trace.problems) == 2
    assert all(p.startswith(f"{parent_file}:") for p in trace.problems)
    done = programs.racetrace("runs", str(two_processes.trace_dir), "--json")
    assert done.returncode == 0
    [line] = done.stderr.splitlines()
    assert line.startswith("racetrace: skipped 2 damaged lines")
    assert len(orjson.loads(done.stdout)) == 3


def test_runs_json_has_every_documented_field(
    programs: Programs, two_processes: Finished
) -> None:
    done = programs.racetrace("runs", str(two_processes.trace_dir), "--json")
    assert (done.returncode, done.stderr) == (0, "")
    records = orjson.loads(done.stdout)
    assert len(records) == 3
    for record in records:
        assert RUNS_JSON_FIELDS <= set(record)
        assert record["status"] == "ok" and record["error"] is None
        assert record["end_ns"] > record["start_ns"]
        assert record["method"] == "agentlib.Agent.run"
        assert record["callsite"].startswith(str(programs.root / "main.py") + ":")
        assert record["stack"][0].startswith(record["callsite"] + " in ")
        assert set(record["thread"]) >= {"id", "name"}
        assert set(record["task"]) >= {"name", "id", "created_at"}
        assert record["instance_key"].startswith(f"{record['host']}/{record['pid']}.")
    gathered = [r for r in records if r["instance_label"] == "parent"]
    assert gathered[0]["instance_key"] == gathered[1]["instance_key"]
    assert gathered[0]["task"]["id"] != gathered[1]["task"]["id"]


def test_runs_table_lists_each_run(programs: Programs, two_processes: Finished) -> None:
    done = programs.racetrace("runs", str(two_processes.trace_dir), env={"COLUMNS": "250"})
    assert done.returncode == 0
    assert "3 runs" in done.stdout
    # The table names methods as `Class.method`; the full path is in --json.
    assert done.stdout.count(" Agent.run ") == 3


def test_unfinished_run_and_error_are_read_back(programs: Programs) -> None:
    programs.module(
        "flaky",
        """
        import os

        class Flaky:
            def fail(self):
                raise ValueError("bad input")

            def die(self):
                os._exit(0)  # the process ends inside the run
        """,
    )
    source = """
        from flaky import Flaky

        try:
            Flaky().fail()
        except ValueError:
            pass
        Flaky().die()
    """
    programs.run(source, targets=["flaky:Flaky.fail", "flaky:Flaky.die"]).check()
    done = programs.racetrace("runs", str(programs.trace_dir), "--json")
    failed, died = orjson.loads(done.stdout)
    assert failed["status"] == "error"
    assert failed["error"] == {"type": "builtins.ValueError", "message": "bad input"}
    assert (died["status"], died["end_ns"], died["error"]) == ("unfinished", None, None)


def test_missing_path_is_a_one_line_usage_error(programs: Programs, tmp_path: Path) -> None:
    with pytest.raises(LoadError):
        load([tmp_path / "nowhere"])
    done = programs.racetrace("runs", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert done.stderr.startswith("racetrace: ") and done.stderr.count("\n") == 1

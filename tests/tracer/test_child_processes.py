"""Child processes: each traced, each writing its own file, never each other's; SIGKILL."""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING

import orjson
import pytest

if TYPE_CHECKING:
    from conftest import Finished, Programs

WORKER = """
    import os

    class Worker:
        def __init__(self, name):
            self.name = name

        def work(self, n):
            return (os.getpid(), n * 2)
"""

WORK = ["worker:Worker.work"]


def headers_by_pid(done: Finished) -> dict[int, str]:
    """pid -> file, from each file's header line; asserts one header per file, first."""
    out = {}
    for path in done.files():
        first = path.read_bytes().splitlines()[0]
        header = orjson.loads(first)
        assert header["type"] == "header"
        assert header["pid"] not in out, "two files for one process"
        out[header["pid"]] = path.name
    return out


def assert_each_run_in_its_own_process_file(done: Finished) -> None:
    files = headers_by_pid(done)
    for run in done.runs():
        assert run.source.endswith(files[run.pid]), f"run of pid {run.pid} in {run.source}"
        assert run.instance_key.startswith(f"{run.host}/{run.pid}.")


def test_os_fork_child_writes_its_own_file_with_its_own_keys(programs: Programs) -> None:
    programs.module("worker", WORKER)
    source = """
        import os
        from worker import Worker

        shared = Worker("shared")
        shared.work(1)                 # parent, before the fork: the file is open
        pid = os.fork()
        if pid == 0:
            shared.work(2)             # the child, on its copy of the same object
            Worker("child-only").work(3)
            os._exit(0)
        os.waitpid(pid, 0)
        shared.work(4)
        Worker("parent-only").work(5)
        print(os.getpid(), pid)
    """
    done = programs.run(source, targets=WORK).check()
    parent, child = map(int, done.stdout.split())
    runs = done.runs()
    assert sorted(r.pid for r in runs) == sorted([parent] * 3 + [child] * 2)
    assert len(done.files()) == 2
    assert_each_run_in_its_own_process_file(done)
    assert {p.pid: p.ppid for p in done.trace().processes}[child] == parent
    keys = {(r.pid, r.instance_label): r.instance_key for r in runs}
    assert keys[(parent, "shared")] != keys[(child, "shared")]
    # Serial numbers start again in the child: only the per-process prefix keeps keys apart.
    assert len({keys[(parent, "parent-only")], keys[(child, "child-only")],
                keys[(parent, "shared")], keys[(child, "shared")]}) == 4
    assert len({r.run_id for r in runs}) == len(runs)


def test_run_active_at_fork_is_ended_by_the_parent_only(programs: Programs) -> None:
    programs.module(
        "forker",
        """
        import os

        class Forker:
            def fork_inside(self, in_child):
                pid = os.fork()
                if pid == 0:
                    in_child()          # a run of the child's, inside the inherited run
                    return 0            # the child returns out of the parent's run
                os.waitpid(pid, 0)
                return pid
        """,
    )
    programs.module("worker", WORKER)
    source = """
        import os
        from forker import Forker
        from worker import Worker

        pid = Forker().fork_inside(lambda: Worker("in-child").work(1))
        if pid == 0:
            os._exit(0)
        print(os.getpid(), pid)
    """
    done = programs.run(source, targets=["forker:Forker.fork_inside", *WORK]).check()
    parent, child = map(int, done.stdout.split())
    runs = done.runs()
    [forked] = [r for r in runs if r.method.endswith("fork_inside")]
    assert forked.pid == parent and forked.status == "ok" and forked.end_ns is not None
    [in_child] = [r for r in runs if r.pid == child]
    assert in_child.method == "worker.Worker.work"
    # The child's file holds its own run only: no END for the parent's run, no second START.
    child_file = next(p for p in done.files() if f".{child}." in p.name)
    # Left by `os._exit`, past atexit: the file may end in its mapped chunk's NUL padding.
    child_lines = [orjson.loads(line)
                   for line in child_file.read_bytes().rstrip(b"\0").splitlines()]
    assert [line["type"] for line in child_lines] == ["header", "start", "end"]
    assert forked.run_id not in {line.get("run_id") for line in child_lines}
    # The child's run is not recorded as a child of a run in another process.
    assert in_child.parent_run_id is None


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_multiprocessing_children_each_write_their_own_file(
    programs: Programs, method: str
) -> None:
    programs.module("worker", WORKER)
    source = f"""
        import multiprocessing as mp
        import os
        from worker import Worker

        def job(n):
            return Worker(f"job-{{n}}").work(n)

        if __name__ == "__main__":
            Worker("main").work(0)
            ctx = mp.get_context("{method}")
            with ctx.Pool(2) as pool:
                results = pool.map(job, range(1, 5))
            print(os.getpid(), sorted({{pid for pid, _ in results}}))
    """
    done = programs.run(source, targets=WORK).check()
    parent = int(done.stdout.split()[0])
    runs = done.runs()
    assert sorted(r.instance_label for r in runs) == ["job-1", "job-2", "job-3", "job-4", "main"]
    assert {r.pid for r in runs if r.instance_label != "main"} - {parent}
    assert all(r.status == "ok" for r in runs)
    assert_each_run_in_its_own_process_file(done)
    assert len({r.instance_key for r in runs}) == 5


def test_traced_bound_methods_can_be_sent_to_spawned_workers(programs: Programs) -> None:
    programs.module("worker", WORKER)
    source = """
        import multiprocessing as mp
        from worker import Worker

        if __name__ == "__main__":
            worker = Worker("sent")
            with mp.get_context("spawn").Pool(2) as pool:
                print(sorted(n for _, n in pool.map(worker.work, range(4))))
    """
    done = programs.run(source, targets=WORK).check()
    assert done.stdout == "[0, 2, 4, 6]\n"
    runs = done.runs()
    assert len(runs) == 4 and {r.instance_label for r in runs} == {"sent"}
    assert_each_run_in_its_own_process_file(done)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_process_pool_executor_workers_are_traced(programs: Programs, method: str) -> None:
    programs.module("worker", WORKER)
    source = f"""
        import multiprocessing as mp
        import os
        from concurrent.futures import ProcessPoolExecutor
        from worker import Worker

        def job(n):
            return Worker(f"job-{{n}}").work(n)

        if __name__ == "__main__":
            with ProcessPoolExecutor(2, mp_context=mp.get_context("{method}")) as pool:
                results = list(pool.map(job, range(6)))
            print(os.getpid())
    """
    done = programs.run(source, targets=WORK).check()
    parent = int(done.stdout)
    runs = done.runs()
    assert len(runs) == 6
    assert parent not in {r.pid for r in runs}
    assert_each_run_in_its_own_process_file(done)


def test_python_subprocess_inherits_tracing(programs: Programs) -> None:
    programs.module("worker", WORKER)
    programs.module("child", "from worker import Worker\nWorker('in-child').work(1)\n")
    source = """
        import subprocess, sys
        from worker import Worker

        Worker("in-parent").work(1)
        subprocess.run([sys.executable, "child.py"], check=True)
    """
    done = programs.run(source, targets=WORK).check()
    runs = done.runs()
    assert sorted(r.instance_label for r in runs) == ["in-child", "in-parent"]
    assert len({r.pid for r in runs}) == 2
    assert_each_run_in_its_own_process_file(done)


def test_sigkill_mid_run_leaves_the_start_on_disk(programs: Programs) -> None:
    programs.module(
        "hanger",
        """
        import sys, time

        class Hanger:
            name = "stuck"

            def hang(self):
                print("started", flush=True)
                time.sleep(600)
        """,
    )
    process = programs.start(
        "from hanger import Hanger\nHanger().hang()\n", targets=["hanger:Hanger.hang"]
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "started\n"
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    [run] = programs.load().runs
    assert run.method == "hanger.Hanger.hang"
    assert run.end_ns is None and run.status == "unfinished"
    done = programs.racetrace("runs", str(programs.trace_dir), "--json")
    [record] = orjson.loads(done.stdout)
    assert record["end_ns"] is None
    assert record["status"] == "unfinished"
    assert record["instance_label"] == "stuck"
    assert os.path.basename(record["callsite"]) == "main.py:2"

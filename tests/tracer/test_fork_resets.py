"""A forked child writes a file of its own with ids of its own, however it was forked: by a fork
made in C (which runs no at-fork hook: uWSGI without `py-call-osafterfork`), or after the
program stopped tracing and started it again."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # fixtures' types only: conftest names collide across test folders
    from conftest import Programs

WORKER = """
    class Worker:
        def __init__(self, name):
            self.name = name

        def work(self, n):
            return n * 2
"""


@pytest.mark.parametrize("seen_by", ["page", "pid"])
def test_children_forked_in_c_write_files_and_ids_of_their_own(
    programs: Programs, seen_by: str
) -> None:
    programs.module("worker", WORKER)
    # As uWSGI's master forks its workers after loading the app: the app is traced in the
    # master, the fork is libc's, and a worker leaves without atexit. Seen by the page the
    # kernel wipes in a child (Linux), or, where there is none, by the pid.
    source = f"""
        import ctypes, os
        from racetrace.tracer import runtime
        from worker import Worker

        if {seen_by!r} == "pid":
            runtime.RECORDER.fork_page = None

        Worker("master").work(0)
        libc = ctypes.CDLL(None, use_errno=True)
        pids = []
        for w in range(2):
            pid = libc.fork()
            if pid == 0:
                for n in range(200):
                    Worker(f"worker{{w}}").work(n)
                os._exit(0)
            pids.append(pid)
        # A child that records nothing and exits as programs do (atexit runs): the
        # master's file is not its to cut.
        quiet = libc.fork()
        if quiet == 0:
            raise SystemExit(0)
        for pid in [*pids, quiet]:
            _, status = os.waitpid(pid, 0)
            assert status == 0
        Worker("master-after").work(1)
        print(*pids)
    """
    done = programs.run(source, targets=["worker:Worker.work"]).check()
    children = [int(pid) for pid in done.stdout.split()]
    assert len(done.files()) == 3  # the master's and one per worker
    trace = done.trace()
    assert trace.skipped_lines == 0 and trace.problems == []
    labels = Counter(r.instance_label for r in trace.runs)
    assert labels == {"master": 1, "master-after": 1, "worker0": 200, "worker1": 200}
    assert {r.status for r in trace.runs} == {"ok"}
    # Each worker's runs in its own process, with run ids and trace ids of its own.
    for w, pid in enumerate(children):
        assert {r.pid for r in trace.runs if r.instance_label == f"worker{w}"} == {pid}
    assert len({r.run_id for r in trace.runs}) == len(trace.runs)
    assert len({r.trace_id for r in trace.runs}) == len(trace.runs)


@pytest.mark.parametrize("fork", ["os.fork()", "ctypes.CDLL(None).fork()"])
def test_a_child_forked_while_tracing_was_stopped_draws_ids_of_its_own(
    programs: Programs, fork: str
) -> None:
    programs.module("worker", WORKER)
    # A notebook or a test fixture turns tracing off, the program forks, both sides start
    # tracing again: their runs must not share ids.
    source = f"""
        import ctypes, os
        import racetrace
        from worker import Worker

        racetrace.start(targets=["worker:Worker.work"])
        Worker("first").work(0)
        racetrace.stop()
        pid = {fork}
        racetrace.start(targets=["worker:Worker.work"])
        for n in range(20):
            Worker("child" if pid == 0 else "parent").work(n)
        racetrace.stop()
        if pid == 0:
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert status == 0
    """
    programs.run(source, enabled=None).check()
    trace = programs.load()
    assert trace.skipped_lines == 0
    labels = Counter(r.instance_label for r in trace.runs)
    assert labels == {"first": 1, "parent": 20, "child": 20}
    assert len({r.run_id for r in trace.runs}) == len(trace.runs)
    assert len({r.trace_id for r in trace.runs}) == len(trace.runs)

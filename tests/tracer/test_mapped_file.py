"""The trace file is memory-mapped a chunk at a time: what that must not change (a START on disk
before the run's body, nothing lost at exit, each process its own file) and what readers see (a
live or killed writer's file ends in NUL padding: the end of the data, not damage)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from racetrace.analyzers.core.blocks import Blocks
from racetrace.analyzers.core.load import load
from racetrace.analyzers.core.tail import FileTail
from racetrace.tracer import runtime, sink

if TYPE_CHECKING:  # fixtures' types only: conftest names collide across test folders
    from conftest import Programs, Tracing

WORKER = """
    import os

    class Worker:
        def __init__(self, name):
            self.name = name

        def work(self, n):
            return (os.getpid(), n * 2)
"""


def only_file(directory: Path) -> Path:
    [path] = sorted(directory.rglob("*.jsonl"))
    return path


def test_a_killed_writer_leaves_its_starts_and_its_padding_reads_as_the_end(
    programs: Programs,
) -> None:
    programs.module("worker", WORKER)
    programs.module(
        "hanger",
        """
        import time

        class Hanger:
            def hang(self):
                print("started", flush=True)
                time.sleep(600)
        """,
    )
    source = """
        from hanger import Hanger
        from worker import Worker

        for n in range(50):
            Worker("w").work(n)
        Hanger().hang()
    """
    process = programs.start(source, targets=["worker:Worker.work", "hanger:Hanger.hang"])
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "started\n"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    data = only_file(programs.trace_dir).read_bytes()
    # The rest of the mapped chunk, never written: NUL bytes after the last line.
    assert data.endswith(b"\0") and data.rstrip(b"\0").endswith(b"\n")
    trace = programs.load()
    assert trace.skipped_lines == 0 and trace.problems == []
    assert [r.status for r in trace.runs].count("ok") == 50
    [hung] = [r for r in trace.runs if r.method == "hanger.Hanger.hang"]
    assert hung.status == "unfinished" and hung.end_ns is None
    # The command-line readers agree, and say nothing of damage.
    done = programs.racetrace("runs", str(programs.trace_dir))
    assert done.returncode == 0, done.stderr
    assert "skipped" not in done.stdout + done.stderr
    listed = programs.racetrace("sessions", str(programs.trace_dir), "--no-findings")
    assert listed.returncode == 0, listed.stderr
    [row] = [line for line in listed.stdout.splitlines() if "(latest)" in line]
    assert row.split()[-2:] == ["1", "51"]  # one process, 51 runs


def test_a_writer_killed_after_many_chunks_loses_no_line(programs: Programs) -> None:
    """Chunks left behind may leave the page cache as the writer goes on (where it maps them
    with huge pages, `sink._recycle`): their lines are still in the file, the kill included."""
    programs.module("worker", WORKER)
    programs.module(
        "hanger",
        """
        import time

        class Hanger:
            def hang(self):
                print("started", flush=True)
                time.sleep(600)
        """,
    )
    runs = (5 * sink.CHUNK_BYTES) // 500
    source = f"""
        from hanger import Hanger
        from worker import Worker

        for n in range({runs}):
            Worker("w" * 100).work(n)
        Hanger().hang()
    """
    process = programs.start(source, targets=["worker:Worker.work", "hanger:Hanger.hang"])
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "started\n"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    data = only_file(programs.trace_dir).read_bytes()
    assert len(data) > 5 * sink.CHUNK_BYTES and data.endswith(b"\0")
    trace = programs.load()
    assert trace.skipped_lines == 0 and trace.problems == []
    assert [r.status for r in trace.runs].count("ok") == runs
    assert sorted(r.run_id for r in trace.runs) == sorted({r.run_id for r in trace.runs})


def test_a_clean_exit_cuts_the_file_to_its_lines(programs: Programs) -> None:
    programs.module("worker", WORKER)
    # Enough runs to fill more than one chunk: lines span a chunk's end.
    runs = (2 * sink.CHUNK_BYTES) // 500
    source = f"""
        from worker import Worker

        for n in range({runs}):
            Worker("w" * 100).work(n)
    """
    programs.run(source, targets=["worker:Worker.work"]).check()
    data = only_file(programs.trace_dir).read_bytes()
    assert len(data) > 2 * sink.CHUNK_BYTES
    assert b"\0" not in data and data.endswith(b"\n")
    trace = programs.load()
    assert trace.skipped_lines == 0
    assert len(trace.runs) == runs and {r.status for r in trace.runs} == {"ok"}


def test_a_forked_child_and_its_parent_both_complete_their_files(programs: Programs) -> None:
    programs.module("worker", WORKER)
    source = """
        import multiprocessing, os
        from worker import Worker

        def in_process():
            Worker("in-mp-child").work(3)

        if __name__ == "__main__":
            Worker("before").work(1)
            pid = os.fork()
            if pid == 0:
                Worker("in-child").work(2)  # then exits as the script ends: atexit runs
            else:
                os.waitpid(pid, 0)
                # The parent goes on in its own file, past a chunk's end.
                for n in range(3000):
                    Worker("after" * 20).work(n)
                process = multiprocessing.get_context("fork").Process(target=in_process)
                process.start()
                process.join()
                print(os.getpid(), pid, process.pid)
    """
    done = programs.run(source, targets=["worker:Worker.work"]).check()
    parent, child, mp_child = map(int, done.stdout.split())
    files = {int(p.name.split(".")[1]): p.read_bytes() for p in done.files()}
    assert set(files) == {parent, child, mp_child}
    # Each cut to its lines: the plain child and the parent at exit, the multiprocessing child
    # (which leaves through os._exit) by its finalizer.
    for data in files.values():
        assert b"\0" not in data and data.endswith(b"\n")
    trace = done.trace()
    assert trace.skipped_lines == 0
    by_pid: dict[int, list[str]] = {}
    for run in trace.runs:
        assert run.status == "ok"
        by_pid.setdefault(run.pid, []).append(run.instance_label or "")
    assert by_pid[child] == ["in-child"] and by_pid[mp_child] == ["in-mp-child"]
    assert sorted(set(by_pid[parent])) == ["after" * 20, "before"]
    assert len(by_pid[parent]) == 3001


def test_a_live_writers_padded_file_reads_without_damage(tracing: Tracing) -> None:
    module = tracing.module(WORKER)
    tracing.instrument(module, "Worker.work")
    for n in range(20):
        module.Worker("w").work(n)
    path = only_file(tracing.directory)
    data = path.read_bytes()
    assert data.endswith(b"\0") and len(data) == sink.CHUNK_BYTES  # still being written
    # The whole-file loader (report, runs, tui, sessions) ...
    trace = load([tracing.directory])
    assert trace.skipped_lines == 0 and trace.problems == []
    assert len(trace.runs) == 20 and {r.status for r in trace.runs} == {"ok"}
    # ... the tail that `tui --follow` and the pytest plugin poll ...
    tail = FileTail(path)
    records = tail.read()
    assert len(records) == 41 and tail.skipped == 0 and tail.problems == []
    module.Worker("w").work(20)
    assert len(tail.read()) == 2 and tail.skipped == 0
    # ... and blocks of bytes already in memory.
    [(base, block, size, final)] = list(Blocks.of(path.read_bytes()))
    assert base == 0 and final
    assert block[:size].endswith(b"\n") and b"\0" not in block[:size]


def test_threads_writing_across_many_chunks_lose_no_line(
    tracing: Tracing, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One page a chunk: most lines of four threads at once meet a chunk's end somewhere.
    monkeypatch.setattr(sink, "CHUNK_BYTES", 4096)
    module = tracing.module(WORKER)
    tracing.instrument(module, "Worker.work")

    def work(name: str) -> None:
        worker = module.Worker(name)
        for n in range(300):
            worker.work(n)

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    trace = load([tracing.directory])
    assert trace.skipped_lines == 0 and trace.problems == []
    assert len(trace.runs) == 1200 and {r.status for r in trace.runs} == {"ok"}
    assert sorted({r.instance_label for r in trace.runs}) == ["t0", "t1", "t2", "t3"]
    assert runtime.RECORDER is not None and runtime.RECORDER.sink.lost == 0


class _RefusingMmap:
    """A filesystem that refuses to map files (some network and FUSE filesystems)."""

    ALLOCATIONGRANULARITY = 4096
    ACCESS_WRITE = 3

    @staticmethod
    def mmap(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENODEV, "No such device")


def test_a_file_that_cannot_be_mapped_is_written_a_line_at_a_time(
    tracing: Tracing, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sink, "_mmap", _RefusingMmap)
    module = tracing.module(WORKER)
    tracing.instrument(module, "Worker.work")
    for n in range(5):
        module.Worker("w").work(n)
    err = capfd.readouterr().err
    assert err.count("racetrace:") == 1 and "cannot map the trace file" in err
    data = only_file(tracing.directory).read_bytes()
    assert b"\0" not in data  # appended, never padded: the reserved chunk was given back
    assert [r.status for r in tracing.runs()] == ["ok"] * 5


def test_a_program_that_closes_every_descriptor_keeps_the_ones_it_opens_next(
    programs: Programs,
) -> None:
    # A daemonizing program closes every descriptor, then opens its own, which take the lowest
    # numbers: one of them may be the number the writer's map kept (Python < 3.13). Moving to
    # the next chunk must not close the program's file under it.
    programs.module("worker", WORKER)
    source = """
        import os
        from worker import Worker

        Worker("before").work(0)
        os.closerange(3, 4096)
        fds = [os.open(f"own{i}.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
               for i in range(8)]
        for n in range(3000):  # more than a chunk of trace lines
            Worker("w" * 200).work(n)
            for fd in fds:
                os.write(fd, b"%d\\n" % n)
        for fd in fds:
            os.close(fd)
        print(sum(open(f"own{i}.txt").read().count("\\n") for i in range(8)))
    """
    done = programs.run(source, targets=["worker:Worker.work"]).check()
    assert done.stdout.split() == [str(8 * 3000)]
    trace = done.trace()
    assert trace.skipped_lines == 0
    assert len(trace.runs) == 3001 and {r.status for r in trace.runs} == {"ok"}


def test_a_first_run_after_racetraces_exit_hook_leaves_no_padding(programs: Programs) -> None:
    programs.module("worker", WORKER)
    # A child process whose only run is in an exit hook of its own, registered before
    # racetrace started (so it runs after racetrace's hook, which found nothing to cut).
    programs.module(
        "late",
        """
        import atexit
        import racetrace
        from worker import Worker

        atexit.register(lambda: Worker("late").work(1))
        racetrace.start(targets=["worker:Worker.work"])
        """,
    )
    source = """
        import subprocess, sys
        import racetrace

        racetrace.start(targets=["worker:Worker.work"])
        subprocess.run([sys.executable, "late.py"], check=True)
    """
    programs.run(source, enabled=None).check()
    files = sorted(programs.trace_dir.rglob("*.jsonl"))
    assert files
    for path in files:
        data = path.read_bytes()
        assert b"\0" not in data and data.endswith(b"\n")
    [run] = programs.load().runs
    assert run.instance_label == "late" and run.status == "ok"


def test_only_a_chunk_mapped_here_is_read_as_a_huge_page(tmp_path: Path) -> None:
    # Whether chunks are recycled is read from /proc/self/smaps for the chunk mapped now: a
    # file, or a part of it, that this process does not map is never one.
    path = tmp_path / "unmapped.jsonl"
    path.write_bytes(b"{}\n" * 10)
    stat = path.stat()
    assert sink._huge_mapped((stat.st_dev, stat.st_ino), 0) is False
    writer = sink.JsonLinesSink(str(tmp_path / "traces"), "host", "svc", "0")
    try:
        writer.write_line(b"{}\n")
        assert writer.path is not None and writer.mapped is not None
        ident = writer._ident
        assert sink._huge_mapped(ident, sink.CHUNK_BYTES) is False  # not mapped yet
        huge = sink._huge_mapped(ident, 0)  # True where this kernel gave it a huge page
        assert isinstance(huge, bool)
    finally:
        writer.close()
    assert sink._huge_mapped(ident, 0) is False  # unmapped at close


def test_a_large_process_is_not_scanned_for_huge_pages(tmp_path: Path) -> None:
    # Reading /proc/self/smaps walks every mapping's page tables (~37 ms a resident GiB) inside
    # a traced call: above the resident bound the writer keeps 4 KiB behaviour, unread.
    script = tmp_path / "big.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        from racetrace.tracer import sink
        opened = []
        sys.addaudithook(lambda event, args: event == "open" and opened.append(str(args[0])))
        writer = sink.JsonLinesSink({str(tmp_path / "traces")!r}, "host", "svc", "0")
        writer.write_line(b"{{}}\\n")
        ident = writer._ident
        ballast = b"x" * (sink._SMAPS_SCAN_MAX_RESIDENT + (64 << 20))
        assert sink._resident_bytes() > sink._SMAPS_SCAN_MAX_RESIDENT
        assert sink._huge_mapped(ident, 0) is False
        big = "/proc/self/smaps" in opened
        del ballast
        small_resident = sink._resident_bytes() <= sink._SMAPS_SCAN_MAX_RESIDENT
        sink._huge_mapped(ident, 0)
        small = "/proc/self/smaps" in opened
        writer.close()
        print(big, small_resident, small, sink._fadvise is not None)
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    big, small_resident, small, can_recycle = done.stdout.split()
    assert big == "False"
    assert small_resident == "True"
    assert small == can_recycle  # read once the process is small again, where recycling exists

"""Durable recording: START written when a run starts, one file per process, mode 0600, a
header; failures inside racetrace are one stderr line and the program goes on."""

from __future__ import annotations

import os
import stat
import sys
import threading
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from conftest import Programs, Tracing

WORKER = """
    class Worker:
        def __init__(self, name):
            self.name = name

        def work(self, secret, *, token=None):
            return len(secret)
"""


def test_start_line_is_in_the_file_while_the_run_is_still_active(tracing: Tracing) -> None:
    module = tracing.module(
        """
        class Waiter:
            def wait(self, entered, release):
                entered.set()
                release.wait(timeout=60)
        """
    )
    tracing.instrument(module, "Waiter.wait")
    entered, release = threading.Event(), threading.Event()
    thread = threading.Thread(target=module.Waiter().wait, args=(entered, release))
    thread.start()
    try:
        assert entered.wait(timeout=60)
        during = tracing.lines()
        [active] = tracing.runs()
    finally:
        release.set()
        thread.join(timeout=60)
    assert [line["type"] for line in during] == ["header", "start"]
    assert active.end_ns is None and active.status == "unfinished"
    [ended] = tracing.runs()
    assert ended.run_id == active.run_id and ended.end_ns is not None
    assert [line["type"] for line in tracing.lines()] == ["header", "start", "end"]


def test_stop_with_a_run_in_flight_leaves_it_unfinished_and_writes_no_more(
    tracing: Tracing,
) -> None:
    import racetrace

    module = tracing.module(
        """
        class Waiter:
            def wait(self, entered, release):
                entered.set()
                release.wait(timeout=60)
        """
    )
    tracing.instrument(module, "Waiter.wait")
    entered, release = threading.Event(), threading.Event()
    thread = threading.Thread(target=module.Waiter().wait, args=(entered, release))
    thread.start()
    assert entered.wait(timeout=60)
    racetrace.stop()
    release.set()
    thread.join(timeout=60)
    assert len(list(tracing.directory.rglob("*.jsonl"))) == 1  # no second file for a late END
    assert [line["type"] for line in tracing.lines()] == ["header", "start"]
    [run] = tracing.runs()
    assert run.status == "unfinished"


def test_trace_file_is_private_and_opens_with_a_header(programs: Programs) -> None:
    programs.module("worker", WORKER)
    done = programs.run(
        "import sys\nfrom worker import Worker\nWorker('w').work('abc')\n",
        targets=["worker:Worker.work"],
        env={"OTEL_SERVICE_NAME": "checkout"},
        argv=[sys.executable, "main.py", "--flag"],
    ).check()
    [path] = done.files()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    header, start, end = (orjson.loads(line) for line in path.read_bytes().splitlines())
    assert header["type"] == "header"
    assert header["format"] == "racetrace.trace/1"
    assert header["argv"] == ["main.py", "--flag"]
    assert header["service"] == "checkout"
    assert isinstance(header["wall_ns"], int) and isinstance(header["monotonic_ns"], int)
    assert header["pid"] == start["process.pid"] and header["host"] == start["host.name"]
    assert f".{header['pid']}." in path.name
    assert (start["type"], end["type"]) == ("start", "end")
    assert end["run_id"] == start["run_id"]
    [run] = done.runs()
    assert run.service == "checkout"


def test_argument_values_are_not_recorded_by_default(programs: Programs) -> None:
    programs.module("worker", WORKER)
    source = "from worker import Worker\nWorker('w').work('hunter2', token='s3cr3t')\n"
    done = programs.run(source, targets=["worker:Worker.work"]).check()
    [path] = done.files()
    data = path.read_bytes()
    assert b"hunter2" not in data and b"s3cr3t" not in data
    assert done.runs()[0].args is None
    captured = programs.run(
        source, targets=["worker:Worker.work"], env={"RACETRACE_CAPTURE_ARGS": "1"}
    ).check()
    assert any("hunter2" in (r.args or "") for r in captured.runs())


def test_unwritable_trace_folder_is_one_line_and_the_program_goes_on(programs: Programs) -> None:
    programs.module("worker", WORKER)
    (programs.root / "a-file").write_text("not a folder")
    source = """
        import sys
        from worker import Worker

        for n in range(5):
            print(Worker("w").work("x" * n))
        sys.exit(4)
    """
    untraced = programs.run(source, enabled=None)
    traced = programs.run(
        source,
        targets=["worker:Worker.work"],
        env={"RACETRACE_DIR": str(programs.root / "a-file" / "traces")},
    )
    assert (traced.returncode, traced.stdout) == (untraced.returncode, untraced.stdout)
    assert traced.returncode == 4
    [line] = traced.stderr.splitlines()
    assert line.startswith("racetrace: ") and "trace file" in line


def test_failure_inside_a_run_does_not_reach_the_program(tracing: Tracing) -> None:
    module = tracing.module(
        """
        class Shape:
            # The label is looked up for each run: its failure must not become the caller's.
            @property
            def name(self):
                raise KeyError("name")

            def area(self):
                return 4
        """
    )
    tracing.instrument(module, "Shape.area")
    assert module.Shape().area() == 4
    [run] = tracing.runs()
    assert run.instance_label is None


def test_a_failed_write_costs_its_line_is_said_once_and_writing_goes_on(
    tracing: Tracing, capfd  # type: ignore[no-untyped-def]
) -> None:
    module = tracing.module(WORKER)
    tracing.instrument(module, "Worker.work")
    from racetrace.tracer import runtime

    assert runtime.RECORDER is not None
    # The writer that appends a line at a time (where a file cannot be mapped).
    runtime.RECORDER.sink.use_map = False
    assert module.Worker("w").work("ab") == 2
    # Point the file's descriptor at /dev/full, as a full disk makes writes fail: the
    # program's calls go on returning what they return, and those runs are lost.
    fd = runtime.RECORDER.sink._fd
    assert fd is not None
    saved = os.dup(fd)
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, fd)
    os.close(full)
    assert [module.Worker("w").work("abc") for _ in range(3)] == [3, 3, 3]
    # Space again: the writer never switched itself off, the next run is written.
    os.dup2(saved, fd)
    os.close(saved)
    assert module.Worker("w").work("abcd") == 4
    err = capfd.readouterr().err
    assert err.count("racetrace:") == 1 and "trace file" in err and "tries again" in err
    runs = tracing.runs()
    assert [r.status for r in runs] == ["ok", "ok"]
    assert runtime.RECORDER.sink.lost == 6  # three runs, a START and an END each


def test_a_descriptor_the_program_closed_is_reopened_as_a_new_file(
    tracing: Tracing, capfd  # type: ignore[no-untyped-def]
) -> None:
    module = tracing.module(WORKER)
    tracing.instrument(module, "Worker.work")
    from racetrace.tracer import runtime

    assert runtime.RECORDER is not None
    # The writer that appends a line at a time (where a file cannot be mapped).
    runtime.RECORDER.sink.use_map = False
    assert module.Worker("w").work("ab") == 2
    fd = runtime.RECORDER.sink._fd
    assert fd is not None
    os.close(fd)  # as a program closing every descriptor does
    assert [module.Worker("w").work("abc") for _ in range(3)] == [3, 3, 3]
    assert "racetrace:" not in capfd.readouterr().err  # nothing lost, nothing to say
    assert len(list(tracing.directory.rglob("*.jsonl"))) == 2
    assert [r.status for r in tracing.runs()] == ["ok"] * 4


def test_an_attribute_json_cannot_hold_is_written_as_text(tracing: Tracing) -> None:
    # A resource key of an odd type (a preset reading a framework's config, say) must cost that
    # value its type, not the run's lines or every line after them.
    from racetrace.tracer.targets import Target, request

    module = tracing.module(
        """
        class Odd:
            def __str__(self):
                return "odd-value"

        class Session:
            def save(self):
                return "saved"
        """
    )
    request(Target(module=module.__name__, path="Session.save",
                   resource_of=lambda instance, args, kwargs: module.Odd()))
    assert module.Session().save() == "saved"
    assert module.Session().save() == "saved"
    lines = tracing.lines()
    starts = [line for line in lines if line["type"] == "start"]
    assert [line["racetrace.resource.key"] for line in starts] == ["odd-value", "odd-value"]
    assert sum(line["type"] == "end" for line in lines) == 2

"""A line never straddles two chunks of the mapped trace file: killed while the next chunk is
mapped, a writer leaves whole lines; a reader in the meantime reads no damage; a line longer than
a chunk, or a chunk the disk has no room for, leaves no torn line either."""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pytest
from racetrace.analyzers.core.load import load
from racetrace.analyzers.core.tail import FileTail
from racetrace.tracer import errors, runtime, sink

if TYPE_CHECKING:  # fixtures' types only: conftest names collide across test folders
    from conftest import Programs, Tracing

WORKER = """
    class Worker:
        def __init__(self, name):
            self.name = name

        def work(self, n):
            return n * 2
"""


def every_line_whole(path: Path) -> list[dict[str, Any]]:
    """Each non-blank line of a trace file, decoded (a torn line fails here)."""
    data = path.read_bytes().rstrip(b"\0")
    assert b"\0" not in data
    return [orjson.loads(line) for line in data.splitlines() if line.strip()]


def test_a_writer_killed_while_it_maps_the_next_chunk_leaves_no_torn_line(
    programs: Programs,
) -> None:
    programs.module("worker", WORKER)
    # The program dies the moment its writer opens the file to map the next chunk (the
    # only open without O_CREAT before exit): the line that did not fit is then in hand.
    source = """
        import os, signal
        from racetrace.tracer import sink

        real_open = sink._os_open

        def open_then_die(path, flags, *mode):
            if not flags & os.O_CREAT:
                os.kill(os.getpid(), signal.SIGKILL)
            return real_open(path, flags, *mode)

        sink._os_open = open_then_die
        from worker import Worker

        for n in range(100000):
            Worker("w" * 200).work(n)
    """
    done = programs.run(source, targets=["worker:Worker.work"])
    assert done.returncode == -signal.SIGKILL, done.stderr
    [path] = done.files()
    assert path.stat().st_size == sink.CHUNK_BYTES  # killed at the first chunk's end
    records = every_line_whole(path)
    starts = [r for r in records if r["type"] == "start"]
    assert len(starts) > 500
    trace = done.trace()
    assert trace.skipped_lines == 0 and trace.problems == []
    assert len(trace.runs) == len(starts)


def test_a_reader_while_the_next_chunk_is_mapped_reads_no_damage(
    tracing: Tracing, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sink, "CHUNK_BYTES", 4096)
    module = tracing.module(WORKER)
    tracing.instrument(module, "Worker.work")
    seen: list[tuple[int, int]] = []
    real_open = sink._os_open

    def open_and_read(path: str, flags: int, *mode: int) -> int:
        if not flags & os.O_CREAT:  # between two chunks: what does a reader see now?
            tail = FileTail(Path(path))
            tail.read()
            seen.append((load([tracing.directory]).skipped_lines, tail.skipped))
        return real_open(path, flags, *mode)

    monkeypatch.setattr(sink, "_os_open", open_and_read)
    for n in range(200):
        module.Worker("w" * 100).work(n)
    assert len(seen) >= 5
    assert seen == [(0, 0)] * len(seen)
    trace = load([tracing.directory])
    assert trace.skipped_lines == 0 and len(trace.runs) == 200


def test_a_line_longer_than_a_chunk_gets_a_chunk_of_its_own(
    tracing: Tracing, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sink, "CHUNK_BYTES", 4096)
    module = tracing.module(WORKER)
    tracing.instrument(module, "Worker.work")
    module.Worker("short").work(0)
    module.Worker("w" * 3 * 4096).work(1)
    module.Worker("short").work(2)
    [path] = sorted(tracing.directory.rglob("*.jsonl"))
    records = every_line_whole(path)
    assert [r["type"] for r in records].count("start") == 3
    assert max(len(line) for line in path.read_bytes().splitlines()) > 3 * 4096
    trace = load([tracing.directory])
    assert trace.skipped_lines == 0
    assert [r.status for r in trace.runs] == ["ok"] * 3


def test_a_full_disk_at_a_chunks_end_leaves_no_torn_line(
    tracing: Tracing, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(errors, "_said", set())  # said once: once in this test only
    monkeypatch.setattr(sink, "CHUNK_BYTES", 4096)
    real_reserve = sink._os_fallocate
    assert real_reserve is not None

    refused: list[int] = []

    def no_room_past_the_first_chunk(fd: int, start: int, size: int) -> None:
        if start > 0 and not refused:  # once: the disk is full, then someone frees room
            refused.append(start)
            raise OSError(errno.ENOSPC, "No space left on device")
        real_reserve(fd, start, size)

    monkeypatch.setattr(sink, "_os_fallocate", no_room_past_the_first_chunk)
    module = tracing.module(WORKER)
    tracing.instrument(module, "Worker.work")
    for n in range(40):
        module.Worker("w" * 100).work(n)
    assert "No space left on device" in capfd.readouterr().err
    assert runtime.RECORDER is not None and runtime.RECORDER.sink.lost == 1
    files = sorted(tracing.directory.rglob("*.jsonl"))
    assert len(files) == 2  # the writer went on in a new file
    lines = [line for path in files for line in every_line_whole(path)]
    assert len(lines) == 2 + 2 * 40 - 1  # two headers; one line lost, none torn
    trace = load([tracing.directory])
    # The lost line is a START (its END is then alone in the new file) or an END.
    assert trace.skipped_lines == trace.unmatched_ends <= 1
    assert len(trace.runs) >= 39

"""`--follow`: new files and new lines show up, open runs grow, the user's place is kept."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from tui_helpers import SIZE, make_app, run_async

T0 = 1_700_000_000_000_000_000


def _line(record: dict[str, Any]) -> bytes:
    return json.dumps(record).encode() + b"\n"


def _header(pid: int, host: str) -> bytes:
    return _line({"type": "header", "format": "racetrace.trace/1", "pid": pid, "host": host,
                  "wall_ns": T0})


def _start(run_id: str, at_ns: int, key: str, pid: int, host: str) -> bytes:
    return _line({"type": "start", "run_id": run_id, "name": "m.Agent.run", "start_ns": at_ns,
                  "racetrace.instance.key": key, "racetrace.instance.class": "m.Agent",
                  "racetrace.instance.label": key.rsplit("/", 1)[-1], "process.pid": pid,
                  "host.name": host})


def _end(run_id: str, at_ns: int) -> bytes:
    return _line({"type": "end", "run_id": run_id, "end_ns": at_ns,
                  "racetrace.end.status": "ok"})


async def _until(pilot: Any, condition: Any, tries: int = 400) -> None:
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("the follower never caught up")


@run_async
async def test_new_lines_and_new_files_appear_and_the_place_is_kept(tmp_path: Path) -> None:
    first = tmp_path / "h.1.jsonl"
    # A process that is gone (pid 1 on another host): its open runs stop at its last record.
    first.write_bytes(_header(1, "elsewhere") + _start("a", T0, "h/1/a", 1, "elsewhere")
                      + _start("b", T0 + 10_000, "h/1/b", 1, "elsewhere"))
    app = make_app(tmp_path, follow=True, poll_interval=0.02)
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, lambda: app.trace is not None and len(app.trace.runs) == 2)
        timeline = app.timeline
        await pilot.press("down", "plus")
        selection, view = timeline.selected_run_id(), timeline.view
        with first.open("ab") as handle:
            handle.write(_end("a", T0 + 50_000))
            handle.write(b'{"type": "start", "run_id": "c", "na')  # a line still being written
        await _until(pilot, lambda: app.trace.runs[0].end_ns is not None)
        assert len(app.trace.runs) == 2  # the half line waits for its end
        with first.open("ab") as handle:
            handle.write(b'me": "m.Agent.run", "start_ns": %d, "racetrace.instance.key": "h/1/a",'
                         b' "process.pid": 1, "host.name": "elsewhere"}\n' % (T0 + 60_000))
        (tmp_path / "h.2.jsonl").write_bytes(_header(2, "elsewhere")
                                             + _start("d", T0 + 20_000, "h/2/d", 2, "elsewhere"))
        await _until(pilot, lambda: len(app.trace.runs) == 4)
        assert timeline.selected_run_id() == selection
        assert timeline.view == view
        assert len(timeline.lane_layout.lanes) == 3


@run_async
async def test_an_open_run_of_a_live_process_grows(tmp_path: Path) -> None:
    host, pid = socket.gethostname(), os.getpid()  # this process: certainly alive
    import time

    now = time.time_ns()
    (tmp_path / "live.jsonl").write_bytes(_header(pid, host) + _start("a", now, "h/1/a", pid, host))
    app = make_app(tmp_path, follow=True, poll_interval=0.02)
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, lambda: app.lanes is not None and app.lanes.run_count == 1)
        first_span = app.lanes.span_ns
        await _until(pilot, lambda: app.lanes.span_ns > first_span)


@run_async
async def test_following_an_empty_directory_waits_for_runs(tmp_path: Path) -> None:
    app = make_app(tmp_path, follow=True, poll_interval=0.02)
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, lambda: app.failed)
        from tui_helpers import plain

        assert "Waiting for runs" in plain(app.query_one("#message").content)
        (tmp_path / "late.jsonl").write_bytes(_header(3, "elsewhere")
                                              + _start("a", T0, "h/3/a", 3, "elsewhere"))
        await _until(pilot, lambda: not app.failed)
        assert app.timeline.selection is not None

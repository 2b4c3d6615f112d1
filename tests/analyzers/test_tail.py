"""Following a trace file that is still being written (`--follow`, the pytest plugin)."""

from __future__ import annotations

from pathlib import Path

from racetrace.analyzers.core.model import End, Header, Run
from racetrace.analyzers.core.tail import FileTail

HEADER = b'{"type":"header","format":"racetrace.trace/1","pid":7,"host":"h","wall_ns":1}\n'
START = (b'{"type":"start","run_id":"%s","name":"m.A.run","start_ns":%d,'
         b'"racetrace.instance.key":"h/7.a/1"}\n')
END = b'{"type":"end","run_id":"%s","end_ns":%d,"racetrace.end.status":"ok"}\n'


def test_a_line_cut_mid_write_is_read_whole_by_the_next_poll(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    line = START % (b"a1", 10)
    path.write_bytes(HEADER + line[:20])
    tail = FileTail(path)
    assert [type(r) for r in tail.read()] == [Header]
    with path.open("ab") as f:
        f.write(line[20:] + END % (b"a1", 20))
    records = tail.read()
    assert [type(r) for r in records] == [Run, End]
    assert records[0].run_id == "a1" and records[1].end_ns == 20
    assert tail.read() == []


def test_damaged_lines_are_skipped_counted_and_named_by_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(HEADER + b'{"type":"start", broken\n' + START % (b"b2", 5))
    tail = FileTail(path)
    records = tail.read()
    assert [type(r) for r in records] == [Header, Run]
    assert tail.skipped == 1
    assert tail.problems == [f"{path}:2: skipped: " + tail.problems[0].split("skipped: ", 1)[1]]
    with path.open("ab") as f:
        f.write(b"not json\n")
    assert tail.read() == [] and tail.skipped == 2
    assert tail.problems[1].startswith(f"{path}:4: skipped: ")


def test_a_truncated_file_is_read_again_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(HEADER + START % (b"c1", 1) + START % (b"c2", 2))
    tail = FileTail(path)
    assert len(tail.read()) == 3 and not tail.restarted
    path.write_bytes(HEADER)
    assert [type(r) for r in tail.read()] == [Header]
    assert tail.restarted

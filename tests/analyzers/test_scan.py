"""The C scanner of trace lines (`analyzers/core/_scan.c`, `scan.py`): which lines it takes and
which it leaves to msgspec, and, the point of it all, that a table loaded with it is the table
loaded without it (`RACETRACE_PURE_PYTHON=1`), on real traces, hand-made ones and mutated ones.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from racetrace.analyzers.core import lines, scan
from racetrace.analyzers.core.load import trace_files
from racetrace.analyzers.core.table import Interner, Table
from racetrace.analyzers.core.tableload import load_table

# The fuzzer's own: what a load leaves in a table, and loads forced onto msgspec's path.
from scanfuzz import pure, state

pytestmark = pytest.mark.skipif(not scan.available(),
                                reason="the C scanner is not built here, or is turned off")

T0 = 1_780_000_000_000_000_000


def assert_same_load(paths: list[Path], **kwargs: Any) -> Table:
    """Load `paths` with the scanner and without it; assert the same table. The scanner's."""
    files = trace_files(paths)
    scanned = load_table(files, **kwargs)
    with pure():
        assert scan.scanner_for(Table()) is None
        plain = load_table(files, **kwargs)
    assert state(scanned) == state(plain)
    return scanned


def parse(line: bytes) -> Any:
    """What the scanner makes of one line: None where it leaves it to msgspec."""
    table = Table()
    return scan.scanner_for(table).parse(line, 0, len(line))


START = {
    "type": "start", "run_id": "00000000000000a1", "trace_id": "0" * 32,
    "parent_span_id": None, "name": "app.Agent.run", "start_ns": T0,
    "racetrace.instance.key": "h/1.ab/1", "racetrace.instance.class": "app.Agent",
    "racetrace.instance.id": 140000000000320, "process.pid": 1000, "host.name": "h",
    "racetrace.instance.label": "agent-1", "thread.id": 140000000000001,
    "thread.name": "MainThread", "racetrace.task.name": "t", "racetrace.task.id": "h/1.ab/t1",
    "racetrace.task.created_at": "/app/server.py:88", "racetrace.task.created_ns": T0 - 5,
    "code.function.name": "handle", "code.file.path": "/app/x.py", "code.line.number": 22,
    "racetrace.stack": ["/app/x.py:22 in handle", "/app/main.py:12 in <module>"],
}
END = {"type": "end", "run_id": "00000000000000a1", "end_ns": T0 + 10,
       "racetrace.end.status": "ok", "racetrace.end.reason": "returned"}


def line(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record) + b"\n"


# -- what the scanner accepts -----------------------------------------------------------------

def test_the_tracers_start_and_end_lines_are_taken() -> None:
    got = parse(line(START) + line(END))
    assert got is not None
    ids, end_ids, start_ns, end_ns, links, resourced, looping, failed = got
    assert (ids, end_ids) == (["00000000000000a1"], ["00000000000000a1"])
    assert np.frombuffer(start_ns, np.int64).tolist() == [T0]
    assert np.frombuffer(end_ns, np.int64).tolist() == [T0 + 10]
    assert (links, resourced, looping, failed) == ([], [], [], [])


def test_rare_fields_come_back_for_the_loader() -> None:
    start = {**START, "racetrace.parent_run": "00000000000000a0",
             "racetrace.resource.key": "thread-1", "racetrace.loop.running": True,
             "racetrace.fan_out_of": "00000000000000a2"}
    end = {**END, "racetrace.end.status": "error", "error.type": "builtins.ValueError",
           "exception.message": "bad"}
    got = parse(line(start) + line(end))
    assert got[4:] == ([(0, "00000000000000a0", None, "00000000000000a2")], [0], [0],
                       [(0, "builtins.ValueError", "bad")])


def test_keys_in_another_order_are_the_same_record() -> None:
    shuffled = dict(reversed(list(START.items())))
    assert parse(line(shuffled))[:3] == parse(line(START))[:3]


@pytest.mark.parametrize("mutate", [
    pytest.param(lambda b: b.replace(b'"agent-1"', b'"agent\\"1"'), id="escape"),
    pytest.param(lambda b: b.replace(b"agent-1", "agent-é".encode()), id="non-ascii"),
    pytest.param(lambda b: b.replace(b'"process.pid":1000', b'"process.pid":1000.0'), id="float"),
    pytest.param(lambda b: b.replace(b'"process.pid":1000', b'"process.pid":1e3'), id="exponent"),
    pytest.param(lambda b: b.replace(b'"process.pid":1000', b'"process.pid":01000'),
                 id="leading-zero"),
    pytest.param(lambda b: b.replace(b'"thread.id":140000000000001',
                                     b'"thread.id":99999999999999999999'), id="wider-than-64"),
    pytest.param(lambda b: b.replace(b'"start_ns":', b'"start_ns":-'), id="negative-time"),
    pytest.param(lambda b: b.replace(b'"process.pid":', b'"process.pid":-0,"x":'),
                 id="unknown-key"),
    pytest.param(lambda b: b.replace(b'"name":', b'"name":"a","name":'), id="key-twice"),
    pytest.param(lambda b: b.replace(b'":', b'": ', 1), id="whitespace"),
    pytest.param(lambda b: b[:-1] + b"\r\n", id="crlf"),
    pytest.param(lambda b: b[:-20] + b"\n", id="cut-short"),
    pytest.param(lambda b: b[:-1], id="no-newline"),
    pytest.param(lambda b: b + b"\n", id="blank-line"),
    pytest.param(lambda b: b.replace(b'"racetrace.stack":[', b'"racetrace.stack":[tru,'),
                 id="bad-json-in-skipped-detail"),
    pytest.param(lambda b: b.replace(b'"racetrace.stack":[', b'"racetrace.stack":[1.5,'),
                 id="float-in-skipped-detail"),
    pytest.param(lambda b: b.replace(b'"racetrace.stack":["', b'"racetrace.stack":["\t'),
                 id="control-character"),
    pytest.param(lambda b: b.replace(b'"racetrace.stack":[', b'"racetrace.stack":' + b"[" * 40),
                 id="deep-nesting"),
    pytest.param(lambda b: b.replace(b'"run_id":"0', b'"run_id":"A'), id="alien-run-id"),
    pytest.param(lambda b: b.replace(b'"run_id":"00000000000000a1"',
                                     b'"run_id":"0000000000000000"'), id="zero-run-id"),
    pytest.param(lambda b: b.replace(b'"host.name":"h"', b'"host.name":null'), id="null-host"),
    pytest.param(lambda b: b.replace(b'"type":"start"', b'"type":"header"'), id="header"),
    pytest.param(lambda b: b.replace(b'"host.name":"h"',
                                     b'"host.name":"h","racetrace.resource.key":""'),
                 id="empty-resource-key"),
    pytest.param(lambda b: b.replace(b'"host.name":"h"',
                                     b'"host.name":"h","end_ns":5'), id="end-key-on-a-start"),
    pytest.param(lambda b: b.replace(b',"name":"app.Agent.run"', b""), id="no-method"),
])
def test_anything_else_goes_to_msgspec(mutate: Any) -> None:
    good = line(START)
    assert parse(good) is not None
    bad = mutate(good)
    assert bad != good
    assert parse(line(END) + bad) is None  # the whole stretch


@pytest.mark.parametrize("bad", [
    b'{"type":"end","run_id":"00000000000000a1","end_ns":1.0}\n',
    b'{"type":"end","run_id":"00000000000000a1"}\n',
    b'{"type":"end","run_id":"00000000000000a1","end_ns":5,"racetrace.end.status":null}\n',
    b'{"type":"end","run_id":"00000000000000a1","end_ns":5,"name":"x"}\n',
    b'{"type":"end","run_id":"00000000000000a1","end_ns":9223372036854775807}\n',
])
def test_ends_in_another_shape_go_to_msgspec(bad: bytes) -> None:
    assert parse(bad) is None


def test_take_needs_the_buffer_parse_accepted() -> None:
    table = Table()
    scanner = scan.scanner_for(table)
    data = line(START)
    with pytest.raises(ValueError):
        scanner.take(data, 0)  # nothing parsed
    assert scanner.parse(data, 0, len(data)) is not None
    with pytest.raises(ValueError):
        scanner.take(bytearray(data), 0)  # another buffer
    with pytest.raises(ValueError):
        scanner.parse(data, 0, len(data) + 1)
    with pytest.raises(ValueError):
        type(scanner).__new__(type(scanner)).parse(data, 0, len(data))  # no interners


def test_pure_python_is_forced_by_the_environment() -> None:
    with pure():
        assert not scan.available()
    assert scan.available()


# -- the same table either way ----------------------------------------------------------------

@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lines, "CHUNK_BYTES", 700)  # a few lines per stretch


@pytest.mark.parametrize("name", ["shared_gather", "reentrant_callback", "singleton_requests",
                                  "langgraph_shared_thread", "autogen_shared_team"])
def test_real_traces_load_the_same_and_through_the_scanner(sample_trace, name: str) -> None:
    directory = sample_trace(name)
    table = assert_same_load([directory])
    assert len(table) > 0
    # Every line the real tracer wrote, headers aside, is in the scanner's shape.
    for path in directory.rglob("*.jsonl"):
        for record in path.read_bytes().splitlines(keepends=True):
            if not record.startswith(b'{"type":"header"'):
                assert parse(record) is not None, record[:200]


def test_rare_paths_load_the_same(writer, small_chunks) -> None:
    w = writer("a.jsonl", pid=1)
    parent = w.run(0, 50, key="hot/1", task="a")
    w.run(10, 20, key="hot/1", task="a", parent=parent, created_by=parent)
    for n in range(8):
        w.run(5 + n, 30 + n, key="hot/1", task=f"h{n}", status="error" if n % 2 else "ok",
              error=("builtins.ValueError", "bad") if n % 2 else None)
    w.run(1, 40, key="conv/1", task="c1", resource="session-1", stateful=True)
    w.run(2, 41, key="conv/2", task="c2", resource="session-1", stateful=False)
    w.run(60, None, key="hot/1", task="late")
    w.run(70, 300, key="loop/1", thread=3, **{"racetrace.loop.running": True,
                                               "racetrace.outlives_call": True,
                                               "racetrace.fan_out_of": parent})
    repeated = w.run(80, 90, key="rep/1")
    w.raw(w.lines[-2])  # its START again while it is open, then its END again
    w.raw(w.lines[-2])
    orphan = w.run(100, 110, key="x/1")
    w.lines.insert(3, w.lines.pop())  # an END long before its START
    w.raw(orjson.dumps({**END, "run_id": orphan, "end_ns": T0 - 5}))  # before its start
    w.raw(b'{"type":"end","run_id":"0000000000000999","end_ns":5}')  # of no run
    w.write()
    other = writer("b.jsonl", pid=2)
    other.raw(orjson.dumps({**END, "run_id": repeated, "end_ns": T0 + 95 * 1_000_000}))
    other.run(5, 6, key="hot/1", task="z")
    other.write()
    copy = writer("c.jsonl", pid=1)
    copy.lines = list(w.lines)
    copy.write()
    assert_same_load([w.path, other.path, copy.path])


def test_a_big_trace_loads_the_same_in_blocks(writer, small_chunks) -> None:
    w = writer(pid=7)
    for n in range(3000):
        w.run(n, n + (5 if n % 7 else 2000), key=f"k/{n % 50}", task=f"t{n % 13}",
              status="error" if n % 97 == 0 else "ok",
              resource=f"r{n % 3}" if n % 211 == 0 else None)
    w.write()
    partials: list[int] = []
    table = assert_same_load([w.path], block_bytes=50_000,
                             on_partial=lambda p: partials.append(p.rows))
    assert len(table) == 3000 and partials


# -- hypothesis: random records in the tracer's shape, then mutated ---------------------------

_ids = st.integers(1, 40).map(lambda n: f"{n:016x}")
_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12)


@st.composite
def _record(draw: Any) -> dict[str, Any]:
    run_id = draw(_ids)
    if draw(st.booleans()):
        return {"type": "end", "run_id": run_id, "end_ns": T0 + draw(st.integers(0, 10**6)),
                "racetrace.end.status": draw(st.sampled_from(["ok", "ok", "error", "cancelled"])),
                **draw(st.fixed_dictionaries({}, optional={
                    "racetrace.end.reason": st.sampled_from(["returned", "raised", None]),
                    "error.type": _text, "exception.message": _text}))}
    record = {"type": "start", "run_id": run_id, "name": draw(st.sampled_from(["a.run", "b.go"])),
              "start_ns": T0 + draw(st.integers(0, 10**6)),
              "racetrace.instance.key": draw(st.sampled_from(["k/1", "k/2", "k/3"]))}
    record.update(draw(st.fixed_dictionaries({}, optional={
        "process.pid": st.integers(-5, 5), "host.name": st.sampled_from(["h", "g", ""]),
        "thread.id": st.none() | st.integers(-(2**63), 2**63 - 1),
        "racetrace.task.id": st.none() | _text,
        "racetrace.task.created_ns": st.none() | st.integers(0, 10**6),
        "racetrace.thread.started_ns": st.none() | st.integers(0, 10**6),
        "code.file.path": st.none() | _text, "code.line.number": st.none() | st.integers(0, 99),
        "racetrace.parent_run": st.none() | _ids, "racetrace.task.created_by_run": _ids,
        "racetrace.fan_out_of": _ids, "racetrace.resource.key": st.none() | _text,
        "racetrace.stateful": st.none() | st.booleans(),
        "racetrace.outlives_call": st.booleans(), "racetrace.loop.running": st.booleans(),
        "racetrace.stack": st.lists(_text, max_size=3),
        "racetrace.instance.label": st.none() | _text,
    })))
    return record


_MUTATIONS = [b"", b"\\", b"\\u00e9", "é".encode(), b"\xff", b" ", b"1.5", b"99999999999999999999",
              b"0", b"-", b"{", b"[", b'"', b",", b"null", b"\n"]


@st.composite
def _trace(draw: Any) -> bytes:
    records = draw(st.lists(_record(), max_size=60))
    out = [orjson.dumps(r) for r in records]
    for _ in range(draw(st.integers(0, 4))):
        if not out:
            break
        i = draw(st.integers(0, len(out) - 1))
        at = draw(st.integers(0, len(out[i])))
        kind = draw(st.sampled_from(["insert", "cut", "reverse"]))
        if kind == "insert":
            out[i] = out[i][:at] + draw(st.sampled_from(_MUTATIONS)) + out[i][at:]
        elif kind == "cut":
            out[i] = out[i][:at]
        else:
            with contextlib.suppress(orjson.JSONDecodeError, AttributeError):  # broken already
                out[i] = orjson.dumps(dict(reversed(list(orjson.loads(out[i]).items()))))
    header = orjson.dumps({"type": "header", "format": "racetrace.trace/1", "pid": 1,
                           "host": "h", "wall_ns": T0})
    return b"\n".join([header, *out]) + draw(st.sampled_from([b"\n", b""]))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_trace(), second=_trace())
def test_random_and_mutated_traces_load_the_same(tmp_path_factory, data: bytes,
                                                 second: bytes) -> None:
    folder = tmp_path_factory.mktemp("scan")
    (folder / "a.jsonl").write_bytes(data)
    (folder / "b.jsonl").write_bytes(second)
    before = lines.CHUNK_BYTES
    lines.CHUNK_BYTES = 300  # stretches of a few lines: some taken, some not
    try:
        try:
            assert_same_load([folder])
        except Exception as exc:  # not a trace at all: the same error either way
            with pure(), pytest.raises(type(exc)):
                load_table(trace_files([folder]))
    finally:
        lines.CHUNK_BYTES = before


# -- no leaks ---------------------------------------------------------------------------------

def test_loading_again_and_again_holds_no_more(writer) -> None:
    w = writer(pid=3)
    for n in range(2000):
        w.run(n, n + 3, key=f"k/{n % 40}", task=f"t{n}", status="error" if n % 50 == 0 else "ok",
              error=("E", "m") if n % 50 == 0 else None, parent="00000000000000ff")
    w.write()
    files = trace_files([w.path])

    def held() -> tuple[int, int, int]:
        gc.collect()
        return len(gc.get_objects()), sys.getrefcount(None), sys.getrefcount(True)

    load_table(files)
    first = held()
    for _ in range(5):
        load_table(files)
    after = held()
    assert after[0] <= first[0] + 50
    assert abs(after[1] - first[1]) <= 50 and abs(after[2] - first[2]) <= 50


# -- the scanner's state when Python code fails or calls it inside its own calls --------------

class _Failing(Interner):
    """An interner whose `__missing__` raises for one string (as on running out of memory),
    or calls `then` first (Python code run inside the scanner's own call)."""

    def __init__(self, bad: str, then: Any = None) -> None:
        super().__init__()
        self.bad = bad
        self.then = then

    def __missing__(self, key: str) -> int:
        if key == self.bad:
            if self.then is not None:
                self.then()
            raise MemoryError(key)
        return super().__missing__(key)


def _scanner(**interners: Interner) -> Any:
    names = ("instances", "resources", "methods", "hosts", "files", "statuses", "reasons")
    return scan._Scanner(*(interners.get(name) or Interner() for name in names))


def _starts(*hosts: str) -> bytes:
    return b"".join(line({**START, "run_id": f"{n + 1:016x}", "host.name": host})
                    for n, host in enumerate(hosts))


def test_a_take_that_fails_midway_stages_nothing() -> None:
    """A START is staged column by column: its host's interning failing after its time was
    staged left the columns with more times than STARTs, and the next flush's rows misaligned."""
    scanner = _scanner(hosts=_Failing("bad"))
    good = _starts("h", "g")
    assert scanner.parse(good, 0, len(good)) is not None
    scanner.take(good, 0)
    bad = _starts("h2", "bad")
    assert scanner.parse(bad, 0, len(bad)) is not None
    with pytest.raises(MemoryError):
        scanner.take(bad, 1)
    assert scanner.pending == 2
    staged = scanner.flush()
    assert staged["count"] == 2
    assert np.frombuffer(staged["start"], np.int64).tolist() == [T0, T0]
    assert np.frombuffer(staged["stretch"], np.int32).tolist() == [0, 0]
    assert np.frombuffer(staged["host"], np.int32).tolist() == [0, 1]
    assert len(staged["task"]) == 2 * staged["task_width"]
    assert scanner.parse(good, 0, len(good)) is not None  # and it goes on
    scanner.take(good, 2)
    assert scanner.flush()["count"] == 2


def test_a_scanner_called_inside_its_own_call_refuses() -> None:
    """An interner's `__missing__` is Python code: a call of the same scanner from there would
    move the records `take` is walking (`parse` reallocates them)."""
    inner: list[BaseException] = []
    data = _starts("h", "bad", "g")

    def again() -> None:
        for call in (lambda: scanner.parse(data + data, 0, 2 * len(data)),
                     lambda: scanner.take(data, 0), scanner.flush):
            try:
                call()
            except RuntimeError as exc:
                inner.append(exc)

    scanner = _scanner(hosts=_Failing("bad", again))
    assert scanner.parse(data, 0, len(data)) is not None
    with pytest.raises(MemoryError):
        scanner.take(data, 0)
    assert len(inner) == 3 and "in use" in str(inner[0])
    assert scanner.pending == 0 and scanner.flush()["count"] == 0


def test_a_scanner_initialized_again_numbers_strings_by_its_new_interners() -> None:
    first = Table()
    scanner = scan.scanner_for(first)
    data = _starts("h", "g")
    scanner.parse(data, 0, len(data))
    scanner.take(data, 0)
    second = Table()
    second.hosts["x"], second.hosts["g"]  # numbered first: "g" is 1 here
    scanner.__init__(second.instances, second.resources, second.methods, second.hosts,
                     second.files_, second.statuses, second.reasons)
    assert scanner.pending == 0  # what was staged was numbered by the old interners
    assert scanner.parse(data, 0, len(data)) is not None
    scanner.take(data, 0)
    assert np.frombuffer(scanner.flush()["host"], np.int32).tolist() == [2, 1]
    assert second.hosts.strings == ["x", "g", "h"]


def test_an_empty_string_met_again_is_the_same_number(writer) -> None:
    """An empty string is cached as no bytes, where the cache may hold none at all yet: its
    second lookup compared against a NULL pointer (undefined behaviour: UBSan stopped the
    scanner's differential fuzzer built with -fsanitize=undefined here)."""
    w = writer(pid=5, host="", header=False)  # a header would send its stretch to msgspec
    for n in range(4):
        w.run(n, n + 1, key="", method="", task="", site=None, **{"code.file.path": ""})
    w.write()
    assert parse(b"".join(line + b"\n" for line in w.lines)) is not None
    table = assert_same_load([w.path])
    assert table.hosts.strings == [""] and table.instances.strings == [""]
    assert table.cols["host"].values.tolist() == [0] * 4
    assert table.cols["file"].values.tolist() == [0] * 4


# -- the differential fuzzer (`scanfuzz.py`), a bounded run -----------------------------------

def test_the_differential_fuzzer_finds_no_difference(sample_trace, writer) -> None:
    """Real traces (and a hand-made one with the rare fields), mutated byte-, field- and
    line-wise and split at random stretch and block sizes, load the same with the scanner and
    without it. For a longer run: `python -X dev tests/analyzers/scanfuzz.py --seconds 300
    TRACES...` (also with the scanner built with -fsanitize=address,undefined)."""
    import scanfuzz

    w = writer(pid=9)
    parent = w.run(0, 50, key="hot/1", task="a")
    for n in range(30):
        w.run(1 + n, 40 + n, key=f"hot/{n % 3}", task=f"t{n}", parent=parent if n % 2 else None,
              created_by=parent if n % 5 == 0 else None, status="error" if n % 4 == 0 else "ok",
              error=("builtins.ValueError", "bad") if n % 4 == 0 else None,
              resource="session-1" if n % 6 == 0 else None, stateful=[None, True, False][n % 3],
              **{"racetrace.loop.running": n % 7 == 0, "racetrace.outlives_call": n % 9 == 0,
                 "racetrace.thread.started_ns": T0 - n, "racetrace.task.created_ns": T0 + n})
    w.run(90, None, key="open/1")
    w.write()
    paths = [w.path] + [p for name in ("shared_gather", "singleton_requests", "autogen_shared_team")
                        for p in sorted(sample_trace(name).rglob("*.jsonl"))]
    findings = scanfuzz.fuzz(scanfuzz.read_corpus(paths), cases=300, seed=13,
                             folder=w.path.parent / "fuzz")
    assert findings == []

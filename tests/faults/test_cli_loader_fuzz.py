"""The loader against arbitrary input: bytes, and JSON lines shaped like trace records with any
field damaged. Nothing escapes but `LoadError`, and every line is loaded or counted."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import msgspec
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from racetrace.analyzers.core.load import LoadError, load
from racetrace.analyzers.core.model import Header

T0 = 1_780_000_000_000_000_000
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_header_decoder = msgspec.json.Decoder(Header)

# Any JSON value, nesting included (deep enough to matter, small enough to stay quick).
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12,
)
run_ids = st.sampled_from(["a", "b", "c", "d"])


@st.composite
def records(draw: st.DrawFn) -> Any:
    """A START, END or header, often sound, with some fields replaced by any JSON value; or
    any JSON value at all."""
    kind = draw(st.sampled_from(["start", "end", "header", "other"]))
    if kind == "other":
        return draw(json_values)
    if kind == "start":
        record: dict[str, Any] = {
            "type": "start", "run_id": draw(run_ids), "name": "app.A.run",
            "start_ns": T0 + draw(st.integers(0, 100)), "racetrace.instance.key": "k/1",
            "racetrace.instance.class": "app.A", "racetrace.instance.label": "a",
            "racetrace.stack": ["f.py:1 in g"], "process.pid": 1, "host.name": "h",
        }
    elif kind == "end":
        record = {"type": "end", "run_id": draw(run_ids),
                  "end_ns": T0 + draw(st.integers(0, 100)), "racetrace.end.status": "ok"}
    else:
        record = {"type": "header", "format": "racetrace.trace/1", "pid": 1, "host": "h",
                  "argv": ["x"], "wall_ns": T0}
    for key in draw(st.lists(st.sampled_from(sorted(record)), max_size=3)):
        record[key] = draw(json_values)
    return record


def _load(data: bytes) -> tuple[Any, int]:
    """Load `data` as a trace file (every run's details decoded: they are checked too)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.jsonl"
        path.write_bytes(data)
        try:
            return load([path], details="eager"), 0
        except LoadError:
            return None, 1


def _is_header(line: bytes) -> bool:
    try:
        _header_decoder.decode(line)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return False
    return True


@FUZZ
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_load_or_fail_with_load_error(data: bytes) -> None:
    trace, failed = _load(data)
    if trace is None:
        assert failed
        return
    assert trace.skipped_lines >= 0
    for run in trace.runs:
        assert run.end_ns is None or run.end_ns >= run.start_ns
        run.to_json()  # every field loaded is one a JSON writer takes


@FUZZ
@given(st.lists(records(), max_size=12))
def test_every_json_line_is_loaded_or_counted(lines: list[Any]) -> None:
    encoded = [_big_ints(line) for line in lines]
    trace, failed = _load(b"\n".join(encoded) + b"\n")
    if trace is None:  # not one line of it a trace record
        assert failed
        return
    headers = sum(map(_is_header, encoded))
    ended = sum(run.end_ns is not None for run in trace.runs)
    # A START line is a run; an END line ends one; a header describes the file; anything
    # else is counted (a run kept with damaged details is counted as well).
    assert len(encoded) <= headers + len(trace.runs) + ended + trace.skipped_lines
    orjson.dumps([run.to_json() for run in trace.runs])


def _big_ints(value: Any) -> bytes:
    """`value` as JSON, integers wider than 64 bits included (orjson refuses to write them)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        import json

        return json.dumps(value, separators=(",", ":")).encode()

"""Inputs beyond our own (OTLP JSON lines from a Collector, with --key-attr for foreign spans)
and exports for other tools (OTLP JSON lines, Chrome trace events for Perfetto)."""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
from racetrace.analyzers.core.load import load

MS = 1_000_000
T0 = 1_780_000_000_000_000_000


def attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": value}}


def span(span_id: str, name: str, start_ms: int, end_ms: int | None, *, parent: str = "",
         attrs: list[dict[str, Any]] | None = None, error: bool = False) -> dict[str, Any]:
    out = {
        "traceId": "5b8efff798038103d269b633813fc60c", "spanId": span_id,
        "parentSpanId": parent, "name": name, "kind": 1,
        "startTimeUnixNano": str(T0 + start_ms * MS),
        "endTimeUnixNano": str(T0 + end_ms * MS) if end_ms is not None else "0",
        "attributes": attrs or [], "status": {"code": 2, "message": "boom"} if error else {},
    }
    if error:
        out["events"] = [{"name": "exception", "attributes": [
            attr("exception.type", "openai.RateLimitError"),
            attr("exception.message", "slow down")]}]
    return out


def resource_line(service: str, pid: int, spans: list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"resourceSpans": [{
        "resource": {"attributes": [attr("service.name", service), attr("process.pid", pid),
                                    attr("host.name", f"{service}-host")]},
        "scopeSpans": [{"scope": {"name": "openinference"}, "spans": spans}],
    }]}) + b"\n"


def agent(agent_id: str) -> list[dict[str, Any]]:
    return [attr("gen_ai.operation.name", "invoke_agent"), attr("gen_ai.agent.id", agent_id),
            attr("gen_ai.agent.name", "planner")]


def foreign_file(tmp_path: Path) -> Path:
    """Agent 'agent-7' driven from two services at once, and re-entered by a tool callback
    through an intermediate (non-agent) tool span."""
    path = tmp_path / "collector" / "spans.json"
    path.parent.mkdir()
    path.write_bytes(
        resource_line("web", 10, [
            span("00000000000000a1", "invoke_agent planner", 0, 100, attrs=agent("agent-7")),
            span("00000000000000b1", "execute_tool search", 20, 60, parent="00000000000000a1"),
            span("00000000000000a2", "invoke_agent planner", 30, 50,
                 parent="00000000000000b1", attrs=agent("agent-7")),
        ])
        + resource_line("worker", 20, [
            span("00000000000000c1", "invoke_agent planner", 80, 150, attrs=agent("agent-7"),
                 error=True),
        ])
    )
    return path


def test_foreign_spans_need_key_attr_and_say_so(tmp_path: Path, cli) -> None:
    path = foreign_file(tmp_path)
    done = cli("report", str(path), "--json", "-")
    assert done.returncode == 0
    data = json.loads(done.stdout)
    assert data["summary"]["runs"] == 0
    assert any("4 spans without racetrace.instance.key" in p for p in data["problems"])


def test_key_attr_finds_reentrance_through_intermediate_spans_and_cross_process(
        tmp_path: Path, cli) -> None:
    path = foreign_file(tmp_path)
    done = cli("report", str(path), "--key-attr", "gen_ai.agent.id", "--json", "-")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["summary"]["runs"] == 3
    kinds = sorted(f["kind"] for f in data["findings"])
    assert kinds == ["cross-process", "errors", "reentrant"]
    reentrant = next(f for f in data["findings"] if f["kind"] == "reentrant")
    assert reentrant["instance"]["key"] == "agent-7"
    assert reentrant["runs"][1]["parent_run_id"] == "00000000000000a1"
    failed = next(r for f in data["findings"] for r in f["runs"]
                  if r["run_id"] == "00000000000000c1")
    assert failed["status"] == "error"
    assert failed["error"] == {"type": "openai.RateLimitError", "message": "slow down"}
    assert {p["key"] for p in data["processes"]} == {"web-host/10", "worker-host/20"}


def test_otlp_reader_accepts_numbers_base64_ids_and_open_spans(tmp_path: Path) -> None:
    raw_id = bytes.fromhex("00000000000000d1")
    line = orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{
        "spanId": base64.b64encode(raw_id).decode(), "name": "Agent.run",
        "startTimeUnixNano": T0, "endTimeUnixNano": 0,
        "attributes": [{"key": "racetrace.instance.key", "value": {"stringValue": "k/1"}},
                       {"key": "process.pid", "value": {"intValue": 77}}],
    }]}]}]})
    path = tmp_path / "x.jsonl"
    path.write_bytes(line + b"\n")
    (run,) = load([path]).runs
    assert run.run_id == "00000000000000d1" and run.pid == 77
    assert run.end_ns is None and run.status == "unfinished"


def test_otlp_export_round_trips_through_the_loader(writer, cli, tmp_path: Path) -> None:
    w = writer()
    a = w.run(0, 100, task="a")
    w.run(10, 50, task="b", parent=a, status="error", error=("builtins.ValueError", "bad"))
    w.run(20, None, task="c", resource="session-1", stateful=True)
    original = load([w.write()])
    out = tmp_path / "spans.jsonl"
    done = cli("export", str(w.path), "--format", "otlp", "-o", str(out))
    assert done.returncode == 0, done.stderr
    for line in out.read_bytes().splitlines():
        batch = json.loads(line)
        (rs,) = batch["resourceSpans"]
        assert {a["key"] for a in rs["resource"]["attributes"]} >= {"service.name", "process.pid"}
        for s in rs["scopeSpans"][0]["spans"]:
            assert len(s["traceId"]) == 32 and len(s["spanId"]) == 16
            assert isinstance(s["startTimeUnixNano"], str)
    back = load([out])
    assert [r.to_json() | {"source": "", "service": None} for r in back.runs] == [
        r.to_json() | {"source": "", "service": None} for r in original.runs
    ]


def test_chrome_export_has_async_begin_end_per_instance(writer, cli, tmp_path: Path) -> None:
    w = writer()
    for n in range(4):  # four runs on one agent, three at once at the peak
        w.run(n * 10, n * 10 + 25, task=f"t{n}")
    w.run(0, 5, task="x", key="solo/1", label="solo")
    out = tmp_path / "trace.json"
    done = cli("export", str(w.write()), "--format", "chrome", "-o", str(out))
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    events = data["traceEvents"]
    assert data["displayTimeUnit"] == "ms"
    assert not any(e["ph"] == "X" for e in events)
    runs = [e for e in events if e["ph"] in "be"]
    assert len(runs) == 2 * 5
    by_track: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in runs:
        assert e["cat"] == "racetrace.run" and isinstance(e["pid"], int)
        by_track[e["id"]].append(e)
    names = defaultdict(set)
    for track, evs in by_track.items():
        phases = [e["ph"] for e in evs]
        assert phases == ["b", "e"] * (len(evs) // 2), track  # never nested, never overlapping
        assert [e["ts"] for e in evs] == sorted(e["ts"] for e in evs)
        names[evs[0]["name"]].add(track)
    agent_tracks = next(t for n, t in names.items() if "'agent'" in n)
    assert len(agent_tracks) == 3  # peak concurrency: overlapping runs side by side
    assert any(e["ph"] == "i" and e["name"].startswith("F1 warning: ")
               for e in events)
    assert any(e["ph"] == "M" and e["name"] == "process_name" for e in events)


def test_integers_outside_64_bits_are_unset_and_counted(tmp_path: Path, cli) -> None:
    huge = "9" * 30
    key = [attr("racetrace.instance.key", "k/1")]
    line = orjson.dumps({"resourceSpans": [{
        "resource": {"attributes": [{"key": "process.pid", "value": {"intValue": huge}}]},
        "scopeSpans": [{"spans": [
            {**span("00000000000000e1", "Agent.run", 0, 10, attrs=key),
             "endTimeUnixNano": huge},
            span("00000000000000e2", "Agent.run", 5, 20, attrs=[
                *key, {"key": "code.line.number", "value": {"intValue": "-" + huge}}]),
        ]}],
    }]})
    path = tmp_path / "big.jsonl"
    path.write_bytes(line + b"\n")
    done = cli("report", str(path), "--json", "-")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["summary"]["runs"] == 2 and data["summary"]["unfinished_runs"] == 1
    # The resource pid once per span, an end and a line.
    assert any("4 integer values outside the 64-bit range" in p for p in data["problems"])


def test_loop_marks_and_creation_sites_survive_an_otlp_round_trip(writer, cli,
                                                                  tmp_path: Path) -> None:
    w = writer()
    w.run(0, None, key="h/1/1", cls="app.Bot", label="bot", **{
        "racetrace.loop.running": True,
        "racetrace.instance.created_at": "/app/app.py:12",
        "racetrace.instance.created_in": "<module>",
        "racetrace.instance.created_scope": "module"})
    w.run(0, None, key="h/1/2", cls="app.Runner", label="runner", thread=2, **{
        "racetrace.loop.running": True, "racetrace.loop.own": True})
    w.run(10, 300, key="h/1/3", cls="app.Other", label="other", task="t")
    w.write()
    out = tmp_path / "spans.jsonl"
    done = cli("export", str(w.path), "--format", "otlp", "-o", str(out))
    assert done.returncode == 0, done.stderr

    def summary(path: Path) -> tuple[Any, ...]:
        done = cli("report", str(path), "--json", "-")
        assert done.returncode == 0, done.stderr
        data = json.loads(done.stdout)
        kinds = sorted((f["kind"], f["instance"]["label"]) for f in data["findings"]
                       if f["kind"] in ("loop-blocking", "nested-loop"))
        sites = {i["label"]: i["created_at"] for i in data["instances"]}
        return kinds, sites["bot"]

    kinds, site = summary(out)
    assert kinds == [("loop-blocking", "bot"), ("nested-loop", "runner")]
    assert (site["file"], site["line"], site["role"]) == ("/app/app.py", 12, "singleton")
    assert summary(out) == summary(w.path)

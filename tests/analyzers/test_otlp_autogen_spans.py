"""Other tools' spans: AutoGen's own OpenTelemetry GenAI spans, and LangGraph's through
LangSmith's OpenTelemetry mode, with no racetrace tracing.

A real AutoGen program (offline replay model client, a slow tool so that runs overlap) runs
under a real SDK TracerProvider whose exporter writes OTLP JSON lines as the Collector's file
exporter does (programs/autogen_otel_spans.py). The spans carry no task or thread: only the
parent chain may say that one run started inside another. `create_agent` is not a run on the
agent; `invoke_agent` is.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("autogen_agentchat")
pytest.importorskip("autogen_ext.models.replay")
pytest.importorskip("opentelemetry.exporter.otlp.proto.common.trace_encoder")

PROGRAMS = Path(__file__).parent / "programs"
PROGRAM = PROGRAMS / "autogen_otel_spans.py"
BY_NAME = ("--key-attr", "gen_ai.agent.name")


def record_spans(out: Path, mode: str, *, pid: bool) -> int:
    """Run the AutoGen program; the OTLP JSON lines land in `out`; returns its pid."""
    done = subprocess.run(
        [sys.executable, str(PROGRAM), str(out), mode, *(["--pid"] if pid else [])],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text().strip(), "no spans exported"
    return int(done.stdout.split()[-1])


@pytest.fixture(scope="module")
def spans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, int]]:
    """Each scenario's span file, recorded once: gather with and without process.pid, and
    a tool re-entering its own agent."""
    out = tmp_path_factory.mktemp("autogen-otlp")
    recorded = {}
    for name, mode, pid in (("gather", "gather", True), ("gather-no-pid", "gather", False),
                            ("reentrant", "reentrant", True)):
        path = out / f"{name}.json"
        recorded[name] = (path, record_spans(path, mode, pid=pid))
    return recorded


def report_json(cli, path: Path, *args: str) -> dict:
    done = cli("report", str(path), *args, "--json", "-")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_gathered_runs_of_one_agent_are_concurrent_not_reentrant(spans, cli) -> None:
    path, pid = spans["gather"]
    data = report_json(cli, path, *BY_NAME)
    (finding,) = data["findings"]
    assert finding["kind"] == "concurrent"
    assert finding["instance"]["key"] == "helper"
    assert finding["instance"]["label"] == "helper"
    assert {r["method"] for r in finding["runs"]} == {"invoke_agent helper"}
    # The spans carry no task or thread: the explanation claims no more than they show.
    assert "Independent tasks" not in finding["explanation"]
    assert "no parent span links them" in finding["explanation"]
    # Both agents' invoke_agent spans are runs; the create_agent spans are not.
    assert data["summary"]["runs"] == 3
    assert any("2 create_agent" in p and "not runs on the agent" in p for p in data["problems"])
    # The process is the resource's process.pid.
    assert [p["pid"] for p in data["processes"]] == [pid]
    assert {r["pid"] for r in finding["runs"]} == {pid}


def test_without_process_pid_the_service_names_the_process(spans, cli) -> None:
    path, _ = spans["gather-no-pid"]
    data = report_json(cli, path, *BY_NAME)
    assert [f["kind"] for f in data["findings"]] == ["concurrent"]
    assert [(p["pid"], p["service"]) for p in data["processes"]] == [(0, "weather-agents")]
    done = cli("report", str(path), *BY_NAME)
    assert done.returncode == 0, done.stderr
    assert "in pid unknown, service weather-agents" in done.stdout
    assert "pid 0" not in done.stdout


def test_a_tool_calling_back_into_its_agent_is_reentrant_through_the_parent_chain(
        spans, cli) -> None:
    path, _ = spans["reentrant"]
    data = report_json(cli, path, *BY_NAME)
    (finding,) = data["findings"]
    assert finding["kind"] == "reentrant"
    outer, inner = finding["runs"]
    # AutoGen's execute_tool span sits between the two invoke_agent spans.
    assert inner["parent_run_id"] == outer["run_id"]


def test_gen_ai_agent_id_is_not_on_a_solo_agents_runs(spans, cli) -> None:
    """What the docs say: AutoGen sets gen_ai.agent.id only on a team's agent runs."""
    path, _ = spans["gather"]
    data = report_json(cli, path, "--key-attr", "gen_ai.agent.id")
    assert data["summary"]["runs"] == 0
    assert any("--key-attr 'gen_ai.agent.id' is not on them" in p for p in data["problems"])
    # The text report says so, and names what AutoGen's invoke_agent spans do carry.
    done = cli("report", str(path), "--key-attr", "gen_ai.agent.id")
    assert done.returncode == 0, done.stderr
    assert "no runs in" in done.stdout
    assert "their invoke_agent spans carry" in done.stdout
    assert "gen_ai.agent.name" in done.stdout


def test_runs_lists_autogen_runs_with_key_attr(spans, cli) -> None:
    path, pid = spans["gather"]
    done = cli("runs", str(path), *BY_NAME, "--json")
    assert done.returncode == 0, done.stderr
    runs = json.loads(done.stdout)
    assert sorted(r["instance_key"] for r in runs) == ["helper", "helper", "other"]
    assert {r["method"] for r in runs} == {"invoke_agent helper", "invoke_agent other"}
    assert {r["pid"] for r in runs} == {pid}
    table = cli("runs", str(path), *BY_NAME)
    assert table.returncode == 0, table.stderr
    assert "3 runs" in table.stdout and "invoke_agent helper" in table.stdout
    without = cli("runs", str(path))
    assert without.returncode == 0, without.stderr
    assert "no runs in" in without.stdout and "--key-attr" in without.stdout


def test_tui_with_key_attr_shows_the_runs_and_the_finding(spans, cli) -> None:
    from racetrace.tui.app import RacetraceApp

    path, _ = spans["gather"]

    async def check() -> None:
        app = RacetraceApp([str(path)], source="autogen", key_attr="gen_ai.agent.name")
        async with app.run_test(size=(140, 40)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.pause()
            assert app.failure is None
            assert app.trace is not None and len(app.trace.runs) == 3
            lanes = {lane.key: lane for lane in app.timeline.lane_layout.lanes}
            assert set(lanes) == {"helper", "other"}
            assert len(lanes["helper"].runs) == 2
            assert [f.kind for f in app.report.findings] == ["concurrent"]
            await pilot.press("n")
            lane, index = app.timeline.selected()
            assert lane is lanes["helper"]
            assert lane.runs[index].run_id in app.report.findings[0].run_ids

    asyncio.run(check())


def test_tui_command_takes_key_attr(spans, cli) -> None:
    path, _ = spans["gather"]
    done = cli("tui", str(path), *BY_NAME)  # no terminal here: the flag is read, then refused
    assert done.returncode == 2
    assert "tui needs a terminal" in done.stderr


def test_langgraph_through_langsmith_otel_one_run_per_invoke_on_the_thread(
        tmp_path: Path, cli) -> None:
    """LangSmith's spans carry the thread id on the graph's span and on each node's: the node
    spans are steps of the graph's run, and two invokes on one thread are concurrent."""
    pytest.importorskip("langgraph")
    pytest.importorskip("langsmith._internal.otel._otel_exporter")
    out = tmp_path / "graph.json"
    done = subprocess.run(
        [sys.executable, str(PROGRAMS / "langgraph_langsmith_otel_spans.py"), str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    pid = int(done.stdout.split()[-1])
    data = report_json(cli, out, "--key-attr", "langsmith.metadata.thread_id")
    assert data["summary"]["runs"] == 3  # three invokes; their three node spans are steps
    (finding,) = data["findings"]
    assert finding["kind"] == "concurrent"
    assert finding["instance"]["key"] == "conv-1"
    assert {r["method"] for r in finding["runs"]} == {"LangGraph"}
    assert [p["pid"] for p in data["processes"]] == [pid]
    assert any("3 spans inside a run on the same key taken as steps" in p
               for p in data["problems"])


def test_tui_follow_reads_autogen_spans_with_key_attr(spans) -> None:
    from racetrace.tui.follow import Follower

    path, _ = spans["gather"]
    follower = Follower([path], key_attr="gen_ai.agent.name")
    assert follower.poll()
    runs = follower.snapshot().runs
    assert sorted(r.instance_key for r in runs) == ["helper", "helper", "other"]


def test_another_tools_thread_id_is_no_evidence_of_nesting(tmp_path: Path, cli) -> None:
    """Two agent runs of one asyncio thread, from an instrumentation that records thread.id:
    one thread runs many tasks, so without a parent link they are concurrent."""
    def span(span_id: str, start: int, end: int) -> dict:
        return {"traceId": span_id * 2, "spanId": span_id, "name": "invoke_agent helper",
                "startTimeUnixNano": str(start), "endTimeUnixNano": str(end),
                "attributes": [
                    {"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}},
                    {"key": "gen_ai.agent.name", "value": {"stringValue": "helper"}},
                    {"key": "thread.id", "value": {"intValue": "140001"}},
                    {"key": "thread.name", "value": {"stringValue": "MainThread"}}]}
    t0 = 1_780_000_000_000_000_000
    path = tmp_path / "spans.json"
    path.write_text(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [
        span("00000000000000a1", t0, t0 + 100_000_000),
        span("00000000000000a2", t0 + 10_000_000, t0 + 50_000_000)]}]}]}) + "\n")
    data = report_json(cli, path, *BY_NAME)
    assert [f["kind"] for f in data["findings"]] == ["concurrent"]
    assert {r["thread"]["name"] for r in data["findings"][0]["runs"]} == {"MainThread"}

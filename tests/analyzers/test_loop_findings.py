"""nested-loop and loop-blocking: synchronous calls on a thread whose event loop is running, in
real programs traced under RACETRACE=1 in a subprocess, reported by the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from racetrace.analyzers.findings.timefmt import parse_duration

PROGRAMS = Path(__file__).parent / "programs"
PROGRAM = PROGRAMS / "loop_program.py"
SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "analyzers/findings/report.schema.json").read_text()
)
TARGETS = ",".join(f"loopsvc:Service.{m}" for m in ("fetch", "slow", "outer", "wait_for_loop",
                                                          "later"))
MS = 1_000_000


def traced_env(directory: Path) -> dict[str, str]:
    env = {**os.environ, "RACETRACE": "1", "RACETRACE_TARGETS": TARGETS,
           "RACETRACE_DIR": str(directory), "OPENAI_API_KEY": "sk-offline-test"}
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    return env


def record(mode: str, directory: Path, *args: str) -> Path:
    """Run the program in `mode` under RACETRACE=1; the trace directory."""
    done = subprocess.run([sys.executable, str(PROGRAM), mode, *args], cwd=PROGRAMS,
                          env=traced_env(directory), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert list(directory.rglob("*.jsonl")), done.stderr
    return directory


def call_line(mode: str) -> int:
    """The line of `loop_program.py` marked `# call: MODE`."""
    for number, line in enumerate(PROGRAM.read_text().splitlines(), 1):
        if line.rstrip().endswith(f"# call: {mode}"):
            return number
    raise AssertionError(mode)


def report(cli: Any, directory: Path, *args: str) -> tuple[dict[str, Any], str]:
    """The JSON report (validated against the schema) and the text report."""
    done = cli("report", str(directory), "--json", "-", *args)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(data)
    text = cli("report", str(directory), *args)
    assert text.returncode == 0, text.stderr
    return data, text.stdout


def of_kind(data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [f for f in data["findings"] if f["kind"] == kind]


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> Any:
    cache: dict[str, Path] = {}

    def get(mode: str) -> Path:
        if mode not in cache:
            cache[mode] = record(mode, tmp_path_factory.mktemp(mode) / "traces")
        return cache[mode]

    return get


def test_asyncio_run_inside_a_traced_call_on_a_running_loop_is_a_nested_loop(traces,
                                                                             cli) -> None:
    data, text = report(cli, traces("nested"))
    (finding,) = of_kind(data, "nested-loop")
    assert finding["severity"] == "error"
    (run,) = finding["runs"]
    assert run["method"] == "loopsvc.Service.fetch" and run["loop_running"] is True
    assert run["callsite"].endswith(f"loop_program.py:{call_line('nested')}")
    assert run["task"]["name"] == "Task-1"
    assert run["error"]["message"] == "asyncio.run() cannot be called from a running event loop"
    assert finding["details"]["known_errors"] == ["asyncio.run-in-running-loop"]
    assert finding["details"]["failed"] == 1 and finding["details"]["never_ended"] == 0
    assert "await" in finding["fix"]
    assert f"loop_program.py:{call_line('nested')}" in finding["explanation"]
    assert "nested event loop on Service 'nested'" in text
    assert "1 failed at once" in text
    assert not of_kind(data, "loop-blocking")  # counted once, as what it is


def test_runner_run_sync_inside_a_running_loop_is_a_nested_loop(traces, cli) -> None:
    pytest.importorskip("agents")
    data, _ = report(cli, traces("run_sync"))
    (finding,) = of_kind(data, "nested-loop")
    (run,) = finding["runs"]
    assert run["method"] == "agents.run.Runner.run_sync"
    assert run["instance_label"] == "helper"
    assert run["callsite"].endswith(f"loop_program.py:{call_line('run_sync')}")
    assert "cannot be called when an event loop is already running" in run["error"]["message"]
    assert finding["details"]["known_errors"] == ["openai-agents.run-sync-in-event-loop"]
    # The preset marks Runner.run_sync as an entry point that runs its own loop.
    assert "is an entry point that runs an event loop of its own" in finding["explanation"]
    assert "await Runner.run(...)" in finding["fix"]


def test_a_sync_sleep_on_a_running_loop_blocks_it_for_its_length(traces, cli) -> None:
    data, text = report(cli, traces("blocking"))
    (finding,) = of_kind(data, "loop-blocking")
    assert finding["severity"] == "warning"
    (run,) = finding["runs"]
    assert run["method"] == "loopsvc.Service.slow" and run["loop_running"] is True
    assert run["callsite"].endswith(f"loop_program.py:{call_line('blocking')}")
    details = finding["details"]
    assert details["blocked_ns"] == run["duration_ns"] >= 300 * MS
    assert details["longest_ns"] == details["blocked_ns"]
    assert details["threshold_ns"] == 100 * MS
    assert details["blocked_by_run"] == {run["run_id"]: run["duration_ns"]}
    assert "asyncio.to_thread" in finding["fix"]
    assert "event loop blocked by Service 'blocking'" in text
    assert "held a running event loop for" in text
    assert not of_kind(data, "nested-loop")


def test_blocking_below_the_threshold_is_not_reported(traces, cli) -> None:
    directory = traces("blocking")
    data, _ = report(cli, directory)
    (finding,) = of_kind(data, "loop-blocking")
    blocked = finding["details"]["blocked_ns"]
    # At the run's own length it is reported, one nanosecond above it is not.
    at, _ = report(cli, directory, "--blocking-threshold", f"{blocked}ns")
    assert len(of_kind(at, "loop-blocking")) == 1
    above, text = report(cli, directory, "--blocking-threshold", f"{blocked + 1}ns")
    assert not of_kind(above, "loop-blocking")
    assert "loop-blocking" not in text
    if blocked < 500 * MS:
        half_second, _ = report(cli, directory, "--blocking-threshold", "500ms")
        assert not of_kind(half_second, "loop-blocking")


def test_the_same_call_through_asyncio_to_thread_is_not_a_finding(traces, cli) -> None:
    data, _ = report(cli, traces("offloaded"))
    assert not of_kind(data, "loop-blocking") and not of_kind(data, "nested-loop")
    runs = json.loads(cli("runs", str(traces("offloaded")), "--json").stdout)
    (run,) = [r for r in runs if r["method"] == "loopsvc.Service.slow"]
    assert run["loop_running"] is False and run["duration_ns"] >= 300 * MS


def test_a_plain_method_returning_a_coroutine_holds_the_loop_only_while_it_returns(
        traces, cli) -> None:
    data, _ = report(cli, traces("awaitable"))
    assert not of_kind(data, "loop-blocking") and not of_kind(data, "nested-loop")
    runs = json.loads(cli("runs", str(traces("awaitable")), "--json").stdout)
    (run,) = [r for r in runs if r["method"] == "loopsvc.Service.later"]
    # Marked when it started (a plain call on the loop's thread), then ended as `awaited`.
    assert run["loop_running"] is True and run["end_reason"] == "awaited"
    assert run["status"] == "ok" and run["duration_ns"] >= 300 * MS


def test_a_sync_run_inside_another_on_the_same_thread_blocks_the_loop_once(traces,
                                                                           cli) -> None:
    data, _ = report(cli, traces("nested_sync"))
    (finding,) = of_kind(data, "loop-blocking")
    (run,) = finding["runs"]
    assert run["method"] == "loopsvc.Service.outer" and run["instance_label"] == "outer"
    assert run["callsite"].endswith(f"loop_program.py:{call_line('nested_sync')}")
    assert data["summary"]["findings_by_kind"]["loop-blocking"] == 1


def test_a_sync_call_that_waits_for_its_own_loop_is_still_blocking_it(tmp_path, cli) -> None:
    directory = tmp_path / "traces"
    child = subprocess.Popen([sys.executable, str(PROGRAM), "deadlock"], cwd=PROGRAMS,
                             env=traced_env(directory), stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "waiting"
        # The run's START line is written before its code runs; wait for it, then kill the
        # hung process as a supervisor would.
        for _ in range(600):
            files = list(directory.rglob("*.jsonl"))
            if files and b"Service.wait_for_loop" in files[0].read_bytes():
                break
            time.sleep(0.05)
        assert child.poll() is None  # still hung
    finally:
        child.kill()
        child.wait()
    data, text = report(cli, directory)
    # No evidence it ran a loop of its own: it blocked its loop until its process was killed,
    # whatever the threshold, and it never ended.
    assert of_kind(data, "nested-loop") == []
    (finding,) = of_kind(data, "loop-blocking")
    (run,) = finding["runs"]
    assert run["method"] == "loopsvc.Service.wait_for_loop" and run["status"] == "unfinished"
    assert run["callsite"].endswith(f"loop_program.py:{call_line('deadlock')}")
    assert finding["details"]["never_ended"] == 1
    assert finding["details"]["blocked_by_run"] == {run["run_id"]: finding["details"]["blocked_ns"]}
    assert "still blocking when its process last recorded" in finding["explanation"]
    assert "1 still blocking when its process last recorded" in text
    assert [r["run_id"] for r in data["unfinished"]] == [run["run_id"]]


def test_fail_on_names_the_two_kinds(traces, cli) -> None:
    nested, blocking = traces("nested"), traces("blocking")
    assert cli("report", str(nested), "--fail-on", "nested-loop", "-q").returncode == 66
    assert cli("report", str(blocking), "--fail-on", "nested-loop", "-q").returncode == 0
    assert cli("report", str(blocking), "--fail-on", "loop-blocking", "-q").returncode == 66
    assert cli("report", str(nested), "--fail-on", "loop-blocking", "-q").returncode == 0
    # loop-blocking is a warning: a warning threshold catches it, an error threshold does not.
    assert cli("report", str(blocking), "--fail-on", "warning", "-q").returncode == 66
    assert cli("report", str(blocking), "--fail-on", "error", "-q").returncode == 0


def test_a_bad_blocking_threshold_is_a_usage_error(traces, cli) -> None:
    done = cli("report", str(traces("blocking")), "--blocking-threshold", "soon")
    assert done.returncode == 2
    assert done.stderr.startswith("racetrace: --blocking-threshold:")
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("text", "ns"), [
    ("100ms", 100 * MS), ("0.5s", 500 * MS), ("250", 250 * MS), ("2 s", 2_000 * MS),
    ("750us", 750_000), ("1min", 60_000 * MS), ("42ns", 42),
])
def test_durations_parse_with_their_units(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize("text", ["", "ms", "-5ms", "5 parsecs", "nan"])
def test_bad_durations_say_what_is_wrong(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


ON_LOOP = {"racetrace.loop.running": True}
ASYNCIO_RUN = ("builtins.RuntimeError", "asyncio.run() cannot be called from a running event loop")


def test_an_inner_loop_error_that_the_outer_run_caught_is_reported_on_its_own(
        writer, analyzed) -> None:
    trace = writer()
    outer = trace.run(0, 400, key="h/1/1", cls="app.Bot", label="bot", method="app.Bot.answer",
                      task="Task-1", **ON_LOOP)
    trace.run(10, 11, key="h/1/2", cls="app.Client", label="client", method="app.Client.get",
              task="Task-1", parent=outer, status="error", error=ASYNCIO_RUN, **ON_LOOP)
    report = analyzed([trace.write()])
    kinds = {(f.kind, f.instance_label) for f in report.findings}
    assert ("nested-loop", "client") in kinds and ("loop-blocking", "bot") in kinds
    (blocking,) = [f for f in report.findings if f.kind == "loop-blocking"]
    assert blocking.details["blocked_ns"] == 400 * MS


def test_the_same_loop_error_passing_through_an_outer_sync_run_counts_once(writer,
                                                                          analyzed) -> None:
    trace = writer()
    outer = trace.run(0, 2, key="h/1/1", cls="app.Bot", label="bot", method="app.Bot.answer",
                      status="error", error=ASYNCIO_RUN, **ON_LOOP)
    trace.run(1, 2, key="h/1/2", cls="app.Client", label="client", method="app.Client.get",
              parent=outer, status="error", error=ASYNCIO_RUN, **ON_LOOP)
    report = analyzed([trace.write()])
    (finding,) = [f for f in report.findings if f.kind == "nested-loop"]
    assert finding.instance_label == "bot"  # the call made from async code


def test_a_run_inside_a_parent_on_another_thread_blocks_its_own_loop(writer, analyzed) -> None:
    trace = writer()
    outer = trace.run(0, 500, key="h/1/1", cls="app.Bot", label="bot", thread=1, **ON_LOOP)
    trace.run(100, 400, key="h/1/2", cls="app.Tool", label="tool", parent=outer, thread=2,
              **ON_LOOP)
    report = analyzed([trace.write()])
    blocking = sorted((f.instance_label, f.details["blocked_ns"]) for f in report.findings
                      if f.kind == "loop-blocking")
    assert blocking == [("bot", 500 * MS), ("tool", 300 * MS)]


def test_runs_not_marked_as_on_a_running_loop_never_block_it(writer, analyzed) -> None:
    trace = writer()
    trace.run(0, 5_000, key="h/1/1", task="Task-1")  # a coroutine run: it awaits, it does not block
    report = analyzed([trace.write()], blocking_threshold_ns=1)
    assert not [f for f in report.findings if f.kind in ("loop-blocking", "nested-loop")]


def test_the_threshold_reaches_both_halves_of_a_split_analysis(tmp_path, cli) -> None:
    directory = tmp_path / "traces"
    record("nested", directory)
    record("blocking", directory)
    assert len(list(directory.rglob("*.jsonl"))) == 2  # two processes: two halves with -j 2
    both, _ = report(cli, directory, "-j", "2", "--all")  # two sessions: read both
    assert {f["kind"] for f in both["findings"]} >= {"nested-loop", "loop-blocking"}
    high, _ = report(cli, directory, "-j", "2", "--all", "--blocking-threshold", "60s")
    kinds = {f["kind"] for f in high["findings"]}
    assert "nested-loop" in kinds and "loop-blocking" not in kinds


def test_an_open_run_is_a_nested_loop_only_when_it_runs_its_own_loop(writer, analyzed) -> None:
    trace = writer()
    trace.run(0, None, key="h/1/1", cls="app.Bot", label="own", thread=1,
              **ON_LOOP, **{"racetrace.loop.own": True})
    trace.run(100, None, key="h/1/2", cls="app.Bot", label="plain", thread=2, **ON_LOOP)
    trace.run(120, 150, key="h/1/3", cls="app.Other", label="later", task="Task-9")
    report = analyzed([trace.write()])
    kinds = sorted((f.kind, f.instance_label) for f in report.findings
                   if f.kind in ("nested-loop", "loop-blocking"))
    assert kinds == [("loop-blocking", "plain"), ("nested-loop", "own")]
    (blocking,) = [f for f in report.findings if f.kind == "loop-blocking"]
    # Still blocking when its process last recorded (the end of the later run), though that
    # is under the threshold.
    assert blocking.details["blocked_ns"] == 50 * MS and blocking.details["never_ended"] == 1
    assert "still blocking when its process last recorded" in blocking.explanation
    assert {r.instance_label for r in report.unfinished} == {"own", "plain"}

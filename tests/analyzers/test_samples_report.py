"""Every kind found on real traces of real programs (the samples, recorded in a subprocess the
way a user records them), and nothing at warning or above on their fixed twins."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import pytest

PROGRAMS = Path(__file__).parent / "programs"
SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "analyzers/findings/report.schema.json").read_text()
)

OVERLAPS = {"concurrent", "reentrant", "periodic", "cross-process"}


def warnings_and_errors(report) -> list:
    return [f for f in report.findings if f.severity in ("warning", "error")]


def test_shared_gather_is_a_concurrent_overlap_of_three_runs(sample_trace, analyzed) -> None:
    report = analyzed([sample_trace("shared_gather")])
    (finding,) = warnings_and_errors(report)
    assert finding.kind == "concurrent"
    assert finding.instance_label == "assistant" and finding.instance_class == "agentlib.Agent"
    assert finding.run_count == 3 and finding.pair_count == 3 and finding.max_concurrency == 3
    assert {r.task_name for r in finding.runs} == {"Task-2", "Task-3", "Task-4"}
    assert all(r.callsite and r.callsite.endswith("shared_gather.py:17") for r in finding.runs)
    assert finding.overlap_ns > 0


def test_reentrant_callback_is_reentrant_through_the_parent_run(sample_trace,
                                                                 analyzed) -> None:
    report = analyzed([sample_trace("reentrant_callback")])
    (finding,) = warnings_and_errors(report)
    assert finding.kind == "reentrant"
    outer, inner = finding.runs
    assert inner.parent_run_id == outer.run_id
    assert inner.callsite.endswith("reentrant_callback.py:15")


def test_periodic_job_is_periodic(sample_trace, analyzed) -> None:
    report = analyzed([sample_trace("periodic_overlap")])
    (finding,) = warnings_and_errors(report)
    assert finding.kind == "periodic"
    assert finding.run_count == 6
    assert "every" in finding.explanation


def test_singleton_hit_by_requests_is_concurrent(sample_trace, analyzed) -> None:
    # Requests arrive at irregular moments, unlike a timer's ticks.
    report = analyzed([sample_trace("singleton_requests")])
    (finding,) = warnings_and_errors(report)
    assert finding.kind == "concurrent"
    assert finding.run_count == 5 and finding.instance_label == "support"


def test_two_processes_saving_one_session_is_cross_process(tmp_path: Path, analyzed) -> None:
    import subprocess

    directory = tmp_path / "traces"
    done = subprocess.run([sys.executable, str(PROGRAMS / "cross_process.py"), str(directory)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = analyzed([directory])
    (finding,) = warnings_and_errors(report)
    assert (finding.kind, finding.key_kind, finding.instance_key) == (
        "cross-process", "resource", "session-42")
    assert len({r.pid for r in finding.runs}) == 2


FIXED = sorted(p.stem for p in SAMPLES.glob("*_fixed.py"))
FRAMEWORKS = {"autogen": "autogen_agentchat", "langchain": "langchain_core",
              "langgraph": "langgraph", "openai": "agents"}


@pytest.mark.parametrize("sample", FIXED)
def test_every_fixed_twin_reports_nothing_at_all(sample: str, sample_trace, analyzed) -> None:
    # The README's promise: not even `latent`. A lock, a running guard, an instance per task.
    framework = FRAMEWORKS.get(sample.split("_")[0])
    if framework is not None:
        pytest.importorskip(framework)
    report = analyzed([sample_trace(sample)])
    assert report.summary.runs >= 2
    assert [(f.kind, f.headline) for f in report.findings] == []


@pytest.mark.parametrize(("sample", "kind"), [
    ("shared_gather", "concurrent"), ("singleton_requests", "concurrent"),
    ("reentrant_callback", "reentrant"), ("periodic_overlap", "periodic"),
])
def test_each_unfixed_sample_still_reports_its_kind(sample: str, kind: str, sample_trace,
                                                    analyzed) -> None:
    report = analyzed([sample_trace(sample)])
    assert [f.kind for f in warnings_and_errors(report)] == [kind]


def test_lock_serialized_singleton_is_no_latent_and_verbose_says_serialized(sample_trace,
                                                                            cli) -> None:
    path = str(sample_trace("singleton_requests_fixed"))
    done = cli("report", path, "-v")
    assert done.returncode == 0, done.stderr
    assert "latent" not in done.stdout
    (note,) = [line for line in done.stdout.splitlines() if line.startswith("NOTE:")]
    assert "serialized: Agent 'support'" in note
    assert "4 started right after the previous run ended" in note
    assert "SUMMARY: racetrace: no findings; 5 runs" in done.stdout
    quiet = cli("report", path)
    assert "NOTE:" not in quiet.stdout  # said only when asked for detail
    data = json.loads(cli("report", path, "--json", "-").stdout)
    (instance,) = data["instances"]
    assert "kept apart by design" in instance["serialized"]


@pytest.mark.parametrize("sample", ["shared_gather", "reentrant_callback", "periodic_overlap",
                                    "singleton_requests_fixed"])
def test_json_report_of_each_sample_validates_against_the_schema(sample: str, sample_trace,
                                                                  cli) -> None:
    done = cli("report", str(sample_trace(sample)), "--json", "-")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(data)
    assert data["schema"] == "racetrace.report/1"


def test_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_text_report_reads_like_a_race_detector(sample_trace, cli) -> None:
    done = cli("report", str(sample_trace("shared_gather")))
    assert done.returncode == 0
    out = done.stdout
    assert "WARNING: racetrace: concurrent runs on Agent 'assistant' (" in out
    assert out.count("  Run ") == 3
    assert "created at" in out and "called from" in out and "shared_gather.py:17" in out
    assert "Fix: " in out
    assert out.rstrip().splitlines()[-1].startswith("SUMMARY: racetrace: 1 finding")

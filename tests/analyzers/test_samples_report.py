"""Every kind found on real traces of real programs (the samples, recorded in a subprocess the
way a user records them), and nothing at warning or above on their fixed twins."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import pytest

PROGRAMS = Path(__file__).parent / "programs"
SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "analyzers" / "report.schema.json").read_text()
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


@pytest.mark.parametrize("sample", ["shared_gather_fixed", "singleton_requests_fixed",
                                    "reentrant_callback_fixed", "periodic_overlap_fixed"])
def test_fixed_twins_have_nothing_at_warning_or_above(sample: str, sample_trace,
                                                       analyzed) -> None:
    report = analyzed([sample_trace(sample)])
    assert warnings_and_errors(report) == []
    assert not any(f.kind in OVERLAPS for f in report.findings)
    assert {f.kind for f in report.findings} <= {"latent"}


def test_lock_serialized_singleton_is_at_most_latent_info(sample_trace, analyzed) -> None:
    report = analyzed([sample_trace("singleton_requests_fixed")])
    (finding,) = report.findings
    assert (finding.kind, finding.severity) == ("latent", "info")
    assert finding.details["contexts"] == 5


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

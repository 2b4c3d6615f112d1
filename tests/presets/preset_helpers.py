"""Helpers for the preset tests: real frameworks driven offline in traced subprocesses.

A scenario (a sample, or a program written by the test) runs with `sys.executable` under
`RACETRACE=1` and no targets, so only the presets decide what is traced, exactly as for users.
Its trace is read back two ways: the loaded runs (`racetrace runs --json`, computed overlaps)
and the analyzer's report (`racetrace report --json -`).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
TIMEOUT = 240  # generous: two shared cores, and each traced start imports a framework


def clean_environ(extra: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without racetrace or OpenTelemetry settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RACETRACE", "OTEL_"))}
    env.pop("PYTHONPATH", None)
    env["PYTHONUNBUFFERED"] = "1"
    # The OpenAI Agents SDK must never try to upload traces from a test.
    env["OPENAI_AGENTS_DISABLE_TRACING"] = "1"
    env.update(extra)
    return env


@dataclass
class Scenario:
    """A traced program that ran: its output, runs and report."""

    returncode: int
    stdout: str
    stderr: str
    trace_dir: Path
    _runs: list[dict[str, Any]] | None = field(default=None, repr=False)
    _report: dict[str, Any] | None = field(default=None, repr=False)

    def check(self) -> Scenario:
        assert self.returncode == 0, f"exit {self.returncode}\n{self.stdout}\n{self.stderr}"
        assert self.racetrace_lines() == [], self.stderr
        return self

    def racetrace_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("racetrace:")]

    def runs(self) -> list[dict[str, Any]]:
        if self._runs is None:
            done = racetrace_cli("runs", str(self.trace_dir), "--json")
            assert done.returncode == 0, done.stderr
            self._runs = json.loads(done.stdout)
        return self._runs

    def report(self) -> dict[str, Any]:
        if self._report is None:
            done = racetrace_cli("report", str(self.trace_dir), "--json", "-")
            assert done.returncode == 0, done.stderr
            self._report = json.loads(done.stdout)
        return self._report

    def runs_of(self, method_suffix: str) -> list[dict[str, Any]]:
        return [r for r in self.runs() if r["method"].endswith(method_suffix)]

    def methods(self) -> list[str]:
        """`Class.method` of every run, in start order."""
        return [".".join(r["method"].split(".")[-2:]) for r in self.runs()]

    def findings(self, *, severity: str | None = None) -> list[dict[str, Any]]:
        found = self.report()["findings"]
        return [f for f in found if severity is None or f["severity"] == severity]


def racetrace_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "racetrace", *args],
        env=clean_environ({}),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


class Scenarios:
    """Runs samples and test programs traced, each into a trace folder of its own."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._serial = itertools.count()

    def sample(self, name: str, env: Mapping[str, str] | None = None) -> Scenario:
        return self._run([str(SAMPLES / f"{name}.py")], env)

    def program(self, source: str, env: Mapping[str, str] | None = None,
                name: str = "main") -> Scenario:
        path = self.root / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        return self._run([str(path)], env)

    def _run(self, argv: list[str], env: Mapping[str, str] | None) -> Scenario:
        trace_dir = self.root / f"traces-{next(self._serial)}"
        extra = {
            "RACETRACE": "1",
            "RACETRACE_DIR": str(trace_dir),
            "PYTHONPATH": os.pathsep.join([str(self.root), str(SAMPLES)]),
            **(env or {}),
        }
        done = subprocess.run(
            [sys.executable, *argv], cwd=self.root, env=clean_environ(extra),
            capture_output=True, text=True, timeout=TIMEOUT,
        )
        return Scenario(done.returncode, done.stdout, done.stderr, trace_dir)


def overlapping_pairs(runs: list[dict[str, Any]], key: str = "instance_key") -> int:
    """Pairs of runs with the same `key` whose intervals intersect (unfinished: open-ended)."""
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        if run[key] is not None:
            by_key[run[key]].append(run)
    pairs = 0
    for group in by_key.values():
        for a, b in itertools.combinations(group, 2):
            a_end = a["end_ns"] if a["end_ns"] is not None else float("inf")
            b_end = b["end_ns"] if b["end_ns"] is not None else float("inf")
            if a["start_ns"] < b_end and b["start_ns"] < a_end:
                pairs += 1
    return pairs


def overlap_findings(scenario: Scenario) -> list[dict[str, Any]]:
    kinds = {"concurrent", "reentrant", "periodic", "cross-process"}
    return [f for f in scenario.findings() if f["kind"] in kinds]


def trace_lines(scenario: Scenario) -> list[dict[str, Any]]:
    """Every line of the scenario's trace files, raw (for attributes `runs` leaves out)."""
    return [
        json.loads(line)
        for path in sorted(scenario.trace_dir.rglob("*.jsonl"))
        for line in path.read_text().rstrip("\0").splitlines()
        if line.strip()
    ]


class InProcess:
    """racetrace recording in this process into a temporary folder, with modules written on
    the fly (as a user's or a library's files, so that call sites and owners are real)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.directory = root / "traces"
        self.modules: list[str] = []
        self._serial = itertools.count()

    def write(self, name: str, source: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
        return path

    def module(self, source: str, name: str | None = None) -> Any:
        import importlib

        name = name or f"rt_preset_subject_{os.getpid()}_{next(self._serial)}"
        self.write(f"{name.replace('.', '/')}.py", source)
        importlib.invalidate_caches()
        module = importlib.import_module(name)
        self.modules.append(name)
        return module

    def runs(self) -> list[Any]:
        from racetrace.analyzers.core.load import load

        if not self.directory.exists():
            return []
        return load([self.directory]).runs

    def lines(self) -> list[dict[str, Any]]:
        # A live writer's file ends in its mapped chunk's NUL padding (docs/trace-format.md).
        return [
            json.loads(line)
            for path in sorted(self.directory.rglob("*.jsonl"))
            for line in path.read_text().rstrip("\0").splitlines()
            if line.strip()
        ]

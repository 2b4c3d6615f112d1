"""Fixtures for the tracer tests: real programs in subprocesses, real traces in-process.

`program` runs a Python source file with `sys.executable` in a fresh environment (only the
variables a test gives, plus the caller's non-racetrace ones), so that racetrace attaches through
the installed `.pth` exactly as it does for users. `tracing` records in this process, through the
public API, into a temporary folder, for the tests of wrapping, generators and run boundaries.
"""

from __future__ import annotations

import importlib
import itertools
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest
from racetrace.analyzers.core.load import load
from racetrace.analyzers.core.model import Run, Trace

import racetrace

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SUBPROCESS_TIMEOUT = 180  # generous: two shared cores, and each traced start imports OTel
_module_serial = itertools.count()


def clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without any racetrace or OpenTelemetry setting, plus `extra`."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("RACETRACE", "OTEL_"))
    }
    env.pop("PYTHONPATH", None)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def read_lines(path: Path) -> list[dict[str, Any]]:
    # A live writer's file ends in its mapped chunk's NUL padding (docs/trace-format.md).
    data = path.read_bytes().rstrip(b"\0")
    return [orjson.loads(line) for line in data.splitlines() if line.strip()]


def load_runs(directory: Path) -> list[Run]:
    return load_trace(directory).runs


def load_trace(directory: Path) -> Trace:
    if not directory.exists():
        return Trace(runs=[], processes=[])
    return load([directory])


@dataclass
class Finished:
    """A program that ran: what it printed, how it exited, what it traced."""

    returncode: int
    stdout: str
    stderr: str
    trace_dir: Path

    def files(self) -> list[Path]:
        if not self.trace_dir.exists():
            return []
        return sorted(self.trace_dir.rglob("*.jsonl"))

    def runs(self) -> list[Run]:
        return load_runs(self.trace_dir)

    def trace(self) -> Trace:
        return load_trace(self.trace_dir)

    def racetrace_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("racetrace:")]

    def check(self) -> Finished:
        assert self.returncode == 0, f"exit {self.returncode}\n{self.stdout}\n{self.stderr}"
        return self


@dataclass
class Programs:
    """Writes programs (and modules beside them) into a temporary folder and runs them."""

    root: Path
    trace_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        self.trace_dir = self.root / "traces"

    def module(self, name: str, source: str) -> Path:
        path = self.root / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        return path

    def environ(
        self,
        targets: Sequence[str] = (),
        enabled: str | None = "1",
        env: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        extra = {"PYTHONPATH": os.pathsep.join([str(self.root), str(SAMPLES)])}
        if enabled is not None:
            extra["RACETRACE"] = enabled
        if targets:
            extra["RACETRACE_TARGETS"] = ",".join(targets)
        extra["RACETRACE_DIR"] = str(self.trace_dir)
        extra.update(env or {})
        return clean_environ(extra)

    def command(self, source: str, name: str = "main") -> list[str]:
        return [sys.executable, str(self.module(name, source))]

    def run(
        self,
        source: str,
        *,
        targets: Sequence[str] = (),
        enabled: str | None = "1",
        env: Mapping[str, str] | None = None,
        argv: Sequence[str] | None = None,
        name: str = "main",
    ) -> Finished:
        command = list(argv) if argv is not None else self.command(source, name)
        if argv is not None:
            self.module(name, source)
        done = subprocess.run(
            command,
            cwd=self.root,
            env=self.environ(targets, enabled, env),
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT,
        )
        return Finished(done.returncode, done.stdout, done.stderr, self.trace_dir)

    def racetrace(self, *args: str, env: Mapping[str, str] | None = None) -> Finished:
        """The `racetrace` command, run as users run it."""
        done = subprocess.run(
            [sys.executable, "-m", "racetrace", *args],
            cwd=self.root,
            env=clean_environ({"PYTHONPATH": str(self.root), **(env or {})}),
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT,
        )
        return Finished(done.returncode, done.stdout, done.stderr, self.trace_dir)

    def load(self, *paths: Path) -> Trace:
        return load(list(paths) or [self.trace_dir])

    def start(
        self,
        source: str,
        *,
        targets: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(source),
            cwd=self.root,
            env=self.environ(targets, "1", env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture
def programs(tmp_path: Path) -> Programs:
    return Programs(tmp_path)


class Tracing:
    """racetrace recording in this process into `directory`, with modules written on the fly.

    Traced classes live in their own module file (not in the test file), as a user's or a
    library's do, so that the test's own lines are the call sites racetrace should report.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.directory = root / "traces"
        self.modules: list[str] = []

    def module(self, source: str) -> ModuleType:
        name = f"rt_subject_{os.getpid()}_{next(_module_serial)}"
        (self.root / f"{name}.py").write_text(textwrap.dedent(source))
        importlib.invalidate_caches()
        module = importlib.import_module(name)
        self.modules.append(name)
        return module

    def instrument(self, module: ModuleType, *paths: str) -> None:
        racetrace.instrument(*(f"{module.__name__}:{p}" for p in paths))

    def runs(self) -> list[Run]:
        return load_runs(self.directory)

    def lines(self) -> list[dict[str, Any]]:
        return [line for f in sorted(self.directory.rglob("*.jsonl")) for line in read_lines(f)]


@pytest.fixture
def tracing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tracing]:
    for name in list(os.environ):
        if name.startswith(("RACETRACE", "OTEL_")):
            monkeypatch.delenv(name)
    # start() pins RACETRACE_DIR in the environment for child processes: undone afterwards.
    monkeypatch.delenv("RACETRACE_DIR", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    state = Tracing(tmp_path)
    racetrace.start(directory=str(state.directory))
    try:
        yield state
    finally:
        racetrace.stop()
        for name in state.modules:
            sys.modules.pop(name, None)

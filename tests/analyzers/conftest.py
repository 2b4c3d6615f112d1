"""Fixtures for the analyzer tests: real traces of the samples (recorded once per session, in a
subprocess, the way a user records them) and a small writer for hand-made trace files."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
TARGETS = ("agentlib:Agent.run", "agentlib:Agent.run_stream", "agentlib:Team.run")
T0 = 1_780_000_000_000_000_000
MS = 1_000_000


def racetrace(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
              timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The racetrace CLI in a subprocess, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "racetrace", *args],
        capture_output=True, text=True, timeout=timeout, cwd=cwd,
        env={**os.environ, **(env or {})},
    )


def record(script: Path, directory: Path, *, cwd: Path | None = None) -> Path:
    """Run a Python script traced (agentlib's targets) and return the trace directory."""
    args = ["run", "-d", str(directory)]
    for target in TARGETS:
        args += ["-t", target]
    done = racetrace(*args, "--", sys.executable, str(script), cwd=cwd or script.parent)
    assert done.returncode == 0, done.stderr
    assert list(directory.rglob("*.jsonl")), f"no trace written: {done.stderr}"
    return directory


@pytest.fixture(scope="session")
def sample_trace(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """`sample_trace("shared_gather")`: the directory of that sample's trace, recorded once."""
    cache: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in cache:
            out = tmp_path_factory.mktemp(f"trace-{name}")
            cache[name] = record(SAMPLES / f"{name}.py", out / "traces")
        return cache[name]

    return get


class TraceWriter:
    """Writes a trace file in the tracer's line format, run by run."""

    _ids = itertools.count(1)

    def __init__(self, path: Path, *, pid: int = 4242, host: str = "testhost",
                 header: bool = True) -> None:
        self.path = path
        self.pid = pid
        self.host = host
        self.lines: list[bytes] = []
        if header:
            self.lines.append(orjson.dumps({
                "type": "header", "format": "racetrace.trace/1", "pid": pid, "ppid": 1,
                "host": host, "service": "test", "argv": ["test"], "wall_ns": T0,
            }))

    def run(self, start_ms: float, end_ms: float | None, *, key: str = "obj/1",
            cls: str = "app.Agent", label: str | None = "agent", method: str = "app.Agent.run",
            task: str | None = None, parent: str | None = None, created_by: str | None = None,
            site: str | None = "/app/main.py:10", status: str = "ok",
            error: tuple[str, str] | None = None, resource: str | None = None,
            stateful: bool | None = None, run_id: str | None = None, thread: int = 1,
            **extra: Any) -> str:
        run_id = run_id or f"{next(self._ids):016x}"
        file, _, line = (site or "::").rpartition(":")
        start: dict[str, Any] = {
            "type": "start", "run_id": run_id, "trace_id": run_id.rjust(32, "0"),
            "parent_span_id": parent, "name": method, "start_ns": T0 + int(start_ms * MS),
            "racetrace.instance.key": key, "racetrace.instance.class": cls,
            "process.pid": self.pid, "host.name": self.host, "thread.id": thread,
            "thread.name": f"thread-{thread}",
            "racetrace.task.name": task, "racetrace.task.id": task and f"task/{task}",
            "racetrace.stack": [f"{site} in handler"] if site else [],
        }
        if site:
            start.update({"code.file.path": file, "code.line.number": int(line),
                          "code.function.name": "handler"})
        for name, value in (("racetrace.instance.label", label),
                            ("racetrace.parent_run", parent),
                            ("racetrace.task.created_by_run", created_by),
                            ("racetrace.resource.key", resource),
                            ("racetrace.stateful", stateful)):
            if value is not None:
                start[name] = value
        start.update(extra)
        self.lines.append(orjson.dumps({k: v for k, v in start.items() if v is not None}))
        if end_ms is not None:
            end: dict[str, Any] = {"type": "end", "run_id": run_id,
                                   "end_ns": T0 + int(end_ms * MS),
                                   "racetrace.end.status": status}
            if error:
                end["error.type"], end["exception.message"] = error
            self.lines.append(orjson.dumps(end))
        return run_id

    def raw(self, line: bytes) -> None:
        self.lines.append(line)

    def write(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(b"\n".join(self.lines) + b"\n")
        return self.path


@pytest.fixture
def writer(tmp_path: Path) -> Callable[..., TraceWriter]:
    counter = itertools.count(1)

    def make(name: str | None = None, **kwargs: Any) -> TraceWriter:
        return TraceWriter(tmp_path / "traces" / (name or f"t{next(counter)}.jsonl"), **kwargs)

    return make


def analyze_paths(paths: Iterable[Path], **kwargs: Any) -> Any:
    from racetrace.analyzers.core.load import load
    from racetrace.analyzers.findings.analyze import analyze

    return analyze(load(list(paths)), **kwargs)


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return racetrace


@pytest.fixture
def analyzed() -> Callable[..., Any]:
    """`analyzed(path, ...)`: load and analyze, as `racetrace report` does."""
    return analyze_paths

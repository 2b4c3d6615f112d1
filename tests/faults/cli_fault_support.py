"""Helpers for the CLI fault tests: the racetrace CLI in a subprocess, a trace writer, and the
one-line stderr contract every bad input must keep."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

T0 = 1_780_000_000_000_000_000
MS = 1_000_000
SKIPPED = re.compile(r"^racetrace: skipped (\d+) damaged lines? \(first: (.*)\)$")


def racetrace(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
              timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The racetrace CLI in a subprocess, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "racetrace", *args], capture_output=True, text=True,
        errors="surrogateescape", timeout=timeout, cwd=cwd, env={**os.environ, **(env or {})},
    )


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without racetrace or OpenTelemetry settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RACETRACE", "OTEL_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def header(pid: int = 4242) -> bytes:
    return orjson.dumps({
        "type": "header", "format": "racetrace.trace/1", "pid": pid, "ppid": 1,
        "host": "testhost", "service": "test", "argv": ["app.py"], "wall_ns": T0,
    })


def start(run_id: str, start_ms: float, *, key: str = "obj/1", **fields: Any) -> dict[str, Any]:
    record = {
        "type": "start", "run_id": run_id, "trace_id": run_id.rjust(32, "0"),
        "name": "app.Agent.run", "start_ns": T0 + int(start_ms * MS),
        "racetrace.instance.key": key, "racetrace.instance.class": "app.Agent",
        "racetrace.instance.label": "agent", "process.pid": 4242, "host.name": "testhost",
        "thread.id": 1, "thread.name": "MainThread", "racetrace.task.name": f"task-{run_id}",
        "racetrace.task.id": f"task/{run_id}", "racetrace.stack": ["/app/main.py:10 in main"],
        "code.file.path": "/app/main.py", "code.line.number": 10,
    }
    record.update(fields)
    return record


def end(run_id: str, end_ms: float, **fields: Any) -> dict[str, Any]:
    return {"type": "end", "run_id": run_id, "end_ns": T0 + int(end_ms * MS),
            "racetrace.end.status": "ok", **fields}


def write(path: Path, lines: list[bytes | dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = [line if isinstance(line, bytes) else orjson.dumps(line) for line in lines]
    path.write_bytes(b"\n".join([header(), *raw]) + b"\n")
    return path


def one_racetrace_line(stderr: str) -> str:
    """The single `racetrace:` line on stderr, asserting there is nothing else (no traceback,
    no raw terminal escape)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("racetrace: "), stderr
    assert "Traceback" not in stderr
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", stderr), repr(stderr)
    return lines[0]


def skipped_count(stderr: str) -> tuple[int, str]:
    """How many damaged lines the one stderr line says were skipped, and its first problem."""
    line = one_racetrace_line(stderr)
    match = SKIPPED.match(line)
    assert match, line
    return int(match.group(1)), match.group(2)

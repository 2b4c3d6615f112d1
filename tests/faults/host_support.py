"""Running one small real program twice, untraced and traced, for the host fault matrix.

The untraced run is the specification: with `RACETRACE=1` and the program's method named in
`RACETRACE_TARGETS`, its stdout, stderr and exit code must be the same, and the trace file must
hold what the program did. Each program lives in a temporary folder with its modules beside it
and runs with `sys.executable`, so that racetrace attaches through the installed `.pth` exactly
as it does for users.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from racetrace.analyzers.core.load import load
from racetrace.analyzers.core.model import Run, Trace

TIMEOUT = 180  # generous: two shared cores, and each traced start imports OpenTelemetry


def clean_environ(extra: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without any racetrace, OpenTelemetry or pytest setting."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RACETRACE", "OTEL_", "PYTEST_"))}
    env.pop("PYTHONPATH", None)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class Outcome:
    """What a program did: its output, its exit code and (traced) what it recorded."""

    returncode: int
    stdout: str
    stderr: str
    trace_dir: Path

    def trace(self) -> Trace:
        if not self.trace_dir.exists():
            return Trace(runs=[], processes=[])
        return load([self.trace_dir])

    def runs(self) -> list[Run]:
        return self.trace().runs

    def lines(self) -> list[dict[str, Any]]:
        import orjson

        return [orjson.loads(line) for path in sorted(self.trace_dir.rglob("*.jsonl"))
                for line in path.read_bytes().rstrip(b"\0").splitlines() if line.strip()]


@dataclass(frozen=True)
class Case:
    """One row of the matrix: a program, the targets it is traced with, and what its trace
    must show. `same` lists what must be identical between the untraced and traced runs."""

    name: str
    main: str
    modules: Mapping[str, str] = field(default_factory=dict)
    targets: Sequence[str] = ()
    args: Sequence[str] = ()
    files: Mapping[str, str] = field(default_factory=dict)
    command: Sequence[str] = ()  # instead of `python main.py ARGS`
    traced_args: Sequence[str] = ()  # appended to the command when traced (`--racetrace`)
    same: tuple[str, ...] = ("returncode", "stdout", "stderr")
    requires: tuple[str, ...] = ()  # modules the program imports beyond racetrace's own
    check: Callable[[Outcome, Outcome], None] | None = None


def run_case(case: Case, root: Path) -> tuple[Outcome, Outcome]:
    """The case's program run untraced, then traced (each in its own folder)."""
    return run_in(case, root / "untraced", traced=False), run_in(case, root / "traced", traced=True)


def run_in(case: Case, folder: Path, *, traced: bool) -> Outcome:
    folder.mkdir(parents=True)
    (folder / "main.py").write_text(textwrap.dedent(case.main))
    for name, source in case.modules.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
    for name, text in case.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    trace_dir = folder / "traces"
    extra = {"PYTHONPATH": str(folder)}
    if traced:
        extra["RACETRACE"] = "1"
        extra["RACETRACE_DIR"] = str(trace_dir)
        if case.targets:
            extra["RACETRACE_TARGETS"] = ",".join(case.targets)
    command = list(case.command) or [sys.executable, "main.py", *case.args]
    if traced:
        command += case.traced_args
    done = subprocess.run(command, cwd=folder, env=clean_environ(extra), capture_output=True,
                          text=True, errors="surrogateescape", timeout=TIMEOUT)
    # Paths differ between the two folders: what the program prints is compared without them.
    out = done.stdout.replace(str(folder), "<dir>")
    err = done.stderr.replace(str(folder), "<dir>")
    return Outcome(done.returncode, out, err, trace_dir)

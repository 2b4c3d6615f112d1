"""`racetrace run -- CMD`: run a command with tracing on, as RACETRACE=1 would."""

from __future__ import annotations

import argparse
import os
import shutil
from typing import Any

from racetrace.cli import UsageError


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "run",
        help="run a command with tracing on",
        description=(
            "Set RACETRACE, RACETRACE_TARGETS and RACETRACE_DIR, then replace this process with "
            "the command. Every Python process it starts (subprocesses, multiprocessing "
            "workers) is traced too, each writing its own file."
        ),
        epilog="example: racetrace run --target myapp.agents:Agent.run -- python app.py",
    )
    parser.add_argument(
        "--target", "-t", action="append", default=[], metavar="MODULE:QUALNAME",
        help="a method to trace, e.g. myapp.agents:Agent.run (repeatable)",
    )
    parser.add_argument(
        "--preset", "-p", action="append", default=[], metavar="NAME",
        help="framework presets to enable (default: all installed)",
    )
    parser.add_argument(
        "--dir", "-d", default=None, metavar="DIR",
        help="where trace files go (default: $RACETRACE_DIR or ./racetrace-traces)",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    parser.set_defaults(handler=run)


def environment_for(
    targets: list[str], presets: list[str], directory: str | None, base: dict[str, str]
) -> dict[str, str]:
    env = dict(base)
    env["RACETRACE"] = ",".join(presets) if presets else "1"
    existing = [t for t in env.get("RACETRACE_TARGETS", "").split(",") if t.strip()]
    if targets or existing:
        env["RACETRACE_TARGETS"] = ",".join([*existing, *targets])
    if directory is not None:
        env["RACETRACE_DIR"] = os.path.abspath(directory)
    else:
        env["RACETRACE_DIR"] = os.path.abspath(env.get("RACETRACE_DIR") or "racetrace-traces")
    return env


def run(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise UsageError("run: no command given; usage: racetrace run [--target T]... -- CMD...")
    from racetrace.tracer.config import split_list, target_error

    # Checked before the command starts: a bad target would otherwise be one warning in the
    # program's output and a run that traced nothing.
    for spec in (*split_list(os.environ.get("RACETRACE_TARGETS", "")), *args.target):
        problem = target_error(spec)
        if problem is not None:
            raise UsageError(f"run: {problem}")
    executable = shutil.which(command[0])
    if executable is None:
        raise UsageError(f"run: command not found: {command[0]}")
    env = environment_for(args.target, args.preset, args.dir, dict(os.environ))
    os.execve(executable, command, env)
    return 0  # not reached

"""`racetrace run -- CMD`: run a command with tracing on, then say what was found.

Like `go run -race`: the command runs as it would (stdin, stdout and its exit status pass
through), its processes write into a session of their own, and when it exits the findings of
that session are summarized on stderr. With `--fail-on` the exit status says whether one matched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
from typing import Any

from racetrace.cli import UsageError

# Signals meant for the command that reach only us (`kill PID`, a closed terminal) are passed
# on; SIGINT and SIGQUIT from the terminal reach the command's process group directly.
_FORWARDED = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2")
    if hasattr(signal, name)
)
_IGNORED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGQUIT") if hasattr(signal, name))


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "run",
        help="run a command with tracing on, then summarize what was found",
        description=(
            "Set RACETRACE, RACETRACE_TARGETS and RACETRACE_DIR and run the command in a trace "
            "session of its own (or in $RACETRACE_SESSION, which earlier runs that set the "
            "same name share: the summary then counts their runs too). Every Python process "
            "it starts (subprocesses, multiprocessing workers) is traced too, each writing its "
            "own file. When it exits, the findings' "
            "summary is printed on stderr (the full report with -v). Exit status: the "
            "command's own when it failed; else 66 when a finding matches --fail-on, 2 when "
            "--fail-on is given and nothing was recorded (unless --allow-empty), or 0."
        ),
        epilog="example: racetrace run --target myapp.agents:Agent.run -- python -m myapp",
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
        help="where sessions go (default: $RACETRACE_DIR or ./racetrace-traces)",
    )
    parser.add_argument("--fail-on", action="append", metavar="SPEC", default=None,
                        help="exit 66 when a finding matches SPEC, as racetrace report does")
    parser.add_argument("--allow-empty", action="store_true",
                        help="with --fail-on, let a run that recorded nothing pass")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print the full report, not only the summary")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print nothing after the command exits (the exit status still "
                             "follows --fail-on)")
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
    from racetrace.analyzers.outputs.failon import EXIT_FINDINGS, FailOn, FailOnError
    from racetrace.tracer import semconv, session

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
    try:
        fail_on = FailOn.parse(args.fail_on)
    except FailOnError as exc:
        raise UsageError(str(exc)) from None
    env = environment_for(args.target, args.preset, args.dir, dict(os.environ))
    root = env["RACETRACE_DIR"]
    name = session.session_name(env.get(semconv.ENV_SESSION, ""))
    try:
        folder = session.create(root, name)
    except OSError as exc:
        raise UsageError(f"{root}: cannot create the trace folder: {exc.strerror or exc}") from None
    session.prune(root, keep=session.keep_from(env.get(semconv.ENV_KEEP, "")), current=folder)
    env[semconv.ENV_SESSION_DIR] = folder

    rules = _suppressions()  # a bad file is said before the command runs, not after
    status = _run_command(executable, command, env)
    return _verdict(folder, status, fail_on, rules, args, EXIT_FINDINGS)


def _suppressions() -> Any:
    from racetrace.analyzers.findings.suppressions import SuppressionError, Suppressions

    try:
        return Suppressions.from_env()
    except SuppressionError as exc:
        raise UsageError(str(exc)) from None


def _run_command(executable: str, command: list[str], env: dict[str, str]) -> int:
    """Run the command to its end; its exit status as a shell gives it (128+N for signal N)."""
    try:
        child = subprocess.Popen(command, executable=executable, env=env)
    except OSError as exc:
        raise UsageError(f"run: cannot start {command[0]}: {exc.strerror or exc}") from None
    previous: dict[int, Any] = {}
    try:
        for signum in _FORWARDED:
            previous[signum] = signal.signal(signum, lambda n, _frame: child.send_signal(n))
        for signum in _IGNORED:
            previous[signum] = signal.signal(signum, signal.SIG_IGN)
        code = child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 - code if code < 0 else code


def _verdict(folder: str, status: int, fail_on: Any, rules: Any, args: argparse.Namespace,
             exit_findings: int) -> int:
    from ._common import analyze_traces, report_damage

    report = analyze_traces([folder], key_attr=None, suppressions=rules, max_pairs=100)
    try:
        return _summarize(report, folder, status, fail_on, args, exit_findings)
    finally:
        report_damage(report.trace)


def _summarize(report: Any, folder: str, status: int, fail_on: Any, args: argparse.Namespace,
               exit_findings: int) -> int:
    from rich.console import Console

    from racetrace.analyzers.outputs.render_text import render, render_brief
    from racetrace.analyzers.outputs.sanitize import clean

    from ._common import why_empty

    console = Console(stderr=True, highlight=False, soft_wrap=not sys.stderr.isatty())
    where = clean(os.path.relpath(folder))
    if not report.summary.runs:
        reason = why_empty(report.trace, [where])
        if status == 0 and fail_on and not args.allow_empty:
            print(f"racetrace: {reason}; --allow-empty lets that pass", file=sys.stderr)
            return 2
        if not args.quiet:
            print(f"racetrace: {reason}", file=sys.stderr)
        return status
    if not args.quiet:
        if args.verbose:
            render(report, console, verbose=True)
        else:
            render_brief(report, console)
            if report.findings:
                console.print(f"racetrace: the full report: racetrace report {where}")
    if status != 0:
        return status
    if fail_on and fail_on.matching(report.findings):
        return exit_findings
    return 0

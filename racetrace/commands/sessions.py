"""`racetrace sessions`: the trace sessions in a folder, newest last, with what each found."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from racetrace.cli import UsageError


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "sessions",
        help="list the trace sessions (one per traced program run)",
        description=(
            "List the sessions in a folder of sessions: when each started, its command, how "
            "many processes and runs it recorded and how many findings they make. The newest "
            "is the one report, runs, export and tui read when given no PATH. Old sessions "
            "are pruned when a new one starts: the last $RACETRACE_KEEP (default 20) are kept."
        ),
    )
    parser.add_argument(
        "root", nargs="?", metavar="DIR",
        help="the folder of sessions (default: $RACETRACE_DIR or ./racetrace-traces)",
    )
    parser.add_argument("--no-findings", action="store_true",
                        help="skip the analysis: list without the findings column (faster)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from racetrace.analyzers.outputs.sanitize import clean
    from racetrace.tracer.session import created_ns, is_session, sessions_in

    from ._common import default_root

    root = args.root or default_root()
    if os.path.exists(root) and not os.path.isdir(root):
        raise UsageError(f"{root}: not a directory; give the folder of sessions")
    if not os.path.isdir(root):
        raise UsageError(f"{root}: no such directory (no traced run yet?)")
    # A session's own folder: that one session.
    sessions = [root] if is_session(root) else sessions_in(root)
    # Piped or redirected, nothing is cut to fit an imaginary 80 columns.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 1000)
    if not sessions:
        console.print(Text(f"no sessions in {clean(root)}"))
        return 0
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("session", no_wrap=True)
    table.add_column("started", no_wrap=True)
    table.add_column("command", overflow="ellipsis", no_wrap=True)
    table.add_column("processes", justify="right")
    table.add_column("runs", justify="right")
    if not args.no_findings:
        table.add_column("findings", justify="right")
    for index, folder in enumerate(sessions):
        row = _describe(folder, analyze=not args.no_findings)
        name = os.path.basename(folder) + (" (latest)" if index == len(sessions) - 1 else "")
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created_ns(folder) / 1e9))
        cells = [Text(clean(name)), Text(started), Text(clean(row.command, limit=80)),
                 Text(str(row.processes)), Text(str(row.runs))]
        if not args.no_findings:
            cells.append(Text(row.findings))
        table.add_row(*cells)
    console.print(table)
    return 0


class _Row:
    def __init__(self, command: str, processes: int, runs: int, findings: str) -> None:
        self.command = command
        self.processes = processes
        self.runs = runs
        self.findings = findings


def _describe(folder: str, *, analyze: bool) -> _Row:
    from racetrace.analyzers.core.load import LoadError, trace_files
    from racetrace.analyzers.core.tableload import load_table

    try:
        table = load_table(trace_files([folder]))
    except LoadError as exc:
        return _Row(f"(unreadable: {exc})", 0, 0, "-")
    processes = table.processes
    pids = {p.pid for p in processes}
    roots = [p for p in processes if p.ppid not in pids] or list(processes)
    first = min(roots, key=lambda p: p.started_ns, default=None)
    argv = first.argv if first is not None else []
    command = " ".join([os.path.basename(argv[0]), *argv[1:]]) if argv else "-"
    findings = "-"
    if analyze:
        from racetrace.analyzers.findings.analyze import analyze as run_analysis

        report = run_analysis(table)
        warnings = sum(1 for f in report.findings if f.severity != "info")
        findings = str(len(report.findings))
        if len(report.findings) != warnings:
            findings += f" ({len(report.findings) - warnings} info)"
    return _Row(command, len(processes), len(table) - len(table.dropped), findings)

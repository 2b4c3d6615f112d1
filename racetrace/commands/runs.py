"""`racetrace runs`: every recorded run, as a table or as JSON."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "runs",
        help="list the recorded runs",
        description="List every run in the traces, merged across processes, sorted by start.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="trace files or directories")
    parser.add_argument("--json", action="store_true", help="print a JSON array of runs")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ._common import load_traces

    trace = load_traces(args.paths)
    if args.json:
        import orjson

        sys.stdout.buffer.write(
            orjson.dumps([r.to_json() for r in trace.runs], option=orjson.OPT_INDENT_2)
        )
        sys.stdout.buffer.write(b"\n")
        return 0
    _print_table(trace)
    return 0


def _print_table(trace: Any) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from racetrace.analyzers.timefmt import format_duration

    console = Console()
    if not trace.runs:
        console.print(Text(f"no runs in {', '.join(trace.files) or 'the given paths'}"))
        return
    origin = trace.runs[0].start_ns
    table = Table(title=Text(f"{len(trace.runs)} runs"), title_justify="left")
    for column in ("start", "duration", "status", "method", "instance", "task", "pid", "callsite"):
        table.add_column(column, no_wrap=column in ("start", "duration", "status", "pid"))
    for r in trace.runs:
        end = r.end_ns
        duration = format_duration(end - r.start_ns) if end is not None else "…"
        instance = r.instance_label or r.instance_class.rsplit(".", 1)[-1]
        # Text(), not markup strings: what a trace contains is data, never Rich markup.
        table.add_row(
            Text("+" + format_duration(r.start_ns - origin)),
            Text(duration),
            Text(r.status, style=_STATUS_STYLE.get(r.status, "")),
            Text(r.method),
            Text(f"{instance} ({r.instance_key})"),
            Text(r.task_name or "-"),
            Text(str(r.pid)),
            Text(r.callsite or "-"),
        )
    console.print(table)


_STATUS_STYLE = {"error": "red", "cancelled": "yellow", "unfinished": "magenta"}

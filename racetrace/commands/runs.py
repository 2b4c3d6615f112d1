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
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from racetrace.analyzers.sanitize import clean
    from racetrace.analyzers.timefmt import format_duration

    console = Console()
    if not trace.runs:
        console.print(Text(f"no runs in {', '.join(trace.files) or 'the given paths'}"))
        return
    origin = trace.runs[0].start_ns
    several_processes = len({r.process_key for r in trace.runs}) > 1
    columns = ["start", "duration", "status", "method", "instance", "task"]
    if several_processes:
        columns.append("pid")
    columns.append("callsite")
    table = Table(title=Text(f"{len(trace.runs)} runs"), title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    for column in columns:
        if column == "callsite":
            table.add_column(column, overflow="fold", min_width=16)
        else:
            table.add_column(column, no_wrap=True, overflow="ellipsis")
    def cell(text: str | None, limit: int = CELL_LIMIT, **style: Any) -> Text:
        # Text() of clean() text, never markup strings: what a trace holds is data, and may
        # carry Rich markup or terminal escapes. Cut to a screenful before anything measures
        # it: a 200 MB label is no more readable than its first line, and far slower.
        return Text(clean(text, limit=limit), **style)

    for r in trace.runs:
        end = r.end_ns
        duration = format_duration(end - r.start_ns) if end is not None else "…"
        instance = r.instance_label or r.instance_class[-CELL_LIMIT:].rsplit(".", 1)[-1]
        method = r.method[-CELL_LIMIT:]
        cells = [
            Text("+" + format_duration(r.start_ns - origin)),
            Text(duration),
            cell(r.status, style=_STATUS_STYLE.get(r.status, "")),
            cell(".".join(method.split(".")[-2:])),
            # The key's last part (its serial in its process) tells same-named objects apart.
            cell(f"{instance[:CELL_LIMIT]} #{r.instance_key[-CELL_LIMIT:].rsplit('/', 1)[-1]}",
                 limit=2 * CELL_LIMIT),
            cell(r.task_name or "-"),
        ]
        if several_processes:
            cells.append(Text(str(r.pid)))
        cells.append(cell(_short_path(r.callsite) or "-", limit=4 * CELL_LIMIT))
        table.add_row(*cells)
    console.print(table)


def _short_path(callsite: str | None) -> str | None:
    """A call site relative to the current directory when it is below it."""
    import os

    if callsite is None:
        return None
    try:
        relative = os.path.relpath(callsite)
    except ValueError:  # another drive
        return callsite
    return callsite if relative.startswith("..") else relative


CELL_LIMIT = 120  # characters of trace text a table cell shows

_STATUS_STYLE = {"error": "red", "cancelled": "yellow", "unfinished": "magenta"}

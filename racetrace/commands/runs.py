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

        from racetrace.analyzers.provenance import sites_by_instance

        sites = sites_by_instance(trace)
        runs = []
        for r in trace.runs:
            entry = r.to_json()
            site = sites.get(r.instance_key)
            entry["instance_created_at"] = site.to_json() if site is not None else None
            runs.append(entry)
        sys.stdout.buffer.write(orjson.dumps(runs, option=orjson.OPT_INDENT_2))
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
    for r in trace.runs:
        end = r.end_ns
        duration = format_duration(end - r.start_ns) if end is not None else "…"
        instance = r.instance_label or r.instance_class.rsplit(".", 1)[-1]
        # Text() of clean() text, never markup strings: what a trace holds is data, and may
        # carry Rich markup or terminal escapes.
        cells = [
            Text("+" + format_duration(r.start_ns - origin)),
            Text(duration),
            Text(clean(r.status), style=_STATUS_STYLE.get(r.status, "")),
            Text(clean(".".join(r.method.split(".")[-2:]))),
            # The key's last part (its serial in its process) tells same-named objects apart.
            Text(clean(f"{instance} #{r.instance_key.rsplit('/', 1)[-1]}")),
            Text(clean(r.task_name or "-")),
        ]
        if several_processes:
            cells.append(Text(str(r.pid)))
        cells.append(Text(clean(_short_path(r.callsite) or "-")))
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


_STATUS_STYLE = {"error": "red", "cancelled": "yellow", "unfinished": "magenta"}

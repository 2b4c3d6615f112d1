"""`racetrace runs`: every recorded run, as a table or as JSON, with how much each overlapped."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from ._common import add_path_arguments

_COLUMNS = ("start", "duration", "status", "overlaps", "method", "instance", "task", "pid",
            "callsite")


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "runs",
        help="list the recorded runs",
        description=(
            "List every run in the traces, merged across processes, sorted by start: when it "
            "started (from the first run), how long it took, how it ended, how many other runs "
            "on its object (or resource key) it overlapped and of what kind, and where it was "
            "called from. Piped or redirected, no column is cut."
        ),
    )
    add_path_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print a JSON array of runs")
    parser.add_argument("--instance", metavar="TEXT",
                        help="only runs on instances whose label, class, instance key or "
                             "resource key contains TEXT")
    parser.add_argument("--only-overlapping", action="store_true",
                        help="only runs that overlapped another run on their instance or "
                             "resource key")
    parser.add_argument("--key-attr", metavar="ATTR",
                        help="span attribute that identifies the instance in other tools' OTLP "
                             "spans (e.g. gen_ai.agent.name)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ._common import load_traces, session_paths

    paths = session_paths(args.paths, all_sessions=args.all_sessions)
    trace = load_traces(paths, key_attr=args.key_attr)
    runs = list(trace.runs)
    overlaps = overlap_counts(trace)
    if args.instance:
        runs = [r for r in runs if _matches(r, args.instance)]
    if args.only_overlapping:
        runs = [r for r in runs if overlaps.get(r.run_id, 0)]
    if args.json:
        import orjson

        from racetrace.analyzers.findings.provenance import sites_by_instance

        sites = sites_by_instance(trace)
        rows = []
        for r in runs:
            row = r.to_json()
            row["overlapping_runs"] = overlaps.get(r.run_id, 0)
            site = sites.get(r.instance_key)
            row["instance_created_at"] = site.to_json() if site is not None else None
            rows.append(row)
        sys.stdout.buffer.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2))
        sys.stdout.buffer.write(b"\n")
        return 0
    kinds = _kinds_by_key(trace) if any(overlaps.values()) else {}
    _print_table(trace, runs, overlaps, kinds)
    return 0


def _matches(run: Any, text: str) -> bool:
    needle = text.lower()
    return any(
        needle in (value or "").lower()
        for value in (run.instance_label, run.instance_class, run.instance_key, run.resource_key)
    )


def overlap_counts(trace: Any) -> dict[str, int]:
    """Run id → how many other runs it overlapped on its instance key, or on its resource key
    when that is more (a conversation shared by several objects)."""
    from racetrace.analyzers.findings.overlap import overlap_counts as counts_of

    counts: dict[str, int] = {}
    groups: dict[tuple[str, str], list[Any]] = {}
    for r in trace.runs:
        groups.setdefault(("instance", r.instance_key), []).append(r)
        if r.resource_key is not None:
            groups.setdefault(("resource", r.resource_key), []).append(r)
    for group in groups.values():
        if len(group) < 2:
            continue
        found = counts_of([(r.start_ns, trace.last_ns_of(r)) for r in group])
        for r, n in zip(group, found, strict=True):
            if n > counts.get(r.run_id, 0):
                counts[r.run_id] = n
    return counts


def _kinds_by_key(trace: Any) -> dict[str, str]:
    """Instance or resource key → the kinds of overlap the analysis found on it."""
    from racetrace.analyzers.findings.analyze import analyze
    from racetrace.analyzers.findings.report import OVERLAP_KINDS

    kinds: dict[str, list[str]] = {}
    for finding in analyze(trace, max_pairs=1).findings:
        if finding.kind in OVERLAP_KINDS:
            found = kinds.setdefault(finding.instance_key, [])
            if finding.kind not in found:
                found.append(finding.kind)
    return {key: ",".join(found) for key, found in kinds.items()}


def _print_table(trace: Any, runs: Sequence[Any], overlaps: dict[str, int],
                 kinds: dict[str, str]) -> None:
    from racetrace.analyzers.findings.timefmt import format_duration
    from racetrace.analyzers.outputs.sanitize import clean

    out = sys.stdout
    if not runs:
        if trace.runs:
            out.write(f"no runs match (of {len(trace.runs)})\n")
        else:
            out.write(clean(f"no runs in {', '.join(trace.files) or 'the input'}") + "\n")
            for problem in trace.problems:  # other tools' spans left out: why, and --key-attr
                if "left out" in problem:
                    out.write(clean(problem) + "\n")
        return
    origin = trace.runs[0].start_ns
    several_processes = len({r.process_key for r in runs}) > 1
    columns = [c for c in _COLUMNS if c != "pid" or several_processes]
    rows = []
    for r in runs:
        end = r.end_ns
        count = overlaps.get(r.run_id, 0)
        kind = kinds.get(r.instance_key) or kinds.get(r.resource_key or "", "")
        instance = r.instance_label or r.instance_class.rsplit(".", 1)[-1]
        cells = {
            "start": "+" + format_duration(r.start_ns - origin),
            "duration": format_duration(end - r.start_ns) if end is not None else "…",
            "status": r.status,
            "overlaps": f"{count} {kind}".rstrip() if count else "-",
            "method": ".".join(r.method.split(".")[-2:]),
            # The key's last part (its serial in its process) tells same-named objects apart.
            "instance": f"{instance} #{r.instance_key.rsplit('/', 1)[-1]}",
            "task": r.task_name or "-",
            "pid": str(r.pid or "?"),
            "callsite": _short_path(r.callsite) or "-",
        }
        # What a trace holds is data: escapes become visible, never reach the terminal.
        # Cut to a screenful before anything measures it: a 200 MB label is no more readable
        # than its first line, and far slower.
        rows.append([clean(cells[c], limit=CELL_LIMIT) for c in columns])
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(columns)]
    lines = [f"{len(runs)} run{'s' if len(runs) != 1 else ''}"
             + (f" of {len(trace.runs)}" if len(runs) != len(trace.runs) else ""),
             _line(columns, widths), _line(["-" * w for w in widths], widths)]
    lines.extend(_line(row, widths) for row in rows)
    out.write("\n".join(lines) + "\n")


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    # The last column is not padded: a long call site wraps in a terminal, never is cut.
    return "  ".join([*(c.ljust(w) for c, w in zip(cells[:-1], widths, strict=False)),
                      cells[-1]])


def _short_path(callsite: str | None) -> str | None:
    """A call site relative to the current directory when it is below it."""
    if callsite is None:
        return None
    try:
        relative = os.path.relpath(callsite)
    except ValueError:  # another drive
        return callsite
    return callsite if relative.startswith("..") else relative


CELL_LIMIT = 200  # characters of trace text a table cell shows

"""`racetrace runs`: every recorded run, as a table or as JSON, with how much each overlapped."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
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
    from racetrace.analyzers.core import rowviews

    from ._common import load_table_traces, report_damage, session_paths

    paths = session_paths(args.paths, all_sessions=args.all_sessions)
    table = load_table_traces(paths, key_attr=args.key_attr)
    every = rowviews.start_order(table)
    overlaps = overlap_counts(table, every)
    rows = every
    if args.instance:
        import numpy as np

        rows = rows[np.array([_matches(r, args.instance) for r in rowviews.views(table, rows)],
                             dtype=bool)]
    if args.only_overlapping:
        rows = rows[overlaps[rows] > 0]
    if args.json:
        _write_json(table, rows, overlaps)
    else:
        kinds = _kinds_by_key(table) if overlaps.any() else {}
        _print_table(table, every, rows, overlaps, kinds)
    report_damage(table)
    return 0


def _write_json(table: Any, rows: Any, overlaps: Any) -> None:
    """The runs as one JSON array, as `orjson.dumps(list, OPT_INDENT_2)` prints it, written
    run by run: each run's object indented one level deeper (a JSON text holds no raw
    newline, so every newline in it starts a line)."""
    import orjson

    from racetrace.analyzers.core import rowviews
    from racetrace.analyzers.findings.provenance import sites_by_instance

    sites = sites_by_instance(_Lanes(table))
    out = sys.stdout.buffer
    if not len(rows):
        out.write(b"[]\n")
        return
    out.write(b"[\n")
    separator = b"  "
    for r, count in zip(rowviews.views(table, rows), overlaps[rows].tolist(), strict=True):
        row = r.to_json()
        row["overlapping_runs"] = count
        site = sites.get(r.instance_key)
        row["instance_created_at"] = site.to_json() if site is not None else None
        out.write(separator)
        out.write(orjson.dumps(row, option=orjson.OPT_INDENT_2).replace(b"\n", b"\n  "))
        separator = b",\n  "
    out.write(b"\n]\n")


class _Lanes:
    """What `sites_by_instance` reads of a trace: each instance's runs in start order (their
    first two, as views)."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def runs_by_instance(self) -> dict[str, Any]:
        from racetrace.analyzers.core import rowviews

        table = self.table
        keys = table.instance_keys
        return {keys[int(table.instance[lane[0]])]: table.runs(lane[:2])
                for lane in rowviews.groups(table.instance, rowviews.start_order(table))}


def _matches(run: Any, text: str) -> bool:
    needle = text.lower()
    return any(
        needle in (value or "").lower()
        for value in (run.instance_label, run.instance_class, run.instance_key, run.resource_key)
    )


def overlap_counts(table: Any, rows: Any) -> Any:
    """Per row, how many other runs it overlapped on its instance key, or on its resource key
    when that is more (a conversation shared by several objects); a run id loaded twice (in
    two files) counts the more of its two. `rows`: the table's runs, in start order."""
    import numpy as np

    from racetrace.analyzers.core import rowviews

    counts = np.zeros(len(table), dtype=np.int64)
    ends = rowviews.last_ns(table)
    for keys in (table.instance, table.resource):
        for group in rowviews.groups(keys, rows):
            if len(group) < 2:
                continue
            start, end = table.start[group], ends[group]
            full = end > start
            starts, finish = np.sort(start[full]), np.sort(end[full])
            found = (np.searchsorted(starts, end, "left")
                     - np.searchsorted(finish, start, "right") - 1)
            np.maximum.at(counts, group, np.where(full, found, 0))
    _same_ids(table, rows, counts)
    return counts


def _same_ids(table: Any, rows: Any, counts: Any) -> None:
    """The rare path: a run id on several rows (two files that are not copies): each gets the
    largest count of them."""
    import numpy as np

    if not table.alien_ids and len(np.unique(table.rid[rows])) == len(rows):
        return
    most: dict[str, int] = {}
    for row in rows.tolist():
        run_id = table.run_id(row)
        most[run_id] = max(most.get(run_id, 0), int(counts[row]))
    for row in rows.tolist():
        counts[row] = most[table.run_id(row)]


def _kinds_by_key(table: Any) -> dict[str, str]:
    """Instance or resource key → the kinds of overlap the analysis found on it."""
    from racetrace.analyzers.findings.analyze import analyze
    from racetrace.analyzers.findings.report import OVERLAP_KINDS

    kinds: dict[str, list[str]] = {}
    for finding in analyze(table, max_pairs=1).findings:
        if finding.kind in OVERLAP_KINDS:
            found = kinds.setdefault(finding.instance_key, [])
            if finding.kind not in found:
                found.append(finding.kind)
    return {key: ",".join(found) for key, found in kinds.items()}


def _print_table(table: Any, every: Any, rows: Any, overlaps: Any,
                 kinds: dict[str, str]) -> None:
    """The runs as a table, its columns as wide as their widest cell: the cells are made
    twice, once to measure them and once to write them, rather than held for every run."""
    import numpy as np

    from racetrace.analyzers.outputs.sanitize import clean

    out = sys.stdout
    if not len(rows):
        if len(every):
            out.write(f"no runs match (of {len(every)})\n")
        else:
            out.write(clean(f"no runs in {', '.join(table.files) or 'the input'}") + "\n")
            for problem in table.problems:  # other tools' spans left out: why, and --key-attr
                if "left out" in problem:
                    out.write(clean(problem) + "\n")
        return
    origin = int(table.start[every[0]])
    several_processes = len(np.unique(table.process[rows])) > 1
    columns = [c for c in _COLUMNS if c != "pid" or several_processes]
    widths = [len(c) for c in columns]
    for cells in _cells(table, rows, overlaps, kinds, origin, columns):
        widths = list(map(max, widths, map(len, cells)))
    out.write("\n".join([
        f"{len(rows)} run{'s' if len(rows) != 1 else ''}"
        + (f" of {len(every)}" if len(rows) != len(every) else ""),
        _line(columns, widths), _line(["-" * w for w in widths], widths)]) + "\n")
    lines: list[str] = []
    for cells in _cells(table, rows, overlaps, kinds, origin, columns):
        lines.append(_line(cells, widths))
        if len(lines) == 4096:
            out.write("\n".join(lines) + "\n")
            lines = []
    if lines:
        out.write("\n".join(lines) + "\n")


def _cells(table: Any, rows: Any, overlaps: Any, kinds: dict[str, str], origin: int,
           columns: list[str]) -> Iterator[list[str]]:
    """Each run's cells, as shown."""
    from racetrace.analyzers.core import rowviews
    from racetrace.analyzers.findings.timefmt import format_duration
    from racetrace.analyzers.outputs.sanitize import clean

    cleaned: dict[str, str] = {}  # most cells repeat: a method, an instance, a call site
    sites: dict[str | None, str | None] = {}

    def shown(text: str) -> str:
        done = cleaned.get(text)
        if done is None:
            if len(cleaned) > 100_000:
                cleaned.clear()
            done = cleaned[text] = clean(text, limit=CELL_LIMIT)
        return done

    for r, count in zip(rowviews.views(table, rows), overlaps[rows].tolist(), strict=True):
        end = r.end_ns
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
            "callsite": _site(sites, r.callsite) or "-",
        }
        # What a trace holds is data: escapes become visible, never reach the terminal.
        # Cut to a screenful before anything measures it: a 200 MB label is no more readable
        # than its first line, and far slower.
        yield [shown(cells[c]) for c in columns]


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    # The last column is not padded: a long call site wraps in a terminal, never is cut.
    return "  ".join([*(c.ljust(w) for c, w in zip(cells[:-1], widths, strict=False)),
                      cells[-1]])


def _site(known: dict[str | None, str | None], callsite: str | None) -> str | None:
    if callsite not in known:
        if len(known) > 100_000:
            known.clear()
        known[callsite] = _short_path(callsite)
    return known[callsite]


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

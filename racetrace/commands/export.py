"""`racetrace export`: the runs in another tool's format (Perfetto, OTLP JSON lines), or the
timeline as a picture (SVG, HTML) for CI logs and pull requests, where no terminal is."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from typing import Any

from racetrace.cli import UsageError

from ._common import add_path_arguments

FORMATS = ("chrome", "otlp", "svg", "html")
PICTURES = ("svg", "html")
FORMAT_HELP = (
    "chrome: Chrome trace events, for https://ui.perfetto.dev; "
    "otlp: OTLP JSON lines, for OpenTelemetry tools; "
    "svg: the timeline as the TUI draws it (lanes, runs, overlaps hatched, failed, cancelled "
    "and unfinished runs marked, the findings), for a CI artifact or a pull request; "
    "html: the same picture as one self-contained web page"
)


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "export",
        help="export runs for Perfetto or OpenTelemetry tools, or the timeline as SVG/HTML",
        description=(
            "Write the runs as Chrome trace events (open in https://ui.perfetto.dev or "
            "chrome://tracing; overlapping runs of one object appear side by side, findings as "
            "markers), as OTLP JSON lines, the OpenTelemetry Collector's file format "
            "(otel-tui --from-json-file, or a Collector's otlpjsonfile receiver), or draw the "
            "timeline as racetrace tui shows it, as an SVG picture or one HTML file, for where "
            "there is no terminal: a CI artifact, a pull request. Files written are readable "
            "by you alone (0600): traces show your program's insides."
        ),
        epilog=(
            "examples: racetrace export --format svg -o timeline.svg (the latest session); "
            "racetrace export racetrace-traces/NAME -f chrome -o trace.json"
        ),
    )
    add_path_arguments(parser)
    parser.add_argument("--format", "-f", choices=FORMATS, required=True, metavar="FORMAT",
                        help=f"one of {', '.join(FORMATS)}. {FORMAT_HELP}")
    parser.add_argument("-o", "--output", metavar="FILE", default="-",
                        help="where to write (default: stdout)")
    parser.add_argument("--width", type=int, default=160, metavar="COLUMNS",
                        help="svg, html: the picture's width in terminal columns (default: "
                             "160, at least 80); its height fits every lane and finding")
    parser.add_argument("--key-attr", metavar="ATTR",
                        help="span attribute that identifies the instance in foreign OTLP spans")
    parser.add_argument("--no-findings", action="store_true",
                        help="chrome, svg, html: leave out the findings (skips the analysis)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from racetrace.analyzers.outputs import exports

    from ._common import load_table_traces, load_traces, report_damage, session_paths

    paths = session_paths(args.paths, all_sessions=args.all_sessions)
    if args.format in PICTURES:
        trace = load_traces(paths, key_attr=args.key_attr)
        gc.freeze()  # the trace lives until exit: spare the cyclic collector rescanning it
        return _picture(args, trace, paths)
    # Written run by run from the columns: no `Run` object per run held.
    table = load_table_traces(paths, key_attr=args.key_attr)
    gc.freeze()
    if args.format == "otlp":
        chunks = exports.otlp_table_lines(table)
    else:
        report = None
        if not args.no_findings:
            from racetrace.analyzers.findings.analyze import analyze

            report = analyze(table)
        chunks = exports.chrome_table_chunks(table, report)
    _write(chunks, args.output)
    report_damage(table)
    return 0


def _picture(args: argparse.Namespace, trace: Any, paths: list[str]) -> int:
    """The timeline as the TUI draws it (`racetrace.tui.picture`), with the analysis' findings."""
    from racetrace.analyzers.findings.analyze import analyze
    from racetrace.tui.picture import render

    from .tui import read_suppressions

    suppressions = read_suppressions(None)
    report = None if args.no_findings or not trace.runs else analyze(
        trace, suppressions=suppressions)
    source = " ".join(paths) or (
        os.path.dirname(trace.files[0]) if trace.files else "racetrace-traces")
    text = render(trace, report, source=source, fmt=args.format, width=args.width)
    _write(iter([text.encode()]), args.output)
    return 0


def _write(chunks: Any, target: str) -> None:
    if target == "-":
        out = sys.stdout.buffer
        for chunk in chunks:
            out.write(chunk)
        out.flush()
        return
    from racetrace.analyzers.outputs.outfile import open_private

    try:
        with open_private(target) as f:
            for chunk in chunks:
                f.write(chunk)
    except OSError as exc:
        raise UsageError(f"{target}: cannot write: {exc.strerror or exc}") from None

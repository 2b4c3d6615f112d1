"""`racetrace export`: the runs in another tool's format (Perfetto, OTLP JSON lines)."""

from __future__ import annotations

import argparse
import gc
import sys
from typing import Any

from racetrace.cli import UsageError

FORMATS = ("chrome", "otlp")


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "export",
        help="export runs for Perfetto (chrome) or OpenTelemetry tools (otlp)",
        description=(
            "Write the runs as Chrome trace events (open in https://ui.perfetto.dev or "
            "chrome://tracing; overlapping runs of one object appear side by side, findings as "
            "markers) or as OTLP JSON lines, the OpenTelemetry Collector's file format "
            "(otel-tui --from-json-file, or a Collector's otlpjsonfile receiver)."
        ),
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="trace files or directories")
    parser.add_argument("--format", "-f", choices=FORMATS, required=True)
    parser.add_argument("-o", "--output", metavar="FILE", default="-",
                        help="where to write (default: stdout)")
    parser.add_argument("--key-attr", metavar="ATTR",
                        help="span attribute that identifies the instance in foreign OTLP spans")
    parser.add_argument("--no-findings", action="store_true",
                        help="chrome: leave out the finding markers (skips the analysis)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from racetrace.analyzers import exports

    from ._common import load_traces

    trace = load_traces(args.paths, key_attr=args.key_attr)
    gc.freeze()  # the trace lives until exit: spare the cyclic collector rescanning it
    if args.format == "otlp":
        chunks = exports.otlp_lines(trace)
    else:
        import orjson

        report = None
        if not args.no_findings:
            from racetrace.analyzers.analyze import analyze

            report = analyze(trace)
        chunks = iter([orjson.dumps(exports.chrome_trace(trace, report)) + b"\n"])
    _write(chunks, args.output)
    return 0


def _write(chunks: Any, target: str) -> None:
    if target == "-":
        out = sys.stdout.buffer
        for chunk in chunks:
            out.write(chunk)
        out.flush()
        return
    from racetrace.analyzers.outfile import open_private

    try:
        with open_private(target) as f:
            for chunk in chunks:
                f.write(chunk)
    except OSError as exc:
        raise UsageError(f"{target}: cannot write: {exc.strerror or exc}") from None

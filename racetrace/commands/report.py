"""`racetrace report`: find the runs that overlapped, explain them, and exit as CI asks."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from racetrace.cli import UsageError

from ._common import add_path_arguments


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "report",
        help="find and explain overlapping runs",
        description=(
            "Find every run that overlapped another on the same object (or resource key), "
            "say what kind of overlap it was and how to fix it. Exit status: 0, or 66 when a "
            "finding matches --fail-on, or 2 for bad usage or unreadable input."
        ),
        epilog=(
            "--fail-on terms (comma-separated or repeated): overlap (any overlap kind at "
            "warning or above), a severity (error, warning, info: that or worse), a kind "
            "(concurrent, reentrant, periodic, cross-process, latent, unfinished, errors, "
            "nested-loop, loop-blocking), "
            "KIND:SEVERITY, any, never. Suppressions file: one rule a line, benign:GLOB or "
            "ignore:GLOB, matched against the class or class.method."
        ),
    )
    add_path_arguments(parser)
    parser.add_argument("--json", metavar="FILE",
                        help="write the JSON report (racetrace.report/1) to FILE ('-': stdout)")
    parser.add_argument("--fail-on", action="append", metavar="SPEC", default=None,
                        help="exit 66 when a finding matches SPEC (default: never)")
    parser.add_argument("--suppressions", metavar="FILE",
                        help="suppressions file (default: $RACETRACE_SUPPRESSIONS)")
    parser.add_argument("--key-attr", metavar="ATTR",
                        help="span attribute that identifies the instance in foreign OTLP spans "
                             "(e.g. gen_ai.agent.name for AutoGen)")
    parser.add_argument("--max-pairs", type=int, default=100, metavar="N",
                        help="overlapping pairs listed per finding (counts are always exact; "
                             "default 100)")
    parser.add_argument("--blocking-threshold", metavar="DURATION", default=None,
                        help="a sync run that holds a running event loop this long is a "
                             "loop-blocking finding (e.g. 100ms, 0.5s; a bare number is ms; "
                             "default 100ms)")
    parser.add_argument("-j", "--jobs", type=int, choices=(1, 2), default=None,
                        help="1: analyze in this process only; 2: split the files of "
                             "different processes between two processes whenever the machine "
                             "allows (Linux, two CPUs). Default: two processes once the traces "
                             "reach 64 MB, one below that")
    parser.add_argument("--allow-empty", action="store_true",
                        help="with --fail-on, let input with no runs pass (exit 0); by "
                             "default it is exit 2, so a gate on a misconfigured target or an "
                             "empty folder cannot pass by accident")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="info findings in full, every listed run")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print only the SUMMARY line")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from racetrace.analyzers.findings.suppressions import SuppressionError, Suppressions
    from racetrace.analyzers.outputs.failon import EXIT_FINDINGS, FailOn, FailOnError

    if args.max_pairs < 1:
        raise UsageError("--max-pairs must be at least 1")
    threshold = blocking_threshold(args.blocking_threshold)
    try:
        fail_on = FailOn.parse(args.fail_on)
        rules = (Suppressions.from_file(args.suppressions) if args.suppressions
                 else Suppressions.from_env())
    except (FailOnError, SuppressionError) as exc:
        raise UsageError(str(exc)) from None

    from ._common import analyze_traces, report_damage, session_paths, why_empty

    paths = session_paths(args.paths, all_sessions=args.all_sessions, quiet=args.quiet)
    report = analyze_traces(paths, key_attr=args.key_attr, suppressions=rules,
                            max_pairs=args.max_pairs, jobs=args.jobs,
                            blocking_threshold_ns=threshold)
    if fail_on and not report.summary.runs and not args.allow_empty:
        report_damage(report.trace)
        raise UsageError(f"{why_empty(report.trace, paths)}; --allow-empty lets that pass")
    try:
        if args.json:
            _write_json(report, args.json)
        if args.json != "-":
            _print_text(report, verbose=args.verbose, quiet=args.quiet)
    finally:
        report_damage(report.trace)
    if fail_on and fail_on.matching(report.findings):
        return EXIT_FINDINGS
    return 0


def blocking_threshold(text: str | None) -> int | None:
    """`--blocking-threshold` in ns (None: the analyzer's default); bad input is a usage error."""
    if text is None:
        return None
    from racetrace.analyzers.findings.timefmt import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--blocking-threshold: {exc}") from None


def _write_json(report: Any, target: str) -> None:
    import orjson

    data = orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2) + b"\n"
    if target == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    from racetrace.analyzers.outputs.outfile import open_private

    try:
        with open_private(target) as f:
            f.write(data)
    except OSError as exc:
        raise UsageError(f"{target}: cannot write the report: {exc.strerror or exc}") from None


def _print_text(report: Any, *, verbose: bool, quiet: bool) -> None:
    from rich.console import Console

    from racetrace.analyzers.outputs.render_text import render, summary_line

    # In a terminal, paragraphs wrap to its width; into a file or a CI log, each line stays
    # whole, so that it can be grepped.
    console = Console(highlight=False, soft_wrap=not sys.stdout.isatty())
    if quiet:
        console.print(summary_line(report))
    else:
        render(report, console, verbose=verbose)

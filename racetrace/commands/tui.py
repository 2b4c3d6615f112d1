"""`racetrace tui PATH...`: the interactive timeline of runs per instance, overlaps in red."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from racetrace.cli import UsageError

from ._common import add_path_arguments, default_root, session_paths

EXIT_INPUT = 2


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "tui",
        help="open the interactive timeline",
        description=(
            "Show runs per instance on a terminal timeline: one lane per instance, runs as "
            "bars, overlapping stretches in red, every finding one key away (n/N). Press ? "
            "inside for the keys."
        ),
        epilog="examples: racetrace tui (the latest session); racetrace tui --follow (the "
               "latest session, and the next one your program starts)",
    )
    add_path_arguments(parser)
    parser.add_argument(
        "--follow", "-f", action="store_true",
        help="keep reading while the traced program runs: new files, new lines, growing runs",
    )
    parser.add_argument(
        "--suppressions", metavar="FILE", default=None,
        help="suppression rules for the analysis (default: $RACETRACE_SUPPRESSIONS)",
    )
    parser.add_argument("--key-attr", metavar="ATTR",
                        help="span attribute that identifies the instance in other tools' OTLP "
                             "spans (e.g. gen_ai.agent.name)")
    parser.add_argument(
        "--blocking-threshold", metavar="DURATION", default=None,
        help="a sync run that holds a running event loop this long is a loop-blocking "
             "finding (e.g. 100ms, 0.5s; default 100ms)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    skip = None
    if args.follow:  # a session that starts after this one does is to be seen too
        paths = list(args.paths) or [default_root()]
        if not args.all_sessions:
            skip = older_sessions(paths)
    else:
        paths = session_paths(args.paths, all_sessions=args.all_sessions)
    _check_paths(paths, follow=args.follow)
    suppressions = read_suppressions(args.suppressions)
    from .report import blocking_threshold

    threshold = blocking_threshold(args.blocking_threshold)
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        raise UsageError(
            "tui needs a terminal; for a report on stdout use: racetrace report "
            + " ".join(paths)
        )
    return open_timeline(paths, follow=args.follow, suppressions=suppressions,
                         key_attr=args.key_attr, blocking_threshold_ns=threshold,
                         follow_skip=skip)


def older_sessions(paths: list[str]) -> Any:
    """For --follow on folders of sessions: a test telling the sessions that ended before the
    latest one (kept, not followed) from the latest and those that start from now on."""
    from pathlib import Path

    from racetrace.tracer.session import created_ns, is_session, sessions_in

    since: dict[Path, int] = {}
    for path in paths:
        if os.path.isdir(path) and not is_session(path):
            found = sessions_in(path)
            since[Path(path).resolve()] = created_ns(found[-1]) if found else 0
    if not since:
        return None

    def skip(folder: Path) -> bool:
        if not is_session(str(folder)):
            return False
        start = since.get(folder.resolve().parent)
        return start is not None and created_ns(str(folder)) < start

    return skip


def read_suppressions(path: str | None) -> Any:
    """The rules from `--suppressions FILE`, else from $RACETRACE_SUPPRESSIONS, else none."""
    from racetrace.analyzers.findings.suppressions import SuppressionError, Suppressions

    try:
        return Suppressions.from_file(path) if path else Suppressions.from_env()
    except SuppressionError as exc:
        raise UsageError(str(exc)) from None


def open_timeline(
    paths: list[str], *, follow: bool = False, suppressions: Any = None,
    source: str | None = None, trace: Any = None, report: Any = None,
    key_attr: str | None = None,
    blocking_threshold_ns: int | None = None,
    follow_skip: Any = None,
) -> int:
    """Run the app until the user quits; a load failure becomes one stderr line and exit 2."""
    from racetrace.tui.app import RacetraceApp

    app = RacetraceApp(
        paths, follow=follow, suppressions=suppressions, source=source, trace=trace,
        report=report, key_attr=key_attr,
        blocking_threshold_ns=blocking_threshold_ns, follow_skip=follow_skip,
    )
    app.run()
    if app.failure is not None:
        from racetrace.tui.textsafe import clean

        print(f"racetrace: {clean(app.failure)}", file=sys.stderr)
        return EXIT_INPUT
    return int(app.return_code or 0)


def _check_paths(paths: list[str], *, follow: bool) -> None:
    """Fail before the screen opens on what is plainly wrong: a path that does not exist."""
    from racetrace.analyzers.core.load import LoadError, trace_files

    try:
        trace_files(paths)
    except LoadError as exc:
        if follow and not any(os.path.exists(p) for p in paths):
            hint = "; create it, or start the traced program first"
            raise UsageError(f"{exc}{hint}") from None
        raise UsageError(str(exc)) from None

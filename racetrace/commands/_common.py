"""What several commands share: loading traces with clear errors and a progress bar."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from racetrace.cli import UsageError, skip_teardown

if TYPE_CHECKING:
    from racetrace.analyzers.core.model import Trace
    from racetrace.analyzers.core.table import Table
    from racetrace.analyzers.findings.report import Report
    from racetrace.analyzers.findings.suppressions import Suppressions


def default_root() -> str:
    """Where traced programs write when nothing else is said: `$RACETRACE_DIR`."""
    return os.environ.get("RACETRACE_DIR") or "racetrace-traces"


def add_path_arguments(parser: Any) -> None:
    """PATH... (default: the latest session) and --all, as report, runs, export and tui take
    them."""
    parser.add_argument(
        "paths", nargs="*", metavar="PATH",
        help="trace files, a session's folder, or a folder of sessions (its latest session is "
             "read). Default: the latest session in $RACETRACE_DIR or ./racetrace-traces",
    )
    parser.add_argument(
        "--all", dest="all_sessions", action="store_true",
        help="read every session in a folder of sessions, not only the latest",
    )


def session_paths(paths: Sequence[str], *, all_sessions: bool = False,
                  quiet: bool = False) -> list[str]:
    """The paths a command reads. No PATH means the default folder. A folder that holds
    sessions means its latest one, said on stderr, unless `all_sessions`; trace files it holds
    outside any session (the pytest plugin's, an older flat folder's) count as one more session,
    as recent as its newest file. A folder without sessions is read as it is."""
    from racetrace.tracer.session import created_ns, is_session, sessions_in

    if not paths and not os.path.exists(default_root()):
        raise UsageError(f"{default_root()}: no traces yet: trace a program first "
                         "(RACETRACE=1 python app.py, or racetrace run -- python app.py)")
    chosen: list[str] = []
    for path in paths or [default_root()]:
        if all_sessions or not os.path.isdir(path) or is_session(path):
            chosen.append(path)
            continue
        sessions = sessions_in(path)
        if not sessions:
            chosen.append(path)
            continue
        loose = _loose_trace_files(path)
        newest_loose = max((_mtime_ns(f) for f in loose), default=-1)
        if newest_loose > created_ns(sessions[-1]):
            picked, what = loose, f"the trace files outside its sessions in {path}"
        else:
            picked, what = [sessions[-1]], sessions[-1]
        count = len(sessions) + (1 if loose else 0)
        if not quiet and count > 1:
            from racetrace.analyzers.outputs.sanitize import clean

            print(
                f"racetrace: reading the latest of {count} sessions, {clean(what)} (--all for "
                "every one; `racetrace sessions` lists them)",
                file=sys.stderr,
            )
        chosen.extend(picked)
    return chosen


def _loose_trace_files(directory: str) -> list[str]:
    """Trace files below `directory` that lie in none of its sessions."""
    from racetrace.tracer.session import is_session

    found: list[str] = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not is_session(os.path.join(root, d)))
        found.extend(os.path.join(root, n) for n in sorted(names) if n.endswith(".jsonl"))
    return found


def _mtime_ns(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def load_traces(paths: Sequence[str], *, key_attr: str | None = None, quiet: bool = False,
                details: Literal["eager", "lazy"] = "eager") -> Trace:
    """Load traces for a command: LoadError becomes a usage error, damage one stderr line, and
    a progress bar appears on stderr when the load takes more than a second. `details="lazy"`
    for a command that shows only a few runs (see `load`)."""
    from racetrace.analyzers.core.load import load

    with _loading(quiet) as progress:
        trace = load(paths, key_attr=key_attr, on_progress=progress, details=details)
    report_damage(trace)
    skip_teardown()
    return trace


def load_table_traces(paths: Sequence[str], *, key_attr: str | None = None,
                      quiet: bool = False) -> Table:
    """Load traces into columns (`load_table`) for a command that writes its runs one by one
    (their views made as they are written), with the errors and progress bar of `load_traces`.
    The damage line is the caller's to print (`report_damage`) once the runs are written: only
    then are their details read, and checked."""
    from racetrace.analyzers.core.load import trace_files
    from racetrace.analyzers.core.tableload import load_table

    with _loading(quiet) as progress:
        table = load_table(trace_files(paths), key_attr=key_attr, on_progress=progress)
    skip_teardown()
    return table


def analyze_traces(paths: Sequence[str], *, key_attr: str | None, suppressions: Suppressions,
                   max_pairs: int, jobs: int | None = None,
                   blocking_threshold_ns: int | None = None) -> Report:
    """Load and analyze traces for `racetrace report`, on two cores where that pays, with the
    same errors and progress bar as `load_traces`. The damage line is the caller's to print
    (`report_damage`) once the report is shown: only then are the details of the runs it
    shows read, and checked."""
    from racetrace.analyzers.findings.parallel import analyze_paths

    with _loading(quiet=False) as progress:
        extra = ({} if blocking_threshold_ns is None
                 else {"blocking_threshold_ns": blocking_threshold_ns})
        report = analyze_paths(paths, key_attr=key_attr, on_progress=progress,
                               suppressions=suppressions, max_pairs=max_pairs, jobs=jobs,
                               **extra)
    skip_teardown()
    return report


@contextmanager
def _loading(quiet: bool) -> Iterator[_Progress | None]:
    from racetrace.analyzers.core.load import LoadError

    progress = _Progress() if not quiet and sys.stderr.isatty() else None
    try:
        yield progress
    except LoadError as exc:
        raise UsageError(str(exc)) from None
    finally:
        if progress is not None:
            progress.close()


def report_damage(trace: Trace | Table) -> None:
    """One stderr line for the damaged lines the load skipped and the runs whose details were
    found damaged when read (lazy loads), one per file ignored. What a trace holds (run ids,
    file names, types) is escaped as in the report body: it may carry terminal escapes."""
    from racetrace.analyzers.core.details import unreadable
    from racetrace.analyzers.outputs.sanitize import clean

    runs, problems = unreadable()
    skipped = trace.skipped_lines + runs
    if skipped:
        first = (trace.problems or problems or [""])[0]
        print(
            f"racetrace: skipped {skipped} damaged line{'s' if skipped != 1 else ''} "
            f"(first: {clean(first, limit=500)})",
            file=sys.stderr,
        )
    for problem in trace.problems:
        if "ignored, not a trace file" in problem:
            print(f"racetrace: {clean(problem, limit=500)}", file=sys.stderr)


class _Progress:
    """A Rich progress bar on stderr, shown only once a load has taken a second."""

    def __init__(self) -> None:
        self._started = time.monotonic()
        self._bar = None
        self._task = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            if time.monotonic() - self._started < 1.0 or done >= total:
                return
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

            self._bar = Progress(
                TextColumn("reading traces"), BarColumn(), DownloadColumn(),
                console=Console(stderr=True), transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("load", total=total)
        self._bar.update(self._task, completed=done)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def why_empty(trace: Trace, paths: Sequence[str]) -> str:
    """One line on why a trace holds no run, for a gate that must not pass by accident."""
    from racetrace.analyzers.outputs.sanitize import clean

    where = clean(", ".join(paths))
    if not trace.files:
        return (f"no trace files in {where}: was tracing on? "
                "(RACETRACE=1 python app.py, or racetrace run -- python app.py)")
    if not trace.processes:
        return f"no racetrace trace in {where}"
    from racetrace.analyzers.core.model import unresolved_targets

    count = len(trace.processes)
    unresolved = [t.target for t in unresolved_targets(trace.processes)]
    if unresolved:
        return (f"{count} traced process{'es' if count != 1 else ''} recorded no run; targets "
                f"that never resolved: {clean(', '.join(unresolved))}")
    return (f"{count} traced process{'es' if count != 1 else ''} recorded no run: nothing "
            "called a traced method (check RACETRACE_TARGETS, or the presets' frameworks)")

"""What the plugin shows: a test failure made of the report's text, the `racetrace` section of
the terminal summary, and the session's JSON report. Presentation only: the verdicts are made
in pytest_verdict, the tracing is run from pytest_session."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

SECTION = "racetrace"  # the report section, the user property and the summary section


@dataclass(frozen=True, slots=True)
class _Crash:
    """What pytest's short summary and junitxml read from a failure: its one-line message."""

    path: str
    lineno: int
    message: str


class RacetraceFailure:
    """A test failure made of text (the report), with a one-line message for the summary.

    Shaped like pytest's own failure representations (`toterminal`, `reprcrash`); xdist sends
    it to the controller as its text, `str()`."""

    def __init__(self, text: str, message: str, path: str) -> None:
        self.text = text
        self.reprcrash = _Crash(path, 0, message)

    def toterminal(self, tw: Any) -> None:
        for line in self.text.splitlines():
            tw.line(line)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Flagged:
    """A test report that carried findings: `line` is "failed (call): <headlines>" or
    "warned (...)", `text` the report when it rode along as a section (warn mode)."""

    nodeid: str
    line: str
    text: str | None

    @property
    def failed(self) -> bool:
        return self.line.startswith("failed")


def summarize(tr: Any, flagged: Sequence[Flagged], problems: Sequence[str], where: str,
              report: str | None) -> None:
    """The `racetrace` section of the terminal summary: one line per flagged test (with the
    report under it in warn mode, where no failure shows it), then the session's line."""
    tr.section(SECTION)
    for entry in flagged:
        tr.line(f"{entry.nodeid}: {entry.line}", red=entry.failed, yellow=not entry.failed)
        if entry.text and not entry.failed:
            for row in entry.text.splitlines():
                tr.line(f"    {row}")
    for problem in problems:
        tr.line(f"racetrace: {problem}", red=True)
    tests = len({entry.nodeid for entry in flagged})
    found = f"{tests} test{'s' if tests != 1 else ''} with findings" if tests else "no findings"
    tail = f"; trace files in {where}/ (racetrace report {where} for the whole session)"
    if report:
        tail += f"; JSON report: {report}"
    tr.line(f"racetrace: {found}{tail}")


def write_report(paths: Sequence[str], target: str, *, suppressions: Any,
                 blocking_threshold_ns: int | None = None) -> None:
    """The analyzer's JSON report (`racetrace.report/1`) over the session's trace files."""
    import orjson

    from racetrace.analyzers.core.load import load
    from racetrace.analyzers.core.model import Trace
    from racetrace.analyzers.findings.analyze import analyze

    # Every run's details read (`load`'s default): a run whose details do not decode is
    # counted and named in the report, as the report has always done.
    trace = load(paths) if paths else Trace(runs=[], processes=[])
    extra = ({} if blocking_threshold_ns is None
             else {"blocking_threshold_ns": blocking_threshold_ns})
    report = analyze(trace, suppressions=suppressions, **extra)
    os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    from racetrace.analyzers.outputs.outfile import open_private

    with open_private(target) as f:
        f.write(orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2) + b"\n")

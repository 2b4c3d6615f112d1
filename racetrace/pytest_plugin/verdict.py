"""The verdict on one test: analyze its runs (with the earlier runs still open), keep the
findings that are the test's doing, and word them for a test report.

The analysis is the analyzer's own (`analyzers.analyze`), run on the test's share of the trace;
the text is the analyzer's race-detector report of the kept findings, preceded by which test
each run started in, so that an overlap with work leaked from an earlier test names that test.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from racetrace.analyzers.core.model import Process
from racetrace.analyzers.findings.analyze import analyze
from racetrace.analyzers.findings.report import (
    INFO,
    LOOP_BLOCKING,
    NESTED_LOOP,
    UNFINISHED,
    WARNING,
    Finding,
    Report,
    severity_rank,
)
from racetrace.analyzers.findings.suppressions import Suppressions
from racetrace.analyzers.outputs.failon import FailOn
from racetrace.analyzers.outputs.render_text import render_to_string
from racetrace.analyzers.outputs.sanitize import clean

from .attribution import Attribution

RUNS_NAMED = 12  # runs listed with the test they started in
TEXT_WIDTH = 400


@dataclass(frozen=True, slots=True)
class Verdict:
    findings: tuple[Finding, ...]  # those matching fail-on
    summary: str  # one line: the findings' headlines
    text: str  # the report for the test's failure or warning


def judge(attribution: Attribution, report: Report, *, fail_on: FailOn, final: bool,
          previously_seen: set[str]) -> Verdict | None:
    """The findings of `report` (the analysis of `attribution.snapshot()`) that this test
    answers for: matching `fail_on`, involving one of its runs and one not seen by an earlier
    check of the same test. Unfinished runs are judged only at the test's end (`final`)."""
    def concerns_test(f: Finding) -> bool:
        ids = [r.run_id for r in f.runs]
        return (any(attribution.is_current(i) for i in ids)
                and any(i not in previously_seen for i in ids)
                and (final or not _open_ended(f)))

    matched = [f for f in report.findings if concerns_test(f) and fail_on.matches(f)]
    if not matched:
        return None
    keys = {f.instance_key for f in matched}
    chosen = {id(f) for f in matched}
    # Alongside: what else went wrong on the same instances (errors during the overlap, runs
    # that never ended), when it is worth a warning.
    chosen.update(id(f) for f in report.findings
                  if f.instance_key in keys and concerns_test(f)
                  and severity_rank(f.severity) >= severity_rank(WARNING))
    shown = _renumbered([f for f in report.findings if id(f) in chosen])
    text = "\n".join([
        _legend(attribution, shown),
        # Wide: each line stays whole in a CI log, as `racetrace report` prints into a file.
        # Info findings are one line unless verbose: in full when one of them fails the test.
        render_to_string(_only(report, shown), width=TEXT_WIDTH,
                         verbose=any(f.severity == INFO for f in matched)).rstrip(),
    ])
    return Verdict(tuple(matched), "; ".join(_headline(f) for f in matched), text)


def analyze_snapshot(attribution: Attribution, processes: list[Process], *,
                     suppressions: Suppressions, max_pairs: int = 100,
                     blocking_threshold_ns: int | None = None) -> Report:
    """The analyzer's report on the current test's runs and the earlier runs still open."""
    extra = {} if blocking_threshold_ns is None else {"blocking_threshold_ns":
                                                      blocking_threshold_ns}
    return analyze(attribution.snapshot(processes), suppressions=suppressions,
                   max_pairs=max_pairs, **extra)


def _open_ended(f: Finding) -> bool:
    """A finding about runs still open (unfinished, a sync call on a loop that has not
    returned): mid-test they may simply not have ended yet, so they are judged at the end."""
    return f.kind == UNFINISHED or (f.kind in (NESTED_LOOP, LOOP_BLOCKING)
                                    and bool(f.details.get("never_ended")))


def _headline(f: Finding) -> str:
    return clean(f.headline)


def _renumbered(findings: list[Finding]) -> list[Finding]:
    return [dataclasses.replace(f, id=f"F{n}") for n, f in enumerate(findings, 1)]


def _only(report: Report, findings: list[Finding]) -> Report:
    """`report` cut down to `findings`, its counts to match."""
    summary = dataclasses.replace(
        report.summary,
        findings=len(findings),
        by_kind=dict(Counter(f.kind for f in findings)),
        by_severity=dict(Counter(f.severity for f in findings)),
    )
    return dataclasses.replace(report, findings=findings, summary=summary)


def _legend(attribution: Attribution, findings: Iterable[Finding]) -> str:
    """Where each run of the findings started: in this test (which phase), or earlier."""
    lines = ["racetrace: where each run of these findings started:"]
    seen: set[str] = set()
    runs = [r for f in findings for r in f.runs if not (r.run_id in seen or seen.add(r.run_id))]
    for run in runs[:RUNS_NAMED]:
        window = attribution.origin.get(run.run_id)
        if attribution.is_current(run.run_id):
            where = f"this test ({window.phase})" if window else "this test"
        elif window is not None:
            where = (f"an EARLIER test, {window.describe()}, and was still running "
                     "when this test began")
        else:
            where = ("outside any test (collection, a session fixture or between tests), "
                     "and was still running when this test began")
        lines.append(f"  run {clean(run.run_id)} {clean(run.method)} [pid {run.pid}]: "
                     f"started in {where}")
    if len(runs) > RUNS_NAMED:
        lines.append(f"  ... and {len(runs) - RUNS_NAMED} more")
    return "\n".join(lines)

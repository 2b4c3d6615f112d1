"""Run the analyzer for the TUI: a report, or one line saying why there is none.

The timeline is useful without findings (lanes, bars and sub-rows need only the trace), so a
failing or missing analysis degrades the screen to "no findings" plus a message instead of
taking the app down.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from racetrace.analyzers.core.model import Trace
    from racetrace.analyzers.core.table import Table
    from racetrace.analyzers.findings.report import Report
    from racetrace.analyzers.findings.suppressions import Suppressions


def analyze_trace(
    trace: Trace | Table, suppressions: Suppressions | None = None,
    blocking_threshold_ns: int | None = None,
) -> tuple[Report | None, str | None]:
    """`(report, None)`, or `(None, reason)` when the analysis is unavailable or failed.
    `blocking_threshold_ns`: the loop-blocking threshold (None: the analyzer's default)."""
    try:
        from racetrace.analyzers.findings.analyze import analyze
    except ImportError as exc:
        return None, f"no analysis: the analyzer could not be imported ({exc})"
    try:
        extra = ({} if blocking_threshold_ns is None
                 else {"blocking_threshold_ns": blocking_threshold_ns})
        return analyze(trace, suppressions=suppressions, **extra), None
    except Exception as exc:  # the screen must stay up whatever the analysis hits
        text = str(exc).splitlines()[0] if str(exc) else ""
        return None, f"analysis failed: {type(exc).__name__}{': ' + text if text else ''}"

"""The report as text, race-detector style: a headline per finding, both (all) sides of each
overlap with where they came from, the overlap, why it matters and the fix, then a SUMMARY.

A renderer only presents a `Report`; it computes nothing the analysis did not. Every string
that came from the trace goes through `sanitize.clean` and into `rich.text.Text`, never into
a markup string: a span name such as `[bold]` or `\\x1b]0;pwned\\x07` is shown literally.
"""

from __future__ import annotations

from collections.abc import Sequence

from racetrace.analyzers.core.model import Run, Trace, unresolved_targets
from racetrace.analyzers.findings.report import (
    ERROR,
    INFO,
    KINDS,
    LOOP_BLOCKING,
    LOOP_KINDS,
    OVERLAP_KINDS,
    SEVERITIES,
    WARNING,
    Finding,
    Report,
)
from racetrace.analyzers.findings.timefmt import format_duration
from rich.console import Console
from rich.text import Text

from .procname import process_text
from .sanitize import clean

RULE = "=" * 18
RUNS_SHOWN = 6  # per finding, unless verbose
INFO_SHOWN = 10  # info findings shown briefly, unless verbose
STACK_SHOWN = 4
SITES_SHOWN = 3  # creation sites of a resource key's instances

_SEVERITY_STYLE = {ERROR: "bold red", WARNING: "bold yellow", INFO: "bold cyan"}
_STATUS_STYLE = {"error": "red", "cancelled": "yellow", "unfinished": "magenta"}


def render(report: Report, console: Console, *, verbose: bool = False) -> None:
    """Print the whole report: findings (warnings and errors in full, info briefly unless
    `verbose`), then the SUMMARY line."""
    trace = report.trace
    origin = report.summary.start_ns or 0
    if not report.summary.runs:
        console.print(Text(f"racetrace: no runs in {clean(', '.join(trace.files)) or 'input'}"))
        for problem in trace.problems:  # other tools' spans left out: why, and --key-attr
            if "left out" in problem:
                console.print(Text(f"racetrace: {clean(problem)}"))
    briefs = 0
    for finding in report.findings:
        if finding.severity == INFO and not verbose:
            briefs += 1
            if briefs <= INFO_SHOWN:
                _brief(console, finding)
        else:
            _full(console, report, finding, origin, verbose)
    if briefs > INFO_SHOWN:
        console.print(Text(f"... and {briefs - INFO_SHOWN} more info findings (-v lists them, "
                           "--json has them all)", style="dim"), highlight=False)
    if verbose:
        _serialized(console, report)
    for target in unresolved_targets(trace.processes):
        # Without this, a typo in a target reads as "no findings": nothing was traced.
        console.print(Text(f"NOT TRACED: target {clean(target.target)}: "
                           f"{clean(target.reason, limit=300)}", style="yellow"),
                      highlight=False, soft_wrap=True)
    console.print(summary_line(report), highlight=False, soft_wrap=True)


def render_brief(report: Report, console: Console) -> None:
    """Each finding's headline and first sentence, then the SUMMARY line: what `racetrace run`
    prints when the program exits (the whole report is `render`)."""
    for finding in report.findings:
        _brief(console, finding)
    console.print(summary_line(report), highlight=False, soft_wrap=True)


def _serialized(console: Console, report: Report) -> None:
    """Instances shared by several tasks that were serialized by design: not latent, and
    said so, so that a user who wonders about them sees why."""
    for instance in report.instances:
        if instance.serialized:
            subject = instance.cls.rsplit(".", 1)[-1]
            if instance.label:
                subject += f" '{instance.label}'"
            console.print(Text.assemble(
                ("NOTE: racetrace: ", "bold cyan"),
                (f"serialized: {clean(subject)} ({clean(instance.key)})", "bold"),
                f": {clean(instance.serialized)}.",
            ), highlight=False, soft_wrap=True)


def render_to_string(report: Report, *, width: int = 100, verbose: bool = False,
                     color: bool = False) -> str:
    # Lines stay whole (soft wrap): a test failure or a CI log is read in a browser or grepped,
    # and a path split mid-line helps neither; `width` only bounds the rules and tables.
    console = Console(width=width, record=True, force_terminal=color, color_system=None
                      if not color else "standard", highlight=False, file=_Null(),
                      soft_wrap=True)
    render(report, console, verbose=verbose)
    return console.export_text(styles=color)


class _Null:
    def write(self, _: str) -> int:
        return 0

    def flush(self) -> None:
        pass


def _head(finding: Finding) -> Text:
    return Text.assemble(
        (f"{finding.severity.upper()}: racetrace: ", _SEVERITY_STYLE.get(finding.severity, "")),
        (clean(finding.headline), "bold"),
        (f"  [{finding.id}]", "dim"),
    )


def _brief(console: Console, finding: Finding) -> None:
    console.print(_head(finding), highlight=False, soft_wrap=True)
    line = finding.explanation.split(". ")[0].rstrip(".") + "."
    console.print(Text("  " + clean(line), style="dim"), highlight=False)


def _full(console: Console, report: Report, finding: Finding, origin: int,
          verbose: bool) -> None:
    trace = report.trace
    console.print(Text(RULE, style="dim"), highlight=False)
    console.print(_head(finding), highlight=False, soft_wrap=True)
    if finding.kind in OVERLAP_KINDS and finding.overlap_start_ns is not None:
        console.print(Text(
            f"  {finding.run_count} run{'s' if finding.run_count != 1 else ''} overlapped for"
            f" {format_duration(finding.overlap_ns)}"
            f" between +{format_duration(finding.overlap_start_ns - origin)} and"
            f" +{format_duration((finding.overlap_end_ns or 0) - origin)}, at most"
            f" {finding.max_concurrency} at once ({finding.pair_count} overlapping"
            f" pair{'s' if finding.pair_count != 1 else ''}"
            + (f" in {len(finding.episodes)} separate episodes" if len(finding.episodes) > 1
               else "")
            + ")."
        ), highlight=False)
    if finding.kind in LOOP_KINDS:
        console.print(Text(_loop_line(finding)), highlight=False)
    for site in finding.created[:SITES_SHOWN]:
        console.print(Text(f"  {clean(_created_what(finding))} {clean(site.describe())}."),
                      highlight=False)
    if finding.suppressed_by:
        console.print(Text(f"  (lowered to info by suppression {clean(finding.suppressed_by)})",
                           style="dim"), highlight=False)
    console.print()
    runs = finding.runs if verbose else finding.runs[:RUNS_SHOWN]
    ids = {r.run_id for r in finding.runs}
    for number, run in enumerate(runs, 1):
        # Numbered out of every run of the finding: "Run 1 of 209", then "... and 203 more".
        for line in _run_lines(trace, run, number, finding.run_count, origin, ids):
            console.print(line, highlight=False)
    hidden = finding.run_count - len(runs)
    if hidden > 0:
        console.print(Text(f"  ... and {hidden} more run{'s' if hidden != 1 else ''}"
                           " (racetrace report --json for the listed ones, the TUI for all)",
                           style="dim"), highlight=False)
    if finding.pairs:
        console.print(_pairs_line(trace, finding), highlight=False)
    console.print()
    console.print(Text.assemble(("  Why: ", "bold"), clean(finding.explanation)),
                  highlight=False)
    console.print(Text.assemble(("  Fix: ", "bold green"), clean(finding.fix)),
                  highlight=False)
    console.print()


def _loop_line(finding: Finding) -> str:
    """What a nested-loop or loop-blocking finding cost the loop, from its details."""
    d = finding.details
    runs = f"{finding.run_count} sync run{'s' if finding.run_count != 1 else ''}"
    if finding.kind == LOOP_BLOCKING:
        return (f"  {runs} held a running event loop for {format_duration(d.get('blocked_ns', 0))}"
                f" in all (the longest {format_duration(d.get('longest_ns', 0))}; threshold"
                f" {format_duration(d.get('threshold_ns', 0))})"
                + (f"; {d['never_ended']} still blocking when its process last recorded."
                   if d.get("never_ended") else "."))
    outcome = []
    if d.get("failed"):
        outcome.append(f"{d['failed']} failed at once")
    if d.get("never_ended"):
        outcome.append(f"{d['never_ended']} never returned (the loop stopped for good)")
    return f"  {runs} tried to run an event loop inside a running one: {', '.join(outcome)}."


def _created_what(finding: Finding) -> str:
    """Whose creation site a line tells: `Agent 'support'`, or the class of a resource key's
    objects."""
    classes = [c.strip() for c in finding.instance_class.split(",") if c.strip()]
    names = " and ".join(sorted({c.rsplit(".", 1)[-1] for c in classes})) or "object"
    if finding.key_kind == "instance" and finding.instance_label:
        return f"{names} '{finding.instance_label}'"
    return names if finding.key_kind == "instance" or len(finding.created) < 2 else names + "s"


def _run_lines(trace: Trace, run: Run, number: int, total: int, origin: int,
               ids: set[str]) -> list[Text]:
    end = run.end_ns
    length = (format_duration(end - run.start_ns) if end is not None
              # Open through its process' last record, inclusive, as the analysis counts it.
              else f"open for {format_duration(trace.last_ns_of(run) + 1 - run.start_ns)}+")
    lines = [Text.assemble(
        (f"  Run {number} of {total}: ", "bold"),
        (clean(run.method), "bold"),
        "  [",
        (clean(run.status), _STATUS_STYLE.get(run.status, "green")),
        f", {length}]  started at +{format_duration(run.start_ns - origin)}",
        ("  run " + clean(run.run_id), "dim"),
    )]
    where = []
    if run.task_name or run.task_key:
        task = f"task {clean(run.task_name or run.task_key)}"
        if run.task_created_at:
            task += f" (created at {clean(run.task_created_at)})"
        where.append(task)
    if run.thread_name or run.thread_id is not None:
        where.append(f"thread {clean(run.thread_name or '?')} ({run.thread_id})")
    where.append(clean(process_text(run.pid, run.host, run.service)))
    lines.append(Text("    in " + ", ".join(where)))
    if run.callsite:
        fn = f" in {clean(run.function)}" if run.function else ""
        lines.append(Text(f"    called from {clean(run.callsite)}{fn}"))
    if run.fan_out_of:
        lines.append(Text(f"    fan-out of run {clean(run.fan_out_of)} (one batch call on the "
                          "instance; a run of its own on the resource)", style="cyan"))
    for link, what in ((run.parent_run_id, "inside run"),
                       (run.task_created_by_run, "in a task created by run")):
        if link and link in ids:
            lines.append(Text(f"    started {what} {clean(link)} (listed here)", style="yellow"))
    if run.error_type:
        lines.append(Text(f"    failed: {clean(run.error_type)}: "
                          f"{clean(run.error_message, limit=200)}", style="red"))
    for depth, frame in enumerate(run.stack[:STACK_SHOWN]):
        lines.append(Text(f"      #{depth} {clean(frame)}", style="dim"))
    return lines


def _pairs_line(trace: Trace, finding: Finding) -> Text:
    by_id = {r.run_id: r for r in finding.runs}
    shown = []
    for a, b in finding.pairs[:5]:
        ra, rb = by_id.get(a), by_id.get(b)
        if ra is None or rb is None:
            continue
        overlap = max(0, min(trace.last_ns_of(ra), trace.last_ns_of(rb))
                      - max(ra.start_ns, rb.start_ns))
        shown.append(f"{clean(a)} x {clean(b)} ({format_duration(overlap)})")
    more = ""
    if finding.pair_count > len(shown):
        more = f", ... {finding.pair_count} in all"
        if finding.pairs_truncated:
            more += f" ({len(finding.pairs)} listed in the JSON report; the cap is --max-pairs)"
    return Text(f"  Overlapping pairs: {', '.join(shown)}{more}")


def summary_line(report: Report) -> Text:
    s = report.summary
    kinds = ", ".join(f"{s.by_kind[k]} {k}" for k in KINDS if s.by_kind.get(k))
    severities = ", ".join(
        f"{s.by_severity[v]} {v}{'s' if s.by_severity[v] != 1 and v != INFO else ''}"
        for v in SEVERITIES if s.by_severity.get(v)
    )
    found = (f"{s.findings} finding{'s' if s.findings != 1 else ''} ({severities}): {kinds}"
             if s.findings else "no findings")
    extra = []
    if s.suppressed:
        extra.append(f"{s.suppressed} suppressed")
    if s.benign:
        extra.append(f"{s.benign} benign")
    if s.skipped_lines:
        extra.append(f"{s.skipped_lines} damaged lines skipped")
    tail = f"; {', '.join(extra)}" if extra else ""
    style = _SEVERITY_STYLE.get(_worst(report.findings), "bold green")
    return Text.assemble(
        ("SUMMARY: racetrace: ", style),
        f"{found}; {s.runs} run{'s' if s.runs != 1 else ''} on {s.instances}"
        f" instance{'s' if s.instances != 1 else ''}"
        f" in {s.processes} process{'es' if s.processes != 1 else ''},"
        f" {s.overlapping_pairs} overlapping pair{'s' if s.overlapping_pairs != 1 else ''}{tail}",
    )


def _worst(findings: Sequence[Finding]) -> str | None:
    for severity in SEVERITIES:
        if any(f.severity == severity for f in findings):
            return severity
    return None


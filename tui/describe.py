"""Words for people, as Rich `Text`: the header, the status line, findings and a run's details.

Every value that comes from a trace goes through `textsafe.clean` and into `Text.append`
(never into a markup string), so `[bold]` in a span name stays `[bold]` on screen and an
escape sequence is shown, not obeyed. Styles named here are Textual theme variables resolved
by the widgets' CSS where possible; the few inline styles are semantic (bold, dim, red).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from racetrace.analyzers.findings.timefmt import format_duration
from racetrace.analyzers.outputs.procname import process_text
from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from .lanes import STATUS_ERROR, STATUS_UNFINISHED, Lane, Lanes
from .textsafe import clean, shorten

if TYPE_CHECKING:
    from racetrace.analyzers.core.model import Run, Trace
    from racetrace.analyzers.findings.provenance import CreationSite
    from racetrace.analyzers.findings.report import Finding, Report

SEVERITY_STYLE = {"error": "bold red", "warning": "bold yellow", "info": "bold blue"}
SEVERITY_BADGE = {"error": "‼", "warning": "!", "info": "i"}
STATUS_STYLE = {"ok": "green", "error": "bold red", "cancelled": "yellow", "unfinished": "magenta"}


def created_role(site: CreationSite) -> str:
    """How a lane's instance was made, in a word or two: `module`, `class body`, `factory`,
    `in main()`."""
    if site.role == "singleton":
        return "module" if site.scope == "module" else "class body"
    if site.role == "factory":
        return "factory"
    return f"in {site.function}()" if site.function else "in a function"


def _created_of(run: Run, lane: Lane, report: Report | None) -> CreationSite | None:
    if not lane.is_resource:
        return lane.created
    if report is not None:
        for summary in report.instances:
            if summary.key == run.instance_key and not summary.is_resource:
                return summary.created_at
    return None


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 run`, `3 runs`; `many` for irregular plurals (`processes`)."""
    return f"{count:,} {word if count == 1 else (many or word + 's')}"


def header_text(
    source: str, trace: Trace | None, lanes: Lanes | None, report: Report | None,
    analysis_note: str | None, following: bool, *, reading: bool = False,
) -> Text:
    """Line 1: what is shown and its size; line 2: the findings, or why there are none.
    `reading`: `lanes` are of the part of the trace read so far (`trace` is not there yet).

    Never wraps (a narrow terminal cuts each line with an ellipsis): the header has two lines.
    """
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(" racetrace ", "bold reverse")
    text.append(" ")
    text.append(clean(source), "bold")
    if following:
        text.append("  ● following", "bold green")
    if reading and trace is None and lanes is not None:
        instances = sum(1 for lane in lanes.lanes if not lane.is_resource)
        so_far = [plural(lanes.run_count, "run"), plural(instances, "instance")]
        text.append("  ·  " + " · ".join(so_far) + " so far", "")
        text.append(f" · span {format_duration(lanes.span_ns)}")
        text.append("\n ")
        text.append("reading the trace… findings once all of it is read", "dim")
        return text
    if trace is None or lanes is None:
        return text
    instances = sum(1 for lane in lanes.lanes if not lane.is_resource)
    parts = [
        plural(len(trace.processes), "process", "processes"),
        plural(len(trace.runs), "run"),
        plural(instances, "instance"),
    ]
    text.append("  ·  " + " · ".join(parts), "")
    if trace.runs:
        text.append(f" · span {format_duration(lanes.span_ns)}")
        started = datetime.fromtimestamp(lanes.origin_ns / 1e9, tz=timezone.utc)
        text.append(f" · from {started:%Y-%m-%d %H:%M:%S} UTC", "dim")
    text.append("\n ")
    if not trace.runs:
        text.append("no runs yet" if following else "no runs", "dim")
    elif report is not None:
        findings = report.findings
        if findings:
            by_severity: dict[str, int] = {}
            for finding in findings:
                by_severity[finding.severity] = by_severity.get(finding.severity, 0) + 1
            text.append(plural(len(findings), "finding"), "bold")
            for severity in ("error", "warning", "info"):
                if by_severity.get(severity):
                    text.append("  ")
                    text.append(
                        f"{SEVERITY_BADGE[severity]} {by_severity[severity]} {severity}",
                        SEVERITY_STYLE[severity],
                    )
            kinds: dict[str, int] = {}
            for finding in findings:
                kinds[finding.kind] = kinds.get(finding.kind, 0) + 1
            text.append("   (" + ", ".join(f"{n} {k}" for k, n in kinds.items()) + ")", "dim")
        else:
            text.append("no findings: no runs overlapped on one instance", "green")
    elif analysis_note:
        text.append(clean(analysis_note), "yellow")
    else:
        text.append("analyzing…", "dim")
    if trace.skipped_lines:
        text.append(f"   ⚠ {plural(trace.skipped_lines, 'damaged line')} skipped", "yellow")
    return text


def run_line(lane: Lane, index: int, origin_ns: int) -> Text:
    """The status line: the selected run in one line."""
    run = lane.runs[index]
    start = lane.start_of(index)
    end = lane.end_of(index)
    text = Text(" ", no_wrap=True, overflow="ellipsis")
    text.append(clean(run.method), "bold")
    text.append(" on ")
    text.append(clean(lane.label or lane.short_class or lane.key))
    if run.task_name:
        text.append("  task ", "dim")
        text.append(clean(run.task_name))
    if run.thread_name:
        text.append("  thread ", "dim")
        text.append(clean(run.thread_name))
    text.append(f"  pid {run.pid or '?'}", "dim")
    text.append(f"  +{format_duration(start)}")
    if run.end_ns is None:
        text.append(f" → open ({format_duration(end - start)} so far)")
    else:
        text.append(f" for {format_duration(end - start)}")
    text.append("  ")
    text.append(run.status, STATUS_STYLE.get(run.status, ""))
    if run.status == STATUS_ERROR and run.error_type:
        text.append(" ")
        text.append(shorten(clean(run.error_type), 40), "red")
    overlapping = lane.overlapping(index, limit=1000)
    if overlapping:
        text.append(f"  overlaps {plural(len(overlapping), 'run')}", "bold red")
    text.append(f"   run {index + 1}/{len(lane.runs)}", "dim")
    return text


def finding_line(finding: Finding, origin_ns: int, *, narrow: bool = False) -> Text:
    """One entry of the findings list, in aligned columns, cut (not wrapped) when narrow;
    `narrow` (an 80-column terminal) leaves out the instance key, which the lane shows."""
    text = Text(no_wrap=True, overflow="ellipsis")
    severity = finding.severity
    badge = SEVERITY_BADGE.get(severity, " ")
    # Narrow, the badge alone tells the severity (‼ error, ! warning, i info).
    head = f"{badge} " if narrow else f"{badge} {severity:<8}"
    text.append(head, SEVERITY_STYLE.get(severity, ""))
    text.append(f"{finding.kind:<14}", "bold")
    if getattr(finding, "key_kind", "instance") == "resource":
        name = "resource"
    else:
        name = finding.instance_label or finding.instance_class.rsplit(".", 1)[-1]
    room = 13 if narrow else 18
    name = shorten(clean(name), room)
    text.append(name + " " * (room + 1 - cell_len(name)))
    if not narrow:
        key = shorten(clean(finding.instance_key), 20, keep="middle")
        text.append(key + " " * (21 - cell_len(key)), "dim")
    count = finding.run_count or len(finding.runs)
    detail = plural(count, "run")
    if finding.max_concurrency > 1:
        detail += f", {finding.max_concurrency} at once"
    text.append(f"{detail:<17} " if narrow else f"{detail:<20}")
    start = finding.overlap_start_ns
    if start is None and finding.runs:
        start = finding.runs[0].start_ns
    if start is not None:
        at = "+" if narrow else "at +"
        text.append(f"{at}{format_duration(start - origin_ns):<9}", "dim")
    if finding.overlap_ns:
        text.append(f" overlap {format_duration(finding.overlap_ns)}", "red")
    elif isinstance(blocked := finding.details.get("blocked_ns"), int):
        text.append(f" loop blocked {format_duration(blocked)}", "yellow")
    elif finding.kind == "nested-loop":
        text.append(" loop inside a running loop", "red")
    return text


def legend_line(source: str, hidden: int = 0) -> Text:
    """The status line of a picture of the timeline: what each mark means, without colour,
    and how many lanes did not fit (`hidden`)."""
    text = Text(" ", no_wrap=True, overflow="ellipsis")
    if hidden:
        text.append(f"{plural(hidden, 'more lane')} not shown", "bold")
        text.append("   ")
    for mark, meaning in (
        ("▏", "a run starts"), ("╱╱", "overlap"), ("✗", "failed"), ("⊘", "cancelled"),
        ("╌»", "never ended"), ("‼ ! i", "a lane's worst finding: error, warning, info"),
    ):
        text.append(mark, "bold")
        text.append(f" {meaning}   ", "dim")
    text.append("explore: ", "dim")
    text.append(f"racetrace tui {clean(source)}")
    return text


def run_details(lane: Lane, index: int, report: Report | None) -> RenderableType:
    """Everything about one run: what, where from, when, how it ended, what it overlapped."""
    run = lane.runs[index]
    start, end = lane.start_of(index), lane.end_of(index)
    title = Text()
    title.append(clean(run.method), "bold")
    title.append("  ")
    title.append(f" {run.status} ", f"reverse {STATUS_STYLE.get(run.status, '')}")
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")

    def row(name: str, value: Text | str) -> None:
        table.add_row(Text(name), value if isinstance(value, Text) else Text(clean(value)))

    instance = Text(clean(run.instance_class))
    if run.instance_label:
        instance.append(f" '{clean(run.instance_label)}'")
    instance.append(f"  {clean(run.instance_key)}", "dim")
    if run.instance_id is not None:
        instance.append(f"  id {run.instance_id}", "dim")
    row("instance", instance)
    site = _created_of(run, lane, report)
    if site is not None:
        created = Text(clean(site.at))
        if site.function:
            created.append(f" in {clean(site.function)}", "dim")
        created.append(f"  {clean(site.role_text)}")
        row("created at", created)
    if run.resource_key:
        row("resource", run.resource_key)
    if run.fan_out_of:
        row("fan-out of", Text(f"run {clean(run.fan_out_of)}: one batch call on the instance, "
                               "a run of its own on the resource"))
    when = Text(f"+{format_duration(start)} → ")
    if run.end_ns is None:
        when.append(f"still open at +{format_duration(end)}", "magenta")
        when.append(f"  ({format_duration(end - start)} so far)")
    else:
        when.append(f"+{format_duration(end)}  ({format_duration(end - start)})")
    started = datetime.fromtimestamp(run.start_ns / 1e9, tz=timezone.utc)
    when.append(f"  started {started:%H:%M:%S}.{run.start_ns % 1_000_000_000:09d} UTC", "dim")
    row("time", when)
    status = Text(run.status, STATUS_STYLE.get(run.status, ""))
    if run.end_reason:
        status.append(f" ({clean(run.end_reason)})", "dim")
    if run.status == STATUS_UNFINISHED:
        status.append("  never ended: leaked work, a hang, or a killed process", "dim")
    row("status", status)
    if run.error_type or run.error_message:
        error = Text(clean(run.error_type or "error"), "bold red")
        if run.error_message:
            error.append(": ")
            error.append(clean(run.error_message, multiline=True))
        row("error", error)
    callsite = Text(clean(run.callsite or "unknown"))
    if run.function:
        callsite.append(f" in {clean(run.function)}", "dim")
    row("call site", callsite)
    if run.stack:
        row("stack", Text("\n".join(clean(frame) for frame in run.stack[:12])))
    task = Text(clean(run.task_name or "no task"))
    if run.task_key:
        task.append(f"  {clean(run.task_key)}", "dim")
    row("task", task)
    if run.task_created_at or run.task_created_by_run:
        created = Text(clean(run.task_created_at or "?"))
        if run.task_created_by_run:
            created.append(f"  by run {clean(run.task_created_by_run)}", "dim")
        row("task created at", created)
    thread = Text(clean(run.thread_name or "?"))
    if run.thread_id is not None:
        thread.append(f"  {run.thread_id}", "dim")
    row("thread", thread)
    if run.loop_running:
        loop = Text("a sync call on this thread's running event loop: the loop waited", "yellow")
        if run.end_ns is not None:
            loop.append(f" {format_duration(run.end_ns - run.start_ns)}")
        row("event loop", loop)
    process = Text(clean(process_text(run.pid, run.host, run.service)))
    if run.service and run.host != run.service:  # else process_text names it already
        process.append(f"  service {clean(run.service)}", "dim")
    row("process", process)
    ids = Text(f"run {clean(run.run_id)}")
    if run.parent_run_id:
        ids.append(f"  parent run {clean(run.parent_run_id)}")
    if run.trace_id:
        ids.append(f"  trace {clean(run.trace_id)}", "dim")
    row("ids", ids)
    if run.source:
        row("read from", Text(clean(run.source), "dim"))

    overlapping = lane.overlapping(index, limit=20)
    parts: list[RenderableType] = [title, Text(""), table]
    if overlapping:
        parts.append(Text(""))
        heading = f"Overlaps {plural(len(overlapping), 'run')} on this instance"
        parts.append(Text(heading, "bold red"))
        others = Table.grid(padding=(0, 2))
        for j, length in overlapping:
            other = lane.runs[j]
            others.add_row(
                Text(f"+{format_duration(lane.start_of(j))}"),
                Text(shorten(clean(other.method), 40)),
                Text(clean(other.task_name or other.thread_name or "-")),
                Text(other.status, STATUS_STYLE.get(other.status, "")),
                Text(f"overlap {format_duration(length)}", "red"),
            )
        parts.append(others)
    for finding in findings_of(run, lane, report):
        parts.append(Text(""))
        parts.append(finding_block(finding))
    return Group(*parts)


def findings_of(run: Run, lane: Lane, report: Report | None) -> list[Finding]:
    if report is None:
        return []
    return [f for f in lane.findings if any(r.run_id == run.run_id for r in f.runs)]


def finding_block(finding: Finding) -> Text:
    text = Text()
    severity = finding.severity
    badge = SEVERITY_BADGE.get(severity, " ")
    text.append(f"{badge} {severity}  ", SEVERITY_STYLE.get(severity, ""))
    text.append(clean(finding.headline), "bold")
    text.append("\n")
    text.append("Why: ", "bold")
    text.append(clean(finding.explanation, multiline=True))
    text.append("\n")
    text.append("Fix: ", "bold green")
    text.append(clean(finding.fix, multiline=True))
    if getattr(finding, "suppressed_by", None):
        text.append(f"\n(lowered to info by rule {clean(finding.suppressed_by)})", "dim")
    return text

"""The report: what the analysis found, as frozen records, and its JSON form (`racetrace.report/1`).

`analyze()` builds a `Report`; renderers (text, JSON, the TUI) only present it. The JSON form is
described by `report.schema.json` beside this module; keep the two in step and bump `SCHEMA` on a
breaking change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from racetrace.analyzers.core.model import Run, Trace, unresolved_targets

from .provenance import CreationSite

SCHEMA = "racetrace.report/1"

# Finding kinds. The first four are overlaps: two runs active on one key at the same time.
CONCURRENT = "concurrent"
REENTRANT = "reentrant"
PERIODIC = "periodic"
CROSS_PROCESS = "cross-process"
LATENT = "latent"
UNFINISHED = "unfinished"
ERRORS = "errors"
# Runs that stopped their thread's event loop (no overlap needed): a sync entry point that runs
# a loop of its own called inside a running one, and a sync run that held the loop too long.
NESTED_LOOP = "nested-loop"
LOOP_BLOCKING = "loop-blocking"
LOOP_KINDS = (NESTED_LOOP, LOOP_BLOCKING)
OVERLAP_KINDS = (CONCURRENT, REENTRANT, PERIODIC, CROSS_PROCESS)
KINDS = (*OVERLAP_KINDS, LATENT, UNFINISHED, ERRORS, *LOOP_KINDS)

ERROR = "error"
WARNING = "warning"
INFO = "info"
SEVERITIES = (ERROR, WARNING, INFO)
_SEVERITY_RANK = {ERROR: 2, WARNING: 1, INFO: 0}

# What a key names: one object (instance key) or a logical identity shared across objects or
# processes (resource key, e.g. a LangGraph thread_id).
KEY_INSTANCE = "instance"
KEY_RESOURCE = "resource"


def severity_rank(severity: str | None) -> int:
    """error > warning > info > none (-1): for sorting and `--fail-on` thresholds."""
    return _SEVERITY_RANK.get(severity or "", -1)


def worst(severities: Any) -> str | None:
    """The most severe of `severities`, or None when there are none."""
    best: str | None = None
    for severity in severities:
        if severity_rank(severity) > severity_rank(best):
            best = severity
    return best


@dataclass(frozen=True, slots=True)
class EpisodeSummary:
    """One contention episode of a finding: a connected group of overlapping runs on its key."""

    index: int  # the episode's number on its key, in time order
    start_ns: int  # where two or more of its runs first were active at once
    end_ns: int  # ... and last
    overlap_ns: int  # time with two or more active
    run_count: int
    pair_count: int
    max_concurrency: int
    first_pair: tuple[str, str] | None  # run ids of its first overlapping pair

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "overlap_ns": self.overlap_ns,
            "runs": self.run_count,
            "pairs": self.pair_count,
            "max_concurrency": self.max_concurrency,
            "first_pair": list(self.first_pair) if self.first_pair else None,
        }


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem on one key: overlaps of one kind (every contention episode of that kind on
    the key, listed in `episodes`), latent sharing, unfinished runs, or errors that concentrate
    in overlaps.

    For overlap kinds, `runs` are the runs of the listed `pairs` (in start order) and
    `run_count` the true number of runs involved; `pairs` is capped at the analysis'
    `max_pairs`, `pair_count` is the true count and `pairs_truncated` says the cap cut.
    `overlap_start_ns`/`overlap_end_ns` bound the time where two or more of the runs were
    active (from the first episode to the last), `overlap_ns` is the total time inside such
    stretches (not a sum over pairs), `max_concurrency` the most runs active at once.
    """

    id: str
    kind: str
    severity: str
    instance_key: str
    instance_class: str
    instance_label: str | None
    runs: tuple[Run, ...]
    pairs: tuple[tuple[str, str], ...]
    pair_count: int
    pairs_truncated: bool
    overlap_start_ns: int | None
    overlap_end_ns: int | None
    overlap_ns: int
    max_concurrency: int
    headline: str
    explanation: str
    fix: str
    key_kind: str = KEY_INSTANCE
    process: str | None = None  # "host/pid", or None when the key spans processes
    run_count: int = 0
    episodes: tuple[EpisodeSummary, ...] = ()  # overlap kinds: every episode, in time order
    suppressed_by: str | None = None  # the `benign:` rule that lowered it to info
    details: dict[str, Any] = field(default_factory=dict)  # kind-specific facts (JSON-ready)
    # Where the instance was created (a resource key: its instances'), when the tracer saw it.
    created: tuple[CreationSite, ...] = ()
    # Other keys whose finding of this kind listed the very same pairs, folded into this one
    # (an object's finding into its conversation's): key, key_kind, class, label, process.
    also_on: tuple[dict[str, Any], ...] = ()

    @property
    def is_overlap(self) -> bool:
        return self.kind in OVERLAP_KINDS

    @property
    def run_ids(self) -> tuple[str, ...]:
        return tuple(r.run_id for r in self.runs)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "severity": self.severity,
            "key_kind": self.key_kind,
            "instance": {
                "key": self.instance_key,
                "class": self.instance_class,
                "label": self.instance_label,
                "process": self.process,
            },
            "headline": self.headline,
            "runs": [r.to_json() for r in self.runs],
            "run_count": self.run_count,
            "pairs": [list(p) for p in self.pairs],
            "pair_count": self.pair_count,
            "pairs_truncated": self.pairs_truncated,
            "overlap": {
                "start_ns": self.overlap_start_ns,
                "end_ns": self.overlap_end_ns,
                "length_ns": self.overlap_ns,
                "max_concurrency": self.max_concurrency,
            },
            "episodes": [e.to_json() for e in self.episodes],
            "explanation": self.explanation,
            "fix": self.fix,
            "suppressed_by": self.suppressed_by,
            "details": self.details,
            "created_at": [site.to_json() for site in self.created],
            "also_on": [dict(other) for other in self.also_on],
        }


@dataclass(frozen=True, slots=True)
class InstanceSummary:
    """One instance key or resource key: how it was used and the worst of its findings."""

    key: str
    cls: str
    label: str | None
    process: str | None  # "host/pid"; None for a resource key driven from several processes
    runs: int
    overlapping_pairs: int  # true count, however many were listed
    max_concurrency: int  # peak number of its runs active at once
    kinds: tuple[str, ...]
    severity: str | None  # the worst of its findings; None without findings
    is_resource: bool = False
    episodes: int = 0  # contention episodes: connected groups of overlapping runs
    unfinished: int = 0
    errors: int = 0
    first_start_ns: int | None = None
    last_end_ns: int | None = None
    finding_ids: tuple[str, ...] = ()
    # Used by several tasks or threads without overlap, and kept apart by design (a lock, a
    # queue, one flow of control, one timer): why that is no latent finding.
    serialized: str | None = None
    created_at: CreationSite | None = None  # an instance key's, when the tracer saw it

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "key_kind": KEY_RESOURCE if self.is_resource else KEY_INSTANCE,
            "class": self.cls,
            "label": self.label,
            "process": self.process,
            "runs": self.runs,
            "overlapping_pairs": self.overlapping_pairs,
            "max_concurrency": self.max_concurrency,
            "episodes": self.episodes,
            "kinds": list(self.kinds),
            "severity": self.severity,
            "unfinished": self.unfinished,
            "errors": self.errors,
            "first_start_ns": self.first_start_ns,
            "last_end_ns": self.last_end_ns,
            "findings": list(self.finding_ids),
            "serialized": self.serialized,
            "created_at": self.created_at.to_json() if self.created_at is not None else None,
        }


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts over the whole report."""

    runs: int
    instances: int  # distinct instance keys
    resources: int  # distinct resource keys
    processes: int
    findings: int
    by_kind: dict[str, int]
    by_severity: dict[str, int]
    suppressed: int  # findings dropped by `ignore:` rules
    benign: int  # findings lowered to info by `benign:` rules
    skipped_lines: int
    unfinished_runs: int
    error_runs: int
    overlapping_pairs: int  # true count over every key (resource keys: across instances)
    start_ns: int | None
    end_ns: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "instances": self.instances,
            "resources": self.resources,
            "processes": self.processes,
            "findings": self.findings,
            "findings_by_kind": {k: self.by_kind.get(k, 0) for k in KINDS},
            "findings_by_severity": {s: self.by_severity.get(s, 0) for s in SEVERITIES},
            "suppressed": self.suppressed,
            "benign": self.benign,
            "skipped_lines": self.skipped_lines,
            "unfinished_runs": self.unfinished_runs,
            "error_runs": self.error_runs,
            "overlapping_pairs": self.overlapping_pairs,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
        }


@dataclass(frozen=True, slots=True)
class ErrorStats:
    """How failed runs on one key split between overlapping and not (the error correlation)."""

    key: str
    total: int
    during_overlap: int
    types: dict[str, int]  # exception type -> count
    known: dict[str, int] = field(default_factory=dict)  # known_errors id -> count

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "total": self.total,
            "during_overlap": self.during_overlap,
            "types": dict(self.types),
            "known": dict(self.known),
        }


@dataclass(frozen=True, slots=True)
class Report:
    """The analysis of one trace. Findings are ordered most severe first, then by time."""

    trace: Trace
    findings: list[Finding]
    instances: list[InstanceSummary]
    summary: Summary
    errors: list[ErrorStats] = field(default_factory=list)
    unfinished: tuple[Run, ...] = ()
    max_pairs: int = 100
    suppressions: tuple[str, ...] = ()  # the rules in force, as written
    suppressed_by_rule: dict[str, int] = field(default_factory=dict)

    def finding(self, finding_id: str) -> Finding | None:
        for f in self.findings:
            if f.id == finding_id:
                return f
        return None

    def findings_for(self, key: str) -> list[Finding]:
        return [f for f in self.findings if f.instance_key == key]

    def to_json(self) -> dict[str, Any]:
        """The JSON report (`racetrace.report/1`, see report.schema.json)."""
        return {
            "schema": SCHEMA,
            "files": list(self.trace.files),
            "problems": list(self.trace.problems),
            "unresolved_targets": [
                {"target": t.target, "reason": t.reason}
                for t in unresolved_targets(self.trace.processes)
            ],
            "max_pairs": self.max_pairs,
            "suppressions": {
                "rules": list(self.suppressions),
                "suppressed": self.summary.suppressed,
                "benign": self.summary.benign,
                "by_rule": dict(self.suppressed_by_rule),
            },
            "summary": self.summary.to_json(),
            "processes": [
                {
                    "key": p.key,
                    "host": p.host,
                    "pid": p.pid,
                    "ppid": p.ppid,
                    "service": p.service,
                    "argv": list(p.argv),
                    "source": p.source,
                    "started_ns": p.started_ns,
                    "last_ns": p.last_ns,
                }
                for p in self.trace.processes
            ],
            "instances": [i.to_json() for i in self.instances],
            "findings": [f.to_json() for f in self.findings],
            "unfinished": [r.to_json() for r in self.unfinished],
            "errors": [e.to_json() for e in self.errors],
        }

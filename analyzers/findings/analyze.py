"""The analysis: a loaded `Trace` in, a `Report` out. Pure: it never prints or reads files.

Steps: take the runs per instance key (the loader's lanes) and per resource key; give each run
its interval (an unfinished run stays open through the last moment its process recorded); per
key, skip at C speed when nothing overlaps, otherwise sweep and classify (`contention`); merge
each key's overlaps into one finding per kind, listing every episode; add latent sharing,
unfinished runs and errors that concentrate in overlaps; settle severities and suppressions;
number the findings, most severe first.

It comes in two halves: `analyze_part` does everything about instance keys (each belongs to one
process), `combine` the resource keys (which span processes), the numbering and the totals.
`analyze` is both on one trace; `parallel` runs the first half on two groups of files at once.

It works on the columnar trace core (`table.Table`): every instance key's runs are sorted by
start at once (numpy), the keys where anything overlaps found by one vectorized pass, and `Run`
objects (a table's views) are made only for the runs a key's analysis looks at one by one: the
keys with overlaps, errors, resource keys, loop marks, unfinished runs, the first runs of each
lane. A `Trace` of `Run` objects (the TUI's, the pytest plugin's) is put into columns first, its
runs serving as the views. The cyclic garbage collector is paused throughout.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import chain, pairwise
from operator import attrgetter

import numpy as np
from racetrace.analyzers.core.details import prefetch
from racetrace.analyzers.core.gcpause import gc_paused
from racetrace.analyzers.core.model import Process, Run, Trace, last_ns_by_process
from racetrace.analyzers.core.table import NO_END, Lanes, RowRuns, Table
from racetrace.tracer import semconv

from . import explain, known_errors, ordering
from .classify import Ancestry
from .contention import KeyContention, OverlapDraft, analyze_key
from .loops import DEFAULT_BLOCKING_NS, find_loop_runs
from .overlap import merge_intervals, total_length
from .provenance import CreationSite, count_sites, creation_of
from .report import (
    ERROR,
    ERRORS,
    INFO,
    KEY_INSTANCE,
    KEY_RESOURCE,
    KINDS,
    LATENT,
    LOOP_BLOCKING,
    NESTED_LOOP,
    OVERLAP_KINDS,
    PERIODIC,
    UNFINISHED,
    WARNING,
    EpisodeSummary,
    ErrorStats,
    Finding,
    InstanceSummary,
    Report,
    Summary,
    severity_rank,
    worst,
)
from .suppressions import IGNORE, Suppressions

_START = attrgetter("start_ns")
_METHOD = attrgetter("method")
_INSTANCE = attrgetter("instance_key")
_KIND_ORDER = {kind: n for n, kind in enumerate(KINDS)}
CONTEXTS_COUNTED = 100  # distinct tasks counted per latent instance ("100+" beyond)


def analyze(
    trace: Trace | Table, *, suppressions: Suppressions | None = None, max_pairs: int = 100,
    blocking_threshold_ns: int = DEFAULT_BLOCKING_NS,
) -> Report:
    """Find, classify and explain every overlap in `trace` (see the module docstring).
    `blocking_threshold_ns`: how long a sync run may hold a running event loop before it is
    a `loop-blocking` finding. The report's `trace` is `trace` itself, or for a `Table` a
    `Trace` of its processes, files and damage, without runs."""
    rules = suppressions or Suppressions()
    table = trace if isinstance(trace, Table) else Table.from_trace(trace)
    part = analyze_part(table, suppressions=rules, max_pairs=max_pairs,
                        blocking_threshold_ns=blocking_threshold_ns)
    if max_pairs < 1:
        raise ValueError("max_pairs must be at least 1")
    shown = trace if isinstance(trace, Trace) else table.trace()
    with gc_paused():
        analysis = _Analysis(table.process_last_ns, rules, max_pairs, table.lookup)
        return analysis.combine([part], shown)


def analyze_part(
    trace: Trace | Table, *, suppressions: Suppressions | None = None, max_pairs: int = 100,
    blocking_threshold_ns: int = DEFAULT_BLOCKING_NS,
) -> Part:
    """The findings on the instance keys of `trace`, and what `combine` needs besides. An
    instance key belongs to one process, so the traces of different processes can be analyzed
    apart (in parallel: `racetrace.analyzers.findings.parallel`) and their parts combined."""
    if max_pairs < 1:
        raise ValueError("max_pairs must be at least 1")
    with gc_paused():
        table = trace if isinstance(trace, Table) else Table.from_trace(trace)
        try:
            return _Analysis(table.process_last_ns, suppressions or Suppressions(), max_pairs,
                             table.lookup, blocking_threshold_ns).part(table)
        finally:
            ordering.forget(table)


def combine(
    parts: Sequence[Part], *, suppressions: Suppressions | None = None, max_pairs: int = 100,
    trace: Trace | None = None,
) -> Report:
    """One report from the parts of a trace: resource keys (which span processes) analyzed
    over every part's runs, findings numbered across all. `trace` is the whole trace when
    there is one (`analyze`); otherwise the report's `trace` holds no runs."""
    if max_pairs < 1:
        raise ValueError("max_pairs must be at least 1")
    if trace is None:
        trace = Trace(
            runs=[], processes=[p for part in parts for p in part.processes],
            skipped_lines=sum(part.skipped_lines for part in parts),
            problems=[x for part in parts for x in part.problems],
            files=[f for part in parts for f in part.files],
        )
        trace.process_last_ns = last_ns_by_process(trace.processes)
    with gc_paused():
        analysis = _Analysis(trace.process_last_ns, suppressions or Suppressions(), max_pairs,
                             trace.run_by_id if trace.runs else _nothing)
        return analysis.combine(parts, trace)


@dataclasses.dataclass(slots=True)
class Outcome:
    """What one key contributed to the report (its runs are not kept: a part travels)."""

    key: str
    resource: bool
    cls: str
    label: str | None
    process: str | None
    runs: int
    pair_count: int
    peak: int
    episodes: int
    unfinished: int
    errors: int
    first_start_ns: int | None
    last_end_ns: int | None
    findings: list[Finding]
    serialized: str | None = None  # why its runs, used by several tasks, are not latent
    created: tuple[CreationSite, ...] = ()


@dataclasses.dataclass(slots=True)
class Part:
    """The analysis of one trace's instance keys, to be combined (see `analyze_part`)."""

    outcomes: list[Outcome]
    errors: list[ErrorStats]
    unfinished: list[Run]  # runs that never ended, in start order
    resource_runs: list[Run]  # runs with a resource key, in load order
    ancestors: dict[str, frozenset[str]]  # of the resource runs
    users: dict[str, object]  # of the resource runs started inside others (`Ancestry.user_of`)
    runs: int
    failed: int
    suppressed: int
    benign: int
    by_rule: Counter[str]
    processes: list[Process]
    files: list[str]
    problems: list[str]
    skipped_lines: int
    missed_links: int  # parent runs of resource runs, named but not found in this trace
    unmatched_ends: int  # END lines whose run is not in this trace


def _nothing(_run_id: str) -> Run | None:
    return None


_BATCH = 4096  # lanes whose first views are made together


@dataclasses.dataclass(slots=True)
class _Key:
    """One instance or resource key: its rows of a table, and what it contributes."""

    key: str
    resource: bool
    table: Table
    rows: np.ndarray  # in start order
    starts: np.ndarray
    ends: np.ndarray  # resolved: an unfinished run's end is its process' last moment + 1
    unfinished: list[Run]
    quiet: bool = True  # no two runs overlap (checked on the columns)
    closest: tuple[int, int] | None = None  # quiet: the smallest gap between runs, and where
    last_end: int | None = None
    failed: list[Run] = dataclasses.field(default_factory=list)
    contention: KeyContention | None = None
    findings: list[Finding] = dataclasses.field(default_factory=list)
    serialized: str | None = None  # used by several tasks, kept apart by design (`ordering`)
    # Where its instance was created (a resource key: each of its instances' sites).
    created: tuple[CreationSite, ...] = ()
    # The (class, label, process) read from its first run with its creation site
    # (`_identity`).
    identity: tuple[str, str | None, str | None] | None = None

    @property
    def runs(self) -> RowRuns:
        """Its runs in start order, made as they are read."""
        return self.table.runs(self.rows)

    @property
    def stateless(self) -> bool:
        """Declared stateless (`racetrace.stateful = false`) by every run; unknown counts as
        stateful, since that is the safe reading."""
        return bool((self.table.stateful[self.rows] == 0).all())


class _Analysis:
    def __init__(self, process_last_ns: dict[str, int], suppressions: Suppressions,
                 max_pairs: int, lookup: Callable[[str], Run | None],
                 blocking_threshold_ns: int = DEFAULT_BLOCKING_NS) -> None:
        self.process_last_ns = process_last_ns
        self.blocking_threshold_ns = blocking_threshold_ns
        self.rules = suppressions
        self.max_pairs = max_pairs
        self.ancestry = Ancestry(lookup)
        self.suppressed = 0
        self.benign = 0
        self.by_rule: Counter[str] = Counter()

    # -- the whole --------------------------------------------------------------------------
    def part(self, trace: Table) -> Part:
        # The few runs that need more than their lane: failures and resources.
        flagged = trace.views_of(trace.notable)
        keys = _lane_keys(trace, trace.lanes())
        # Read from each lane's first run: its identity, and with the second its creation
        # site. The views of both are made a batch of lanes at a time (a column read per
        # field, not one call per lane) and not kept: a million keys hold their identities,
        # not a million views.
        found: dict[str, tuple[CreationSite | None, str, str]] = {}
        for lo in range(0, len(keys), _BATCH):
            batch = keys[lo: lo + _BATCH]
            heads = trace.passing_views([r for k in batch for r in k.rows[:2].tolist()])
            at = 0
            for key in batch:
                head = heads[at: at + min(2, len(key.rows))]
                at += len(head)
                first = head[0]
                key.identity = (first.instance_class, first.instance_label, first.process_key)
                site = creation_of(head)
                found[key.key] = ((site, key.identity[0], first.process_key)
                                  if site is not None else (None, "", ""))
        sites = count_sites(found)
        for key in keys:
            site = sites[key.key]
            if site is not None:
                key.created = (site,)
        instance_keys = {k.key: k for k in keys}
        failed = [r for r in flagged if r.status == semconv.STATUS_ERROR]
        for run in failed:
            if run.fan_out_of is not None:
                continue  # a run on its resource key, not on the batch object
            owner = instance_keys.get(run.instance_key)
            if owner is not None:
                owner.failed.append(run)
        overlapping: set[str] = set()  # failed runs that overlapped another on their instance
        for key in keys:
            self._overlaps(key)
            if key.contention is not None and key.failed:
                ids = {r.run_id for r in key.failed}
                overlapping.update(r.run_id for r in key.contention.overlapping
                                   if r.run_id in ids)
            if key.contention is None or not key.contention.drafts:
                self._latent(key)
            if key.unfinished:
                self._unfinished(key)
        errors = self._errors(keys, overlapping)
        self._loops(trace.views_of(trace.on_loop), instance_keys)
        resource_runs = [r for r in flagged if r.resource_key is not None]
        # Worked out here, where every run of this trace can be looked up; counting the links
        # that lead out of it, which a part of a larger trace cannot follow.
        linked = Ancestry(trace.lookup)
        unfinished = sorted((r for k in keys for r in k.unfinished), key=_START)
        outcomes = [self._outcome(key) for key in keys]
        prefetch(chain(unfinished, (r for o in outcomes for f in o.findings for r in f.runs)))
        return Part(
            outcomes=outcomes,
            errors=errors,
            unfinished=unfinished,
            resource_runs=resource_runs,
            ancestors={r.run_id: linked.of(r) for r in resource_runs},
            users={r.run_id: linked.user_of(r) for r in resource_runs
                   if r.parent_run_id is not None or r.task_created_by_run is not None},
            runs=len(trace) - len(trace.dropped),
            failed=len(failed),
            suppressed=self.suppressed,
            benign=self.benign,
            by_rule=self.by_rule,
            processes=trace.processes,
            files=trace.files,
            problems=trace.problems,
            skipped_lines=trace.skipped_lines,
            missed_links=linked.misses,
            unmatched_ends=trace.unmatched_ends,
        )

    def combine(self, parts: Sequence[Part], trace: Trace) -> Report:
        for part in parts:
            self.ancestry.learn(part.ancestors, part.users)
            self.suppressed += part.suppressed
            self.benign += part.benign
            self.by_rule.update(part.by_rule)
        resource_runs = [r for part in parts for r in part.resource_runs]
        keys = [self._resource_key(k, runs) for k, runs in _by_resource(resource_runs).items()]
        created = {o.key: o.created for part in parts for o in part.outcomes}
        # Fan-out runs are left out of their object's lane (`_without_fan_outs`): an open one
        # is counted on its resource key, whichever part its process was analyzed in.
        fanned_open: list[Run] = []
        for key in keys:
            sites = {s.at: s for k in dict.fromkeys(map(_INSTANCE, key.runs))
                     for s in created.get(k, ())}
            key.created = tuple(sites.values())
            self._overlaps(key)
            if key.contention is None or not key.contention.drafts:
                self._latent(key)
            open_fan_outs = [r for r in key.unfinished if r.fan_out_of is not None]
            if open_fan_outs:
                self._unfinished(key, open_fan_outs)
                fanned_open += open_fan_outs
        outcomes = [o for part in parts for o in part.outcomes]
        outcomes += (self._outcome(key) for key in keys)
        merged_pairs, unsuppressed = _merge_same_pairs(outcomes)
        self.benign -= unsuppressed
        findings = _number(outcomes)
        summaries = [_summary(o) for o in outcomes]
        summaries.sort(key=lambda s: (-severity_rank(s.severity), s.first_start_ns or 0, s.key))
        unfinished = tuple(sorted(chain((r for part in parts for r in part.unfinished),
                                        fanned_open), key=_START))
        prefetch(chain(unfinished, (r for f in findings for r in f.runs)))  # what is shown
        return Report(
            trace=trace,
            findings=findings,
            instances=summaries,
            summary=self._totals(parts, outcomes, findings, unfinished, trace, merged_pairs),
            errors=[e for part in parts for e in part.errors],
            unfinished=unfinished,
            max_pairs=self.max_pairs,
            suppressions=tuple(r.text for r in self.rules.rules),
            suppressed_by_rule=dict(self.by_rule),
        )

    def _resource_key(self, key: str, runs: list[Run]) -> _Key:
        """A resource key's runs (start-sorted) as a table of their own."""
        table = Table.from_runs(runs)
        table.process_last_ns = self.process_last_ns
        rows = np.arange(len(runs))
        ends = table.resolved_ends()
        quiet, closest = _quiet(table.start, ends)
        return _Key(key, True, table, rows, table.start, ends,
                    [r for r in runs if r.end_ns is None], quiet=quiet,
                    last_end=int(ends.max()) if len(ends) else None, closest=closest)

    # -- overlaps ---------------------------------------------------------------------------
    def _overlaps(self, key: _Key) -> None:
        if len(key.rows) < 2 or key.quiet:
            return
        runs = key.table.views_of(key.rows)
        starts, ends = key.starts.tolist(), key.ends.tolist()
        if (key.ends <= key.starts).any():
            # An empty interval overlaps nothing; the sweep wants them gone.
            kept = [i for i, (s, e) in enumerate(zip(starts, ends, strict=True)) if e > s]
            runs = [runs[i] for i in kept]
            starts = [starts[i] for i in kept]
            ends = [ends[i] for i in kept]
        key.contention = analyze_key(
            runs, starts, ends, ancestry=self.ancestry, max_pairs=self.max_pairs,
            # On a resource key, pairs on one instance are the instance's own finding, unless
            # the instance is stateless (one compiled graph serving one thread twice): then
            # the conversation is what the overlap corrupts, and it is reported here.
            skip_same_instance=key.resource and not key.stateless,
        )
        if not key.contention.drafts:
            return
        cls, label, process = _identity(key)
        # A resource key (a conversation thread, a session) is state by definition.
        stateless = key.stateless and not key.resource
        by_kind: dict[str, list[OverlapDraft]] = {}
        for draft in key.contention.drafts:
            by_kind.setdefault(draft.kind, []).append(draft)
        for kind in OVERLAP_KINDS:
            drafts = by_kind.get(kind)
            if drafts:
                merged = _merge(kind, drafts, self.max_pairs)
                # The methods that ran and the objects they ran on: from every run involved
                # when one kind covers them all, else from the runs listed.
                involved = (key.contention.overlapping if len(by_kind) == 1
                            else merged.runs)
                explanation, fix = explain.overlap_explanation(
                    kind, merged.runs, run_count=merged.run_count, pair_count=merged.pair_count,
                    overlap_ns=total_length(merged.stretches), peak=merged.peak, cls=cls,
                    period_ns=_period(merged) if kind == PERIODIC else None,
                    processes=sorted({r.process_key for r in merged.runs}),
                    methods=Counter(map(_METHOD, involved)),
                    instances=len(set(map(_INSTANCE, involved))),
                    resource_key=key.key if key.resource else None,
                    stateless=stateless, created=key.created,
                )
                self._add(key, kind, INFO if stateless else WARNING, merged, explanation, fix,
                          cls, label, process, episodes=_episodes(drafts))

    def _add(self, key: _Key, kind: str, severity: str, draft: OverlapDraft,
             explanation: str, fix: str, cls: str, label: str | None, process: str | None,
             *, details: dict[str, object] | None = None, head: str | None = None,
             episodes: tuple[EpisodeSummary, ...] = ()) -> None:
        rule = self.rules.match(cls, draft.runs) if self.rules else None
        suppressed_by = None
        if rule is not None:
            self.by_rule[rule.text] += 1
            if rule.action == IGNORE:
                self.suppressed += 1
                return
            self.benign += 1
            severity = INFO
            suppressed_by = rule.text
        stretches = draft.stretches
        info: dict[str, object] = {}
        if kind in OVERLAP_KINDS:
            # "pair": every pair judged on its own; "run": an episode too large for that,
            # each run judged against the runs active when it started (counts stay exact).
            info["classified_by"] = draft.classified
        info.update(details or {})
        subject = explain.subject(cls, label, key.key, resource=key.resource)
        key.findings.append(Finding(
            id="",
            kind=kind,
            severity=severity,
            instance_key=key.key,
            instance_class=cls,
            instance_label=label,
            runs=draft.runs,
            pairs=draft.pairs,
            pair_count=draft.pair_count,
            pairs_truncated=draft.pair_count > len(draft.pairs),
            overlap_start_ns=stretches[0][0] if stretches else None,
            overlap_end_ns=stretches[-1][1] if stretches else None,
            overlap_ns=total_length(stretches),
            max_concurrency=draft.peak,
            headline=head or explain.headline(kind, subject),
            explanation=explanation,
            fix=fix,
            key_kind=KEY_RESOURCE if key.resource else KEY_INSTANCE,
            process=process,
            run_count=draft.run_count,
            episodes=episodes,
            suppressed_by=suppressed_by,
            details=info,
            created=key.created,
        ))

    # -- latent, unfinished, errors -----------------------------------------------------------
    def _latent(self, key: _Key) -> None:
        runs, rows, table = key.runs, key.rows, key.table
        if len(rows) < 2 or key.stateless:
            return
        # Two runs in two different tasks? Checked on the columns.
        has_task = table.has_task[rows]
        if has_task[0] and has_task.all():
            tasks = table.task[rows]
            if (tasks == tasks[0]).all():
                return
        sample = rows[:CONTEXTS_COUNTED]
        sample_tasks = has_task[:CONTEXTS_COUNTED]
        sample_threads = table.has_thread[sample]
        if not (sample_tasks | sample_threads).all():
            return  # other tools' spans: no task or thread says the users were independent
        if sample_tasks.all():
            counted = len(set(table.task[sample].tolist()))
        else:
            # Each run's flow of control (`classify.context_of`): its task, else its thread.
            hosts, pids = table.host[sample].tolist(), table.pid[sample].tolist()
            threads, tasks = table.thread[sample].tolist(), table.task[sample].tolist()
            counted = len({("task", task) if has else ("thread", host, pid, thread)
                           for has, task, host, pid, thread in zip(
                               sample_tasks.tolist(), tasks, hosts, pids, threads,
                               strict=True)})
        if counted < 2:
            return
        if key.resource and len(np.unique(table.instance[rows])) < 2:
            return  # one instance: its own key reports it
        kept_apart = ordering.serialized_rows(table, rows, runs, self.ancestry)
        if kept_apart is not None:
            key.serialized = kept_apart.describe()
            return
        if key.closest is None:
            # The closest two runs came within `gap` of overlapping.
            gaps = key.starts[1:] - key.ends[:-1]
            at = int(np.argmin(gaps))
            key.closest = (int(gaps[at]), at)
        gap, at = key.closest
        gap = max(0, gap)
        cls, label, process = _identity(key)
        explanation, fix = explain.latent_explanation(
            cls, counted, runs[:50], len(runs), gap, more=len(runs) > CONTEXTS_COUNTED,
            created=key.created)
        # The closest two alone (a view of each, not a window of views around them).
        pair = table.passing_views(rows[at: at + 2])
        if at == 0:
            pair[0] = runs[0]
        draft = OverlapDraft(kind=LATENT, runs=(pair[0], pair[1]), pairs=(),
                             pair_count=0, run_count=len(rows), stretches=[], peak=1, episode=0)
        subject = explain.subject(cls, label, key.key, resource=key.resource)
        self._add(key, LATENT, INFO, draft, explanation, fix, cls, label, process,
                  details={"contexts": counted, "closest_gap_ns": gap},
                  head=explain.headline(LATENT, subject, count=counted))

    def _unfinished(self, key: _Key, runs: list[Run] | None = None) -> None:
        runs = key.unfinished if runs is None else runs
        cls, label, process = _identity(key)
        processes = sorted({r.process_key for r in runs})
        explanation, fix = explain.unfinished_explanation(len(runs), processes)
        draft = OverlapDraft(kind=UNFINISHED, runs=tuple(runs[: self.max_pairs]), pairs=(),
                             pair_count=0, run_count=len(runs), stretches=[], peak=1, episode=0)
        subject = explain.subject(cls, label, key.key)
        last = {p: self.process_last_ns.get(p) for p in processes}
        self._add(key, UNFINISHED, WARNING, draft, explanation, fix, cls, label, process,
                  details={"open_until_ns": last},
                  head=explain.headline(UNFINISHED, subject, count=len(runs)))

    def _errors(self, keys: Sequence[_Key], overlapping: set[str]) -> list[ErrorStats]:
        stats = []
        for key in keys:
            failed = key.failed
            if not failed:
                continue
            during = [r for r in failed if r.run_id in overlapping]
            types = Counter(r.error_type or "unknown" for r in failed)
            known = {r.run_id: k for r in failed
                     if (k := known_errors.match(r.error_type, r.error_message)) is not None}
            stats.append(ErrorStats(key.key, len(failed), len(during), dict(types),
                                    dict(Counter(k.id for k in known.values()))))
            if not during:
                continue
            cls, label, process = _identity(key)
            during_types = dict(Counter(r.error_type or "unknown" for r in during))
            recognized = list({k.id: k for r in during
                               if (k := known.get(r.run_id)) is not None}.values())
            explanation, fix = explain.errors_explanation(len(during), len(failed), during_types,
                                                          recognized)
            draft = OverlapDraft(kind=ERRORS, runs=tuple(during[: self.max_pairs]), pairs=(),
                                 pair_count=0, run_count=len(during), stretches=[], peak=1,
                                 episode=0)
            subject = explain.subject(cls, label, key.key)
            self._add(key, ERRORS, INFO if key.stateless else ERROR, draft, explanation,
                      fix, cls, label, process,
                      details={"failed": len(failed), "during_overlap": len(during),
                               "types": during_types,
                               "known_errors": [{"id": k.id, "framework": k.framework,
                                                 "meaning": k.meaning, "fix": k.fix}
                                                for k in recognized]},
                      head=explain.headline(ERRORS, subject, count=len(during),
                                            total=len(failed)))
        return stats

    # -- event loops ------------------------------------------------------------------------
    def _loops(self, runs: list[Run], keys: dict[str, _Key]) -> None:
        """nested-loop and loop-blocking findings from the sync runs started on a running
        loop (`loops.find_loop_runs`), one finding of each kind per instance key."""
        if not runs:
            return
        last = self.process_last_ns
        drafts = find_loop_runs(
            runs, threshold_ns=self.blocking_threshold_ns,
            last_ns=lambda r: max(last.get(r.process_key, r.start_ns), r.start_ns))
        shown = {k: tuple(d.runs[: self.max_pairs])
                 for k, d in chain(drafts.nested.items(), drafts.blocking.items())}
        prefetch(r for group in shown.values() for r in group)
        for instance_key, draft in drafts.nested.items():
            key = keys.get(instance_key)
            if key is None:
                continue
            cls, label, process = _identity(key)
            listed = tuple(draft.runs[: self.max_pairs])
            never = sum(1 for r in draft.runs if r.end_ns is None)
            failed = len(draft.runs) - never
            explanation, fix = explain.nested_loop_explanation(
                listed, len(draft.runs), failed=failed, never_ended=never,
                own_loop=any(r.runs_own_loop for r in listed[:5]), known=draft.known)
            self._add(key, NESTED_LOOP, ERROR, _loop_draft(NESTED_LOOP, listed, len(draft.runs)),
                      explanation, fix, cls, label, process,
                      details={"failed": failed, "never_ended": never,
                               "known_errors": [k.id for k in draft.known]},
                      head=explain.headline(NESTED_LOOP, explain.subject(cls, label, key.key),
                                            count=len(draft.runs)))
        for instance_key, draft in drafts.blocking.items():
            key = keys.get(instance_key)
            if key is None:
                continue
            cls, label, process = _identity(key)
            listed = tuple(draft.runs[: self.max_pairs])
            total, longest = sum(draft.blocked_ns), max(draft.blocked_ns)
            never = sum(1 for r in draft.runs if r.end_ns is None)
            explanation, fix = explain.loop_blocking_explanation(
                listed, len(draft.runs), blocked_ns=total, longest_ns=longest,
                threshold_ns=self.blocking_threshold_ns, never_ended=never)
            self._add(key, LOOP_BLOCKING, WARNING,
                      _loop_draft(LOOP_BLOCKING, listed, len(draft.runs)),
                      explanation, fix, cls, label, process,
                      details={"blocked_ns": total, "longest_ns": longest,
                               "threshold_ns": self.blocking_threshold_ns,
                               "never_ended": never,
                               "blocked_by_run": {r.run_id: b for r, b in
                                                  zip(listed, draft.blocked_ns, strict=False)}},
                      head=explain.headline(LOOP_BLOCKING, explain.subject(cls, label, key.key),
                                            count=len(draft.runs), blocked_ns=total))

    # -- outcomes and totals -------------------------------------------------------------------
    def _outcome(self, key: _Key) -> Outcome:
        cls, label, process = _identity(key)
        contention = key.contention
        overlapped = contention is not None and bool(contention.drafts)
        return Outcome(
            key=key.key,
            resource=key.resource,
            cls=cls,
            label=label,
            process=process,
            runs=len(key.rows),
            pair_count=contention.pair_count if contention else 0,
            peak=contention.peak if contention and overlapped else (1 if len(key.rows) else 0),
            episodes=contention.episodes if contention else 0,
            unfinished=len(key.unfinished),
            errors=len(key.failed),
            first_start_ns=int(key.starts[0]) if len(key.starts) else None,
            last_end_ns=key.last_end,
            findings=key.findings,
            serialized=key.serialized,
            created=key.created,
        )

    def _totals(self, parts: Sequence[Part], outcomes: Sequence[Outcome],
                findings: Sequence[Finding], unfinished: Sequence[Run], trace: Trace,
                merged_pairs: int = 0) -> Summary:
        return Summary(
            runs=sum(part.runs for part in parts),
            instances=sum(1 for o in outcomes if not o.resource),
            resources=sum(1 for o in outcomes if o.resource),
            processes=len({p.key for p in trace.processes} | {r.process_key for r in unfinished}),
            findings=len(findings),
            by_kind=dict(Counter(f.kind for f in findings)),
            by_severity=dict(Counter(f.severity for f in findings)),
            suppressed=self.suppressed,
            benign=self.benign,
            skipped_lines=trace.skipped_lines,
            unfinished_runs=len(unfinished),
            error_runs=sum(part.failed for part in parts),
            # Resource keys count only pairs across instances, except on stateless objects,
            # whose pairs a resource finding reports: merged there, they count once.
            overlapping_pairs=sum(o.pair_count for o in outcomes) - merged_pairs,
            start_ns=min((o.first_start_ns for o in outcomes if o.first_start_ns is not None),
                         default=None),
            end_ns=max((o.last_end_ns for o in outcomes if o.last_end_ns is not None),
                       default=None),
        )


def _loop_draft(kind: str, runs: tuple[Run, ...], count: int) -> OverlapDraft:
    return OverlapDraft(kind=kind, runs=runs, pairs=(), pair_count=0, run_count=count,
                        stretches=[], peak=1, episode=0)


def _number(outcomes: Sequence[Outcome]) -> list[Finding]:
    """Every finding, most severe first, numbered F1, F2, ... (each outcome gets its own)."""
    everything = [f for o in outcomes for f in o.findings]
    everything.sort(key=_finding_order)
    numbered = [dataclasses.replace(f, id=f"F{n}") for n, f in enumerate(everything, 1)]
    by_key: dict[tuple[bool, str], list[Finding]] = {}
    for f in numbered:
        by_key.setdefault((f.key_kind == KEY_RESOURCE, f.instance_key), []).append(f)
        for other in f.also_on:  # a merged finding is also the other key's
            by_key.setdefault((other["key_kind"] == KEY_RESOURCE, other["key"]), []).append(f)
    for o in outcomes:
        o.findings = by_key.get((o.resource, o.key), [])
    return numbered


def _merge_same_pairs(outcomes: Sequence[Outcome]) -> tuple[int, int]:
    """Fold an instance's overlap finding into the resource finding of the same kind that
    lists the very same pairs (a stateless object serving one conversation twice): one finding
    naming both identities, at the worse severity of the two. Returns the pairs no longer
    counted twice, and the suppressed (benign) findings that merging raised above info."""
    by_pairs: dict[tuple[str, frozenset[tuple[str, str]]], tuple[Outcome, int]] = {}
    for outcome in outcomes:
        if outcome.resource:
            continue
        for n, f in enumerate(outcome.findings):
            if f.is_overlap and not f.pairs_truncated:
                by_pairs[(f.kind, frozenset(f.pairs))] = (outcome, n)
    if not by_pairs:
        return 0, 0
    merged = unsuppressed = 0
    dropped: dict[int, set[int]] = {}
    for outcome in outcomes:
        if not outcome.resource:
            continue
        for n, f in enumerate(outcome.findings):
            if not f.is_overlap or f.pairs_truncated:
                continue
            hit = by_pairs.get((f.kind, frozenset(f.pairs)))
            if hit is None or f.also_on:
                continue
            owner, index = hit
            if index in dropped.get(id(owner), set()):
                continue
            other = owner.findings[index]
            dropped.setdefault(id(owner), set()).add(index)
            merged += other.pair_count
            also = {
                "key": other.instance_key, "key_kind": KEY_INSTANCE,
                "class": other.instance_class, "label": other.instance_label,
                "process": other.process, "severity": other.severity,
            }
            severity = worst((f.severity, other.severity)) or f.severity
            if f.suppressed_by is not None and severity != INFO:
                unsuppressed += 1  # the instance's finding was not lowered: nor is the merged one
            outcome.findings[n] = dataclasses.replace(
                f,
                severity=severity,
                suppressed_by=f.suppressed_by if severity == INFO else None,
                headline=f"{f.headline} and " + explain.subject(
                    other.instance_class, other.instance_label, other.instance_key),
                also_on=(*f.also_on, also),
                created=f.created or other.created,
            )
    for outcome in outcomes:
        gone = dropped.get(id(outcome))
        if gone:
            outcome.findings = [f for n, f in enumerate(outcome.findings) if n not in gone]
    return merged, unsuppressed


def _summary(outcome: Outcome) -> InstanceSummary:
    findings = outcome.findings
    return InstanceSummary(
        key=outcome.key,
        cls=outcome.cls,
        label=outcome.label,
        process=outcome.process,
        runs=outcome.runs,
        overlapping_pairs=outcome.pair_count,
        max_concurrency=outcome.peak,
        kinds=tuple(sorted({f.kind for f in findings}, key=_KIND_ORDER.__getitem__)),
        severity=worst(f.severity for f in findings),
        is_resource=outcome.resource,
        episodes=outcome.episodes,
        unfinished=outcome.unfinished,
        errors=outcome.errors,
        first_start_ns=outcome.first_start_ns,
        last_end_ns=outcome.last_end_ns,
        finding_ids=tuple(f.id for f in findings),
        serialized=outcome.serialized,
        created_at=outcome.created[0] if outcome.created and not outcome.resource else None,
    )


def _lane_keys(table: Table, lanes: Lanes) -> list[_Key]:
    """A `_Key` per lane, in the order the instance keys were met: the keys where no two runs
    overlap, how close they came and the last end, found for all lanes at once."""
    starts, ends = lanes.starts, lanes.ends
    count = len(starts)
    if not count:
        return []
    lo, hi = lanes.lo, lanes.hi
    gaps = np.full(count, np.iinfo(np.int64).max, dtype=np.int64)
    gaps[:-1] = starts[1:] - ends[:-1]
    gaps[hi - 1] = np.iinfo(np.int64).max  # no gap past a lane's last run
    closest = np.minimum.reduceat(gaps, lo)
    where = np.where(gaps == np.repeat(closest, hi - lo), np.arange(count), count)
    at = np.minimum.reduceat(where, lo) - lo
    last_end = np.maximum.reduceat(ends, lo)
    quiet = closest >= 0
    # Unfinished runs, per lane in load order; in start order in a lane that left fan-out
    # runs out (as the object loader's lane was sorted then).
    unfinished: dict[int, list[int]] = {}
    open_rows = np.flatnonzero((table.end == NO_END) & lanes.member)
    for row in open_rows.tolist():
        unfinished.setdefault(int(table.instance[row]), []).append(row)
    start = table.start
    for key in lanes.fanned.tolist():
        if key in unfinished:
            unfinished[key].sort(key=start.__getitem__)
    names = table.instance_keys
    keys = []
    for lane, (key, a, b, calm, gap, index, last) in enumerate(zip(
            lanes.keys.tolist(), lo.tolist(), hi.tolist(), quiet.tolist(), closest.tolist(),
            at.tolist(), last_end.tolist(), strict=True)):
        keys.append(_Key(
            names[key], False, table, lanes.rows_of(lane), starts[a:b], ends[a:b],
            table.views_of(unfinished[key]) if key in unfinished else [], quiet=calm,
            closest=(gap, index) if calm and b - a > 1 else None, last_end=last))
    return keys


def _quiet(starts: np.ndarray, ends: np.ndarray) -> tuple[bool, tuple[int, int] | None]:
    """Whether no two of one key's runs (start-sorted) overlap, and if so how close two came
    and where."""
    if len(starts) < 2:
        return True, None
    gaps = starts[1:] - ends[:-1]
    at = int(np.argmin(gaps))
    if gaps[at] < 0:
        return False, None
    return True, (int(gaps[at]), at)


def _by_resource(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """Runs by resource key, in the trace's (start) order; usually few or none."""
    resources: dict[str, list[Run]] = {}
    for run in [r for r in runs if r.resource_key is not None]:
        resources.setdefault(run.resource_key, []).append(run)  # type: ignore[arg-type]
    for group in resources.values():
        group.sort(key=_START)
    return resources


def _merge(kind: str, drafts: Sequence[OverlapDraft], max_pairs: int) -> OverlapDraft:
    """One key's drafts of one kind (its episodes, or components of mixed episodes) as one:
    true totals, pairs listed from the earliest episodes up to the cap."""
    if len(drafts) == 1:
        return drafts[0]
    pairs: list[tuple[str, str]] = []
    runs: dict[str, Run] = {}
    for draft in drafts:
        room = max_pairs - len(pairs)
        if room <= 0:
            break
        pairs.extend(draft.pairs[:room])
        runs.update((r.run_id, r) for r in draft.runs)
    listed = {x for pair in pairs for x in pair}
    return OverlapDraft(
        kind=kind,
        runs=tuple(sorted((r for i, r in runs.items() if i in listed), key=_START)),
        pairs=tuple(pairs),
        pair_count=sum(d.pair_count for d in drafts),
        run_count=sum(d.run_count for d in drafts),
        stretches=merge_intervals(s for d in drafts for s in d.stretches),
        peak=max(d.peak for d in drafts),
        episode=drafts[0].episode,
        classified="run" if any(d.classified == "run" for d in drafts) else "pair",
    )


def _episodes(drafts: Sequence[OverlapDraft]) -> tuple[EpisodeSummary, ...]:
    return tuple(
        EpisodeSummary(
            index=d.episode,
            start_ns=d.stretches[0][0],
            end_ns=d.stretches[-1][1],
            overlap_ns=total_length(d.stretches),
            run_count=d.run_count,
            pair_count=d.pair_count,
            max_concurrency=d.peak,
            first_pair=d.pairs[0] if d.pairs else None,
        )
        for d in drafts
    )


def _identity(key: _Key) -> tuple[str, str | None, str | None]:
    """(class, label, process) of a key: a resource key lists its classes and has a process
    only when one process drove it."""
    if key.identity is not None:
        return key.identity
    first = key.runs[0]
    if not key.resource:
        return first.instance_class, first.instance_label, first.process_key
    classes = sorted({r.instance_class for r in key.runs})
    processes = {r.process_key for r in key.runs}
    return ", ".join(classes), None, (first.process_key if len(processes) == 1 else None)


def _period(draft: OverlapDraft) -> int | None:
    starts = sorted(r.start_ns for r in draft.runs)
    if len(starts) < 2:
        return None
    return int(statistics.median(b - a for a, b in pairwise(starts)))


def _finding_order(f: Finding) -> tuple[int, int, int, str]:
    when = f.overlap_start_ns
    if when is None:
        when = f.runs[0].start_ns if f.runs else 0
    return (-severity_rank(f.severity), _KIND_ORDER.get(f.kind, 99), when, f.instance_key)

"""Runs that stopped their own thread's event loop: the seed's "event loop is already running"
and the service that stalls as load grows. No overlap is needed for either.

The tracer marks a synchronous run that started on a thread whose asyncio loop was running
(`Run.loop_running`): while such a run goes on, nothing else on that loop runs. Of those runs:

- **nested-loop**: the run tried to run an event loop of its own (`asyncio.run`, a sync
  wrapper such as `Runner.run_sync` or a sync `invoke` that drives a loop) and failed at once
  with one of the known "loop already running" errors (`known_errors`, `nested_loop`), or it is
  known to run a loop of its own (`Run.runs_own_loop`) and never ended: a deadlock.
- **loop-blocking**: the run ended, after holding the loop for at least the threshold, or it
  never ended without evidence of a loop of its own: still blocking when its process last
  recorded (blocked until then, whatever the threshold). A run whose call returned a coroutine
  or future (END reason `awaited`) held it only until then.

A sync run nested inside another such run on the same thread is part of the outer one: the
outer run is what held the loop, and each stretch of blocked time is counted once. An inner run
is reported on its own only for a nested-loop error that the outer run caught.

Pure: runs in, drafts out; the analysis words and files them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter

from racetrace.analyzers.core.model import Run

from . import known_errors
from .known_errors import KnownError

DEFAULT_BLOCKING_NS = 100_000_000  # 100 ms: far beyond a healthy loop's slice, short of a hang
AWAITED = "awaited"  # END reason: the sync call returned an awaitable that the run went on with

_START = attrgetter("start_ns")


@dataclass(slots=True)
class LoopDraft:
    """One instance key's runs of one kind, in start order."""

    runs: list[Run] = field(default_factory=list)
    blocked_ns: list[int] = field(default_factory=list)  # loop-blocking: per run
    known: list[KnownError] = field(default_factory=list)  # nested-loop: errors recognized


@dataclass(slots=True)
class LoopDrafts:
    nested: dict[str, LoopDraft] = field(default_factory=dict)  # instance key -> draft
    blocking: dict[str, LoopDraft] = field(default_factory=dict)


def loop_error(run: Run) -> KnownError | None:
    """The known "event loop already running" error the run failed with, if any."""
    if run.error_type is None and run.error_message is None:
        return None
    known = known_errors.match(run.error_type, run.error_message)
    return known if known is not None and known.nested_loop else None


def find_loop_runs(runs: list[Run], *, threshold_ns: int = DEFAULT_BLOCKING_NS,
                   last_ns: Callable[[Run], int] | None = None) -> LoopDrafts:
    """Sort the runs marked `loop_running` (`Trace.runs_on_loop`) into nested-loop and
    loop-blocking drafts per instance key (see the module docstring). `last_ns`: the last
    moment a run's process recorded (`Trace.last_ns_of`), how long an open run blocked."""
    drafts = LoopDrafts()
    if not runs:
        return drafts
    by_id = {r.run_id: r for r in runs}
    errors = {r.run_id: k for r in runs if (k := loop_error(r)) is not None}
    for run in sorted(runs, key=_START):
        outer = _outer(run, by_id)
        known = errors.get(run.run_id)
        if known is not None:
            if outer is not None and outer.run_id in errors:
                continue  # the same error, passing through the outer run: reported there
            draft = drafts.nested.setdefault(run.instance_key, LoopDraft())
            draft.runs.append(run)
            if known not in draft.known:
                draft.known.append(known)
            continue
        if outer is not None:
            continue  # the outer run held the loop for this one's time as well
        if run.end_reason == AWAITED:
            continue  # the call returned an awaitable: the loop was held only until then
        if run.end_ns is None:
            if run.runs_own_loop:
                drafts.nested.setdefault(run.instance_key, LoopDraft()).runs.append(run)
                continue
            # Still holding the loop when its process last recorded: blocking, however long.
            end = last_ns(run) if last_ns is not None else run.start_ns
            draft = drafts.blocking.setdefault(run.instance_key, LoopDraft())
            draft.runs.append(run)
            draft.blocked_ns.append(max(end - run.start_ns, 0))
            continue
        blocked = run.end_ns - run.start_ns
        if blocked >= threshold_ns:
            draft = drafts.blocking.setdefault(run.instance_key, LoopDraft())
            draft.runs.append(run)
            draft.blocked_ns.append(blocked)
    return drafts


def _outer(run: Run, by_id: dict[str, Run]) -> Run | None:
    """The sync run on the same thread that `run` was called inside, if it was marked too."""
    parent = by_id.get(run.parent_run_id) if run.parent_run_id is not None else None
    if (parent is not None and parent.thread_id == run.thread_id and parent.pid == run.pid
            and parent.host == run.host):
        return parent
    return None

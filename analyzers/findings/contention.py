"""Contention on one key: its overlap episodes, each overlapping pair's kind, bounded findings.

Input is one key's runs sorted by start with their resolved, non-empty intervals. The sweep
(`overlap.sweep_episodes`) finds the episodes and counts their pairs. Then, per episode:

- up to `EDGE_LIMIT` pairs: every pair is listed and classified (`classify.pair_kind`). An
  episode whose pairs are all of one kind is one draft finding; a mixed one is split into the
  connected components of each kind's pairs (a graph: nodes runs, edges overlapping pairs),
  one draft per component;
- beyond it (one object hammered by thousands of runs at once: k runs have k(k-1)/2 pairs):
  pairs are counted, not listed, and each run is judged once against the runs active when it
  started (ancestors, same task, other processes, one timer), its pairs going to
  that kind. Counts stay exact; a capped sample of pairs is listed.

For a resource key, pairs on one instance are skipped: the instance key reports them already.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import islice

from racetrace.analyzers.core.model import Run

from .classify import Ancestry, Timer, context_of, pair_kind, timers
from .overlap import (
    Episode,
    episode_pairs,
    merge_intervals,
    peak_depth,
    sweep_episodes,
)
from .report import CONCURRENT, CROSS_PROCESS, OVERLAP_KINDS, PERIODIC, REENTRANT

EDGE_LIMIT = 10_000  # pairs per episode classified one by one


@dataclass(slots=True)
class OverlapDraft:
    """One overlap finding before severity, suppression and id are settled."""

    kind: str
    runs: tuple[Run, ...]  # the runs of the listed pairs, in start order
    pairs: tuple[tuple[str, str], ...]
    pair_count: int
    run_count: int
    stretches: list[tuple[int, int]]  # where two or more of its runs were active
    peak: int
    episode: int
    classified: str = "pair"  # "pair": each pair judged; "run": each run judged (huge episode)


@dataclass(slots=True)
class KeyContention:
    pair_count: int = 0
    peak: int = 1
    episodes: int = 0
    overlapping: list[Run] = field(default_factory=list)  # runs in at least one counted pair
    drafts: list[OverlapDraft] = field(default_factory=list)


def analyze_key(
    runs: Sequence[Run],
    starts: Sequence[int],
    ends: Sequence[int],
    *,
    ancestry: Ancestry,
    max_pairs: int,
    skip_same_instance: bool = False,
    edge_limit: int = EDGE_LIMIT,
) -> KeyContention:
    """Everything that overlapped on one key (runs start-sorted, intervals non-empty)."""
    result = KeyContention()
    episodes = sweep_episodes(starts, ends)
    if not episodes:
        return result
    periodic = timers(runs)
    for number, episode in enumerate(episodes):
        if episode.pair_count <= edge_limit:
            drafts, overlapping = _by_pair(
                runs, starts, ends, episode, number, ancestry, periodic, max_pairs,
                skip_same_instance,
            )
        else:
            drafts, overlapping = _by_run(
                runs, starts, ends, episode, number, ancestry, periodic, max_pairs,
                skip_same_instance,
            )
        if not drafts:
            continue
        result.episodes += 1
        result.pair_count += sum(d.pair_count for d in drafts)
        result.peak = max(result.peak, episode.peak)
        result.overlapping.extend(overlapping)
        result.drafts.extend(drafts)
    return result


def _intervals(starts: Sequence[int], ends: Sequence[int], episode: Episode) -> list[
    tuple[int, int]
]:
    lo, hi = episode.lo, episode.hi
    return list(zip(starts[lo:hi], ends[lo:hi], strict=True))


def _pair_ids(runs: Sequence[Run], pairs: Sequence[tuple[int, int]]) -> tuple[
    tuple[tuple[str, str], ...], tuple[Run, ...]
]:
    listed = tuple((runs[i].run_id, runs[j].run_id) for i, j in pairs)
    members = sorted({i for pair in pairs for i in pair})
    return listed, tuple(runs[i] for i in members)


def _by_pair(
    runs: Sequence[Run],
    starts: Sequence[int],
    ends: Sequence[int],
    episode: Episode,
    number: int,
    ancestry: Ancestry,
    periodic: dict[str, Timer],
    max_pairs: int,
    skip_same_instance: bool,
) -> tuple[list[OverlapDraft], list[Run]]:
    edges: dict[str, list[tuple[int, int]]] = {}
    skipped = False
    for i, j in episode_pairs(starts, ends, episode.lo, episode.hi):
        a, b = runs[i], runs[j]
        if skip_same_instance and a.instance_key == b.instance_key:
            skipped = True
            continue
        kind = pair_kind(a, b, ancestry.of(b), ancestry.of(a), periodic)
        edges.setdefault(kind, []).append((i, j))
    if not edges:
        return [], []
    if len(edges) == 1 and not skipped:
        # The common case: the whole episode is one finding; no graph needed.
        (kind, pairs), = edges.items()
        listed, members = _pair_ids(runs, pairs[:max_pairs])
        draft = OverlapDraft(
            kind=kind, runs=members, pairs=listed, pair_count=len(pairs),
            run_count=episode.size, stretches=list(episode.stretches),
            peak=episode.peak, episode=number,
        )
        return [draft], list(runs[episode.lo:episode.hi])
    drafts = []
    involved: set[int] = set()
    for kind in OVERLAP_KINDS:
        pairs = edges.get(kind)
        if not pairs:
            continue
        for component in components(pairs):
            comp_pairs = [(i, j) for i, j in pairs if i in component]
            listed, members = _pair_ids(runs, comp_pairs[:max_pairs])
            # The most runs of this component active at one moment, by the sweep: the maximum
            # clique of their interval graph, without networkx's exponential clique search.
            peak = peak_depth((starts[i], ends[i]) for i in component)
            stretches = merge_intervals(
                (starts[j], min(ends[i], ends[j])) for i, j in comp_pairs
            )
            drafts.append(OverlapDraft(
                kind=kind, runs=members, pairs=listed, pair_count=len(comp_pairs),
                run_count=len(component), stretches=stretches, peak=peak, episode=number,
            ))
            involved.update(component)
    return drafts, [runs[i] for i in sorted(involved)]


def components(pairs: Sequence[tuple[int, int]]) -> list[set[int]]:
    """The connected components of the graph of `pairs` (edges between run indices), ordered
    by their first run: a union-find, since that is all a graph library would be asked."""
    parent: dict[int, int] = {}

    def root(node: int) -> int:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for i, j in pairs:
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[int, set[int]] = {}
    for node in parent:
        groups.setdefault(root(node), set()).add(node)
    return sorted(groups.values(), key=min)


def _by_run(
    runs: Sequence[Run],
    starts: Sequence[int],
    ends: Sequence[int],
    episode: Episode,
    number: int,
    ancestry: Ancestry,
    periodic: dict[str, Timer],
    max_pairs: int,
    skip_same_instance: bool,
) -> tuple[list[OverlapDraft], list[Run]]:
    lo, hi = episode.lo, episode.hi
    members = runs[lo:hi]
    # Each run's identities, read once; the counters below say how many active runs share
    # each one, so that judging a run costs a few dict lookups whatever the number active.
    contexts = [context_of(r) for r in members]
    processes = [(r.host, r.pid) for r in members]
    linked = any(r.parent_run_id or r.task_created_by_run for r in members)
    if (not linked and not periodic and not skip_same_instance
            and len(set(processes)) == 1 and len(set(contexts)) == len(contexts)):
        # The usual shape of a huge episode, one object hammered by independent tasks of one
        # process: every pair is concurrent, and the sweep has counted them already.
        sample = list(islice(
            ((lo + i, lo + j) for i, j in episode_pairs(starts[lo:hi], ends[lo:hi], 0, hi - lo)),
            max_pairs))
        return _by_run_drafts(
            runs, episode, number, Counter({CONCURRENT: episode.pair_count}),
            Counter({CONCURRENT: episode.size - 1}),
            {**{k: [] for k in OVERLAP_KINDS}, CONCURRENT: sample})
    sites: list[object] = (
        [periodic.get(r.run_id) for r in members] if periodic else [None] * len(members)
    )
    instances = [r.instance_key for r in members] if skip_same_instance else None
    heap: list[tuple[int, int]] = []
    active: set[str] = set()  # ids of the runs active now (only needed to find ancestors)
    per_process: dict[object, int] = {}
    per_context: dict[object, int] = {}
    per_site: dict[object, int] = {}
    per_instance: dict[object, int] = {}
    counts: Counter[str] = Counter()
    judged: Counter[str] = Counter()
    samples: dict[str, list[tuple[int, int]]] = {k: [] for k in OVERLAP_KINDS}
    push, pop = heapq.heappush, heapq.heappop
    for k in range(hi - lo):
        start = starts[lo + k]
        while heap and heap[0][0] <= start:
            i = pop(heap)[1]
            per_process[processes[i]] -= 1
            per_context[contexts[i]] -= 1
            if sites[i] is not None:
                per_site[sites[i]] -= 1
            if instances is not None:
                per_instance[instances[i]] -= 1
            if linked:
                active.discard(members[i].run_id)
        n = len(heap)
        same = per_instance.get(instances[k], 0) if instances is not None else 0
        if n > same:
            if per_context.get(contexts[k], 0) > 0 or (
                linked and not active.isdisjoint(ancestry.of(members[k]))
            ):
                kind = REENTRANT
            elif n > per_process.get(processes[k], 0):
                kind = CROSS_PROCESS
            elif sites[k] is not None and per_site.get(sites[k], 0) > 0:
                kind = PERIODIC
            else:
                kind = CONCURRENT
            counts[kind] += n - same
            judged[kind] += 1
            sample = samples[kind]
            if len(sample) < max_pairs:
                for i in sorted(i for _, i in heap):
                    if instances is not None and instances[i] == instances[k]:
                        continue
                    sample.append((lo + i, lo + k))
                    if len(sample) >= max_pairs:
                        break
        push(heap, (ends[lo + k], k))
        per_process[processes[k]] = per_process.get(processes[k], 0) + 1
        per_context[contexts[k]] = per_context.get(contexts[k], 0) + 1
        if sites[k] is not None:
            per_site[sites[k]] = per_site.get(sites[k], 0) + 1
        if instances is not None:
            per_instance[instances[k]] = per_instance.get(instances[k], 0) + 1
        if linked:
            active.add(members[k].run_id)
    return _by_run_drafts(runs, episode, number, counts, judged, samples)


def _by_run_drafts(
    runs: Sequence[Run],
    episode: Episode,
    number: int,
    counts: Counter[str],
    judged: Counter[str],
    samples: dict[str, list[tuple[int, int]]],
) -> tuple[list[OverlapDraft], list[Run]]:
    if not counts:
        return [], []
    stretches = list(episode.stretches)
    main = counts.most_common(1)[0][0]
    drafts = []
    for kind in OVERLAP_KINDS:
        if not counts[kind]:
            continue
        listed, members = _pair_ids(runs, samples[kind])
        drafts.append(OverlapDraft(
            kind=kind, runs=members, pairs=listed, pair_count=counts[kind],
            # Each run is counted under the kind it was judged; the first run of the episode,
            # judged against nothing, goes with the main kind.
            run_count=judged[kind] + (1 if kind == main else 0),
            stretches=stretches, peak=episode.peak, episode=number, classified="run",
        ))
    return drafts, list(runs[episode.lo:episode.hi])

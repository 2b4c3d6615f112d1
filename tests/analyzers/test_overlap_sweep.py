"""The sweep equals brute force on random intervals, including identical, touching, empty and
unfinished ones: pair counts, episodes, peak depth, overlap stretches."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st
from racetrace.analyzers.core.model import Process, Run, Trace
from racetrace.analyzers.findings.analyze import analyze
from racetrace.analyzers.findings.overlap import (
    count_pairs,
    episode_pairs,
    has_overlap,
    merge_intervals,
    overlap_stretches,
    peak_depth,
    sweep_episodes,
)

# Small coordinates so that identical and touching intervals are frequent.
intervals_st = st.lists(
    st.tuples(st.integers(0, 30), st.integers(0, 12)).map(lambda t: (t[0], t[0] + t[1])),
    max_size=25,
)


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Half-open intersection, by definition."""
    return max(a[0], b[0]) < min(a[1], b[1])


def brute_pairs(iv: list[tuple[int, int]]) -> set[tuple[int, int]]:
    return {(i, j) for i in range(len(iv)) for j in range(i + 1, len(iv)) if overlaps(iv[i], iv[j])}


def depth_at(iv: list[tuple[int, int]], t: int) -> int:
    return sum(1 for s, e in iv if s <= t < e)


def brute_components(iv: list[tuple[int, int]]) -> list[set[int]]:
    parent = list(range(len(iv)))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for i, j in brute_pairs(iv):
        parent[find(i)] = find(j)
    groups: dict[int, set[int]] = {}
    for i in range(len(iv)):
        groups.setdefault(find(i), set()).add(i)
    return [g for g in groups.values() if len(g) > 1]


def sorted_nonempty(iv: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return sorted(x for x in iv if x[1] > x[0])


@settings(max_examples=400, deadline=None)
@given(intervals_st)
def test_pair_count_and_episodes_equal_brute_force(raw: list[tuple[int, int]]) -> None:
    iv = sorted_nonempty(raw)
    starts, ends = [s for s, _ in iv], [e for _, e in iv]
    pairs = brute_pairs(iv)
    assert count_pairs(starts, ends) == len(pairs)
    assert has_overlap(starts, ends) == bool(pairs)
    assert set(episode_pairs(starts, ends, 0, len(iv))) == pairs
    episodes = sweep_episodes(starts, ends)
    assert [set(range(e.lo, e.hi)) for e in episodes] == sorted(brute_components(iv), key=min)
    for e in episodes:
        inside = [iv[i] for i in range(e.lo, e.hi)]
        assert e.pair_count == len(brute_pairs(inside))
        assert e.peak == max(depth_at(inside, t) for t in range(0, 50))


@settings(max_examples=400, deadline=None)
@given(intervals_st)
def test_overlap_stretches_are_exactly_where_two_are_active(raw: list[tuple[int, int]]) -> None:
    stretches = overlap_stretches(raw)
    covered = {t for s, e in stretches for t in range(s, e)}
    assert covered == {t for t in range(0, 50) if depth_at(raw, t) >= 2}
    # Disjoint, ordered, non-touching (touching ones are merged), non-empty.
    for (s1, e1), (s2, e2) in pairwise(stretches):
        assert s1 < e1 < s2 < e2


@settings(max_examples=300, deadline=None)
@given(intervals_st)
def test_peak_depth_and_union(raw: list[tuple[int, int]]) -> None:
    assert peak_depth(raw) == max([depth_at(raw, t) for t in range(0, 50)] + [0])
    union = merge_intervals(raw)
    assert {t for s, e in union for t in range(s, e)} == {
        t for t in range(0, 50) if depth_at(raw, t) >= 1
    }


def test_identical_intervals_are_two_runs_not_one() -> None:
    # networkx.interval_graph would merge these into one node; they are two overlapping runs.
    assert count_pairs([5, 5, 5], [9, 9, 9]) == 3
    assert sweep_episodes([5, 5, 5], [9, 9, 9])[0].peak == 3


def test_touching_intervals_do_not_overlap() -> None:
    assert count_pairs([0, 5, 10], [5, 10, 15]) == 0
    assert overlap_stretches([(0, 5), (5, 10)]) == []


def test_empty_interval_overlaps_nothing() -> None:
    assert overlap_stretches([(0, 10), (5, 5)]) == []
    assert peak_depth([(3, 3), (3, 3)]) == 0


def test_stretch_continues_through_a_handover() -> None:
    # [0,10) stays active while one partner ends at 5 and another starts at 5.
    assert overlap_stretches([(0, 10), (2, 5), (5, 8)]) == [(2, 8)]


def test_twenty_thousand_all_overlapping_runs_are_counted_not_listed() -> None:
    k = 20_000
    starts = list(range(k))
    ends = [10 * k] * k
    (episode,) = sweep_episodes(starts, ends)
    assert episode.pair_count == k * (k - 1) // 2
    assert episode.peak == k
    first = list(zip(range(5), episode_pairs(starts, ends, 0, k), strict=False))
    assert [p for _, p in first] == [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3)]


# Runs as (key, start, end or None for unfinished); the process recorded up to LAST.
LAST = 40
runs_st = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.integers(0, 30),
        st.one_of(st.none(), st.integers(0, 10)),
    ),
    max_size=20,
)


@settings(max_examples=300, deadline=None)
@given(runs_st)
def test_analysis_counts_every_pair_with_unfinished_runs_open_to_the_end(
    spec: list[tuple[str, int, int | None]],
) -> None:
    runs = [
        Run(run_id=f"{n:016x}", method="m.C.run", start_ns=start, instance_key=key,
            end_ns=None if length is None else start + length, pid=1, host="h",
            task_key=f"t{n}", status="ok" if length is not None else "unfinished")
        for n, (key, start, length) in enumerate(spec)
    ]
    runs.sort(key=lambda r: r.start_ns)
    trace = Trace(runs=runs, processes=[Process(host="h", pid=1, source="x", last_ns=LAST)],
                  process_last_ns={"h/1": LAST})
    report = analyze(trace)
    for summary in report.instances:
        mine = [r for r in runs if r.instance_key == summary.key]
        # An unfinished run is open through the last recorded moment: [start, LAST] inclusive.
        iv = [(r.start_ns, r.end_ns if r.end_ns is not None else max(LAST, r.start_ns) + 1)
              for r in mine]
        assert summary.overlapping_pairs == len(brute_pairs(iv))
        expected_peak = max(depth_at(iv, t) for t in range(0, 50)) if iv else 0
        assert summary.max_concurrency == max(expected_peak, 1)
    assert sum(f.pair_count for f in report.findings if f.is_overlap) == sum(
        s.overlapping_pairs for s in report.instances
    )


def test_two_unfinished_runs_overlap_at_the_last_recorded_moment() -> None:
    runs = [Run(run_id="1", method="m", start_ns=10, instance_key="k", task_key="t1", pid=1,
                host="h"),
            Run(run_id="2", method="m", start_ns=40, instance_key="k", task_key="t2", pid=1,
                host="h")]
    trace = Trace(runs=runs, processes=[], process_last_ns={"h/1": 40})
    (finding,) = [f for f in analyze(trace).findings if f.is_overlap]
    assert finding.pair_count == 1
    assert (finding.overlap_start_ns, finding.overlap_end_ns) == (40, 41)


@settings(max_examples=300, deadline=None)
@given(intervals_st)
def test_run_by_run_judging_counts_and_stretches_equal_brute_force(
    raw: list[tuple[int, int]],
) -> None:
    from racetrace.analyzers.findings.classify import Ancestry
    from racetrace.analyzers.findings.contention import analyze_key

    iv = sorted_nonempty(raw)
    runs = [Run(run_id=str(n), method="m", start_ns=s, end_ns=e, instance_key="k",
                task_key=f"t{n}", pid=1, host="h") for n, (s, e) in enumerate(iv)]
    starts, ends = [s for s, _ in iv], [e for _, e in iv]
    for limit in (0, 10_000):  # every episode judged run by run, then pair by pair
        result = analyze_key(runs, starts, ends, ancestry=Ancestry(lambda _: None),
                             max_pairs=3, edge_limit=limit)
        assert result.pair_count == len(brute_pairs(iv))
        stretches = merge_intervals(s for d in result.drafts for s in d.stretches)
        assert stretches == overlap_stretches(iv)


def pair_by_pair(runs: list[Run], starts: list[int], ends: list[int], ancestry: object,
                 max_pairs: int, skip_same_instance: bool) -> list[tuple[object, ...]]:
    """The drafts of episodes judged pair by pair, by the rule's definition: every pair of
    `episode_pairs` given its `pair_kind`; an episode of one kind one draft, a mixed one a
    draft per connected component of each kind's pairs."""
    from racetrace.analyzers.findings.classify import pair_kind, timers
    from racetrace.analyzers.findings.contention import components
    from racetrace.analyzers.findings.report import OVERLAP_KINDS

    periodic = timers(runs)
    drafts: list[tuple[object, ...]] = []

    def draft(kind: str, pairs: list[tuple[int, int]], count: int, stretches: object,
              peak: int, number: int) -> tuple[object, ...]:
        listed = pairs[:max_pairs]
        members = sorted({i for pair in listed for i in pair})
        return (kind, [(runs[i].run_id, runs[j].run_id) for i, j in listed],
                [runs[i].run_id for i in members], len(pairs), count, stretches, peak, number)

    for number, episode in enumerate(sweep_episodes(starts, ends)):
        edges: dict[str, list[tuple[int, int]]] = {}
        skipped = False
        for i, j in episode_pairs(starts, ends, episode.lo, episode.hi):
            a, b = runs[i], runs[j]
            if skip_same_instance and a.instance_key == b.instance_key:
                skipped = True
                continue
            kind = pair_kind(a, b, ancestry.of(b), ancestry.of(a), periodic)  # type: ignore[attr-defined]
            edges.setdefault(kind, []).append((i, j))
        if len(edges) == 1 and not skipped:
            (kind, pairs), = edges.items()
            drafts.append(draft(kind, pairs, episode.size, list(episode.stretches),
                                episode.peak, number))
            continue
        for kind in OVERLAP_KINDS:
            for component in components(edges.get(kind, [])):
                pairs = [(i, j) for i, j in edges[kind] if i in component]
                drafts.append(draft(
                    kind, pairs, len(component),
                    merge_intervals((starts[j], min(ends[i], ends[j])) for i, j in pairs),
                    peak_depth((starts[i], ends[i]) for i in component), number))
    return drafts


runs_st = st.lists(
    st.tuples(st.integers(0, 40), st.integers(1, 12), st.integers(0, 3), st.integers(1, 2),
              st.booleans(), st.integers(-1, 30), st.integers(0, 2)),
    min_size=2, max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(runs_st, st.booleans(), st.sampled_from([1, 3, 100]))
def test_pairs_judged_on_arrays_are_judged_as_pair_kind_judges_each(
        spec: list[tuple[int, int, int, int, bool, int, int]], skip: bool, max_pairs: int,
) -> None:
    """`contention._by_pair` finds every pair's kind for an episode at once; its drafts are
    those of `pair_kind` asked pair by pair: tasks shared (re-entrant unless the earlier run
    outlives its call), two processes, parent links (some to runs after, some in a cycle),
    instances skipped on a resource key."""
    from racetrace.analyzers.findings.classify import Ancestry
    from racetrace.analyzers.findings.contention import analyze_key

    spec = sorted(spec, key=lambda s: s[0])
    runs = [Run(run_id=f"{n:016x}", method="m.C.run", start_ns=start, end_ns=start + length,
                instance_key=f"i{instance}", pid=pid, host="h", task_key=f"t{task}",
                outlives_call=outlives, file="/a.py", line=3,
                parent_run_id=f"{parent:016x}" if 0 <= parent < len(spec) else None)
            for n, (start, length, task, pid, outlives, parent, instance) in enumerate(spec)]
    trace = Trace(runs=runs, processes=[])
    starts = [r.start_ns for r in runs]
    ends = [r.end_ns or 0 for r in runs]
    result = analyze_key(runs, starts, ends, ancestry=Ancestry(trace.run_by_id),
                         max_pairs=max_pairs, skip_same_instance=skip)
    got = [(d.kind, list(d.pairs), [r.run_id for r in d.runs], d.pair_count, d.run_count,
            d.stretches, d.peak, d.episode) for d in result.drafts]
    assert got == pair_by_pair(runs, starts, ends, Ancestry(trace.run_by_id), max_pairs, skip)


def test_a_timers_overlapping_runs_are_periodic_beside_concurrent_ones() -> None:
    from racetrace.analyzers.findings.classify import Ancestry
    from racetrace.analyzers.findings.contention import analyze_key

    ms = 1_000_000
    # One task's loop starts a run every 20 ms that outlives its call by 30 ms; another task
    # runs across them.
    runs = [Run(run_id=f"{n:016x}", method="m.C.run", start_ns=n * 20 * ms,
                end_ns=n * 20 * ms + 30 * ms, instance_key="k", pid=1, host="h",
                task_key="ticker", outlives_call=True, file="/a.py", line=3)
            for n in range(5)]
    runs.insert(1, Run(run_id="f" * 16, method="m.C.run", start_ns=5 * ms, end_ns=90 * ms,
                       instance_key="k", pid=1, host="h", task_key="other", file="/b.py",
                       line=4))
    starts = [r.start_ns for r in runs]
    ends = [r.end_ns or 0 for r in runs]
    result = analyze_key(runs, starts, ends, ancestry=Ancestry(lambda _: None), max_pairs=100)
    assert {d.kind for d in result.drafts} == {"periodic", "concurrent"}
    got = [(d.kind, list(d.pairs), [r.run_id for r in d.runs], d.pair_count, d.run_count,
            d.stretches, d.peak, d.episode) for d in result.drafts]
    assert got == pair_by_pair(runs, starts, ends, Ancestry(lambda _: None), 100, False)

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

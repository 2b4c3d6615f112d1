"""The sweep line: which half-open intervals `[start, end)` overlap, counted rather than listed.

Everything here works on plain integers (nanoseconds) in lists sorted by start, because this is
the inner loop of the analysis: a 1M-run trace goes through it, and one instance with k runs all
overlapping has k(k-1)/2 pairs, far too many to list. So the sweep *counts* pairs, finds the
episodes (connected components of the interval graph, which are contiguous in start order) and
their peak depth (the maximum clique of an interval graph), and lists pairs only on request.

Half-open means touching intervals (`[0, 5)` and `[5, 9)`) do not overlap and an empty interval
(`end <= start`) overlaps nothing.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate, islice
from operator import lt


def overlap_stretches(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The stretches of time where two or more intervals are active, half-open, in order.

    Touching stretches are merged: if one run ends exactly when another starts while a third
    is still active, depth never really drops below two there.
    """
    starts: list[int] = []
    ends: list[int] = []
    for start, end in intervals:
        if end > start:
            starts.append(start)
            ends.append(end)
    starts.sort()
    ends.sort()
    out: list[tuple[int, int]] = []
    depth = 0
    opened = 0
    i = j = 0
    n = len(starts)
    while j < n:
        # At equal times an end comes first: [a, t) and [t, b) do not overlap.
        if i < n and starts[i] < ends[j]:
            depth += 1
            if depth == 2:
                opened = starts[i]
            i += 1
        else:
            depth -= 1
            if depth == 1:
                end = ends[j]
                if out and out[-1][1] == opened:
                    out[-1] = (out[-1][0], end)
                elif end > opened:
                    out.append((opened, end))
            j += 1
    return out


def merge_intervals(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The union of half-open intervals as disjoint, sorted stretches (touching ones merged)."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(iv for iv in intervals if iv[1] > iv[0]):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def total_length(stretches: Iterable[tuple[int, int]]) -> int:
    return sum(end - start for start, end in stretches)


def peak_depth(intervals: Iterable[tuple[int, int]]) -> int:
    """The largest number of intervals active at one moment (0 when all are empty)."""
    events = sorted(
        ev for start, end in intervals if end > start for ev in ((start, 1), (end, -1))
    )
    # (t, -1) sorts before (t, 1): an end at t is processed before a start at t.
    depth = best = 0
    for _, step in events:
        depth += step
        if depth > best:
            best = depth
    return best


def has_overlap(starts: Sequence[int], ends: Sequence[int]) -> bool:
    """Whether any two intervals overlap; `starts` ascending, intervals non-empty.

    Runs in C (accumulate/map/any) because nearly every key of a large trace has no overlap at
    all, and this is how the analysis skips them: an interval overlaps an earlier one exactly
    when it starts before the latest end seen so far.
    """
    if len(starts) < 2:
        return False
    return any(map(lt, islice(starts, 1, None), accumulate(ends, max)))


@dataclass(frozen=True, slots=True)
class Episode:
    """A connected group of overlapping intervals: indices `lo..hi-1` of the start-sorted input."""

    lo: int
    hi: int
    pair_count: int  # overlapping pairs inside it, counted, not listed
    peak: int  # most intervals active at one moment (the interval graph's maximum clique)
    stretches: tuple[tuple[int, int], ...] = ()  # where two or more were active

    @property
    def size(self) -> int:
        return self.hi - self.lo


def sweep_episodes(starts: Sequence[int], ends: Sequence[int]) -> list[Episode]:
    """Every episode of two or more overlapping intervals; `starts` ascending, all non-empty.

    A heap of the active intervals' ends gives, for each interval, how many earlier ones are
    still active when it starts: that many pairs, and that depth; the moments the depth crosses
    two are the episode's overlap stretches. An episode ends when an interval starts after every
    earlier one has ended, so episodes are contiguous slices.
    """
    episodes: list[Episode] = []
    heap: list[int] = []
    push, pop = heapq.heappush, heapq.heappop
    lo = 0
    pairs = 0
    peak = 1
    opened = 0
    stretches: list[tuple[int, int]] = []
    reach = None  # the latest end so far in the current episode
    for i, start in enumerate(starts):
        if reach is None or start >= reach:
            if pairs:
                _close_last(heap, stretches, opened)
                episodes.append(Episode(lo, i, pairs, peak, tuple(stretches)))
                stretches = []
            lo, pairs, peak = i, 0, 1
            heap.clear()
        else:
            while heap[0] <= start:
                if len(heap) == 2:
                    _close(stretches, opened, heap[0])
                pop(heap)
            active = len(heap)
            pairs += active
            if active == 1:
                opened = start
            elif active >= peak:
                peak = active + 1
            if peak < 2:
                peak = 2
        end = ends[i]
        push(heap, end)
        if reach is None or end > reach:
            reach = end
    if pairs:
        _close_last(heap, stretches, opened)
        episodes.append(Episode(lo, len(starts), pairs, peak, tuple(stretches)))
    return episodes


def _close(stretches: list[tuple[int, int]], opened: int, end: int) -> None:
    """End the stretch of two-or-more active intervals opened at `opened`; one that starts
    where the previous ended (a handover while a third stays active) continues it."""
    if stretches and stretches[-1][1] == opened:
        stretches[-1] = (stretches[-1][0], end)
    elif end > opened:
        stretches.append((opened, end))


def _close_last(heap: list[int], stretches: list[tuple[int, int]], opened: int) -> None:
    # No interval starts any more: the depth only falls, and drops below two when the
    # second-latest of the active ends passes.
    if len(heap) >= 2:
        _close(stretches, opened, heapq.nlargest(2, heap)[1])


def count_pairs(starts: Sequence[int], ends: Sequence[int]) -> int:
    """How many pairs overlap, without listing them; `starts` ascending, intervals non-empty."""
    return sum(e.pair_count for e in sweep_episodes(starts, ends))


def episode_pairs(
    starts: Sequence[int], ends: Sequence[int], lo: int, hi: int
) -> Iterator[tuple[int, int]]:
    """The overlapping pairs `(earlier, later)` among indices `lo..hi-1`, in sweep order.

    Lists them all: call it on an episode whose `pair_count` you can afford, or stop early.
    """
    active: list[int] = []
    for j in range(lo, hi):
        start = starts[j]
        active = [i for i in active if ends[i] > start]
        for i in active:
            yield i, j
        active.append(j)


def pair_overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    """How long two half-open intervals overlap (0 when they do not)."""
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def overlap_counts(intervals: Sequence[tuple[int, int]]) -> list[int]:
    """For each half-open interval, how many of the others it overlaps (an empty one: none).
    Two binary searches each: O(n log n), however dense the overlaps."""
    starts = sorted(start for start, end in intervals if end > start)
    ends = sorted(end for start, end in intervals if end > start)
    counts = []
    for start, end in intervals:
        if end <= start:
            counts.append(0)
            continue
        # Intervals that start before this one ends, less those that ended by its start,
        # less itself.
        counts.append(bisect_left(starts, end) - bisect_right(ends, start) - 1)
    return counts

"""How fast the timeline opens and answers keys on big traces, through Textual's own pilot.

    python benchmarks/tui_latency.py [--runs 100000] [--repeats 20] [--size 160x48]

For a synthetic trace (about 1,000 instances, some heavily contended, a few failed and
unfinished runs) it prints, in one process:
  - reading the files (`analyzers.load`, the floor of a complete load),
  - streamed: from the start of an app given the folder to the first screen update that shows
    lanes (those of the first blocks read: the rest stream in), and to the one that shows the
    whole trace laid out,
  - first paint after loading: from the app start with the loaded trace to the first screen
    update that shows lanes,
  - findings on screen: to the first screen update after the analysis,
  - key to screen: from a key press (pan, zoom, lane, run, next finding) to the screen update
    that shows its effect, including encoding that update for the terminal (target: 50 ms).
Figures are wall-clock medians on this machine; compare them within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

T0 = 1_700_000_000_000_000_000


def write_trace(directory: Path, runs: int, instances: int = 1_000, seed: int = 7) -> None:
    """`runs` runs over `instances` instances in 4 processes; 5% of the instances contended."""
    rng = random.Random(seed)
    processes = 4
    per_process: list[list[bytes]] = [[] for _ in range(processes)]
    for p in range(processes):
        per_process[p].append(orjson.dumps({
            "type": "header", "format": "racetrace.trace/1", "pid": 1000 + p, "host": "bench",
            "wall_ns": T0, "argv": ["bench.py"],
        }))
    contended = set(rng.sample(range(instances), max(instances // 20, 1)))
    clock = [0] * instances
    ends: list[list[tuple[int, bytes]]] = [[] for _ in range(processes)]
    for i in range(runs):
        inst = rng.randrange(instances)
        p = inst % processes
        if inst in contended:
            start = clock[inst] + rng.randrange(0, 2_000_000)  # starts before the last ends
            length = rng.randrange(1_000_000, 8_000_000)
        else:
            start = clock[inst] + rng.randrange(100_000, 5_000_000)
            length = rng.randrange(50_000, 2_000_000)
        clock[inst] = start + (length if inst not in contended else length // 3)
        run_id = f"{i:x}"
        per_process[p].append(orjson.dumps({
            "type": "start", "run_id": run_id, "name": "bench.agents.Agent.run",
            "start_ns": T0 + start, "racetrace.instance.key": f"bench/{1000 + p}/{inst}",
            "racetrace.instance.class": "bench.agents.Agent",
            "racetrace.instance.label": f"agent-{inst:04d}", "process.pid": 1000 + p,
            "host.name": "bench", "racetrace.task.name": f"Task-{i}",
            "racetrace.task.id": f"bench/{1000 + p}/t{i}", "thread.id": 1,
            "thread.name": "MainThread", "code.file.path": "/srv/bench.py",
            "code.line.number": 10 + inst % 7,
        }))
        roll = rng.random()
        if roll < 0.0005:
            continue  # never ends
        status = "error" if roll < 0.01 else "ok"
        end = {"type": "end", "run_id": run_id, "end_ns": T0 + start + length,
               "racetrace.end.status": status}
        if status == "error":
            end["error.type"] = "ValueError"
            end["exception.message"] = "boom"
        ends[p].append((start + length, orjson.dumps(end)))
    for p in range(processes):
        lines = per_process[p] + [line for _, line in sorted(ends[p])]
        (directory / f"bench.{1000 + p}.jsonl").write_bytes(b"\n".join(lines) + b"\n")


async def measure_stream(directory: Path, size: tuple[int, int]) -> dict[str, float]:
    """Seconds from the start of an app given `directory` to its first lanes on screen, and to
    the whole trace laid out on screen."""
    from racetrace.tui.app import RacetraceApp

    app = RacetraceApp([directory], source="benchmark")
    updates: list[tuple[float, bool, bool]] = []
    original = app._display

    def display(screen, renderable) -> None:  # type: ignore[no-untyped-def]
        if renderable is not None:
            renderable.render_segments(app.console)
            updates.append((time.perf_counter(), bool(app.timeline.lane_layout.lanes),
                            app.trace is not None))
        original(screen, renderable)

    app._display = display  # type: ignore[method-assign]
    started = time.perf_counter()
    async with app.run_test(size=size):
        while not any(u[1] and u[2] for u in updates):
            await asyncio.sleep(0.002)
        await app.workers.wait_for_complete()
    return {"lanes": next(u[0] for u in updates if u[1]) - started,
            "loaded": next(u[0] for u in updates if u[1] and u[2]) - started}


async def measure_app(trace, size: tuple[int, int], repeats: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from racetrace.tui.app import RacetraceApp

    app = RacetraceApp([], trace=trace, source="benchmark")
    # (time, lanes shown, findings shown, the timeline's state generation when painted)
    updates: list[tuple[float, bool, bool, int]] = []
    original = app._display

    def display(screen, renderable) -> None:  # type: ignore[no-untyped-def]
        if renderable is not None:
            # Encode the update as a terminal would receive it: part of the latency.
            renderable.render_segments(app.console)
            updates.append((
                time.perf_counter(),
                bool(app.timeline.lane_layout.lanes),
                app.report is not None,
                app.timeline._generation,
            ))
        original(screen, renderable)

    app._display = display  # type: ignore[method-assign]
    started = time.perf_counter()
    results: dict[str, object] = {}
    async with app.run_test(size=size) as pilot:
        while not any(u[1] for u in updates):
            await asyncio.sleep(0.001)
        results["first_paint"] = next(u[0] for u in updates if u[1]) - started
        await app.workers.wait_for_complete()
        while not any(u[2] for u in updates):
            await asyncio.sleep(0.001)
        results["findings"] = next(u[0] for u in updates if u[2]) - started
        results["findings_count"] = len(app.report.findings) if app.report else 0
        await pilot.pause()
        # Each key is undone (unmeasured) before the next sample, so that every press changes
        # the view: a key that hits an edge (the last run of a lane) would change nothing.
        for key, undo, label in (("right", "left", "pan"), ("plus", "minus", "zoom in"),
                                 ("minus", "plus", "zoom out"), ("down", "up", "next lane"),
                                 ("tab", "shift+tab", "next run"), ("n", None, "next finding")):
            samples = []
            for _ in range(repeats):
                await pilot.pause()
                generation = app.timeline._generation
                seen = len(updates)
                pressed = time.perf_counter()
                await pilot.press(key)
                # The first update painted after the key changed the timeline's state.
                deadline = pressed + 5.0
                while not any(u[3] > generation for u in updates[seen:]):
                    if time.perf_counter() > deadline:
                        raise RuntimeError(f"{key!r} changed nothing on screen within 5 s")
                    await asyncio.sleep(0.0005)
                shown = next(u[0] for u in updates[seen:] if u[3] > generation)
                samples.append(shown - pressed)
                if undo is not None:
                    await pilot.press(undo)
            results[label] = samples
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--size", default="160x48")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    from racetrace.analyzers.core.load import load

    print(f"racetrace TUI latency, terminal {width}x{height}, Python {sys.version.split()[0]}")
    for runs in args.runs:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            write_trace(directory, runs)
            size_mb = sum(f.stat().st_size for f in directory.iterdir()) / 1e6
            t = time.perf_counter()
            trace = load([directory], details="lazy")  # as the app loads
            load_s = time.perf_counter() - t
            streamed = asyncio.run(measure_stream(directory, (width, height)))
        results = asyncio.run(measure_app(trace, (width, height), args.repeats))
        print(f"\n{runs:,} runs ({size_mb:.0f} MB, {results['findings_count']} findings)")
        print(f"  load (read + decode, before the app)   {load_s * 1000:8.0f} ms")
        print(f"  streamed: app start to first lanes      {streamed['lanes'] * 1000:8.0f} ms")
        print(f"  streamed: app start to all lanes        {streamed['loaded'] * 1000:8.0f} ms")
        print(f"  first paint after loading               {results['first_paint'] * 1000:8.0f} ms")
        print(f"  findings on screen after loading        {results['findings'] * 1000:8.0f} ms")
        for label in ("pan", "zoom in", "zoom out", "next lane", "next run", "next finding"):
            samples = results[label]
            assert isinstance(samples, list)
            median = statistics.median(samples) * 1000
            print(f"  key to screen: {label:<12}  median {median:6.1f} ms"
                  f"   max {max(samples) * 1000:6.1f} ms   (target 50)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How the analyzer scales: end-to-end `racetrace report` work against reading the same files.

Writes synthetic traces in the tracer's own line format (every attribute the tracer writes,
a three-frame stack, realistic paths): 10k, 100k and 1M runs over about 1,000 instances, a few
of them heavily contended, plus one instance with 20k runs all overlapping and an equally large
trace without any overlap. For each it times, in one process and one run:

- the floor: read every file and split it into lines, nothing else;
- end to end: load (decode, merge, sort), analyze, and encode the JSON report, as
  `racetrace report --json` does; then, apart, the time freeing it all would take, which the
  command never spends (it exits without tearing its objects down, see `cli.skip_teardown`).

Targets (issue 3): 1M runs end to end within 3x the floor; the 20k-overlap trace within 2x the
equally large trace without overlaps. Absolute times drift on a shared machine; the ratios,
measured side by side, are what to compare.

    python benchmarks/analyzer_scale.py [--sizes 10000,100000,1000000] [--repeat 3] [--dir D]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from racetrace.analyzers.findings.parallel import MIN_BYTES

T0 = 1_780_000_000_000_000_000
MS = 1_000_000

HEADER = {
    "type": "header", "format": "racetrace.trace/1", "ppid": 1, "host": "bench",
    "service": "bench-app", "argv": ["app.py"], "python": "3.11.7", "racetrace": "0.1.0",
}
_FILES = ("/srv/app/handlers/support.py", "/srv/app/jobs/digest.py", "/srv/app/teams/review.py")


def _start_line(run_id: int, pid: int, key: int, start: int, task: int, *,
                parent: int | None, site: int) -> bytes:
    path = _FILES[site % len(_FILES)]
    line = 20 + site
    record = {
        "type": "start", "run_id": f"{run_id:016x}", "trace_id": f"{run_id:032x}",
        "parent_span_id": None if parent is None else f"{parent:016x}",
        "name": "myapp.agents.AssistantAgent.run", "start_ns": start,
        "racetrace.instance.key": f"bench/{pid}.ab12/{key}",
        "racetrace.instance.class": "myapp.agents.AssistantAgent",
        "racetrace.instance.id": 140_000_000_000_000 + key * 64,
        "process.pid": pid, "host.name": "bench",
        "racetrace.instance.label": f"agent-{key}",
        "thread.id": 140_000_000_000_001, "thread.name": "MainThread",
        "racetrace.task.name": f"request-{task}", "racetrace.task.id": f"bench/{pid}.ab12/t{task}",
        "racetrace.task.created_at": "/srv/app/server.py:88",
        # Each request's task created by the server's accept loop just before the run starts.
        "racetrace.task.created_ns": start - 40_000,
        "racetrace.task.created_by_task": f"bench/{pid}.ab12/t0",
        "code.function.name": "handle", "code.file.path": path, "code.line.number": line,
        "racetrace.stack": [f"{path}:{line} in handle", "/srv/app/server.py:88 in dispatch",
                            "/srv/app/main.py:12 in <module>"],
    }
    if parent is not None:
        record["racetrace.parent_run"] = f"{parent:016x}"
    return orjson.dumps(record)


def _end_line(run_id: int, end: int, error: bool) -> bytes:
    record: dict[str, object] = {"type": "end", "run_id": f"{run_id:016x}", "end_ns": end}
    if error:
        record.update({"racetrace.end.status": "error", "racetrace.end.reason": "raised",
                       "error.type": "builtins.ValueError", "exception.message": "bad state"})
    else:
        record.update({"racetrace.end.status": "ok", "racetrace.end.reason": "returned"})
    return orjson.dumps(record)


def write_mixed(directory: Path, runs: int, *, instances: int = 1000, processes: int = 4,
                seed: int = 1) -> None:
    """About `instances` instances over `processes` files; 3% of instances are contended
    (2-6 runs at once), the rest used one run at a time; a few errors, a few unfinished runs
    and some re-entrant callbacks."""
    rng = random.Random(seed)
    per_process = max(1, instances // processes)
    run_id = 1
    task = 1
    for p in range(processes):
        pid = 1000 + p
        count = runs // processes + (1 if p < runs % processes else 0)
        events: list[tuple[int, bytes]] = []
        per_instance = [count // per_process + (1 if k < count % per_process else 0)
                        for k in range(per_process)]
        for key, n in enumerate(per_instance, 1):
            contended = rng.random() < 0.03
            clock = T0 + rng.randrange(0, 50 * MS)
            previous: tuple[int, int, int] | None = None  # (run id, start, end)
            for i in range(n):
                duration = rng.randrange(5 * MS, 80 * MS)
                if contended:
                    start = clock + rng.randrange(0, 20 * MS)  # bursts that overlap
                    clock += rng.randrange(5 * MS, 30 * MS)
                else:
                    start = clock + rng.randrange(1 * MS, 20 * MS)  # strictly one at a time
                    clock = start + duration
                parent = None
                if contended and previous is not None and rng.random() < 0.05 \
                        and previous[1] < start < previous[2]:
                    parent = previous[0]  # a callback re-entering a run that is still going
                end = start + duration
                events.append((start, _start_line(run_id, pid, key, start, task,
                                                  parent=parent, site=key % 3)))
                if not (i == n - 1 and rng.random() < 0.02):  # a few never end
                    events.append((end, _end_line(run_id, end, rng.random() < 0.002)))
                previous = (run_id, start, end)
                run_id += 1
                task += 1
        events.sort(key=lambda e: e[0])
        _write_file(directory / f"bench.{pid}.jsonl", pid, events)


def write_one_instance(directory: Path, runs: int, *, overlapping: bool, seed: int = 2) -> None:
    """One instance with `runs` runs: all overlapping (each starts before any ends), or the
    same number of runs strictly one after another."""
    rng = random.Random(seed)
    pid = 4242
    events: list[tuple[int, bytes]] = []
    clock = T0
    for i in range(runs):
        if overlapping:
            start = T0 + i * 1000
            end = T0 + runs * 1000 + rng.randrange(1, 10 * MS)
        else:
            start = clock + 1000
            end = start + rng.randrange(1, 10 * MS)
            clock = end
        events.append((start, _start_line(i + 1, pid, 1, start, i + 1, parent=None, site=0)))
        events.append((end, _end_line(i + 1, end, False)))
    events.sort(key=lambda e: e[0])
    _write_file(directory / f"bench.{pid}.jsonl", pid, events)


def _write_file(path: Path, pid: int, events: list[tuple[int, bytes]]) -> None:
    header = orjson.dumps({**HEADER, "pid": pid, "wall_ns": T0, "monotonic_ns": 1})
    with open(path, "wb") as f:
        f.write(header + b"\n")
        f.write(b"\n".join(line for _, line in events))
        f.write(b"\n")


# -- what is timed ---------------------------------------------------------------------------
def floor(directory: Path) -> object:
    """Read every trace file and split it into lines: what any line-based reader must do."""
    lines = 0
    for path in sorted(directory.glob("*.jsonl")):
        lines += len(path.read_bytes().splitlines())
    return lines


def end_to_end(directory: Path) -> object:
    """What `racetrace report --json` does, short of writing the file: load and analyze (the
    files of different processes on two cores, where there are two and enough files), encode.
    Returns everything it made, for the caller to time freeing it apart."""
    from racetrace.analyzers.findings.parallel import analyze_paths

    report = analyze_paths([directory])
    data = orjson.dumps(report.to_json())
    gc.unfreeze()
    return report, data


def one_core(directory: Path) -> object:
    """The same on one core: load, freeze the loaded objects out of the garbage collector's
    sight (the command does it too), analyze, encode."""
    from racetrace.analyzers.core.load import load
    from racetrace.analyzers.findings.analyze import analyze

    trace = load([directory], details="lazy")
    gc.freeze()
    try:
        report = analyze(trace)
        data = orjson.dumps(report.to_json())
    finally:
        gc.unfreeze()
    return trace, report, data


def _median_ms(fn: Callable[[Path], object], directory: Path, repeat: int) -> tuple[float, float]:
    """Median milliseconds of `fn(directory)`, and of freeing what it returned."""
    times = []
    frees = []
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        result = fn(directory)
        times.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        del result
        frees.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), statistics.median(frees)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--overlap-runs", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", help="where to write the traces (default: a temporary folder)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="racetrace-bench-"))
    root.mkdir(parents=True, exist_ok=True)

    # Import up front so that the first timed case does not pay for the imports.
    from racetrace.analyzers.core import load  # noqa: F401
    from racetrace.analyzers.findings import analyze, parallel  # noqa: F401

    cases: list[tuple[str, Path]] = []
    for size in sizes:
        d = root / f"mixed-{size}"
        if not d.exists():
            d.mkdir()
            write_mixed(d, size)
        cases.append((f"{size:,} runs, ~1,000 instances", d))
    for overlapping in (True, False):
        name = "all-overlap" if overlapping else "no-overlap"
        d = root / f"{name}-{args.overlap_runs}"
        if not d.exists():
            d.mkdir()
            write_one_instance(d, args.overlap_runs, overlapping=overlapping)
        cases.append((f"1 instance, {args.overlap_runs:,} runs, {name}", d))

    print(f"racetrace analyzer scale (median of {args.repeat}, Python "
          f"{sys.version.split()[0]}, {os.cpu_count()} CPUs)")
    print(f"{'trace':<40} {'MB':>7} {'floor ms':>9} {'e2e ms':>9} {'ratio':>6} "
          f"{'1 core ms':>10} {'ratio':>6} {'free ms':>8}")
    results: dict[str, tuple[float, float]] = {}
    for name, d in cases:
        mb = sum(p.stat().st_size for p in d.glob("*.jsonl")) / 1e6
        floor_ms, _ = _median_ms(floor, d, args.repeat)
        e2e_ms, free_ms = _median_ms(end_to_end, d, args.repeat)
        one_ms, _ = _median_ms(one_core, d, args.repeat)
        results[name] = (floor_ms, e2e_ms)
        print(f"{name:<40} {mb:>7.1f} {floor_ms:>9.0f} {e2e_ms:>9.0f} {e2e_ms / floor_ms:>5.2f}x "
              f"{one_ms:>10.0f} {one_ms / floor_ms:>5.2f}x {free_ms:>8.0f}", flush=True)
    print("e2e: as `racetrace report` runs (the files of different processes on two cores when "
          f"there are two and over {MIN_BYTES >> 20} MB); 1 core: all in this process; free: "
          "freeing what e2e made, not counted (the command exits without it)")

    verdicts = []
    if 1_000_000 in sizes:
        f, e = results["1,000,000 runs, ~1,000 instances"]
        verdicts.append(("1M runs end to end / floor", e / f, 3.0))
    over = results[f"1 instance, {args.overlap_runs:,} runs, all-overlap"][1]
    flat = results[f"1 instance, {args.overlap_runs:,} runs, no-overlap"][1]
    verdicts.append((f"{args.overlap_runs // 1000}k all-overlap / no-overlap", over / flat, 2.0))
    for label, ratio, target in verdicts:
        print(f"{label:<40} {ratio:5.2f}x (target <= {target:.0f}x) "
              f"{'ok' if ratio <= target else 'MISSED'}")
    if not args.dir:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What attaching costs at start-up: `RACETRACE=1 python -c pass` against a plain `python -c pass`.

Every traced process pays this, children included (a program that starts many subprocesses pays
it many times), so it is measured on the smallest program there is. Both variants run the same
interpreter with racetrace installed; the plain one has RACETRACE unset, the traced one has it
on and writes its session into a temporary folder; a third has a target named too
(`RACETRACE_TARGETS`, a module the program never imports), which brings in the target machinery.
The variants are interleaved, side by side in one run, and the medians (with their ranges) and
the differences are printed.

Target (issue 13): traced start-up at most +40 ms over plain. On a loaded machine absolute
figures drift: compare the two columns of one run.

`--imports N` adds the N slowest imports of a traced start (`python -X importtime`, cumulative
microseconds), to show where the rest of the time goes.

    python benchmarks/startup.py [--starts 30] [--imports 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

TARGET_MS = 40.0


def _environments(folder: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    plain = {k: v for k, v in os.environ.items() if not k.startswith("RACETRACE")}
    traced = dict(plain, RACETRACE="1", RACETRACE_DIR=folder)
    named = dict(traced, RACETRACE_TARGETS="myapp.agents:Agent.run")
    return plain, traced, named


def _time_start(env: dict[str, str]) -> float:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], env=env, check=True, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - began) * 1000.0


def measure(starts: int) -> list[list[float]]:
    """Start-up times in ms of each variant (plain, traced, traced with a named target)."""
    with tempfile.TemporaryDirectory(prefix="racetrace-startup-") as folder:
        environments = _environments(folder)
        for env in environments:  # warm the page cache and the .pyc files
            _time_start(env)
        samples: list[list[float]] = [[] for _ in environments]
        for _ in range(starts):
            for env, times in zip(environments, samples, strict=True):
                times.append(_time_start(env))
    return samples


def slowest_imports(count: int) -> list[tuple[int, str]]:
    with tempfile.TemporaryDirectory(prefix="racetrace-startup-") as folder:
        traced_env = _environments(folder)[1]
        done = subprocess.run([sys.executable, "-X", "importtime", "-c", "pass"], env=traced_env,
                              check=True, capture_output=True, text=True)
    rows = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    rows.sort(reverse=True)
    return rows[:count]


def _describe(samples: list[float]) -> str:
    return f"{statistics.median(samples):7.1f} ms [{min(samples):.1f}-{max(samples):.1f}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=30, help="starts of each variant")
    parser.add_argument("--imports", type=int, default=0, help="list the N slowest imports")
    args = parser.parse_args(argv)
    plain, traced, named = measure(args.starts)
    base = statistics.median(plain)
    print(f"python -c pass, medians of {args.starts} interleaved starts")
    print(f"  plain                          {_describe(plain)}")
    for label, times in (("RACETRACE=1", traced), ("RACETRACE=1, a target named", named)):
        added = statistics.median(times) - base
        print(f"  {label:30} {_describe(times)}   added {added:5.1f} ms "
              f"(target <= +{TARGET_MS:.0f} ms), ratio {statistics.median(times) / base:.2f}x")
    if args.imports:
        print(f"slowest imports of a traced start (cumulative us, {args.imports}):")
        for micros, name in slowest_imports(args.imports):
            print(f"  {micros:8d}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

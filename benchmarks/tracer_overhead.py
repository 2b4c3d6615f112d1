"""What tracing costs a program: per-call overhead of a run, and interpreter start-up.

Per call, side by side in one process, for a trivial sync method and a trivial async method:

- untraced: the bare method;
- racetrace: the method traced by racetrace (recording on, writing its trace file to a
  temporary folder), called the way a program calls it, `obj.method()`;
- bare SDK span: the method wrapped in an OpenTelemetry SDK span and nothing else
  (`TracerProvider().get_tracer(...).start_as_current_span`, no span processor).

Target (issue 2): a traced run costs at most 1.25x a bare SDK span. The ratios printed compare
both the whole call and the overhead over the untraced call.

Start-up: `python -c pass` with racetrace installed and RACETRACE unset, against the same
interpreter without any .pth processing (`-S`, site-packages put on sys.path by hand), that
baseline plus racetrace's .pth line alone, and a fresh venv without racetrace. Target: with
RACETRACE unset, start-up is indistinguishable from not having racetrace installed.

Absolute figures drift on a shared machine; compare figures within one run. Medians of
`--repeats` runs, the variants interleaved in each.

    python benchmarks/tracer_overhead.py [--repeats 5] [--calls 5000] [--starts 30]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import inspect
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import venv
from collections.abc import Callable
from pathlib import Path
from typing import Any

UNTRACED, TRACED, SDK = "untraced", "racetrace", "bare SDK span"
# Calls per sample, relative to --calls: untraced calls are ~200x cheaper than traced ones.
CALL_SCALE = {UNTRACED: 20, TRACED: 1, SDK: 0.5}


class Untraced:
    def ping(self) -> int:
        return 1

    async def aping(self) -> int:
        return 1


class Traced:  # patched by racetrace.instrument() below, as a target would be
    def ping(self) -> int:
        return 1

    async def aping(self) -> int:
        return 1


def sdk_span(tracer: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap a method in `start_as_current_span`: the bare cost of one OpenTelemetry span."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        name = fn.__qualname__
        if inspect.iscoroutinefunction(fn):

            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with tracer.start_as_current_span(name):
                    return await fn(*args, **kwargs)

            return functools.wraps(fn)(async_wrapper)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with tracer.start_as_current_span(name):
                return fn(*args, **kwargs)

        return functools.wraps(fn)(wrapper)

    return decorate


def make_sdk_class() -> type:
    from opentelemetry.sdk.trace import TracerProvider

    span = sdk_span(TracerProvider().get_tracer("benchmark"))

    class SdkSpan:
        @span
        def ping(self) -> int:
            return 1

        @span
        async def aping(self) -> int:
            return 1

    return SdkSpan


def time_sync(obj: Any, calls: int) -> float:
    gc.collect()
    start = time.perf_counter_ns()
    for _ in range(calls):
        obj.ping()
    return (time.perf_counter_ns() - start) / calls


def time_async(obj: Any, calls: int) -> float:
    async def loop() -> float:
        start = time.perf_counter_ns()
        for _ in range(calls):
            await obj.aping()
        return (time.perf_counter_ns() - start) / calls

    gc.collect()
    return asyncio.run(loop())


def measure_calls(calls: int, repeats: int, extra: dict[str, Any] | None = None,
                  ) -> dict[tuple[str, str], float]:
    """Median ns per call of each subject, sync and async; `extra` adds subjects (name: an
    object with `ping` and `aping`), timed interleaved with the others, as many calls as the
    traced one."""
    import racetrace

    folder = tempfile.mkdtemp(prefix="racetrace-bench-")
    try:
        racetrace.start(directory=folder)
        racetrace.instrument(f"{__name__}:Traced.ping", f"{__name__}:Traced.aping")
        subjects = {UNTRACED: Untraced(), TRACED: Traced(), SDK: make_sdk_class()(),
                    **(extra or {})}
        samples: dict[tuple[str, str], list[float]] = {}
        for obj in subjects.values():  # warm up: first sight, file open, imports
            time_sync(obj, 50)
            time_async(obj, 50)
        for _ in range(repeats):
            for name, obj in subjects.items():
                n = max(100, int(calls * CALL_SCALE.get(name, 1)))
                samples.setdefault((name, "sync"), []).append(time_sync(obj, n))
                samples.setdefault((name, "async"), []).append(time_async(obj, n))
        racetrace.stop()
        written = sum(f.stat().st_size for f in Path(folder).rglob("*.jsonl"))
        print(f"(racetrace wrote {written / 1e6:.1f} MB of trace lines to a temporary folder)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {key: statistics.median(values) for key, values in samples.items()}


def print_calls(medians: dict[tuple[str, str], float]) -> None:
    print("\nPer call, ns (median)")
    print(f"{'':16}{'sync':>12}{'async':>12}")
    for name in (UNTRACED, TRACED, SDK):
        print(f"{name:16}" + "".join(f"{medians[name, k]:>12,.0f}" for k in ("sync", "async")))
    print("\nRatios (target: racetrace / bare SDK span <= 1.25)")
    for kind in ("sync", "async"):
        bare, traced, sdk = (medians[n, kind] for n in (UNTRACED, TRACED, SDK))
        print(
            f"  {kind:5}  whole call {traced / sdk:.2f}x   overhead only "
            f"{(traced - bare) / (sdk - bare):.2f}x   "
            f"(racetrace +{traced - bare:,.0f} ns, SDK span +{sdk - bare:,.0f} ns)"
        )


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RACETRACE", "OTEL_"))}
    env.pop("PYTHONPATH", None)
    return env


def measure_startup(starts: int) -> None:
    purelib = sysconfig.get_paths()["purelib"]
    pth = Path(purelib, "racetrace.pth")
    # site imports os in a normal start; -S does not: import it in both -S variants, so that
    # their difference is the .pth line alone.
    add_site = f"import os, sys; sys.path.append({purelib!r})"
    variants: dict[str, list[str]] = {
        "racetrace installed, RACETRACE unset": [sys.executable, "-c", "pass"],
        "no .pth processed (-S, site-packages on sys.path)": [sys.executable, "-S", "-c", add_site],
    }
    if pth.exists():
        line = pth.read_text().strip()
        variants["  the same plus racetrace.pth's line"] = [
            sys.executable, "-S", "-c", f"{add_site}\n{line}",
        ]
    else:
        print(f"(no {pth}: is racetrace installed in this interpreter?)")
    folder = Path(tempfile.mkdtemp(prefix="racetrace-bench-venv-"))
    try:
        venv.EnvBuilder(with_pip=False).create(folder)
        bare = folder / "bin" / "python"
        if bare.exists():
            variants["fresh venv without racetrace"] = [str(bare), "-c", "pass"]
        env = _clean_env()
        samples: dict[str, list[float]] = {name: [] for name in variants}
        for command in variants.values():  # warm the page cache
            subprocess.run(command, env=env, check=True)
        for _ in range(starts):
            for name, command in variants.items():
                start = time.perf_counter()
                subprocess.run(command, env=env, check=True)
                samples[name].append((time.perf_counter() - start) * 1000)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\nInterpreter start-up, `python -c pass`, ms (median of {starts})")
    for name, values in samples.items():
        print(f"  {name:52}{statistics.median(values):8.1f}")
    others = sorted(p.name for p in Path(purelib).glob("*.pth") if p != pth)
    print(f"  (other .pth files processed in a normal start: {', '.join(others) or 'none'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=5000, help="traced calls per sample")
    parser.add_argument("--starts", type=int, default=30, help="interpreter starts per variant")
    args = parser.parse_args()
    if os.environ.get("RACETRACE", "").strip() not in ("", "0"):
        sys.exit("racetrace: run the benchmark with RACETRACE unset")
    print(f"Python {sys.version.split()[0]} on {sys.platform}, {os.cpu_count()} CPUs")
    print_calls(measure_calls(args.calls, args.repeats))
    measure_startup(args.starts)


if __name__ == "__main__":
    main()

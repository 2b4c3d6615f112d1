"""Every figure of issue 13, each beside its floor measured in the same run, in one table.

    python benchmarks/run_all.py [--runs 200000] [--tui-runs 100000] [--only tracer,report]
    python benchmarks/run_all.py --runs 1000000 --tui-runs 100000,1000000  # the issue's sizes
    python benchmarks/run_all.py --quick                              # a smoke run, seconds

Groups (`--only`, comma-separated): tracer, startup, report, tui. Each row prints the figure,
what racetrace measured, its floor (the least any implementation must spend, measured beside
it), their ratio, the issue's target and whether it is met. Traces are synthetic, in the
tracer's own line format (`analyzer_scale.write_mixed`), written to a temporary folder or to
`--dir` (kept and reused there). Processes are started fresh for every timed command, so a
figure includes the interpreter's start, as a user sees it. Absolute figures drift on a shared
machine: read the ratios. See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the sibling benchmark scripts are plain modules, not a package
    sys.path.insert(0, str(HERE))

GROUPS = ("tracer", "startup", "report", "tui")
MB = 1 << 20


@dataclass
class Row:
    figure: str
    measured: float | None
    floor: float | None
    unit: str  # "x" (already a ratio), "ms", "MB"
    target: str
    met: bool | None  # None: the issue sets no target for this figure
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.measured is None or not self.floor:
            return None
        return self.measured / self.floor


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "MB":
        return f"{value:,.0f} MB"
    if unit == "ms":
        return f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"
    if unit == "ns":
        return f"{value:,.0f} ns"
    return f"{value:.2f}x"


def print_table(rows: Sequence[Row]) -> None:
    head = ("figure", "measured", "floor", "ratio", "target", "met")
    cells = [head] + [
        (r.figure, _fmt(r.measured, r.unit), _fmt(r.floor, r.unit),
         "-" if r.ratio is None else f"{r.ratio:.2f}x", r.target,
         "-" if r.met is None else ("yes" if r.met else "NO"))
        for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    print()
    for n, line in enumerate(cells):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(line, widths, strict=True))).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
    notes = [f"  {r.figure.strip()}: {r.note}" for r in rows if r.note]
    if notes:
        print("\nnotes:")
        print("\n".join(notes))


# -- child processes: wall time and peak memory ------------------------------------------------
def _tree(pid: int) -> list[int]:
    """`pid` and its descendants (Linux /proc), for the memory of `report -j 2`'s forked child."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return found


def _pss_bytes(pid: int) -> int:
    """Proportional set size: pages shared with a forked child are counted once between them."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


@dataclass
class Finished:
    spawned: float  # time.monotonic() just before the command started
    seconds: float
    peak_bytes: int
    stdout: str
    largest_bytes: int  # the kernel's max RSS of the largest single process of the command
    cpu_seconds: float = 0.0  # user + system CPU time of the command's processes


# A small fresh interpreter starts the command and reports what the kernel saw of it: the max
# RSS of a process counts the image it was forked from, so forking the command straight from
# this (bigger) process would charge it this process's memory.
LAUNCHER = """\
import json, resource, subprocess, sys, time
spawned = time.monotonic()
began = time.perf_counter()
code = subprocess.call(sys.argv[2:])
seconds = time.perf_counter() - began
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
maxrss = usage.ru_maxrss * 1024
with open(sys.argv[1], "w") as f:
    json.dump({"spawned": spawned, "seconds": seconds, "maxrss": maxrss,
               "cpu": usage.ru_utime + usage.ru_stime}, f)
sys.exit(code)
"""


def run_child(command: Sequence[str], *, env: dict[str, str] | None = None) -> Finished:
    """Run `command` to its end: wall time, and peak memory of its process tree (the larger of
    the largest max RSS of its processes and the tree's summed PSS, sampled every 50 ms: the
    sum counts `report -j 2`'s forked child, PSS its pages shared with its parent once)."""
    with tempfile.TemporaryDirectory(prefix="racetrace-bench-child-") as tmp:
        facts = Path(tmp, "facts.json")
        out = Path(tmp, "stdout")
        with open(out, "wb") as stdout:
            proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(facts), *command],
                                    stdout=stdout, stderr=subprocess.PIPE, env=env)
            sampled = 0
            done = threading.Event()

            def sample() -> None:
                nonlocal sampled
                while not done.wait(0.05):
                    # The launcher itself is left out: only the command's processes count.
                    tree = _tree(proc.pid)[1:]
                    sampled = max(sampled, sum(_pss_bytes(p) for p in tree))

            watcher = threading.Thread(target=sample, daemon=True)
            if sys.platform.startswith("linux"):
                watcher.start()
            stderr = proc.stderr.read() if proc.stderr else b""  # drained: a full pipe blocks
            proc.wait()
            done.set()
            if watcher.is_alive():
                watcher.join()
        if proc.returncode != 0 or not facts.exists():
            raise RuntimeError(f"{' '.join(command[:5])}… exited {proc.returncode}: "
                               f"{stderr.decode(errors='replace').strip()[-800:]}")
        kernel = json.loads(facts.read_text())
        return Finished(kernel["spawned"], kernel["seconds"], max(kernel["maxrss"], sampled),
                        out.read_bytes().decode(errors="replace"), kernel["maxrss"],
                        kernel.get("cpu", 0.0))


def _median(values: Sequence[float]) -> float:
    return statistics.median(values)


# -- tracer: per traced call against a bare OpenTelemetry SDK span ------------------------------
FLOOR_RECORDER = "floor recorder"


def floor_recorder(path: Path) -> object:
    """The least a recorder with the tracer's guarantees does per run (issue 13's floor): wrapt's
    wrapper, two clock reads, two records encoded by orjson, one unbuffered `os.write` per line
    (a START is in the file before the body runs). No stack, no span, no context."""
    import itertools

    import orjson
    import wrapt

    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    dumps, option, write, now = orjson.dumps, orjson.OPT_APPEND_NEWLINE, os.write, time.time_ns
    serial = itertools.count()

    def start(instance: object) -> int:
        run = next(serial)
        write(fd, dumps({"type": "start", "run_id": run, "name": "Floor.ping",
                         "start_ns": now(), "racetrace.instance.id": id(instance)},
                        option=option))
        return run

    @wrapt.decorator
    def record(wrapped, instance, args, kwargs):  # type: ignore[no-untyped-def]
        run = start(instance)
        try:
            return wrapped(*args, **kwargs)
        finally:
            write(fd, dumps({"type": "end", "run_id": run, "end_ns": now()}, option=option))

    @wrapt.decorator
    async def arecord(wrapped, instance, args, kwargs):  # type: ignore[no-untyped-def]
        run = start(instance)
        try:
            return await wrapped(*args, **kwargs)
        finally:
            write(fd, dumps({"type": "end", "run_id": run, "end_ns": now()}, option=option))

    class Floor:
        @record
        def ping(self) -> int:
            return 1

        @arecord
        async def aping(self) -> int:
            return 1

    return Floor()


def bench_tracer(args: argparse.Namespace) -> list[Row]:
    import tracer_overhead

    with tempfile.TemporaryDirectory(prefix="racetrace-bench-floor-") as folder:
        medians = tracer_overhead.measure_calls(
            args.calls, args.repeats,
            extra={FLOOR_RECORDER: floor_recorder(Path(folder, "floor.jsonl"))})
    rows = []
    for kind in ("sync", "async"):
        traced = medians[tracer_overhead.TRACED, kind]
        sdk = medians[tracer_overhead.SDK, kind]
        rows.append(Row(f"traced call ({kind}) / bare OTel SDK span", traced, sdk, "ns",
                        "<= 0.5x (stretch 0.25x)", traced / sdk <= 0.5,
                        note="" if kind == "async" else
                        "floor: the same method in `start_as_current_span`, no processor"))
    for kind in ("sync", "async"):
        rows.append(Row(f"  for reference: floor recorder ({kind}) / SDK span",
                        medians[FLOOR_RECORDER, kind], medians[tracer_overhead.SDK, kind], "ns",
                        "-", None,
                        note="" if kind == "async" else
                        "wrapt + 2 clock reads + 2 orjson.dumps + one os.write per line: "
                        "what the 0.5x target leaves room above"))
    return rows


# -- start-up ------------------------------------------------------------------------------------
def _startup_fallback(starts: int) -> tuple[list[float], list[float]]:
    """Plain and `RACETRACE=1` `python -c pass`, interleaved, ms (if startup.py is absent)."""
    with tempfile.TemporaryDirectory(prefix="racetrace-startup-") as folder:
        plain_env = {k: v for k, v in os.environ.items() if not k.startswith("RACETRACE")}
        traced_env = dict(plain_env, RACETRACE="1", RACETRACE_DIR=folder)

        def once(env: dict[str, str]) -> float:
            began = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
            return (time.perf_counter() - began) * 1000

        once(plain_env), once(traced_env)  # warm the page cache and .pyc files
        plain, traced = [], []
        for _ in range(starts):
            plain.append(once(plain_env))
            traced.append(once(traced_env))
    return plain, traced


def bench_startup(args: argparse.Namespace) -> list[Row]:
    measure: Callable[[int], Sequence[list[float]]] = _startup_fallback
    source = "inline fallback"
    if (HERE / "startup.py").exists():
        # benchmarks/startup.py: measure(starts) -> [plain ms, traced ms, traced with a target]
        import startup

        if callable(getattr(startup, "measure", None)):
            measure = startup.measure
            source = "benchmarks/startup.py"
    plain, traced = measure(args.starts)[:2]
    p, t = _median(plain), _median(traced)
    uncached = _NO_BYTECODE_NOTE if os.environ.get("PYTHONDONTWRITEBYTECODE") else ""
    return [Row("RACETRACE=1 python -c pass / plain", t, p, "ms", "<= +40 ms", t - p <= 40,
                note=f"added {t - p:+.1f} ms; medians of {args.starts} interleaved starts "
                     f"({source}){uncached}")]


# Without cached bytecode each traced start compiles racetrace's tracer modules (+~20 ms here);
# an installed wheel has its bytecode compiled by pip.
_NO_BYTECODE_NOTE = ("; PYTHONDONTWRITEBYTECODE is set: without a cached __pycache__ every start "
                     "compiles racetrace's modules, which a pip-installed wheel does not")


# -- report ----------------------------------------------------------------------------------------
# The time floor, as the issue and analyzer_scale.floor define it: each file read whole and
# split into lines.
FLOOR_CODE = (
    "import sys\n"
    "lines = 0\n"
    "for p in sys.argv[1:]:\n"
    "    with open(p, 'rb') as f:\n"
    "        lines += len(f.read().splitlines())\n"
)
# The memory floor: the same lines read in 8 MB blocks, never a whole file in memory (and no
# slower). Also what the TUI's floor process reads with.
STREAM_CODE = """\
import sys

def split_streamed(paths):
    lines = 0
    for p in paths:
        with open(p, "rb") as f:
            tail = b""
            while block := f.read(8 << 20):
                parts = (tail + block).split(b"\\n")
                tail = parts.pop()
                lines += len(parts)
            lines += bool(tail)
    return lines

if __name__ == "__main__":
    split_streamed(sys.argv[1:])
"""


def _trace_dir(root: Path, runs: int) -> Path:
    import analyzer_scale

    d = root / f"mixed-{runs}"
    if not d.exists():
        partial = root / f".mixed-{runs}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        analyzer_scale.write_mixed(partial, runs)
        partial.rename(d)
    return d


# Whether `racetrace report` run with this environment loads through the C scanner.
SCANNER_CODE = (
    "import os\n"
    "from racetrace.analyzers.core import scan\n"
    "print('used' if scan.available() else 'off (RACETRACE_PURE_PYTHON)'\n"
    "      if scan._Scanner is not None else 'not built: pure Python')\n"
)


def _scanner_state(env: dict[str, str] | None = None) -> str:
    done = subprocess.run([sys.executable, "-c", SCANNER_CODE], capture_output=True, text=True,
                          env=env)
    return done.stdout.strip() or f"unknown ({done.stderr.strip()[-200:]})"


def bench_report(args: argparse.Namespace, root: Path) -> list[Row]:
    d = _trace_dir(root, args.runs)
    files = sorted(str(p) for p in d.glob("*.jsonl"))
    size = sum(os.path.getsize(p) for p in files) / MB
    floor_cmd = [sys.executable, "-c", FLOOR_CODE, *files]
    stream_cmd = [sys.executable, "-c", STREAM_CODE, *files]
    report = {j: [sys.executable, "-m", "racetrace", "report", "-q", "-j", j, str(d)]
              for j in ("1", "2")}
    scanner = _scanner_state()
    # With the C scanner in use, `-j 1` is timed without it too, for comparison.
    pure_env = {**os.environ, "RACETRACE_PURE_PYTHON": "1"} if scanner == "used" else None
    run_child(floor_cmd), run_child(report["1"])  # warm the page cache and .pyc files
    floors: list[Finished] = []
    streams: list[Finished] = []
    reports: dict[str, list[Finished]] = {"1": [], "2": []}
    pures: list[Finished] = []
    for _ in range(args.repeats):  # interleaved: the load on the machine hits all alike
        floors.append(run_child(floor_cmd))
        streams.append(run_child(stream_cmd))
        for j, command in report.items():
            reports[j].append(run_child(command))
        if pure_env is not None:
            pures.append(run_child(report["1"], env=pure_env))
    floor_s = _median([f.seconds for f in floors])
    floor_mb = max(f.peak_bytes for f in streams) / MB
    label = f"{args.runs:,} runs"
    rows = []
    for j in ("1", "2"):
        seconds = _median([f.seconds for f in reports[j]])
        rows.append(Row(f"report -j {j}, {label} / read-and-split", seconds * 1000,
                        floor_s * 1000, "ms", "<= 2.5x (stretch 2x)",
                        seconds / floor_s <= 2.5,
                        note="" if j == "2" else
                        f"{size:,.0f} MB of trace in {len(files)} files; both in a fresh "
                        f"process; medians of {args.repeats}; C scanner: {scanner}; summary: "
                        f"{reports[j][-1].stdout.strip()[:100]}"))
    if pures:
        seconds = _median([f.seconds for f in pures])
        rows.append(Row(f"  for reference: report -j 1 pure Python, {label} / read-and-split",
                        seconds * 1000, floor_s * 1000, "ms", "none set", None,
                        note="RACETRACE_PURE_PYTHON=1: every line through msgspec"))
    # For reference: CPU time, which a machine loaded by other work disturbs less than the
    # wall time (`-j 2` counts both of its processes).
    floor_cpu = _median([f.cpu_seconds for f in floors])
    for j in ("1", "2"):
        cpu = _median([f.cpu_seconds for f in reports[j]])
        rows.append(Row(f"  for reference: report -j {j} CPU time / the floor's", cpu * 1000,
                        floor_cpu * 1000, "ms", "none set", None,
                        note="user + system time of the command's processes, median"))
    for j in ("1", "2"):
        peak = max(f.peak_bytes for f in reports[j]) / MB
        largest = max(f.largest_bytes for f in reports[j]) / MB
        rows.append(Row(f"report -j {j} peak memory, {label}", peak, floor_mb, "MB",
                        "<= 300 MB at 1M", peak <= 300,
                        note=f"its processes together; the largest alone {largest:,.0f} MB" +
                        ("" if j == "2" else "; floor: a process reading the same lines in 8 MB "
                         "blocks")))
    return rows


# -- TUI -------------------------------------------------------------------------------------------
KEYS = (("right", "left"), ("plus", "minus"), ("minus", "plus"), ("down", "up"),
        ("tab", "shift+tab"))


async def _keys(app, pilot, generation: Callable[[], int], updates: list, repeats: int) -> list:  # type: ignore[no-untyped-def,type-arg]
    """Seconds from each key press to the first screen update that shows its effect (the
    update encoded for the terminal included). Each key is undone, unmeasured, before the next."""
    samples = []
    for key, undo in KEYS:
        for _ in range(repeats):
            await pilot.pause()
            before, seen = generation(), len(updates)
            pressed = time.perf_counter()
            await pilot.press(key)
            deadline = pressed + 5.0
            while not any(u[3] > before for u in updates[seen:]):
                if time.perf_counter() > deadline:
                    break  # the key changed nothing (an edge): no sample
                await asyncio.sleep(0.0005)
            else:
                samples.append(next(u[0] for u in updates[seen:] if u[3] > before) - pressed)
            await pilot.press(undo)
    return samples


async def _keys_while_loading(app, pilot, updates: list, limit: int) -> list:  # type: ignore[no-untyped-def,type-arg]
    """Seconds from a pan key to the first screen update that shows it, pressed while the
    lanes shown so far keep growing (the screen changes with them too: a key's update is the
    first one painted after its action ran)."""
    from textual import events

    timeline = app.timeline
    handled: list[int] = []  # the timeline's state generation right after each pan
    original = timeline.action_pan

    def pan(eighths: float) -> None:
        original(eighths)
        handled.append(timeline._generation)

    timeline.action_pan = pan
    samples = []
    try:
        for k in range(limit):
            if not app.streaming:
                break
            seen, count = len(updates), len(handled)
            # Sent as the terminal driver sends a key: `pilot.press` would then wait for the
            # process to be idle, which it never is while loading.
            key = events.Key("right" if k % 2 == 0 else "left", None)
            key.set_sender(app)
            pressed = time.perf_counter()
            app._driver.send_message(key)
            deadline = pressed + 5.0
            while len(handled) == count or not any(u[3] >= handled[-1] for u in updates[seen:]):
                if time.perf_counter() > deadline:
                    break
                await asyncio.sleep(0.0005)
            else:
                shown = next(u[0] for u in updates[seen:] if u[3] >= handled[-1])
                samples.append(shown - pressed)
            await asyncio.sleep(0.02)  # a person's pace, not a flood
    finally:
        timeline.action_pan = original
    return samples


def _hook_display(app, state: Callable[[], tuple[tuple[bool, bool, bool], int]]) -> list:  # type: ignore[no-untyped-def,type-arg]
    """Record every screen update: (perf time, monotonic time, what it shows: lanes, findings,
    the whole trace; generation)."""
    updates: list[tuple[float, float, tuple[bool, bool, bool], int]] = []
    original = app._display

    def display(screen, renderable) -> None:  # type: ignore[no-untyped-def]
        if renderable is not None:
            renderable.render_segments(app.console)  # as a terminal would receive it
            shows, generation = state()
            updates.append((time.perf_counter(), time.monotonic(), shows, generation))
        original(screen, renderable)

    app._display = display
    return updates


async def _tui_child(directory: str, size: tuple[int, int], repeats: int, floor: bool) -> dict:  # type: ignore[type-arg]
    if floor:
        # The least a timeline of this trace costs: read and split its files, and a Textual app
        # whose one widget shows a count that each key changes.
        from textual.app import App, ComposeResult
        from textual.widgets import Static

        namespace: dict[str, object] = {"__name__": "floor"}
        exec(STREAM_CODE, namespace)
        namespace["split_streamed"](sorted(Path(directory).glob("*.jsonl")))  # type: ignore[operator]

        class Floor(App[None]):
            count = 0

            def compose(self) -> ComposeResult:
                yield Static("0", id="count")

            def on_key(self, event) -> None:  # type: ignore[no-untyped-def]
                self.count += 1
                self.query_one("#count", Static).update(str(self.count))

        app = Floor()
        updates = _hook_display(app, lambda: ((True, True, True), app.count))
        generation: Callable[[], int] = lambda: app.count  # noqa: E731
    else:
        from racetrace.tui.app import RacetraceApp

        app = RacetraceApp([directory], source="benchmark")
        timeline = app.timeline
        updates = _hook_display(app, lambda: (
            (bool(timeline.lane_layout.lanes), app.report is not None, app.trace is not None),
            getattr(timeline, "_generation", 0)))
        generation = lambda: getattr(timeline, "_generation", 0)  # noqa: E731
    result: dict[str, object] = {"loading_keys": []}
    async with app.run_test(size=size) as pilot:
        for n, name in ((0, "lanes_at"), (2, "loaded_at"), (1, "findings_at")):
            if name == "loaded_at" and not floor:
                result["loading_keys"] = await _keys_while_loading(app, pilot, updates,
                                                                   20 * repeats)
            deadline = time.perf_counter() + 600
            while not any(u[2][n] for u in updates):
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"no screen update showed {name[:-3]} within 600 s")
                await asyncio.sleep(0.002)
            result[name] = next(u[1] for u in updates if u[2][n])
        await pilot.pause()
        result["keys"] = await _keys(app, pilot, generation, updates, repeats)
    return result


def bench_tui(args: argparse.Namespace, root: Path) -> list[Row]:
    rows = []
    for runs in args.tui_runs:
        rows += _bench_tui_size(args, root, runs)
    return rows


def _bench_tui_size(args: argparse.Namespace, root: Path, runs: int) -> list[Row]:
    d = _trace_dir(root, runs)
    results: dict[bool, list[dict]] = {False: [], True: []}  # type: ignore[type-arg]
    for _ in range(args.tui_repeats):
        for floor in (True, False):
            command = [sys.executable, str(Path(__file__).resolve()), "--tui-child", str(d),
                       "--key-repeats", str(args.key_repeats)]
            if floor:
                command.append("--tui-floor")
            done = run_child(command)
            child = json.loads(done.stdout.strip().splitlines()[-1])
            child["lanes_s"] = child["lanes_at"] - done.spawned
            child["loaded_s"] = child["loaded_at"] - done.spawned
            child["findings_s"] = child["findings_at"] - done.spawned
            child["peak"] = done.peak_bytes
            results[floor].append(child)
    app, base = results[False], results[True]
    label = f"{runs:,} runs"
    # The targets are for 100k and 1M runs; sizes between take the 1M one.
    lane_target = 0.7 if runs <= 100_000 else 2.5
    lanes = _median([r["lanes_s"] for r in app]) * 1000
    floor_paint = _median([r["lanes_s"] for r in base]) * 1000
    findings = _median([r["findings_s"] for r in app]) * 1000
    loaded = _median([r["loaded_s"] for r in app]) * 1000
    loading_keys = [k * 1000 for r in app for k in r["loading_keys"]]
    memory = max(r["peak"] for r in app) / MB
    floor_memory = max(r["peak"] for r in base) / MB
    keys = [k * 1000 for r in app for k in r["keys"]]
    floor_keys = [k * 1000 for r in base for k in r["keys"]]
    return [
        Row(f"tui launch to lanes on screen, {label}", lanes, floor_paint, "ms",
            f"<= {lane_target * 1000:.0f} ms", lanes <= lane_target * 1000,
            note="from process spawn to the first lanes painted (those of the first blocks "
                 "read: the rest stream in); floor: a fresh process reading and splitting the "
                 "trace (8 MB blocks) and painting a one-widget Textual app"),
        Row(f"tui launch to all lanes loaded, {label}", loaded, floor_paint, "ms",
            "none set", None, note="to the first screen update with the whole trace laid out"),
        Row(f"tui launch to findings listed, {label}", findings, floor_paint, "ms",
            "none set", None),
        Row(f"tui peak memory, {label}", memory, floor_memory, "MB", "<= 300 MB at 1M",
            memory <= 300),
        Row(f"tui key to screen, median, {label}", _median(keys) if keys else None,
            _median(floor_keys) if floor_keys else None, "ms", "none set", None,
            note=f"{len(keys)} presses of pan, zoom in/out, next lane, next run; floor: the "
                 "one-widget app updating a count"),
        Row(f"tui key to screen, worst, {label}", max(keys) if keys else None,
            max(floor_keys) if floor_keys else None, "ms", "<= 50 ms",
            bool(keys) and max(keys) <= 50, note=_spread(keys) if keys else ""),
        Row(f"tui key to screen while loading, worst, {label}",
            max(loading_keys) if loading_keys else None,
            max(floor_keys) if floor_keys else None, "ms", "<= 50 ms",
            max(loading_keys) <= 50 if loading_keys else None,
            note=f"{len(loading_keys)} pans pressed while the lanes streamed in"
                 + (f", {_spread(loading_keys)}" if loading_keys else "")),
    ]


def _spread(samples_ms: Sequence[float]) -> str:
    """Median, 90th and 99th percentile, and how many were over the target: a worst case on a
    shared machine is often one press the kernel put aside."""
    ordered = sorted(samples_ms)

    def at(q: float) -> float:
        return ordered[min(int(q * len(ordered)), len(ordered) - 1)]

    over = sum(1 for v in ordered if v > 50)
    return (f"median {_median(ordered):.1f} ms, p90 {at(0.9):.1f}, p99 {at(0.99):.1f}, "
            f"{over} of {len(ordered)} over 50 ms")


# -- main ------------------------------------------------------------------------------------------
def _sizes(text: str) -> list[int]:
    return [int(v) for v in text.replace("_", "").split(",") if v.strip()]


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(GROUPS),
                        help=f"comma-separated groups to run ({', '.join(GROUPS)})")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and one repeat: a smoke run, not a measurement")
    parser.add_argument("--runs", type=int, help="runs in the report's trace (default 200000)")
    parser.add_argument("--tui-runs", type=_sizes,
                        help="runs in the TUI's trace, or several sizes: 100000,1000000 "
                             "(default 100000)")
    parser.add_argument("--repeats", type=int, help="repeats of each timed case (default 3)")
    parser.add_argument("--calls", type=int, help="traced calls per sample (default 5000)")
    parser.add_argument("--starts", type=int, help="interpreter starts per variant (default 20)")
    parser.add_argument("--tui-repeats", type=int, help="TUI processes per variant (default 2)")
    parser.add_argument("--key-repeats", type=int, help="presses of each key (default 10)")
    parser.add_argument("--size", default="160x48", help="TUI terminal size (default 160x48)")
    parser.add_argument("--dir", help="keep the synthetic traces here and reuse them")
    parser.add_argument("--tui-child", help=argparse.SUPPRESS)
    parser.add_argument("--tui-floor", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    defaults = dict(runs=200_000, tui_runs=[100_000], repeats=3, calls=5000, starts=20,
                    tui_repeats=2, key_repeats=10)
    if args.quick:
        defaults = dict(runs=2_000, tui_runs=[2_000], repeats=1, calls=200, starts=3,
                        tui_repeats=1, key_repeats=2)
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.groups = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = set(args.groups) - set(GROUPS)
    if unknown:
        parser.error(f"--only: unknown group(s) {', '.join(sorted(unknown))}; "
                     f"choose from {', '.join(GROUPS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    width, height = (int(v) for v in args.size.split("x"))
    if args.tui_child:
        result = asyncio.run(_tui_child(args.tui_child, (width, height), args.key_repeats,
                                        args.tui_floor))
        print(json.dumps(result))
        return 0
    if os.environ.get("RACETRACE", "").strip() not in ("", "0"):
        sys.exit("racetrace: run the benchmarks with RACETRACE unset")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"racetrace benchmarks: Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load average {load:.2f}{' (quick: not a measurement)' if args.quick else ''}",
          flush=True)
    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="racetrace-bench-"))
    rows: list[Row] = []
    try:
        for group in GROUPS:
            if group not in args.groups:
                continue
            began = time.perf_counter()
            if group == "tracer":
                rows += bench_tracer(args)
            elif group == "startup":
                rows += bench_startup(args)
            elif group == "report":
                rows += bench_report(args, root)
            else:
                rows += bench_tui(args, root)
            print(f"({group}: {time.perf_counter() - began:.0f} s)", flush=True)
    finally:
        if not args.dir:
            shutil.rmtree(root, ignore_errors=True)
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

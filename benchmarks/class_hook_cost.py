"""What the class creation hook (tracer/classhook.py) costs: a module that defines 1,000 classes.

The module's code (N classes with a class attribute and two methods each) is compiled once and
executed in a fresh module namespace again and again, as an import executes it, in one process,
with the configurations interleaved round after round (the machine is shared: the best of many
rounds is what compares):

- off: tracing off (the hook is never installed);
- on, no named target: racetrace.start() with presets only: the hook is not installed either;
- on, hook installed for another module: a named target still unresolved elsewhere, so each
  class goes through the wrapper and is let through on its module name;
- on, this module watched: a named target in this very module that none of these classes is
  (the worst case: each class is looked at by name before the target's own class shows up).

    python benchmarks/class_hook_cost.py [--classes 1000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
import types
from collections.abc import Callable

from racetrace.tracer import classhook

import racetrace

MODULE = "many_classes"


def source(classes: int) -> str:
    return "\n".join(
        f"class C{i}:\n    x = 1\n    def __init__(self):\n        self.y = 2\n"
        f"    def run(self):\n        return self.y\n"
        for i in range(classes)
    )


def execute(code: types.CodeType) -> float:
    module = types.ModuleType(MODULE)
    sys.modules[MODULE] = module  # as an import does, while the body runs
    # Without the collector: its pauses depend on every object the process holds, not on the
    # hook, and would drown a difference of a fraction of a microsecond.
    gc.collect()
    gc.disable()
    t0 = time.perf_counter_ns()
    exec(code, module.__dict__)
    elapsed = time.perf_counter_ns() - t0
    gc.enable()
    del sys.modules[MODULE]
    return elapsed / 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    code = compile(source(args.classes), f"{MODULE}.py", "exec")
    folder = tempfile.mkdtemp()

    def off() -> None:
        racetrace.stop()

    def on(*targets: str) -> Callable[[], None]:
        def configure() -> None:
            racetrace.stop()
            racetrace.start(list(targets), directory=folder)

        return configure

    configs: dict[str, Callable[[], None]] = {
        "off": off,
        "on, no named target": on(),
        "on, hook installed for another module": on("elsewhere:Agent.run"),
        "on, this module watched": on(f"{MODULE}:Missing.run"),
    }
    best = dict.fromkeys(configs, float("inf"))
    for _ in range(args.rounds):
        for name, configure in configs.items():
            configure()
            if name.startswith("on, hook") or name.startswith("on, this"):
                assert classhook.is_installed()
            best[name] = min(best[name], *(execute(code) for _ in range(3)))
    racetrace.stop()
    print(f"executing a module of {args.classes} classes, best of {args.rounds * 3}:")
    for name, ms in best.items():
        per_class = (ms - best["off"]) * 1000 / args.classes
        print(f"  {name:40} {ms:6.2f} ms  ({per_class:+.2f} µs per class vs off)")


if __name__ == "__main__":
    main()

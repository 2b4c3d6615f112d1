"""racetrace's modules import one another one way: no import cycle, counting every import
(module-level, inside functions, and under `TYPE_CHECKING`). Cycles are what tangled the tracer's
runtime, targets, wrappers and task observer, and the analyzers' runs and their details (issue
13): the tracer reads targets → wrap → runtime, the runtime learns of the current run through
tracer/current.py; the analyzers read core → findings → outputs."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Folder of the checkout -> the package it is installed as (pyproject.toml's package-dir).
PACKAGES = {
    "racetrace": "racetrace",
    "tracer": "racetrace.tracer",
    "analyzers": "racetrace.analyzers",
    "tui": "racetrace.tui",
}


def modules() -> dict[str, Path]:
    """Every module of racetrace by its dotted name (a package by its `__init__.py`)."""
    found: dict[str, Path] = {}
    for folder, package in PACKAGES.items():
        for path in (REPO / folder).rglob("*.py"):
            parts = list(path.relative_to(REPO / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The racetrace modules that `path` (module `name`) imports, wherever the import is."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()

    def add(dotted: str) -> None:
        # `from x import y` names a module x.y, or a name in x: keep what is a module.
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        # A module importing its own package (`from . import x` in a package's module) only
        # runs the package's `__init__`, which is not an edge back to the module.
        if dotted and dotted != name and not name.startswith(dotted + "."):
            found.add(dotted)

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                stem = ".".join([*base, *(node.module.split(".") if node.module else [])])
            else:
                stem = node.module or ""
            for alias in node.names:
                add(f"{stem}.{alias.name}")
            add(stem)
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()
    names = set(known)
    return {name: imports_of(name, path, names) for name, path in known.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph as a path (first node repeated at the end), or None."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in on_path:
            return [*path[path.index(node):], node]
        if node in done:
            return None
        path.append(node)
        on_path.add(node)
        for after in sorted(graph.get(node, ())):
            cycle = visit(after)
            if cycle is not None:
                return cycle
        path.pop()
        on_path.discard(node)
        done.add(node)
        return None

    for node in sorted(graph):
        cycle = visit(node)
        if cycle is not None:
            return cycle
    return None


def test_racetrace_has_no_import_cycle() -> None:
    graph = import_graph()
    # The reader sees the imports it should: module-level, function-level, TYPE_CHECKING,
    # relative ones of the package above, and absolute ones across the parts.
    assert "racetrace.tracer.wrap" in graph["racetrace.tracer.targets"]
    assert "racetrace.tracer.runtime" in graph["racetrace.tracer.wrap"]
    assert "racetrace.tracer.targets" in graph["racetrace.tracer.presets.spec"]
    assert "racetrace.analyzers.core.records" in graph["racetrace.analyzers.core.details"]
    assert "racetrace.analyzers.core.table" in graph["racetrace.analyzers.findings.analyze"]
    assert "racetrace.pytest_plugin.settings" in graph["racetrace.pytest_plugin"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_analyzers_read_core_then_findings_then_outputs() -> None:
    """Trace files are read by core/, core's runs analyzed by findings/, findings shown by
    outputs/: no part imports a later one."""
    order = {"core": 0, "findings": 1, "outputs": 2}

    def part(module: str) -> int | None:
        parts = module.split(".")
        return order.get(parts[2]) if parts[:2] == ["racetrace", "analyzers"] and len(
            parts) > 3 else None

    graph = import_graph()
    assert {"racetrace.analyzers.core.load", "racetrace.analyzers.outputs.render_text"} <= (
        graph.keys())
    backwards = [f"{name} -> {other}" for name, imported in sorted(graph.items())
                 for other in sorted(imported)
                 if part(name) is not None and part(other) is not None
                 and part(other) > part(name)]  # type: ignore[operator]
    assert backwards == []


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import(tmp_path: Path) -> None:
    a = tmp_path / "a.py"
    a.write_text("from .b import x\n")
    b = tmp_path / "b.py"
    b.write_text("def f():\n    from .a import y\n    return y\n")
    known = {"pkg.a", "pkg.b"}
    graph = {"pkg.a": imports_of("pkg.a", a, known), "pkg.b": imports_of("pkg.b", b, known)}
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.a"]
    graph = import_graph()
    # As it was before issue 13: the task observer imported the runtime inside a function.
    graph["racetrace.tracer.taskorigin"] |= {"racetrace.tracer.runtime"}
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1]

"""The tracer's modules import one another one way: no import cycle, counting every import
(module-level, inside functions, and under `TYPE_CHECKING`). A cycle is what made the runtime,
the targets, the wrappers and the task observer one tangle (issue 13): the runtime learns of the
current run through tracer/current.py, and reads targets → wrap → runtime."""

from __future__ import annotations

import ast
from pathlib import Path

TRACER = Path(__file__).resolve().parents[2] / "tracer"
PACKAGE = "racetrace.tracer"


def module_name(path: Path) -> str:
    parts = path.relative_to(TRACER).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The tracer modules that `path` imports, wherever in the file the import is."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()

    def add(dotted: str) -> None:
        # `from . import x` names a module x, or a name in the package: keep what is a module.
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        if dotted and dotted != name:
            found.add(dotted)

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PACKAGE + "."):
                    add(alias.name[len(PACKAGE) + 1:])
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                stem = ".".join([*base, *(node.module.split(".") if node.module else [])])
            elif node.module and node.module.startswith(PACKAGE + "."):
                stem = node.module[len(PACKAGE) + 1:]
            else:
                continue
            for alias in node.names:
                add(f"{stem}.{alias.name}" if stem else alias.name)
            if stem:
                add(stem)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = sorted(TRACER.rglob("*.py"))
    modules = {module_name(p) for p in paths} - {""}
    return {module_name(p): imports_of(p, modules) for p in paths if module_name(p)}


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


def test_the_tracer_has_no_import_cycle() -> None:
    graph = import_graph()
    # The reader sees the imports it should: a function-level one, a TYPE_CHECKING one, and
    # the presets' relative imports of the package above.
    assert "wrap" in graph["targets"] and "runtime" in graph["wrap"]
    assert "target" in graph["runtime"] and "targets" in graph["presets.spec"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle in tracer/: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import() -> None:
    graph = import_graph()
    # As it was before issue 13: the task observer imported the runtime inside a function.
    graph["taskorigin"] = graph["taskorigin"] | {"runtime"}
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1]
    assert {"runtime", "taskorigin"} <= set(cycle)

"""No import cycle among the analyzers' modules: each one's imports (at module level and inside
functions, read from its source with `ast`) lead only to modules that do not lead back."""

from __future__ import annotations

import ast
from pathlib import Path

ANALYZERS = Path(__file__).resolve().parents[2] / "analyzers"
PACKAGE = "racetrace.analyzers"


def imports_of(path: Path) -> set[str]:
    """The analyzers modules `path` imports, wherever in the file the import is."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                base = node.module
            elif node.level == 0 and node.module and node.module.startswith(PACKAGE + "."):
                base = node.module[len(PACKAGE) + 1:]
            elif node.level == 0 and node.module == PACKAGE:
                base = None
            else:
                continue
            if base is None:  # from . import x, y: modules
                names.update(alias.name for alias in node.names)
            else:
                names.add(base.split(".")[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PACKAGE + "."):
                    names.add(alias.name[len(PACKAGE) + 1:].split(".")[0])
    return names


def graph() -> dict[str, set[str]]:
    modules = {p.stem: p for p in ANALYZERS.glob("*.py") if p.stem != "__init__"}
    return {name: imports_of(path) & modules.keys() - {name} for name, path in modules.items()}


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A cycle of `edges`, as the modules along it, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_the_cycle_finder_finds_a_function_level_cycle(tmp_path: Path) -> None:
    a = tmp_path / "a.py"
    a.write_text("from .b import x\n")
    b = tmp_path / "b.py"
    b.write_text("def f():\n    from .a import y\n    return y\n")
    edges = {"a": imports_of(a), "b": imports_of(b)}
    assert cycle(edges) == ["a", "b", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_the_analyzers_import_no_cycle() -> None:
    edges = graph()
    assert {"details", "model", "analyze", "table"} <= edges.keys()
    found = cycle(edges)
    assert found is None, " -> ".join(found or [])

"""Framework presets: the run entry points of frameworks racetrace knows, traced with RACETRACE=1.

Each preset module declares its targets; `enable` requests those of the presets asked for (all
by default). A preset whose framework is not installed costs nothing: its targets are patched
only if and when the framework's modules are imported.
"""

from __future__ import annotations

from ..config import ALL_PRESETS
from ..errors import say

# name -> module path of the preset (relative to this package). Each module declares its
# entry points and the framework versions it was tested with, and exposes `enable()`.
PRESETS: dict[str, str] = {
    "autogen": ".autogen",
    "langchain": ".langchain",
    "langgraph": ".langgraph",
    "openai_agents": ".openai_agents",
}


def enable(names: tuple[str, ...]) -> None:
    import importlib

    wanted = list(PRESETS) if ALL_PRESETS in names else list(names)
    for name in wanted:
        # `openai-agents`, as the distribution spells it, works too.
        module_path = PRESETS.get(name.replace("-", "_"))
        if module_path is None:
            known = ", ".join(sorted(PRESETS)) or "none yet"
            say(f"unknown preset {name!r} in RACETRACE (known: {known}); ignored")
            continue
        importlib.import_module(module_path, __name__).enable()

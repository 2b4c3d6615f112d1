"""Framework presets: the run entry points of frameworks racetrace knows, traced with RACETRACE=1.

Each preset module declares its targets; `enable` requests those of the presets asked for (all
by default). A preset whose framework is not installed costs nothing: its targets are patched
only if and when the framework's modules are imported. Nor does one that is installed but not
imported: at start-up only a post-import hook per module in `MODULES` is registered, and the
preset's declaration (with the target machinery behind it) is imported when one of them is.
"""

from __future__ import annotations

from types import ModuleType

from .. import importhook
from ..config import ALL_PRESETS
from ..errors import internal_error, is_verbose, say

# name -> module path of the preset (relative to this package). Each module declares its
# entry points and the framework versions it was tested with, and exposes `enable()`.
PRESETS: dict[str, str] = {
    "autogen": ".autogen",
    "langchain": ".langchain",
    "langgraph": ".langgraph",
    "openai_agents": ".openai_agents",
}

# name -> the modules its entry points live in (tests check this against the declarations).
MODULES: dict[str, tuple[str, ...]] = {
    "autogen": ("autogen_agentchat.agents", "autogen_agentchat.teams", "autogen_core"),
    "langchain": ("langchain_core.runnables.base", "langchain_core.runnables.history"),
    "langgraph": ("langgraph.pregel",),
    "openai_agents": ("agents.run",),
}

# Bumped by each enable and disable: a hook registered before a stop does nothing after it.
_generation = 0


def enable(names: tuple[str, ...]) -> None:
    global _generation
    _generation += 1
    generation = _generation
    wanted = list(PRESETS) if ALL_PRESETS in names else list(names)
    for name in wanted:
        # `openai-agents`, as the distribution spells it, works too.
        key = name.replace("-", "_")
        if key not in PRESETS:
            known = ", ".join(sorted(PRESETS)) or "none yet"
            say(f"unknown preset {name!r} in RACETRACE (known: {known}); ignored")
            continue
        if is_verbose():  # says which versions meet which: the declarations are read now
            declaration(key).enable()
            continue
        for module in MODULES[key]:
            importhook.register(_on_import(key, generation), module)


def disable() -> None:
    """Hooks still waiting for their module will request nothing."""
    global _generation
    _generation += 1


def declaration(name: str) -> ModuleType:
    import importlib

    return importlib.import_module(PRESETS[name], __name__)


def _on_import(name: str, generation: int) -> importhook.Hook:
    def requested(module: ModuleType) -> None:
        if generation != _generation:
            return
        try:
            declaration(name).PRESET.enable_module(module.__name__)
        except Exception as exc:  # the program's import goes on
            internal_error(f"enabling the {name} preset", exc)

    return requested

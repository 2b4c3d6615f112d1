"""Subclass coverage: a traced base method also traces every override of it, present or future.

Patching `BaseChatAgent.on_messages` covers the subclasses that inherit it, not those that
override it (`AssistantAgent.on_messages`), nor classes defined later (the user's own agents,
`autogen_ext`'s). So, for a base asked to be covered, we walk its subclasses now and hook
`__init_subclass__` on it for those to come. The hook is a classmethod set on the base that
first runs whatever `__init_subclass__` the base had (its own, or the next one along the new
class's MRO, such as `typing.Generic`'s), so class creation behaves as before; pydantic models
and ABCs are unaffected, since their metaclasses do their work around `type.__new__`, which
calls the hook with the class body already in place. A class in between that defines
`__init_subclass__` without calling `super()` hides its own subclasses: that is the documented
contract of `__init_subclass__`, which such a class breaks for every base above it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from .errors import internal_error

# Called with (the base's registration, the subclass, the method name) for each override.
OnOverride = Callable[[Any, type, str], None]


class _Hook:
    """What is covered below one base: the method names and who to tell about overrides."""

    __slots__ = ("base", "covered", "had_own", "original")

    def __init__(self, base: type) -> None:
        self.base = base
        self.covered: list[tuple[str, Any, OnOverride]] = []
        self.had_own = "__init_subclass__" in vars(base)
        self.original = vars(base).get("__init_subclass__")


_hooks: dict[type, _Hook] = {}
_lock = threading.RLock()


def subclasses(base: type) -> Iterator[type]:
    """Every class below `base`, each once, parents before children."""
    seen: set[type] = set()
    pending = list(type.__subclasses__(base))
    while pending:
        cls = pending.pop(0)
        if cls in seen:
            continue
        seen.add(cls)
        yield cls
        pending.extend(type.__subclasses__(cls))


def cover(base: type, name: str, registration: Any, on_override: OnOverride) -> None:
    """Report every class below `base` that defines `name` itself, now and when defined."""
    with _lock:
        hook = _hooks.get(base)
        if hook is None:
            hook = _hooks[base] = _Hook(base)
            _install(hook)
        hook.covered.append((name, registration, on_override))
    for cls in list(subclasses(base)):
        if name in vars(cls):
            on_override(registration, cls, name)


def _install(hook: _Hook) -> None:
    base = hook.base
    original = hook.original

    def __init_subclass__(cls: type, **kwargs: Any) -> None:
        # The class creation as it was: the base's own hook, else the next one up the MRO.
        if isinstance(original, classmethod):
            original.__get__(None, cls)(**kwargs)
        elif original is not None:  # set on the class by hand, as a plain function
            original(cls, **kwargs)
        else:
            super(base, cls).__init_subclass__(**kwargs)  # type: ignore[misc]
        _on_new_subclass(hook, cls)

    __init_subclass__.__qualname__ = f"{base.__qualname__}.__init_subclass__"
    __init_subclass__._racetrace_hook = True  # type: ignore[attr-defined]
    type.__setattr__(base, "__init_subclass__", classmethod(__init_subclass__))


def _on_new_subclass(hook: _Hook, cls: type) -> None:
    try:
        own = vars(cls)
        for name, registration, on_override in list(hook.covered):
            if name in own:
                on_override(registration, cls, name)
    except Exception as exc:  # never fail the user's class statement
        internal_error(f"covering the subclass {cls.__qualname__}", exc)


def uncover_all() -> None:
    """Take every hook out, restoring each base's own `__init_subclass__` (or its absence)."""
    with _lock:
        hooks = list(_hooks.values())
        _hooks.clear()
    for hook in hooks:
        if hook.had_own:
            type.__setattr__(hook.base, "__init_subclass__", hook.original)
        else:
            try:
                type.__delattr__(hook.base, "__init_subclass__")
            except AttributeError:
                pass

"""Functions decorated with `@racetrace.trace` while tracing was off, for `start()` to patch.

The decorator returns the function unchanged when tracing is off (it must cost nothing then),
so a `racetrace.start()` that comes after the class statement would find nothing to record.
The decorator leaves the function here instead; `start()` finds where it now lives (its class
or module, by qualified name) and patches it in like a target. This module imports only the
standard library: it is used while tracing is off.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

# Weak: a decorated function that is gone (a reloaded module) is not kept alive by us.
_decorated: weakref.WeakKeyDictionary[Callable[..., Any], bool | None] = (
    weakref.WeakKeyDictionary()
)


def remember(function: Callable[..., Any], stateful: bool | None) -> None:
    # Functions made inside a function (`<locals>`) cannot be found again by name: each call
    # makes a new one, so remembering them would only grow.
    if "<locals>" in getattr(function, "__qualname__", "<locals>"):
        return
    try:
        _decorated[function] = stateful
    except TypeError:  # not weak-referenceable: a builtin or a C callable
        pass


def decorated() -> list[tuple[Callable[..., Any], bool | None]]:
    return list(_decorated.items())

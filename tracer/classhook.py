"""Class creation hook: a target's class is patched the moment its `class` statement runs.

Post-import hooks fire when a module's import has finished. That is too late for two kinds of
module, and they are the ones a new user meets first:
- the script you run (`python app.py`, `python -m myapp.main`) is never imported at all: the
  interpreter or runpy runs its code as `__main__` (`__mp_main__` in a spawned child);
- a module whose import runs the program (`asyncio.run(main())` at module level) finishes its
  import only when the program is over.
Every `class` statement, whoever runs the code (the interpreter, runpy, importlib, exec), calls
`builtins.__build_class__`; wrapping it sees each class as it is made, before the module body
goes on to use it.

Why one global wrapper rather than a module-scoped one (a meta path finder whose loader runs
target modules with their own `__build_class__`): the script is not loaded by any finder (the
.pth runs before it starts, and the interpreter executes it directly), and giving a module a
private `__builtins__` dict would freeze it (a later `builtins._ = gettext` would be missed).
The wrapper is cheap and bounded instead:
- it is installed only while a target the user named has not been found, and taken out as soon
  as all have been (`targets.py` decides);
- for a class of any other module it costs one Python call and one set lookup on the class
  body's module name (benchmarks/class_hook_cost.py: +0.15 µs on a class creation of 3.4 µs,
  figures in docs/architecture.md);
- it never changes what `__build_class__` returns or raises; a failure of ours is reported once.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable
from typing import Any

from .errors import internal_error

# (the class body function's globals, the class's qualified name, the class) -> None
OnClass = Callable[[dict[str, Any], str, Any], None]

_lock = threading.Lock()
# builtins.__build_class__ as it was before we wrapped it. Never reset: code that kept a
# reference to our wrapper (another tool wrapping it after us) must still reach the original.
_original: Any = builtins.__build_class__
_installed = False
_watched: frozenset[str] = frozenset()  # module names (`__name__` of the class body's globals)
_on_class: OnClass | None = None


def _build_class(func: Any, name: Any, /, *bases: Any, **kwds: Any) -> Any:
    cls = _original(func, name, *bases, **kwds)
    # `__module__` of the class body function is its globals' `__name__`: no dict lookups for
    # a class of a module nobody asked about.
    if func.__module__ in _watched:
        _created(func, cls)
    return cls


def _created(func: Any, cls: Any) -> None:
    callback = _on_class
    if callback is None:
        return
    try:
        callback(func.__globals__, func.__qualname__, cls)
    except Exception as exc:
        internal_error(f"tracing the class {getattr(cls, '__qualname__', '?')}", exc)


def watch(modules: frozenset[str], on_class: OnClass) -> None:
    """Call `on_class` for each class made in `modules` from now on; empty: take the hook out."""
    global _original, _watched, _on_class, _installed
    with _lock:
        _on_class = on_class
        _watched = modules
        if modules and not _installed:
            _original = builtins.__build_class__
            builtins.__build_class__ = _build_class
            _installed = True
        elif not modules and _installed and builtins.__build_class__ is _build_class:
            # Someone may have wrapped it after us: then ours stays in their chain, inert.
            builtins.__build_class__ = _original
            _installed = False


def is_installed() -> bool:
    return builtins.__build_class__ is _build_class

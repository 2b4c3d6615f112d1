"""Post-import hooks: call a function when a module has been imported, before or after now.

What `wrapt.register_post_import_hook` does, without importing wrapt: wrapt's package imports
`asyncio` and `importlib.metadata` (~30 ms at start-up, paid by every traced process, children
included), and a process that never imports a traced framework needs none of it. The
mechanism is wrapt's: a finder first on `sys.meta_path` that answers only for the modules
hooks wait for, asks the other finders for the real spec, and wraps its loader so that the
hooks run once the module's code has run. The module ends up with its own loader, as though
we had never been there.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

from .errors import internal_error

Hook = Callable[[ModuleType], None]

_hooks: dict[str, list[Hook]] = {}
_lock = threading.RLock()
_finder: _HookFinder | None = None


def register(hook: Hook, name: str) -> None:
    """Call `hook(module)` once `name` is imported; now if it already is. Every hook is
    racetrace's: an exception from one is reported, never passed on to the program's import."""
    global _finder
    with _lock:
        if _finder is None:
            _finder = _HookFinder()
            sys.meta_path.insert(0, _finder)
        module = sys.modules.get(name)
        if module is None:
            _hooks.setdefault(name, []).append(hook)
    if module is not None:  # outside the lock: the hook may import, or start a thread
        _call(hook, module)


def _call(hook: Hook, module: ModuleType) -> None:
    try:
        hook(module)
    except Exception as exc:
        internal_error(f"after importing {getattr(module, '__name__', '?')}", exc)


def _fire(module: ModuleType) -> None:
    with _lock:
        hooks = _hooks.pop(getattr(module, "__name__", None), ())  # type: ignore[arg-type]
    for hook in hooks:
        _call(hook, module)


class _HookLoader:
    """The real loader, with the hooks run after `exec_module`. Looks like the real one to
    `isinstance` and to attribute reads while the import runs."""

    def __init__(self, loader: Any) -> None:
        object.__setattr__(self, "_loader", loader)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance(spec.loader, SourceFileLoader) still holds
        return type(self._loader)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._restore(module)
        self._loader.exec_module(module)
        _fire(module)

    def _restore(self, module: ModuleType) -> None:
        """The module keeps its real loader (`__loader__`, `__spec__.loader`): source lookups,
        resource readers and reloads see what they would without us."""
        try:
            if getattr(module, "__loader__", None) in (None, self):
                module.__loader__ = self._loader
        except AttributeError:
            pass
        spec = getattr(module, "__spec__", None)
        if spec is not None and getattr(spec, "loader", None) is self:
            spec.loader = self._loader


class _HookFinder:
    """First on `sys.meta_path`; answers only for modules that hooks wait for."""

    def __init__(self) -> None:
        self._busy = threading.local()

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in _hooks:  # every other import pays this one lookup
            return None
        busy = self._busy.__dict__.setdefault("names", set())
        if fullname in busy:
            return None
        busy.add(fullname)
        try:
            for finder in list(sys.meta_path):
                if finder is self:
                    continue
                find = getattr(finder, "find_spec", None)
                if find is None:
                    continue
                spec = find(fullname, path, target)
                if spec is None:
                    continue
                loader = spec.loader
                if loader is not None and hasattr(loader, "exec_module") and not isinstance(
                    loader, _HookLoader
                ):
                    spec.loader = _HookLoader(loader)
                return spec
            return None
        finally:
            busy.discard(fullname)

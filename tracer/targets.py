"""Targets: which methods are traced, how they are patched in, and how they are taken out.

A target is `module:Qualname.method` (or `module:function`). It is patched when its module is
imported, before or after racetrace starts, through wrapt's post-import hooks, the way
OpenTelemetry's contrib instrumentations do it; `uninstrument_all` restores every original.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import wrapt

from .errors import internal_error, say, verbose
from .frames import Owner
from .wrap import TracedFunction, kind_of, make_wrapper

InstanceOf = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], object]


def default_instance_of(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> object:
    """`self` for methods, the class for classmethods, the function itself for functions."""
    if instance is not None:
        return instance
    return getattr(wrapped, "__wrapped__", wrapped)


class TargetError(ValueError):
    """A target string that cannot name a method."""


@dataclass(slots=True)
class Target:
    module: str
    path: str  # "Class.method" or "function"
    instance_of: InstanceOf = default_instance_of
    label_of: Callable[[object], str | None] | None = None
    # A logical identity shared across objects or processes (a LangGraph thread_id, a session).
    resource_of: Callable[[object, tuple[Any, ...], dict[str, Any]], str | None] | None = None
    stateful: bool | None = None
    gen_ai_agent: bool = False
    owner: Owner = field(default_factory=lambda: Owner(None, None))

    @property
    def spec(self) -> str:
        return f"{self.module}:{self.path}"

    @property
    def span_name(self) -> str:
        return f"{self.module}.{self.path}"

    @classmethod
    def parse(cls, spec: str) -> Target:
        module, sep, path = spec.strip().partition(":")
        parts = path.split(".")
        if (
            not sep
            or not module
            or not all(p.isidentifier() for p in module.split("."))
            or not all(p.isidentifier() for p in parts)
        ):
            raise TargetError(
                f"bad target {spec!r}: expected module:Class.method or module:function, "
                "e.g. myapp.agents:Agent.run"
            )
        return cls(module=module, path=path)


@dataclass(slots=True)
class _Patch:
    target: Target
    parent: Any
    attribute: str
    original: Any
    had_own: bool


_patches: list[_Patch] = []
_requested: dict[str, Target] = {}
_lock = threading.RLock()


def request(target: Target) -> None:
    """Patch `target` now if its module is imported, else as soon as it is."""
    with _lock:
        if target.spec in _requested:
            return
        _requested[target.spec] = target
    wrapt.register_post_import_hook(lambda module: _on_import(target, module), target.module)


def request_spec(spec: str) -> bool:
    """Parse and request a target string; a bad one is one `racetrace:` line, not an error."""
    try:
        target = Target.parse(spec)
    except TargetError as exc:
        say(str(exc))
        return False
    request(target)
    return True


def _on_import(target: Target, module: ModuleType) -> None:
    if target.spec not in _requested:
        return  # uninstrumented before its module was imported
    try:
        patch(target, module)
    except _Unresolvable as exc:
        say(str(exc))
    except Exception as exc:
        internal_error(f"patching {target.spec}", exc)


class _Unresolvable(LookupError):
    pass


def _is_ours(value: Any) -> bool:
    return isinstance(value, wrapt.FunctionWrapper) and getattr(
        value, "_self_racetrace_target", None
    ) is not None


def patch(target: Target, module: ModuleType) -> None:
    try:
        parent, attribute, original = wrapt.resolve_path(module, target.path)
    except Exception as exc:
        raise _Unresolvable(
            f"target {target.spec}: {module.__name__} has no attribute {target.path!r}; "
            "not traced"
        ) from exc
    if _is_ours(original):
        return
    if not callable(original) and not isinstance(original, classmethod | staticmethod):
        raise _Unresolvable(f"target {target.spec} is not callable; not traced")
    target.owner = Owner.of_module(module)
    function = original.__func__ if isinstance(original, classmethod | staticmethod) else original
    wrapper = TracedFunction(original, make_wrapper(target, kind_of(function)))
    wrapper._self_racetrace_target = target.spec
    had_own = isinstance(parent, type) and attribute in vars(parent)
    setattr(parent, attribute, wrapper)
    with _lock:
        _patches.append(_Patch(target, parent, attribute, original, had_own))
    verbose(f"tracing {target.spec}")


def uninstrument_all() -> None:
    """Restore every patched original and forget pending targets."""
    with _lock:
        patches = list(reversed(_patches))
        _patches.clear()
        _requested.clear()
    for p in patches:
        if isinstance(p.parent, type) and not p.had_own:
            try:
                delattr(p.parent, p.attribute)
            except AttributeError:
                pass
        else:
            setattr(p.parent, p.attribute, p.original)


def patched_specs() -> list[str]:
    with _lock:
        return [p.target.spec for p in _patches]

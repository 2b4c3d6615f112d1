"""Targets: which methods are traced, how they are patched in, and how they are taken out.

A target is `module:Qualname.method` (or `module:function`). It is patched when its module is
imported, before or after racetrace starts, through wrapt's post-import hooks, the way
OpenTelemetry's contrib instrumentations do it; `uninstrument_all` restores every original.

Framework presets declare richer targets: overrides in subclasses covered too (coverage.py),
a family of packages as the owner, the instance taken from an argument, a resource key, and a
run that ends when a future the call started ends (`ends_with`).
"""

from __future__ import annotations

import dataclasses
import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import wrapt

from . import coverage, provenance
from .errors import internal_error, say, verbose
from .frames import Owner
from .wrap import TracedFunction, kind_of, make_wrapper

InstanceOf = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], object]
# (what the call returned, the run's instance) -> an asyncio future the run lasts until, or None.
EndsWith = Callable[[Any, object], Any]


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
    # Top-level packages that are one library for the call site and delegation (a framework
    # split into distributions); empty: the package of the target's module.
    family: tuple[str, ...] = ()
    # Also trace the method in every subclass that overrides it, present and future, except
    # classes of modules under `exclude` (another preset's, or a framework's own plumbing).
    subclasses: bool = False
    exclude: tuple[str, ...] = ()
    # The call starts work that outlives it (a background task): the run ends with that.
    ends_with: EndsWith | None = None
    # Whether the framework calling this method from its own code (a chain calling its steps,
    # a graph its subgraphs) makes a run: off for stateless components, whose nested calls are
    # plumbing of the run the user started (calls that carry a resource key are kept).
    framework_calls: bool = True
    # A plain method that returns a generator it built: the run is that generator's iteration.
    returns_stream: bool = False
    # A preset's entry point: missing in this version of the framework is said only in
    # verbose mode. A target the user named is always reported when it cannot be found.
    optional: bool = False
    # The class of the run's instance when that is not the method's own class (a classmethod
    # whose instance is an argument): `module:Qualname`, observed for where objects are made.
    instance_class: str | None = None
    # Patched as an override found by subclass coverage, rather than named: a named target
    # for the same method takes its place.
    derived: bool = False

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
        if target.optional:
            verbose(str(exc))
        else:
            say(str(exc))
    except Exception as exc:
        internal_error(f"patching {target.spec}", exc)


class _Unresolvable(LookupError):
    pass


def _is_ours(value: Any) -> bool:
    return isinstance(value, wrapt.FunctionWrapper) and getattr(
        value, "_self_racetrace_target", None
    ) is not None


def _is_derived(value: Any) -> bool:
    return bool(getattr(value, "_self_racetrace_derived", False))


_family_owners: dict[tuple[str, ...], Owner] = {}


def _owner_of(target: Target, module: ModuleType) -> Owner:
    if not target.family:
        return Owner.of_module(module)
    with _lock:
        owner = _family_owners.get(target.family)
        if owner is None:
            # Shared by all of a family's targets: its caches fill once.
            owner = _family_owners[target.family] = Owner.of_family(target.family)
        return owner


def patch(target: Target, module: ModuleType) -> None:
    try:
        parent, attribute, original = wrapt.resolve_path(module, target.path)
    except Exception as exc:
        raise _Unresolvable(
            f"target {target.spec}: {module.__name__} has no attribute {target.path!r}; "
            "not traced"
        ) from exc
    if _is_ours(original):
        if not _is_derived(original):
            return
        # Found first as an override of a covered base; the named target is more specific.
        original = original.__wrapped__
    if not callable(original) and not isinstance(original, classmethod | staticmethod):
        raise _Unresolvable(f"target {target.spec} is not callable; not traced")
    target.owner = _owner_of(target, module)
    had_own = isinstance(parent, type) and attribute in vars(parent)
    _install(target, parent, attribute, original, had_own)
    verbose(f"tracing {target.spec}")
    if target.instance_class is not None:
        _observe_later(target.instance_class, target.owner)
    elif isinstance(parent, type) and not isinstance(original, classmethod | staticmethod):
        provenance.observe(parent, target.owner)
        if parent.__module__ == module.__name__:
            provenance.adopt_module_singletons(parent, module)
    if target.subclasses and isinstance(parent, type):
        coverage.cover(parent, attribute, target, _patch_override)


def _observe_later(spec: str, owner: Owner) -> None:
    """Observe the class `module:Qualname` where its objects are created, once imported."""
    module_name, _, qualname = spec.partition(":")

    def on_import(module: ModuleType) -> None:
        try:
            cls = wrapt.resolve_path(module, qualname)[2]
            if isinstance(cls, type):
                provenance.observe(cls, owner)
        except Exception as exc:
            internal_error(f"observing where {spec} objects are created", exc)

    wrapt.register_post_import_hook(on_import, module_name)


def _install(target: Target, parent: Any, attribute: str, original: Any, had_own: bool) -> None:
    function = original.__func__ if isinstance(original, classmethod | staticmethod) else original
    wrapper = TracedFunction(original, make_wrapper(target, kind_of(function)))
    wrapper._self_racetrace_target = target.spec
    if target.derived:
        wrapper._self_racetrace_derived = True
    setattr(parent, attribute, wrapper)
    with _lock:
        _patches.append(_Patch(target, parent, attribute, original, had_own))


def _patch_override(base_target: Target, cls: type, attribute: str) -> None:
    """Trace `cls.attribute`, an override of a covered base's method, like the base's."""
    try:
        module = cls.__module__ or ""
        if any(module == p or module.startswith(p + ".") for p in base_target.exclude):
            return
        original = vars(cls)[attribute]
        if _is_ours(original):
            return
        function = original.__func__ if isinstance(original, classmethod | staticmethod) else (
            original
        )
        # Only real functions: a property, a partial or a class attribute that happens to be
        # named `invoke` is not a method we know how to wrap faithfully.
        if not inspect.isfunction(function):
            return
        qualname = cls.__qualname__.replace(".<locals>", "")
        target = dataclasses.replace(
            base_target, module=module, path=f"{qualname}.{attribute}", subclasses=False,
            derived=True,
        )
        _install(target, cls, attribute, original, True)
        verbose(f"tracing {target.spec} (overrides {base_target.spec})")
    except Exception as exc:
        internal_error(f"tracing the override {cls.__qualname__}.{attribute}", exc)


def uninstrument_all() -> None:
    """Restore every patched original and forget pending targets."""
    coverage.uncover_all()
    provenance.unobserve_all()
    with _lock:
        patches = list(reversed(_patches))
        _patches.clear()
        _requested.clear()
        _family_owners.clear()
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

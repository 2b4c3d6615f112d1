"""Targets: which methods are traced, how they are patched in, and how they are taken out.

A target is `module:Qualname.method` (or `module:function`). It is patched when its module is
imported, before or after racetrace starts, through post-import hooks (importhook.py, as
OpenTelemetry's contrib instrumentations do with wrapt's); `uninstrument_all` restores every
original.
A target the user named is also patched the moment its class is created (classhook.py), so that
the script you run (`app:` or `__main__:`, run as `__main__`) and a module whose import runs
the program are traced from the start; one that never resolved is known to
`unresolved_targets()` and explained, with a hint, under RACETRACE_VERBOSE (resolution.py).

Framework presets declare richer targets: overrides in subclasses covered too (coverage.py),
a family of packages as the owner, the instance taken from an argument, a resource key, and a
run that ends when a future the call started ends (`ends_with`).
"""

from __future__ import annotations

import sys
import threading
import types
from types import ModuleType
from typing import Any

from . import classhook, coverage, importhook, provenance, resolution
from .errors import internal_error, is_verbose, say, verbose
from .frames import Owner
from .target import EndsWith, InstanceOf, Target, TargetError, default_instance_of

# The wrappers (wrap.py, and wrapt with it, ~30 ms of imports) are imported when the first
# target is patched: a process that never imports a traced module never pays for them.

# Re-exported: presets, the pytest plugin and tests name them from here.
__all__ = ["EndsWith", "InstanceOf", "Target", "TargetError", "default_instance_of"]


class _Patch:
    __slots__ = ("attribute", "had_own", "original", "parent", "target")

    def __init__(self, target: Target, parent: Any, attribute: str, original: Any,
                 had_own: bool) -> None:
        self.target = target
        self.parent = parent
        self.attribute = attribute
        self.original = original
        self.had_own = had_own


_patches: list[_Patch] = []
_requested: dict[str, Target] = {}
# Targets the user named (RACETRACE_TARGETS, start(), instrument(), the pytest plugin), as
# opposed to presets' entry points: these are watched at class creation and reported when they
# never resolve. Spec -> why it has not resolved yet (None: nothing was found to say why).
_named: dict[str, str | None] = {}
_resolved_named: set[str] = set()
# A class made without the named method: said at exit, not at once (a later class of that name
# may have it).
_deferred: set[str] = set()
# Set while a post-import hook runs at registration, for a module already in sys.modules.
_registering = threading.local()
# Target strings that do not parse, with why: named in the trace file's header too.
_bad_specs: dict[str, str] = {}
_lock = threading.RLock()


def request(target: Target) -> None:
    """Patch `target` now if its module is imported, else as soon as it is."""
    with _lock:
        if target.spec in _requested:
            return
        _requested[target.spec] = target
    _registering.active = True
    try:
        importhook.register(lambda module: _on_import(target, module), target.module)
    finally:
        _registering.active = False


def request_spec(spec: str) -> bool:
    """Parse and request a target string; a bad one is one `racetrace:` line, not an error."""
    try:
        target = Target.parse(spec)
    except TargetError as exc:
        with _lock:
            _bad_specs.setdefault(spec.strip(), str(exc))
        say(str(exc))
        return False
    with _lock:
        if target.spec not in _requested:
            _named[target.spec] = None
    request(target)
    _watch_classes()
    return True


def unresolved() -> list[tuple[str, str]]:
    """`(spec, why)` for each target the user named that this process never patched, for the
    trace file's header: a missing attribute, or a module never imported (a typo, or a module
    only another process imports: the reader decides, across processes)."""
    with _lock:
        reasons = dict(_named)
        found = list(_bad_specs.items())
    for spec in unresolved_targets():
        reason = reasons.get(spec)
        if reason is None:
            module = spec.partition(":")[0]
            # As said on stderr at exit: the script runs as `__main__`, whatever it is named.
            reason = (resolution.explain(spec, None) if resolution.ran_here(module)
                      else f"module {module} was never imported")
        found.append((spec, reason))
    return found


def _on_import(target: Target, module: ModuleType) -> None:
    if target.spec not in _requested:
        return  # uninstrumented before its module was imported
    if provenance.PENDING:  # classes the module made, decorated now that its import is done
        provenance.observe_pending()
    try:
        patch(target, module)
    except _Unresolvable as exc:
        running = getattr(_registering, "active", False) and resolution.is_running(module)
        if target.spec in _named and running:
            # Requested while the script, or a module still being imported, runs (at start-up,
            # or racetrace.start() at its top): its class is made later, and classhook patches
            # it then. Said at exit if it never is.
            return
        if target.optional:
            verbose(str(exc))
        else:
            _named_failed(target.spec, str(exc))
            say(str(exc))
    except Exception as exc:
        internal_error(f"patching {target.spec}", exc)


def _named_failed(spec: str, reason: str, *, deferred: bool = False) -> None:
    with _lock:
        if spec in _named:
            _named[spec] = reason
            if deferred:
                _deferred.add(spec)


def _pending_named() -> list[Target]:
    """Named targets not patched yet."""
    with _lock:
        return [_requested[s] for s in _named if s not in _resolved_named and s in _requested]


# The qualified names of the classes that pending named targets live in (`Agent`, and `Outer`
# and `Outer.Inner` for `Outer.Inner.run`): the other classes of a watched module cost one set
# lookup.
_wanted_classes: frozenset[str] = frozenset()


def _watch_classes() -> None:
    """Hook class creation for the modules of named targets not found yet; none: unhook."""
    global _wanted_classes
    pending = _pending_named()
    modules = frozenset(t.module for t in pending)
    if modules:
        # The script runs as `__main__` (`__mp_main__` in a spawned child) whatever it is named.
        modules |= resolution.MAIN_NAMES
    parts = [t.path.split(".") for t in pending]
    _wanted_classes = frozenset(".".join(p[:i]) for p in parts for i in range(1, len(p)))
    classhook.watch(modules, _on_class)


def _on_class(namespace: dict[str, Any], qualname: str, cls: Any) -> None:
    """A class was made in a watched module: patch the named targets that are its methods."""
    if provenance.PENDING:  # an earlier class's decorators have run by now
        provenance.observe_pending()
    if qualname not in _wanted_classes:
        return
    names = resolution.module_names(namespace)
    prefix = qualname + "."
    for target in _pending_named():
        if target.module not in names or not target.path.startswith(prefix):
            continue
        rest = target.path[len(prefix):]
        try:
            parent, attribute, original = resolve_path(cls, rest)
        except Exception:
            # Said at exit, unless a later class of that name has it.
            _named_failed(
                target.spec,
                f"target {target.spec}: the class {qualname} has no attribute {rest!r}",
                deferred=True,
            )
            continue
        try:
            _patch_resolved(target, resolution.module_of(namespace), parent, attribute, original,
                            namespace=namespace)
        except _Unresolvable as exc:
            _named_failed(target.spec, str(exc), deferred=True)


class _Unresolvable(LookupError):
    pass


def resolve_path(parent: Any, path: str) -> tuple[Any, str, Any]:
    """`(the object holding the last name, that name, its value)` for a dotted `path`, as
    `wrapt.resolve_path` finds it: on a class, the value in the `__dict__` of the class along
    its MRO that defines it (a classmethod as itself, not bound), else `getattr`. Raises
    AttributeError."""
    names = path.split(".")
    value = parent
    for name in names:
        parent = value
        value = _lookup(parent, name)
    return parent, names[-1], value


def _lookup(parent: Any, name: str) -> Any:
    if isinstance(parent, type):
        for cls in parent.__mro__:
            found = vars(cls)
            if name in found:
                return found[name]
    return getattr(parent, name)


def _is_ours(value: Any) -> bool:
    # Ours are plain functions or wrapt proxies: no other object is asked for the attribute.
    if not isinstance(value, types.FunctionType):
        wrapt = sys.modules.get("wrapt")
        if wrapt is None or not isinstance(value, wrapt.FunctionWrapper):
            return False
    return getattr(value, "_self_racetrace_target", None) is not None


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
        parent, attribute, original = resolve_path(module, target.path)
    except Exception as exc:
        raise _Unresolvable(
            f"target {target.spec}: {module.__name__} has no attribute {target.path!r}; "
            "not traced"
        ) from exc
    _patch_resolved(target, module, parent, attribute, original)


def _patch_resolved(
    target: Target, module: Any, parent: Any, attribute: str, original: Any,
    namespace: dict[str, Any] | None = None,
) -> None:
    """`namespace`: the class `parent` is being made there (classhook), its decorators yet to
    run: its `__init__` is observed later, since a `__init__` of ours in the class would stop
    `@dataclass` from making its own."""
    if _is_ours(original):
        if not _is_derived(original):
            _resolved(target)  # the same method, named twice (`app:` and `__main__:`)
            return
        # Found first as an override of a covered base; the named target is more specific.
        original = original.__wrapped__
    if not callable(original) and not isinstance(original, classmethod | staticmethod):
        raise _Unresolvable(f"target {target.spec} is not callable; not traced")
    target.owner = _owner_of(target, module)
    had_own = isinstance(parent, type) and attribute in vars(parent)
    _install(target, parent, attribute, original, had_own)
    _resolved(target)  # patched: what follows failing cannot make it unresolved
    verbose(f"tracing {target.spec}")
    if target.instance_class is not None:
        _observe_later(target.instance_class, target)
    elif namespace is not None and isinstance(parent, type) and not isinstance(
        original, classmethod | staticmethod
    ):
        provenance.observe_later(parent, namespace, target.owner)
    elif isinstance(parent, type) and not isinstance(original, classmethod | staticmethod):
        provenance.observe(parent, target.owner)
        if parent.__module__ == module.__name__:
            provenance.adopt_module_singletons(parent, module)
    if target.subclasses and isinstance(parent, type):
        coverage.cover(parent, attribute, target, _patch_override)


def patch_attribute(
    target: Target, module: Any, parent: Any, attribute: str, original: Any
) -> None:
    """Patch `original`, found as `parent.attribute`, as `target` (undone by uninstrument_all)."""
    _patch_resolved(target, module, parent, attribute, original)


def _resolved(target: Target) -> None:
    with _lock:
        if target.spec not in _named or target.spec in _resolved_named:
            return
        _resolved_named.add(target.spec)
    _watch_classes()


def _observe_later(spec: str, target: Target) -> None:
    """Observe the class `module:Qualname` where its objects are created, once imported."""
    module_name, _, qualname = spec.partition(":")
    owner = target.owner

    def on_import(module: ModuleType) -> None:
        if target.spec not in _requested:
            return  # stopped (uninstrumented) before the module was imported
        try:
            cls = resolve_path(module, qualname)[2]
            if isinstance(cls, type):
                provenance.observe(cls, owner)
        except Exception as exc:
            internal_error(f"observing where {spec} objects are created", exc)

    importhook.register(on_import, module_name)


def _install(target: Target, parent: Any, attribute: str, original: Any, had_own: bool) -> None:
    from .wrap import (
        COROUTINE,
        SYNC,
        TracedFunction,
        kind_of,
        make_coroutine_method,
        make_method,
        make_wrapper,
    )

    function = original.__func__ if isinstance(original, classmethod | staticmethod) else original
    kind = kind_of(function)
    wrapper: Any
    if kind == SYNC and isinstance(parent, type) and type(original) is types.FunctionType:
        wrapper = make_method(target, original)  # one frame a call, not wrapt's two
    elif kind == COROUTINE and isinstance(parent, type) and type(original) is types.FunctionType:
        wrapper = make_coroutine_method(target, original)  # bound in C, not by wrapt
    else:
        wrapper = TracedFunction(original, make_wrapper(target, kind))
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
        if not isinstance(function, types.FunctionType):  # what inspect.isfunction checks
            return
        qualname = cls.__qualname__.replace(".<locals>", "")
        target = base_target.replace(
            module=module, path=f"{qualname}.{attribute}", subclasses=False,
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
        _named.clear()
        _resolved_named.clear()
        _deferred.clear()
        _bad_specs.clear()
        _family_owners.clear()
    classhook.watch(frozenset(), _on_class)
    for p in patches:
        if isinstance(p.parent, type) and not p.had_own:
            try:
                delattr(p.parent, p.attribute)
            except AttributeError:
                pass
        else:
            setattr(p.parent, p.attribute, p.original)


def unresolved_targets() -> list[str]:
    """The targets the user named that were never patched in this process, in request order."""
    return [t.spec for t in _pending_named()]


def unresolved_explained() -> list[str]:
    """One line per unresolved named target: why, and the hint that fits."""
    with _lock:
        reasons = dict(_named)
    return [resolution.explain(spec, reasons.get(spec)) for spec in unresolved_targets()]


def report_unresolved() -> None:
    """At exit: name the targets that never resolved, with a hint (all of them when verbose).

    Without RACETRACE_VERBOSE only the failures nobody was told of yet are said: a class found
    without the method, a target in the script that ran or in a module that was imported. A
    module never imported is normal in a child process that does other work: said when asked.
    """
    try:
        with _lock:
            reasons = dict(_named)
            deferred = set(_deferred)
        loud = is_verbose()
        for spec in unresolved_targets():
            reason = reasons.get(spec)
            untold = spec in deferred or (
                reason is None and resolution.ran_here(spec.partition(":")[0])
            )
            if loud or untold:
                say(resolution.explain(spec, reason))
    except Exception as exc:
        internal_error("naming the targets that never resolved", exc)

"""Where each traced object was created: the line to change when one object is shared.

A traced class gets its `__init__` observed (the first Python `__init__` along its MRO, set on
the class itself, so that subclasses that call `super().__init__()` are seen too). On an
object's outermost `__init__` call, one frame walk finds the creating line: the first frame
outside racetrace, the framework that owns the class and the object's own `__init__` chain
(`callsite_frame`, as for a run's call site). That is once per object (measured: ~2.3 µs added
to a construction, against ~17 µs for one traced run); a run pays one dict lookup by `id()`,
and the object's first run in each process carries the site as attributes.

Nothing here keeps an object alive, hashes it or compares it (a class neither: a metaclass may
define `__eq__` without `__hash__`): entries are keyed by `id()` and dropped by a weakref
callback when the object dies. Objects that refuse weak references, that were created before
tracing started, or whose class has no Python `__init__`, have no creation site: the report
just does not say one.
"""

from __future__ import annotations

import sys
import threading
import weakref
from collections.abc import Callable
from types import CodeType, ModuleType
from typing import Any

from . import current
from .errors import internal_error
from .frames import Owner, callsite_frame

MODULE, CLASS, FUNCTION = "module", "class", "function"

# Where an object was created: (file, line, function, scope).
Site = tuple[str, int, str, str]

# id(object) -> [weak reference, site, instance key it was last emitted under]. Never rebound
# (the runtime holds it), only cleared.
SITES: dict[int, list[Any]] = {}
_sites = SITES
_hooks: list[tuple[type, bool, Any]] = []  # (class, had its own __init__, original)
# id(class) -> the class (held, so that its id is not reused): a metaclass may define `__eq__`
# without `__hash__`, so classes are never put in a set.
_hooked: dict[int, type] = {}
_lock = threading.Lock()
_CO_NEWLOCALS = 0x0002  # inspect.CO_NEWLOCALS, without importing inspect at start-up


# Classes whose targets were patched while their `class` statement ran (classhook), observed
# once their decorators have run: (class, its module's namespace, owner). Never rebound (the
# runtime holds it).
PENDING: list[tuple[type, dict[str, Any], Owner]] = []


def observe_later(cls: type, namespace: dict[str, Any], owner: Owner) -> None:
    with _lock:
        PENDING.append((cls, namespace, owner))


def observe_pending() -> None:
    """Observe the classes left for later, as their decorators left them: the class now bound
    to the name (`@dataclass(slots=True)` makes a new one), and its own `__init__`."""
    with _lock:
        pending = PENDING[:]
        PENDING.clear()
    for cls, namespace, owner in pending:
        try:
            final: Any = namespace
            for name in cls.__qualname__.split("."):
                final = final.get(name) if isinstance(final, dict) else vars(final).get(name)
            if not isinstance(final, type) or final.__qualname__ != cls.__qualname__:
                final = cls
            observe(final, owner)
            # Objects its module made before now (`BOT = Bot()` below the class).
            module = sys.modules.get(namespace.get("__name__", ""))
            if module is not None and final.__module__ == module.__name__:
                adopt_module_singletons(final, module)
        except Exception as exc:
            internal_error(f"observing where {cls.__qualname__} objects are created", exc)


def scope_of(code: CodeType) -> str:
    """`module` (top-level statements), `class` (a class body) or `function`."""
    if code.co_name == "<module>":
        return MODULE
    if not code.co_flags & _CO_NEWLOCALS:
        return CLASS
    return FUNCTION


def observe(cls: type, owner: Owner) -> None:
    """Record where each new instance of `cls` (and of subclasses that chain `__init__`) is
    created. Idempotent per class."""
    with _lock:
        if _hooked.get(id(cls)) is cls:
            return
        _hooked[id(cls)] = cls
    init = None
    for base in cls.__mro__:
        candidate = vars(base).get("__init__")
        if candidate is not None:
            init = candidate
            break
    import inspect  # a class is observed once a target is patched: not at start-up

    installed: list[Any] = []
    if init is object.__init__:
        init = _object_init(installed)
    elif not inspect.isfunction(init):
        return  # a C type's __init__: its own argument rules, left alone
    had_own = "__init__" in vars(cls)
    try:
        import wrapt  # here, not at start-up: a class is observed once a target is patched

        wrapper = wrapt.FunctionWrapper(init, _make_hook(owner))
        installed.append(wrapper)
        type.__setattr__(cls, "__init__", wrapper)
    except Exception as exc:
        internal_error(f"observing where {cls.__qualname__} objects are created", exc)
        return
    with _lock:
        _hooks.append((cls, had_own, init))


def _object_init(installed: list[Any]) -> Callable[..., None]:
    """`object.__init__` for a class that had none of its own, with the same argument rules.

    CPython lets `object.__new__` and `object.__init__` accept extra arguments only when the
    other is overridden, and a class's own `__init__` (ours, now) counts as overriding: so the
    rules as they were, before ours was set, are applied here, messages included.
    """

    import inspect

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            cls = type(self)
            inherited = next((vars(b)["__init__"] for b in cls.__mro__
                              if "__init__" in vars(b)), None)
            if not (installed and inherited is installed[0]):
                # A subclass's own __init__ passing arguments on to object's.
                raise TypeError(
                    "object.__init__() takes exactly one argument (the instance to initialize)")
            if cls.__new__ is object.__new__:
                raise TypeError(f"{cls.__name__}() takes no arguments")
        object.__init__(self)

    # What `inspect.signature(cls)` said before: no arguments.
    __init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)])
    return __init__


def _make_hook(owner: Owner) -> Callable[..., Any]:
    def hook(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> Any:
        if instance is None and args:
            instance = args[0]  # `Cls.__init__(self, ...)`, called through the class
        if instance is not None:
            entry = _sites.get(id(instance))
            if entry is None or entry[0]() is not instance:
                _record(instance, owner)
        return wrapped(*args, **kwargs)

    return hook


def _record(instance: object, owner: Owner) -> None:
    if current.registry is None:  # not recording
        return
    try:
        # Frames: this function, the hook, wrapt's call (C), then whoever called __init__.
        frame = callsite_frame(sys._getframe(2), owner, instance)
        if frame is None:
            return
        code = frame.f_code
        function = getattr(code, "co_qualname", code.co_name)
        site: Site = (code.co_filename, frame.f_lineno, function, scope_of(code))
        oid = id(instance)
        try:
            ref = weakref.ref(instance, _forgetter(oid))
        except TypeError:
            return  # refuses weak references: holding it would keep it alive
        _sites[oid] = [ref, site, None]
    except Exception as exc:
        internal_error("recording where an object was created", exc)


def _forgetter(oid: int) -> Callable[[weakref.ref[object]], None]:
    def forget(ref: weakref.ref[object]) -> None:
        entry = _sites.get(oid)
        if entry is not None and entry[0] is ref:
            del _sites[oid]

    return forget


def adopt_module_singletons(cls: type, module: ModuleType) -> None:
    """Instances of `cls` that its own module made at import, before the class could be
    observed (a post-import hook runs after the module body): `AGENT = Agent()` below the
    class. Their line is the top-level assignment that names them, read from the module's
    source once. Only the object's type is looked at, never its methods."""
    try:
        names = {name for name, value in vars(module).items()
                 if cls in type(value).__mro__}  # the type only: no user code runs
        if not names:
            return
        import ast
        import linecache

        file = getattr(module, "__file__", None)
        if not file:
            return
        source = "".join(linecache.getlines(file))
        if not source:
            return
        lines: dict[str, int] = {}
        for node in ast.parse(source).body:
            targets = (node.targets if isinstance(node, ast.Assign)
                       else [node.target] if isinstance(node, ast.AnnAssign) else [])
            for target in targets:
                if isinstance(target, ast.Name) and target.id in names:
                    lines.setdefault(target.id, node.lineno)
        for name, line in lines.items():
            instance = vars(module)[name]
            entry = _sites.get(id(instance))
            if entry is not None and entry[0]() is instance:
                continue
            try:
                ref = weakref.ref(instance, _forgetter(id(instance)))
            except TypeError:
                continue
            _sites[id(instance)] = [ref, (file, line, "<module>", MODULE), None]
    except Exception as exc:
        internal_error(f"finding where {cls.__qualname__} objects were created", exc)


def first_sight(instance: object, key: str) -> Site | None:
    """The creation site of `instance` the first time a run on it asks under `key` (its
    instance key, new in a forked child), else None: it is written once per instance."""
    entry = _sites.get(id(instance))
    if entry is None or entry[2] is key or entry[0]() is not instance:
        return None
    entry[2] = key
    return entry[1]  # type: ignore[no-any-return]


def unobserve_all() -> None:
    """Put every class's `__init__` back as it was; forget recorded sites."""
    with _lock:
        hooks = list(reversed(_hooks))
        _hooks.clear()
        _hooked.clear()
        PENDING.clear()
    for cls, had_own, original in hooks:
        try:
            if had_own:
                type.__setattr__(cls, "__init__", original)
            else:
                type.__delattr__(cls, "__init__")
        except (AttributeError, TypeError):
            pass
    _sites.clear()

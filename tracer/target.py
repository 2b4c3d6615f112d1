"""A traced method's description: the `Target` class, what presets and the runtime read of it.

In a module of its own, below the target machinery (targets.py) and the wrappers (wrap.py):
the runtime reads targets, and importing it pulls in neither.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .config import target_error
from .frames import Owner

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


class Target:
    """A method to trace and how to read its runs. A plain class, not a dataclass: the target
    machinery is imported at start-up when targets are named, and `dataclasses` (with
    `inspect`) costs every such process ~5 ms."""

    _FIELDS = ("derived", "ends_with", "exclude", "family", "framework_calls", "gen_ai_agent",
               "instance_class", "instance_of", "label_of", "module", "optional", "owner",
               "path", "resource_of", "returns_stream", "runs_loop", "stateful", "subclasses")
    # The span name, made once: it is read on every run.
    __slots__ = (*_FIELDS, "line_part", "plain", "span_name")

    def __init__(
        self,
        module: str,
        path: str,  # "Class.method" or "function"
        instance_of: InstanceOf = default_instance_of,
        label_of: Callable[[object], str | None] | None = None,
        # A logical identity shared across objects or processes (a LangGraph thread_id).
        resource_of: Callable[[object, tuple[Any, ...], dict[str, Any]], str | None]
        | None = None,
        stateful: bool | None = None,
        gen_ai_agent: bool = False,
        owner: Owner | None = None,
        family: tuple[str, ...] = (),
        subclasses: bool = False,
        exclude: tuple[str, ...] = (),
        ends_with: EndsWith | None = None,
        framework_calls: bool = True,
        returns_stream: bool = False,
        runs_loop: bool = False,
        optional: bool = False,
        instance_class: str | None = None,
        derived: bool = False,
    ) -> None:
        self.module = module
        self.path = path
        self.span_name = f"{module}.{path}"
        # No resource key and every call a run: what most runs are, decided fastest.
        self.plain = resource_of is None and framework_calls
        # The part of its runs' START lines that the target decides, encoded on the first.
        self.line_part: bytes | None = None
        self.instance_of = instance_of
        self.label_of = label_of
        self.resource_of = resource_of
        self.stateful = stateful
        self.gen_ai_agent = gen_ai_agent
        self.owner = owner if owner is not None else Owner(None)
        # Top-level packages that are one library for the call site and delegation (a
        # framework split into distributions); empty: no family (a target the user named): the
        # module's class bodies for the call site, and only the instance's own methods delegate.
        self.family = family
        # Also trace the method in every subclass that overrides it, present and future,
        # except classes of modules under `exclude` (another preset's, or a framework's own
        # plumbing).
        self.subclasses = subclasses
        self.exclude = exclude
        # The call starts work that outlives it (a background task): the run ends with that.
        self.ends_with = ends_with
        # Whether the framework calling this method from its own code (a chain calling its
        # steps, a graph its subgraphs) makes a run: off for stateless components, whose nested
        # calls are plumbing of the run the user started (calls that carry a resource key are
        # kept).
        self.framework_calls = framework_calls
        # A plain method that returns a generator it built: the run is that generator's
        # iteration.
        self.returns_stream = returns_stream
        # A synchronous entry point that runs an event loop of its own (`Runner.run_sync`):
        # called on a thread whose loop is running, it fails or deadlocks (a `nested-loop`
        # finding).
        self.runs_loop = runs_loop
        # A preset's entry point: missing in this version of the framework is said only in
        # verbose mode. A target the user named is always reported when it cannot be found.
        self.optional = optional
        # The class of the run's instance when that is not the method's own class (a
        # classmethod whose instance is an argument): `module:Qualname`, observed for where
        # objects are made.
        self.instance_class = instance_class
        # Patched as an override found by subclass coverage, rather than named: a named target
        # for the same method takes its place.
        self.derived = derived

    def replace(self, **changes: Any) -> Target:
        """A copy with `changes`, as `dataclasses.replace` makes."""
        fields = {name: getattr(self, name) for name in self._FIELDS}
        fields.update(changes)
        return Target(**fields)

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._FIELDS)

    def __eq__(self, other: object) -> bool:
        if type(other) is not Target:
            return NotImplemented
        return self._fields() == other._fields()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass it was

    def __repr__(self) -> str:
        return f"Target({self.spec!r})"

    @property
    def spec(self) -> str:
        return f"{self.module}:{self.path}"


    @classmethod
    def parse(cls, spec: str) -> Target:
        problem = target_error(spec)
        if problem is not None:
            raise TargetError(problem)
        module, _, path = spec.strip().partition(":")
        return cls(module=module, path=path)
